use monitor_core::qmp_command;

struct Vm;

impl Vm {
    #[qmp_command]
    fn x_stop(&self) {}
}

fn main() {}
