//! Events.
//!
//! - `emit`: [`Emitter::emit`] of a small event with data, then
//!   [`EventReceiver::take_due`](monitor_core::EventReceiver::take_due): building, serialising once, queueing and passing
//!   the throttle, per event, on one thread with no monitor.
//! - `fanout/N`: an in-process monitor on a unix socket with N negotiated
//!   clients, each read by its own thread; one iteration emits a batch of
//!   [`BATCH`] events and waits until every client has read all of them.
//!   The rig is built once per client count, outside the measurement.

use std::time::{Duration, Instant};

use benches::fanout::{Fanout, EVENT};
use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use monitor_core::{Emitter, Event};
use serde::Serialize;

/// Events per fan-out iteration.
const BATCH: u64 = 100;

/// Client counts of the fan-out benchmark.
const CLIENTS: [usize; 3] = [1, 8, 64];

#[derive(Serialize)]
struct BenchData {
    device: &'static str,
    offset: i64,
}

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("events");

    group.throughput(Throughput::Elements(1));
    group.bench_function("emit", |b| {
        let emitter = Emitter::new();
        let events = emitter.receiver().expect("a fresh emitter's receiver");
        let now = Instant::now();
        let data = BenchData {
            device: "virtio-disk0",
            offset: 4096,
        };
        b.iter(|| {
            let event = Event::new(EVENT).with_data(black_box(&data));
            emitter.emit(event.expect("serialisable"));
            let lines = events.take_due(now);
            debug_assert_eq!(lines.len(), 1);
            lines
        })
    });

    // A batch takes milliseconds: fewer, longer samples.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(BATCH));
    for clients in CLIENTS {
        let mut rig = Fanout::start(clients).expect("fan-out rig");
        group.bench_with_input(BenchmarkId::new("fanout", clients), &BATCH, |b, &batch| {
            b.iter(|| rig.emit_and_wait(black_box(batch)))
        });
        let received = rig.received();
        // Every client got every event (none at all when a filter skipped it).
        assert!(received.iter().all(|&n| n == received[0]));
    }
    group.finish();
}
