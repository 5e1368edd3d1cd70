//! HMP commands registered with #[hmp_command], run through the table.

use monitor_core::session::Dispatcher;
use monitor_core::{Emitter, Registry, SessionInfo, StateMap};
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

fn run(line: &str) -> String {
    let d = Dispatcher::new(
        Registry::with_inventory().unwrap(),
        StateMap::default(),
        Emitter::new(),
    );
    let session = SessionInfo {
        id: 1,
        listener: "test".into(),
        oob: false,
    };
    HmpTable::new().run_line(&d, &session, line, None).0
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
fn generic_commands_report_missing_qmp_commands_as_errors() {
    // This dispatcher has no `stop` command: the HMP command says so.
    assert_eq!(run("stop"), "Error: The command stop has not been found\n");
}

#[test]
fn completion_offers_commands_and_info_items() {
    let t = HmpTable::new();
    assert!(t.complete("x-g").contains(&"x-greet".to_owned()));
    assert_eq!(t.complete("info x-t"), vec!["x-thing".to_owned()]);
    assert!(t.complete("info ").contains(&"status".to_owned()));
}
