//! The errors: QEMU's texts for what QEMU refuses, and this crate's for
//! what it does not support.

use super::*;

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
