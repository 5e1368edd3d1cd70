//! The console driven with plain bytes: QEMU's bytes for typed keys, the
//! visible result (through a tiny terminal) for everything else.

use std::sync::Mutex;

use monitor_core::{Emitter, Registry, StateMap};

use super::screen::Screen;
use super::*;

const BANNER: &str = "QEMU 7.2.22 monitor - type 'help' for more information";

/// Knows a few of QEMU's commands; records the lines it runs.
#[derive(Default)]
struct TestRunner {
    ran: Mutex<Vec<String>>,
}

const COMMANDS: &[&str] = &[
    "help", "info", "q", "qemu-io", "qom-get", "qom-list", "qom-set", "quit",
];
const INFO: &[&str] = &["stats", "status", "version"];

impl LineRunner for TestRunner {
    fn run(&self, _: &Dispatcher, _: &SessionInfo, line: &str) -> (String, ConsoleEffects) {
        self.ran.lock().unwrap().push(line.to_owned());
        let none = ConsoleEffects::default();
        match line.trim() {
            "info status" => ("VM status: running\n".into(), none),
            "quit" => (
                String::new(),
                ConsoleEffects {
                    quit: true,
                    close: false,
                },
            ),
            "logout" => (
                "bye\n".into(),
                ConsoleEffects {
                    quit: false,
                    close: true,
                },
            ),
            "two" => ("one\ntwo".into(), none),
            "crlf" => ("a\r\nb\r\n".into(), none),
            "panic" => panic!("the runner panicked on purpose"),
            other => {
                let name = other.split_whitespace().next().unwrap_or_default();
                (format!("unknown command: '{name}'\n"), none)
            }
        }
    }

    fn complete(&self, _: &Dispatcher, line: &str) -> Vec<String> {
        if line == "panic" {
            panic!("completion panicked on purpose");
        }
        let (list, word) = match line.strip_prefix("info ") {
            Some(word) => (INFO, word),
            None if line.contains(' ') => return vec!["/tmp/".into()],
            None => (COMMANDS, line),
        };
        list.iter()
            .filter(|c| c.starts_with(word))
            .map(|c| c.to_string())
            .collect()
    }

    fn banner(&self, _: &Dispatcher) -> String {
        BANNER.into()
    }
}

struct Harness {
    runner: Arc<TestRunner>,
    console: HmpConsole<TestRunner>,
    dispatcher: Dispatcher,
    screen: Screen,
}

impl Harness {
    fn new() -> Self {
        Self::with_factory(|f| f)
    }

    fn with_factory(
        configure: impl FnOnce(HmpConsoleFactory<TestRunner>) -> HmpConsoleFactory<TestRunner>,
    ) -> Self {
        let runner = Arc::new(TestRunner::default());
        let factory = configure(HmpConsoleFactory::new(Arc::clone(&runner)));
        let session = SessionInfo {
            id: 1,
            listener: "test".into(),
            oob: false,
        };
        let mut h = Harness {
            runner,
            console: factory.console(&session),
            dispatcher: Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new()),
            screen: Screen::default(),
        };
        let mut out = Vec::new();
        h.console.start(&h.dispatcher, &mut out);
        h.screen.feed(&out);
        h
    }

    /// Sends one read's worth of bytes; returns the output and effects.
    fn send(&mut self, bytes: &[u8]) -> (String, ConsoleEffects) {
        let mut out = Vec::new();
        let effects = self
            .console
            .input(&self.dispatcher, bytes, &mut out, usize::MAX)
            .effects;
        self.screen.feed(&out);
        (String::from_utf8(out).unwrap(), effects)
    }

    /// Sends and returns the output only.
    fn out(&mut self, bytes: &[u8]) -> String {
        self.send(bytes).0
    }

    /// Sends each key as its own read, as a terminal does when typing.
    fn typed(&mut self, text: &str) -> String {
        text.bytes().map(|b| self.out(&[b])).collect()
    }

    fn ran(&self) -> Vec<String> {
        self.runner.ran.lock().unwrap().clone()
    }
}

