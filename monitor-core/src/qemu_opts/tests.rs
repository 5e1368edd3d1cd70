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

// ---- QEMU's errors ----

#[test]
fn qemu_chardev_errors() {
    // QEMU
    let cases: &[(&[&str], &str)] = &[
        (
            &["-chardev", "socket,path=/tmp/x"],
            "-chardev socket,path=/tmp/x: chardev: no id specified",
        ),
        (&["-chardev", ""], "-chardev : chardev: no id specified"),
        (
            &["-chardev", "bogus,id=a"],
            "-chardev bogus,id=a: 'bogus' is not a valid char driver name",
        ),
        (
            &["--chardev", "bogus,id=a"],
            "--chardev bogus,id=a: 'bogus' is not a valid char driver name",
        ),
        (
            &["-chardev", "null,,id=a"],
            "-chardev null,,id=a: 'null,id=a' is not a valid char driver name",
        ),
        (&["-chardev", "id=a"], "-chardev id=a: chardev: \"a\" missing backend"),
        (
            &["-chardev", "socket,id=a"],
            "-chardev socket,id=a: Unable to parse FD number ",
        ),
        (
            &["-chardev", "socket,id=a,port=4444"],
            "-chardev socket,id=a,port=4444: Unable to parse FD number ",
        ),
        (
            &["-chardev", "null,id=a,backend=socket"],
            "-chardev null,id=a,backend=socket: Unable to parse FD number ",
        ),
        (
            &["-chardev", "socket,id=a,fd="],
            "-chardev socket,id=a,fd=: Unable to parse FD number ",
        ),
        (
            &["-chardev", "socket,id=a,fd=abc"],
            "-chardev socket,id=a,fd=abc: Unable to parse FD number abc",
        ),
        (
            &["-chardev", "socket,id=a,fd= 3x"],
            "-chardev socket,id=a,fd= 3x: Unable to parse FD number  3x",
        ),
        (
            &["-chardev", "socket,id=a,fd=99999999999"],
            "-chardev socket,id=a,fd=99999999999: Unable to parse FD number 99999999999: Numerical result out of range",
        ),
        (
            &["-chardev", "socket,id=a,fd=99999999999x"],
            "-chardev socket,id=a,fd=99999999999x: Unable to parse FD number 99999999999x: Numerical result out of range",
        ),
        (
            &["-chardev", "socket,id=a,fd=-1"],
            "-chardev socket,id=a,fd=-1: File descriptor '-1' is not a socket",
        ),
        (
            &["-chardev", "socket,id=a,host=localhost"],
            "-chardev socket,id=a,host=localhost: chardev: socket: no port given",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/qo/x,host=localhost,port=4444"],
            "-chardev socket,id=a,path=/tmp/qo/x,host=localhost,port=4444: None or one of 'path', 'fd' or 'host' option required.",
        ),
        (
            &["-chardev", "socket,id=a,fd=25,path=/tmp/qo/x"],
            "-chardev socket,id=a,fd=25,path=/tmp/qo/x: None or one of 'path', 'fd' or 'host' option required.",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/qo/y,server=off,wait=off"],
            "-chardev socket,id=a,path=/tmp/qo/y,server=off,wait=off: 'wait' option is incompatible with socket in client connect mode",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/qo/y,server=off,wait=on"],
            "-chardev socket,id=a,path=/tmp/qo/y,server=off,wait=on: 'wait' option is incompatible with socket in client connect mode",
        ),
        (
            &["-chardev", "socket,id=a,wait=off"],
            "-chardev socket,id=a,wait=off: 'wait' option is incompatible with socket in client connect mode",
        ),
        (
            &["-chardev", "socket,id=a,host=localhost,port=4444,wait=off"],
            "-chardev socket,id=a,host=localhost,port=4444,wait=off: 'wait' option is incompatible with socket in client connect mode",
        ),
        (
            &["-chardev", "file,id=a"],
            "-chardev file,id=a: chardev: file: no filename given",
        ),
        (
            &["-chardev", "backend=null,id=a,backend=file"],
            "-chardev backend=null,id=a,backend=file: chardev: file: no filename given",
        ),
        (
            &["-chardev", "stdio,id=a", "-chardev", "stdio,id=b"],
            "-chardev stdio,id=b: cannot use stdio by multiple character devices",
        ),
        (
            &["-chardev", "null,id=a", "-chardev", "null,id=a"],
            "-chardev null,id=a: Duplicate ID 'a' for chardev",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/x,bogus=1"],
            "-chardev socket,id=a,path=/tmp/x,bogus=1: Invalid parameter 'bogus'",
        ),
        (
            &["-chardev", "null,id=a,bogus"],
            "-chardev null,id=a,bogus: Invalid parameter 'bogus'",
        ),
        (
            &["-chardev", "null,id=a,nobogus"],
            "-chardev null,id=a,nobogus: Invalid parameter 'bogus'",
        ),
        (
            &["-chardev", "null,id=a,input-path=zz"],
            "-chardev null,id=a,input-path=zz: Invalid parameter 'input-path'",
        ),
        (&["-chardev", "null,id=a,=x"], "-chardev null,id=a,=x: Invalid parameter ''"),
        (
            &["-chardev", "socket,id=a,path=/tmp/x,server=maybe"],
            "-chardev socket,id=a,path=/tmp/x,server=maybe: Parameter 'server' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a,server=ON"],
            "-chardev null,id=a,server=ON: Parameter 'server' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a,server="],
            "-chardev null,id=a,server=: Parameter 'server' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a,append=zz"],
            "-chardev null,id=a,append=zz: Parameter 'append' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a,signal=zz"],
            "-chardev null,id=a,signal=zz: Parameter 'signal' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a,reconnect=zz"],
            "-chardev null,id=a,reconnect=zz: Parameter 'reconnect' expects a number",
        ),
        (
            &["-chardev", "null,id=a,to=99999999999999999999999"],
            "-chardev null,id=a,to=99999999999999999999999: Value '99999999999999999999999' is too large for parameter 'to'",
        ),
        (
            &["-chardev", "null,id=a,size=-1"],
            "-chardev null,id=a,size=-1: Parameter 'size' expects a non-negative number below 2^64",
        ),
        (
            &["-chardev", "null,id=1a"],
            "-chardev null,id=1a: Parameter 'id' expects an identifier",
        ),
        (&["-chardev", "null,id="], "-chardev null,id=: Parameter 'id' expects an identifier"),
        (
            &["-chardev", "null,id=a,,b"],
            "-chardev null,id=a,,b: Parameter 'id' expects an identifier",
        ),
        (&["-chardev"], "-chardev: requires an argument"),
    ];
    for (args, text) in cases {
        assert_eq!(err(args), *text, "{args:?}");
    }
}

