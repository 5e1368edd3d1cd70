//! What an idle server costs: how often its threads wake up, and how much
//! CPU it burns, each over a fixed window with nobody connected.

use std::io;
use std::time::{Duration, Instant};

use super::procfs::{all_context_switches, process_cpu_ticks};

/// How long a fresh server is left alone before the wake-ups are counted:
/// start-up is not idling (QEMU's threads switch a few times in the first
/// half second after its socket appears).
pub const SETTLE: Duration = Duration::from_secs(1);

/// A count over a window, per second.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use benches::compare::idle::per_second;
///
/// assert_eq!(per_second(10, 35, Duration::from_secs(5)), 5.0);
/// // A thread that ended took its count with it: no negative rate.
/// assert_eq!(per_second(35, 10, Duration::from_secs(5)), 0.0);
/// ```
pub fn per_second(before: u64, after: u64, window: Duration) -> f64 {
    after.saturating_sub(before) as f64 / window.as_secs_f64()
}

/// CPU ticks over a window, as a percentage of one core.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use benches::compare::idle::percent_of_core;
///
/// // 208 ticks of 10 ms in 3 s: 69 % of a core.
/// let p = percent_of_core(3, 211, 100, Duration::from_secs(3));
/// assert!((p - 69.33).abs() < 0.01, "{p}");
/// ```
pub fn percent_of_core(before: u64, after: u64, ticks_per_second: u64, window: Duration) -> f64 {
    let seconds = after.saturating_sub(before) as f64 / ticks_per_second as f64;
    seconds / window.as_secs_f64() * 100.0
}

/// Wake-ups per second of process `pid`: the context switches of all its
/// threads (voluntary and not, `/proc/PID/task/*/status`) counted after
/// [`SETTLE`], and again `window` later. The window is measured, not
/// assumed.
///
/// # Errors
///
/// `/proc` could not be read (the process has gone, for example).
pub fn wakeups(pid: u32, window: Duration) -> io::Result<f64> {
    std::thread::sleep(SETTLE);
    let before = all_context_switches(pid)?;
    let start = Instant::now();
    std::thread::sleep(window);
    let after = all_context_switches(pid)?;
    Ok(per_second(before, after, start.elapsed()))
}

/// The CPU time process `pid` takes over `window` (`utime + stime` of
/// `/proc/PID/stat`, every thread), as a percentage of one core.
///
/// # Errors
///
/// `/proc` could not be read (the process has gone, for example).
pub fn cpu_percent(pid: u32, window: Duration) -> io::Result<f64> {
    let before = process_cpu_ticks(pid)?;
    let start = Instant::now();
    std::thread::sleep(window);
    let after = process_cpu_ticks(pid)?;
    Ok(percent_of_core(
        before,
        after,
        super::sys::clock_ticks(),
        start.elapsed(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_by_the_window() {
        assert_eq!(per_second(0, 0, Duration::from_secs(10)), 0.0);
        assert_eq!(per_second(7, 12, Duration::from_secs(10)), 0.5);
        assert_eq!(per_second(7, 12, Duration::from_millis(2500)), 2.0);
    }

    #[test]
    fn a_spinning_core_is_a_hundred_percent() {
        assert_eq!(
            percent_of_core(0, 1000, 100, Duration::from_secs(10)),
            100.0
        );
        assert_eq!(percent_of_core(50, 60, 100, Duration::from_secs(10)), 1.0);
        assert_eq!(percent_of_core(60, 50, 100, Duration::from_secs(10)), 0.0);
    }
}