#[test]
fn start_sends_the_banner_and_the_prompt() {
    let runner = Arc::new(TestRunner::default());
    let mut console = HmpConsoleFactory::new(runner).console(&SessionInfo {
        id: 7,
        listener: "x".into(),
        oob: false,
    });
    let dispatcher = Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new());
    let mut out = Vec::new();
    console.start(&dispatcher, &mut out);
    assert_eq!(
        out,
        b"QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) "
    );
}

#[test]
fn typed_keys_give_qemus_bytes() {
    // Each pair: one read and what QEMU 7.2 answered to it.
    let mut h = Harness::new();
    let transcript: &[(&[u8], &str)] = &[
        (b"a", "a\x1b[K"),
        (b"b", "\x1b[Dab\x1b[K"),
        (b"c", "\x1b[D\x1b[Dabc\x1b[K"),
        (b"\x7f", "\x1b[D\x1b[D\x1b[Dab\x1b[K"),
        (b"\x08", "\x1b[D\x1b[Da\x1b[K"),
        (b"\x1b[D", "\x1b[D"),
        (b"\x1b[C", "\x1b[C"),
        (b"\x1b[D", "\x1b[D"),
        (b"X", "Xa\x1b[K\x1b[D"),
        (b"\x01", "\x1b[D"),
        (b"\x05", "\x1b[C\x1b[C"),
        (b"\x1b[1~", "\x1b[D\x1b[D"),
        (b"\x1b[4~", "\x1b[C\x1b[C"),
        (b"\x1bOH", "\x1b[D\x1b[D"),
        (b"\x1bOF", "\x1b[C\x1b[C"),
        (b"\x01", "\x1b[D\x1b[D"),
        (b"\x1b[3~", "a\x1b[K\x1b[D"),
        (b"\x04", "\x1b[K"),
        (b"\x1b[A", ""),
        (b"\x1b", ""),
        (b"[", ""),
        (b"D", ""),
    ];
    for (input, qemu) in transcript {
        assert_eq!(h.out(input), *qemu, "after {input:?}");
    }
}

#[test]
fn enter_runs_the_line_and_up_recalls_it_as_qemu() {
    let mut h = Harness::new();
    h.typed("info status");
    assert_eq!(h.out(b"\r"), "\r\nVM status: running\r\n(qemu) ");
    assert_eq!(h.out(b"\x1b[A"), "info status\x1b[K");
    assert_eq!(h.out(b"\r"), "\r\nVM status: running\r\n(qemu) ");
    h.typed("abc");
    assert_eq!(h.out(b"\r"), "\r\nunknown command: 'abc'\r\n(qemu) ");
    assert_eq!(h.ran(), ["info status", "info status", "abc"]);
}

#[test]
fn quit_prints_a_newline_and_no_prompt_and_ignores_the_rest() {
    let mut h = Harness::new();
    h.typed("quit");
    let (out, effects) = h.send(b"\rinfo status\r");
    assert_eq!(out, "\r\n");
    assert!(effects.quit && !effects.close);
    assert_eq!(
        h.send(b"info status\r"),
        (String::new(), ConsoleEffects::default())
    );
    assert_eq!(h.ran(), ["quit"]);
}

#[test]
fn a_command_may_close_its_console() {
    let mut h = Harness::new();
    let (out, effects) = h.send(b"logout\rinfo status\r");
    assert!(out.ends_with("\r\nbye\r\n"), "{out:?}");
    assert!(effects.close && !effects.quit);
    assert_eq!(h.ran(), ["logout"]);
}

#[test]
fn output_lines_end_with_crlf_and_a_final_newline_is_added() {
    let mut h = Harness::new();
    assert!(h.out(b"two\r").ends_with("\r\none\r\ntwo\r\n(qemu) "));
    assert!(h.out(b"crlf\r").ends_with("\r\na\r\nb\r\n(qemu) "));
}

