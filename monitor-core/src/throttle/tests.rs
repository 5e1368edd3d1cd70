use super::*;
use serde_json::json;

const SECOND: Duration = Duration::from_millis(1000);

/// A synthetic clock: instants as milliseconds after one base.
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Clock(Instant::now())
    }

    fn ms(&self, n: u64) -> Instant {
        self.0 + Duration::from_millis(n)
    }
}

/// An event whose line is `name tag` and whose data is `data`.
fn ev(name: &'static str, data: Option<serde_json::Value>, tag: u32) -> PendingEvent {
    let event = PendingEvent::new(name, format!("{name} {tag}").into_bytes());
    match data {
        Some(data) => event.with_data(serde_json::to_vec(&data).unwrap()),
        None => event,
    }
}

fn rtc(tag: u32) -> PendingEvent {
    ev("RTC_CHANGE", Some(json!({"offset": tag})), tag)
}

fn vserport(id: &str, tag: u32) -> PendingEvent {
    ev(
        "VSERPORT_CHANGE",
        Some(json!({"id": id, "open": true})),
        tag,
    )
}

fn lines(events: &[PendingEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| String::from_utf8(e.line().to_vec()).unwrap())
        .collect()
}

fn expire(throttle: &mut Throttle, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    throttle.expire(now, &mut out);
    lines(&out)
}

fn sent(event: Option<PendingEvent>) -> String {
    String::from_utf8(event.expect("sent at once").line().to_vec()).unwrap()
}

#[test]
fn key_member_change_flushes_the_name() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(1)).is_none());
    let flushed = throttle.set_rule("RTC_CHANGE", Rule::keyed(SECOND, "offset"));
    assert_eq!(lines(&flushed), ["RTC_CHANGE 2"]);
    assert!(throttle.is_empty());
    assert!(throttle.offer(rtc(3), clock.ms(2)).is_some());
    assert!(throttle.offer(rtc(4), clock.ms(3)).is_some());
    assert!(throttle.offer(rtc(3), clock.ms(4)).is_none());
}

#[test]
fn first_event_is_sent_at_once_and_arms_a_timer() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert_eq!(sent(throttle.offer(rtc(1), clock.ms(5))), "RTC_CHANGE 1");
    assert_eq!(throttle.len(), 1);
    assert_eq!(throttle.kept(), 0);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1005)));
}

#[test]
fn events_within_the_period_coalesce_to_the_last() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(100)).is_none());
    assert!(throttle.offer(rtc(3), clock.ms(200)).is_none());
    assert_eq!(throttle.kept(), 1);
    assert!(expire(&mut throttle, clock.ms(999)).is_empty());
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["RTC_CHANGE 3"]);
    assert_eq!(throttle.kept(), 0);
}

#[test]
fn kept_event_keeps_its_own_timestamp_and_data() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    let at = |seconds: i64, offset: i64| {
        let data = format!("{{\"offset\": {offset}}}");
        let line = format!(
            "{{\"timestamp\": {{\"seconds\": {seconds}, \"microseconds\": 7}}, \"event\": \"RTC_CHANGE\", \"data\": {data}}}\r\n"
        );
        PendingEvent::new("RTC_CHANGE", line.into_bytes()).with_data(data.into_bytes())
    };
    assert!(throttle.offer(at(100, 1), clock.ms(0)).is_some());
    assert!(throttle.offer(at(101, 2), clock.ms(10)).is_none());
    let third = at(102, 3);
    assert!(throttle.offer(third.clone(), clock.ms(20)).is_none());
    let mut out = Vec::new();
    throttle.expire(clock.ms(1000), &mut out);
    assert_eq!(out, [third]);
    let line = String::from_utf8(out[0].line().to_vec()).unwrap();
    assert_eq!(
        line,
        "{\"timestamp\": {\"seconds\": 102, \"microseconds\": 7}, \"event\": \
         \"RTC_CHANGE\", \"data\": {\"offset\": 3}}\r\n"
    );
}

#[test]
fn keys_are_independent() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert_eq!(
        sent(throttle.offer(vserport("a", 1), clock.ms(0))),
        "VSERPORT_CHANGE 1"
    );
    assert_eq!(
        sent(throttle.offer(vserport("b", 2), clock.ms(10))),
        "VSERPORT_CHANGE 2"
    );
    assert!(throttle.offer(vserport("a", 3), clock.ms(20)).is_none());
    assert!(throttle.offer(vserport("b", 4), clock.ms(30)).is_none());
    assert_eq!(throttle.len(), 2);
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["VSERPORT_CHANGE 3"]);
    assert_eq!(expire(&mut throttle, clock.ms(1010)), ["VSERPORT_CHANGE 4"]);
}

