//! The monitor's descriptor budget: how many descriptors its clients may
//! make it hold at once, over every kind (connections, received and named
//! descriptors, fd sets), so that they cannot exhaust the process's
//! `RLIMIT_NOFILE` and leave the VMM (and new clients) without any.
//!
//! Each descriptor held is paid for with a [`Charge`], given back when the
//! charge drops: the count cannot drift from what is really held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use thiserror::Error;

/// The share of the soft `RLIMIT_NOFILE` the monitor's clients may use by
/// default: one half; the other half is the VMM's.
pub const DEFAULT_BUDGET_DIVISOR: u64 = 2;

/// The budget is spent: what a client asked to hold is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Too many file descriptors: the monitor holds {limit}, its limit")]
pub struct OverBudget {
    /// The budget.
    pub limit: usize,
}

/// How many descriptors the monitor may hold for its clients (a cheap
/// handle: clones share the count).
///
/// # Examples
///
/// ```
/// use monitor_core::fds::FdBudget;
///
/// let budget = FdBudget::new(1);
/// let charge = budget.try_charge().unwrap();
/// assert_eq!(budget.used(), 1);
/// assert_eq!(budget.try_charge().unwrap_err().limit, 1);
/// drop(charge);
/// assert_eq!(budget.used(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct FdBudget {
    counts: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    limit: AtomicUsize,
    used: AtomicUsize,
}

impl Default for FdBudget {
    /// No limit (a monitor replaces it with [`FdBudget::from_rlimit`]).
    fn default() -> Self {
        FdBudget::new(usize::MAX)
    }
}

impl FdBudget {
    /// A budget of `limit` descriptors.
    pub fn new(limit: usize) -> Self {
        FdBudget {
            counts: Arc::new(Counts {
                limit: AtomicUsize::new(limit),
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The default budget: half of the process's soft `RLIMIT_NOFILE`
    /// (no limit if it is unlimited).
    pub fn from_rlimit() -> Self {
        FdBudget::new(default_limit())
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.counts.limit.load(Ordering::Relaxed)
    }

    /// Changes the budget (what is held stays held).
    pub fn set_limit(&self, limit: usize) {
        self.counts.limit.store(limit, Ordering::Relaxed);
    }

    /// Descriptors held now.
    pub fn used(&self) -> usize {
        self.counts.used.load(Ordering::Relaxed)
    }

    /// Pays for one descriptor, if the budget allows it.
    ///
    /// # Errors
    ///
    /// [`OverBudget`] when the budget is spent.
    pub fn try_charge(&self) -> Result<Charge, OverBudget> {
        let limit = self.limit();
        self.counts
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < limit).then_some(used + 1)
            })
            .map(|_| Charge {
                counts: Arc::clone(&self.counts),
            })
            .map_err(|_| OverBudget { limit })
    }
}

/// One descriptor paid for; given back when dropped.
#[derive(Debug)]
pub struct Charge {
    counts: Arc<Counts>,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.counts.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Half of the soft `RLIMIT_NOFILE`, or no limit.
fn default_limit() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    soft.map_or(usize::MAX, |n| {
        usize::try_from(n / DEFAULT_BUDGET_DIVISOR).unwrap_or(usize::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_given_back_when_dropped() {
        let budget = FdBudget::new(2);
        let a = budget.try_charge().unwrap();
        let b = budget.clone().try_charge().unwrap();
        assert!(budget.try_charge().is_err());
        drop(a);
        let c = budget.try_charge().unwrap();
        drop((b, c));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_default_is_half_the_soft_limit() {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let expected = soft.map_or(usize::MAX, |n| (n / 2) as usize);
        assert_eq!(FdBudget::from_rlimit().limit(), expected);
    }
}
