//! The tree both collectstatic benchmarks copy: 5,000 stylesheets, scripts
//! and images of one to a few kilobytes, each different, in 50 folders.
//! One file for the harness (`statics`) and for `cargo bench -p nuages
//! --bench collectstatic`, which includes it by path.

use std::path::Path;

pub const FOLDERS: usize = 50;
pub const FILES_PER_FOLDER: usize = 100;
pub const FILES: usize = FOLDERS * FILES_PER_FOLDER;

/// Write the tree into `root`.
pub fn make_tree(root: &Path) {
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