#[test]
fn unkeyed_rule_shares_one_state_whatever_the_data() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(1)).is_none());
    assert_eq!(throttle.len(), 1);
}

#[test]
fn absent_key_member_is_a_key_of_its_own() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    let bare = |tag| ev("VSERPORT_CHANGE", Some(json!({"open": true})), tag);
    let without_data = |tag| ev("VSERPORT_CHANGE", None, tag);
    assert!(throttle.offer(bare(1), clock.ms(0)).is_some());
    assert!(throttle.offer(without_data(2), clock.ms(1)).is_none());
    assert!(throttle.offer(vserport("a", 3), clock.ms(2)).is_some());
    assert_eq!(throttle.len(), 2);
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["VSERPORT_CHANGE 2"]);
}

#[test]
fn malformed_data_is_throttled_under_the_absent_key() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    let bad = PendingEvent::new("VSERPORT_CHANGE", &b"x"[..]).with_data(&b"[1]"[..]);
    assert!(throttle.offer(bad, clock.ms(0)).is_some());
    let bare = ev("VSERPORT_CHANGE", None, 2);
    assert!(throttle.offer(bare, clock.ms(1)).is_none());
}

#[test]
fn period_ending_with_nothing_kept_frees_the_state() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(!throttle.is_empty());
    assert!(expire(&mut throttle, clock.ms(1000)).is_empty());
    assert!(throttle.is_empty());
    assert_eq!(throttle.len(), 0);
    assert_eq!(throttle.next_deadline(), None);
    assert!(throttle.offer(rtc(2), clock.ms(1001)).is_some());
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2001)));
}

#[test]
fn period_that_sent_a_kept_event_rearms() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(500)).is_none());
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["RTC_CHANGE 2"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2000)));
    assert!(throttle.offer(rtc(4), clock.ms(1100)).is_none());
    assert!(expire(&mut throttle, clock.ms(1999)).is_empty());
    assert_eq!(expire(&mut throttle, clock.ms(2000)), ["RTC_CHANGE 4"]);
    assert!(expire(&mut throttle, clock.ms(3000)).is_empty());
    assert!(throttle.is_empty());
}

#[test]
fn late_expire_rearms_from_when_it_ran() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(10)).is_none());
    assert_eq!(expire(&mut throttle, clock.ms(1500)), ["RTC_CHANGE 2"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2500)));
}

#[test]
fn event_after_deadline_before_expire_is_kept_like_a_late_timer() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(1200)).is_none());
    assert_eq!(expire(&mut throttle, clock.ms(1200)), ["RTC_CHANGE 2"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2200)));
}

#[test]
fn unthrottled_names_pass_and_create_no_state() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    for tag in 0..10 {
        let event = ev("STOP", None, tag);
        assert_eq!(
            sent(throttle.offer(event, clock.ms(0))),
            format!("STOP {tag}")
        );
    }
    assert!(throttle.is_empty());
    assert_eq!(throttle.next_deadline(), None);
}

#[test]
fn empty_policy_throttles_nothing() {
    let clock = Clock::new();
    let mut throttle = Throttle::new(Policy::empty());
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(0)).is_some());
    assert!(throttle.is_empty());
}

#[test]
fn next_deadline_is_the_earliest_and_expiry_follows_deadline_order() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(vserport("c", 1), clock.ms(30)).is_some());
    assert!(throttle.offer(vserport("a", 2), clock.ms(10)).is_some());
    assert!(throttle.offer(rtc(3), clock.ms(20)).is_some());
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1010)));
    assert!(throttle.offer(vserport("c", 4), clock.ms(40)).is_none());
    assert!(throttle.offer(rtc(5), clock.ms(41)).is_none());
    assert!(throttle.offer(vserport("a", 6), clock.ms(42)).is_none());
    assert_eq!(
        expire(&mut throttle, clock.ms(1030)),
        ["VSERPORT_CHANGE 6", "RTC_CHANGE 5", "VSERPORT_CHANGE 4"]
    );
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2030)));
    assert_eq!(throttle.len(), 3);
}

