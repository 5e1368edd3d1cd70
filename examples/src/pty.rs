//! `-chardev pty`: a pseudo-terminal for a device, as QEMU makes one.
//!
//! QEMU opens a pseudo-terminal pair in raw mode, keeps the master, closes
//! the slave and prints `char device redirected to /dev/pts/N (label ID)`
//! on stderr (libvirt reads the path from `query-chardev`; a person
//! connects with `screen /dev/pts/N` or `virsh console`). Output written
//! while nobody has the slave open is dropped rather than blocking the
//! guest.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};

/// The master side of a pseudo-terminal.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let mut pty = examples::pty::Pty::open().unwrap();
/// assert!(pty.path().starts_with("/dev/pts/"));
/// let mut slave = std::fs::OpenOptions::new().read(true).write(true).open(pty.path()).unwrap();
/// pty.write_all(b"hello").unwrap();
/// let mut buf = [0u8; 5];
/// slave.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// ```
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    path: String,
}

impl Pty {
    /// Opens a pseudo-terminal whose slave is in raw mode.
    ///
    /// # Errors
    ///
    /// The system has no pseudo-terminal to give.
    pub fn open() -> io::Result<Self> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let path = ptsname(&master, Vec::new())?
            .into_string()
            .map_err(|_| io::Error::other("pseudo-terminal name is not UTF-8"))?;
        // Raw, as QEMU's qemu_openpty_raw: bytes pass unchanged both ways.
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)?;
        let mut termios = tcgetattr(&slave)?;
        termios.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &termios)?;
        drop(slave);
        Ok(Pty { master, path })
    }

    /// The slave's path, `/dev/pts/N`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A second handle on the master (one to write, one to read).
    ///
    /// # Errors
    ///
    /// Out of descriptors.
    pub fn try_clone(&self) -> io::Result<Pty> {
        Ok(Pty {
            master: self.master.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// Makes writes that would block (nobody reads the slave) fail with
    /// `WouldBlock` instead.
    ///
    /// # Errors
    ///
    /// The flags cannot be changed.
    pub fn set_nonblocking(&self) -> io::Result<()> {
        let flags = rustix::fs::fcntl_getfl(&self.master)?;
        rustix::fs::fcntl_setfl(&self.master, flags | rustix::fs::OFlags::NONBLOCK)?;
        Ok(())
    }
}

impl Write for Pty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(self.master.as_fd(), buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Pty {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(self.master.as_fd(), buf)?)
    }
}

/// A device's output into a pseudo-terminal: what does not fit, or finds
/// nobody connected, is dropped, so the guest never waits for a reader.
#[derive(Debug)]
pub struct PtyOutput(pub Pty);

impl Write for PtyOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // WouldBlock: the buffer is full; EIO: the last reader hung up.
        let _ = self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
