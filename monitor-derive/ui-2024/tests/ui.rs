//! The macros' compile-time tests in edition 2024: every pass case of
//! `monitor-derive/tests/ui` (written for 2021) plus the cases here, and
//! fail cases with their diagnostics as a 2024 crate sees them.
//!
//! Edition 2024 reserves `gen`, which generated code once used with the
//! user's spans: the README's `x-add` failed with "expected expression,
//! found reserved keyword `gen`" before generated names became
//! `__monitor_*`.
//!
//! Regenerate the expected output after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p monitor-derive-ui-2024`, then read
//! every changed `.stderr`.

#[test]
fn ui_2024() {
    let t = trybuild::TestCases::new();
    t.pass("../tests/ui/pass/*.rs");
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
