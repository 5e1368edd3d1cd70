//! What the options describe: chardevs, monitors, serial ports.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::ListenAddr;

/// The chardevs, monitors and serial ports the options describe, as
/// [`Parser::finish`](super::Parser::finish) returns them.
///
/// # Examples
///
/// libvirt's monitor and serial console:
///
/// ```
/// use monitor_core::qemu_opts::{Backend, Parser};
///
/// let mut parser = Parser::new();
/// parser.args(&[
///     "-chardev", "socket,id=charmonitor,fd=25,server=on,wait=off",
///     "-mon", "chardev=charmonitor,id=monitor,mode=control",
///     "-chardev", "pty,id=charserial0",
/// ])?;
/// let opts = parser.finish()?;
/// let (mon, chardev) = opts.qmp().next().unwrap();
/// assert_eq!(mon.id.as_deref(), Some("monitor"));
/// assert_eq!(chardev.id, "charmonitor");
/// // charserial0 waits for `-device isa-serial,chardev=charserial0`.
/// let serial = opts.unused().next().unwrap();
/// assert_eq!((serial.id.as_str(), &serial.backend), ("charserial0", &Backend::Pty));
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    pub(super) chardevs: Vec<Chardev>,
    pub(super) monitors: Vec<Mon>,
    pub(super) serials: Vec<Option<String>>,
    pub(super) warnings: Vec<String>,
}

impl MonitorOptions {
    /// Every chardev, in the order QEMU makes them: `-chardev` and the
    /// implicit ones of `-qmp`/`-monitor` in command-line order, then the
    /// implicit ones of `-serial`.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.args(&["-serial", "pty", "-chardev", "null,id=a", "-monitor", "null"])?;
    /// let opts = parser.finish()?;
    /// let ids: Vec<&str> = opts.chardevs().iter().map(|c| c.id.as_str()).collect();
    /// assert_eq!(ids, ["a", "compat_monitor0", "serial0"]);
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn chardevs(&self) -> &[Chardev] {
        &self.chardevs
    }

    /// The chardev with this id: what `-device ...,chardev=ID` looks up.
    /// See [`in_use`](Self::in_use) for whether a device may take it.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::{Backend, Parser};
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-chardev", "file,id=log,path=/tmp/serial.log")?;
    /// let opts = parser.finish()?;
    /// assert!(matches!(opts.chardev("log").unwrap().backend, Backend::File { .. }));
    /// assert!(opts.chardev("nope").is_none());
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn chardev(&self, id: &str) -> Option<&Chardev> {
        self.chardevs.iter().find(|c| c.id == id)
    }

    /// Whether a monitor or a serial port uses the chardev with this id.
    /// A device given such a chardev fails in QEMU with `Property
    /// 'serial.chardev' can't take value 'ID': Device 'ID' is in use`, and
    /// one given an unknown id with `Property 'serial.chardev' can't find
    /// value 'ID'` (the property's name is the device's).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.args(&["-chardev", "null,id=a", "-chardev", "null,id=b", "-mon", "a"])?;
    /// let opts = parser.finish()?;
    /// assert!(opts.in_use("a"));
    /// assert!(!opts.in_use("b"));
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn in_use(&self, id: &str) -> bool {
        self.monitors.iter().any(|m| m.chardev == id)
            || self.serials.iter().flatten().any(|s| s == id)
    }

