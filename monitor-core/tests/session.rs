//! Sessions without sockets: negotiation, dispatch, argument errors,
//! ordering, panics, and garbage (the rules: `docs/PROTOCOL.md`).

use monitor_core::session::{Dispatcher, Session};
use monitor_core::{Command, CommandError, Emitter, ErrorClass, Registry, Schema, StateMap};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct EchoArgs {
    value: i64,
    tag: Option<String>,
}

#[derive(Serialize, Schema)]
struct Echoed {
    value: i64,
    tag: Option<String>,
}

struct Counter(std::sync::atomic::AtomicU64);

fn dispatcher() -> Dispatcher {
    let mut registry = Registry::with_inventory().unwrap();
    registry
        .insert(Command::typed("x-echo", |_, a: EchoArgs| {
            Ok::<_, CommandError>(Echoed {
                value: a.value,
                tag: a.tag,
            })
        }))
        .unwrap();
    registry
        .insert(Command::typed(
            "x-panic",
            |_, ()| -> Result<(), CommandError> { panic!("handler bug") },
        ))
        .unwrap();
    registry
        .insert(Command::typed("x-count", |ctx, ()| {
            let c = ctx.state::<Counter>()?;
            Ok::<_, CommandError>(c.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        }))
        .unwrap();
    registry
        .insert(Command::typed("x-missing-state", |ctx, ()| {
            ctx.state::<String>().map(|_| ())
        }))
        .unwrap();
    registry
        .insert(Command::typed(
            "x-device",
            |_, ()| -> Result<(), CommandError> {
                Err(CommandError::new(
                    ErrorClass::DeviceNotFound,
                    "Device 'x' not found",
                ))
            },
        ))
        .unwrap();
    let mut state = StateMap::default();
    state.insert(Counter(std::sync::atomic::AtomicU64::new(0)));
    Dispatcher::new(registry, state, Emitter::new())
}

fn lines(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8(out.to_vec()).expect("output is ASCII");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "unterminated: {text:?}"
    );
    text.split_terminator("\r\n").map(str::to_owned).collect()
}

fn run(session: &mut Session, d: &Dispatcher, input: &str) -> Vec<String> {
    let mut out = Vec::new();
    session.feed(d, input.as_bytes(), &mut out);
    lines(&out)
}

fn negotiated(d: &Dispatcher) -> Session {
    let mut s = Session::new(1, "test", true);
    assert_eq!(
        run(&mut s, d, r#"{"execute": "qmp_capabilities"}"#),
        vec![r#"{"return": {}}"#]
    );
    s
}

#[test]
fn greeting_offers_oob_and_the_version() {
    let d = dispatcher();
    let g = String::from_utf8(d.greeting(true)).unwrap();
    assert!(
        g.starts_with(r#"{"QMP": {"version": {"qemu": {"micro": "#),
        "{g}"
    );
    assert!(g.ends_with(", \"capabilities\": [\"oob\"]}}\r\n"), "{g}");
}

#[test]
fn commands_before_negotiation_are_refused_with_qemus_words() {
    let d = dispatcher();
    let mut s = Session::new(1, "test", true);
    assert_eq!(
        run(&mut s, &d, r#"{"execute": "x-echo", "id": "a"}"#),
        vec![
            r#"{"id": "a", "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}"#
        ]
    );
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["bogus"]}}"#
        ),
        vec![
            r#"{"error": {"class": "GenericError", "desc": "Parameter 'null' does not accept value 'bogus'"}}"#
        ]
    );
    assert!(
        !s.is_negotiated(),
        "a failed qmp_capabilities leaves negotiation mode"
    );
}

#[test]
fn capabilities_twice_and_bad_arguments_after() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    assert_eq!(
        run(&mut s, &d, r#"{"execute": "qmp_capabilities"}"#),
        vec![
            r#"{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}}"#
        ]
    );
    // Argument validation runs before the "already complete" check.
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "qmp_capabilities", "arguments": {"foo": 1}}"#
        ),
        vec![r#"{"error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}}"#]
    );
}

#[test]
fn oob_not_offered_cannot_be_enabled() {
    let d = dispatcher();
    let mut s = Session::new(1, "stdio", false);
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#
        ),
        vec![r#"{"error": {"class": "GenericError", "desc": "Capability oob not available"}}"#]
    );
}

#[test]
fn exec_oob_needs_the_capability_and_an_oob_command() {
    let d = dispatcher();
    let mut plain = negotiated(&d);
    assert_eq!(
        run(&mut plain, &d, r#"{"exec-oob": "x-echo"}"#),
        vec![
            r#"{"error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"}}"#
        ]
    );
    let mut s = Session::new(2, "test", true);
    run(
        &mut s,
        &d,
        r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
    );
    assert_eq!(
        run(&mut s, &d, r#"{"exec-oob": "x-echo", "id": 1}"#),
        vec![
            r#"{"id": 1, "error": {"class": "GenericError", "desc": "The command x-echo does not support OOB"}}"#
        ]
    );
}

#[test]
fn typed_arguments_and_results() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "x-echo", "arguments": {"value": 5, "tag": "t"}, "id": 9}"#
        ),
        vec![r#"{"return": {"value": 5, "tag": "t"}, "id": 9}"#]
    );
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "x-echo", "arguments": {"value": "5"}}"#
        ),
        vec![
            r#"{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'value', expected: integer"}}"#
        ]
    );
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "x-echo", "arguments": {"tag": "t"}}"#
        ),
        vec![r#"{"error": {"class": "GenericError", "desc": "Parameter 'value' is missing"}}"#]
    );
    assert_eq!(
        run(
            &mut s,
            &d,
            r#"{"execute": "x-echo", "arguments": {"value": 1, "extra": 2}}"#
        ),
        vec![r#"{"error": {"class": "GenericError", "desc": "Parameter 'extra' is unexpected"}}"#]
    );
}

