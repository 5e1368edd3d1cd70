//! Host signals end the VMMs as they end QEMU.
//!
//! On SIGINT, SIGTERM or SIGHUP (Ctrl-C on a `-monitor stdio` terminal
//! too: raw mode keeps signals), QEMU says `terminating on signal N`, emits
//! `SHUTDOWN` with `{"guest": false, "reason": "host-signal"}`, stops the
//! machine and exits 0. [`HostSignals`] does the same from a thread of
//! its own: it emits the event, runs the VMM's `stop`, puts the terminal's
//! settings back ([`monitor_hmp::stdio::restore_terminal`]) and shuts the
//! monitor down. The monitor delivers the event before it closes its
//! clients; the VMM's main thread then returns from
//! [`Monitor::wait`] and exits 0 on its usual path.
//!
//! A second signal means that path is stuck (a vCPU that does not stop):
//! the thread restores the terminal and exits at once, with status 1.

use std::io;
use std::sync::Arc;

use monitor_core::{Event, IntoEvent, Monitor, Shutdown, ShutdownCause};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The signals that end the VMM (QEMU's `termsig_handler` set).
pub const TERMINATING: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// The `SHUTDOWN` event QEMU emits when a host signal ends it.
///
/// # Examples
///
/// ```
/// let event = examples::signals::host_signal_event();
/// assert_eq!(event.name(), "SHUTDOWN");
/// ```
pub fn host_signal_event() -> Event {
    Shutdown {
        guest: false,
        reason: ShutdownCause::HostSignal,
    }
    .into_event()
}

/// The terminating signals, caught from [`HostSignals::catch`] on and
/// handled once [`HostSignals::exit_monitor`] has the monitor.
///
/// Catch them before the monitor listens: from then on a signal cannot
/// end the process by the default action, and the descriptors the
/// handlers use exist before any client does (a client counting the
/// monitor's descriptors sees no change).
#[derive(Debug)]
pub struct HostSignals(Signals);

impl HostSignals {
    /// Catches [`TERMINATING`] from now on; until
    /// [`exit_monitor`](Self::exit_monitor), a signal waits.
    ///
    /// # Errors
    ///
    /// The handlers cannot be installed.
    pub fn catch() -> io::Result<Self> {
        Signals::new(TERMINATING).map(HostSignals)
    }

    /// Handles the signals in a thread named `host-signals`: see the
    /// [module](self). `program` prefixes the message on stderr; `stop`
    /// stops the machine (before the monitor shuts down, as the VMM's
    /// other exit paths do).
    ///
    /// Call it before making the terminal raw, so that no signal can end
    /// the process with the terminal left raw.
    ///
    /// # Errors
    ///
    /// The thread cannot start.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use examples::signals::HostSignals;
    /// use monitor_core::Monitor;
    ///
    /// let signals = HostSignals::catch()?;
    /// let monitor = Arc::new(Monitor::builder().spawn()?);
    /// signals.exit_monitor("demo", Arc::clone(&monitor), || {})?;
    /// monitor.wait()?; // returns after SIGTERM, SHUTDOWN sent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exit_monitor(
        self,
        program: &'static str,
        monitor: Arc<Monitor>,
        stop: impl FnOnce() + Send + 'static,
    ) -> io::Result<()> {
        let mut signals = self.0;
        std::thread::Builder::new()
            .name("host-signals".into())
            .spawn(move || {
                let mut stop = Some(stop);
                for signal in signals.forever() {
                    let Some(stop) = stop.take() else {
                        crate::cli::report(
                            program,
                            format!("terminating at once on signal {signal}"),
                        );
                        let _ = monitor_hmp::stdio::restore_terminal();
                        std::process::exit(1);
                    };
                    crate::cli::report(program, format!("terminating on signal {signal}"));
                    monitor.emitter().emit(host_signal_event());
                    stop();
                    let _ = monitor_hmp::stdio::restore_terminal();
                    monitor.shutdown();
                }
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_qemus() {
        let event: serde_json::Value =
            serde_json::from_slice(&host_signal_event().to_line()).unwrap();
        assert_eq!(event["event"], "SHUTDOWN");
        assert_eq!(
            event["data"],
            serde_json::json!({"guest": false, "reason": "host-signal"})
        );
    }
}
