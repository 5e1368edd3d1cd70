//! Properties over generated input (proptest): framing does not depend on
//! how the input is split; every response line is valid JSON, ASCII and
//! `\r\n` terminated; in-band requests are answered exactly once, in order,
//! whatever order deferred answers arrive in.

use std::sync::atomic::{AtomicU64, Ordering};

use monitor_core::pending::{oneshot, Completion, Sender};
use monitor_core::session::{Dispatcher, Session};
use monitor_core::stream::{Frame, Splitter};
use monitor_core::{Command, CommandError, Emitter, Registry, Schema, StateMap};
use parking_lot::Mutex;
use proptest::prelude::*;
use serde::Deserialize;

/// Fragments the generated streams are made of: whole requests, pieces of
/// requests, the dialect's corners and garbage.
const FRAGMENTS: &[&[u8]] = &[
    br#"{"execute": "query-version"}"#,
    br#"{"execute": "x-echo", "arguments": {"value": 3}, "id": 1}"#,
    br#"{"exec-oob": "x-ping", "id": "p"}"#,
    br#"{'execute': 'x-echo', 'arguments': {'value': -1}}"#,
    br#"{"execute":"#,
    br#" "arguments": {"#,
    br#"}"#,
    br#"]"#,
    br#"["#,
    br#"{"#,
    b"\"\\u00e9\\ud83d\\ude00\"",
    b"'it\\'s'",
    b"\"\\x\"",
    b"1.5e300 -0 0x1 01",
    b"true false null nul",
    b"\x00",
    b"\x01",
    b"\xc3\xa9",
    b"\xfe",
    b"\xff",
    b" \t\r\n",
    b"\"unterminated",
    b"[[[[[[[[",
    b"]]]]]]]]",
    br#"{"a": [1, {"b": "c"}], "d": 1e-5}"#,
];

/// A stream: fragments, raw bytes, or both.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Frames rendered comparably: `ok <wire json>` or the error with its offset.
fn render(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Ok(v) => {
                let mut out = Vec::new();
                monitor_core::wire::write_value(&mut out, v);
                format!("ok {}", String::from_utf8_lossy(&out))
            }
            Err(e) => format!("{e} at {}", e.offset()),
        })
        .collect()
}

/// Feeds `input` cut at `cuts` (positions, any order, duplicates allowed).
fn frames_split(input: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut splitter = Splitter::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    for cut in cuts {
        frames.extend(splitter.feed_all(&input[pos..cut]));
        pos = cut;
    }
    render(&frames)
}

#[derive(Deserialize, Schema)]
struct EchoArgs {
    value: i64,
}

/// Completions and senders the harness holds back and releases.
#[derive(Default)]
struct Held {
    completions: Mutex<Vec<Completion<u64>>>,
    senders: Mutex<Vec<Sender<u64>>>,
}

/// Requests answered by `x-count`, to check nothing runs twice.
struct Runs(AtomicU64);

/// A dispatcher with synchronous, deferred (callback and async) and
/// out-of-band commands.
fn dispatcher() -> Dispatcher {
    let mut registry = Registry::with_inventory().expect("built-in registry");
    let commands = [
        Command::typed("x-echo", |_, a: EchoArgs| Ok::<_, CommandError>(a.value)),
        Command::typed("x-ping", |_, ()| Ok::<_, CommandError>(())).allow_oob(true),
        Command::typed("x-count", |ctx, ()| {
            Ok::<_, CommandError>(ctx.state::<Runs>()?.0.fetch_add(1, Ordering::SeqCst))
        }),
        Command::typed("x-defer", |ctx, ()| {
            let done = ctx.defer::<u64>();
            ctx.state::<Held>()?.completions.lock().push(done);
            Ok::<_, CommandError>(())
        }),
        Command::typed("x-async", |ctx, ()| {
            let (tx, rx) = oneshot::<u64>();
            ctx.state::<Held>()?.senders.lock().push(tx);
            ctx.spawn(async move {
                let v = rx.await.ok_or_else(|| CommandError::generic("no value"))?;
                monitor_core::Reply::new(&v)
            });
            Ok::<_, CommandError>(())
        }),
    ];
    for c in commands {
        registry.insert(c).expect("a new command");
    }
    let mut state = StateMap::default();
    state.insert(Held::default());
    state.insert(Runs(AtomicU64::new(0)));
    Dispatcher::new(registry, state, Emitter::new())
}

