//! HMP commands registered with #[hmp_command], run through the table.

use monitor_core::session::Dispatcher;
use monitor_core::{Command, CommandError, Emitter, Registry, SessionInfo, StateMap};
use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpContext, HmpError, HmpTable};

/// Greets, to show arguments and output.
#[hmp_command(
    name = "x-greet|xg",
    args_type = "name:s,times:i?",
    params = "name [times]",
    help = "greet someone"
)]
fn x_greet(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let times = args.int("times").unwrap_or(1);
    for _ in 0..times {
        ctx.print(&format!("hello {}\n", args.str("name").unwrap_or_default()));
    }
    Ok(())
}

/// An `info` item.
#[hmp_command(name = "info x-thing", help = "show the thing")]
fn info_x_thing(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.print("thing: 42\n");
    Ok(())
}

/// Fails, to show how errors print.
#[hmp_command(name = "x-fail", help = "always fails")]
fn x_fail(_ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    Err(HmpError::Message("it failed".into()))
}

/// A dispatcher over the built-in QMP commands and those of this test
/// binary, plus `extra`.
fn dispatcher(extra: &[&str]) -> Dispatcher {
    let mut registry = Registry::with_inventory().unwrap();
    for name in extra {
        registry
            .insert(Command::typed(*name, |_, ()| Ok::<_, CommandError>(())))
            .unwrap();
    }
    Dispatcher::new(registry, StateMap::default(), Emitter::new())
}

fn run_with(d: &Dispatcher, line: &str) -> String {
    let session = SessionInfo {
        id: 1,
        listener: "test".into(),
        oob: false,
    };
    HmpTable::new().run_line(d, &session, line, None).0
}

fn run(line: &str) -> String {
    run_with(&dispatcher(&["query-status"]), line)
}

#[test]
fn registered_commands_run_with_parsed_arguments() {
    assert_eq!(run("x-greet bob 2"), "hello bob\nhello bob\n");
    assert_eq!(run("xg \"a b\""), "hello a b\n");
    assert_eq!(run("info x-thing"), "thing: 42\n");
    assert_eq!(run("x-fail"), "it failed\n");
}

#[test]
fn argument_errors_use_qemus_words_and_the_try_line() {
    assert_eq!(
        run("x-greet"),
        "x-greet|xg: string expected\nTry \"help x-greet\" for more information\n"
    );
    assert_eq!(
        run("xg bob 1 2"),
        "x-greet|xg: extraneous characters at the end of line\nTry \"help xg\" for more information\n"
    );
}

#[test]
fn help_lists_registered_commands_in_qemus_layout() {
    assert_eq!(
        run("help x-greet"),
        "x-greet|xg name [times] -- greet someone\n"
    );
    assert!(run("help").contains("x-fail  -- always fails\n"));
    assert!(run("help info").contains("info x-thing  -- show the thing\n"));
    assert!(run("info").contains("info status  -- show the current VM status (running|paused)\n"));
}

#[test]
fn generic_commands_exist_only_with_their_qmp_command() {
    // No `stop` QMP command: no `stop` HMP command, as QEMU without it.
    let without = dispatcher(&[]);
    assert_eq!(run_with(&without, "stop"), "unknown command: 'stop'\n");
    assert_eq!(run_with(&without, "s"), "unknown command: 's'\n");
    assert_eq!(run_with(&without, "help stop"), "unknown command: 'stop'\n");
    let help = run_with(&without, "help");
    for absent in ["stop", "cont", "system_reset", "system_powerdown"] {
        assert!(!help.contains(&format!("\n{absent}")), "{absent} in {help}");
    }
    assert!(help.contains("quit|q  -- quit the emulator\n"), "{help}");
    assert!(!run_with(&without, "info").contains("info status"));
    assert_eq!(
        run_with(&without, "info status"),
        "unknown command: 'info status'\n"
    );
    // With them, they are listed and run.
    let with = dispatcher(&["stop", "cont"]);
    assert_eq!(run_with(&with, "stop"), "");
    let help = run_with(&with, "help");
    assert!(help.contains("stop|s  -- stop emulation\n"), "{help}");
    assert!(help.contains("cont|c  -- resume emulation\n"), "{help}");
    assert!(!help.contains("system_reset"), "{help}");
}

#[test]
fn completion_offers_available_commands_and_info_items() {
    let t = HmpTable::new();
    let with = dispatcher(&["query-status", "stop"]);
    let registry = with.registry();
    assert!(t.complete(&registry, "x-g").contains(&"x-greet".to_owned()));
    assert_eq!(
        t.complete(&registry, "info x-t"),
        vec!["x-thing".to_owned()]
    );
    assert!(t
        .complete(&registry, "info ")
        .contains(&"status".to_owned()));
    assert_eq!(t.complete(&registry, "sto"), vec!["stop".to_owned()]);
    drop(registry);
    let without = dispatcher(&[]);
    let registry = without.registry();
    assert!(!t
        .complete(&registry, "info ")
        .contains(&"status".to_owned()));
    assert!(t.complete(&registry, "sto").is_empty());
}

#[test]
fn the_table_built_from_this_program_is_consistent() {
    assert_eq!(HmpTable::new().check(), Ok(()));
}
