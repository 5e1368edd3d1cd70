//! Every backend, shorthand and error. The error texts marked QEMU are
//! what `qemu-system-x86_64 -machine none -display none -nodefaults ARGS`
//! (QEMU 7.2.22, Debian) printed on stderr for the same ARGS, with the
//! `qemu-system-x86_64: ` prefix taken off (and, where QEMU printed a
//! second line, only the first kept).

use std::path::PathBuf;

use super::*;
use crate::ListenAddr;

fn parse(args: &[&str]) -> Result<MonitorOptions, OptionError> {
    let mut parser = Parser::new();
    let rest = parser.args(args)?;
    assert!(rest.is_empty(), "left: {rest:?}");
    parser.finish()
}

fn ok(args: &[&str]) -> MonitorOptions {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(args: &[&str]) -> String {
    match parse(args) {
        Ok(opts) => panic!("{args:?} accepted: {opts:?}"),
        Err(e) => {
            // Every error names the option it is about.
            assert!(e.to_string().starts_with(e.option()), "{e}");
            e.to_string()
        }
    }
}

fn backend(opts: &MonitorOptions, id: &str) -> Backend {
    opts.chardev(id)
        .unwrap_or_else(|| panic!("no {id}"))
        .backend
        .clone()
}

fn socket(address: SocketAddress, server: bool, wait: bool) -> Backend {
    Backend::Socket(Socket {
        address,
        server,
        wait,
    })
}

fn unix(path: &str) -> SocketAddress {
    SocketAddress::Unix(PathBuf::from(path))
}

// ---- backends ----

#[test]
fn socket_backends() {
    let opts = ok(&[
        "-chardev",
        "socket,id=u,path=/tmp/u.sock,server=on,wait=off",
        "-chardev",
        "socket,id=t,host=127.0.0.1,port=4444,server=on,wait=off,ipv4=on,ipv6=off",
        "-chardev",
        "socket,id=f,fd=3,server=on,wait=off",
        "-chardev",
        "socket,id=c,path=/tmp/c.sock",
        "-chardev",
        "socket,id=w,host=::1,port=0,server=yes",
    ]);
    assert_eq!(
        backend(&opts, "u"),
        socket(unix("/tmp/u.sock"), true, false)
    );
    let t = SocketAddress::Inet {
        host: "127.0.0.1".into(),
        port: 4444,
    };
    assert_eq!(backend(&opts, "t"), socket(t, true, false));
    assert_eq!(
        backend(&opts, "f"),
        socket(SocketAddress::Fd(3), true, false)
    );
    // Client mode: QEMU's default; wait means nothing there.
    assert_eq!(
        backend(&opts, "c"),
        socket(unix("/tmp/c.sock"), false, false)
    );
    // A server waits unless told not to.
    let w = SocketAddress::Inet {
        host: "::1".into(),
        port: 0,
    };
    assert_eq!(backend(&opts, "w"), socket(w, true, true));
    assert!(opts.chardevs().iter().all(|c| !c.implicit));
    assert!(opts.warnings().is_empty());
}

#[test]
fn other_backends() {
    let opts = ok(&[
        "-chardev",
        "pty,id=p",
        "-chardev",
        "stdio,id=s,signal=off",
        "-chardev",
        "file,id=f,path=/tmp/f.log",
        "-chardev",
        "file,id=a,path=/tmp/a.log,append=on",
        "-chardev",
        "null,id=n",
        "-chardev",
        "backend=null,id=b",
    ]);
    assert_eq!(backend(&opts, "p"), Backend::Pty);
    assert_eq!(backend(&opts, "s"), Backend::Stdio { signal: false });
    assert_eq!(
        backend(&opts, "f"),
        Backend::File {
            path: "/tmp/f.log".into(),
            append: false
        }
    );
    assert_eq!(
        backend(&opts, "a"),
        Backend::File {
            path: "/tmp/a.log".into(),
            append: true
        }
    );
    assert_eq!(backend(&opts, "n"), Backend::Null);
    assert_eq!(backend(&opts, "b"), Backend::Null);
    assert_eq!(
        ok(&["-chardev", "stdio,id=s"]).chardevs()[0].backend,
        Backend::Stdio { signal: true }
    );
}

#[test]
fn qemu_boolean_forms() {
    for (on, off) in [("on", "off"), ("yes", "no"), ("true", "false"), ("y", "n")] {
        let value = format!("socket,id=a,path=/tmp/x,server={on},wait={off}");
        let opts = ok(&["-chardev", &value]);
        assert_eq!(backend(&opts, "a"), socket(unix("/tmp/x"), true, false));
    }
}

#[test]
fn commas_in_paths_and_ignored_keys() {
    let opts = ok(&[
        "-chardev",
        "socket,id=a,path=/tmp/a,,b,server=on,wait=off",
        // QEMU knows these keys; null does not use them.
        "-chardev",
        "null,id=n,path=/x,width=80,size=1k",
    ]);
    assert_eq!(backend(&opts, "a"), socket(unix("/tmp/a,b"), true, false));
    assert_eq!(backend(&opts, "n"), Backend::Null);
}

#[test]
fn short_form_flags_warn_as_qemu_does() {
    let opts = ok(&[
        "-chardev",
        "socket,id=a,path=/tmp/qo/x,server,nowait",
        "-mon",
        "a,mode=control,pretty",
    ]);
    assert_eq!(backend(&opts, "a"), socket(unix("/tmp/qo/x"), true, false));
    assert!(opts.monitors()[0].pretty);
    // QEMU
    assert_eq!(
        opts.warnings(),
        [
            "-chardev socket,id=a,path=/tmp/qo/x,server,nowait: warning: short-form boolean option 'server' deprecated\nPlease use server=on instead",
            "-chardev socket,id=a,path=/tmp/qo/x,server,nowait: warning: short-form boolean option 'nowait' deprecated\nPlease use wait=off instead",
            "-mon a,mode=control,pretty: warning: short-form boolean option 'pretty' deprecated\nPlease use pretty=on instead",
        ]
    );
    // QEMU: none after a legacy spec.
    let opts = ok(&["-qmp", "unix:/tmp/qo/q1,server,nowait"]);
    assert!(opts.warnings().is_empty());
    let (_, chardev) = opts.qmp().next().unwrap();
    assert_eq!(chardev.backend, socket(unix("/tmp/qo/q1"), true, false));
}

// ---- monitors ----

#[test]
fn monitor_modes_and_pretty() {
    let opts = ok(&[
        "-chardev",
        "null,id=a",
        "-chardev",
        "null,id=b",
        "-chardev",
        "null,id=c",
        "-chardev",
        "null,id=d",
        "-mon",
        "chardev=a",
        "-mon",
        "chardev=b,mode=readline",
        "-mon",
        "chardev=c,mode=control",
        "-mon",
        "chardev=d,mode=control,pretty=on,id=qmp1",
    ]);
    let mons = opts.monitors();
    assert_eq!(mons.len(), 4);
    assert_eq!(mons[0].mode, MonitorMode::Readline);
    assert_eq!(mons[1].mode, MonitorMode::Readline);
    assert_eq!(
        (mons[2].mode, mons[2].pretty),
        (MonitorMode::Control, false)
    );
    assert_eq!(
        mons[3],
        Mon {
            id: Some("qmp1".into()),
            chardev: "d".into(),
            mode: MonitorMode::Control,
            pretty: true,
        }
    );
    let hmp: Vec<&str> = opts.hmp().map(|(_, c)| c.id.as_str()).collect();
    assert_eq!(hmp, ["a", "b"]);
    let qmp: Vec<&str> = opts.qmp().map(|(_, c)| c.id.as_str()).collect();
    assert_eq!(qmp, ["c", "d"]);
    assert_eq!(opts.unused().count(), 0);
}

#[test]
fn mon_takes_its_chardev_implied_and_from_later_options() {
    // QEMU makes every chardev before any monitor.
    let opts = ok(&["-mon", "pty0", "-chardev", "pty,id=pty0"]);
    assert_eq!(opts.monitors()[0].chardev, "pty0");
    assert_eq!(opts.hmp().count(), 1);
}

// ---- shorthands ----

#[test]
fn qmp_shorthands() {
    let opts = ok(&[
        "-qmp",
        "unix:/tmp/q.sock,server=on,wait=off",
        "-qmp-pretty",
        "tcp:localhost:4444,server=on,wait=off",
        "-qmp",
        "tcp::4445,server=on,wait=off",
        "-qmp",
        "stdio",
        "-qmp",
        "null",
    ]);
    let qmp: Vec<(&Mon, &Chardev)> = opts.qmp().collect();
    assert_eq!(qmp.len(), 5);
    let ids: Vec<&str> = qmp.iter().map(|(_, c)| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "compat_monitor0",
            "compat_monitor1",
            "compat_monitor2",
            "compat_monitor3",
            "compat_monitor4"
        ]
    );
    assert!(qmp
        .iter()
        .all(|(m, c)| c.implicit && m.id.as_deref() == Some(&c.id)));
    let pretty: Vec<bool> = qmp.iter().map(|(m, _)| m.pretty).collect();
    assert_eq!(pretty, [false, true, false, false, false]);
    assert_eq!(qmp[0].1.backend, socket(unix("/tmp/q.sock"), true, false));
    let host = SocketAddress::Inet {
        host: "localhost".into(),
        port: 4444,
    };
    assert_eq!(qmp[1].1.backend, socket(host, true, false));
    let any = qmp[2].1.backend.socket().unwrap();
    assert_eq!(
        any.listen_addr(),
        Some(ListenAddr::Tcp("0.0.0.0:4445".parse().unwrap()))
    );
    assert_eq!(qmp[3].1.backend, Backend::Stdio { signal: true });
    assert_eq!(qmp[4].1.backend, Backend::Null);
}

