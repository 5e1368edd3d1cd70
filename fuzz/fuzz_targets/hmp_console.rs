//! Bytes to a human-monitor console, as a client of a `-monitor` listener
//! sends them: the key decoder (escape sequences, UTF-8), the line editor
//! and its history, TAB completion, and whole lines run through the real
//! command table (the generic commands over the built-in QMP commands, and
//! one `#[hmp_command]` taking every type code). Nothing may panic, every
//! call uses input, and a console that quit or closed takes nothing more.
//!
//! Input: a flags byte (bit 0: little room for output, so the console
//! stops early as it does for a client that does not read), then chunks,
//! each a length byte and that many bytes, handed over one read at a time.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use monitor_core::console::Console;
use monitor_core::session::Dispatcher;
use monitor_core::{Emitter, Registry, SessionInfo, StateMap};
use monitor_fuzz::{take, take_byte};
use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpConsoleFactory, HmpContext, HmpError, HmpTable};

/// Every type code of the args_type language, printed back.
#[hmp_command(
    name = "x_every",
    args_type = "f:-f,n:-ns,fmt:/,s:s,i:i.,l:l?,o:o?,b:b?,t:T?,q:q?,rest:S?",
    params = "[-f] [-n x] /fmt s i l o b t q rest",
    help = "print every argument back"
)]
fn x_every(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    ctx.print(&format!("{args:?}\n"));
    Ok(())
}

fn setup() -> (Dispatcher, HmpConsoleFactory<HmpTable>) {
    let registry = Registry::with_inventory().expect("built-in registry");
    let dispatcher = Dispatcher::new(registry, StateMap::default(), Emitter::new());
    let table = HmpTable::new();
    table.check().expect("a valid table");
    (dispatcher, HmpConsoleFactory::new(Arc::new(table)))
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(flags) = take_byte(&mut data) else {
        return;
    };
    // Built once (the registry and table dominate a run otherwise); a
    // console keeps its own state, so each input starts afresh.
    static SETUP: OnceLock<(Dispatcher, HmpConsoleFactory<HmpTable>)> = OnceLock::new();
    let (d, factory) = SETUP.get_or_init(setup);
    let session = SessionInfo {
        id: 1,
        listener: "fuzz".into(),
        oob: false,
    };
    let mut console = factory.console(&session);
    let room = if flags & 1 != 0 { 16 } else { usize::MAX };
    let mut out = Vec::new();
    console.start(d, &mut out);
    let mut ended = false;
    while let Some(n) = take_byte(&mut data) {
        let mut chunk = take(&mut data, usize::from(n));
        while !chunk.is_empty() {
            out.clear();
            let done = console.input(d, chunk, &mut out, room);
            assert!(
                (1..=chunk.len()).contains(&done.used),
                "used {} of {} bytes",
                done.used,
                chunk.len()
            );
            if ended {
                assert!(out.is_empty(), "output after the console ended");
            }
            if done.effects.quit || done.effects.close {
                ended = true;
            }
            chunk = &chunk[done.used..];
        }
    }
});