    /// The chardevs neither a monitor nor a serial port uses, in
    /// [`chardevs`](Self::chardevs) order: those left for devices.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.args(&["-chardev", "pty,id=charserial0", "-qmp", "unix:/tmp/q,server=on,wait=off"])?;
    /// let opts = parser.finish()?;
    /// let unused: Vec<&str> = opts.unused().map(|c| c.id.as_str()).collect();
    /// assert_eq!(unused, ["charserial0"]);
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn unused(&self) -> impl Iterator<Item = &Chardev> + '_ {
        self.chardevs.iter().filter(|c| !self.in_use(&c.id))
    }

    /// Every monitor, in QEMU's order (`-mon`, `-qmp`, `-qmp-pretty` and
    /// `-monitor` in command-line order).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::{MonitorMode, Parser};
    ///
    /// let mut parser = Parser::new();
    /// parser.args(&["-monitor", "pty", "-qmp", "unix:/tmp/q,server=on,wait=off"])?;
    /// let opts = parser.finish()?;
    /// let modes: Vec<MonitorMode> = opts.monitors().iter().map(|m| m.mode).collect();
    /// assert_eq!(modes, [MonitorMode::Readline, MonitorMode::Control]);
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn monitors(&self) -> &[Mon] {
        &self.monitors
    }

    /// The QMP monitors (`mode=control`) with their chardevs.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::{Parser, SocketAddress};
    /// use monitor_core::ListenAddr;
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-qmp-pretty", "tcp:127.0.0.1:4444,server=on,wait=off")?;
    /// let opts = parser.finish()?;
    /// let (mon, chardev) = opts.qmp().next().unwrap();
    /// assert!(mon.pretty);
    /// assert_eq!(
    ///     chardev.backend.socket().unwrap().listen_addr(),
    ///     Some(ListenAddr::Tcp("127.0.0.1:4444".parse().unwrap()))
    /// );
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn qmp(&self) -> impl Iterator<Item = (&Mon, &Chardev)> + '_ {
        self.with_mode(MonitorMode::Control)
    }

    /// The human monitors (`mode=readline`) with their chardevs.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::{Backend, Parser};
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-monitor", "stdio")?;
    /// let opts = parser.finish()?;
    /// let (_, chardev) = opts.hmp().next().unwrap();
    /// assert_eq!(chardev.backend, Backend::Stdio { signal: true });
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn hmp(&self) -> impl Iterator<Item = (&Mon, &Chardev)> + '_ {
        self.with_mode(MonitorMode::Readline)
    }

    fn with_mode(&self, mode: MonitorMode) -> impl Iterator<Item = (&Mon, &Chardev)> + '_ {
        self.monitors
            .iter()
            .filter(move |m| m.mode == mode)
            .filter_map(|m| Some((m, self.chardev(&m.chardev)?)))
    }

    /// The serial ports, one per `-serial` in order: the first is COM1
    /// (QEMU's `serial_hds[0]`); `-serial none` leaves its port out.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.args(&["-serial", "none", "-serial", "file:/tmp/com2.log"])?;
    /// let opts = parser.finish()?;
    /// let ports: Vec<Option<&str>> = opts.serials().map(|c| c.map(|c| c.id.as_str())).collect();
    /// assert_eq!(ports, [None, Some("serial1")]);
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn serials(&self) -> impl Iterator<Item = Option<&Chardev>> + '_ {
        self.serials
            .iter()
            .map(|id| id.as_deref().and_then(|id| self.chardev(id)))
    }

    /// QEMU's warnings for what it accepts but deprecates (short-form
    /// flags such as `server` and `nowait` in `-chardev` and `-mon`), each
    /// as QEMU prints it after `qemu-system-x86_64: ` (two lines). A VMM
    /// prints them to stderr.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-chardev", "socket,id=m,path=/tmp/m,server,nowait")?;
    /// let opts = parser.finish()?;
    /// assert_eq!(
    ///     opts.warnings()[0],
    ///     "-chardev socket,id=m,path=/tmp/m,server,nowait: \
    ///      warning: short-form boolean option 'server' deprecated\nPlease use server=on instead"
    /// );
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// A character device: `-chardev BACKEND,id=ID,...`, or one QEMU makes
/// for `-qmp`, `-monitor` and `-serial`.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{Backend, Parser};
///
/// let mut parser = Parser::new();
/// parser.args(&["-chardev", "null,id=a", "-qmp", "null"])?;
/// let opts = parser.finish()?;
/// let a = opts.chardev("a").unwrap();
/// assert!(!a.implicit);
/// let qmp = opts.chardev("compat_monitor0").unwrap();
/// assert!(qmp.implicit);
/// assert_eq!(qmp.backend, Backend::Null);
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// Its id. QEMU's for implicit ones: `compat_monitorN` for the Nth
    /// `-qmp`/`-qmp-pretty`/`-monitor` (from 0, counting those with
    /// `chardev:ID` but not `-monitor none`), `serialN` for the Nth
    /// `-serial` (counting `none`).
    pub id: String,
    /// Where its bytes go.
    pub backend: Backend,
    /// Made by a shorthand option rather than by `-chardev`.
    pub implicit: bool,
}

/// A chardev's backend.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{Backend, Parser};
///
/// let mut parser = Parser::new();
/// parser.option("-chardev", "file,id=log,path=/tmp/log,append=on")?;
/// let opts = parser.finish()?;
/// assert_eq!(
///     opts.chardev("log").unwrap().backend,
///     Backend::File { path: "/tmp/log".into(), append: true }
/// );
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// `socket`: a unix or TCP socket, or one the parent process passed.
    Socket(Socket),
    /// `pty`: a new pseudo-terminal.
    Pty,
    /// `stdio`: the process's stdin and stdout (one chardev at most).
    Stdio {
        /// `signal=on` (the default): Ctrl-C on the terminal ends the
        /// process rather than reaching the guest.
        signal: bool,
    },
    /// `file`: output appended to or written over a file (`file:PATH`).
    File {
        /// The file (opened at start-up, created if missing).
        path: PathBuf,
        /// `append=on`: keep what the file holds (default: truncate).
        append: bool,
    },
    /// `null`: output discarded, no input.
    Null,
}

impl Backend {
    /// The socket, for a socket backend.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Backend;
    ///
    /// assert!(Backend::Null.socket().is_none());
    /// ```
    pub fn socket(&self) -> Option<&Socket> {
        match self {
            Backend::Socket(s) => Some(s),
            _ => None,
        }
    }
}

