//! The example binaries' command-line plumbing: errors, values, sizes,
//! `--help`, the monitor's access options (which QEMU has no syntax for),
//! and QEMU's way of reporting errors (`-msg timestamp=on`). Monitors and
//! chardevs are parsed by `monitor_core::qemu_opts`, the other QEMU
//! options by [`qemu_cmdline`](crate::qemu_cmdline).

use std::process::ExitCode;

use thiserror::Error;

/// Why an option was refused.
#[derive(Debug, Clone, Error)]
pub enum CliError {
    /// An option needs a value.
    #[error("option {0} needs a value")]
    MissingValue(String),
    /// A size that `-m` cannot take.
    #[error("invalid memory size '{0}' (MiB, or with a K/M/G/T suffix)")]
    Size(String),
    /// An option is not known.
    #[error("unknown option '{0}' (try --help)")]
    Unknown(String),
    /// `-device` names a model we do not have (QEMU's words).
    #[error("-device {spec}: '{model}' is not a valid device model name")]
    UnknownDevice {
        /// The whole `-device` value.
        spec: String,
        /// Its model name.
        model: String,
    },
    /// An option that needs another one (`-append` and `-initrd` need
    /// `-kernel`), in QEMU's words.
    #[error("{0} only allowed with {1} option")]
    Requires(&'static str, &'static str),
    /// Options that cannot go together, in QEMU's words.
    #[error("{0}")]
    Conflict(String),
    /// A monitor or chardev option, in QEMU's words.
    #[error(transparent)]
    Monitor(#[from] monitor_core::qemu_opts::OptionError),
    /// A QEMU option with parameters that this VMM refuses.
    #[error(transparent)]
    Qemu(#[from] crate::qemu_cmdline::QemuOptionError),
    /// An option takes a non-negative whole number.
    #[error("option {option} expects a number, not '{value}'")]
    Number {
        /// The option.
        option: String,
        /// What was given.
        value: String,
    },
}

/// The monitor's access limits, which QEMU has no options for; given as
/// long options so QEMU's own syntax stays as it is:
/// `--allow-uid UID` (repeatable: serve only these users on unix sockets),
/// `--max-clients N` (per listener), `--negotiation-timeout SECONDS`
/// (0: none), `--max-fds N` (named descriptors per session), `--fd-budget N`
/// (descriptors the monitor holds for all its clients together).
///
/// # Examples
///
/// ```
/// use examples::cli::Access;
///
/// let args: Vec<String> = ["--allow-uid", "1000", "--max-clients", "4"]
///     .iter().map(|s| s.to_string()).collect();
/// let mut access = Access::default();
/// let mut i = 0;
/// while i < args.len() {
///     assert!(access.parse(&args, &mut i).unwrap());
///     i += 1;
/// }
/// assert_eq!(access.allow_uids, [1000]);
/// assert_eq!(access.max_clients, Some(4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// `--allow-uid`, in order given.
    pub allow_uids: Vec<u32>,
    /// `--max-clients`.
    pub max_clients: Option<usize>,
    /// `--negotiation-timeout` in seconds (0: none).
    pub negotiation_timeout: Option<u64>,
    /// `--max-fds`.
    pub max_fds: Option<usize>,
    /// `--fd-budget`.
    pub fd_budget: Option<usize>,
}

/// The usage text of [`Access`]' options.
pub const ACCESS_USAGE: &str =
    "[--allow-uid UID]... [--max-clients N] [--negotiation-timeout SECONDS] [--max-fds N] [--fd-budget N]";

impl Access {
    /// Takes the option at `args[*i]` if it is one of these (advancing `i`
    /// past its value) and says whether it was.
    ///
    /// # Errors
    ///
    /// [`CliError::MissingValue`] or [`CliError::Number`].
    pub fn parse(&mut self, args: &[String], i: &mut usize) -> Result<bool, CliError> {
        let option = args[*i].as_str();
        let number = |i: &mut usize| -> Result<u64, CliError> {
            let v = value(args, i, option)?;
            v.parse().map_err(|_| CliError::Number {
                option: option.to_owned(),
                value: v.to_owned(),
            })
        };
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        match option {
            "--allow-uid" => {
                let uid = number(i)?;
                let uid = u32::try_from(uid).map_err(|_| CliError::Number {
                    option: option.to_owned(),
                    value: uid.to_string(),
                })?;
                self.allow_uids.push(uid);
            }
            "--max-clients" => self.max_clients = Some(size(number(i)?)),
            "--negotiation-timeout" => self.negotiation_timeout = Some(number(i)?),
            "--max-fds" => self.max_fds = Some(size(number(i)?)),
            "--fd-budget" => self.fd_budget = Some(size(number(i)?)),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies what was given to a monitor being built.
    pub fn apply(&self, mut builder: monitor_core::MonitorBuilder) -> monitor_core::MonitorBuilder {
        if !self.allow_uids.is_empty() {
            builder = builder.allow_uids(self.allow_uids.iter().copied());
        }
        if let Some(n) = self.max_clients {
            builder = builder.max_connections(n);
        }
        if let Some(secs) = self.negotiation_timeout {
            let timeout = (secs > 0).then(|| std::time::Duration::from_secs(secs));
            builder = builder.negotiation_timeout(timeout);
        }
        if let Some(n) = self.max_fds {
            builder = builder.fds_per_session(n);
        }
        if let Some(n) = self.fd_budget {
            builder = builder.fd_budget(n);
        }
        builder
    }
}

/// Parses a memory size as `-m` takes it: a number of MiB, or with a
/// `K`/`M`/`G`/`T` suffix (`512`, `512M`, `1G`).
///
/// # Errors
///
/// [`CliError::Size`] for anything else, zero, or more than 1 TiB.
///
/// # Examples
///
/// ```
/// use examples::cli::parse_size_mib;
///
/// assert_eq!(parse_size_mib("128").unwrap(), 128 << 20);
/// assert_eq!(parse_size_mib("1G").unwrap(), 1 << 30);
/// assert!(parse_size_mib("lots").is_err());
/// ```
pub fn parse_size_mib(spec: &str) -> Result<u64, CliError> {
    let bad = || CliError::Size(spec.to_owned());
    let (digits, shift) = match spec.char_indices().last() {
        Some((i, 'K' | 'k')) => (&spec[..i], 10),
        Some((i, 'M' | 'm')) => (&spec[..i], 20),
        Some((i, 'G' | 'g')) => (&spec[..i], 30),
        Some((i, 'T' | 't')) => (&spec[..i], 40),
        _ => (spec, 20),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .ok_or_else(bad)?;
    if bytes == 0 || bytes > 1 << 40 {
        return Err(bad());
    }
    Ok(bytes)
}

/// The process's arguments parsed by `parse`, or how the process should
/// exit at once: after `--help` (or `-h`) printed `usage`, with success;
/// after a bad option printed `program: error` (one line, as QEMU), with 1.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
/// use examples::cli::{self, CliError};
///
/// fn parse(args: &[String]) -> Result<usize, CliError> {
///     Ok(args.len())
/// }
///
/// fn main() -> ExitCode {
///     let count = match cli::parse_args("demo", "usage: demo [ARG]...", parse) {
///         Ok(count) => count,
///         Err(code) => return code,
///     };
///     println!("{count} arguments");
///     ExitCode::SUCCESS
/// }
/// ```
pub fn parse_args<T>(
    program: &str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<T, CliError>,
) -> Result<T, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        return Err(ExitCode::SUCCESS);
    }
    // One line, as QEMU prints it: a management stack (libvirt) shows the
    // tail of the log, where a usage text would bury the reason.
    parse(&args).map_err(|e| {
        report(program, e);
        ExitCode::from(1)
    })
}

/// The example binaries' `main`: the parent half of `-daemonize` (which
/// only waits for the daemon), the options ([`parse_args`] with `parse`),
/// the logger, then `run`; a failure is [`report`]ed in one line and the
/// process exits 1.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
///
/// fn main() -> ExitCode {
///     examples::cli::main("demo", "usage: demo", |args| Ok(args.len()), |count| {
///         println!("{count} arguments");
///         Ok(())
///     })
/// }
/// ```
pub fn main<T>(
    program: &'static str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<T, CliError>,
    run: impl FnOnce(T) -> Result<(), Box<dyn std::error::Error>>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = crate::daemon::parent(&args) {
        return code;
    }
    let options = match parse_args(program, usage, parse) {
        Ok(options) => options,
        Err(code) => return code,
    };
    crate::logger::init();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(program, error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

/// Whether messages carry QEMU's `-msg timestamp=on` prefix.
static MSG_TIMESTAMP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-msg timestamp=on|off`: whether [`report`] prefixes messages with the
/// time, as QEMU's `error_report` does.
pub fn set_msg_timestamp(on: bool) {
    MSG_TIMESTAMP.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Prints `program: message` on stderr, as QEMU's `error_report` does:
/// after `-msg timestamp=on`, prefixed with the UTC time in QEMU's form
/// (`2026-12-01T21:17:14.714240Z `).
///
/// # Examples
///
/// ```
/// examples::cli::report("refvmm", "terminating on signal 15");
/// ```
pub fn report(program: &str, message: impl std::fmt::Display) {
    if MSG_TIMESTAMP.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "{} {program}: {message}",
            timestamp(std::time::SystemTime::now())
        );
    } else {
        eprintln!("{program}: {message}");
    }
}

/// QEMU's `real_time_iso8601` form, with microseconds.
fn timestamp(now: std::time::SystemTime) -> String {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) =
        crate::calendar::civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// An error, then each of its causes, `: `-separated: what the binaries
/// print before exiting 1.
///
/// # Examples
///
/// ```
/// use examples::cli::error_chain;
/// use monitor_hmp::stdio::StdioError;
///
/// let e = StdioError::Terminal(std::io::Error::other("Input/output error"));
/// assert_eq!(
///     error_chain(&e),
///     "cannot put the terminal in raw mode: Input/output error"
/// );
/// ```
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// The value following option `name` in `args`, advancing `i`.
///
/// # Errors
///
/// [`CliError::MissingValue`] at the end of the arguments.
pub fn value<'a>(args: &'a [String], i: &mut usize, name: &str) -> Result<&'a str, CliError> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| CliError::MissingValue(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_qemus_iso8601() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_796_159_834, 714_240_123);
        assert_eq!(timestamp(t), "2026-12-01T21:17:14.714240Z");
        assert_eq!(
            timestamp(std::time::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn access_options_need_numbers_and_leave_others_alone() {
        let args: Vec<String> = ["--max-clients", "many", "-qmp"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut access = Access::default();
        assert_eq!(
            access.parse(&args, &mut 0).unwrap_err().to_string(),
            "option --max-clients expects a number, not 'many'"
        );
        assert!(!access.parse(&args, &mut 2).unwrap());
        let uid: Vec<String> = vec!["--allow-uid".into(), "4294967296".into()];
        assert!(access.parse(&uid, &mut 0).is_err());
    }
}
