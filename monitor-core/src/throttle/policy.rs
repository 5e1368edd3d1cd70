//! Throttle rules: which events, how often, split by which member.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

/// How one event name is throttled: a period and an optional key member.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::throttle::Rule;
///
/// let rule = Rule::keyed(Duration::from_secs(1), "id");
/// assert_eq!(rule.key(), Some("id"));
/// assert_eq!(Rule::new(Duration::MAX).period(), Rule::MAX_PERIOD);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    period: Duration,
    key: Option<Cow<'static, str>>,
}

impl Rule {
    /// The longest period; longer ones are shortened to it (so that a
    /// deadline is always representable).
    pub const MAX_PERIOD: Duration = Duration::from_secs(u32::MAX as u64);

    /// One state per event name. A zero period means "not throttled".
    pub fn new(period: Duration) -> Self {
        Rule {
            period: period.min(Self::MAX_PERIOD),
            key: None,
        }
    }

    /// One state per value of the top-level data member `member`.
    pub fn keyed(period: Duration, member: impl Into<Cow<'static, str>>) -> Self {
        Rule {
            key: Some(member.into()),
            ..Rule::new(period)
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The key member, if the rule is keyed.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// Which events are throttled: event names to [`Rule`]s.
///
/// [`Policy::default`] is [`Policy::qemu`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use monitor_core::throttle::{Policy, Rule};
///
/// let policy = Policy::qemu()
///     .with("BLOCK_IO_ERROR", Rule::keyed(Duration::from_secs(1), "qom-path"))
///     .with("WATCHDOG", Rule::new(Duration::ZERO)); // zero: not throttled
/// assert_eq!(policy.get("VSERPORT_CHANGE").and_then(|r| r.key()), Some("id"));
/// assert!(policy.get("WATCHDOG").is_none());
/// assert_eq!(policy.len(), 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: HashMap<Cow<'static, str>, Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::qemu()
    }
}

impl Policy {
    /// QEMU's period for every throttled event.
    pub const QEMU_PERIOD: Duration = Duration::from_millis(1000);

    /// No event throttled.
    pub fn empty() -> Self {
        Policy {
            rules: HashMap::new(),
        }
    }

    /// QEMU 7.2's table (`monitor_qapi_event_conf`): 1000 ms for
    /// `RTC_CHANGE`, `WATCHDOG`, `BALLOON_CHANGE`, `QUORUM_FAILURE` (per
    /// name), `QUORUM_REPORT_BAD` (per `node-name`), `VSERPORT_CHANGE` (per
    /// `id`) and `MEMORY_DEVICE_SIZE_CHANGE` (per `qom-path`). Later QEMU
    /// versions add rules (`HV_BALLOON_STATUS_REPORT`, `BLOCK_IO_ERROR`),
    /// which [`Policy::with`] can add.
    pub fn qemu() -> Self {
        let period = Self::QEMU_PERIOD;
        Policy::empty()
            .with("RTC_CHANGE", Rule::new(period))
            .with("WATCHDOG", Rule::new(period))
            .with("BALLOON_CHANGE", Rule::new(period))
            .with("QUORUM_FAILURE", Rule::new(period))
            .with("QUORUM_REPORT_BAD", Rule::keyed(period, "node-name"))
            .with("VSERPORT_CHANGE", Rule::keyed(period, "id"))
            .with("MEMORY_DEVICE_SIZE_CHANGE", Rule::keyed(period, "qom-path"))
    }

    /// The policy with `rule` for `name` (see [`Policy::set`]).
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, rule: Rule) -> Self {
        self.set(name, rule);
        self
    }

    /// Sets the rule of `name`, returning the previous one. A rule with a
    /// zero period removes the rule instead.
    pub fn set(&mut self, name: impl Into<Cow<'static, str>>, rule: Rule) -> Option<Rule> {
        let name = name.into();
        if rule.period.is_zero() {
            self.rules.remove(&name)
        } else {
            self.rules.insert(name, rule)
        }
    }

    /// Removes the rule of `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Rule> {
        self.rules.remove(name)
    }

    /// The rule of `name`, if it is throttled.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.get(name)
    }

    /// Every rule, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Rule)> + '_ {
        self.rules.iter().map(|(name, rule)| (&**name, rule))
    }

    /// How many names are throttled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no name is throttled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_millis(1000);

    #[test]
    fn default_policy_is_qemu_7_2_table() {
        let mut rules: Vec<_> = Policy::default()
            .iter()
            .map(|(name, rule)| {
                (
                    name.to_owned(),
                    rule.period(),
                    rule.key().map(str::to_owned),
                )
            })
            .collect();
        rules.sort();
        let keyed = |member: &str| Some(member.to_owned());
        assert_eq!(
            rules,
            [
                ("BALLOON_CHANGE".to_owned(), SECOND, None),
                (
                    "MEMORY_DEVICE_SIZE_CHANGE".to_owned(),
                    SECOND,
                    keyed("qom-path")
                ),
                ("QUORUM_FAILURE".to_owned(), SECOND, None),
                ("QUORUM_REPORT_BAD".to_owned(), SECOND, keyed("node-name")),
                ("RTC_CHANGE".to_owned(), SECOND, None),
                ("VSERPORT_CHANGE".to_owned(), SECOND, keyed("id")),
                ("WATCHDOG".to_owned(), SECOND, None),
            ]
        );
    }

    #[test]
    fn policy_set_and_remove_return_the_previous_rule() {
        let mut policy = Policy::empty();
        assert!(policy.is_empty());
        assert_eq!(policy.set("X", Rule::new(SECOND)), None);
        assert_eq!(
            policy.set("X", Rule::new(2 * SECOND)),
            Some(Rule::new(SECOND))
        );
        assert_eq!(policy.remove("X"), Some(Rule::new(2 * SECOND)));
        assert_eq!(policy.remove("X"), None);
        assert_eq!(Rule::new(Duration::MAX).period(), Rule::MAX_PERIOD);
    }
}
