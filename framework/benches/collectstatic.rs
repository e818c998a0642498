//! Benchmark of `collectstatic`: 5,000 files in 50 folders.
//!
//! Prints the time of a cold run (copy only; copy and compress; copy, hash
//! and compress with manifest storage), of a re-run with nothing changed,
//! and of the baseline that a re-run is measured against: listing the
//! source files (the walk and one `stat` per file, which any re-run does).
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-static cargo bench -p nuages --bench collectstatic
//! ```

use std::time::{Duration, Instant};

use nuages::conf::{Settings, StaticfilesStorage};
use nuages::staticfiles::collect::{CollectOptions, Console, collect};
use nuages::staticfiles::{Finder, IgnorePatterns};

#[path = "../../bench/src/static_tree.rs"]
mod static_tree;
use static_tree::{FILES, FOLDERS, make_tree};

fn run(settings: &Settings) -> (Duration, String) {
    run_with(settings, CollectOptions::default())
}

fn run_with(settings: &Settings, options: CollectOptions) -> (Duration, String) {
    let mut out = Vec::new();
    let mut input: &[u8] = b"";
    let mut console = Console {
        out: &mut out,
        input: &mut input,
        terminal: false,
    };
    let start = Instant::now();
    collect(settings, &[], &options, &mut console).expect("collectstatic succeeds");
    let elapsed = start.elapsed();
    let text = String::from_utf8(out).unwrap();
    (elapsed, text.lines().last().unwrap_or_default().to_string())
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let temp = tempfile::tempdir().unwrap();
    let sources = temp.path().join("static");
    make_tree(&sources);
    println!(
        "collectstatic benchmark: {} files in {FOLDERS} folders, {} threads",
        FILES,
        rayon::current_num_threads()
    );

    let settings = |storage: StaticfilesStorage, root: &str| Settings {
        base_dir: temp.path().to_path_buf(),
        staticfiles_dirs: vec![sources.display().to_string()],
        static_root: Some(temp.path().join(root)),
        staticfiles_storage: storage,
        ..Settings::default()
    };

    // Baseline: list the sources (walk + stat), best of 3.
    let finder = Finder::new(
        Finder::from_settings(
            &settings(StaticfilesStorage::Plain, "x"),
            &[],
            IgnorePatterns::default(),
        )
        .sources()
        .to_vec(),
        IgnorePatterns::default(),
    );
    let listing = (0..3)
        .map(|_| {
            let start = Instant::now();
            let listed = finder.list().unwrap();
            assert_eq!(listed.files.len(), FILES);
            start.elapsed()
        })
        .min()
        .unwrap();
    println!("listing the sources (baseline): {}", ms(listing));

    let copy_only = CollectOptions {
        post_process: false,
        ..CollectOptions::default()
    };
    let (cold, line) = run_with(&settings(StaticfilesStorage::Plain, "www/copy"), copy_only);
    println!(
        "copy only (--no-post-process), cold run: {}  ({line})",
        ms(cold)
    );

    for (label, storage, root) in [
        ("plain", StaticfilesStorage::Plain, "www/plain"),
        ("manifest", StaticfilesStorage::Manifest, "www/manifest"),
    ] {
        let settings = settings(storage, root);
        let (cold, line) = run(&settings);
        println!("{label} storage, cold run: {}  ({line})", ms(cold));
        let rerun = (0..3)
            .map(|_| run(&settings))
            .min_by_key(|(d, _)| *d)
            .unwrap();
        println!(
            "{label} storage, re-run with nothing changed: {}  = {:.1}x listing  ({})",
            ms(rerun.0),
            rerun.0.as_secs_f64() / listing.as_secs_f64(),
            rerun.1
        );
    }
}
