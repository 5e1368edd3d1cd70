//! `#[hmp_command]` in an edition-2024 crate.

use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpContext, HmpError};

/// Prints its argument.
#[hmp_command(name = "x-echo", args_type = "text:s", params = "text", help = "print text")]
fn x_echo(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    ctx.print(args.str("text").unwrap_or_default());
    Ok(())
}

fn main() {
    assert!(monitor_hmp::HmpTable::new().check().is_ok());
}