#[test]
fn qemu_mon_errors() {
    // QEMU
    let cases: &[(&[&str], &str)] = &[
        (&["-mon", "chardev=nope"], "-mon chardev=nope: chardev \"nope\" not found"),
        (&["-mon", "chardev="], "-mon chardev=: chardev \"\" not found"),
        (
            &["-chardev", "null,id=a,id=b", "-mon", "chardev=b"],
            "-mon chardev=b: chardev \"b\" not found",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,chardev=b"],
            "-mon chardev=a,chardev=b: chardev \"b\" not found",
        ),
        (&["-mon", "mode=control"], "-mon mode=control: Parameter 'chardev' is missing"),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,mode=x"],
            "-mon chardev=a,mode=x: Parameter 'mode' does not accept value 'x'",
        ),
        (&["-mon", "mode=x"], "-mon mode=x: Parameter 'mode' does not accept value 'x'"),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,pretty=x"],
            "-mon chardev=a,pretty=x: Parameter 'pretty' expects 'on' or 'off'",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,bogus=1"],
            "-mon chardev=a,bogus=1: Invalid parameter 'bogus'",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,default=on"],
            "-mon chardev=a,default=on: Invalid parameter 'default'",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,id=m", "-mon", "chardev=a,id=m"],
            "-mon chardev=a,id=m: Duplicate ID 'm' for mon",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,id=1x"],
            "-mon chardev=a,id=1x: Parameter 'id' expects an identifier",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "a,mode=readline,pretty=on"],
            "-mon a,mode=readline,pretty=on: 'pretty' is not compatible with HMP monitors",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,mode=control,pretty=on,mode=readline"],
            "-mon chardev=a,mode=control,pretty=on,mode=readline: 'pretty' is not compatible with HMP monitors",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,mode=control,pretty=on", "-mon", "chardev=a"],
            "-mon chardev=a: Device 'a' is in use",
        ),
        (
            &["-chardev", "null,id=a", "-mon", "chardev=a,mode=control", "-mon", "chardev=a,mode=readline"],
            "-mon chardev=a,mode=readline: Device 'a' is in use",
        ),
        (&["-mon"], "-mon: requires an argument"),
    ];
    for (args, text) in cases {
        assert_eq!(err(args), *text, "{args:?}");
    }
}

