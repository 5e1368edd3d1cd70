//! Nothing to build: this crate exists for its tests, which compile the
//! macros' test cases in edition 2024 (trybuild takes the edition of the
//! crate that runs it). `monitor-derive`'s own `tests/ui.rs` runs the same
//! cases in edition 2021.
