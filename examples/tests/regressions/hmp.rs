//! The human monitor under hostile input.
//!
//! Defect 1: each TAB redrew a 4,000-character line and the completion
//! list, a whole 64 KiB read was handled before any pause check, and a
//! console's output had no limit: 60,000 TABs from a client that never
//! reads made about 1 GiB of output in one go, stalling every client.
//! Now keys are handled one at a time while the console's unsent output
//! is under the pause threshold; the rest waits in the input buffer.
//!
//! Defect 11: invalid UTF-8 was dropped from the line, so `q\xb4` ran
//! `q` and ended the VMM. Now the bytes are kept and the line is an
//! unknown command, as in QEMU.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::harness::{
    connect_retrying, negotiated, peak_rss_mib, read_answer, read_json, report_longest_turn,
    temp_socket, Probe, TIMEOUT,
};
use super::util::Minimal;

/// Clients attacking at once.
const ATTACKERS: usize = 4;
/// TABs per attacker.
const TABS: usize = 60_000;
/// `minimal`'s pause threshold (the default, 1 MiB).
const PAUSE_THRESHOLD_MIB: u64 = 1;
/// What one console may hold, in MiB, as `docs/LIMITS.md` states it: the
/// pause threshold plus one key's output (under 64 KiB here), plus one
/// read of unhandled input (64 KiB); twice that, for a growing buffer's
/// spare capacity.
const PER_CONSOLE_MIB: u64 = 2 * (PAUSE_THRESHOLD_MIB + 1);
/// Allocator and thread slack over the baseline, whatever the attack.
const SLACK_MIB: u64 = 16;

/// Starts `minimal` with a human monitor on a socket of its own.
fn minimal_with_hmp() -> (Minimal, std::path::PathBuf) {
    let hmp = temp_socket("hmp");
    let spec = format!("unix:{},server=on,wait=off", hmp.display());
    let minimal = Minimal::spawn_with(&["-monitor", &spec, "-x-stats"], "warn");
    (minimal, hmp)
}

/// Connects to a console and reads its banner and first prompt.
fn console(path: &Path) -> UnixStream {
    let mut stream = connect_retrying(path);
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut seen = Vec::new();
    read_until(&mut stream, &mut seen, |s| s.ends_with(b"(qemu) "));
    stream
}

/// Reads into `seen` until `done(seen)`; fails on EOF or after a silence
/// of [`TIMEOUT`].
fn read_until(stream: &mut UnixStream, seen: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let mut buf = [0u8; 4096];
    while !done(seen) {
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "the console closed; it had sent {:?}",
                String::from_utf8_lossy(&seen[seen.len().saturating_sub(200)..])
            ),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no more output from the console: {e}"),
        }
    }
}

/// The attack: a 4,005-character line, the cursor after `info `, then
/// TABs that each list the `info` items and redraw the line; then Ctrl-C
/// (`^C` and a new prompt) to mark the end.
fn attack() -> Vec<u8> {
    let mut bytes = b"info ".to_vec();
    bytes.extend([b'x'; 4000]);
    bytes.push(0x01);
    bytes.extend([0x06; 5]);
    bytes.extend(vec![b'\t'; TABS]);
    bytes.push(0x03);
    bytes
}

