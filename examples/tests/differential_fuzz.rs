//! Differential fuzzing: generated requests and mutated byte streams go to
//! QEMU 7.2 and to `minimal` side by side (the harness of `differential.rs`,
//! `util/mod.rs`), and any difference in an answer (error class, `desc`,
//! `id` echo, member order, number of lines) fails the test, naming the seed
//! and the case so that it can be replayed alone.
//!
//! A case is one of:
//! - a generated request, valid or not: commands both servers have with the
//!   same meaning (the descriptor commands without descriptors,
//!   `query-name`, `query-fdsets`, `qmp_capabilities`, and `query-version`
//!   and `query-commands`, whose results are masked), unknown commands,
//!   `execute`/`exec-oob` of every JSON type, missing, extra and mistyped
//!   arguments, numbers at the edges of every integer type, `id`s of every
//!   JSON type with nested objects, strings with escapes, surrogates,
//!   invalid UTF-8 and control bytes, members in any order, whitespace and
//!   single quotes, many unexpected arguments (GLib's table resizes), open
//!   brackets near the nesting limit; sometimes followed by a second request
//!   or cut short;
//! - such a request with bytes inserted, deleted, flipped or duplicated.
//!
//! Cases are sent in batches of `PER_BATCH` on one connection each, with
//! `\x01` and a `query-version` after each case so that every case starts
//! from a resynchronised lexer; a batch negotiates `oob`, negotiates without
//! it, or stays in negotiation mode. A batch that differs is replayed case
//! by case to name the culprits. Batches holding an `exec-oob` under `oob`
//! are compared as multisets (QEMU answers those from another thread, so
//! their order is a race there). Batches under `oob` leave out the cases
//! where one byte completes two messages: QEMU 7.2 may abort on them (see
//! [`ends_two_messages_at_once`]).
//!
//! Every case depends only on the seed and its number:
//! `DIFF_FUZZ_SEED=S` (default `DEFAULT_SEED`) and `DIFF_FUZZ_CASES=N`
//! (default `DEFAULT_CASES`, under half a minute on two cores) set the run;
//! `DIFF_FUZZ_ONLY=I` replays case `I` alone. For example, a long run:
//!
//! `DIFF_FUZZ_SEED=7 DIFF_FUZZ_CASES=50000 cargo test -p examples --test differential_fuzz -- --nocapture`
//!
//! Needs `qemu-system-x86_64` on `PATH`; without it the test prints
//! SKIPPED, except under `CI` where that is a failure.

mod util;

use std::fmt::Write as _;

use monitor_test_util::XorShift;
use util::{Case, Nego, Pair};

/// Cases run by default (a CI run).
const DEFAULT_CASES: u64 = 20_000;
/// The seed used by default, so that CI runs the same cases every time.
const DEFAULT_SEED: u64 = 0x5EED_0072;
/// Cases per connection.
const PER_BATCH: u64 = 40;
/// Failing cases reported in full.
const REPORTED: usize = 8;
/// Sent after every case of a batch: resynchronises the lexer and gets an
/// answer of its own.
const SEPARATOR: &[u8] = b"\x01{\"execute\":\"query-version\",\"id\":\"__case__\"}";

/// An argument's type.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    /// `qmp_capabilities`' `enable`: a list of capability names.
    Caps,
}

/// Commands QEMU 7.2 and `minimal` both have, with the same arguments and
/// answers when no descriptor is passed (`query-version` and
/// `query-commands` answers are masked by the harness).
const COMMANDS: &[(&str, &[(&str, Kind)])] = &[
    ("query-version", &[]),
    ("query-commands", &[]),
    ("query-name", &[]),
    ("query-fdsets", &[]),
    ("getfd", &[("fdname", Kind::Str)]),
    ("closefd", &[("fdname", Kind::Str)]),
    ("add-fd", &[("fdset-id", Kind::Int), ("opaque", Kind::Str)]),
    ("remove-fd", &[("fdset-id", Kind::Int), ("fd", Kind::Int)]),
    ("qmp_capabilities", &[("enable", Kind::Caps)]),
];

