//! The figures, as a Markdown table ready for the README.

use std::fmt::Write as _;
use std::time::Duration;

use crate::load::Load;

/// The median (the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The medians of a server's runs.
pub fn summary(loads: &[Load]) -> Load {
    let of = |field: fn(&Load) -> f64| median(&loads.iter().map(field).collect::<Vec<_>>());
    Load {
        rps: of(|l| l.rps),
        p50_ms: of(|l| l.p50_ms),
        p99_ms: of(|l| l.p99_ms),
        requests: of(|l| l.requests),
        cpu_us: of(|l| l.cpu_us),
    }
}

/// What a page is compared with.
pub const BARE_AXUM: &str = "bare axum";
pub const AXUM_SQLX: &str = "axum + sqlx";
pub const LOCO: &str = "Loco (production)";
pub const AXUM_STACK: &str = "axum stack by hand";
pub const DJANGO: &str = "Django + gunicorn";
pub const TEN_ROUTES: &str = "Nuages, 10 routes";

/// The pages' names.
pub const HELLO: &str = "/hello/<name>/ (Tera)";
pub const NOT_FOUND: &str = "404 page";
pub const POLLS: &str = "/polls/ (SQLite + Tera)";

/// One page, Nuages against what it is compared with.
pub struct PageRow {
    pub name: &'static str,
    /// Which Nuages server: its `log_level`, or the size of its URLconf.
    pub variant: &'static str,
    /// What it is compared with: `bare axum`, `Loco`, `axum stack`, `Django`…
    pub baseline: &'static str,
    pub nuages: Load,
    pub other: Load,
    /// The median of the per-round ratios of req/s (each round's Nuages run
    /// against the other run next to it).
    pub ratio: f64,
    /// The same for CPU per request, the other's over Nuages' (above 1:
    /// Nuages spends less).
    pub cpu_ratio: f64,
}

impl PageRow {
    pub fn new(
        name: &'static str,
        variant: &'static str,
        baseline: &'static str,
        nuages: &[Load],
        other: &[Load],
    ) -> PageRow {
        let per_round = |f: fn(&Load, &Load) -> f64| {
            median(
                &nuages
                    .iter()
                    .zip(other)
                    .map(|(n, o)| f(n, o))
                    .collect::<Vec<_>>(),
            )
        };
        PageRow {
            name,
            variant,
            baseline,
            nuages: summary(nuages),
            other: summary(other),
            ratio: per_round(|n, o| n.rps / o.rps),
            cpu_ratio: per_round(|n, o| o.cpu_us / n.cpu_us),
        }
    }
}

/// One line of the targets table.
pub struct Target {
    pub measure: &'static str,
    /// The figure, measured before this wave's changes.
    pub today: &'static str,
    pub target: &'static str,
    /// This run's figure (None: not measured in this run).
    pub now: Option<f64>,
    pub met: Option<bool>,
}

/// collectstatic of one storage: (cold, unchanged re-run).
pub struct StaticRow {
    pub storage: &'static str,
    pub nuages: (Duration, Duration),
    pub django: Option<(Duration, Duration)>,
}

