//! Benchmarks of the monitor. Run `cargo bench -p benches`.
//!
//! `benches/main.rs` holds the criterion benchmarks, one module per area.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// A request of about `size` bytes: `query-version` with a padded string `id`.
///
/// # Examples
///
/// ```
/// let r = benches::padded_request(512);
/// assert_eq!(r.len(), 512);
/// ```
pub fn padded_request(size: usize) -> Vec<u8> {
    let head = br#"{"execute": "query-version", "id": ""#;
    let tail = br#""}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head);
    out.resize(head.len() + pad, b'x');
    out.extend_from_slice(tail);
    out
}
