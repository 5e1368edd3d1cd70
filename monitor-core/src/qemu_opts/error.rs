//! Why an option was refused.

/// Why an option was refused. Its `Display` is the line QEMU 7.2 prints
/// for the same mistake, without the program name: the option as given
/// (`-chardev socket,id=a`), `: `, then QEMU's words. Where QEMU prints a
/// second line (a hint, or `parse error: SPEC` after the reason), only the
/// first is kept.
///
/// The variants down to [`InUse`](OptionError::InUse) are QEMU's texts,
/// captured from `qemu-system-x86_64` 7.2; the ones after it are this
/// crate's, for what QEMU accepts but a monitor built on this crate does
/// not.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{OptionError, Parser};
///
/// let mut parser = Parser::new();
/// let err = parser.option("-chardev", "bogus,id=a").and_then(|_| parser.finish()).unwrap_err();
/// assert_eq!(err.to_string(), "-chardev bogus,id=a: 'bogus' is not a valid char driver name");
/// assert_eq!(err.option(), "-chardev bogus,id=a");
/// assert!(matches!(err, OptionError::UnknownBackend { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    // ---- QEMU 7.2's texts ----
    /// The option is the last argument.
    #[error("{option}: requires an argument")]
    MissingArgument {
        /// The option's name, as given.
        option: String,
    },
    /// A key the option does not have.
    #[error("{option}: Invalid parameter '{name}'")]
    InvalidParameter {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
    },
    /// A boolean key with another value than on/off, yes/no, true/false,
    /// y/n.
    #[error("{option}: Parameter '{name}' expects 'on' or 'off'")]
    ExpectsBool {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
    },
    /// A numeric key (`reconnect`, `to`, ...) with a non-number.
    #[error("{option}: Parameter '{name}' expects a number")]
    ExpectsNumber {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
    },
    /// A numeric key with a number past 2^64.
    #[error("{option}: Value '{value}' is too large for parameter '{name}'")]
    TooLarge {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
        /// Its value.
        value: String,
    },
    /// The `size` key with a non-size (QEMU adds a line on suffixes).
    #[error("{option}: Parameter '{name}' expects a non-negative number below 2^64")]
    ExpectsSize {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
    },
    /// An `id` (or a `-qmp chardev:ID` label) that is not a letter followed
    /// by letters, digits, `-`, `.` and `_` (QEMU adds that as a hint line).
    #[error("{option}: Parameter 'id' expects an identifier")]
    BadId {
        /// The option and its value, as given.
        option: String,
    },
    /// A second chardev, or a second monitor, with one id.
    #[error("{option}: Duplicate ID '{id}' for {group}")]
    DuplicateId {
        /// The option and its value, as given.
        option: String,
        /// The id.
        id: String,
        /// `chardev` or `mon`.
        group: &'static str,
    },
    /// `-chardev` without `id=`.
    #[error("{option}: chardev: no id specified")]
    NoId {
        /// The option and its value, as given.
        option: String,
    },
    /// `-chardev id=ID` without a backend.
    #[error("{option}: chardev: \"{id}\" missing backend")]
    NoBackend {
        /// The option and its value, as given.
        option: String,
        /// The chardev's id.
        id: String,
    },
    /// A backend QEMU does not have.
    #[error("{option}: '{backend}' is not a valid char driver name")]
    UnknownBackend {
        /// The option and its value, as given.
        option: String,
        /// The backend.
        backend: String,
    },
    /// A socket with more than one of `path`, `host` and `fd`.
    #[error("{option}: None or one of 'path', 'fd' or 'host' option required.")]
    SocketAddress {
        /// The option and its value, as given.
        option: String,
    },
    /// A socket with `host` and no `port`.
    #[error("{option}: chardev: socket: no port given")]
    NoPort {
        /// The option and its value, as given.
        option: String,
    },
    /// A socket with an `fd` that is not a number, or with none of `path`,
    /// `host` and `fd` (then `fd` is empty: QEMU's text ends in a space).
    #[error("{option}: Unable to parse FD number {fd}")]
    FdNumber {
        /// The option and its value, as given.
        option: String,
        /// The `fd` value.
        fd: String,
    },
    /// A socket with an `fd` past the range of a C `int`.
    #[error("{option}: Unable to parse FD number {fd}: Numerical result out of range")]
    FdRange {
        /// The option and its value, as given.
        option: String,
        /// The `fd` value.
        fd: String,
    },
    /// A socket with a negative `fd` (QEMU says so of any descriptor that
    /// is not a socket; this parser does not look at descriptors).
    #[error("{option}: File descriptor '{fd}' is not a socket")]
    NotSocket {
        /// The option and its value, as given.
        option: String,
        /// The `fd` value.
        fd: String,
    },
    /// `wait=` on a client socket (`server=off`, the default).
    #[error("{option}: 'wait' option is incompatible with socket in client connect mode")]
    WaitClient {
        /// The option and its value, as given.
        option: String,
    },
    /// A file chardev without `path`.
    #[error("{option}: chardev: file: no filename given")]
    NoFilename {
        /// The option and its value, as given.
        option: String,
    },
    /// A second chardev on stdio.
    #[error("{option}: cannot use stdio by multiple character devices")]
    StdioInUse {
        /// The option and its value, as given.
        option: String,
    },
    /// A legacy spec (`-qmp SPEC`, `-serial SPEC`) QEMU does not know.
    #[error("{option}: '{spec}' is not a valid char driver")]
    UnknownSpec {
        /// The option and its value, as given.
        option: String,
        /// The spec.
        spec: String,
    },
    /// A `-qmp`/`-monitor` `tcp:` spec without `HOST:PORT`.
    #[error("{option}: parse error: {spec}")]
    SpecSyntax {
        /// The option and its value, as given.
        option: String,
        /// The spec.
        spec: String,
    },
    /// A `-serial` spec whose chardev cannot be made: a `tcp:` spec without
    /// `HOST:PORT`, or `chardev:ID` with no such chardev.
    #[error("{option}: could not connect serial device to character backend '{spec}'")]
    SerialBackend {
        /// The option and its value, as given.
        option: String,
        /// The spec.
        spec: String,
    },
    /// `-mon` without `chardev`.
    #[error("{option}: Parameter 'chardev' is missing")]
    NoChardev {
        /// The option and its value, as given.
        option: String,
    },
    /// `-mon mode=` other than `control` or `readline`.
    #[error("{option}: Parameter 'mode' does not accept value '{mode}'")]
    BadMode {
        /// The option and its value, as given.
        option: String,
        /// The mode given.
        mode: String,
    },
    /// A monitor on a chardev that does not exist (serial ports' chardevs
    /// are made after the monitors, as in QEMU, so they are not found).
    #[error("{option}: chardev \"{id}\" not found")]
    ChardevNotFound {
        /// The option and its value, as given.
        option: String,
        /// The chardev's id.
        id: String,
    },
    /// `pretty=on` on a human monitor.
    #[error("{option}: 'pretty' is not compatible with HMP monitors")]
    PrettyHmp {
        /// The option and its value, as given.
        option: String,
    },
    /// A chardev already used by a monitor or a serial port.
    #[error("{option}: Device '{id}' is in use")]
    InUse {
        /// The option and its value, as given.
        option: String,
        /// The chardev's id.
        id: String,
    },

    // ---- this crate's texts ----
    /// A backend QEMU has that this parser does not (`vc`, `pipe`, `udp`,
    /// `ringbuf`, `serial`, ...).
    #[error("{option}: chardev backend '{backend}' is not supported")]
    UnsupportedBackend {
        /// The option and its value, as given.
        option: String,
        /// The backend.
        backend: String,
    },
    /// A legacy spec QEMU has that this parser does not (`mon:stdio`,
    /// `telnet:`, `vc`, `pipe:`, `/dev/...`, ...).
    #[error("{option}: '{spec}' is not supported")]
    UnsupportedSpec {
        /// The option and its value, as given.
        option: String,
        /// The spec.
        spec: String,
    },
    /// A key QEMU has whose feature this parser does not carry (`mux=on`,
    /// `logfile`, `telnet=on`, `websocket=on`, `tls-creds`, `reconnect`,
    /// `abstract=on`, `to`): refused rather than silently dropped.
    #[error("{option}: chardev option '{name}' is not supported")]
    UnsupportedParameter {
        /// The option and its value, as given.
        option: String,
        /// The key.
        name: String,
    },
    /// A `port` that is not a number from 0 to 65535 (QEMU would look a
    /// service name up when it opens the socket; this parser does no
    /// look-ups).
    #[error("{option}: Parameter 'port' expects a number from 0 to 65535, not '{port}'")]
    BadPort {
        /// The option and its value, as given.
        option: String,
        /// The `port` value.
        port: String,
    },
    /// A monitor on a client socket (`server=off`, QEMU's default): the
    /// monitor here listens.
    #[error(
        "{option}: the monitor on chardev '{id}' would connect to a server (server=off); \
         monitors listen here: add server=on"
    )]
    ClientMonitor {
        /// The monitor's option and its value, as given.
        option: String,
        /// The chardev's id.
        id: String,
    },
    /// A monitor on a socket with `wait=on` (QEMU's default for servers),
    /// which would block start-up until a client connects.
    #[error(
        "{option}: the monitor on chardev '{id}' would wait for a client before start-up \
         (wait=on); add wait=off"
    )]
    WaitingMonitor {
        /// The monitor's option and its value, as given.
        option: String,
        /// The chardev's id.
        id: String,
    },
}

