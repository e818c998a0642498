//! Benchmark of the route table: matching a path among 10 and among 1,000
//! URL patterns of the shapes a project has (literal sections, typed
//! parameters, an app's `<slug>` pages, a `<path:…>` tail), each pattern
//! tried in order as Django does. Prints the time per match and the ratio.
//!
//! ```text
//! cargo bench -p nuages --bench routes
//! ```

use std::hint::black_box;
use std::time::Instant;

use nuages::urls::{Resolver, UrlConf};

async fn view() -> &'static str {
    "ok"
}

fn table(patterns: usize) -> Resolver {
    let mut conf = UrlConf::new();
    for i in 0..patterns {
        conf = match i % 4 {
            0 => conf.path(&format!("section{i}/"), view, &format!("r{i}")),
            1 => conf.path(&format!("section{i}/<int:id>/"), view, &format!("r{i}")),
            2 => conf.path(&format!("<slug:s>/page{i}/"), view, &format!("r{i}")),
            _ => conf.path(&format!("docs{i}/<path:rest>"), view, &format!("r{i}")),
        };
    }
    conf.resolver().expect("the patterns build")
}

/// Nanoseconds per match of `paths` (each one matched in turn).
fn per_match(resolver: &Resolver, paths: &[String]) -> f64 {
    let rounds = 200_000 / paths.len();
    let started = Instant::now();
    for _ in 0..rounds {
        for path in paths {
            black_box(resolver.resolve(black_box(path)));
        }
    }
    started.elapsed().as_nanos() as f64 / (rounds * paths.len()) as f64
}

fn main() {
    // The same requests against both tables: a match of each shape and a miss.
    let paths: Vec<String> = [
        "/section4/",
        "/section5/42/",
        "/blue/page6/",
        "/docs7/a/b.txt",
        "/nowhere/",
    ]
    .map(String::from)
    .to_vec();
    let small = table(10);
    let large = table(1000);
    for path in &paths {
        assert_eq!(
            small.resolve(path).map(|r| r.name.clone()),
            large.resolve(path).map(|r| r.name.clone()),
            "{path}"
        );
    }
    // Alternate, and keep the best of five, so that load on the machine
    // affects both alike.
    let (mut best_small, mut best_large) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        best_small = best_small.min(per_match(&small, &paths));
        best_large = best_large.min(per_match(&large, &paths));
    }
    println!("match among 10 patterns:    {best_small:8.1} ns");
    println!("match among 1,000 patterns: {best_large:8.1} ns");
    println!(
        "ratio 10 / 1,000 (1.0 = as fast): {:.2}",
        best_small / best_large
    );
}
