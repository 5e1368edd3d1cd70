//! Mistakes in `#[hmp_command]` registrations fail `spawn()`, naming the
//! command, instead of silently leaving it out (a bad `args_type` used to
//! drop the command with only a log line; a second definition of a name
//! used to be shadowed).

use monitor_core::Monitor;
use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, Hmp, HmpContext, HmpError, HmpTableError};

/// `z` is no `args_type` letter.
#[hmp_command(name = "x-bad", args_type = "n:z", params = "n", help = "never runs")]
fn x_bad(_ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    Ok(())
}

/// Takes the name of the generic `info status`.
#[hmp_command(name = "info status", help = "a second info status")]
fn info_status_again(_ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    Ok(())
}

/// Its alias `xd` clashes with the next command's name.
#[hmp_command(name = "x-dup|xd", help = "first")]
fn x_dup(_ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    Ok(())
}

#[hmp_command(name = "xd", help = "second")]
fn xd(_ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    Ok(())
}

#[test]
fn check_reports_every_mistake_with_its_origin() {
    let problems = Hmp::new().table().check().unwrap_err().0;
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.iter().any(|p| matches!(
        p,
        HmpTableError::BadArgsType { command, origin, args_type, .. }
            if command == "x-bad" && args_type == "n:z" && origin.ends_with("table_errors::x_bad")
    )));
    assert!(problems.iter().any(|p| matches!(
        p,
        HmpTableError::Duplicate { name, first, second }
            if name == "info status"
                && first == "monitor-hmp's generic commands"
                && second.ends_with("table_errors::info_status_again")
    )));
    assert!(problems.iter().any(|p| matches!(
        p,
        HmpTableError::Duplicate { name, .. } if name == "xd"
    )));
}

#[test]
fn spawn_fails_with_a_message_naming_each_command() {
    let err = Hmp::new()
        .install(Monitor::builder())
        .spawn()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the human monitor's command table: "),
        "{err}"
    );
    assert!(
        err.contains("HMP command `x-bad` (by table_errors::x_bad): bad args_type \"n:z\""),
        "{err}"
    );
    assert!(
        err.contains("HMP command `info status` is defined twice: by monitor-hmp's generic commands and by table_errors::info_status_again"),
        "{err}"
    );
    assert!(err.contains("HMP command `xd` is defined twice"), "{err}");
}