impl OptionError {
    /// The option the error is about, as given (`-chardev socket,id=a`),
    /// or the option's name alone for
    /// [`MissingArgument`](OptionError::MissingArgument).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let err = Parser::new().args(&["-mon"]).unwrap_err();
    /// assert_eq!(err.option(), "-mon");
    /// assert_eq!(err.to_string(), "-mon: requires an argument");
    /// ```
    pub fn option(&self) -> &str {
        use OptionError::*;
        match self {
            MissingArgument { option }
            | InvalidParameter { option, .. }
            | ExpectsBool { option, .. }
            | ExpectsNumber { option, .. }
            | TooLarge { option, .. }
            | ExpectsSize { option, .. }
            | BadId { option }
            | DuplicateId { option, .. }
            | NoId { option }
            | NoBackend { option, .. }
            | UnknownBackend { option, .. }
            | SocketAddress { option }
            | NoPort { option }
            | FdNumber { option, .. }
            | FdRange { option, .. }
            | NotSocket { option, .. }
            | WaitClient { option }
            | NoFilename { option }
            | StdioInUse { option }
            | UnknownSpec { option, .. }
            | SpecSyntax { option, .. }
            | SerialBackend { option, .. }
            | NoChardev { option }
            | BadMode { option, .. }
            | ChardevNotFound { option, .. }
            | PrettyHmp { option }
            | InUse { option, .. }
            | UnsupportedBackend { option, .. }
            | UnsupportedSpec { option, .. }
            | UnsupportedParameter { option, .. }
            | BadPort { option, .. }
            | ClientMonitor { option, .. }
            | WaitingMonitor { option, .. } => option,
        }
    }
}