#[test]
fn expire_frees_part_and_rearms_part() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(vserport("a", 1), clock.ms(0)).is_some());
    assert!(throttle.offer(vserport("b", 2), clock.ms(100)).is_some());
    assert!(throttle.offer(vserport("b", 3), clock.ms(200)).is_none());
    assert!(expire(&mut throttle, clock.ms(1000)).is_empty());
    assert_eq!(throttle.len(), 1);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1100)));
    assert_eq!(expire(&mut throttle, clock.ms(1100)), ["VSERPORT_CHANGE 3"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(2100)));
}

#[test]
fn hundred_rtc_changes_in_50_ms_send_two_events() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    let mut out = Vec::new();
    let mut sent_at = Vec::new();
    for i in 0..100u32 {
        let now = clock.ms(u64::from(i) / 2);
        throttle.expire(now, &mut out);
        if let Some(event) = throttle.offer(rtc(i), now) {
            out.push(event);
        }
        sent_at.extend(std::iter::repeat_n(now, out.len() - sent_at.len()));
    }
    // Run the timers until the throttle is idle (a bounded loop, so that
    // a throttle that never frees its state fails instead of hanging).
    let mut now = clock.ms(50);
    for _ in 0..10 {
        let Some(deadline) = throttle.next_deadline() else {
            break;
        };
        now = deadline;
        throttle.expire(now, &mut out);
        sent_at.extend(std::iter::repeat_n(now, out.len() - sent_at.len()));
    }
    assert_eq!(lines(&out), ["RTC_CHANGE 0", "RTC_CHANGE 99"]);
    assert_eq!(sent_at, [clock.ms(0), clock.ms(1000)]);
    assert_eq!(now, clock.ms(2000));
    assert!(throttle.is_empty());
}

#[test]
fn many_keys_leave_no_state_behind() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    for i in 0..1000 {
        let id = format!("port{i}");
        assert!(throttle.offer(vserport(&id, 0), clock.ms(i)).is_some());
        assert!(throttle.offer(vserport(&id, 1), clock.ms(i)).is_none());
    }
    assert_eq!(throttle.len(), 1000);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1000)));
    assert_eq!(expire(&mut throttle, clock.ms(2000)).len(), 1000);
    assert_eq!(throttle.kept(), 0);
    assert!(expire(&mut throttle, clock.ms(3000)).is_empty());
    assert!(throttle.is_empty());
    assert!(throttle.states.is_empty());
}

#[test]
fn period_change_applies_from_the_next_period() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(10)).is_none());
    let flushed = throttle.set_rule("RTC_CHANGE", Rule::new(Duration::from_millis(300)));
    assert!(flushed.is_empty());
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1000)));
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["RTC_CHANGE 2"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(1300)));
    assert_eq!(
        throttle.policy().get("RTC_CHANGE").map(Rule::period),
        Some(Duration::from_millis(300))
    );
}

#[test]
fn new_rule_throttles_a_name_that_passed_before() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    let reset = |id: &str, tag| ev("DEVICE_RESET", Some(json!({ "id": id })), tag);
    assert!(throttle.offer(reset("a", 1), clock.ms(0)).is_some());
    assert!(throttle.offer(reset("a", 2), clock.ms(0)).is_some());
    let flushed = throttle.set_rule("DEVICE_RESET", Rule::keyed(SECOND, "id"));
    assert!(flushed.is_empty());
    assert!(throttle.offer(reset("a", 3), clock.ms(1)).is_some());
    assert!(throttle.offer(reset("b", 4), clock.ms(2)).is_some());
    assert!(throttle.offer(reset("a", 5), clock.ms(3)).is_none());
    assert_eq!(expire(&mut throttle, clock.ms(1001)), ["DEVICE_RESET 5"]);
}

#[test]
fn rule_removal_flushes_kept_events_in_offer_order() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    for (id, tag) in [("b", 1), ("a", 2), ("c", 3)] {
        assert!(throttle.offer(vserport(id, tag), clock.ms(0)).is_some());
    }
    assert!(throttle.offer(rtc(4), clock.ms(0)).is_some());
    for (id, tag) in [("c", 5), ("a", 6), ("b", 7), ("c", 8)] {
        assert!(throttle.offer(vserport(id, tag), clock.ms(1)).is_none());
    }
    assert!(throttle.offer(rtc(9), clock.ms(2)).is_none());
    let flushed = throttle.remove_rule("VSERPORT_CHANGE");
    assert_eq!(
        lines(&flushed),
        [
            "VSERPORT_CHANGE 6",
            "VSERPORT_CHANGE 7",
            "VSERPORT_CHANGE 8"
        ]
    );
    assert!(throttle.policy().get("VSERPORT_CHANGE").is_none());
    assert_eq!(throttle.len(), 1);
    assert_eq!(
        sent(throttle.offer(vserport("a", 10), clock.ms(3))),
        "VSERPORT_CHANGE 10"
    );
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["RTC_CHANGE 9"]);
}

