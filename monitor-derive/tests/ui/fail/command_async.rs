use monitor_core::{qmp_command, Context};

/// An async command cannot take the Context: it lives only during the call.
#[qmp_command]
async fn x_cmd(ctx: &Context<'_>) {
    let _ = ctx;
}

fn main() {}