#[test]
fn qemu_shorthand_errors() {
    // QEMU (where QEMU printed `parse error: SPEC` or `could not connect
    // serial device ...` after the reason, the reason is kept).
    let cases: &[(&[&str], &str)] = &[
        (&["-qmp", "bogus:x"], "-qmp bogus:x: 'bogus:x' is not a valid char driver"),
        (&["-qmp", "none"], "-qmp none: 'none' is not a valid char driver"),
        (&["-qmp", "tcp:4444"], "-qmp tcp:4444: parse error: tcp:4444"),
        (
            &["-qmp", "tcp:localhost:,server=on,wait=off"],
            "-qmp tcp:localhost:,server=on,wait=off: parse error: tcp:localhost:,server=on,wait=off",
        ),
        (
            &["-qmp", "unix:/tmp/qo/q1,server=on,wait=off,bogus=1"],
            "-qmp unix:/tmp/qo/q1,server=on,wait=off,bogus=1: Invalid parameter 'bogus'",
        ),
        (&["-qmp", "unix:"], "-qmp unix:: Unable to parse FD number "),
        (
            &["-qmp", "unix:/tmp/qo/y,wait=off"],
            "-qmp unix:/tmp/qo/y,wait=off: 'wait' option is incompatible with socket in client connect mode",
        ),
        (&["-qmp", "chardev:nope"], "-qmp chardev:nope: chardev \"nope\" not found"),
        (&["-qmp", "chardev:"], "-qmp chardev:: Parameter 'id' expects an identifier"),
        (&["-qmp", "chardev:1x"], "-qmp chardev:1x: Parameter 'id' expects an identifier"),
        (
            &["-chardev", "null,id=compat_monitor0", "-qmp", "null"],
            "-qmp null: Duplicate ID 'compat_monitor0' for chardev",
        ),
        (
            &["-qmp", "null", "-chardev", "null,id=compat_monitor0"],
            "-chardev null,id=compat_monitor0: Duplicate ID 'compat_monitor0' for chardev",
        ),
        (
            &["-chardev", "null,id=a", "-qmp", "chardev:a", "-qmp", "chardev:a"],
            "-qmp chardev:a: Duplicate ID 'a' for mon",
        ),
        (
            &["-chardev", "null,id=a", "-qmp", "chardev:a", "-mon", "chardev=a,id=a"],
            "-mon chardev=a,id=a: Duplicate ID 'a' for mon",
        ),
        (
            &["-qmp", "stdio", "-chardev", "stdio,id=z"],
            "-chardev stdio,id=z: cannot use stdio by multiple character devices",
        ),
        (&["-serial", "bogus"], "-serial bogus: 'bogus' is not a valid char driver"),
        (&["-serial", "none", "-serial", "bogus"], "-serial bogus: 'bogus' is not a valid char driver"),
        (
            &["-serial", "chardev:nope"],
            "-serial chardev:nope: could not connect serial device to character backend 'chardev:nope'",
        ),
        (
            &["-serial", "chardev:"],
            "-serial chardev:: could not connect serial device to character backend 'chardev:'",
        ),
        (
            &["-serial", "tcp:4444"],
            "-serial tcp:4444: could not connect serial device to character backend 'tcp:4444'",
        ),
        (
            &["-serial", "tcp:localhost:4444,bogus=1"],
            "-serial tcp:localhost:4444,bogus=1: Invalid parameter 'bogus'",
        ),
        (&["-serial", "unix:"], "-serial unix:: Unable to parse FD number "),
        (
            &["-chardev", "null,id=serial0", "-serial", "null"],
            "-serial null: Duplicate ID 'serial0' for chardev",
        ),
        (
            &["-serial", "stdio", "-monitor", "stdio"],
            "-serial stdio: cannot use stdio by multiple character devices",
        ),
        // QEMU aborts with this text, without the option, when the
        // machine takes the port's chardev.
        (
            &["-chardev", "null,id=a", "-serial", "chardev:a", "-mon", "a"],
            "-serial chardev:a: Device 'a' is in use",
        ),
        (
            &["-chardev", "null,id=a", "-serial", "chardev:a", "-serial", "chardev:a"],
            "-serial chardev:a: Device 'a' is in use",
        ),
        (&["-serial"], "-serial: requires an argument"),
        (&["-qmp"], "-qmp: requires an argument"),
    ];
    for (args, text) in cases {
        assert_eq!(err(args), *text, "{args:?}");
    }
    // QEMU makes serial ports' chardevs after the monitors.
    assert_eq!(
        err(&["-serial", "null", "-mon", "serial0"]),
        "-mon serial0: chardev \"serial0\" not found"
    );
}

