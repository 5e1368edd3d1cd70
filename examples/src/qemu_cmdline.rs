//! The QEMU options both example binaries take, as a management stack
//! (libvirt) passes them: identity, machine type and accelerator, display
//! and defaults, the process options, and the options that only declare
//! what QEMU would otherwise assume.
//!
//! Each option does what it means for these VMMs or is refused with a
//! clear error; none is taken and ignored silently. What an option means
//! here is written beside it in [`Common::parse`].

use std::path::PathBuf;

use thiserror::Error;

use crate::cli::{value, CliError};
use crate::opts::{on_off, Opts, OptsError};

/// Why a QEMU option was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QemuOptionError {
    /// A malformed `key=value` list or JSON object.
    #[error(transparent)]
    Syntax(#[from] OptsError),
    /// A parameter this VMM does not have.
    #[error("{option}: parameter '{key}' is not supported by {program}")]
    Parameter {
        /// The option.
        option: String,
        /// The parameter.
        key: String,
        /// The VMM.
        program: &'static str,
    },
    /// A value this VMM cannot honour.
    #[error("{option}: {what}")]
    Unsupported {
        /// The option.
        option: String,
        /// What and why.
        what: String,
    },
}

/// The machine types a VMM declares: what `-machine TYPE` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineTypes {
    /// The VMM's name, for messages.
    pub program: &'static str,
    /// The types, the default first.
    pub types: &'static [&'static str],
    /// Whether guests run on KVM (an accelerator list must include it);
    /// `false` for a VMM without guests, where no accelerator runs.
    pub kvm: bool,
}

/// What the common options said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Common {
    /// `-name NAME` or `-name guest=NAME[,debug-threads=on]`.
    pub name: Option<String>,
    /// `-machine TYPE`: one of the declared types (`None`: the default).
    pub machine: Option<String>,
    /// `-pidfile PATH`.
    pub pidfile: Option<PathBuf>,
    /// `-nodefaults`: no default serial port or monitor.
    pub nodefaults: bool,
    /// `-nographic`: no display. QEMU then also puts the serial port and
    /// a monitor together on the terminal unless `-nodefaults`; that
    /// multiplexing is not supported, so without `-nodefaults` it is
    /// refused (see [`Common::check`]).
    pub nographic: bool,
    /// `-msg timestamp=on`.
    pub msg_timestamp: bool,
    /// `-machine ...,memory-backend=ID`: the `-object memory-backend-ram`
    /// that is the guest's RAM.
    pub memory_backend: Option<String>,
}

