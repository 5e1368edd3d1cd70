//! QEMU's option syntax for monitor sockets:
//! `unix:PATH,server=on,wait=off` and `tcp:HOST:PORT,server=on,wait=off`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use monitor_core::ListenAddr;
use thiserror::Error;

/// Why an option was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CliError {
    /// The backend is not `unix:` or `tcp:`.
    #[error("'{0}': only unix:PATH and tcp:HOST:PORT sockets are supported")]
    Backend(String),
    /// A `key=value` option is unknown or has a bad value.
    #[error("'{spec}': bad option '{option}'")]
    Option {
        /// The whole spec.
        spec: String,
        /// The option.
        option: String,
    },
    /// `server=on` is required: the monitor listens.
    #[error("'{0}': the monitor listens; add server=on,wait=off")]
    NotServer(String),
    /// `wait=on` (the default) would block start-up until a client connects.
    #[error("'{0}': wait=on is not supported; add wait=off")]
    Wait(String),
    /// The TCP address does not resolve.
    #[error("'{0}': cannot resolve the address")]
    Address(String),
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
/// (0: none), `--max-fds N` (named descriptors per session).
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
}

/// The usage text of [`Access`]' options.
pub const ACCESS_USAGE: &str =
    "[--allow-uid UID]... [--max-clients N] [--negotiation-timeout SECONDS] [--max-fds N]";

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
        builder
    }
}

/// Parses a socket chardev spec as `-qmp` and `-monitor` take it.
///
/// # Errors
///
/// [`CliError`] naming the problem.
///
/// # Examples
///
/// ```
/// use examples::cli::parse_socket;
/// use monitor_core::ListenAddr;
///
/// assert_eq!(
///     parse_socket("unix:/tmp/q.sock,server=on,wait=off").unwrap(),
///     ListenAddr::Unix("/tmp/q.sock".into())
/// );
/// assert_eq!(
///     parse_socket("tcp:127.0.0.1:4444,server,nowait").unwrap(),
///     ListenAddr::Tcp("127.0.0.1:4444".parse().unwrap())
/// );
/// assert!(parse_socket("unix:/tmp/q.sock").is_err());
/// ```
pub fn parse_socket(spec: &str) -> Result<ListenAddr, CliError> {
    let mut parts = spec.split(',');
    let target = parts.next().unwrap_or_default();
    let (mut server, mut wait) = (false, true);
    for option in parts {
        let bad = || CliError::Option {
            spec: spec.to_owned(),
            option: option.to_owned(),
        };
        match option.split_once('=') {
            Some(("server", v)) => server = on_off(v).ok_or_else(bad)?,
            Some(("wait", v)) => wait = on_off(v).ok_or_else(bad)?,
            None if option == "server" => server = true,
            None if option == "nowait" => wait = false,
            _ => return Err(bad()),
        }
    }
    let addr = if let Some(path) = target.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(CliError::Backend(spec.to_owned()));
        }
        ListenAddr::Unix(PathBuf::from(path))
    } else if let Some(hostport) = target.strip_prefix("tcp:") {
        ListenAddr::Tcp(resolve(hostport).ok_or_else(|| CliError::Address(spec.to_owned()))?)
    } else {
        return Err(CliError::Backend(spec.to_owned()));
    };
    if !server {
        return Err(CliError::NotServer(spec.to_owned()));
    }
    if wait {
        return Err(CliError::Wait(spec.to_owned()));
    }
    Ok(addr)
}