/// Releases one held answer (chosen by `pick`); false if none was held.
fn release_one(d: &Dispatcher, pick: &mut impl FnMut(usize) -> usize) -> bool {
    let held = d.state::<Held>().expect("held state");
    let mut completions = held.completions.lock();
    let mut senders = held.senders.lock();
    let total = completions.len() + senders.len();
    if total == 0 {
        return false;
    }
    let i = pick(total) % total;
    if i < completions.len() {
        completions
            .remove(i)
            .complete(Ok::<_, CommandError>(i as u64));
    } else {
        senders.remove(i - completions.len()).send(i as u64);
    }
    true
}

/// Runs `chunks` through a session as a server would: reads while the
/// session takes input, and when it does not (or at the end) releases held
/// answers in the order `pick` chooses and delivers them. Returns the output.
fn drive(
    d: &Dispatcher,
    session: &mut Session,
    chunks: &[Vec<u8>],
    mut pick: impl FnMut(usize) -> usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut input = Vec::new();
    let mut pos = 0;
    let settle =
        |session: &mut Session, out: &mut Vec<u8>, pick: &mut dyn FnMut(usize) -> usize| {
            let released = release_one(d, &mut |n| pick(n));
            let (delivered, _) = session.settle(d, out);
            released || delivered > 0
        };
    let step = |session: &mut Session, input: &[u8], pos: &mut usize, out: &mut Vec<u8>| loop {
        let (used, handled) = session.step(d, &input[*pos..], out);
        *pos += used;
        if handled.is_none() && (used == 0 || *pos == input.len()) {
            return;
        }
    };
    for chunk in chunks {
        input.extend_from_slice(chunk);
        loop {
            step(session, &input, &mut pos, &mut out);
            if pos == input.len() || !settle(session, &mut out, &mut pick) {
                break;
            }
        }
    }
    // The end of input: everything still held gets its answer.
    loop {
        step(session, &input, &mut pos, &mut out);
        if !settle(session, &mut out, &mut pick) {
            break;
        }
    }
    out
}

fn negotiated(d: &Dispatcher, oob: bool) -> Session {
    let mut s = Session::new(1, "prop", true);
    let mut out = Vec::new();
    let request: &[u8] = if oob {
        br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#
    } else {
        br#"{"execute": "qmp_capabilities"}"#
    };
    s.feed(d, request, &mut out);
    assert_eq!(out, b"{\"return\": {}}\r\n");
    s
}

/// Splits output into lines, asserting each is ASCII, `\r\n` terminated and
/// one JSON object.
fn response_lines(out: &[u8]) -> Vec<serde_json::Value> {
    assert!(
        out.is_ascii(),
        "non-ASCII output: {:?}",
        String::from_utf8_lossy(out)
    );
    let text = std::str::from_utf8(out).expect("ASCII is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "unterminated: {text:?}"
    );
    text.split_terminator("\r\n")
        .map(|line| {
            assert!(
                !line.contains(['\r', '\n']),
                "a bare line break in {line:?}"
            );
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {line:?}"));
            assert!(v.is_object(), "not an object: {line}");
            v
        })
        .collect()
}

