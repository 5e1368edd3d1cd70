//! The targets check: issue 19's targets, each with its verdict for each
//! of our servers measured.

use std::fmt::Write as _;

use super::{number, size, Kind, Metric, Results};

impl Results {
    /// The targets of issue 19, checked for each of our servers measured:
    /// one row per target and server, "met", "missed" or "not measured".
    pub fn targets_check(&self) -> String {
        let mut s = String::from("| Target | Server | Measured | Verdict |\n|---|---|---:|---|\n");
        let ours: Vec<Kind> = self
            .targets
            .iter()
            .copied()
            .filter(|k| k.is_ours())
            .collect();
        for &o in &ours {
            for (m, what) in [
                (Metric::VersionP50, "query-version"),
                (Metric::StatusP50, "query-status"),
            ] {
                row(
                    &mut s,
                    &format!("{what} p50 within 1.25x of the floor"),
                    o.label(),
                    self.ratio(m, o, Kind::Floor),
                    Bound::AtMost(1.25),
                    "x",
                );
                row(
                    &mut s,
                    &format!("{what} p50 at least 15x faster than QEMU none"),
                    o.label(),
                    self.ratio(m, Kind::QemuNone, o),
                    Bound::AtLeast(15.0),
                    "x",
                );
            }
            row(
                &mut s,
                "512-byte p50 within 1.1x of the small (query-status) p50",
                o.label(),
                self.ratio_of(Metric::BigP50, Metric::StatusP50, o),
                Bound::AtMost(1.1),
                "x",
            );
            row(
                &mut s,
                "16 in flight at least 1.0x the floor",
                o.label(),
                self.ratio(Metric::InFlight, o, Kind::Floor),
                Bound::AtLeast(1.0),
                "x",
            );
            row(
                &mut s,
                "4 clients at least 0.9x the floor",
                o.label(),
                self.ratio(Metric::Clients4, o, Kind::Floor),
                Bound::AtLeast(0.9),
                "x",
            );
            row(
                &mut s,
                "events to 1 client at least 1,500 k/s",
                o.label(),
                self.median(Metric::Events1, o),
                Bound::AtLeast(1500.0),
                " k/s",
            );
            row(
                &mut s,
                "events to each of 8 clients at least 500 k/s",
                o.label(),
                self.median(Metric::Events8, o),
                Bound::AtLeast(500.0),
                " k/s",
            );
            row(
                &mut s,
                &format!(
                    "{} idle clients: the whole process under 16 MiB resident",
                    self.idle_clients
                ),
                o.label(),
                self.median(Metric::RssClients, o),
                Bound::Under(16.0),
                " MiB",
            );
            let f = self.fanout;
            row(
                &mut s,
                &format!(
                    "{} events to {} clients, {} never reading: peak under 128 MiB resident",
                    f.events,
                    f.clients,
                    f.clients.saturating_sub(f.readers)
                ),
                o.label(),
                self.median(Metric::FanoutPeak, o),
                Bound::Under(128.0),
                " MiB",
            );
            row(
                &mut s,
                "idle, no client: 0 wake-ups (under 1 a second)",
                o.label(),
                self.median(Metric::Wakeups, o),
                Bound::Under(1.0),
                "/s",
            );
            if o == Kind::Refvmm {
                self.guest_cpu_row(&mut s);
            }
            row(
                &mut s,
                &format!(
                    "probe p99 under 10 ms while a client sends {} messages",
                    size(self.message_bytes)
                ),
                o.label(),
                self.median(Metric::ProbeMessage, o),
                Bound::Under(10.0),
                " ms",
            );
            row(
                &mut s,
                "probe p99 under 10 ms during a TAB storm on the human monitor",
                o.label(),
                self.median(Metric::ProbeTabs, o),
                Bound::Under(10.0),
                " ms",
            );
        }
        if !ours.is_empty() && !ours.contains(&Kind::Refvmm) {
            // Its one row says so, rather than vanishing with refvmm.
            self.guest_cpu_row(&mut s);
        }
        for q in self.targets.iter().copied().filter(|k| k.is_qemu()) {
            let big = self.ratio_of(Metric::BigP50, Metric::StatusP50, q);
            let _ = writeln!(
                s,
                "| (reference) 512-byte p50 ÷ small p50 | {} | {} | — |",
                q.label(),
                big.map_or("—".into(), |r| format!("{}x", number(r)))
            );
            if let Some(w) = self.median(Metric::Wakeups, q) {
                let _ = writeln!(
                    s,
                    "| (reference) idle wake-ups, no client | {} | {}/s | — |",
                    q.label(),
                    number(w)
                );
            }
        }
        s
    }

    /// `a ÷ b` of one server's medians.
    fn ratio_of(&self, a: Metric, b: Metric, kind: Kind) -> Option<f64> {
        Some(self.median(a, kind)? / self.median(b, kind)?).filter(|r| r.is_finite())
    }

    fn guest_cpu_row(&self, s: &mut String) {
        row(
            s,
            "refvmm with its guest running, no client: under 2 % of a core",
            "refvmm",
            self.median(Metric::GuestCpu, Kind::Refvmm)
                .filter(|_| self.targets.contains(&Kind::Refvmm)),
            Bound::Under(2.0),
            " %",
        );
    }
}

/// A target's bound.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// The value must be at most this.
    AtMost(f64),
    /// At least this.
    AtLeast(f64),
    /// Strictly under this.
    Under(f64),
}

