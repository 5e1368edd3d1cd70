//! Chardevs from parsed options (QEMU's `qemu_chr_new_from_opts` and the
//! backends' `parse` functions), and QEMU's legacy chardev specs
//! (`qemu_chr_parse_compat`: `unix:`, `tcp:`, `file:`, ...).

use std::path::PathBuf;

use super::syntax::{self, Opts, CHARDEV_KEYS};
use super::{Backend, Chardev, OptionError, Socket, SocketAddress};

/// Backends QEMU 7.2 has (`-chardev help`, aliases and the optional
/// modules included) that this parser does not: refused with our error
/// rather than QEMU's `not a valid char driver name`.
const UNSUPPORTED_BACKENDS: &[&str] = &[
    "ringbuf",
    "memory",
    "mux",
    "pipe",
    "qemu-vdagent",
    "msmouse",
    "wctablet",
    "vc",
    "parallel",
    "parport",
    "udp",
    "serial",
    "tty",
    "testdev",
    "braille",
    "spicevmc",
    "spiceport",
    "dbus",
];

/// Makes the chardev that `opts` describe, as QEMU does when it creates
/// its chardevs; `stdio` says whether a chardev already has stdio.
pub(super) fn create(option: &str, opts: &Opts, stdio: &mut bool) -> Result<Chardev, OptionError> {
    let err_option = || option.to_owned();
    let Some(id) = opts.id.clone() else {
        return Err(OptionError::NoId {
            option: err_option(),
        });
    };
    let Some(name) = opts.get("backend") else {
        return Err(OptionError::NoBackend {
            option: err_option(),
            id,
        });
    };
    let backend = match name {
        "socket" => Backend::Socket(socket(option, opts)?),
        "pty" => Backend::Pty,
        "null" => Backend::Null,
        "file" => {
            let Some(path) = opts.get("path") else {
                return Err(OptionError::NoFilename {
                    option: err_option(),
                });
            };
            Backend::File {
                path: PathBuf::from(path),
                append: opts.flag("append", false),
            }
        }
        "stdio" => {
            if *stdio {
                return Err(OptionError::StdioInUse {
                    option: err_option(),
                });
            }
            *stdio = true;
            Backend::Stdio {
                signal: opts.flag("signal", true),
            }
        }
        _ if UNSUPPORTED_BACKENDS.contains(&name) => {
            return Err(OptionError::UnsupportedBackend {
                option: err_option(),
                backend: name.to_owned(),
            })
        }
        _ => {
            return Err(OptionError::UnknownBackend {
                option: err_option(),
                backend: name.to_owned(),
            })
        }
    };
    // Ours, after QEMU's checks: what every backend has in QEMU
    // (`qemu_chr_parse_common`, `mux`) and this parser cannot carry.
    unsupported(option, opts, &["mux"], &["logfile"])?;
    Ok(Chardev {
        id,
        backend,
        implicit: false,
    })
}

/// QEMU's `qemu_chr_parse_socket`, then the checks of
/// `qmp_chardev_validate_socket` and of opening (the fd number).
fn socket(option: &str, opts: &Opts) -> Result<Socket, OptionError> {
    let err_option = || option.to_owned();
    let (path, host, port, fd) = (
        opts.get("path"),
        opts.get("host"),
        opts.get("port"),
        opts.get("fd"),
    );
    if usize::from(path.is_some()) + usize::from(host.is_some()) + usize::from(fd.is_some()) > 1 {
        return Err(OptionError::SocketAddress {
            option: err_option(),
        });
    }
    if host.is_some() && port.is_none() {
        return Err(OptionError::NoPort {
            option: err_option(),
        });
    }
    let server = opts.flag("server", false);
    if !server && opts.get("wait").is_some() {
        return Err(OptionError::WaitClient {
            option: err_option(),
        });
    }
    let address = if let Some(path) = path {
        SocketAddress::Unix(PathBuf::from(path))
    } else if let (Some(host), Some(port)) = (host, port) {
        let port = port.parse().map_err(|_| OptionError::BadPort {
            option: err_option(),
            port: port.to_owned(),
        })?;
        SocketAddress::Inet {
            host: host.to_owned(),
            port,
        }
    } else {
        // With no address at all, QEMU tries an empty fd number.
        let fd = fd.unwrap_or_default();
        match syntax::strtoi(fd) {
            Ok(n) if n >= 0 => SocketAddress::Fd(n),
            Ok(_) => {
                return Err(OptionError::NotSocket {
                    option: err_option(),
                    fd: fd.to_owned(),
                })
            }
            Err(out_of_range) => {
                let fd = fd.to_owned();
                return Err(if out_of_range {
                    OptionError::FdRange {
                        option: err_option(),
                        fd,
                    }
                } else {
                    OptionError::FdNumber {
                        option: err_option(),
                        fd,
                    }
                });
            }
        }
    };
    let mut strings = vec!["tls-creds", "tls-authz", "reconnect"];
    if matches!(address, SocketAddress::Inet { .. }) {
        strings.push("to");
    }
    unsupported(
        option,
        opts,
        &["telnet", "tn3270", "websocket", "abstract"],
        &strings,
    )?;
    Ok(Socket {
        address,
        server,
        wait: server && opts.flag("wait", true),
    })
}

