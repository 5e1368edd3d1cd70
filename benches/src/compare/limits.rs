//! The open-file limit: 1,000 idle clients need more descriptors than some
//! defaults allow (the client side here, the server side in the child,
//! which inherits the limit).
#![allow(unsafe_code)]

use std::io;

/// The soft and hard `RLIMIT_NOFILE`.
///
/// # Errors
///
/// `getrlimit` failed.
///
/// # Examples
///
/// ```
/// let (soft, hard) = benches::compare::limits::open_files().unwrap();
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
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
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
        rlim_cur: want.min(hard) as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(open_files()?.0)
}