#[test]
fn cr_lf_runs_one_line() {
    let mut h = Harness::new();
    let out = h.out(b"info status\r\n");
    assert!(
        out.ends_with("\r\nVM status: running\r\n(qemu) "),
        "{out:?}"
    );
    assert_eq!(h.out(b"\n"), "\r\n(qemu) ");
    assert_eq!(h.ran(), ["info status"]);
}

#[test]
fn blank_lines_are_not_run_but_enter_the_history() {
    let mut h = Harness::new();
    assert_eq!(h.out(b"\r"), "\r\n(qemu) ");
    assert_eq!(h.out(b"   \r"), "   \x1b[K\r\n(qemu) ");
    assert!(h.ran().is_empty());
    assert_eq!(h.console.editor.history(), ["   "]);
}

#[test]
fn tab_with_one_candidate_completes_the_word_and_adds_a_space() {
    let mut h = Harness::new();
    // QEMU 7.2, typing "inf" then TAB.
    assert_eq!(
        h.typed("inf\t"),
        "i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinf\x1b[K\x1b[D\x1b[D\x1b[Dinfo \x1b[K"
    );
    h.typed("vers\t");
    assert_eq!(h.screen.line(), "(qemu) info version ");
    // A candidate ending with '/' gets no space.
    h.out(b"\x15x \t");
    assert_eq!(h.screen.line(), "(qemu) x /tmp/");
}

#[test]
fn tab_completes_the_word_before_the_cursor() {
    let mut h = Harness::new();
    h.out(b"qu status\x01\x1b[C\x1b[C\t");
    assert_eq!(h.screen.line(), "(qemu) quit  status");
    assert_eq!(h.screen.col(), "(qemu) quit ".len());
}

#[test]
fn tab_with_several_candidates_lists_them_as_qemu() {
    let mut h = Harness::new();
    assert_eq!(
        h.typed("q\t"),
        "q\x1b[K\r\nq         qemu-io   qom-get   qom-list  qom-set   quit      \r\n(qemu) q\x1b[K"
    );
    h.out(b"\x7f");
    h.typed("info st");
    assert_eq!(
        h.out(b"\t"),
        "\r\nstats     status    \r\n(qemu) info stat\x1b[K"
    );
}

#[test]
fn tab_with_several_candidates_keeps_the_cursor_in_place() {
    let mut h = Harness::new();
    // QEMU 7.2: "inf", Ctrl-A, TAB lists every command and redraws "inf"
    // with the cursor back at the start.
    h.typed("inf\x01");
    let out = h.out(b"\t");
    assert!(out.starts_with("\r\nhelp      info      q  "), "{out:?}");
    assert!(
        out.ends_with("\r\n(qemu) inf\x1b[K\x1b[D\x1b[D\x1b[D"),
        "{out:?}"
    );
}

#[test]
fn tab_without_candidates_changes_nothing() {
    let mut h = Harness::new();
    h.typed("zz");
    assert_eq!(h.out(b"\t"), "");
    // A runner that panics while completing offers nothing.
    h.out(b"\x15panic");
    assert_eq!(h.out(b"\t"), "");
}

#[test]
fn ctrl_l_clears_the_screen_and_redraws_as_qemu() {
    let mut h = Harness::new();
    h.typed("abc\x1b[D");
    assert_eq!(h.out(b"\x0c"), "\x1b[2J\x1b[1;1H(qemu) abc\x1b[K\x1b[D");
    assert_eq!(h.screen.text(), "(qemu) abc");
}

#[test]
fn ctrl_c_abandons_the_line() {
    let mut h = Harness::new();
    h.typed("info st\x01");
    assert_eq!(
        h.out(b"\x03"),
        "\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C^C\r\n(qemu) "
    );
    assert_eq!(
        h.screen.text(),
        format!("{BANNER}\n(qemu) info st^C\n(qemu)")
    );
    assert_eq!(h.out(b"\r"), "\r\n(qemu) ");
    assert!(h.ran().is_empty());
    assert!(h.console.editor.history().is_empty());
}

