//! File descriptors passed by clients over SCM_RIGHTS, kept as QEMU keeps
//! them: named descriptors per session (`getfd`, `closefd`) and fd sets that
//! every session shares (`add-fd`, `remove-fd`, `query-fdsets`).
//!
//! Descriptors arrive with the bytes of a message on a unix socket. The
//! session holds the ones of the latest message that carried any until a
//! command takes one (the first; the others are closed) or a later message
//! brings new ones (the old ones are closed), as QEMU's socket chardev does.
//! Everything a session holds is closed when it disconnects. When the last
//! QMP client disconnects, fd sets the VMM never opened are closed (QEMU's
//! `monitor_fdsets_cleanup`).
//!
//! The VMM reaches the descriptors through [`Context`](crate::Context):
//! [`take_fd`](crate::Context::take_fd) and
//! [`with_fd`](crate::Context::with_fd) by name, and [`FdSets::open`] for
//! `/dev/fdset/N` paths.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use thiserror::Error;

use crate::error::CommandError;

/// Descriptors accepted with one message (QEMU's `TCP_MAX_FDS`); the kernel
/// closes any beyond it.
pub const FDS_PER_MESSAGE: usize = 16;
/// Default limit of named descriptors (`getfd`) one session holds.
pub const DEFAULT_FDS_PER_SESSION: usize = 64;
/// Default limit of descriptors in all fd sets together.
pub const DEFAULT_FDSET_FDS: usize = 1024;

/// QEMU's message when a command needs a descriptor and none came.
pub const NO_FD_SUPPLIED: &str = "No file descriptor supplied via SCM_RIGHTS";

/// Why the VMM could not open a descriptor of an fd set.
#[derive(Debug, Error)]
pub enum FdError {
    /// The path does not name an fd set.
    #[error("'{path}' is not of the form /dev/fdset/N")]
    NotAnFdSet {
        /// The path given.
        path: String,
    },
    /// No fd set has this ID.
    #[error("there is no fd set {id}")]
    NoSuchSet {
        /// The ID.
        id: i64,
    },
    /// The set holds no descriptor opened with the access mode asked for.
    #[error("fd set {id} has no descriptor open for {mode:?}")]
    NoMatchingMode {
        /// The ID.
        id: i64,
        /// The access mode asked for.
        mode: AccessMode,
    },
    /// Duplicating the descriptor failed.
    #[error("cannot duplicate a descriptor of fd set {id}")]
    Dup {
        /// The ID.
        id: i64,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How a descriptor was opened (`O_ACCMODE`), to pick one from an fd set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// `O_RDONLY`.
    ReadOnly,
    /// `O_WRONLY`.
    WriteOnly,
    /// `O_RDWR`.
    ReadWrite,
}

impl AccessMode {
    /// The access mode of an open descriptor, if it can be read.
    pub fn of(fd: BorrowedFd<'_>) -> Option<AccessMode> {
        use rustix::fs::OFlags;
        let flags = rustix::fs::fcntl_getfl(fd).ok()?;
        Some(if flags.contains(OFlags::RDWR) {
            AccessMode::ReadWrite
        } else if flags.contains(OFlags::WRONLY) {
            AccessMode::WriteOnly
        } else {
            AccessMode::ReadOnly
        })
    }
}

/// The descriptors one session holds: those received and not yet taken,
/// and those named with `getfd`.
///
/// # Examples
///
/// ```
/// use monitor_core::fds::SessionFds;
///
/// let fds = SessionFds::new(4);
/// let file = std::fs::File::open("/dev/null").unwrap();
/// fds.receive(vec![file.into()]);
/// let fd = fds.take_received().unwrap();
/// fds.insert("log", fd).unwrap();
/// assert_eq!(fds.len(), 1);
/// assert!(fds.remove("log").is_some());
/// assert!(fds.is_empty());
/// ```
#[derive(Debug)]
pub struct SessionFds {
    inner: RefCell<Held>,
}

#[derive(Debug, Default)]
struct Held {
    received: Vec<OwnedFd>,
    named: HashMap<String, OwnedFd>,
    limit: usize,
}

impl Default for SessionFds {
    fn default() -> Self {
        SessionFds::new(DEFAULT_FDS_PER_SESSION)
    }
}

impl SessionFds {
    /// Holds at most `limit` named descriptors.
    pub fn new(limit: usize) -> Self {
        SessionFds {
            inner: RefCell::new(Held {
                limit,
                ..Held::default()
            }),
        }
    }

