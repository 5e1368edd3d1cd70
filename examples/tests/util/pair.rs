//! The QEMU/`minimal` pair: both servers started side by side in a
//! temporary directory ([`Pair`]), and [`run_group`], which replays a
//! group of cases to both and fails listing every case that differs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::case::Case;
use super::compare::{compare, shown};
use super::server::{answers_before_terminator, Server};

/// The reference implementation.
const QEMU: &str = "qemu-system-x86_64";

/// Set to print every QEMU transcript (with `--nocapture`).
const SHOW_VAR: &str = "DIFFERENTIAL_SHOW";

/// Runs `cases` against a fresh QEMU and a fresh `minimal`; panics listing
/// every case whose normalised transcripts differ. With `DIFFERENTIAL_SHOW`
/// set, prints what QEMU answered to each case.
///
/// Returns without running anything (after saying so on stderr) when QEMU is
/// not installed, unless `CI` is set, in which case that is a failure.
pub fn run_group(group: &str, cases: Vec<Case>) {
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("{group}: duplicate case name {}", w[0]);
    }
    let Some(mut pair) = Pair::start() else {
        return;
    };
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(report) = pair.differ(group, case) {
            failures.push(report);
        }
    }
    eprintln!(
        "differential {group}: {} cases, {} differ",
        cases.len(),
        failures.len()
    );
    if !failures.is_empty() {
        panic!(
            "{group}: {} of {} cases differ from QEMU\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("monitor-diff-{}-{n}", std::process::id()));
        // A leftover from a crashed run with a recycled pid.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// QEMU and `minimal`, killed on drop; the directory goes last.
#[derive(Debug)]
pub struct Pair {
    qemu: Server,
    ours: Server,
    _dir: TempDir,
}

impl Pair {
    /// The sockets of QEMU and of `minimal`.
    pub fn sockets(&self) -> (&Path, &Path) {
        (&self.qemu.socket, &self.ours.socket)
    }

    /// Replays `case` to QEMU, then to `minimal`; a report of the first
    /// difference, or `None` when the normalised transcripts match. With
    /// `DIFFERENTIAL_SHOW` set, prints what QEMU answered.
    pub fn differ(&mut self, group: &str, case: &Case) -> Option<String> {
        let qemu = self.qemu.replay(case, None);
        if std::env::var_os(SHOW_VAR).is_some() {
            eprintln!("--- {group} / {}: qemu said", case.name);
            for line in &qemu.lines {
                eprintln!("    {}", shown(line));
            }
        }
        let ours = self
            .ours
            .replay(case, answers_before_terminator(case, &qemu));
        compare(case, &qemu, &ours)
    }

    /// Starts both (or says SKIPPED and returns `None` without QEMU, outside CI).
    pub fn start() -> Option<Pair> {
        let Some(qemu) = find_in_path(QEMU) else {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{QEMU} not found on PATH; the differential suite must run in CI (install QEMU 7.2)");
            }
            eprintln!("SKIPPED: {QEMU} not found; differential suite not run");
            return None;
        };
        let dir = TempDir::new();
        let mut qemu = Server::spawn(
            "qemu",
            &qemu,
            &[
                "-machine",
                "none",
                "-accel",
                "tcg",
                "-display",
                "none",
                "-nodefaults",
            ],
            &dir.0,
        );
        let mut ours = Server::spawn(
            "minimal",
            Path::new(env!("CARGO_BIN_EXE_minimal")),
            &[],
            &dir.0,
        );
        for server in [&mut qemu, &mut ours] {
            if let Err(e) = server.connect() {
                panic!("{e}");
            }
        }
        Some(Pair {
            qemu,
            ours,
            _dir: dir,
        })
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
