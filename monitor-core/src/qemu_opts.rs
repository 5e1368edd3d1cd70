//! QEMU's monitor and chardev options, parsed as QEMU 7.2 parses them, for
//! a VMM that management software (libvirt) starts as it would start
//! QEMU.
//!
//! [`Parser`] takes, in command-line order:
//!
//! - `-chardev BACKEND,id=ID[,...]`, backends `socket` (`path=P`,
//!   `host=H,port=N` or `fd=N`; `server=on|off`, `wait=on|off`), `pty`,
//!   `stdio` (`signal=on|off`), `file` (`path=P`, `append=on|off`),
//!   `null`;
//! - `-mon chardev=ID[,mode=control|readline][,pretty=on|off][,id=ID]`;
//! - `-qmp SPEC`, `-qmp-pretty SPEC`, `-monitor SPEC` and `-serial SPEC`,
//!   SPEC in QEMU's legacy syntax: `unix:PATH[,server=on,wait=off]`,
//!   `tcp:HOST:PORT[,...]`, `stdio`, `pty`, `null`, `file:PATH`,
//!   `chardev:ID` (an existing chardev), `none` (`-monitor` and
//!   `-serial`: nothing).
//!
//! and gives [`MonitorOptions`]: the chardevs by id with their
//! [`Backend`], the QMP and human monitors on them, the serial ports, and
//! the chardevs left for devices (`-device isa-serial,chardev=ID`).
//!
//! # QEMU's behaviour, and where this differs
//!
//! - **Syntax.** `key=value` lists as `QemuOpts` reads them: `,,` is a
//!   comma inside a value, a key given twice counts once (the last; the
//!   first for `id`), booleans are `on`/`off`, `yes`/`no`, `true`/`false`,
//!   `y`/`n`. Keys are checked against QEMU's whole chardev key list, so a
//!   key QEMU knows but the backend does not use (`path` on `null`) is
//!   ignored, as QEMU ignores it.
//! - **Short-form flags** (`server`, `nowait`, `noserver`): QEMU 7.2
//!   accepts them with a deprecation warning in `-chardev` and `-mon`, and
//!   silently after `unix:`/`tcp:`. So does this parser; the warnings, in
//!   QEMU's words, are in [`MonitorOptions::warnings`] for the VMM to
//!   print.
//! - **Implicit chardevs** get QEMU's ids: `compat_monitorN` for the Nth
//!   `-qmp`/`-qmp-pretty`/`-monitor` (N counts those with `chardev:ID`
//!   too), `serialN` for the Nth `-serial` (N counts `none` too, which
//!   leaves COM(N+1) out). Their [`Chardev::implicit`] is true.
//! - **Order.** As in QEMU, chardevs are made first, then the monitors,
//!   then the serial ports: a monitor may name a chardev given after it,
//!   but not a serial port's implicit chardev.
//! - **Monitors listen and never block start-up.** A monitor on a socket
//!   with `server=off` (QEMU's default: connect as a client) is refused
//!   with [`OptionError::ClientMonitor`], one with `wait=on` (QEMU's
//!   default for servers: wait for the first client before starting the
//!   guest) with [`OptionError::WaitingMonitor`]. So `-qmp unix:PATH`
//!   needs `,server=on,wait=off`, as libvirt writes it. Serial ports and
//!   devices may have any socket.
//! - **`fd=N`** is a socket the parent passed: with `server=on` a
//!   listening socket, served as an inherited listener. The number is
//!   parsed as QEMU parses it; the descriptor itself is not looked at.
//! - **Not carried, so refused** with this crate's errors rather than
//!   dropped: backends other than the five above, legacy specs such as
//!   `mon:stdio`, `telnet:` and `vc`, and `mux=on`, `logfile`,
//!   `telnet=on`, `tn3270=on`, `websocket=on`, `tls-creds`, `tls-authz`,
//!   `reconnect`, `abstract=on`, and `to` on TCP sockets. `ipv4=` and
//!   `ipv6=` are accepted and ignored.
//! - **Ports** are numbers: QEMU also takes service names, which need a
//!   look-up. Host names are kept as given ([`SocketAddress::Inet`]).
//! - **`help`** is not answered: `-chardev help` is an unknown backend.
//! - **`-monitor none`** is exactly `none` (QEMU ignores anything whose
//!   first four characters are `none`).
//!
//! Errors are [`OptionError`]: QEMU's texts, with the option QEMU names,
//! where QEMU has them (checked against `qemu-system-x86_64` 7.2 in the
//! tests), this crate's otherwise.
//!
//! # Example
//!
//! ```
//! use monitor_core::qemu_opts::{Backend, MonitorMode, Parser, SocketAddress};
//!
//! // What libvirt passes, with the VMM's own options mixed in.
//! let args = [
//!     "-name", "guest=vm1",
//!     "-chardev", "socket,id=charmonitor,fd=25,server=on,wait=off",
//!     "-mon", "chardev=charmonitor,id=monitor,mode=control",
//!     "-chardev", "pty,id=charserial0",
//!     "-device", "isa-serial,chardev=charserial0,id=serial0",
//! ];
//! let mut parser = Parser::new();
//! let rest = parser.args(&args)?;
//! assert_eq!(rest, ["-name", "guest=vm1", "-device", "isa-serial,chardev=charserial0,id=serial0"]);
//! let opts = parser.finish()?;
//!
//! let (mon, chardev) = opts.qmp().next().expect("a QMP monitor");
//! assert_eq!(mon.mode, MonitorMode::Control);
//! assert_eq!(chardev.backend.socket().unwrap().address, SocketAddress::Fd(25));
//!
//! // The device's chardev, by id.
//! let serial = opts.chardev("charserial0").expect("defined");
//! assert!(!opts.in_use("charserial0"));
//! assert_eq!(serial.backend, Backend::Pty);
//! # Ok::<(), monitor_core::qemu_opts::OptionError>(())
//! ```

mod chardev;
mod error;
mod options;
mod parser;
mod syntax;
#[cfg(test)]
mod tests;

pub use error::OptionError;
pub use options::{Backend, Chardev, Mon, MonitorMode, MonitorOptions, Socket, SocketAddress};
pub use parser::Parser;