    /// Changes the limit of named descriptors (those held stay).
    pub fn set_limit(&self, limit: usize) {
        self.inner.borrow_mut().limit = limit;
    }

    /// Descriptors that came with a message: they replace (and close) any
    /// received earlier and not taken. An empty list changes nothing.
    pub fn receive(&self, fds: Vec<OwnedFd>) {
        if !fds.is_empty() {
            self.inner.borrow_mut().received = fds;
        }
    }

    /// Takes the first descriptor of the latest message that carried any;
    /// the others of that message are closed (QEMU's `get_msgfd`).
    pub fn take_received(&self) -> Option<OwnedFd> {
        let received = std::mem::take(&mut self.inner.borrow_mut().received);
        received.into_iter().next()
    }

    /// Descriptors received and not taken.
    pub fn received(&self) -> usize {
        self.inner.borrow().received.len()
    }

    /// Names a descriptor, closing the one it replaces.
    ///
    /// # Errors
    ///
    /// A `GenericError` when the session holds its limit of named
    /// descriptors and `name` is new; `fd` is closed.
    pub fn insert(&self, name: &str, fd: OwnedFd) -> Result<(), CommandError> {
        let mut held = self.inner.borrow_mut();
        if !held.named.contains_key(name) && held.named.len() >= held.limit {
            return Err(CommandError::generic(format!(
                "Too many file descriptors: this session holds {} already",
                held.limit
            )));
        }
        // The replaced descriptor drops (closes) here.
        held.named.insert(name.to_owned(), fd);
        Ok(())
    }

    /// Takes a named descriptor out of the session.
    pub fn remove(&self, name: &str) -> Option<OwnedFd> {
        self.inner.borrow_mut().named.remove(name)
    }

    /// Runs `f` on a named descriptor, which stays in the session.
    pub fn with<R>(&self, name: &str, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Option<R> {
        let held = self.inner.borrow();
        held.named.get(name).map(|fd| f(fd.as_fd()))
    }

    /// Named descriptors held.
    pub fn len(&self) -> usize {
        self.inner.borrow().named.len()
    }

    /// Whether no named descriptor is held.
    pub fn is_empty(&self) -> bool {
        self.inner.borrow().named.is_empty()
    }

    /// Closes everything the session holds.
    pub fn clear(&self) {
        let mut held = self.inner.borrow_mut();
        held.received.clear();
        held.named.clear();
    }
}

/// `add-fd`'s result (members in QEMU's wire order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddfdInfo {
    /// The descriptor number in the monitor's process.
    pub fd: i64,
    /// The set it was added to.
    #[serde(rename = "fdset-id")]
    pub fdset_id: i64,
}

/// One descriptor of `query-fdsets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdsetFdInfo {
    /// The descriptor number.
    pub fd: i64,
    /// The text given with `add-fd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opaque: Option<String>,
}

/// One set of `query-fdsets` (members in QEMU's wire order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdsetInfo {
    /// Its descriptors, oldest first.
    pub fds: Vec<FdsetFdInfo>,
    /// Its ID.
    #[serde(rename = "fdset-id")]
    pub fdset_id: i64,
}

/// The fd sets every session of a monitor shares (a cheap handle).
///
/// # Examples
///
/// ```
/// use monitor_core::fds::{AccessMode, FdSets};
///
/// let sets = FdSets::new(16);
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let info = sets.add(file.into(), None, Some("disk".into())).unwrap();
/// assert_eq!(info.fdset_id, 0);
/// let copy = sets.open("/dev/fdset/0", AccessMode::ReadOnly).unwrap();
/// drop(copy);
/// sets.remove(0, None).unwrap();
/// assert!(sets.query().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct FdSets {
    inner: Arc<Mutex<Sets>>,
}

#[derive(Debug, Default)]
struct Sets {
    sets: BTreeMap<i64, FdSet>,
    limit: usize,
}

#[derive(Debug, Default)]
struct FdSet {
    fds: Vec<(OwnedFd, Option<String>)>,
    /// The VMM opened one of its descriptors: kept when clients go away.
    opened: bool,
}

