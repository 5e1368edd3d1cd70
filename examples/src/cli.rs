//! QEMU's option syntax for monitor sockets:
//! `unix:PATH,server=on,wait=off` and `tcp:HOST:PORT,server=on,wait=off`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

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
    /// An option is not known.
    #[error("unknown option '{0}' (try --help)")]
    Unknown(String),
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
}