/// Reads a console's whole answer to [`attack`]: one prompt per TAB, one
/// after Ctrl-C. Prompts are the only `)` it prints. Returns the bytes
/// read.
fn read_everything(mut stream: UnixStream) -> u64 {
    let want = TABS + 1;
    let mut prompts = 0;
    let mut total = 0u64;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    while prompts < want {
        let n = match stream.read(&mut buf) {
            Ok(0) => panic!("disconnected after {total} bytes, {prompts} prompts"),
            Ok(n) => n,
            Err(e) => panic!("no output after {total} bytes, {prompts} prompts: {e}"),
        };
        prompts += buf[..n].iter().filter(|&&b| b == b')').count();
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    assert_eq!(prompts, want, "one prompt per TAB and one after Ctrl-C");
    assert!(
        tail.ends_with(b"^C\r\n(qemu) "),
        "the output ends with Ctrl-C's prompt: {:?}",
        String::from_utf8_lossy(&tail)
    );
    total
}

#[test]
fn defect_01_tab_floods_pause_the_console_instead_of_growing_memory() {
    let (mut minimal, hmp) = minimal_with_hmp();
    let pid = minimal.pid();
    let probe = Probe::start(&minimal.socket);
    let baseline = peak_rss_mib(pid);

    let attackers: Vec<UnixStream> = (0..ATTACKERS).map(|_| console(&hmp)).collect();
    let payload = attack();
    for mut a in attackers.iter() {
        a.write_all(&payload).expect("send the attack");
    }
    // Every loop turn services every client with work: once a fresh QMP
    // client has had 50 answers, each console has had 50 chances to run
    // as far as its pause threshold lets it.
    let (mut writer, mut reader) = negotiated(&minimal.socket);
    for id in 0..50 {
        let request = json!({"execute": "query-version", "id": id});
        writer
            .write_all(request.to_string().as_bytes())
            .expect("ask");
        let answer = read_answer(&mut reader);
        assert_eq!(answer["id"], json!(id), "{answer}");
    }
    let peak = peak_rss_mib(pid);
    let bound = baseline + ATTACKERS as u64 * PER_CONSOLE_MIB + SLACK_MIB;
    eprintln!("defect 1: peak RSS {peak} MiB (baseline {baseline} MiB, bound {bound} MiB)");
    assert!(
        peak <= bound,
        "peak RSS {peak} MiB over the bound {bound} MiB (baseline {baseline} MiB)"
    );

    // Nothing was lost: each attacker, reading now, gets everything.
    let readers: Vec<_> = attackers
        .into_iter()
        .map(|a| std::thread::spawn(move || read_everything(a)))
        .collect();
    let totals: Vec<u64> = readers
        .into_iter()
        .map(|r| r.join().expect("an attacker's reader panicked"))
        .collect();
    // The same keys give the same output, whole: a line of 4,000
    // characters redrawn per TAB.
    assert!(totals[0] > (TABS * 4000) as u64, "{totals:?}");
    assert!(totals.iter().all(|&t| t == totals[0]), "{totals:?}");
    probe.finish_ok("defect 1: TAB flood from 4 consoles");
    assert!(minimal.is_running(), "minimal died");
    let log = minimal.log();
    assert!(
        !log.contains("output limit"),
        "a client was disconnected:\n{log}"
    );
    report_longest_turn(&mut minimal, "defect 1: TAB flood from 4 consoles");
}

#[test]
fn defect_11_invalid_utf8_in_a_command_name_is_an_unknown_command() {
    let (mut minimal, hmp) = minimal_with_hmp();
    let mut stream = console(&hmp);
    stream.write_all(b"q\xb4\r\n").expect("send");
    let mut seen = Vec::new();
    // QEMU 7.2 answers `unknown command: 'q\xb4'` (the byte as it came),
    // then a prompt; LF after CR adds nothing.
    let answer: &[u8] = b"\r\nunknown command: 'q\xb4'\r\n(qemu) ";
    read_until(&mut stream, &mut seen, |s| {
        s.windows(answer.len()).any(|w| w == answer)
    });
    // The monitor still answers, on this console and over QMP.
    stream.write_all(b"info status\r").expect("send");
    read_until(&mut stream, &mut seen, |s| {
        s.ends_with(b"VM status: running\r\n(qemu) ")
    });
    let (mut writer, mut reader) = negotiated(&minimal.socket);
    writer
        .write_all(br#"{"execute":"query-status"}"#)
        .expect("ask");
    let status = read_json(&mut reader).expect("an answer");
    assert_eq!(status["return"]["status"], "running", "{status}");
    assert!(
        minimal.wait_exit(Duration::ZERO).is_none(),
        "minimal exited"
    );
}
