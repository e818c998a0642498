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

use std::path::Path;
use std::time::{Duration, Instant};

use nuages::conf::{Settings, StaticfilesStorage};
use nuages::staticfiles::collect::{CollectOptions, Console, collect};
use nuages::staticfiles::{Finder, IgnorePatterns};

const FOLDERS: usize = 50;
const FILES_PER_FOLDER: usize = 100;

/// Stylesheets, scripts and images of a few kilobytes, each different.
fn make_tree(root: &Path) {
    for folder in 0..FOLDERS {
        let dir = root.join(format!("section{folder:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in 0..FILES_PER_FOLDER {
            let n = folder * FILES_PER_FOLDER + file;
            let (name, content) = match file % 5 {
                0 | 1 => (
                    format!("style{file}.css"),
                    format!(
                        ".rule-{n} {{ color: #{:06x}; margin: {}px; }}\n",
                        n * 7919,
                        n % 17
                    )
                    .repeat(20 + n % 40)
                    .into_bytes(),
                ),
                2 | 3 => (
                    format!("script{file}.js"),
                    format!(
                        "export function f{n}(x) {{ return x * {n} + {}; }}\n",
                        n % 13
                    )
                    .repeat(15 + n % 30)
                    .into_bytes(),
                ),
                _ => (
                    format!("image{file}.png"),
                    (0..(1024 + n % 2048))
                        .map(|i| ((i * 2654435761usize + n) >> 7) as u8)
                        .collect(),
                ),
            };
            std::fs::write(dir.join(name), content).unwrap();
        }
    }
}

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
        FOLDERS * FILES_PER_FOLDER,
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
            assert_eq!(listed.files.len(), FOLDERS * FILES_PER_FOLDER);
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
