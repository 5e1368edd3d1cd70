//! The few system calls std lacks: the open-file limit (1,000 idle clients
//! need more descriptors than some defaults allow, on the client side here
//! and the server side in the child, which inherits the limit), and
//! killing the servers when this process dies without unwinding.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The soft and hard `RLIMIT_NOFILE`.
///
/// # Errors
///
/// `getrlimit` failed.
///
/// # Examples
///
/// ```
/// let (soft, hard) = benches::compare::sys::open_files().unwrap();
/// assert!(soft <= hard);
/// ```
pub fn open_files() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on 64-bit Linux, the only target this runs on.
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Raises the soft limit to at least `want` (at most the hard limit);
/// returns the soft limit now in force.
///
/// # Errors
///
/// `getrlimit` or `setrlimit` failed.
pub fn raise_open_files(want: u64) -> io::Result<u64> {
    let (soft, hard) = open_files()?;
    if soft >= want {
        return Ok(soft);
    }
    let lim = libc::rlimit {
        rlim_cur: want.min(hard),
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(open_files()?.0)
}

/// Makes the child started by `command` receive SIGKILL when this process
/// dies (a servers' cleanup that survives Ctrl-C and `kill`).
///
/// # Examples
///
/// ```
/// let mut cmd = std::process::Command::new("true");
/// benches::compare::sys::kill_with_parent(&mut cmd);
/// assert!(cmd.status().unwrap().success());
/// ```
pub fn kill_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // makes one async-signal-safe system call (prctl), touching no memory
    // of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Clock ticks per second (`getconf CLK_TCK`), the unit of the CPU times
/// in `/proc/PID/stat`.
///
/// # Examples
///
/// ```
/// assert_eq!(benches::compare::sys::clock_ticks(), 100);
/// ```
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads its argument.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // Linux has returned 100 (USER_HZ) on every architecture since 2.6.
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(100)
}
