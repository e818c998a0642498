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

/// One page, Nuages against axum.
pub struct PageRow {
    pub name: &'static str,
    /// The Nuages server's `log_level`.
    pub log_level: &'static str,
    pub nuages: Load,
    pub axum: Load,
    /// The median of the per-round ratios (each round's Nuages run against
    /// the axum run next to it).
    pub ratio: f64,
}

impl PageRow {
    pub fn new(
        name: &'static str,
        log_level: &'static str,
        nuages: &[Load],
        axum: &[Load],
    ) -> PageRow {
        let summary = |loads: &[Load]| Load {
            rps: median(&loads.iter().map(|l| l.rps).collect::<Vec<_>>()),
            p50_ms: median(&loads.iter().map(|l| l.p50_ms).collect::<Vec<_>>()),
            p99_ms: median(&loads.iter().map(|l| l.p99_ms).collect::<Vec<_>>()),
        };
        let ratios: Vec<f64> = nuages
            .iter()
            .zip(axum)
            .map(|(n, a)| n.rps / a.rps)
            .collect();
        PageRow {
            name,
            log_level,
            nuages: summary(nuages),
            axum: summary(axum),
            ratio: median(&ratios),
        }
    }
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
    pub startup: Option<(Duration, Duration)>,
    pub statics: Vec<StaticRow>,
    pub listing: Option<Duration>,
    pub django: Option<String>,
    pub check_deploy: Option<Duration>,
    pub startproject: Option<Duration>,
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
            startup: None,
            statics: Vec::new(),
            listing: None,
            django: None,
            check_deploy: None,
            startproject: None,
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
                "| page | Nuages `log_level` | Nuages req/s | axum req/s | Nuages p50 / p99 | axum p50 / p99 | Nuages/axum | target ≥ 0.85 |"
            );
            let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---|");
            for row in &self.pages {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {:.0} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | **{:.2}** | {} |",
                    row.name,
                    row.log_level,
                    row.nuages.rps,
                    row.axum.rps,
                    row.nuages.p50_ms,
                    row.nuages.p99_ms,
                    row.axum.p50_ms,
                    row.axum.p99_ms,
                    row.ratio,
                    verdict(row.ratio >= 0.85)
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
            for (what, nuages, axum) in &self.memory {
                let _ = writeln!(
                    out,
                    "| memory (VmRSS) after the load, {what} servers | {} | {} |",
                    mib(*nuages),
                    mib(*axum)
                );
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
        if let Some(total) = self.total {
            let _ = writeln!(out);
            let _ = writeln!(out, "Whole run: {:.0} s.", total.as_secs_f64());
        }
        out
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
}