impl Bound {
    fn met(self, v: f64) -> bool {
        match self {
            Bound::AtMost(b) => v <= b,
            Bound::AtLeast(b) => v >= b,
            Bound::Under(b) => v < b,
        }
    }
}

/// One row of the targets table.
fn row(s: &mut String, target: &str, server: &str, value: Option<f64>, bound: Bound, unit: &str) {
    let (shown, verdict) = match value {
        Some(v) => (
            if unit == "x" && v < 10.0 {
                // Enough digits to see which side of a bound.
                format!("{v:.3}x")
            } else {
                format!("{}{unit}", number(v))
            },
            if bound.met(v) { "met" } else { "missed" },
        ),
        None => ("—".into(), "not measured"),
    };
    let _ = writeln!(s, "| {target} | {server} | {shown} | {verdict} |");
}

#[cfg(test)]
mod tests {
    use super::super::Fanout;
    use super::*;

    fn sample(targets: Vec<Kind>) -> Results {
        let mut r = Results::new(targets, 1000);
        r.fanout = Fanout {
            clients: 1000,
            readers: 10,
            events: 100_000,
        };
        r.message_bytes = 60 << 20;
        r.add(Metric::StatusP50, Kind::Floor, 10.0);
        r.add(Metric::StatusP50, Kind::Minimal, 12.5);
        r.add(Metric::StatusP50, Kind::QemuNone, 240.0);
        r.add(Metric::BigP50, Kind::Minimal, 13.2);
        r.add(Metric::InFlight, Kind::Floor, 300.0);
        r.add(Metric::InFlight, Kind::Minimal, 299.0);
        r.add(Metric::Clients4, Kind::Floor, 100.0);
        r.add(Metric::Clients4, Kind::Minimal, 90.0);
        r.add(Metric::Events1, Kind::Minimal, 1499.0);
        r.add(Metric::Events8, Kind::Minimal, 500.0);
        r.add(Metric::RssClients, Kind::Minimal, 16.0);
        r.add(Metric::FanoutPeak, Kind::Minimal, 30.0);
        r.add(Metric::Wakeups, Kind::Minimal, 0.9);
        r.add(Metric::Wakeups, Kind::QemuNone, 0.0);
        r.add(Metric::ProbeMessage, Kind::Minimal, 10.0);
        r.add(Metric::ProbeTabs, Kind::Minimal, 2.5);
        r.add(Metric::GuestCpu, Kind::Refvmm, 1.99);
        r
    }

    fn has(t: &str, line: &str) {
        assert!(t.contains(line), "no {line:?} in\n{t}");
    }

    #[test]
    fn each_target_gets_its_verdict_at_its_bound() {
        let t = sample(vec![Kind::Floor, Kind::Minimal, Kind::QemuNone]).targets_check();
        has(
            &t,
            "| query-status p50 within 1.25x of the floor | minimal | 1.250x | met |",
        );
        has(
            &t,
            "| query-status p50 at least 15x faster than QEMU none | minimal | 19.2x | met |",
        );
        has(
            &t,
            "| 512-byte p50 within 1.1x of the small (query-status) p50 | minimal | 1.056x | met |",
        );
        has(
            &t,
            "| 16 in flight at least 1.0x the floor | minimal | 0.997x | missed |",
        );
        has(
            &t,
            "| 4 clients at least 0.9x the floor | minimal | 0.900x | met |",
        );
        has(
            &t,
            "| events to 1 client at least 1,500 k/s | minimal | 1499 k/s | missed |",
        );
        has(
            &t,
            "| events to each of 8 clients at least 500 k/s | minimal | 500 k/s | met |",
        );
        // "Under" is strict: 16.0 MiB misses.
        has(
            &t,
            "| 1000 idle clients: the whole process under 16 MiB resident | minimal | 16.0 MiB | missed |",
        );
        has(
            &t,
            "| 100000 events to 1000 clients, 990 never reading: peak under 128 MiB resident | minimal | 30.0 MiB | met |",
        );
        has(
            &t,
            "| idle, no client: 0 wake-ups (under 1 a second) | minimal | 0.900/s | met |",
        );
        has(
            &t,
            "| probe p99 under 10 ms while a client sends 60 MiB messages | minimal | 10.0 ms | missed |",
        );
        has(
            &t,
            "| probe p99 under 10 ms during a TAB storm on the human monitor | minimal | 2.50 ms | met |",
        );
        has(
            &t,
            "| query-version p50 within 1.25x of the floor | minimal | — | not measured |",
        );
        // refvmm was not run: its row says so.
        has(
            &t,
            "| refvmm with its guest running, no client: under 2 % of a core | refvmm | — | not measured |",
        );
        has(
            &t,
            "| (reference) idle wake-ups, no client | QEMU none | 0/s | — |",
        );
    }

    #[test]
    fn the_guest_row_belongs_to_refvmm() {
        let t = sample(vec![Kind::Floor, Kind::Minimal, Kind::Refvmm]).targets_check();
        has(
            &t,
            "| refvmm with its guest running, no client: under 2 % of a core | refvmm | 1.99 % | met |",
        );
        assert_eq!(t.matches("guest running").count(), 1, "{t}");
        // 14 rows for minimal, 15 for refvmm, and the heading.
        assert_eq!(t.lines().count(), 2 + 14 + 15, "{t}");
    }

    #[test]
    fn no_server_of_ours_no_rows() {
        let t = sample(vec![Kind::Floor]).targets_check();
        assert_eq!(t.lines().count(), 2, "{t}");
    }
}