/// Everything measured.
pub struct Report {
    pub machine: String,
    pub generator: String,
    pub rounds: usize,
    pub pages: Vec<PageRow>,
    /// (what, Nuages MiB, axum MiB).
    pub memory: Vec<(&'static str, Option<f64>, Option<f64>)>,
    /// The private part of it (RssAnon), by page: Nuages, bare axum.
    pub private_memory: Vec<(&'static str, Option<f64>, Option<f64>)>,
    pub startup: Option<(Duration, Duration)>,
    pub statics: Vec<StaticRow>,
    pub listing: Option<Duration>,
    pub django: Option<String>,
    pub check_deploy: Option<Duration>,
    pub startproject: Option<Duration>,
    /// (peer, how long `cargo build --release` took in this run).
    pub peer_builds: Vec<(&'static str, Duration)>,
    /// What the peers are, for the report (versions, notes).
    pub notes: Vec<String>,
    /// (section, why): the requested sections, or sides of one, that could
    /// not be measured in this run.
    pub not_measured: Vec<(&'static str, String)>,
    pub total: Option<Duration>,
}

fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

impl Report {
    pub fn new(machine: String, generator: String, rounds: usize) -> Report {
        Report {
            machine,
            generator,
            rounds,
            pages: Vec::new(),
            memory: Vec::new(),
            private_memory: Vec::new(),
            startup: None,
            statics: Vec::new(),
            listing: None,
            django: None,
            check_deploy: None,
            startproject: None,
            peer_builds: Vec::new(),
            notes: Vec::new(),
            not_measured: Vec::new(),
            total: None,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Nuages benchmarks: {}; load by {}; {} alternating rounds per page, medians.",
            self.machine, self.generator, self.rounds
        );
        if !self.pages.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| page | Nuages | compared with | Nuages req/s | its req/s | Nuages p50 / p99 | its p50 / p99 | CPU/request Nuages / its | req/s Nuages/it | CPU it/Nuages |"
            );
            let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
            for row in &self.pages {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.0} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.1} / {:.1} µs | **{:.2}** | {:.2} |",
                    row.name,
                    row.variant,
                    row.baseline,
                    row.nuages.rps,
                    row.other.rps,
                    row.nuages.p50_ms,
                    row.nuages.p99_ms,
                    row.other.p50_ms,
                    row.other.p99_ms,
                    row.nuages.cpu_us,
                    row.other.cpu_us,
                    row.ratio,
                    row.cpu_ratio,
                );
            }
        }
        if !self.memory.is_empty() || self.startup.is_some() {
            let _ = writeln!(out);
            let _ = writeln!(out, "| process | Nuages `serve` | bare axum |");
            let _ = writeln!(out, "|---|---:|---:|");
            let mib = |v: Option<f64>| {
                v.map(|v| format!("{v:.1} MiB"))
                    .unwrap_or_else(|| "-".into())
            };
            let rows = [
                ("memory (VmRSS) after the load", &self.memory),
                ("of which private (RssAnon)", &self.private_memory),
            ];
            for (measure, figures) in rows {
                for (what, nuages, axum) in figures {
                    let _ = writeln!(
                        out,
                        "| {measure}, {what} servers | {} | {} |",
                        mib(*nuages),
                        mib(*axum)
                    );
                }
            }
            if let Some((nuages, axum)) = self.startup {
                let _ = writeln!(
                    out,
                    "| start-up: exec to the first 200 | {} | {} |",
                    ms(nuages),
                    ms(axum)
                );
            }
        }
        if !self.statics.is_empty() {
            let _ = writeln!(out);
            let django = self
                .django
                .as_deref()
                .map(|v| format!("Django {v}"))
                .unwrap_or_else(|| "Django".into());
            let _ = writeln!(
                out,
                "| collectstatic, 5,000 files | Nuages | {django} | Django/Nuages | target met |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---|");
            for row in &self.statics {
                let what = crate::statics::Storage::describe(row.storage);
                let (cold_target, rerun_target) = crate::statics::Storage::targets(row.storage);
                for (label, n, d, target) in [
                    ("cold", row.nuages.0, row.django.map(|d| d.0), cold_target),
                    (
                        "unchanged re-run",
                        row.nuages.1,
                        row.django.map(|d| d.1),
                        rerun_target,
                    ),
                ] {
                    let (django, ratio, ok) = match d {
                        Some(d) => {
                            let ratio = d.as_secs_f64() / n.as_secs_f64();
                            (
                                ms(d),
                                format!("**{ratio:.2}×**"),
                                format!("{} (≥ {target}×)", verdict(ratio >= target)),
                            )
                        }
                        None => ("-".into(), "-".into(), "-".into()),
                    };
                    let _ = writeln!(
                        out,
                        "| {what}, {label} | {} | {django} | {ratio} | {ok} |",
                        ms(n)
                    );
                }
            }
            if let Some(listing) = self.listing {
                let _ = writeln!(
                    out,
                    "| listing the 5,000 source files (walk + stat), for scale | {} | | | |",
                    ms(listing)
                );
            }
        }
        if self.check_deploy.is_some() || self.startproject.is_some() {
            let _ = writeln!(out);
            let _ = writeln!(out, "| command (whole process, median) | time |");
            let _ = writeln!(out, "|---|---:|");
            if let Some(check) = self.check_deploy {
                let _ = writeln!(out, "| `mysite check --deploy` | {} |", ms(check));
            }
            if let Some(startproject) = self.startproject {
                let _ = writeln!(out, "| `manage startproject` | {} |", ms(startproject));
            }
        }
        if !self.peer_builds.is_empty() || !self.notes.is_empty() {
            let _ = writeln!(out);
            for (peer, took) in &self.peer_builds {
                let _ = writeln!(
                    out,
                    "- `cargo build --release` of {peer} in this run: {:.0} s (the first run builds it from scratch; later runs find it up to date).",
                    took.as_secs_f64()
                );
            }
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        let targets = self.targets();
        if targets.iter().any(|t| t.now.is_some()) {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "| measure | before this wave (issue #17) | this run | target | met |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---|");
            for t in &targets {
                let (now, met) = match (t.now, t.met) {
                    (Some(now), Some(met)) => (format!("**{now:.2}**"), verdict(met)),
                    _ => ("not measured".to_string(), "-"),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {now} | {} | {met} |",
                    t.measure, t.today, t.target
                );
            }
        }
        if !self.not_measured.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "Not measured in this run:");
            for (section, why) in &self.not_measured {
                let _ = writeln!(out, "- `{section}`: {why}");
            }
        }
        if let Some(total) = self.total {
            let _ = writeln!(out);
            let _ = writeln!(out, "Whole run: {:.0} s.", total.as_secs_f64());
        }
        out
    }
}