/// Ours: refuses `flags` that are on and `keys` that are given.
fn unsupported(
    option: &str,
    opts: &Opts,
    flags: &[&str],
    keys: &[&str],
) -> Result<(), OptionError> {
    let flag = flags.iter().find(|k| opts.flag(k, false));
    let key = keys.iter().find(|k| opts.get(k).is_some());
    match flag.or(key) {
        Some(name) => Err(OptionError::UnsupportedParameter {
            option: option.to_owned(),
            name: (*name).to_owned(),
        }),
        None => Ok(()),
    }
}

/// Why a legacy spec is refused.
pub(super) enum SpecError {
    /// An error of its own.
    Option(OptionError),
    /// `tcp:` without `HOST:PORT`: QEMU says nothing more than the
    /// caller's `parse error: SPEC` or `could not connect serial device`.
    Syntax,
}

impl From<OptionError> for SpecError {
    fn from(e: OptionError) -> SpecError {
        SpecError::Option(e)
    }
}

/// QEMU's `qemu_chr_parse_compat`: the options of chardev `label` from a
/// legacy spec. The options following `unix:PATH,` and `tcp:H:P,` take
/// short-form flags without a warning, and their `id=` is ignored.
pub(super) fn parse_spec(option: &str, label: &str, spec: &str) -> Result<Opts, SpecError> {
    let mut opts = Opts::with_id(Some(label.to_owned()));
    let unsupported = || {
        SpecError::Option(OptionError::UnsupportedSpec {
            option: option.to_owned(),
            spec: spec.to_owned(),
        })
    };
    if spec.starts_with("mon:") {
        return Err(unsupported());
    }
    if matches!(spec, "null" | "pty" | "stdio") {
        opts.set("backend", spec);
        return Ok(opts);
    }
    if matches!(spec, "msmouse" | "wctablet" | "braille" | "testdev")
        || [
            "vc",
            "con:",
            "COM",
            "pipe:",
            "telnet:",
            "tn3270:",
            "websocket:",
            "udp:",
            "/dev/",
        ]
        .iter()
        .any(|p| spec.starts_with(p))
    {
        return Err(unsupported());
    }
    if let Some(path) = spec.strip_prefix("file:") {
        opts.set("backend", "file");
        opts.set("path", path);
        return Ok(opts);
    }
    if let Some(rest) = spec.strip_prefix("tcp:") {
        // sscanf("%64[^:]:%32[^,]"), or ":%32[^,]" for an empty host.
        let (host, rest) = rest.split_once(':').ok_or(SpecError::Syntax)?;
        if host.len() > 64 {
            return Err(SpecError::Syntax);
        }
        let (port, rest) = rest.split_once(',').unwrap_or((rest, ""));
        if port.is_empty() {
            return Err(SpecError::Syntax);
        }
        opts.set("backend", "socket");
        opts.set("host", host);
        opts.set("port", port);
        opts.parse(option, rest, None, CHARDEV_KEYS, None)?;
        return Ok(opts);
    }
    if let Some(rest) = spec.strip_prefix("unix:") {
        opts.set("backend", "socket");
        opts.parse(option, rest, Some("path"), CHARDEV_KEYS, None)?;
        return Ok(opts);
    }
    Err(SpecError::Option(OptionError::UnknownSpec {
        option: option.to_owned(),
        spec: spec.to_owned(),
    }))
}
