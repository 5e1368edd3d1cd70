//! Benchmarks of the monitor. Run `cargo bench -p benches`.
//!
//! `benches/main.rs` holds the criterion harness; each area (parse, dispatch,
//! events, throttle) is a module of its own file next to it. This library
//! holds what they share: request builders and the socket fan-out rig
//! ([`fanout::Fanout`]).
#![deny(unsafe_code)]
#![deny(missing_docs)]

/// A request of about `size` bytes: `query-version` with a padded string `id`.
///
/// # Examples
///
/// ```
/// let r = benches::padded_request(512);
/// assert_eq!(r.len(), 512);
/// ```
pub fn padded_request(size: usize) -> Vec<u8> {
    let head = br#"{"execute": "query-version", "id": ""#;
    let tail = br#""}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head);
    out.resize(head.len() + pad, b'x');
    out.extend_from_slice(tail);
    out
}

pub mod compare;

pub mod fanout {
    //! Event fan-out over real unix sockets: one in-process monitor, `n`
    //! negotiated clients, one reader thread per client counting the event
    //! lines it receives.
    //!
    //! [`Fanout::emit_and_wait`] emits a batch through the monitor's
    //! [`Emitter`](monitor_core::Emitter) and blocks (on a condition
    //! variable, no sleeping or spinning) until every client has read the
    //! whole batch.