impl Report {
    fn page(&self, name: &str, variant: &str, baseline: &str) -> Option<&PageRow> {
        self.pages
            .iter()
            .find(|r| r.name == name && r.variant == variant && r.baseline == baseline)
    }

    /// The targets table, with this run's figures where measured.
    pub fn targets(&self) -> Vec<Target> {
        let at_least = |x: Option<f64>, min: f64| x.map(|x| x >= min);
        let ratio = |name, variant, baseline| {
            self.page(name, variant, baseline)
                .map(|r| r.ratio)
                .filter(|r| r.is_finite())
        };
        let cpu = self
            .page(HELLO, "info", BARE_AXUM)
            .map(|r| r.cpu_ratio)
            .filter(|r| r.is_finite());
        let rss = self
            .memory
            .iter()
            .find(|(what, _, _)| *what == "/hello/")
            .and_then(|(_, nuages, axum)| Some(nuages.as_ref()? / axum.as_ref()?));
        // A fresh project's default settings against Django's default
        // storage (plain copies), both cold.
        let collectstatic = self
            .statics
            .iter()
            .find(|r| r.storage == "defaults")
            .and_then(|r| Some(r.django?.0.as_secs_f64() / r.nuages.0.as_secs_f64()));
        let rows = [
            (
                "`/hello/<name>/`, default log level, Nuages / bare axum req/s",
                "0.53",
                "≥ 0.85",
                ratio(HELLO, "info", BARE_AXUM),
                0.85,
            ),
            (
                "404 page, Nuages / bare axum",
                "0.50",
                "≥ 0.85",
                ratio(NOT_FOUND, "info", BARE_AXUM),
                0.85,
            ),
            (
                "`/polls/` (SQLite), Nuages / axum + sqlx",
                "0.61",
                "≥ 0.90",
                ratio(POLLS, "info", AXUM_SQLX),
                0.90,
            ),
            (
                "server CPU per request at the default log level, bare axum / Nuages",
                "0.38 (31 µs vs 81 µs)",
                "≥ 0.75",
                cpu,
                0.75,
            ),
            (
                "Nuages / Loco's generated app, req/s",
                "≈ 1.0",
                "≥ 1.30",
                ratio(HELLO, "info", LOCO),
                1.30,
            ),
            (
                "Nuages / the hand-assembled axum stack, req/s",
                "—",
                "≥ 1.10",
                ratio(HELLO, "info", AXUM_STACK),
                1.10,
            ),
            (
                "Nuages / Django + gunicorn, `/hello/<name>/`, req/s",
                "11–13",
                "≥ 20",
                ratio(HELLO, "info", DJANGO),
                20.0,
            ),
            (
                "cold `collectstatic`, fresh project defaults, Django default / Nuages",
                "0.61",
                "≥ 1.0",
                collectstatic,
                1.0,
            ),
            (
                "a page in a project with 1,000 URL patterns / with 10 patterns, req/s",
                "—",
                "≥ 0.95",
                ratio(HELLO, "1,000 routes", TEN_ROUTES),
                0.95,
            ),
        ];
        let mut targets: Vec<Target> = rows
            .into_iter()
            .map(|(measure, today, target, now, min)| Target {
                measure,
                today,
                target,
                now,
                met: at_least(now, min),
            })
            .collect();
        // The one target that is a ceiling.
        targets.insert(
            7,
            Target {
                measure: "RSS after load, Nuages / bare axum",
                today: "1.54",
                target: "≤ 1.25",
                now: rss,
                met: rss.map(|r| r <= 1.25),
            },
        );
        targets
    }