/// One message of a generated conversation.
#[derive(Debug, Clone)]
enum Message {
    /// A request with an id, expecting exactly one answer carrying it.
    Call { command: &'static str, oob: bool },
    /// Complete garbage or an invalid request without an id: answered with
    /// an error without id (or not at all), never disturbing what follows.
    Garbage(&'static [u8]),
}

/// Garbage that ends where it starts: it cannot swallow the next message.
const GARBAGE: &[&[u8]] = &[
    b"]",
    b"}",
    b"\x01",
    b"\xff",
    b"[]",
    b"\"str\" ",
    b"12 ",
    br#"{"foo": 1}"#,
    br#"{"execute": 1}"#,
    br#"{"execute": "nope"}"#,
    br#"{"execute": "x-echo"}"#,
    br#"{"execute": "x-echo", "arguments": {"value": "a"}}"#,
];

fn message() -> impl Strategy<Value = Message> {
    let command = prop::sample::select(
        &[
            "x-echo",
            "x-ping",
            "x-count",
            "x-defer",
            "x-async",
            "nope",
            "query-version",
        ][..],
    );
    prop_oneof![
        4 => (command, any::<bool>()).prop_map(|(command, oob)| Message::Call { command, oob }),
        1 => prop::sample::select(GARBAGE).prop_map(Message::Garbage),
    ]
}

fn render_request(command: &str, oob: bool, id: usize) -> Vec<u8> {
    let key = if oob { "exec-oob" } else { "execute" };
    let args = if command == "x-echo" {
        r#", "arguments": {"value": 7}"#
    } else {
        ""
    };
    format!(r#"{{"{key}": "{command}"{args}, "id": {id}}}"#).into_bytes()
}

/// Cuts `bytes` at `cuts` (positions modulo the length).
fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut pos = 0;
    cuts.into_iter()
        .map(|cut| {
            let chunk = bytes[pos..cut].to_vec();
            pos = cut;
            chunk
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn framing_is_the_same_under_any_split(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let whole = frames_split(&input, &[]);
        prop_assert_eq!(&whole, &frames_split(&input, &cuts));
        let bytewise: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(&whole, &frames_split(&input, &bytewise));
    }

    #[test]
    fn every_response_line_is_ascii_json_and_crlf_terminated(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        oob in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let d = dispatcher();
        let mut s = negotiated(&d, oob);
        let mut rng = seed;
        let out = drive(&d, &mut s, &split_at(&input, &cuts), |n| {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) as usize % n
        });
        response_lines(&out);
        prop_assert_eq!(s.pending(), 0);
    }

    #[test]
    fn in_band_requests_are_answered_once_and_in_order(
        messages in prop::collection::vec(message(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        oob in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let d = dispatcher();
        let mut s = negotiated(&d, oob);
        let mut input = Vec::new();
        let mut in_band = Vec::new();
        let mut out_of_band = Vec::new();
        for (id, m) in messages.iter().enumerate() {
            match m {
                Message::Call { command, oob: want_oob } => {
                    // Without oob negotiated, exec-oob is an error that still
                    // answers in band, in order.
                    if *want_oob && oob { out_of_band.push(id) } else { in_band.push(id) }
                    input.extend(render_request(command, *want_oob, id));
                }
                Message::Garbage(g) => input.extend_from_slice(g),
            }
        }
        let mut rng = seed;
        let out = drive(&d, &mut s, &split_at(&input, &cuts), |n| {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) as usize % n
        });
        let ids: Vec<usize> = response_lines(&out)
            .iter()
            .filter_map(|r| r.get("id").map(|id| id.as_u64().expect("numeric id") as usize))
            .collect();
        let answered_in_band: Vec<usize> =
            ids.iter().copied().filter(|id| !out_of_band.contains(id)).collect();
        prop_assert_eq!(&answered_in_band, &in_band);
        let mut answered_oob: Vec<usize> =
            ids.iter().copied().filter(|id| out_of_band.contains(id)).collect();
        answered_oob.sort_unstable();
        prop_assert_eq!(&answered_oob, &out_of_band);
        prop_assert_eq!(s.pending(), 0);
        // Nothing ran twice: x-count ran once per `execute` of it (an
        // `exec-oob` of it is refused).
        let counts = in_band
            .iter()
            .filter(|&&id| matches!(messages[id], Message::Call { command: "x-count", oob: false }))
            .count() as u64;
        prop_assert_eq!(d.state::<Runs>().expect("runs").0.load(Ordering::SeqCst), counts);
    }
}
