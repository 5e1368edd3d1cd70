//! What the workspace's integration tests share: fresh socket paths, a
//! bounded wait on a condition, and reproducible pseudo-randomness.
//!
//! A crate of its own (a dev-dependency), so that each test binary takes
//! what it uses and nothing is compiled into a test that does not use it.

use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any wait in the tests may take before it is a failure.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh unix socket path in the temporary directory, unique in this
/// process (its pid) and among the calls (a counter).
///
/// # Examples
///
/// ```
/// let a = monitor_test_util::socket_path("x");
/// let b = monitor_test_util::socket_path("x");
/// assert_ne!(a, b);
/// assert!(a.starts_with(std::env::temp_dir()));
/// ```
pub fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-{tag}-{}-{n}.sock", std::process::id()))
}

/// Waits until `cond` holds, polling: for conditions that have no
/// notification to wait on. Fails the test (panics, naming `what`) at
/// [`TIMEOUT`].
///
/// # Examples
///
/// ```
/// let mut calls = 0;
/// monitor_test_util::wait_until("the third call", || {
///     calls += 1;
///     calls == 3
/// });
/// ```
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reads until the peer closes the connection (end of file, or a reset);
/// every byte it sent. Fails if a read fails otherwise, as one does at a
/// read timeout the caller set: the connection was still open.
///
/// # Examples
///
/// ```
/// let got = monitor_test_util::read_until_closed(&b"bye"[..]);
/// assert_eq!(got, b"bye");
/// ```
pub fn read_until_closed(mut stream: impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "the connection was not closed ({e}); received {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// xorshift64*: reproducible pseudo-randomness without a dependency, for
/// the tests that mix traffic (concurrency, soak, the differential fuzzer).
///
/// # Examples
///
/// ```
/// use monitor_test_util::XorShift;
///
/// let mut a = XorShift::new(7);
/// let mut b = XorShift::new(7);
/// assert_eq!(a.next(), b.next());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)] // not an iterator: never ends
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}
