//! Compile-time tests of the macros: what must compile, and the one clear
//! diagnostic each mistake gives (reviewed `.stderr` files).
//!
//! Regenerate the expected output after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p monitor-derive --test ui`, then read
//! every changed `.stderr`: the output depends on the rustc version.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
