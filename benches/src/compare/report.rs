//! The results: samples per measurement and server, their medians, the
//! markdown table, the targets check and the SVG chart.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::stats::median;
use super::target::Kind;

mod verdicts;

/// Which way a measurement is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Times and sizes.
    Lower,
    /// Rates.
    Higher,
}

/// One measurement (a row of the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `query-version` round trip, median of a round.
    VersionP50,
    /// `query-version` round trip, 99th percentile of a round.
    VersionP99,
    /// `query-status` round trip, median.
    StatusP50,
    /// `query-status` round trip, 99th percentile.
    StatusP99,
    /// 512-byte `query-status` round trip, median.
    BigP50,
    /// 512-byte `query-status` round trip, 99th percentile.
    BigP99,
    /// 16 requests in flight on one connection.
    InFlight,
    /// 4 clients at once, aggregate.
    Clients4,
    /// Events to one client.
    Events1,
    /// Events to each of 8 clients (the slowest).
    Events8,
    /// Resident memory, no client.
    RssIdle,
    /// Resident memory with the idle clients.
    RssClients,
    /// Resident memory of the long-running instance after the rounds'
    /// event bursts, no client.
    RssAfter,
    /// Peak resident memory of a fresh server sending a burst of events
    /// to many clients, most of which never read.
    FanoutPeak,
    /// Wake-ups per second of a fresh server with no client.
    Wakeups,
    /// CPU of `refvmm` with its guest running and no client, in % of a
    /// core.
    GuestCpu,
    /// The probe's 99th percentile while another client sends huge
    /// messages.
    ProbeMessage,
    /// The probe's 99th percentile during a TAB storm on a human monitor.
    ProbeTabs,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 18] = [
        Metric::VersionP50,
        Metric::VersionP99,
        Metric::StatusP50,
        Metric::StatusP99,
        Metric::BigP50,
        Metric::BigP99,
        Metric::InFlight,
        Metric::Clients4,
        Metric::Events1,
        Metric::Events8,
        Metric::RssIdle,
        Metric::RssClients,
        Metric::RssAfter,
        Metric::FanoutPeak,
        Metric::Wakeups,
        Metric::GuestCpu,
        Metric::ProbeMessage,
        Metric::ProbeTabs,
    ];

    /// The row heading, without this run's counts (see
    /// [`Results::title`]).
    pub fn title(self) -> &'static str {
        match self {
            Metric::VersionP50 => "query-version round trip p50 (µs)",
            Metric::VersionP99 => "query-version round trip p99 (µs)",
            Metric::StatusP50 => "query-status round trip p50 (µs)",
            Metric::StatusP99 => "query-status round trip p99 (µs)",
            Metric::BigP50 => "512-byte query-status p50 (µs)",
            Metric::BigP99 => "512-byte query-status p99 (µs)",
            Metric::InFlight => "16 in flight (k requests/s)",
            Metric::Clients4 => "4 clients (k requests/s, total)",
            Metric::Events1 => "events to 1 client (k/s)",
            Metric::Events8 => "events to each of 8 clients (k/s)",
            Metric::RssIdle => "resident memory, fresh, no client (MiB)",
            Metric::RssClients => "resident memory, fresh, idle clients (MiB)",
            Metric::RssAfter => "resident memory after the event bursts (MiB)",
            Metric::FanoutPeak => "peak resident, events to many clients, most unread (MiB)",
            Metric::Wakeups => "idle wake-ups, fresh, no client (per second)",
            Metric::GuestCpu => "CPU, guest running, no client (% of a core)",
            Metric::ProbeMessage => "probe p99 while a client sends huge messages (ms)",
            Metric::ProbeTabs => "probe p99 during a TAB storm on the human monitor (ms)",
        }
    }

    /// Which way is better.
    pub fn better(self) -> Better {
        match self {
            Metric::InFlight | Metric::Clients4 | Metric::Events1 | Metric::Events8 => {
                Better::Higher
            }
            _ => Better::Lower,
        }
    }
}

/// The counts of a run that the row headings name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fanout {
    /// Clients connected in all.
    pub clients: usize,
    /// Those of them that read the burst (the rest never read).
    pub readers: usize,
    /// Events in the burst.
    pub events: u64,
}

/// What was measured, round by round.
#[derive(Debug, Default)]
pub struct Results {
    /// The servers, in column order.
    pub targets: Vec<Kind>,
    samples: HashMap<(Metric, Kind), Vec<f64>>,
    failures: HashMap<(Metric, Kind), String>,
    /// Idle clients of [`Metric::RssClients`].
    pub idle_clients: usize,
    /// The burst of [`Metric::FanoutPeak`].
    pub fanout: Fanout,
    /// Bytes of each message of [`Metric::ProbeMessage`].
    pub message_bytes: usize,
}

impl Results {
    /// Empty results for these servers.
    pub fn new(targets: Vec<Kind>, idle_clients: usize) -> Self {
        Results {
            targets,
            idle_clients,
            ..Results::default()
        }
    }