/// Names neither server has.
const UNKNOWN: &[&str] = &[
    "no-such-cmd",
    "",
    "Query-Version",
    "query-version ",
    "query_version",
    "getfd\u{0}",
    "caf\u{e9}",
];

/// Numbers at the edges of QEMU's integer and double types, and a few that
/// its lexer refuses.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "7",
    "255",
    "256",
    "-129",
    "65535",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "0.5",
    "-0.0",
    "2.5e3",
    "1E+2",
    "1e-7",
    "1e21",
    "5e-324",
    "1.7976931348623157e308",
    "1e400",
    "-1e400",
    "1e-400",
    "0.1",
    "0.30000000000000004",
];
const BAD_NUMBERS: &[&str] = &["01", "+1", ".5", "1.", "1e", "-", "0x10", "1.5e+"];

/// Member names: QEMU's request members, names that share hash buckets,
/// empty, non-ASCII, with NUL.
const KEYS: &[&str] = &[
    "a",
    "b",
    "id",
    "execute",
    "arguments",
    "exec-oob",
    "fdname",
    "fdset-id",
    "",
    "k9",
    "k10",
    "k11",
    "\\u00e9",
    "\\u0000",
    "\\ud83d\\ude00",
    "x y",
    "\\\"",
];

/// Distinct argument names, for requests with many unexpected arguments.
const MANY: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "x", "y", "z", "foo", "bar", "baz", "k0", "k1", "k2",
    "k3", "k10", "k11", "fdname2", "enable2", "\\u00e9", "",
];

/// One generator per case, from the run's seed and the case's number.
struct Gen {
    rng: XorShift,
}

impl Gen {
    fn for_case(seed: u64, case: u64) -> Gen {
        Gen {
            rng: XorShift::new(seed ^ case.wrapping_mul(0xD134_2543_DE82_EF95)),
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.chance(percent)
    }

    fn below(&mut self, n: u64) -> usize {
        self.rng.below(n) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        self.rng.pick(items)
    }

    /// Whitespace between tokens, usually none.
    fn space(&mut self, out: &mut Vec<u8>) {
        if self.chance(10) {
            let n = 1 + self.below(3);
            for _ in 0..n {
                out.push(self.pick(b" \t\r\n"));
            }
        }
    }

    /// A string literal: quotes of either kind, escapes, surrogates, UTF-8
    /// raw and invalid, control bytes (rarely: they end the message).
    fn string(&mut self, out: &mut Vec<u8>, text: &str) {
        let quote = if self.chance(10) { b'\'' } else { b'"' };
        out.push(quote);
        if self.chance(70) {
            out.extend_from_slice(text.as_bytes());
        }
        let pieces = if self.chance(60) {
            0
        } else {
            1 + self.below(4)
        };
        for _ in 0..pieces {
            let piece: &[u8] = match self.below(20) {
                0 => b"\\n",
                1 => b"\\\"",
                2 => b"\\\\",
                3 => b"\\/\\b\\f\\r\\t",
                4 => b"\\'",
                5 => b"\\u0000",
                6 => b"\\u00e9\\u00C9",
                7 => b"\\ud83d\\ude00",
                8 => b"\\ud800",
                9 => b"\\udc00x",
                10 => b"\\uFFFE",
                11 => b"\\uFDD0",
                12 => "\u{e9}\u{20ac}\u{1f600}".as_bytes(),
                13 => b"\xc3",
                14 => b"\xc0\x80",
                15 => b"\xed\xa0\x80",
                16 => b"\xff",
                17 => b"\x01",
                18 => b"\\x",
                _ => b"plain text",
            };
            // Quotes of the other kind need no escape.
            out.extend_from_slice(piece);
        }
        out.push(quote);
    }

    fn number(&mut self, out: &mut Vec<u8>) {
        if self.chance(5) {
            out.extend_from_slice(self.pick(BAD_NUMBERS).as_bytes());
        } else if self.chance(30) {
            let n = self.rng.next() % 100_000;
            let _ = write!(StrBuf(out), "{n}");
        } else {
            out.extend_from_slice(self.pick(NUMBERS).as_bytes());
        }
    }

    fn key(&mut self, out: &mut Vec<u8>) {
        let key = self.pick(KEYS);
        let mut text = key.to_owned();
        if self.chance(30) {
            text.push_str(&format!("k{}", self.below(64)));
        }
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }

    /// Any JSON value, nested at most `depth` more levels.
    fn value(&mut self, out: &mut Vec<u8>, depth: u32) {
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.below(kinds) {
            0 => out.extend_from_slice(self.pick(&["null", "true", "false"]).as_bytes()),
            1 | 2 => self.number(out),
            3 | 4 => {
                if self.chance(3) {
                    out.extend_from_slice(self.pick(&["nul", "True", "none"]).as_bytes());
                } else {
                    let text = self.pick(&["x", "", "__case", "a b", "query-version"]);
                    self.string(out, text);
                }
            }
            5 => {
                out.push(b'[');
                let n = self.below(4);
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.space(out);
                    self.value(out, depth - 1);
                }
                out.push(b']');
            }
            _ => self.object(out, depth - 1),
        }
    }