    use std::io::{self, BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use monitor_core::{Event, Map, Monitor, Value};

    /// The event name the rig emits; QEMU's policy does not throttle it.
    pub const EVENT: &str = "BENCH";

    /// How long [`Fanout::emit_and_wait`] waits before giving up (a bug or a
    /// wedged machine, never a slow run).
    pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

    /// Stack of each reader thread (they only count bytes).
    const READER_STACK: usize = 64 << 10;

    /// What the readers and the waiting thread share.
    #[derive(Debug)]
    struct Shared {
        /// Event lines received, per client.
        counts: Vec<AtomicU64>,
        /// The total every client must reach for the current batch.
        target: AtomicU64,
        /// Clients that reached `target`.
        reached: Mutex<usize>,
        cv: Condvar,
    }

    /// A monitor with `n` connected, negotiated clients and their readers.
    ///
    /// Dropping it shuts the monitor down, joins the readers and removes
    /// the socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rig = benches::fanout::Fanout::start(3).unwrap();
    /// rig.emit_and_wait(10);
    /// rig.emit_and_wait(5);
    /// assert_eq!(rig.received(), vec![15, 15, 15]);
    /// ```
    #[derive(Debug)]
    pub struct Fanout {
        monitor: Monitor,
        shared: Arc<Shared>,
        readers: Vec<JoinHandle<()>>,
        path: PathBuf,
        data: Value,
        sent: u64,
    }

    impl Fanout {
        /// Starts a monitor on a fresh unix socket and connects `clients`
        /// clients, each negotiated and with its reader thread running.
        ///
        /// # Errors
        ///
        /// The monitor cannot start, or a client cannot connect or negotiate.
        pub fn start(clients: usize) -> io::Result<Fanout> {
            static RIGS: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "monitor-bench-{}-{}.sock",
                std::process::id(),
                RIGS.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_file(&path);
            let monitor = Monitor::builder()
                .version(1, 0, 0, "benches")
                .listen_unix(&path)
                .spawn()
                .map_err(io::Error::other)?;
            let shared = Arc::new(Shared {
                counts: (0..clients).map(|_| AtomicU64::new(0)).collect(),
                target: AtomicU64::new(u64::MAX),
                reached: Mutex::new(0),
                cv: Condvar::new(),
            });
            let mut data = Map::new();
            data.insert("device".into(), Value::from("virtio-disk0"));
            data.insert("offset".into(), Value::from(4096));
            let mut rig = Fanout {
                monitor,
                shared,
                readers: Vec::with_capacity(clients),
                path,
                data: Value::Object(data),
                sent: 0,
            };
            for i in 0..clients {
                let reader = connect(&rig.path)?;
                let shared = Arc::clone(&rig.shared);
                let handle = std::thread::Builder::new()
                    .name(format!("bench-reader-{i}"))
                    .stack_size(READER_STACK)
                    .spawn(move || count_lines(reader, &shared, i))?;
                rig.readers.push(handle);
            }
            Ok(rig)
        }

        /// How many clients are connected.
        pub fn clients(&self) -> usize {
            self.shared.counts.len()
        }

        /// Event lines each client has received so far.
        pub fn received(&self) -> Vec<u64> {
            self.shared
                .counts
                .iter()
                .map(|c| c.load(Ordering::Acquire))
                .collect()
        }

        /// Emits `events` events (small data, serialised per event) and
        /// waits until every client has received all of them.
        ///
        /// # Panics
        ///
        /// If some client has not received them within [`WAIT_LIMIT`].
        pub fn emit_and_wait(&mut self, events: u64) {
            if events == 0 {
                return;
            }
            let target = self.sent + events;
            {
                // No client can reach the new target before the batch is
                // emitted, so resetting here races with nobody.
                let mut reached = lock(&self.shared.reached);
                *reached = 0;
                self.shared.target.store(target, Ordering::SeqCst);
            }
            let emitter = self.monitor.emitter();
            for _ in 0..events {
                let event = Event::new(EVENT).with_data(&self.data);
                // The data is a plain object: serialising it cannot fail.
                emitter.emit(event.expect("event data serialises"));
            }
            self.sent = target;
            let deadline = Instant::now() + WAIT_LIMIT;
            let mut reached = lock(&self.shared.reached);
            while *reached < self.clients() {
                let now = Instant::now();
                assert!(
                    now < deadline,
                    "clients did not receive {target} events within {WAIT_LIMIT:?}: {:?}",
                    self.received()
                );
                reached = match self.shared.cv.wait_timeout(reached, deadline - now) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
        }
    }

    impl Drop for Fanout {
        fn drop(&mut self) {
            // The monitor closes every client; each reader then sees the end
            // of its stream and returns.
            self.monitor.shutdown();
            for reader in self.readers.drain(..) {
                let _ = reader.join();
            }
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connects, reads the greeting and negotiates capabilities.
    fn connect(path: &PathBuf) -> io::Result<BufReader<UnixStream>> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(WAIT_LIMIT))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::with_capacity(64 << 10, stream);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        if !line.starts_with(b"{\"QMP\"") {
            return Err(io::Error::other(format!(
                "bad greeting: {}",
                String::from_utf8_lossy(&line)
            )));
        }
        writer.write_all(br#"{"execute": "qmp_capabilities"}"#)?;
        line.clear();
        reader.read_until(b'\n', &mut line)?;
        if line != b"{\"return\": {}}\r\n" {
            return Err(io::Error::other(format!(
                "negotiation failed: {}",
                String::from_utf8_lossy(&line)
            )));
        }
        // Readers block without a timeout from now on; the monitor's
        // shutdown ends them.
        reader.get_ref().set_read_timeout(None)?;
        Ok(reader)
    }

    /// A reader thread: counts `\n`-terminated lines (the monitor sends one
    /// line per event and nothing else after negotiation) until the end of
    /// the stream, and reports when the current target is reached.
    fn count_lines(mut reader: BufReader<UnixStream>, shared: &Shared, client: usize) {
        loop {
            let (lines, len) = match reader.fill_buf() {
                Ok([]) => return,
                Ok(buf) => (
                    buf.iter().filter(|&&b| b == b'\n').count() as u64,
                    buf.len(),
                ),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            reader.consume(len);
            if lines == 0 {
                continue;
            }
            let before = shared.counts[client].fetch_add(lines, Ordering::AcqRel);
            let target = shared.target.load(Ordering::SeqCst);
            if before < target && before + lines >= target {
                *lock(&shared.reached) += 1;
                shared.cv.notify_one();
            }
        }
    }
}