    /// Every figure of the run, for `--json FILE`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let load = |l: &Load| {
            json!({
                "rps": l.rps,
                "p50_ms": l.p50_ms,
                "p99_ms": l.p99_ms,
                "cpu_us_per_request": l.cpu_us,
            })
        };
        let secs = |d: Duration| d.as_secs_f64();
        json!({
            "machine": self.machine,
            "load_generator": self.generator,
            "rounds": self.rounds,
            "pages": self.pages.iter().map(|r| json!({
                "page": r.name,
                "variant": r.variant,
                "compared_with": r.baseline,
                "nuages": load(&r.nuages),
                "other": load(&r.other),
                "ratio_rps": r.ratio,
                "ratio_cpu_other_over_nuages": r.cpu_ratio,
            })).collect::<Vec<_>>(),
            "memory_rss_mib": self.memory.iter().map(|(what, n, a)| json!({
                "servers": what, "nuages": n, "axum": a,
            })).collect::<Vec<_>>(),
            "memory_rss_anon_mib": self.private_memory.iter().map(|(what, n, a)| json!({
                "servers": what, "nuages": n, "axum": a,
            })).collect::<Vec<_>>(),
            "startup_seconds": self.startup.map(|(n, a)| json!({"nuages": secs(n), "axum": secs(a)})),
            "collectstatic_seconds": self.statics.iter().map(|r| json!({
                "storage": r.storage,
                "nuages": {"cold": secs(r.nuages.0), "unchanged": secs(r.nuages.1)},
                "django": r.django.map(|d| json!({"cold": secs(d.0), "unchanged": secs(d.1)})),
            })).collect::<Vec<_>>(),
            "listing_seconds": self.listing.map(secs),
            "django": self.django,
            "check_deploy_seconds": self.check_deploy.map(secs),
            "startproject_seconds": self.startproject.map(secs),
            "peer_builds_seconds": self.peer_builds.iter().map(|(p, d)| json!({"peer": p, "seconds": secs(*d)})).collect::<Vec<_>>(),
            "notes": self.notes,
            "targets": self.targets().iter().map(|t| json!({
                "measure": t.measure,
                "before": t.today,
                "target": t.target,
                "now": t.now,
                "met": t.met,
            })).collect::<Vec<_>>(),
            "not_measured": self.not_measured.iter().map(|(section, why)| json!({
                "section": section, "reason": why,
            })).collect::<Vec<_>>(),
            "total_seconds": self.total.map(secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    fn load(rps: f64, cpu_us: f64) -> Load {
        Load {
            rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            requests: rps * 2.0,
            cpu_us,
        }
    }

    #[test]
    fn targets_and_json_carry_the_ratios() {
        let mut report = Report::new("2 cores".into(), "built-in".into(), 2);
        report.pages.push(PageRow::new(
            HELLO,
            "info",
            BARE_AXUM,
            &[load(850.0, 40.0), load(850.0, 40.0)],
            &[load(1000.0, 30.0), load(1000.0, 30.0)],
        ));
        report.memory.push(("/hello/", Some(12.0), Some(10.0)));
        let targets = report.targets();
        let hello = &targets[0];
        assert_eq!(hello.now, Some(0.85));
        assert_eq!(hello.met, Some(true));
        let cpu = targets.iter().find(|t| t.measure.contains("CPU")).unwrap();
        assert_eq!(cpu.now, Some(0.75));
        let rss = targets.iter().find(|t| t.measure.contains("RSS")).unwrap();
        assert_eq!(rss.met, Some(true));
        let loco = targets.iter().find(|t| t.measure.contains("Loco")).unwrap();
        assert_eq!((loco.now, loco.met), (None, None));
        let json = report.to_json();
        assert_eq!(json["pages"][0]["compared_with"], "bare axum");
        assert_eq!(json["pages"][0]["nuages"]["rps"], 850.0);
        assert_eq!(json["pages"][0]["other"]["cpu_us_per_request"], 30.0);
        assert_eq!(json["targets"][0]["met"], true);
        assert!(report.render().contains("| **0.85** | ≥ 0.85 | yes |"));
    }
}