#[test]
fn monitor_shorthand_and_none() {
    let opts = ok(&[
        "-monitor",
        "none",
        "-monitor",
        "pty",
        "-monitor",
        "unix:/tmp/hmp.sock,server=on,wait=off",
        "-monitor",
        "file:/tmp/hmp.log",
    ]);
    let hmp: Vec<(&Mon, &Chardev)> = opts.hmp().collect();
    // `none` is nothing and takes no number.
    assert_eq!(hmp[0].1.id, "compat_monitor0");
    assert_eq!(hmp[0].1.backend, Backend::Pty);
    assert_eq!(hmp[1].1.backend, socket(unix("/tmp/hmp.sock"), true, false));
    assert_eq!(
        hmp[2].1.backend,
        Backend::File {
            path: "/tmp/hmp.log".into(),
            append: false
        }
    );
    assert!(hmp.iter().all(|(m, _)| !m.pretty));
    assert_eq!(opts.qmp().count(), 0);
}

#[test]
fn shorthand_on_an_existing_chardev() {
    // QEMU numbers chardev:ID monitors too: the next implicit one is 2.
    let opts = ok(&[
        "-chardev",
        "socket,id=x,path=/tmp/x,server=on,wait=off",
        "-qmp",
        "null",
        "-qmp-pretty",
        "chardev:x",
        "-monitor",
        "null",
    ]);
    let ids: Vec<&str> = opts.chardevs().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["x", "compat_monitor0", "compat_monitor2"]);
    let (mon, chardev) = opts.qmp().nth(1).unwrap();
    assert_eq!((mon.id.as_deref(), mon.pretty), (Some("x"), true));
    assert!(!chardev.implicit);
    assert_eq!(opts.hmp().next().unwrap().1.id, "compat_monitor2");
}