    /// The row heading with this run's counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::compare::report::{Fanout, Metric, Results};
    ///
    /// let mut r = Results::new(Vec::new(), 1000);
    /// r.fanout = Fanout { clients: 1000, readers: 10, events: 100_000 };
    /// assert_eq!(
    ///     r.title(Metric::FanoutPeak),
    ///     "peak resident, 100000 events, 1000 clients (990 unread) (MiB)"
    /// );
    /// assert_eq!(r.title(Metric::StatusP50), Metric::StatusP50.title());
    /// ```
    pub fn title(&self, metric: Metric) -> String {
        match metric {
            Metric::RssClients => format!(
                "resident memory, fresh, {} idle clients (MiB)",
                self.idle_clients
            ),
            Metric::FanoutPeak => format!(
                "peak resident, {} events, {} clients ({} unread) (MiB)",
                self.fanout.events,
                self.fanout.clients,
                self.fanout.clients.saturating_sub(self.fanout.readers)
            ),
            Metric::ProbeMessage => format!(
                "probe p99 while a client sends {} messages (ms)",
                size(self.message_bytes)
            ),
            _ => metric.title().to_owned(),
        }
    }

    /// Records one round's value.
    pub fn add(&mut self, metric: Metric, kind: Kind, value: f64) {
        self.samples.entry((metric, kind)).or_default().push(value);
    }

    /// Records a failed measurement (the first reason is kept).
    pub fn fail(&mut self, metric: Metric, kind: Kind, reason: String) {
        self.failures.entry((metric, kind)).or_insert(reason);
    }

    /// The failures, for the notes.
    pub fn failures(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .failures
            .iter()
            .map(|((m, k), r)| format!("{} / {}: {r}", k.label(), m.title()))
            .collect();
        v.sort();
        v
    }

    /// The median over rounds.
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::compare::{report::{Metric, Results}, target::Kind};
    ///
    /// let mut r = Results::new(vec![Kind::Floor], 0);
    /// for v in [3.0, 1.0, 2.0] {
    ///     r.add(Metric::StatusP50, Kind::Floor, v);
    /// }
    /// assert_eq!(r.median(Metric::StatusP50, Kind::Floor), Some(2.0));
    /// assert_eq!(r.median(Metric::StatusP99, Kind::Floor), None);
    /// ```
    pub fn median(&self, metric: Metric, kind: Kind) -> Option<f64> {
        self.samples.get(&(metric, kind)).and_then(|v| median(v))
    }

    /// `a ÷ b` of the medians, when both are measured and it is a
    /// number (no ratio to a zero).
    fn ratio(&self, metric: Metric, a: Kind, b: Kind) -> Option<f64> {
        Some(self.median(metric, a)? / self.median(metric, b)?).filter(|r| r.is_finite())
    }

    fn cell(&self, metric: Metric, kind: Kind) -> String {
        match (
            self.median(metric, kind),
            self.failures.contains_key(&(metric, kind)),
        ) {
            (Some(v), false) => number(v),
            (Some(v), true) => format!("{} (!)", number(v)),
            (None, true) => "failed".into(),
            (None, false) => "—".into(),
        }
    }

