//! `human-monitor-command`: one HMP line over QMP, stateless, its text
//! output returned with `\r\n` line endings (as QEMU does; an HMP error is
//! text in the result, not a QMP error).
//!
//! Arguments are checked as QEMU 7.2's generated visitor checks them, in
//! declared order: `command-line` (missing, then not a string), then
//! `cpu-index` (not an integer), then any unexpected member; only then is
//! `cpu-index` looked up among the VMM's CPUs ([`crate::cpus`]): one that
//! names none is `Parameter 'cpu-index' expects a CPU number`, and the
//! line does not run. The rules: `docs/PROTOCOL.md`, section 16.

use std::sync::Arc;

use monitor_core::args::Arguments;
use monitor_core::schema::schema_of;
use monitor_core::Handler;
use monitor_core::Outcome;
use monitor_core::{Command, Context, Map, Reply, Schema};
use serde::Deserialize;

use crate::table::HmpTable;

/// `human-monitor-command`'s arguments (for introspection; they are taken
/// member by member).
#[allow(dead_code)]
#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct HumanMonitorCommand {
    command_line: String,
    cpu_index: Option<i64>,
}

/// The `human-monitor-command` QMP command over `table`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use monitor_hmp::{passthrough, HmpTable};
///
/// let command = passthrough::command(Arc::new(HmpTable::new()));
/// assert_eq!(command.name(), "human-monitor-command");
/// ```
pub fn command(table: Arc<HmpTable>) -> Command {
    let handler = move |ctx: &Context<'_>, arguments: Map| -> Outcome {
        let mut args = Arguments::new(arguments);
        let command_line: String = args.member("command-line")?;
        let cpu_index: Option<i64> = args.member("cpu-index")?;
        args.finish()?;
        if let Some(index) = cpu_index {
            if !crate::cpus::indexes(ctx.dispatcher(), ctx.session()).contains(&index) {
                return Err(crate::cpus::not_a_cpu());
            }
        }
        let (text, quit) =
            table.run_line(ctx.dispatcher(), ctx.session(), &command_line, cpu_index);
        if quit {
            ctx.request_quit();
        }
        Reply::new(&crlf(&text))
    };
    Command::new("human-monitor-command", Handler::Boxed(Arc::new(handler)))
        .schema(schema_of::<HumanMonitorCommand>, schema_of::<String>)
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
