//! Stream framing: a small request and a 1 MiB one, in bytes per second.

use criterion::{black_box, Criterion, Throughput};
use monitor_core::stream::Splitter;

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let small = benches::padded_request(64);
    let big = benches::padded_request(1 << 20);
    for (name, input) in [("small", &small), ("1MiB", &big)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            let mut splitter = Splitter::new();
            b.iter(|| {
                let frames = splitter.feed_all(black_box(input));
                assert_eq!(frames.len(), 1);
                frames
            })
        });
    }
    group.finish();
}