impl Common {
    /// Takes the option at `args[*i]` if it is a common one (advancing `i`
    /// past its value) and says whether it was.
    ///
    /// # Errors
    ///
    /// A missing value, a malformed list, or what the VMM cannot honour.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::qemu_cmdline::{Common, MachineTypes};
    ///
    /// const TYPES: MachineTypes = MachineTypes { program: "refvmm", types: &["pc", "none"], kvm: true };
    /// let args: Vec<String> = "-machine none,accel=kvm:tcg -no-user-config -nodefaults"
    ///     .split(' ').map(String::from).collect();
    /// let mut common = Common::default();
    /// let mut i = 0;
    /// while i < args.len() {
    ///     assert!(common.parse(&args, &mut i, TYPES).unwrap());
    ///     i += 1;
    /// }
    /// assert_eq!(common.machine.as_deref(), Some("none"));
    /// assert!(common.nodefaults);
    /// ```
    pub fn parse(
        &mut self,
        args: &[String],
        i: &mut usize,
        machines: MachineTypes,
    ) -> Result<bool, CliError> {
        let option = args[*i].as_str();
        let program = machines.program;
        match option {
            "-name" => {
                let mut o = opts(option, "guest", value(args, i, option)?)?;
                self.name = o.take("guest");
                // Thread names are always set (`qmp-monitor`, `vcpu N`).
                if let Some(v) = o.take("debug-threads") {
                    expect_bool(option, "debug-threads", &v, None)?;
                }
                o.take("process");
                rest(option, o, program)?;
            }
            "-machine" | "-M" => {
                let mut o = opts("-machine", "type", value(args, i, option)?)?;
                if let Some(t) = o.take("type") {
                    if t == "help" || !machines.types.contains(&t.as_str()) {
                        return Err(unsupported(
                            "-machine",
                            format!(
                                "unsupported machine type '{t}'; {program} has {}",
                                machines.types.join(", ")
                            ),
                        ));
                    }
                    self.machine = Some(t);
                }
                if let Some(accel) = o.take("accel") {
                    check_accel("-machine", &accel, machines)?;
                }
                // No USB controller, no core dumps of guest RAM to decide:
                // only the values that describe this VMM are accepted.
                if let Some(v) = o.take("usb") {
                    expect_bool("-machine", "usb", &v, Some(false))?;
                }
                if let Some(v) = o.take("dump-guest-core") {
                    expect_bool("-machine", "dump-guest-core", &v, Some(false))?;
                }
                if let Some(v) = o.take("graphics") {
                    expect_bool("-machine", "graphics", &v, Some(false))?;
                }
                self.memory_backend = o.take("memory-backend");
                rest("-machine", o, program)?;
            }
            "-accel" => {
                let mut o = opts(option, "accel", value(args, i, option)?)?;
                let accel = o.take("accel").unwrap_or_default();
                check_accel(option, &accel, machines)?;
                rest(option, o, program)?;
            }
            "-pidfile" => self.pidfile = Some(value(args, i, option)?.into()),
            // Handled before anything else (see `daemon::parent`); the
            // daemon never sees it.
            "-daemonize" => {}
            "-nodefaults" => self.nodefaults = true,
            "-nographic" => self.nographic = true,
            // There is no configuration file to skip.
            "-no-user-config" => {}
            "-display" => {
                let o = opts(option, "type", value(args, i, option)?)?;
                if o.get("type") != Some("none") {
                    return Err(unsupported(
                        option,
                        format!("{program} has no display; use -display none"),
                    ));
                }
            }
            "-msg" => {
                let mut o = opts(option, "", value(args, i, option)?)?;
                if let Some(v) = o.take("timestamp") {
                    self.msg_timestamp = expect_bool(option, "timestamp", &v, None)?;
                }
                o.take("guest-name");
                rest(option, o, program)?;
            }
            "-overcommit" => {
                let mut o = opts(option, "", value(args, i, option)?)?;
                // Guest RAM is not locked, and vCPUs do not idle in guest.
                if let Some(v) = o.take("mem-lock") {
                    expect_bool(option, "mem-lock", &v, Some(false))?;
                }
                if let Some(v) = o.take("cpu-pm") {
                    expect_bool(option, "cpu-pm", &v, Some(false))?;
                }
                rest(option, o, program)?;
            }
            "-audiodev" => {
                let mut o = opts(option, "driver", value(args, i, option)?)?;
                if o.take("driver").as_deref() != Some("none") {
                    return Err(unsupported(
                        option,
                        format!("{program} has no sound: only driver none"),
                    ));
                }
                o.take("id");
                rest(option, o, program)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl Common {
    /// Checks the options together, once all are parsed: what `-nographic`
    /// and `-daemonize` (`daemonized`: this is the daemon) allow, in
    /// QEMU's words; `stdio` says whether a chardev uses the terminal.
    ///
    /// # Errors
    ///
    /// The first combination these VMMs refuse.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::qemu_cmdline::Common;
    ///
    /// let probe = Common { nographic: true, nodefaults: true, ..Common::default() };
    /// assert!(probe.check(true, false).is_ok());
    /// let legacy = Common { nographic: true, ..Common::default() };
    /// assert_eq!(
    ///     legacy.check(true, false).unwrap_err().to_string(),
    ///     "-nographic cannot be used with -daemonize"
    /// );
    /// assert_eq!(
    ///     probe.check(true, true).unwrap_err().to_string(),
    ///     "cannot use stdio with -daemonize"
    /// );
    /// ```
    pub fn check(&self, daemonized: bool, stdio: bool) -> Result<(), CliError> {
        // QEMU refuses -nographic with -daemonize only where it would put
        // default devices on the terminal: libvirt's probe passes both,
        // with -nodefaults.
        if daemonized && self.nographic && !self.nodefaults {
            return Err(CliError::Conflict(
                "-nographic cannot be used with -daemonize".into(),
            ));
        }
        if daemonized && stdio {
            return Err(CliError::Conflict(
                "cannot use stdio with -daemonize".into(),
            ));
        }
        if self.nographic && !self.nodefaults {
            return Err(unsupported(
                "-nographic",
                "the serial port and monitor QEMU puts together on the terminal (mon:stdio) \
                 are not supported: add -nodefaults, with -serial and -monitor as needed",
            ));
        }
        Ok(())
    }
}

/// Parses an option's `key=value` list (or JSON object) as [`Opts`].
///
/// # Errors
///
/// A malformed list, as [`CliError::Qemu`].
pub fn opts(option: &str, implied: &str, value: &str) -> Result<Opts, CliError> {
    Opts::parse(option, implied, value).map_err(|e| CliError::Qemu(e.into()))
}

/// What this VMM cannot honour: `OPTION: WHAT`.
///
/// # Examples
///
/// ```
/// let e = examples::qemu_cmdline::unsupported("-usb", "no USB controller");
/// assert_eq!(e.to_string(), "-usb: no USB controller");
/// ```
pub fn unsupported(option: &str, what: impl Into<String>) -> CliError {
    CliError::Qemu(QemuOptionError::Unsupported {
        option: option.to_owned(),
        what: what.into(),
    })
}

/// Refuses the parameters nobody took.
///
/// # Errors
///
/// [`QemuOptionError::Parameter`] for the first one.
pub fn rest(option: &str, o: Opts, program: &'static str) -> Result<(), CliError> {
    match o.keys().next() {
        None => Ok(()),
        Some(key) => Err(CliError::Qemu(QemuOptionError::Parameter {
            option: option.to_owned(),
            key: key.to_owned(),
            program,
        })),
    }
}

/// A boolean parameter; with `only`, the one value this VMM can honour.
///
/// # Errors
///
/// Not a boolean, or not the value `only` requires.
pub fn expect_bool(option: &str, key: &str, v: &str, only: Option<bool>) -> Result<bool, CliError> {
    let b = on_off(v).ok_or_else(|| {
        unsupported(
            option,
            format!("parameter '{key}' expects 'on' or 'off', not '{v}'"),
        )
    })?;
    match only {
        Some(want) if want != b => Err(unsupported(
            option,
            format!(
                "{key}={v} is not supported (only {key}={})",
                if want { "on" } else { "off" }
            ),
        )),
        _ => Ok(b),
    }
}

/// `accel=kvm`, or a list (`kvm:tcg`) in which KVM comes first or is the
/// only one that exists here.
fn check_accel(option: &str, accel: &str, machines: MachineTypes) -> Result<(), CliError> {
    let known = accel.split(':').all(|a| a == "kvm" || a == "tcg");
    if known && (!machines.kvm || accel.split(':').any(|a| a == "kvm")) {
        Ok(())
    } else {
        Err(unsupported(
            option,
            format!(
                "accelerator '{accel}' is not available: {} runs on KVM only",
                machines.program
            ),
        ))
    }
}
