//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any wait in these tests may take before it is a failure.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh unix socket path in the temporary directory.
pub fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-{tag}-{}-{n}.sock", std::process::id()))
}

/// Waits until `cond` holds, polling: for conditions that have no
/// notification to wait on. Fails the test at [`TIMEOUT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}