#[test]
fn qemu_checks_in_qemu_order() {
    // Syntax, when the option is given, before any chardev is made.
    assert_eq!(
        err(&["-chardev", "bogus,id=a", "-chardev", "null,id=b,bogus=1"]),
        "-chardev null,id=b,bogus=1: Invalid parameter 'bogus'"
    );
    // The id before the other keys.
    assert_eq!(
        err(&["-chardev", "null,id=1a,bogus=1"]),
        "-chardev null,id=1a,bogus=1: Parameter 'id' expects an identifier"
    );
    // Chardevs before monitors; monitors before serial ports.
    assert_eq!(
        err(&["-mon", "nope", "-chardev", "bogus,id=a"]),
        "-chardev bogus,id=a: 'bogus' is not a valid char driver name"
    );
    assert_eq!(
        err(&["-serial", "bogus", "-mon", "nope"]),
        "-mon nope: chardev \"nope\" not found"
    );
    // mode before chardev, as QEMU's MonitorOptions visits them.
    assert_eq!(
        err(&["-mon", "mode=x"]),
        "-mon mode=x: Parameter 'mode' does not accept value 'x'"
    );
}

// ---- this crate's errors ----

#[test]
fn monitors_must_listen_without_waiting() {
    // Ours.
    let cases: &[(&[&str], &str)] = &[
        (
            &["-qmp", "unix:/tmp/q"],
            "-qmp unix:/tmp/q: the monitor on chardev 'compat_monitor0' would connect to a server (server=off); monitors listen here: add server=on",
        ),
        (
            &["-chardev", "socket,id=c,fd=3", "-mon", "c,mode=control"],
            "-mon c,mode=control: the monitor on chardev 'c' would connect to a server (server=off); monitors listen here: add server=on",
        ),
        (
            &["-qmp", "unix:/tmp/q,server=on"],
            "-qmp unix:/tmp/q,server=on: the monitor on chardev 'compat_monitor0' would wait for a client before start-up (wait=on); add wait=off",
        ),
        (
            &["-monitor", "tcp:127.0.0.1:4444,server"],
            "-monitor tcp:127.0.0.1:4444,server: the monitor on chardev 'compat_monitor0' would wait for a client before start-up (wait=on); add wait=off",
        ),
        (
            &["-chardev", "socket,id=c,fd=3,server=on,wait=on", "-mon", "c"],
            "-mon c: the monitor on chardev 'c' would wait for a client before start-up (wait=on); add wait=off",
        ),
    ];
    for (args, text) in cases {
        assert_eq!(err(args), *text, "{args:?}");
    }
    let e = parse(&["-qmp", "unix:/tmp/q"]).unwrap_err();
    assert!(matches!(e, OptionError::ClientMonitor { ref id, .. } if id == "compat_monitor0"));
}