#[test]
fn error_classes_and_missing_state() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    assert_eq!(
        run(&mut s, &d, r#"{"execute": "x-device"}"#),
        vec![r#"{"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}}"#]
    );
    let out = run(&mut s, &d, r#"{"execute": "x-missing-state"}"#);
    assert!(
        out[0].contains("alloc::string::String was never registered"),
        "{out:?}"
    );
}

#[test]
fn panicking_handler_is_answered_and_the_session_goes_on() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    let out = run(
        &mut s,
        &d,
        r#"{"execute": "x-panic", "id": 1}{"execute": "x-count", "id": 2}"#,
    );
    assert_eq!(
        out,
        vec![
            r#"{"id": 1, "error": {"class": "GenericError", "desc": "The command x-panic has failed unexpectedly"}}"#,
            r#"{"return": 0, "id": 2}"#
        ]
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    let mut input = String::new();
    for i in 0..100 {
        input.push_str(&format!(
            r#"{{"execute": "x-echo", "arguments": {{"value": {i}}}, "id": {i}}}"#
        ));
    }
    let out = run(&mut s, &d, &input);
    assert_eq!(out.len(), 100);
    for (i, line) in out.iter().enumerate() {
        assert_eq!(
            line,
            &format!(r#"{{"return": {{"value": {i}, "tag": null}}, "id": {i}}}"#)
        );
    }
}

#[test]
fn query_commands_lists_builtins_and_registered() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    let out = run(&mut s, &d, r#"{"execute": "query-commands"}"#);
    for name in [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "quit",
        "x-echo",
    ] {
        assert!(
            out[0].contains(&format!(r#"{{"name": "{name}"}}"#)),
            "{name} missing: {}",
            out[0]
        );
    }
}

#[test]
fn sessions_are_independent() {
    let d = dispatcher();
    let mut a = negotiated(&d);
    let mut b = Session::new(2, "test", true);
    run(&mut a, &d, "{\"execute\": ");
    assert_eq!(
        run(&mut b, &d, r#"{"execute": "x-echo"}"#),
        vec![
            r#"{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}"#
        ]
    );
    assert_eq!(run(&mut a, &d, r#""x-count"}"#), vec![r#"{"return": 0}"#]);
}

#[test]
fn garbage_never_panics_and_every_line_is_ascii_json() {
    let d = dispatcher();
    let mut s = negotiated(&d);
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    let alphabet = b"{}[]:,\"'\\ \n\tau0123456789-+.eE\x01\xff\xc3\xa9truefalsenullexecuteargumentsidx-echovalue";
    let mut out = Vec::new();
    for _ in 0..2000 {
        let mut chunk = Vec::new();
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        s.feed(&d, &chunk, &mut out);
    }
    s.feed(
        &d,
        b"\x01{\"execute\": \"x-count\", \"id\": \"end\"}",
        &mut out,
    );
    let all = lines(&out);
    assert!(all.len() > 100);
    for line in &all {
        assert!(line.is_ascii());
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            // QEMU prints doubles with %.17g, so 1e400 echoes as `inf`.
            Err(_) if line.contains("inf") || line.contains("nan") => continue,
            Err(e) => panic!("{e}: {line}"),
        };
        assert!(
            v.get("return").is_some() || v.get("error").is_some(),
            "{line}"
        );
    }
    assert!(
        all.last().unwrap().ends_with(r#""id": "end"}"#),
        "{:?}",
        all.last()
    );
}

/// Defect 8 of the hostile-client review: with `oob`, eight queued
/// messages of up to 64 MiB each were held parsed at once. The queue now
/// stops taking messages once those it holds weigh `QUEUE_WEIGHT_OOB`.
#[test]
fn defect_08_the_oob_queue_is_bounded_in_bytes() {
    use monitor_core::session::QUEUE_WEIGHT_OOB;

    let mut registry = Registry::with_inventory().unwrap();
    // Answers never: the queue behind it waits.
    registry
        .insert(Command::typed("x-hang", |ctx, ()| {
            std::mem::forget(ctx.defer::<()>());
            Ok::<_, CommandError>(())
        }))
        .unwrap();
    let d = Dispatcher::new(registry, StateMap::default(), Emitter::new());
    let mut s = Session::new(1, "test", true);
    run(
        &mut s,
        &d,
        r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
    );
    run(&mut s, &d, r#"{"execute": "x-hang", "id": 0}"#);
    let big = format!(
        r#"{{"execute": "query-version", "id": "{}"}}"#,
        "i".repeat(6 << 20)
    );
    let mut out = Vec::new();
    let mut queued = 0;
    while s.wants_input() {
        let mut rest = big.as_bytes();
        loop {
            let (used, effects) = s.step(&d, rest, &mut out);
            rest = &rest[used..];
            if effects.is_some() || rest.is_empty() {
                break;
            }
        }
        queued += 1;
        assert!(queued <= 8, "the queue never filled");
    }
    // 6 MiB each: three reach 16 MiB, well before eight messages.
    assert_eq!(queued, QUEUE_WEIGHT_OOB.div_ceil(6 << 20));
    assert!(out.is_empty(), "nothing answered while x-hang is pending");
}
