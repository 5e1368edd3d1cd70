//! The event throttle ([`Throttle`]) alone, with a synthetic clock.
//!
//! - `offer/unthrottled`: a name without a rule (passes at once);
//! - `offer/coalesce`: `RTC_CHANGE` within its period (replaces the kept one);
//! - `offer/coalesce_keyed`: `VSERPORT_CHANGE` within its period, keyed by
//!   the `id` member of its data (found by scanning the data);
//! - `expire/none_due`: 100 armed timers, none due (the poll loop's usual
//!   call);
//! - `expire/due_kept`: 1000 periods ending with a kept event (sent, timer
//!   re-armed), per period;
//! - `expire/due_empty`: 1000 periods ending with nothing kept (state
//!   freed), per period.

use std::time::{Duration, Instant};

use criterion::{black_box, BatchSize, Criterion, Throughput};
use monitor_core::throttle::{PendingEvent, Policy, Throttle};
use monitor_core::Event;
use serde::Serialize;

/// Throttle states in the `expire/due_*` benchmarks.
const STATES: u64 = 1000;

#[derive(Serialize)]
struct Offset {
    offset: i64,
}

#[derive(Serialize)]
struct Port {
    id: String,
    open: bool,
}

fn pending(name: &'static str, data: &impl Serialize) -> PendingEvent {
    let event = Event::new(name).with_data(data).expect("serialisable");
    PendingEvent::from(&event)
}

fn port(i: u64) -> PendingEvent {
    pending(
        "VSERPORT_CHANGE",
        &Port {
            id: format!("channel{i}"),
            open: true,
        },
    )
}

/// A throttle with one `VSERPORT_CHANGE` period open per event of `ports`
/// (one key each), opened at `t0`, each holding a kept event if `kept`.
fn armed(t0: Instant, ports: &[PendingEvent], kept: bool) -> Throttle {
    let mut throttle = Throttle::new(Policy::qemu());
    for event in ports {
        assert!(throttle.offer(event.clone(), t0).is_some());
        if kept {
            assert!(throttle.offer(event.clone(), t0).is_none());
        }
    }
    throttle
}

pub fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let mut group = c.benchmark_group("throttle");

    let offers = [
        ("offer/unthrottled", pending("BENCH", &Offset { offset: 1 })),
        (
            "offer/coalesce",
            pending("RTC_CHANGE", &Offset { offset: 1 }),
        ),
        ("offer/coalesce_keyed", port(0)),
    ];
    group.throughput(Throughput::Elements(1));
    for (name, event) in offers {
        let mut throttle = Throttle::new(Policy::qemu());
        // Opens the period (if the name has a rule): later offers coalesce.
        assert!(throttle.offer(event.clone(), at(0)).is_some());
        let passes = throttle.is_empty();
        group.bench_function(name, |b| {
            b.iter_batched(
                || event.clone(),
                |event| {
                    let sent = throttle.offer(black_box(event), black_box(at(10)));
                    debug_assert_eq!(sent.is_some(), passes);
                    sent
                },
                BatchSize::SmallInput,
            )
        });
    }

    let ports: Vec<PendingEvent> = (0..STATES).map(port).collect();
    group.bench_function("expire/none_due", |b| {
        let mut throttle = armed(t0, &ports[..100], true);
        let mut out = Vec::new();
        b.iter(|| {
            throttle.expire(black_box(at(500)), &mut out);
            debug_assert!(out.is_empty());
        })
    });

    // Building the states costs more than expiring them: fewer samples, so
    // that the setup does not stretch the run.
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(STATES));
    for (name, kept) in [("expire/due_kept", true), ("expire/due_empty", false)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (armed(t0, &ports, kept), Vec::with_capacity(STATES as usize)),
                |(mut throttle, mut out)| {
                    throttle.expire(black_box(at(1000)), &mut out);
                    debug_assert_eq!(out.len(), if kept { STATES as usize } else { 0 });
                    (throttle, out)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}