#[test]
fn implicit_ids_as_qemu_gives_them() {
    // What QEMU's query-chardev listed for these options.
    let opts = ok(&[
        "-qmp",
        "unix:/tmp/qo/m.sock,server=on,wait=off",
        "-serial",
        "null",
        "-serial",
        "none",
        "-serial",
        "pty",
        "-monitor",
        "null",
        "-chardev",
        "null,id=x",
        "-qmp",
        "chardev:x",
        "-qmp-pretty",
        "null",
    ]);
    let mut ids: Vec<&str> = opts.chardevs().iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "compat_monitor0",
            "compat_monitor1",
            "compat_monitor3",
            "serial0",
            "serial2",
            "x"
        ]
    );
}

#[test]
fn serial_ports() {
    let opts = ok(&[
        "-chardev",
        "pty,id=p",
        "-serial",
        "stdio",
        "-serial",
        "none",
        "-serial",
        "chardev:p",
        "-serial",
        "file:/tmp/s,,log",
        "-serial",
        "tcp:127.0.0.1:5555,server=on,wait=off",
        "-serial",
        "unix:/tmp/s.sock",
        "-serial",
        "null",
        "-serial",
        "pty",
    ]);
    let ports: Vec<Option<&Chardev>> = opts.serials().collect();
    assert_eq!(ports.len(), 8);
    assert_eq!(ports[0].unwrap().id, "serial0");
    assert_eq!(ports[0].unwrap().backend, Backend::Stdio { signal: true });
    assert!(ports[1].is_none());
    assert_eq!(ports[2].unwrap().id, "p");
    assert!(!ports[2].unwrap().implicit);
    // file: takes the rest verbatim, commas too.
    assert_eq!(
        ports[3].unwrap().backend,
        Backend::File {
            path: "/tmp/s,,log".into(),
            append: false
        }
    );
    let tcp = SocketAddress::Inet {
        host: "127.0.0.1".into(),
        port: 5555,
    };
    assert_eq!(ports[4].unwrap().backend, socket(tcp, true, false));
    // A serial port may be a client: the VMM decides.
    assert_eq!(
        ports[5].unwrap().backend,
        socket(unix("/tmp/s.sock"), false, false)
    );
    assert_eq!(ports[6].unwrap().backend, Backend::Null);
    assert_eq!(ports[7].unwrap().id, "serial7");
    assert_eq!(ports[7].unwrap().backend, Backend::Pty);
    assert!(ports.iter().flatten().all(|c| c.implicit == (c.id != "p")));
    assert_eq!(opts.unused().count(), 0);
}