impl Default for FdSets {
    fn default() -> Self {
        FdSets::new(DEFAULT_FDSET_FDS)
    }
}

impl FdSets {
    /// Holds at most `limit` descriptors in all sets together.
    pub fn new(limit: usize) -> Self {
        FdSets {
            inner: Arc::new(Mutex::new(Sets {
                sets: BTreeMap::new(),
                limit,
            })),
        }
    }

    /// Changes the limit (descriptors held stay).
    pub fn set_limit(&self, limit: usize) {
        self.inner.lock().limit = limit;
    }

    /// Descriptors in all sets.
    pub fn len(&self) -> usize {
        self.inner.lock().sets.values().map(|s| s.fds.len()).sum()
    }

    /// Whether there is no set.
    pub fn is_empty(&self) -> bool {
        self.inner.lock().sets.is_empty()
    }

    /// Adds a descriptor to set `fdset_id` (created if needed), or to a new
    /// set with the lowest free ID (`add-fd`).
    ///
    /// # Errors
    ///
    /// QEMU's `GenericError` for a negative ID; a `GenericError` when the
    /// sets hold their limit. `fd` is closed on error.
    pub fn add(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<String>,
    ) -> Result<AddfdInfo, CommandError> {
        let mut sets = self.inner.lock();
        let id = match fdset_id {
            Some(id) if id < 0 => {
                return Err(CommandError::generic(
                    "Parameter 'fdset-id' expects a non-negative value",
                ))
            }
            Some(id) => id,
            None => (0..)
                .find(|id| !sets.sets.contains_key(id))
                .expect("fewer than i64::MAX sets"),
        };
        let held: usize = sets.sets.values().map(|s| s.fds.len()).sum();
        if held >= sets.limit {
            return Err(CommandError::generic(format!(
                "Too many file descriptors in fd sets: {} already",
                sets.limit
            )));
        }
        let raw = i64::from(fd.as_raw_fd());
        sets.sets.entry(id).or_default().fds.push((fd, opaque));
        Ok(AddfdInfo {
            fd: raw,
            fdset_id: id,
        })
    }

    /// Closes descriptor `fd` of set `fdset_id`, or all of the set
    /// (`remove-fd`); an emptied set goes away.
    ///
    /// # Errors
    ///
    /// QEMU's `GenericError` when the set or the descriptor does not exist.
    pub fn remove(&self, fdset_id: i64, fd: Option<i64>) -> Result<(), CommandError> {
        let mut sets = self.inner.lock();
        let not_found = || {
            let what = match fd {
                Some(fd) => format!("fdset-id:{fdset_id}, fd:{fd}"),
                None => format!("fdset-id:{fdset_id}"),
            };
            CommandError::generic(format!("File descriptor named '{what}' not found"))
        };
        let set = sets.sets.get_mut(&fdset_id).ok_or_else(not_found)?;
        match fd {
            Some(fd) => {
                let index = set
                    .fds
                    .iter()
                    .position(|(f, _)| i64::from(f.as_raw_fd()) == fd)
                    .ok_or_else(not_found)?;
                set.fds.remove(index);
            }
            None => set.fds.clear(),
        }
        if set.fds.is_empty() {
            sets.sets.remove(&fdset_id);
        }
        Ok(())
    }

    /// The sets as `query-fdsets` lists them: highest ID first, each set's
    /// descriptors oldest first (QEMU's order).
    pub fn query(&self) -> Vec<FdsetInfo> {
        let sets = self.inner.lock();
        sets.sets
            .iter()
            .rev()
            .map(|(id, set)| FdsetInfo {
                fds: set
                    .fds
                    .iter()
                    .map(|(fd, opaque)| FdsetFdInfo {
                        fd: i64::from(fd.as_raw_fd()),
                        opaque: opaque.clone(),
                    })
                    .collect(),
                fdset_id: *id,
            })
            .collect()
    }

