//! The benchmarks' event source, behind both examples' `x-bench-events`.

use monitor_core::{CommandError, Emitter, Event};

/// The most events one `x-bench-events` may ask for (the monitor's event
/// queue holds 65,536 before it drops the oldest; a million keeps one call
/// bounded).
pub const MAX_EVENTS: u64 = 1_000_000;

/// Emits `count` events named `event` (default `BENCH`) with `data`, as
/// fast as the emitter allows, through the same path (and throttle) as
/// any event.
///
/// # Errors
///
/// A `GenericError` if `count` is above [`MAX_EVENTS`] or `data` is not an
/// object.
///
/// # Examples
///
/// ```
/// use monitor_core::Monitor;
///
/// let builder = Monitor::builder();
/// let emitter = builder.emitter();
/// examples::bench::emit_events(&emitter, 3, None, None).unwrap();
/// assert!(examples::bench::emit_events(&emitter, 1_000_001, None, None).is_err());
/// ```
pub fn emit_events(
    emitter: &Emitter,
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
) -> Result<(), CommandError> {
    if count > MAX_EVENTS {
        return Err(CommandError::generic(format!(
            "Parameter 'count' expects at most {MAX_EVENTS}"
        )));
    }
    let name = event.unwrap_or_else(|| "BENCH".to_owned());
    for _ in 0..count {
        let e = Event::new(name.clone());
        emitter.emit(match &data {
            Some(d) => e.with_data(d)?,
            None => e,
        });
    }
    Ok(())
}