#[test]
fn lookup_and_leftovers() {
    let opts = ok(&[
        "-chardev",
        "pty,id=charserial0",
        "-chardev",
        "socket,id=charchannel0,path=/tmp/ch,server=on,wait=off",
        "-chardev",
        "null,id=used",
        "-monitor",
        "chardev:used",
        "-serial",
        "null",
    ]);
    let unused: Vec<&str> = opts.unused().map(|c| c.id.as_str()).collect();
    assert_eq!(unused, ["charserial0", "charchannel0"]);
    assert!(opts.in_use("used"));
    assert!(opts.in_use("serial0"));
    assert!(!opts.in_use("charserial0"));
    assert_eq!(opts.chardev("charserial0").unwrap().backend, Backend::Pty);
    assert!(opts.chardev("serial0").unwrap().implicit);
    assert!(opts.chardev("nope").is_none());
    assert!(!opts.in_use("nope"));
}

#[test]
fn other_options_are_left_alone() {
    let mut parser = Parser::new();
    assert!(!parser.option("-m", "512").unwrap());
    assert!(!parser.option("-chardev-x", "y").unwrap());
    assert!(parser.option("--chardev", "null,id=a").unwrap());
    let rest = parser
        .args(&[
            "-S", "-serial", "null", "disk.img", "--qmp", "null", "-machine", "q35",
        ])
        .unwrap();
    assert_eq!(rest, ["-S", "disk.img", "-machine", "q35"]);
    let opts = parser.finish().unwrap();
    assert_eq!(opts.chardevs().len(), 3);
}

#[test]
fn listen_addresses() {
    let listen = |value: &str| {
        let opts = ok(&["-chardev", value]);
        opts.chardevs()[0].backend.socket().unwrap().listen_addr()
    };
    assert_eq!(
        listen("socket,id=a,host=[::1],port=1,server=on,wait=off"),
        Some(ListenAddr::Tcp("[::1]:1".parse().unwrap()))
    );
    assert_eq!(
        listen("socket,id=a,host=::,port=2"),
        Some(ListenAddr::Tcp("[::]:2".parse().unwrap()))
    );
    assert_eq!(listen("socket,id=a,host=localhost,port=2"), None);
    assert_eq!(listen("socket,id=a,fd=3,server=on,wait=off"), None);
    assert_eq!(
        listen("socket,id=a,path=/tmp/p"),
        Some(ListenAddr::Unix("/tmp/p".into()))
    );
}

// ---- libvirt ----

#[test]
fn libvirt_monitor_and_serial() {
    let opts = ok(&[
        "-chardev",
        "socket,id=charmonitor,fd=25,server=on,wait=off",
        "-mon",
        "chardev=charmonitor,id=monitor,mode=control",
        "-chardev",
        "pty,id=charserial0",
    ]);
    let qmp: Vec<(&Mon, &Chardev)> = opts.qmp().collect();
    assert_eq!(qmp.len(), 1);
    let (mon, chardev) = qmp[0];
    assert_eq!(
        mon,
        &Mon {
            id: Some("monitor".into()),
            chardev: "charmonitor".into(),
            mode: MonitorMode::Control,
            pretty: false,
        }
    );
    assert_eq!(chardev.backend, socket(SocketAddress::Fd(25), true, false));
    assert!(!chardev.implicit);
    assert_eq!(opts.hmp().count(), 0);
    assert_eq!(opts.serials().count(), 0);
    let unused: Vec<&Chardev> = opts.unused().collect();
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0].id, "charserial0");
    assert_eq!(unused[0].backend, Backend::Pty);
}

#[test]
fn libvirt_capability_probe() {
    let opts = ok(&[
        "-qmp",
        "unix:/var/lib/libvirt/qemu/qmp-XXXXXX/qmp.monitor,server=on,wait=off",
    ]);
    let (mon, chardev) = opts.qmp().next().unwrap();
    assert_eq!(mon.id.as_deref(), Some("compat_monitor0"));
    assert!(!mon.pretty);
    assert_eq!(chardev.id, "compat_monitor0");
    assert!(chardev.implicit);
    let socket = chardev.backend.socket().unwrap();
    assert_eq!(
        socket.listen_addr(),
        Some(ListenAddr::Unix(
            "/var/lib/libvirt/qemu/qmp-XXXXXX/qmp.monitor".into()
        ))
    );
    assert!(socket.server && !socket.wait);
}

// QEMU's errors, and this crate's.
mod errors;