    /// The table: one row per measurement, one column per server, then
    /// the ratios that the targets are stated in.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let ours = self.targets.iter().copied().find(|k| k.is_ours());
        let floor = self.targets.contains(&Kind::Floor).then_some(Kind::Floor);
        let qemu = self
            .targets
            .contains(&Kind::QemuNone)
            .then_some(Kind::QemuNone);
        s.push_str("| Measurement |");
        for k in &self.targets {
            let _ = write!(s, " {} |", k.label());
        }
        let ratios: Vec<(Kind, Kind)> = match ours {
            Some(o) => [floor.map(|f| (o, f)), qemu.map(|q| (q, o))]
                .into_iter()
                .flatten()
                .collect(),
            None => Vec::new(),
        };
        for (a, b) in &ratios {
            let _ = write!(s, " {} ÷ {} |", a.label(), b.label());
        }
        s.push_str("\n|---|");
        for _ in 0..self.targets.len() + ratios.len() {
            s.push_str("---:|");
        }
        s.push('\n');
        for m in Metric::ALL {
            let _ = write!(s, "| {} |", self.title(m));
            for k in &self.targets {
                let _ = write!(s, " {} |", self.cell(m, *k));
            }
            for (a, b) in &ratios {
                let r = self
                    .ratio(m, *a, *b)
                    .map_or("—".into(), |r| format!("{r:.2}"));
                let _ = write!(s, " {r} |");
            }
            s.push('\n');
        }
        s
    }

    /// A bar chart: one panel per measurement, one bar per server, each
    /// panel scaled to its largest value.
    pub fn svg(&self, title: &str) -> String {
        const W: f64 = 1000.0;
        const COL_W: f64 = 490.0;
        const LABEL_W: f64 = 90.0;
        const BAR_MAX: f64 = 300.0;
        const BAR_H: f64 = 14.0;
        const COLORS: [&str; 5] = ["#888888", "#1f77b4", "#2ca02c", "#d62728", "#ff7f0e"];
        let n = self.targets.len().max(1) as f64;
        let panel_h = 28.0 + n * (BAR_H + 4.0) + 10.0;
        let rows = Metric::ALL.len().div_ceil(2) as f64;
        let h = 50.0 + rows * panel_h;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="24" font-size="15" font-weight="bold">{}</text>"#,
            xml(title)
        );
        for (i, m) in Metric::ALL.iter().enumerate() {
            let x0 = 10.0 + (i % 2) as f64 * COL_W;
            let y0 = 40.0 + (i / 2) as f64 * panel_h;
            let better = match m.better() {
                Better::Lower => "lower is better",
                Better::Higher => "higher is better",
            };
            let title = self.title(*m);
            let _ = writeln!(
                s,
                r#"<text x="{x0}" y="{}" font-weight="bold">{} <tspan font-weight="normal" fill="grey">({better})</tspan></text>"#,
                y0 + 14.0,
                xml(&title)
            );
            let max = self
                .targets
                .iter()
                .filter_map(|k| self.median(*m, *k))
                .fold(0.0f64, f64::max);
            for (j, k) in self.targets.iter().enumerate() {
                let y = y0 + 22.0 + j as f64 * (BAR_H + 4.0);
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                    x0 + LABEL_W - 6.0,
                    y + BAR_H - 3.0,
                    xml(k.label())
                );
                let (len, text) = match self.median(*m, *k) {
                    Some(v) if max > 0.0 => (v / max * BAR_MAX, number(v)),
                    Some(v) => (0.0, number(v)),
                    None => (0.0, "not measured".to_owned()),
                };
                let _ = writeln!(
                    s,
                    r#"<rect x="{}" y="{y}" width="{len:.1}" height="{BAR_H}" fill="{}"/>"#,
                    x0 + LABEL_W,
                    COLORS[j % COLORS.len()]
                );
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{}">{}</text>"#,
                    x0 + LABEL_W + len + 4.0,
                    y + BAR_H - 3.0,
                    xml(&text)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Three significant digits, thousands unseparated.
///
/// # Examples
///
/// ```
/// use benches::compare::report::number;
/// assert_eq!(number(12.345), "12.3");
/// assert_eq!(number(1234.6), "1235");
/// assert_eq!(number(0.01234), "0.0123");
/// ```
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (-a.log10().floor()) as usize + 2;
        format!("{v:.digits$}")
    }
}

/// A size in bytes as the headings give it: MiB when whole, KiB when
/// whole, else bytes.
///
/// # Examples
///
/// ```
/// use benches::compare::report::size;
/// assert_eq!(size(60 << 20), "60 MiB");
/// assert_eq!(size(64 << 10), "64 KiB");
/// assert_eq!(size(1000), "1000-byte");
/// ```
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes}-byte")
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Results {
        let mut r = Results::new(vec![Kind::Floor, Kind::Minimal, Kind::QemuNone], 1000);
        r.fanout = Fanout {
            clients: 1000,
            readers: 10,
            events: 100_000,
        };
        r.message_bytes = 60 << 20;
        r.add(Metric::StatusP50, Kind::Floor, 10.0);
        r.add(Metric::StatusP50, Kind::Minimal, 12.0);
        r.add(Metric::StatusP50, Kind::QemuNone, 240.0);
        r.add(Metric::BigP50, Kind::Minimal, 13.2);
        r.add(Metric::Events1, Kind::Minimal, 900.0);
        r.fail(Metric::Events8, Kind::QemuNone, "timed out".into());
        r.add(Metric::Wakeups, Kind::Minimal, 0.0);
        r.add(Metric::Wakeups, Kind::QemuNone, 0.5);
        r
    }

    #[test]
    fn table_has_ratios_and_marks_missing_and_failed_cells() {
        let t = sample().markdown();
        assert!(
            t.contains("| query-status round trip p50 (µs) | 10.0 | 12.0 | 240 | 1.20 | 20.00 |"),
            "{t}"
        );
        assert!(t.contains("| — | failed | — | — |"), "{t}");
        assert!(
            t.contains("resident memory, fresh, 1000 idle clients (MiB)"),
            "{t}"
        );
        // No ratio to a zero: QEMU's 0.5 wake-ups ÷ minimal's 0.
        assert!(
            t.contains("| idle wake-ups, fresh, no client (per second) | — | 0 | 0.500 | — | — |"),
            "{t}"
        );
        assert!(
            t.contains("| peak resident, 100000 events, 1000 clients (990 unread) (MiB) |"),
            "{t}"
        );
        assert!(
            t.contains("| probe p99 while a client sends 60 MiB messages (ms) |"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 2 + Metric::ALL.len(), "{t}");
    }

    #[test]
    fn svg_is_one_document_with_a_bar_per_value() {
        let svg = sample().svg("a & b");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &amp; b"));
        assert_eq!(svg.matches("<rect ").count(), 1 + 18 * 3);
        assert!(svg.contains("probe p99 during a TAB storm"));
    }
}