#[test]
fn ctrl_d_deletes_and_closes_only_an_empty_line() {
    let mut h = Harness::new();
    h.typed("ab\x01");
    assert_eq!(h.send(b"\x04").1, ConsoleEffects::default());
    assert_eq!(h.screen.line(), "(qemu) b");
    let (out, effects) = h.send(b"\x04\x04info status\r");
    assert_eq!(out, "\x1b[K\r\n");
    assert!(effects.close && !effects.quit);
    assert_eq!(
        h.send(b"info status\r"),
        (String::new(), ConsoleEffects::default())
    );
    assert!(h.ran().is_empty());
}

#[test]
fn kill_keys_edit_the_line() {
    let mut h = Harness::new();
    h.out(b"info status now\x17");
    assert_eq!(h.screen.line(), "(qemu) info status ");
    h.out(b"\x01\x1b[C\x1b[C\x0b");
    assert_eq!(h.screen.line(), "(qemu) in");
    h.out(b"\x1b[D\x15");
    assert_eq!(h.screen.line(), "(qemu) n");
    assert_eq!(h.screen.col(), "(qemu) ".len());
    h.out(b"\x06\x02\x02X");
    assert_eq!(h.screen.line(), "(qemu) Xn");
}

#[test]
fn history_is_per_console_bounded_and_browsable_with_ctrl_p_and_ctrl_n() {
    let mut h = Harness::new();
    h.out(b"one\rtwo\rone\r");
    h.out(b"\x10");
    assert_eq!(h.screen.line(), "(qemu) one");
    h.out(b"\x10");
    assert_eq!(h.screen.line(), "(qemu) two");
    h.out(b"\x10");
    assert_eq!(h.screen.line(), "(qemu) two");
    h.out(b"\x0e\x0e");
    assert_eq!(h.screen.line(), "(qemu) ");
    let mut other = Harness::new();
    other.out(b"\x1b[A");
    assert_eq!(other.screen.line(), "(qemu) ");
}

#[test]
fn a_panicking_runner_prints_an_error_and_the_console_goes_on() {
    let mut h = Harness::new();
    let out = h.out(b"panic\r");
    assert!(
        out.ends_with("\r\nThe command has failed unexpectedly\r\n(qemu) "),
        "{out:?}"
    );
    assert!(h
        .out(b"info status\r")
        .ends_with("VM status: running\r\n(qemu) "));
}

#[test]
fn utf8_split_across_reads_is_one_character() {
    let mut h = Harness::new();
    assert_eq!(h.out(b"\xc3"), "");
    assert_eq!(h.out(b"\xa9"), "é\x1b[K");
    h.out(b"\xe2\x82");
    h.out(b"\xac\x1b[D");
    assert_eq!(h.screen.line(), "(qemu) é€");
    assert_eq!(h.screen.col(), "(qemu) é".chars().count());
    h.out(b"\r");
    assert_eq!(h.ran(), ["é€"]);
}