/// A socket chardev: `socket,path=P` / `host=H,port=N` / `fd=N`, with
/// `server` and `wait`.
///
/// A monitor accepts only `server=on,wait=off` sockets (see
/// [`OptionError::ClientMonitor`](super::OptionError::ClientMonitor) and
/// [`WaitingMonitor`](super::OptionError::WaitingMonitor)); serial ports
/// and devices may have any, and the VMM decides what it serves.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{Parser, Socket, SocketAddress};
///
/// let mut parser = Parser::new();
/// parser.option("-chardev", "socket,id=s,host=localhost,port=4555")?;
/// let opts = parser.finish()?;
/// let socket = opts.chardev("s").unwrap().backend.socket().unwrap();
/// assert_eq!(socket, &Socket {
///     address: SocketAddress::Inet { host: "localhost".into(), port: 4555 },
///     server: false,
///     wait: false,
/// });
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// Where.
    pub address: SocketAddress,
    /// `server=on`: listen (default: connect, as a client).
    pub server: bool,
    /// A listening socket waits for its first client before the VMM
    /// starts: `server=on` without `wait=off`. Always false for clients.
    pub wait: bool,
}

impl Socket {
    /// Where a listening socket listens, as [`MonitorBuilder::listen`]
    /// takes it: a unix path, or a TCP address whose host is an IP
    /// address (an empty host is `0.0.0.0`, as in `tcp::4444`; brackets
    /// around an IPv6 address are allowed). `None` for host names, which
    /// need a look-up (`ToSocketAddrs`), and for `fd=N`, a socket the
    /// parent already made.
    ///
    /// [`MonitorBuilder::listen`]: crate::MonitorBuilder::listen
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    /// use monitor_core::ListenAddr;
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-qmp", "unix:/run/vm/qmp.sock,server=on,wait=off")?;
    /// let opts = parser.finish()?;
    /// let (_, chardev) = opts.qmp().next().unwrap();
    /// let socket = chardev.backend.socket().unwrap();
    /// assert_eq!(socket.listen_addr(), Some(ListenAddr::Unix("/run/vm/qmp.sock".into())));
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn listen_addr(&self) -> Option<ListenAddr> {
        match &self.address {
            SocketAddress::Unix(path) => Some(ListenAddr::Unix(path.clone())),
            SocketAddress::Inet { host, port } => {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                let ip = if host.is_empty() {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                } else {
                    host.parse().ok()?
                };
                Some(ListenAddr::Tcp(SocketAddr::new(ip, *port)))
            }
            SocketAddress::Fd(_) => None,
        }
    }
}

/// Where a socket chardev is.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{Parser, SocketAddress};
///
/// let mut parser = Parser::new();
/// parser.option("-chardev", "socket,id=charmonitor,fd=25,server=on,wait=off")?;
/// let opts = parser.finish()?;
/// let socket = opts.chardev("charmonitor").unwrap().backend.socket().unwrap();
/// assert_eq!(socket.address, SocketAddress::Fd(25));
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    /// `path=P`, `unix:P`: a unix socket path.
    Unix(PathBuf),
    /// `host=H,port=N`, `tcp:H:N`. `ipv4=`/`ipv6=` are accepted and
    /// ignored.
    Inet {
        /// The host as given: a name, an address, or empty (any address).
        host: String,
        /// The port (0: any free port).
        port: u16,
    },
    /// `fd=N`: a descriptor the parent process (libvirt) passed, already
    /// bound. With `server=on` it is a listening socket, to be served as
    /// an inherited listener; with `server=off`, a connected one. This
    /// parser does not look at it: the VMM checks it is a socket
    /// (QEMU: `File descriptor 'N' is not a socket`) and takes ownership.
    Fd(RawFd),
}

/// A monitor: `-mon chardev=ID[,mode=control|readline][,pretty=on][,id=ID]`,
/// or one of `-qmp`, `-qmp-pretty` and `-monitor`.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{Mon, MonitorMode, Parser};
///
/// let mut parser = Parser::new();
/// parser.args(&["-chardev", "pty,id=p", "-mon", "p"])?;
/// let opts = parser.finish()?;
/// assert_eq!(opts.monitors(), [Mon {
///     id: None,
///     chardev: "p".into(),
///     mode: MonitorMode::Readline,
///     pretty: false,
/// }]);
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mon {
    /// `id=`; for the shorthands, their chardev's id (QEMU's too).
    pub id: Option<String>,
    /// The chardev it is served on.
    pub chardev: String,
    /// QMP or the human monitor.
    pub mode: MonitorMode,
    /// `pretty=on` (QMP only): JSON answers indented over several lines.
    pub pretty: bool,
}

/// A monitor's protocol.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::{MonitorMode, Parser};
///
/// let mut parser = Parser::new();
/// parser.args(&["-chardev", "null,id=n", "-mon", "chardev=n,mode=control"])?;
/// assert_eq!(parser.finish()?.monitors()[0].mode, MonitorMode::Control);
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorMode {
    /// `mode=control`: QMP.
    Control,
    /// `mode=readline` (`-mon`'s default): the human monitor (HMP).
    Readline,
}
