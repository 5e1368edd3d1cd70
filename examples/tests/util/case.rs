//! What a differential case is: the bytes replayed to both servers
//! ([`Case`]), the negotiation before them ([`Nego`]), and where the
//! transcript ends ([`End`]).

/// How a case negotiates capabilities before sending its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nego {
    /// Stay in capabilities negotiation mode.
    None,
    /// `qmp_capabilities` without arguments: command mode, OOB disabled.
    Plain,
    /// `qmp_capabilities` enabling `oob`.
    Oob,
}

impl Nego {
    /// The `qmp_capabilities` request to send first, if any.
    pub(super) fn request(self) -> Option<&'static [u8]> {
        match self {
            Nego::None => None,
            Nego::Plain => Some(br#"{"execute":"qmp_capabilities"}"#),
            Nego::Oob => Some(br#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"#),
        }
    }
}

/// When a case's transcript is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Send the terminator and read up to its answer.
    Marker,
    /// Read until the server closes the connection (`quit`).
    Eof,
}

/// One input replayed to both servers.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique name, shown in failures.
    pub name: String,
    /// Negotiation done before the input.
    pub nego: Nego,
    /// The input, written chunk by chunk with a short pause in between.
    pub chunks: Vec<Vec<u8>>,
    /// How the transcript ends.
    pub end: End,
    /// Events compared (timestamp masked) instead of dropped.
    pub keep_events: Vec<&'static str>,
    /// Answers compared as a multiset, not in order.
    pub unordered: bool,
}

impl Case {
    /// A case written in one go.
    pub fn new(name: impl Into<String>, nego: Nego, input: impl AsRef<[u8]>) -> Self {
        Case::split(name, nego, &[input.as_ref()])
    }

    /// A case written in several chunks.
    pub fn split(name: impl Into<String>, nego: Nego, chunks: &[&[u8]]) -> Self {
        Case {
            name: name.into(),
            nego,
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            end: End::Marker,
            keep_events: Vec::new(),
            unordered: false,
        }
    }

    /// Compares the answers whatever their order: with `oob` enabled, QEMU
    /// answers an `exec-oob` request from its I/O thread while earlier
    /// in-band requests wait for the main loop, so which comes first is a
    /// race there.
    pub fn unordered(mut self) -> Self {
        self.unordered = true;
        self
    }

    /// Reads until EOF instead of sending the terminator.
    pub fn until_eof(mut self) -> Self {
        self.end = End::Eof;
        self
    }

    /// Compares events named `name` (timestamps masked) instead of dropping them.
    pub fn keep_event(mut self, name: &'static str) -> Self {
        self.keep_events.push(name);
        self
    }
}