#[test]
fn bytes_that_are_not_utf8_reach_the_runner_and_come_back_as_they_came() {
    let mut h = Harness::new();
    let mut out = Vec::new();
    let done = h
        .console
        .input(&h.dispatcher, b"q\xb4\r\n", &mut out, usize::MAX);
    assert_eq!(done.used, 4);
    assert_eq!(done.effects, ConsoleEffects::default());
    // As QEMU 7.2: the byte echoed, then an unknown command quoting it.
    assert!(
        out.ends_with(b"q\xb4\x1b[K\r\nunknown command: 'q\xb4'\r\n(qemu) "),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(h.ran(), ["q\u{EFB4}"]);
}

#[test]
fn input_stops_after_the_key_whose_output_passes_the_room() {
    let keys = b"info \t\t\tstatu\t\r";
    let mut whole = Harness::new();
    whole.out(keys);
    let mut h = Harness::new();
    let mut rest: &[u8] = keys;
    let mut batches = 0;
    while !rest.is_empty() {
        let mut out = Vec::new();
        let done = h.console.input(&h.dispatcher, rest, &mut out, 1);
        assert!(done.used > 0 && done.used <= rest.len());
        h.screen.feed(&out);
        rest = &rest[done.used..];
        batches += 1;
    }
    // Each TAB listing passes a room of one byte: one batch up to each
    // of the three TABs, then the rest (the last TAB completes in place).
    assert_eq!(batches, 4);
    assert_eq!(h.screen.text(), whole.screen.text());
    assert_eq!(h.ran(), ["info status "]);
}

#[test]
fn a_custom_prompt_is_used_everywhere() {
    let mut h = Harness::with_factory(|f| f.with_prompt("(vmm) "));
    assert_eq!(h.screen.text(), format!("{BANNER}\n(vmm)"));
    assert!(h.out(b"x\r").ends_with("\r\n(vmm) "));
    assert!(h.out(b"q\t").ends_with("\r\n(vmm) q\x1b[K"));
}

/// A small deterministic generator for random splits.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn whole_bytewise_and_random_splits_look_the_same() {
    let script: &[u8] = "info st\tu\x1b[D\x1b[Cxx\x7f\x7fs\r\
        \x1b[A\x1b[1;5D\x1b[3~\x01\x1bOF é\x17\r\
        q\t\x7fhelp\x1b[D\x1b[D\x0b\x15info status\r\n\
        \x1b[A\x1b[A\x1b[B\r\x0cinf\t\x03abc\x1b[H\x04\r"
        .as_bytes();

    let run = |chunks: &[&[u8]]| {
        let mut h = Harness::new();
        for chunk in chunks {
            h.send(chunk);
        }
        (h.screen.text(), h.screen.col(), h.ran())
    };
    let whole = run(&[script]);
    assert_eq!(
        whole.2,
        [
            "info status",
            "info statu ",
            "info status",
            "info status",
            "bc"
        ]
    );
    assert!(
        whole
            .0
            .ends_with("(qemu) bc\nunknown command: 'bc'\n(qemu)"),
        "{}",
        whole.0
    );

    let bytewise: Vec<&[u8]> = script.chunks(1).collect();
    assert_eq!(run(&bytewise), whole);

    let mut seed = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200 {
        let mut chunks = Vec::new();
        let mut rest = script;
        while !rest.is_empty() {
            let n = 1 + (xorshift(&mut seed) % 8) as usize;
            let (a, b) = rest.split_at(n.min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        assert_eq!(run(&chunks), whole, "split as {chunks:?}");
    }
}

#[test]
fn columns_follow_qemus_layout() {
    let list = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        write_columns(&mut out, &names);
        String::from_utf8(out).unwrap()
    };
    // At least 10 wide, 8 columns.
    assert_eq!(list(&["a", "b"]), "a         b         \r\n");
    let nine: Vec<String> = (0..9).map(|i| i.to_string()).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert_eq!(
        list(&nine),
        format!(
            "{}\r\n8         \r\n",
            (0..8).map(|i| format!("{i:<10}")).collect::<String>()
        )
    );
    // Longest plus two: 33 wide, two columns (as QEMU lists every command).
    let long = "snapshot_delete_blkdev_internal";
    assert_eq!(
        list(&["c", long, "x"]),
        format!("{:<33}{long}  \r\nx{}\r\n", "c", " ".repeat(32))
    );
    // Wider than the screen: one a line, unpadded.
    let huge = "h".repeat(100);
    assert_eq!(
        list(&[&huge, "y"]),
        format!("{huge}\r\ny{}\r\n", " ".repeat(79))
    );
}

#[test]
fn common_prefix_is_whole_characters() {
    let p = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        common_prefix(&names).to_owned()
    };
    assert_eq!(p(&["stats", "status"]), "stat");
    assert_eq!(p(&["q", "qemu-io", "quit"]), "q");
    assert_eq!(p(&["quit", "qu"]), "qu");
    assert_eq!(p(&["qu", "quit"]), "qu");
    assert_eq!(p(&["éa", "éb"]), "é");
    assert_eq!(p(&["é", "è"]), "");
    assert_eq!(p(&["a", "b"]), "");
}