#[test]
fn unsupported_features_are_refused() {
    // Ours.
    let cases: &[(&[&str], &str)] = &[
        (&["-chardev", "vc,id=a"], "-chardev vc,id=a: chardev backend 'vc' is not supported"),
        (
            &["-chardev", "ringbuf,id=a"],
            "-chardev ringbuf,id=a: chardev backend 'ringbuf' is not supported",
        ),
        (&["-serial", "mon:stdio"], "-serial mon:stdio: 'mon:stdio' is not supported"),
        (&["-qmp", "telnet::4444"], "-qmp telnet::4444: 'telnet::4444' is not supported"),
        (&["-serial", "vc:80Cx24C"], "-serial vc:80Cx24C: 'vc:80Cx24C' is not supported"),
        (&["-serial", "/dev/ttyS0"], "-serial /dev/ttyS0: '/dev/ttyS0' is not supported"),
        (&["-serial", "pipe:/tmp/p"], "-serial pipe:/tmp/p: 'pipe:/tmp/p' is not supported"),
        (&["-monitor", "msmouse"], "-monitor msmouse: 'msmouse' is not supported"),
        (
            &["-chardev", "null,id=a,mux=on"],
            "-chardev null,id=a,mux=on: chardev option 'mux' is not supported",
        ),
        (
            &["-chardev", "pty,id=a,logfile=/tmp/l"],
            "-chardev pty,id=a,logfile=/tmp/l: chardev option 'logfile' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/x,server=on,wait=off,telnet=on"],
            "-chardev socket,id=a,path=/tmp/x,server=on,wait=off,telnet=on: chardev option 'telnet' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,host=::,port=1,websocket=on"],
            "-chardev socket,id=a,host=::,port=1,websocket=on: chardev option 'websocket' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,path=/tmp/x,reconnect=1"],
            "-chardev socket,id=a,path=/tmp/x,reconnect=1: chardev option 'reconnect' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,host=h,port=1,to=9"],
            "-chardev socket,id=a,host=h,port=1,to=9: chardev option 'to' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,path=x,abstract=on"],
            "-chardev socket,id=a,path=x,abstract=on: chardev option 'abstract' is not supported",
        ),
        (
            &["-chardev", "socket,id=a,host=h,port=ssh"],
            "-chardev socket,id=a,host=h,port=ssh: Parameter 'port' expects a number from 0 to 65535, not 'ssh'",
        ),
        (
            &["-chardev", "socket,id=a,host=h,port=65536"],
            "-chardev socket,id=a,host=h,port=65536: Parameter 'port' expects a number from 0 to 65535, not '65536'",
        ),
        (
            &["-chardev", "socket,id=a,host=localhost,port="],
            "-chardev socket,id=a,host=localhost,port=: Parameter 'port' expects a number from 0 to 65535, not ''",
        ),
    ];
    for (args, text) in cases {
        assert_eq!(err(args), *text, "{args:?}");
    }
    // Off is no feature: accepted.
    ok(&[
        "-chardev",
        "socket,id=a,path=/tmp/x,telnet=off,mux=off,websocket=no,nodelay=on",
    ]);
}

#[test]
fn error_option_and_variants() {
    let e = parse(&["-chardev", "null,id=a", "-chardev", "null,id=a"]).unwrap_err();
    assert_eq!(e.option(), "-chardev null,id=a");
    assert_eq!(
        e,
        OptionError::DuplicateId {
            option: "-chardev null,id=a".into(),
            id: "a".into(),
            group: "chardev",
        }
    );
}