    /// Opens `/dev/fdset/N` for the VMM: a duplicate (close-on-exec) of a
    /// descriptor of set N opened with `mode` (QEMU's `qemu_open` path).
    /// The set is then kept when every client has gone.
    ///
    /// # Errors
    ///
    /// [`FdError`] naming what is missing.
    pub fn open(&self, path: &str, mode: AccessMode) -> Result<OwnedFd, FdError> {
        let id: i64 = path
            .strip_prefix("/dev/fdset/")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| FdError::NotAnFdSet {
                path: path.to_owned(),
            })?;
        let mut sets = self.inner.lock();
        let set = sets.sets.get_mut(&id).ok_or(FdError::NoSuchSet { id })?;
        let fd = set
            .fds
            .iter()
            .map(|(fd, _)| fd)
            .find(|fd| AccessMode::of(fd.as_fd()) == Some(mode))
            .ok_or(FdError::NoMatchingMode { id, mode })?;
        let copy = fd
            .try_clone()
            .map_err(|source| FdError::Dup { id, source })?;
        set.opened = true;
        Ok(copy)
    }

    /// The last client went away: closes the sets the VMM never opened.
    pub(crate) fn release_unopened(&self) {
        self.inner.lock().sets.retain(|_, set| set.opened);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null() -> OwnedFd {
        std::fs::File::open("/dev/null").expect("/dev/null").into()
    }

    #[test]
    fn new_sets_take_the_lowest_free_id() {
        let sets = FdSets::default();
        assert_eq!(sets.add(null(), Some(3), None).unwrap().fdset_id, 3);
        assert_eq!(sets.add(null(), None, None).unwrap().fdset_id, 0);
        assert_eq!(sets.add(null(), None, None).unwrap().fdset_id, 1);
        let ids: Vec<i64> = sets.query().iter().map(|s| s.fdset_id).collect();
        assert_eq!(ids, [3, 1, 0]);
    }

    #[test]
    fn removing_an_unknown_descriptor_names_it_as_qemu() {
        let sets = FdSets::default();
        sets.add(null(), Some(2), None).unwrap();
        assert_eq!(
            sets.remove(2, Some(-5)).unwrap_err().to_string(),
            "File descriptor named 'fdset-id:2, fd:-5' not found"
        );
        assert_eq!(
            sets.remove(7, None).unwrap_err().to_string(),
            "File descriptor named 'fdset-id:7' not found"
        );
    }

    #[test]
    fn fd_set_limit_refuses_more() {
        let sets = FdSets::new(1);
        sets.add(null(), None, None).unwrap();
        assert!(sets.add(null(), Some(0), None).is_err());
        assert_eq!(sets.len(), 1);
    }

    #[test]
    fn open_matches_the_access_mode() {
        let sets = FdSets::default();
        sets.add(null(), Some(0), None).unwrap();
        assert!(sets.open("/dev/fdset/0", AccessMode::ReadOnly).is_ok());
        assert!(matches!(
            sets.open("/dev/fdset/0", AccessMode::WriteOnly),
            Err(FdError::NoMatchingMode { .. })
        ));
        assert!(matches!(
            sets.open("/dev/fdset/9", AccessMode::ReadOnly),
            Err(FdError::NoSuchSet { id: 9 })
        ));
        assert!(matches!(
            sets.open("/tmp/x", AccessMode::ReadOnly),
            Err(FdError::NotAnFdSet { .. })
        ));
    }

    #[test]
    fn opened_sets_survive_the_last_client() {
        let sets = FdSets::default();
        sets.add(null(), Some(0), None).unwrap();
        sets.add(null(), Some(1), None).unwrap();
        drop(sets.open("/dev/fdset/1", AccessMode::ReadOnly).unwrap());
        sets.release_unopened();
        let ids: Vec<i64> = sets.query().iter().map(|s| s.fdset_id).collect();
        assert_eq!(ids, [1]);
    }

    #[test]
    fn named_limit_allows_replacing() {
        let fds = SessionFds::new(1);
        fds.insert("a", null()).unwrap();
        fds.insert("a", null()).unwrap();
        assert!(fds.insert("b", null()).is_err());
        assert_eq!(fds.len(), 1);
    }

    #[test]
    fn a_message_with_fds_replaces_the_untaken_ones() {
        let fds = SessionFds::default();
        fds.receive(vec![null(), null()]);
        fds.receive(vec![]);
        assert_eq!(fds.received(), 2);
        fds.receive(vec![null()]);
        assert_eq!(fds.received(), 1);
        assert!(fds.take_received().is_some());
        assert!(fds.take_received().is_none());
    }
}