#[test]
fn zero_period_removes_the_rule() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(1)).is_none());
    let flushed = throttle.set_rule("RTC_CHANGE", Rule::new(Duration::ZERO));
    assert_eq!(lines(&flushed), ["RTC_CHANGE 2"]);
    assert!(throttle.policy().get("RTC_CHANGE").is_none());
    assert!(throttle.offer(rtc(3), clock.ms(2)).is_some());
    assert!(throttle.is_empty());
}

#[test]
fn set_policy_keeps_unchanged_names_and_flushes_the_others() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(rtc(1), clock.ms(0)).is_some());
    assert!(throttle.offer(vserport("a", 2), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(3), clock.ms(1)).is_none());
    assert!(throttle.offer(vserport("a", 4), clock.ms(2)).is_none());
    let policy = Policy::empty().with("RTC_CHANGE", Rule::new(2 * SECOND));
    assert_eq!(lines(&throttle.set_policy(policy)), ["VSERPORT_CHANGE 4"]);
    assert_eq!(throttle.len(), 1);
    assert_eq!(expire(&mut throttle, clock.ms(1000)), ["RTC_CHANGE 3"]);
    assert_eq!(throttle.next_deadline(), Some(clock.ms(3000)));
}

#[test]
fn turning_throttling_off_flushes_and_passes_everything() {
    let clock = Clock::new();
    let mut throttle = Throttle::default();
    assert!(throttle.offer(vserport("a", 1), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(2), clock.ms(0)).is_some());
    assert!(throttle.offer(rtc(3), clock.ms(1)).is_none());
    assert!(throttle.offer(vserport("a", 4), clock.ms(2)).is_none());
    let flushed = throttle.set_enabled(false);
    assert_eq!(lines(&flushed), ["RTC_CHANGE 3", "VSERPORT_CHANGE 4"]);
    assert!(!throttle.is_enabled());
    assert!(throttle.is_empty());
    assert_eq!(throttle.next_deadline(), None);
    assert!(throttle.offer(rtc(5), clock.ms(3)).is_some());
    assert!(throttle.offer(rtc(6), clock.ms(3)).is_some());
    assert!(throttle.is_empty());
    // Back on, with the policy unchanged.
    assert!(throttle.set_enabled(true).is_empty());
    assert_eq!(throttle.policy(), &Policy::qemu());
    assert!(throttle.offer(rtc(7), clock.ms(4)).is_some());
    assert!(throttle.offer(rtc(8), clock.ms(5)).is_none());
}

#[test]
fn longest_period_arms_a_far_deadline() {
    let clock = Clock::new();
    let policy = Policy::empty().with("X", Rule::new(Duration::MAX));
    let mut throttle = Throttle::new(policy);
    assert!(throttle.offer(ev("X", None, 1), clock.ms(0)).is_some());
    assert_eq!(
        throttle.next_deadline(),
        Some(clock.ms(0) + Rule::MAX_PERIOD)
    );
}

/// `passes_at_once` says yes exactly when `offer` would hand the event
/// straight back with nothing held to go out first.
#[test]
fn passes_at_once_only_when_nothing_is_held_and_no_rule_applies() {
    let clock = Clock::new();
    let mut t = Throttle::new(Policy::qemu());
    assert!(t.passes_at_once("STOP"));
    assert!(!t.passes_at_once("RTC_CHANGE"), "a rule applies");
    assert!(t.offer(rtc(1), clock.ms(0)).is_some(), "the first goes out");
    // A period runs now: nothing passes at once, even without a rule, so
    // that whatever it holds is expired first.
    assert!(!t.passes_at_once("STOP"));
    let mut out = Vec::new();
    t.expire(clock.ms(2000), &mut out);
    t.expire(clock.ms(4000), &mut out);
    assert!(t.next_deadline().is_none());
    assert!(t.passes_at_once("STOP"));
    let flushed = t.set_enabled(false);
    assert!(flushed.is_empty());
    assert!(t.passes_at_once("RTC_CHANGE"), "throttling is off");
}
