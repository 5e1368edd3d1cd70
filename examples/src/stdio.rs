//! `-monitor stdio`: the terminal as one more console of the monitor.
//!
//! The monitor serves sockets only, so the terminal is bridged to one end of
//! a socket pair whose other end the monitor serves as a console. The
//! terminal stays in its normal (line) mode.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use monitor_core::console::ConsoleFactory;
use monitor_core::Monitor;

/// Serves stdin/stdout as a console of `monitor`; returns when both
/// directions are set up. Errors are reported on stderr.
pub fn attach(monitor: &Monitor, factory: Arc<dyn ConsoleFactory>) -> std::io::Result<()> {
    let (ours, theirs) = UnixStream::pair()?;
    monitor.attach_console(theirs, factory);
    let mut to_monitor = ours.try_clone()?;
    let mut from_monitor = ours;
    std::thread::Builder::new()
        .name("stdin-bridge".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // A terminal in line mode sends "\n"; the console wants "\r".
                        let line: Vec<u8> = buf[..n]
                            .iter()
                            .map(|&b| if b == b'\n' { b'\r' } else { b })
                            .collect();
                        if to_monitor.write_all(&line).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to_monitor.shutdown(std::net::Shutdown::Write);
        })?;
    std::thread::Builder::new()
        .name("stdout-bridge".into())
        .spawn(move || {
            let mut stdout = std::io::stdout();
            let mut buf = [0u8; 4096];
            while let Ok(n) = from_monitor.read(&mut buf) {
                if n == 0
                    || stdout
                        .write_all(&buf[..n])
                        .and_then(|()| stdout.flush())
                        .is_err()
                {
                    break;
                }
            }
        })?;
    Ok(())
}
