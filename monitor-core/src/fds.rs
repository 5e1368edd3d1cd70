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
//! Everything held for clients is paid for from one [`FdBudget`] per
//! monitor (half of `RLIMIT_NOFILE` by default), with connections: a
//! message's descriptors beyond it are closed as they arrive, and
//! `getfd`/`add-fd` then fail naming the limit.
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

mod budget;

pub use budget::{Charge, FdBudget, OverBudget, DEFAULT_BUDGET_DIVISOR};

/// Descriptors accepted with one message (QEMU's `TCP_MAX_FDS`); the kernel
/// closes any beyond it.
pub const FDS_PER_MESSAGE: usize = 16;
/// Default limit of named descriptors (`getfd`) one session holds.
pub const DEFAULT_FDS_PER_SESSION: usize = 64;
/// Default limit of descriptors in all fd sets together.
pub const DEFAULT_FDSET_FDS: usize = 1024;

/// Longest `getfd` name, in bytes (QEMU has no limit; names are kept as
/// long as the session, so they are bounded).
pub const MAX_FDNAME_LEN: usize = 256;
/// Longest `add-fd` `opaque` text, in bytes (QEMU has no limit; the text
/// is kept as long as its fd set, after its client has gone).
pub const MAX_OPAQUE_LEN: usize = 1024;

/// QEMU's message when a command needs a descriptor and none came.
pub const NO_FD_SUPPLIED: &str = "No file descriptor supplied via SCM_RIGHTS";

