//! What `/proc` says of a server process: resident memory and its peak,
//! context switches of every thread, CPU time. The parsers take the
//! file's text, so they are tested on real files' contents; the readers
//! around them read `/proc/PID/...`.

use std::io;

/// The value of a `kB` line of a `/proc/PID/status` text (`VmRSS`,
/// `VmHWM`, ...), in KiB.
///
/// # Examples
///
/// ```
/// use benches::compare::procfs::status_kib;
///
/// let status = "Name:\tminimal\nVmHWM:\t    7416 kB\nVmRSS:\t    2920 kB\n";
/// assert_eq!(status_kib(status, "VmHWM"), Some(7416));
/// assert_eq!(status_kib(status, "VmSwap"), None);
/// ```
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

/// `voluntary_ctxt_switches` plus `nonvoluntary_ctxt_switches` of a
/// `/proc/PID/task/TID/status` text: how many times the thread left the
/// CPU (each block counts once; waking up follows each).
///
/// # Examples
///
/// ```
/// use benches::compare::procfs::context_switches;
///
/// let status = "voluntary_ctxt_switches:\t18\nnonvoluntary_ctxt_switches:\t333\n";
/// assert_eq!(context_switches(status), Some(351));
/// assert_eq!(context_switches("Name:\tx\n"), None);
/// ```
pub fn context_switches(status: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
    };
    Some(field("voluntary_ctxt_switches")? + field("nonvoluntary_ctxt_switches")?)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line: the CPU
/// time of every thread of the process, in clock ticks. The command name
/// (field 2, in parentheses) may hold spaces and parentheses, so the
/// fields are counted after its last `)`.
///
/// # Examples
///
/// ```
/// use benches::compare::procfs::cpu_ticks;
///
/// let stat = "11276 (refvmm) S 11273 11273 20384 0 -1 4194304 249 0 0 0 7 211 0 0 20 0 6 0";
/// assert_eq!(cpu_ticks(stat), Some(218));
/// ```
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name comes field 3 (state): utime is 11 fields later.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The resident set of a process, in bytes (`VmRSS`).
///
/// # Errors
///
/// The file could not be read or has no `VmRSS` line.
///
/// # Examples
///
/// ```
/// let rss = benches::compare::procfs::resident(std::process::id()).unwrap();
/// assert!(rss > 0);
/// ```
pub fn resident(pid: u32) -> io::Result<u64> {
    status_bytes(pid, "VmRSS")
}

/// The peak resident set of a process since it started, in bytes
/// (`VmHWM`, the high-water mark): at least any resident set it had
/// before (the kernel shows the larger of its mark and the resident set
/// now, and raises the mark before it unmaps anything).
///
/// # Errors
///
/// The file could not be read or has no `VmHWM` line.
///
/// # Examples
///
/// ```
/// use benches::compare::procfs::{peak_resident, resident};
///
/// let pid = std::process::id();
/// let before = resident(pid).unwrap();
/// assert!(peak_resident(pid).unwrap() >= before);
/// ```
pub fn peak_resident(pid: u32) -> io::Result<u64> {
    status_bytes(pid, "VmHWM")
}

fn status_bytes(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status_kib(&status, field)
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no {field} line in /proc/{pid}/status")))
}

/// Context switches of every thread of a process so far, summed over
/// `/proc/PID/task/*/status`. A thread that ends takes its count with it.
///
/// # Errors
///
/// The task directory could not be read, or a thread's status has no
/// context switch lines. A thread that ends while it is read is skipped.
///
/// # Examples
///
/// ```
/// use benches::compare::procfs::all_context_switches;
///
/// let pid = std::process::id();
/// let before = all_context_switches(pid).unwrap();
/// // Sleeping blocks the thread: one voluntary switch at least.
/// std::thread::sleep(std::time::Duration::from_millis(1));
/// assert!(all_context_switches(pid).unwrap() > before);
/// ```
pub fn all_context_switches(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("status");
        let status = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        total += context_switches(&status).ok_or_else(|| {
            io::Error::other(format!("no context switch lines in {}", path.display()))
        })?;
    }
    Ok(total)
}

/// The CPU time of a process so far (every thread), in clock ticks.
///
/// # Errors
///
/// `/proc/PID/stat` could not be read or parsed.
///
/// # Examples
///
/// ```
/// let ticks = benches::compare::procfs::process_cpu_ticks(std::process::id()).unwrap();
/// let _ = ticks; // 0 for a process that has run less than a tick
/// ```
pub fn process_cpu_ticks(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    cpu_ticks(&stat).ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat: {stat}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/PID/status` of `minimal` on Linux 6.18 (after a TAB storm),
    /// trimmed of the capability and signal lines.
    const STATUS: &str = "Name:\tminimal
Umask:\t0022
State:\tS (sleeping)
Tgid:\t11187
Ngid:\t0
Pid:\t11187
PPid:\t1
Threads:\t5
VmPeak:\t  289464 kB
VmSize:\t  223928 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t    7416 kB
VmRSS:\t    4212 kB
RssAnon:\t    1164 kB
RssFile:\t    3048 kB
RssShmem:\t       0 kB
VmData:\t   25256 kB
VmStk:\t     132 kB
VmExe:\t    3764 kB
VmLib:\t    2108 kB
VmPTE:\t      88 kB
VmSwap:\t       0 kB
Cpus_allowed_list:\t0-1
voluntary_ctxt_switches:\t18
nonvoluntary_ctxt_switches:\t333
";

    #[test]
    fn status_fields_are_read_by_exact_name() {
        assert_eq!(status_kib(STATUS, "VmHWM"), Some(7416));
        assert_eq!(status_kib(STATUS, "VmRSS"), Some(4212));
        // `RssAnon` must not be taken for `Rss`, nor `VmPeak` for `Vm`.
        assert_eq!(status_kib(STATUS, "Rss"), None);
        assert_eq!(status_kib(STATUS, "Vm"), None);
        // Not a kB line.
        assert_eq!(status_kib(STATUS, "Threads"), None);
    }

    #[test]
    fn context_switches_add_both_kinds() {
        assert_eq!(context_switches(STATUS), Some(351));
        // One of the two lines missing: no figure rather than half of one.
        assert_eq!(context_switches("voluntary_ctxt_switches:\t18\n"), None);
    }

    #[test]
    fn cpu_ticks_counts_fields_after_the_name() {
        // refvmm with its guest running, 3 s after the banner.
        let stat = "11276 (refvmm) S 11273 11273 20384 0 -1 4194304 249 0 0 0 0 211 0 0 20 0 6 \
                    0 3053443 422785024 1014 18446744073709551615 94661953140448 94661955143344 \
                    140729633615088 0 0 0 0 4100 17475 0 0 0 17 0 0 0 0 0 0 94661955208936 \
                    94661955212512 94662584954880 140729633618316 140729633618441 \
                    140729633618441 140729633619929 0";
        assert_eq!(cpu_ticks(stat), Some(211));
        // A name with spaces and parentheses shifts nothing.
        let odd = "42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 100";
        assert_eq!(cpu_ticks(odd), Some(12));
        assert_eq!(cpu_ticks("42 (short) R 1 2"), None);
    }

    #[test]
    fn blocking_counts_as_a_switch_and_the_peak_holds_the_past() {
        let pid = std::process::id();
        let switches = all_context_switches(pid).unwrap();
        // Blocking switches this thread out at least once.
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(all_context_switches(pid).unwrap() > switches);
        let before = resident(pid).unwrap();
        assert!(peak_resident(pid).unwrap() >= before);
    }
}
