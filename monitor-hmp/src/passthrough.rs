//! `human-monitor-command`: one HMP line over QMP, stateless, its text
//! output returned with `\r\n` line endings (as QEMU does; an HMP error is
//! text in the result, not a QMP error).

use std::sync::Arc;

use monitor_core::{Command, CommandError, Schema};
use serde::Deserialize;

use crate::table::HmpTable;

/// `human-monitor-command`'s arguments.
#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct HumanMonitorCommand {
    command_line: String,
    cpu_index: Option<i64>,
}

/// The `human-monitor-command` QMP command over `table`.
pub fn command(table: Arc<HmpTable>) -> Command {
    Command::typed(
        "human-monitor-command",
        move |ctx, args: HumanMonitorCommand| {
            let (text, quit) = table.run_line(
                ctx.dispatcher(),
                ctx.session(),
                &args.command_line,
                args.cpu_index,
            );
            if quit {
                ctx.request_quit();
            }
            Ok::<_, CommandError>(crlf(&text))
        },
    )
    .doc("Execute a command on the human monitor and return its output.")
    .origin("monitor_hmp::passthrough")
}

/// `\n` to `\r\n`, as QEMU's monitor output does.
pub(crate) fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        if c == '\n' {
            out.push('\r');
        }
        out.push(c);
    }
    out
}