/// Why the descriptors of a message were closed as they arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refused {
    /// The monitor's descriptor budget is spent.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// One of them is a socket connected to one of this monitor's
    /// listeners: held, it would keep that connection open forever.
    #[error("File descriptor refused: a connection to this monitor cannot be passed to it")]
    OwnConnection,
}

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
/// fds.receive(vec![file.into()]).unwrap();
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
    received: Vec<(OwnedFd, Charge)>,
    /// Why the latest message's descriptors were closed, for the command
    /// that looks for them.
    refused: Option<Refused>,
    named: HashMap<String, (OwnedFd, Charge)>,
    limit: usize,
    budget: FdBudget,
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

    /// Pays for what this session holds from `budget` (by default, it is
    /// not limited).
    pub fn set_budget(&self, budget: FdBudget) {
        self.inner.borrow_mut().budget = budget;
    }

    /// Descriptors that came with a message: they replace (and close) any
    /// received earlier and not taken. An empty list changes nothing.
    ///
    /// # Errors
    ///
    /// [`Refused::OverBudget`] when they do not all fit the budget: all of
    /// them are closed, and the next [`take_received_or_error`](Self::take_received_or_error)
    /// says why.
    pub fn receive(&self, fds: Vec<OwnedFd>) -> Result<(), Refused> {
        if fds.is_empty() {
            return Ok(());
        }
        let mut held = self.inner.borrow_mut();
        // The ones they replace are closed first: they free budget.
        held.received.clear();
        held.refused = None;
        let mut charged = Vec::with_capacity(fds.len());
        for fd in fds {
            match held.budget.try_charge() {
                Ok(charge) => charged.push((fd, charge)),
                Err(over) => {
                    held.refused = Some(over.into());
                    return Err(over.into());
                }
            }
        }
        held.received = charged;
        Ok(())
    }

    /// Closes the descriptors of the latest message (and any received
    /// before and not taken) for `why`, which the next
    /// [`take_received_or_error`](Self::take_received_or_error) reports.
    pub fn refuse(&self, fds: Vec<OwnedFd>, why: Refused) {
        drop(fds);
        let mut held = self.inner.borrow_mut();
        held.received.clear();
        held.refused = Some(why);
    }

    /// Takes the first descriptor of the latest message that carried any;
    /// the others of that message are closed (QEMU's `get_msgfd`).
    pub fn take_received(&self) -> Option<OwnedFd> {
        let mut held = self.inner.borrow_mut();
        held.refused = None;
        let received = std::mem::take(&mut held.received);
        received.into_iter().next().map(|(fd, _charge)| fd)
    }

    /// [`take_received`](Self::take_received), or the error a command
    /// answers without one: why the latest message's descriptors were
    /// refused ([`Refused`]), or QEMU's [`NO_FD_SUPPLIED`].
    ///
    /// # Errors
    ///
    /// A `GenericError` when there is no descriptor to take.
    pub fn take_received_or_error(&self) -> Result<OwnedFd, CommandError> {
        let refused = self.inner.borrow().refused;
        match (self.take_received(), refused) {
            (Some(fd), _) => Ok(fd),
            (None, Some(why)) => Err(CommandError::generic(why.to_string())),
            (None, None) => Err(CommandError::generic(NO_FD_SUPPLIED)),
        }
    }

    /// Descriptors received and not taken.
    pub fn received(&self) -> usize {
        self.inner.borrow().received.len()
    }

    /// Names a descriptor, closing the one it replaces.
    ///
    /// # Errors
    ///
    /// A `GenericError` when `name` is longer than [`MAX_FDNAME_LEN`],
    /// when the session holds its limit of named descriptors and `name` is
    /// new, or when the monitor's descriptor budget is spent; `fd` is
    /// closed.
    pub fn insert(&self, name: &str, fd: OwnedFd) -> Result<(), CommandError> {
        if name.len() > MAX_FDNAME_LEN {
            return Err(CommandError::generic(format!(
                "Parameter 'fdname' expects a name of at most {MAX_FDNAME_LEN} bytes"
            )));
        }
        let mut held = self.inner.borrow_mut();
        if !held.named.contains_key(name) && held.named.len() >= held.limit {
            return Err(CommandError::generic(format!(
                "Too many file descriptors: this session holds {} already",
                held.limit
            )));
        }
        // The descriptor this one replaces pays for it.
        let charge = match held.named.remove(name) {
            Some((_replaced, charge)) => charge,
            None => held
                .budget
                .try_charge()
                .map_err(|over| CommandError::generic(over.to_string()))?,
        };
        held.named.insert(name.to_owned(), (fd, charge));
        Ok(())
    }

    /// Takes a named descriptor out of the session.
    pub fn remove(&self, name: &str) -> Option<OwnedFd> {
        self.inner
            .borrow_mut()
            .named
            .remove(name)
            .map(|(fd, _charge)| fd)
    }

    /// Runs `f` on a named descriptor, which stays in the session.
    pub fn with<R>(&self, name: &str, f: impl FnOnce(BorrowedFd<'_>) -> R) -> Option<R> {
        let held = self.inner.borrow();
        held.named.get(name).map(|(fd, _)| f(fd.as_fd()))
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
        held.refused = None;
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
    budget: FdBudget,
}

/// A descriptor of a set, its `opaque` text, and what pays for it.
#[derive(Debug)]
struct Entry {
    fd: OwnedFd,
    opaque: Option<String>,
    _charge: Charge,
}

#[derive(Debug, Default)]
struct FdSet {
    fds: Vec<Entry>,
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
                budget: FdBudget::default(),
            })),
        }
    }

    /// Pays for the descriptors of the sets from `budget` (by default,
    /// they are not limited but by [`set_limit`](Self::set_limit)).
    pub fn set_budget(&self, budget: FdBudget) {
        self.inner.lock().budget = budget;
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
    /// QEMU's `GenericError` for a negative ID; a `GenericError` when
    /// `opaque` is longer than [`MAX_OPAQUE_LEN`], when the sets hold their
    /// limit, or when the monitor's descriptor budget is spent. `fd` is
    /// closed on error.
    pub fn add(
        &self,
        fd: OwnedFd,
        fdset_id: Option<i64>,
        opaque: Option<String>,
    ) -> Result<AddfdInfo, CommandError> {
        if opaque.as_ref().is_some_and(|o| o.len() > MAX_OPAQUE_LEN) {
            return Err(CommandError::generic(format!(
                "Parameter 'opaque' expects a text of at most {MAX_OPAQUE_LEN} bytes"
            )));
        }
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
        let charge = sets
            .budget
            .try_charge()
            .map_err(|over| CommandError::generic(over.to_string()))?;
        let raw = i64::from(fd.as_raw_fd());
        sets.sets.entry(id).or_default().fds.push(Entry {
            fd,
            opaque,
            _charge: charge,
        });
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
                    .position(|e| i64::from(e.fd.as_raw_fd()) == fd)
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
                    .map(|e| FdsetFdInfo {
                        fd: i64::from(e.fd.as_raw_fd()),
                        opaque: e.opaque.clone(),
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
            .map(|e| &e.fd)
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
        fds.receive(vec![null(), null()]).unwrap();
        fds.receive(vec![]).unwrap();
        assert_eq!(fds.received(), 2);
        fds.receive(vec![null()]).unwrap();
        assert_eq!(fds.received(), 1);
        assert!(fds.take_received().is_some());
        assert!(fds.take_received().is_none());
    }

    #[test]
    fn everything_held_is_paid_from_the_budget() {
        let budget = FdBudget::new(3);
        let fds = SessionFds::default();
        fds.set_budget(budget.clone());
        let sets = FdSets::default();
        sets.set_budget(budget.clone());
        fds.receive(vec![null()]).unwrap();
        fds.insert("a", fds.take_received().unwrap()).unwrap();
        sets.add(null(), None, None).unwrap();
        fds.receive(vec![null()]).unwrap();
        assert_eq!(budget.used(), 3);
        // Over the budget: refused, and the taker learns why.
        assert_eq!(
            fds.receive(vec![null(), null()]),
            Err(Refused::OverBudget(OverBudget { limit: 3 }))
        );
        let err = fds.take_received_or_error().unwrap_err().to_string();
        assert_eq!(
            err,
            "Too many file descriptors: the monitor holds 3, its limit"
        );
        assert_eq!(
            fds.take_received_or_error().unwrap_err().to_string(),
            NO_FD_SUPPLIED
        );
        // The refused message also closed the one received before.
        assert_eq!(budget.used(), 2);
        sets.add(null(), None, None).unwrap();
        assert!(sets.add(null(), None, None).is_err());
        assert!(fds.insert("b", null()).is_err());
        // Replacing a name costs nothing more.
        fds.insert("a", null()).unwrap();
        fds.clear();
        sets.remove(0, None).unwrap();
        sets.remove(1, None).unwrap();
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn names_and_opaque_texts_are_bounded() {
        let fds = SessionFds::default();
        let long = "n".repeat(MAX_FDNAME_LEN + 1);
        assert!(fds.insert(&long, null()).is_err());
        fds.insert(&long[1..], null()).unwrap();
        assert_eq!(fds.len(), 1);
        let sets = FdSets::default();
        let opaque = "o".repeat(MAX_OPAQUE_LEN + 1);
        assert!(sets.add(null(), None, Some(opaque.clone())).is_err());
        assert!(sets.is_empty());
        sets.add(null(), None, Some(opaque[1..].to_owned()))
            .unwrap();
    }
}