    /// An object of random members (duplicates are possible: a parse error).
    fn object(&mut self, out: &mut Vec<u8>, depth: u32) {
        out.push(b'{');
        let n = self.below(6);
        for i in 0..n {
            if i > 0 {
                out.push(b',');
            }
            self.space(out);
            self.key(out);
            self.space(out);
            out.push(b':');
            self.space(out);
            self.value(out, depth);
        }
        out.push(b'}');
    }

    /// A value of the argument's type, or (sometimes) of another.
    fn argument(&mut self, out: &mut Vec<u8>, kind: Kind) {
        if self.chance(25) {
            return self.value(out, 1);
        }
        match kind {
            Kind::Str => {
                let text = self.pick(&["fd1", "x", "", "fdset-id:0"]);
                self.string(out, text);
            }
            Kind::Int => self.number(out),
            Kind::Caps => {
                out.push(b'[');
                let n = self.below(3);
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    let name = self.pick(&["oob", "oob", "bogus", ""]);
                    self.string(out, name);
                }
                out.push(b']');
            }
        }
    }

    /// A request: members in any order, each right, wrong or missing.
    fn request(&mut self, out: &mut Vec<u8>) {
        if self.chance(4) {
            return self.value(out, 2);
        }
        let (name, args) = if self.chance(85) {
            self.pick(COMMANDS)
        } else {
            (self.pick(UNKNOWN), &[][..])
        };
        let mut members: Vec<Vec<u8>> = Vec::new();
        let mut member = |g: &mut Gen, key: &str, value: &dyn Fn(&mut Gen, &mut Vec<u8>)| {
            let mut m = Vec::new();
            g.string(&mut m, key);
            // Member names keep to double quotes and plain text mostly;
            // `string` may have decorated it, which is a case too.
            g.space(&mut m);
            m.push(b':');
            g.space(&mut m);
            value(g, &mut m);
            members.push(m);
        };
        let command = |g: &mut Gen, out: &mut Vec<u8>| {
            if g.chance(92) {
                g.string(out, name);
            } else {
                g.value(out, 1);
            }
        };
        let oob = self.chance(12);
        if (!oob || self.chance(10)) && self.chance(95) {
            member(self, "execute", &command);
        }
        if oob {
            member(self, "exec-oob", &command);
        }
        if self.chance(55) {
            member(self, "arguments", &|g: &mut Gen, out: &mut Vec<u8>| {
                if g.chance(6) {
                    return g.value(out, 1);
                }
                out.push(b'{');
                let mut first = true;
                for &(arg, kind) in args {
                    if g.chance(70) {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.push(b'"');
                        out.extend_from_slice(arg.as_bytes());
                        out.extend_from_slice(b"\":");
                        g.argument(out, kind);
                    }
                }
                let extra = if g.chance(25) { 1 + g.below(3) } else { 0 };
                for _ in 0..extra {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    g.key(out);
                    out.push(b':');
                    g.value(out, 1);
                }
                // Many unexpected arguments: which one QEMU names depends
                // on its GLib hash table, resized as it grows.
                if g.chance(8) {
                    let mut names = MANY.to_vec();
                    let n = 4 + g.below(names.len() as u64 - 3);
                    for i in 0..n {
                        let j = i + g.below((names.len() - i) as u64);
                        names.swap(i, j);
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.push(b'"');
                        out.extend_from_slice(names[i].as_bytes());
                        out.extend_from_slice(b"\":1");
                    }
                }
                out.push(b'}');
            });
        }
        if self.chance(65) {
            member(self, "id", &|g: &mut Gen, out: &mut Vec<u8>| {
                g.value(out, 3)
            });
        }
        if self.chance(5) {
            let key = self.pick(&["extra", "Execute", "control"]);
            member(self, key, &|g: &mut Gen, out: &mut Vec<u8>| g.value(out, 1));
        }
        // Any order of members.
        for i in (1..members.len()).rev() {
            let j = self.below(i as u64 + 1);
            members.swap(i, j);
        }
        self.space(out);
        out.push(b'{');
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.space(out);
            out.extend_from_slice(m);
        }
        out.push(b'}');
        self.space(out);
    }

    /// Bytes inserted, deleted, flipped or duplicated.
    fn mutate(&mut self, bytes: &mut Vec<u8>) {
        let n = 1 + self.below(4);
        for _ in 0..n {
            let at = self.below(bytes.len() as u64 + 1);
            match self.below(4) {
                0 => {
                    let byte = self.pick(&[
                        b'{', b'}', b'[', b']', b':', b',', b'"', b'\'', b'\\', b'0', b'9', b'-',
                        b'e', b'.', b'a', b' ', b'\n', 0x00, 0x01, 0x1b, 0x7f, 0xc3, 0xfe, 0xff,
                    ]);
                    bytes.insert(at, byte);
                }
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                2 if at < bytes.len() => bytes[at] ^= 1 << self.below(8),
                _ if at < bytes.len() => {
                    let len = (1 + self.below(8)).min(bytes.len() - at);
                    let copy = bytes[at..at + len].to_vec();
                    bytes.splice(at..at, copy);
                }
                _ => {}
            }
        }
    }

    /// One case's bytes.
    fn case(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        // Near the nesting limit (1024 open brackets are accepted).
        if self.chance(2) {
            let depth = 1020 + self.below(8);
            out.resize(out.len() + depth, b'[');
        }
        self.request(&mut out);
        if self.chance(10) {
            self.request(&mut out);
        }
        if self.chance(4) {
            let keep = self.below(out.len() as u64);
            out.truncate(keep);
        }
        if self.chance(30) {
            self.mutate(&mut out);
        }
        out
    }
}