fn on_off(v: &str) -> Option<bool> {
    match v {
        "on" | "yes" | "true" => Some(true),
        "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

fn resolve(hostport: &str) -> Option<SocketAddr> {
    let (host, port) = hostport.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    (host, port).to_socket_addrs().ok()?.next()
}

/// Where a `-monitor` (human monitor) is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorSpec {
    /// A socket, as `-qmp` takes it.
    Socket(ListenAddr),
    /// The process's terminal.
    Stdio,
}

/// Parses a `-monitor` spec: `stdio`, `unix:...` or `tcp:...`.
///
/// # Errors
///
/// As [`parse_socket`].
///
/// # Examples
///
/// ```
/// use examples::cli::{parse_monitor, MonitorSpec};
///
/// assert_eq!(parse_monitor("stdio").unwrap(), MonitorSpec::Stdio);
/// assert!(matches!(parse_monitor("unix:/tmp/h,server=on,wait=off").unwrap(), MonitorSpec::Socket(_)));
/// ```
pub fn parse_monitor(spec: &str) -> Result<MonitorSpec, CliError> {
    if spec == "stdio" {
        return Ok(MonitorSpec::Stdio);
    }
    parse_socket(spec).map(MonitorSpec::Socket)
}

/// Where `-serial` sends the guest's console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialSpec {
    /// The process's stdout (input from stdin is not forwarded).
    Stdio,
    /// Appended to a file.
    File(PathBuf),
    /// A unix socket server that one client at a time reads.
    Unix(PathBuf),
    /// Discarded.
    Null,
}

/// Parses `-serial stdio|file:PATH|unix:PATH,server=on,wait=off|null`.
///
/// # Errors
///
/// [`CliError::Backend`] for anything else.
///
/// # Examples
///
/// ```
/// use examples::cli::{parse_serial, SerialSpec};
///
/// assert_eq!(parse_serial("stdio").unwrap(), SerialSpec::Stdio);
/// assert_eq!(parse_serial("file:/tmp/s.log").unwrap(), SerialSpec::File("/tmp/s.log".into()));
/// assert!(parse_serial("pty").is_err());
/// ```
pub fn parse_serial(spec: &str) -> Result<SerialSpec, CliError> {
    match spec {
        "stdio" => Ok(SerialSpec::Stdio),
        "null" | "none" => Ok(SerialSpec::Null),
        _ if spec.starts_with("file:") && spec.len() > 5 => {
            Ok(SerialSpec::File(PathBuf::from(&spec[5..])))
        }
        _ if spec.starts_with("unix:") => match parse_socket(spec)? {
            ListenAddr::Unix(p) => Ok(SerialSpec::Unix(p)),
            ListenAddr::Tcp(_) => Err(CliError::Backend(spec.to_owned())),
        },
        _ => Err(CliError::Backend(spec.to_owned())),
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

/// Adds the `-qmp` listeners and the socket `-monitor` listeners to a
/// monitor being built, saying on stderr where each one listens.
/// (`-monitor stdio` is attached after spawning: see
/// [`monitor_hmp::stdio`].)
pub fn listen(
    mut builder: monitor_core::MonitorBuilder,
    program: &str,
    qmp: &[ListenAddr],
    monitors: &[MonitorSpec],
    hmp: &monitor_hmp::Hmp,
) -> monitor_core::MonitorBuilder {
    for addr in qmp {
        eprintln!("{program}: QMP on {addr}");
        builder = builder.listen(addr.clone());
    }
    for spec in monitors {
        if let MonitorSpec::Socket(addr) = spec {
            eprintln!("{program}: human monitor on {addr}");
            builder = builder.listen_console(addr.clone(), hmp.console());
        }
    }
    builder
}

/// The process's arguments parsed by `parse`, or how the process should
/// exit at once: after `--help` (or `-h`) printed `usage`, with success;
/// after a bad option printed `program: error` and `usage`, with 1.
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
    parse(&args).map_err(|e| {
        eprintln!("{program}: {e}\n{usage}");
        ExitCode::from(1)
    })
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
    fn wait_must_be_off() {
        assert!(matches!(
            parse_socket("unix:/x,server=on"),
            Err(CliError::Wait(_))
        ));
    }

    #[test]
    fn client_mode_is_refused() {
        assert!(matches!(
            parse_socket("unix:/x,server=off,wait=off"),
            Err(CliError::NotServer(_))
        ));
    }

    #[test]
    fn other_backends_are_refused() {
        assert!(matches!(parse_socket("stdio"), Err(CliError::Backend(_))));
        assert!(matches!(
            parse_socket("unix:/x,server=maybe,wait=off"),
            Err(CliError::Option { .. })
        ));
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
