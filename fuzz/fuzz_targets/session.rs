//! Bytes to a whole session: negotiation, synchronous, deferred, async and
//! out-of-band commands, answers released in an order the input chooses,
//! and a disconnect. Output must stay well-formed, nothing may panic, and
//! once every answer is released nothing may remain pending.
//!
//! Input: a flags byte, then operations: `0..=1 n bytes` feeds `n` bytes,
//! `2 i` releases held answer `i`, `3` delivers posted answers.
#![no_main]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};

use libfuzzer_sys::fuzz_target;
use monitor_core::pending::{oneshot, Completion, Sender};
use monitor_core::session::{Dispatcher, Session};
use monitor_core::{Command, CommandError, Emitter, Registry, Reply, Schema, StateMap};
use monitor_fuzz::{check_output, step_all, take, take_byte};
use serde::{Deserialize, Serialize};

/// Answers the harness holds back.
#[derive(Default)]
struct Held {
    completions: Mutex<Vec<Completion<u64>>>,
    senders: Mutex<Vec<Sender<u64>>>,
}

#[derive(Serialize, Deserialize, Schema)]
struct EchoArgs {
    value: i64,
    tag: Option<String>,
}

/// A future that is pending once, waking itself, then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<u64> {
        if self.0 {
            return Poll::Ready(1);
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn held<'a>(ctx: &monitor_core::Context<'a>) -> Result<&'a Held, CommandError> {
    ctx.state::<Held>()
}

fn defer(ctx: &monitor_core::Context<'_>) -> Result<(), CommandError> {
    let done: Completion<u64> = ctx.defer();
    held(ctx)?
        .completions
        .lock()
        .expect("one thread")
        .push(done);
    Ok(())
}

fn dispatcher() -> Dispatcher {
    let mut registry = Registry::with_inventory().expect("built-in registry");
    let commands = [
        Command::typed("x-echo", |_, a: EchoArgs| Ok::<_, CommandError>(a)),
        Command::typed("x-ping", |_, ()| Ok::<_, CommandError>(())).allow_oob(true),
        Command::typed("x-fail", |_, ()| {
            Err::<(), _>(CommandError::generic("failed"))
        }),
        Command::typed("x-defer", |ctx, ()| defer(ctx)),
        Command::typed("x-defer-oob", |ctx, ()| defer(ctx)).allow_oob(true),
        Command::typed("x-async", |ctx, ()| {
            let (tx, rx) = oneshot::<u64>();
            held(ctx)?.senders.lock().expect("one thread").push(tx);
            ctx.spawn(async move {
                let v = rx.await.ok_or_else(|| CommandError::generic("no value"))?;
                Reply::new(&v)
            });
            Ok::<_, CommandError>(())
        }),
        Command::typed("x-ready", |ctx, ()| {
            ctx.spawn(async { Reply::new(&2u64) });
            Ok::<_, CommandError>(())
        }),
        Command::typed("x-yield", |ctx, ()| {
            ctx.spawn(async { Reply::new(&YieldOnce(false).await) });
            Ok::<_, CommandError>(())
        })
        .allow_oob(true),
    ];
    for c in commands {
        registry.insert(c).expect("a new command");
    }
    let mut state = StateMap::default();
    state.insert(Held::default());
    Dispatcher::new(registry, state, Emitter::new())
}

/// Releases held answer `i` (modulo how many are held); false if none.
fn release(d: &Dispatcher, i: usize) -> bool {
    let held = d.state::<Held>().expect("held state");
    let mut completions = held.completions.lock().expect("one thread");
    let mut senders = held.senders.lock().expect("one thread");
    let total = completions.len() + senders.len();
    if total == 0 {
        return false;
    }
    let i = i % total;
    if i < completions.len() {
        completions
            .remove(i)
            .complete(Ok::<_, CommandError>(i as u64));
    } else {
        // Sometimes the sender is dropped instead: the future sees `None`.
        let tx: Sender<u64> = senders.remove(i - completions.len());
        if i & 1 == 0 {
            tx.send(i as u64);
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(flags) = take_byte(&mut data) else {
        return;
    };
    // One dispatcher for every input (building the registry dominates a
    // run otherwise); each input leaves it as it found it.
    static DISPATCHER: OnceLock<Dispatcher> = OnceLock::new();
    let d = DISPATCHER.get_or_init(dispatcher);
    let held = d.state::<Held>().expect("held state");
    assert!(held.completions.lock().expect("one thread").is_empty());
    assert!(held.senders.lock().expect("one thread").is_empty());
    let mut session = Session::new(1, "fuzz", flags & 1 != 0);
    let mut out = Vec::new();
    let mut input: Vec<u8> = match flags >> 1 & 3 {
        1 => br#"{"execute": "qmp_capabilities"}"#.to_vec(),
        2 => br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#.to_vec(),
        _ => Vec::new(),
    };
    let mut pos = 0;
    while let Some(op) = take_byte(&mut data) {
        match op % 4 {
            0 | 1 => {
                let n = take_byte(&mut data).unwrap_or(0);
                input.extend_from_slice(take(&mut data, usize::from(n)));
            }
            2 => {
                release(d, usize::from(take_byte(&mut data).unwrap_or(0)));
            }
            _ => {
                session.settle(d, &mut out);
            }
        }
        step_all(d, &mut session, &input, &mut pos, &mut out);
    }
    if flags & 8 != 0 {
        // The client goes away: pending commands are cancelled, and answers
        // arriving afterwards are ignored.
        session.close();
        while release(d, 0) {}
        session.settle(d, &mut out);
        assert_eq!(session.pending(), 0);
    } else {
        // Everything held is answered; the session ends idle.
        let mut rounds = 0;
        loop {
            step_all(d, &mut session, &input, &mut pos, &mut out);
            let released = release(d, rounds);
            let (delivered, _) = session.settle(d, &mut out);
            if !released && delivered == 0 {
                break;
            }
            rounds += 1;
        }
        assert_eq!(
            session.pending(),
            0,
            "pending after every answer was released"
        );
        assert!(session.wants_input(), "an idle session takes input");
        assert_eq!(pos, input.len(), "an idle session read everything");
    }
    check_output(&out);
});