/// `write!` into a byte vector.
struct StrBuf<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for StrBuf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// How batch `batch` negotiates.
fn nego(seed: u64, batch: u64) -> Nego {
    let mut rng = XorShift::new(seed ^ batch.wrapping_mul(0x9E37_79B9) ^ 0xBA7C);
    match rng.below(10) {
        0..=4 => Nego::Oob,
        5..=7 => Nego::Plain,
        _ => Nego::None,
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={text}: {e}")))
}

/// Whether some byte of `bytes` (a case and its separator) completes two
/// messages at once, as the `}` of `1}` does. QEMU 7.2 aborts when that
/// happens with `oob` enabled and seven in-band requests queued: it
/// suspends reading at the eighth but queues the ninth from the same byte
/// (`handle_qmp_command: Assertion 'mon->qmp_requests->length <
/// QMP_REQ_QUEUE_LEN_MAX' failed`). How full its queue is depends on its
/// threads' timing, so batches with `oob` leave such cases out; the
/// other batches run them.
fn ends_two_messages_at_once(bytes: &[u8]) -> bool {
    // Byte by byte: the splitter hands out the message a byte ends without
    // consuming that byte when the byte is a message too.
    let mut splitter = monitor_core::stream::Splitter::new();
    let mut held = false;
    let mut i = 0;
    while i < bytes.len() {
        let (used, frame) = splitter.next_frame(&bytes[i..=i]);
        if used == 0 {
            held = true;
            continue;
        }
        if held && frame.is_some() {
            return true;
        }
        held = false;
        i += 1;
    }
    false
}

/// A batch's cases (or one) as a harness case.
fn harness_case(name: String, nego: Nego, cases: &[Vec<u8>]) -> Case {
    let mut input = Vec::new();
    for case in cases {
        input.extend_from_slice(case);
        input.extend_from_slice(SEPARATOR);
    }
    let oob_race = nego == Nego::Oob && input.windows(8).any(|w| w == b"exec-oob");
    let case = Case::new(name, nego, input);
    if oob_race {
        case.unordered()
    } else {
        case
    }
}

#[test]
fn generated_and_mutated_requests_match_qemu() {
    // Lexing 1024-deep cases recurses: give the checks the monitor's stack.
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(run)
        .expect("spawn the fuzzing thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn run() {
    let seed = env_u64("DIFF_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("DIFF_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let only = env_u64("DIFF_FUZZ_ONLY");
    let Some(mut pair) = Pair::start() else {
        return;
    };
    let replay = |i: u64| format!("DIFF_FUZZ_SEED={seed:#x} DIFF_FUZZ_ONLY={i}");
    let mut failing: Vec<String> = Vec::new();
    let mut differing = 0;
    let mut skipped = 0;
    let batches: Vec<(u64, u64)> = match only {
        Some(i) => vec![(i, i + 1)],
        None => (0..count)
            .step_by(PER_BATCH as usize)
            .map(|start| (start, (start + PER_BATCH).min(count)))
            .collect(),
    };
    for (start, end) in batches {
        let nego = nego(seed, start / PER_BATCH);
        let (cases, left_out): (Vec<_>, Vec<_>) = (start..end)
            .map(|i| (i, Gen::for_case(seed, i).case()))
            .partition(|(_, bytes)| {
                nego != Nego::Oob || !ends_two_messages_at_once(&[bytes, SEPARATOR].concat())
            });
        skipped += left_out.len();
        let (numbers, cases): (Vec<u64>, Vec<Vec<u8>>) = cases.into_iter().unzip();
        let batch = harness_case(format!("cases {start}..{end}"), nego, &cases);
        if pair.differ("fuzz", &batch).is_none() {
            continue;
        }
        // Name the cases that differ on their own.
        let mut named = false;
        for (&i, bytes) in numbers.iter().zip(&cases) {
            let case = harness_case(format!("case {i}"), nego, std::slice::from_ref(bytes));
            if let Some(report) = pair.differ("fuzz", &case) {
                named = true;
                differing += 1;
                if failing.len() < REPORTED {
                    failing.push(format!("--- {}\n{report}", replay(i)));
                }
            }
        }
        if !named {
            differing += 1;
            let report = pair.differ("fuzz", &batch).unwrap_or_else(|| {
                "(the batch matched when replayed: a race on one side)".to_owned()
            });
            if failing.len() < REPORTED {
                failing.push(format!(
                    "--- DIFF_FUZZ_SEED={seed:#x} DIFF_FUZZ_CASES={end}: cases {start}..{end} \
                     differ together, none alone\n{report}"
                ));
            }
        }
    }
    let run = match only {
        Some(i) => format!("case {i}"),
        None => format!("{count} cases"),
    };
    eprintln!(
        "differential fuzz: seed {seed:#x}, {run}, {differing} differ \
         ({skipped} left out of batches with oob, see ends_two_messages_at_once)"
    );
    assert!(
        failing.is_empty(),
        "seed {seed:#x}: {differing} of {run} differ from QEMU 7.2 (replay one with the \
         variables shown)\n\n{}",
        failing.join("\n")
    );
}
