//! Bytes to the framing layer: any input, cut anywhere, under QEMU's limits
//! or small ones, gives the same frames as fed whole, never panics, and
//! every parsed value serialises to ASCII.
//!
//! Input: one byte choosing limits and the chunk size, then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor_core::stream::{Frame, Limits, Splitter};
use monitor_fuzz::take_byte;

fn render(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Ok(v) => {
                let mut out = Vec::new();
                monitor_core::wire::write_value(&mut out, v);
                assert!(
                    out.is_ascii(),
                    "non-ASCII value: {:?}",
                    String::from_utf8_lossy(&out)
                );
                format!("ok {}", String::from_utf8_lossy(&out))
            }
            Err(e) => format!("{e} at {}", e.offset()),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(control) = take_byte(&mut data) else {
        return;
    };
    let limits = if control & 0x80 != 0 {
        Limits {
            max_token_size: 64,
            max_token_count: 16,
            max_nesting: 4,
        }
    } else {
        Limits::default()
    };
    let small = control & 0x80 != 0;
    let chunk = usize::from(control & 0x7f) + 1;
    // Memory stays bounded by the limits (checked where they are small):
    // token and message text, and the token list, each at most doubled by
    // vector growth.
    let bound = 4 * (limits.max_token_size + 1) + 2 * 32 * (limits.max_token_count + 1);
    let whole = render(&Splitter::with_limits(limits).feed_all(data));
    let mut splitter = Splitter::with_limits(limits);
    let mut frames = Vec::new();
    for piece in data.chunks(chunk) {
        frames.extend(splitter.feed_all(piece));
        assert!(
            !small || splitter.buffered_bytes() <= bound,
            "the splitter holds {} bytes",
            splitter.buffered_bytes()
        );
    }
    assert_eq!(whole, render(&frames), "split into {chunk}-byte chunks");
    for f in &frames {
        if let Err(e) = f {
            assert!(
                e.offset() <= data.len() as u64,
                "offset {} past the input",
                e.offset()
            );
        }
    }
});
