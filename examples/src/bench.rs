//! The benchmarks' event source, behind both examples' `x-bench-events`.

use monitor_core::pending::Completion;
use monitor_core::{CommandError, Emitter, Event, Timestamp};

/// The most events one `x-bench-events` may ask for (a million keeps one
/// call bounded).
pub const MAX_EVENTS: u64 = 1_000_000;

/// The most bytes of events one `x-bench-events` may emit: `count` times
/// the size of one event on the wire. The monitor keeps events once for
/// every client, and queues at most 128 MiB of them between `emit` and
/// its thread (`monitor_core::EVENT_QUEUE_BYTES`): this keeps one
/// call under that, a million events without data included.
pub const MAX_BYTES: u64 = 128 << 20;

/// What an event takes on the wire besides its name and data:
/// `{"timestamp": {"seconds": S, "microseconds": U}, "event": "", "data": }`
/// and `\r\n`, with room for the widest numbers.
const EVENT_OVERHEAD: u64 = 96;

/// Emits `count` events named `event` (default `BENCH`) with `data`, as
/// fast as the emitter allows, through the same path (and throttle) as
/// any event.
///
/// # Errors
///
/// A `GenericError` if `count` is above [`MAX_EVENTS`], if `count` events
/// of this size are more than [`MAX_BYTES`], or if `data` is not an
/// object.
///
/// # Examples
///
/// ```
/// use monitor_core::Monitor;
/// use serde_json::json;
///
/// let builder = Monitor::builder();
/// let emitter = builder.emitter().clone();
/// examples::bench::emit_events(&emitter, 3, None, None).unwrap();
/// assert!(examples::bench::emit_events(&emitter, 1_000_001, None, None).is_err());
/// let blob = json!({"blob": "x".repeat(1 << 20)});
/// assert!(examples::bench::emit_events(&emitter, 200, None, Some(blob)).is_err());
/// ```
pub fn emit_events(
    emitter: &Emitter,
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
) -> Result<(), CommandError> {
    let event = checked_event(count, event, data)?;
    for _ in 0..count {
        emitter.emit(event.clone().at(Timestamp::now()));
    }
    Ok(())
}

/// [`emit_events`] from a thread of its own, as a VMM's device threads
/// emit, so the monitor thread keeps serving every client meanwhile; `done`
/// answers once the last event is emitted (so a client's next request runs
/// after all of them). The arguments are checked before the thread starts.
///
/// # Examples
///
/// ```
/// use monitor_core::{pending::Completion, qmp_command, CommandError, Emitter};
///
/// #[qmp_command(name = "x-my-bench-events")]
/// fn x_my_bench_events(count: u64, emitter: &Emitter, done: Completion<()>) {
///     examples::bench::spawn_events(emitter, count, None, None, done);
/// }
/// ```
pub fn spawn_events(
    emitter: &Emitter,
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
    done: Completion<()>,
) {
    let event = match checked_event(count, event, data) {
        Ok(event) => event,
        Err(e) => return done.complete(Err::<(), _>(e)),
    };
    let emitter = emitter.clone();
    std::thread::spawn(move || {
        for _ in 0..count {
            emitter.emit(event.clone().at(Timestamp::now()));
        }
        done.complete(Ok::<(), CommandError>(()));
    });
}

/// The event `count` copies of which are emitted, once the bounds are
/// checked.
fn checked_event(
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
) -> Result<Event, CommandError> {
    if count > MAX_EVENTS {
        return Err(CommandError::generic(format!(
            "Parameter 'count' expects at most {MAX_EVENTS}"
        )));
    }
    let name = event.unwrap_or_else(|| "BENCH".to_owned());
    // Serialised once, and measured before anything is emitted.
    let event = match &data {
        Some(d) => Event::new(name.clone()).with_data(d)?,
        None => Event::new(name.clone()),
    };
    let data_bytes = event.data().map_or(0, |d| d.as_bytes().len());
    let size = EVENT_OVERHEAD + (name.len() + data_bytes) as u64;
    if count.saturating_mul(size) > MAX_BYTES {
        return Err(CommandError::generic(format!(
            "Parameter 'count' expects at most {} for events of {size} bytes \
             ({} MiB of events in all)",
            MAX_BYTES / size,
            MAX_BYTES >> 20
        )));
    }
    Ok(event)
}
