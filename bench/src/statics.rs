//! collectstatic, Nuages against Django on the same tree: 5,000 files in 50
//! folders, a cold run into an empty `static_root` and a re-run with nothing
//! changed:
//!
//! - fresh project defaults (issue #17): Nuages with the settings
//!   `startproject` writes (`debug = true`, plain storage, no
//!   `staticfiles_precompress`) against Django's default
//!   `StaticFilesStorage`; both only copy;
//! - plain names with `.gz`/`.br` siblings, what Nuages' default did before
//!   issue #17 and still does with `debug = false`: against WhiteNoise's
//!   `CompressedStaticFilesStorage` (gzip 9 and Brotli, as Nuages);
//! - manifest storage, hashed names and `.gz`/`.br` siblings: Nuages'
//!   production settings against WhiteNoise's
//!   `CompressedManifestStaticFilesStorage`;
//! - for reference, the same Nuages run against Django's own
//!   `ManifestStaticFilesStorage`, which does not compress.
//!
//! Django runs from a virtualenv under the target folder
//! (`<target>/nuages-bench/django-venv`), created with `python3 -m venv` and
//! `pip install django whitenoise[brotli]` the first time: the only download
//! the harness does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs::me;

pub use crate::static_tree::{FILES, make_tree};

/// What is compared: the storage of both sides and whether Nuages compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A generated project's defaults: copies only (Django's default storage).
    Defaults,
    /// Plain names, `.gz` and `.br` (Django: WhiteNoise's
    /// `CompressedStaticFilesStorage`).
    PlainCompressed,
    /// Hashed names, manifest, `.gz` and `.br` (Django: WhiteNoise).
    Compressed,
    /// Hashed names and manifest (Nuages compresses too; Django does not).
    Manifest,
}

impl Storage {
    /// Every comparison, in the order of the report.
    pub const ALL: [Storage; 4] = [
        Storage::Defaults,
        Storage::PlainCompressed,
        Storage::Compressed,
        Storage::Manifest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Storage::Defaults => "defaults",
            Storage::PlainCompressed => "plain-compressed",
            Storage::Compressed => "compressed",
            Storage::Manifest => "manifest",
        }
    }

    /// The report's words for the comparison named `name`.
    pub fn describe(name: &str) -> &'static str {
        match name {
            "defaults" => "fresh project defaults (Django: default storage), copies only",
            "plain-compressed" => {
                "plain + .gz/.br, the default before #17 (Django: WhiteNoise CompressedStaticFilesStorage)"
            }
            "compressed" => "manifest + .gz/.br (Django: WhiteNoise)",
            _ => "manifest; Django's without .gz/.br",
        }
    }

    /// The least Django/Nuages ratio asked for (cold, unchanged re-run): issue
    /// #17 for a fresh project (≥ 1 cold, ≥ 10 unchanged), design.md §10
    /// (far faster, read as ≥ 3) for the rest.
    pub fn targets(name: &str) -> (f64, f64) {
        match name {
            "defaults" => (1.0, 10.0),
            _ => (3.0, 3.0),
        }
    }

    /// The storage setting of Nuages' side.
    fn nuages(self) -> &'static str {
        match self {
            Storage::Defaults | Storage::PlainCompressed => "plain",
            Storage::Compressed | Storage::Manifest => "manifest",
        }
    }

    /// Nuages' `debug`: on as `startproject`'s settings.toml has it, off (so
    /// with `.gz`/`.br`) as production settings have it.
    fn nuages_debug(self) -> bool {
        self == Storage::Defaults
    }

    /// Django's `STORAGES["staticfiles"]` backend.
    fn django(self) -> &'static str {
        match self {
            Storage::Defaults => "django.contrib.staticfiles.storage.StaticFilesStorage",
            Storage::PlainCompressed => "whitenoise.storage.CompressedStaticFilesStorage",
            Storage::Manifest => "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
            Storage::Compressed => "whitenoise.storage.CompressedManifestStaticFilesStorage",
        }
    }
}

/// Who collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Nuages,
    Django,
}

/// The folders of one comparison.
pub struct Setup {
    pub dir: PathBuf,
    pub tree: PathBuf,
    pub python: Option<PathBuf>,
}

impl Setup {
    fn root(&self, tool: Tool, storage: Storage) -> PathBuf {
        let who = match tool {
            Tool::Nuages => "nuages",
            Tool::Django => "django",
        };
        self.dir.join(format!("root-{who}-{}", storage.name()))
    }

    fn nuages_settings(&self, storage: Storage) -> PathBuf {
        self.dir.join(format!("collect-{}.toml", storage.name()))
    }

    /// Write the settings of both tools for both storages.
    pub fn write_settings(&self) {
        for storage in Storage::ALL {
            let text = format!(
                "debug = {debug}\nsecret_key = \"{key}\"\nallowed_hosts = [\"localhost\"]\nstaticfiles_dirs = [{tree:?}]\nstatic_root = {root:?}\nstaticfiles_storage = \"{storage}\"\n",
                debug = storage.nuages_debug(),
                key = crate::sites::SECRET_KEY,
                tree = self.tree.display().to_string(),
                root = self.root(Tool::Nuages, storage).display().to_string(),
                storage = storage.nuages(),
            );
            std::fs::write(self.nuages_settings(storage), text).unwrap();
            let backend = storage.django();
            let python = format!(
                "# Written by nuages-bench: the least Django needs for collectstatic.\n\
                 SECRET_KEY = \"bench\"\n\
                 DEBUG = False\n\
                 INSTALLED_APPS = [\"django.contrib.staticfiles\"]\n\
                 STATIC_URL = \"/static/\"\n\
                 STATIC_ROOT = {root:?}\n\
                 STATICFILES_DIRS = [{tree:?}]\n\
                 STORAGES = {{\n    \"default\": {{\"BACKEND\": \"django.core.files.storage.FileSystemStorage\"}},\n    \"staticfiles\": {{\"BACKEND\": \"{backend}\"}},\n}}\n\
                 USE_TZ = True\n",
                root = self.root(Tool::Django, storage).display().to_string(),
                tree = self.tree.display().to_string(),
            );
            std::fs::write(
                self.dir.join(format!("bench_{}.py", storage.name())),
                python,
            )
            .unwrap();
        }
    }

    /// Empty the static root of `tool`, then have the kernel write back
    /// what the runs before left unwritten (neither timed): a cold run pays
    /// for its own 5,000 files, not for the previous run's, which it would
    /// otherwise wait on (measured: a run's cold time grew round after round,
    /// and whichever tool ran second paid for the first).
    pub fn clear(&self, tool: Tool, storage: Storage) {
        let _ = std::fs::remove_dir_all(self.root(tool, storage));
        // SAFETY: sync(2) takes nothing and always succeeds.
        unsafe { libc::sync() };
    }

    /// One collectstatic run; its wall time and its last line.
    pub fn run(&self, tool: Tool, storage: Storage) -> Result<(Duration, String), String> {
        let mut command = match tool {
            Tool::Nuages => {
                let mut command = Command::new(me());
                command
                    .args(["hellosite", "collectstatic", "--noinput"])
                    .env("NUAGES_SETTINGS", self.nuages_settings(storage));
                command
            }
            Tool::Django => {
                let python = self.python.as_ref().ok_or("Django is not installed")?;
                let mut command = Command::new(python);
                command
                    .args(["-m", "django", "collectstatic", "--noinput"])
                    .env(
                        "DJANGO_SETTINGS_MODULE",
                        format!("bench_{}", storage.name()),
                    )
                    .env("PYTHONPATH", &self.dir)
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
        };
        let started = std::time::Instant::now();
        let output = command.output().map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if !output.status.success() {
            return Err(format!(
                "{tool:?} collectstatic ({}) failed: {stdout}{}",
                storage.name(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok((elapsed, last))
    }
}

/// The number before `word` in a summary line (`5000 static files copied`).
pub fn count_before(line: &str, word: &str) -> Option<usize> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.trim_end_matches([',', '.']) == word)?;
    let mut back = at;
    while back > 0 {
        back -= 1;
        if let Ok(n) = words[back].trim_start_matches(['\'', ',']).parse() {
            return Some(n);
        }
    }
    None
}

/// The virtualenv's python with Django importable, creating the virtualenv
/// and installing Django the first time.
pub fn django_python(target: &Path) -> Result<PathBuf, String> {
    let venv = target.join("nuages-bench/django-venv");
    let python = venv.join("bin/python");
    let has_django = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import django, whitenoise, brotli; print(django.get_version())",
            ])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if python.exists() && has_django(&python).is_some() {
        return Ok(python);
    }
    eprintln!(
        "  creating {} and installing Django (once)…",
        venv.display()
    );
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 -m venv did not run: {e}"))?;
    if !status.success() {
        return Err("python3 -m venv failed (Debian: apt-get install python3-venv)".into());
    }
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "django",
            "whitenoise[brotli]",
        ])
        .status()
        .map_err(|e| format!("pip did not run: {e}"))?;
    if !status.success() || has_django(&python).is_none() {
        return Err("pip install django failed".into());
    }
    Ok(python)
}

/// Django's and WhiteNoise's versions, for the report.
pub fn django_version(python: &Path) -> String {
    Command::new(python)
        .args([
            "-c",
            "import django; from importlib.metadata import version; print(django.get_version(), '+ WhiteNoise', version('whitenoise'))",
        ])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts() {
        let line = "5000 static files copied to '/tmp/x', 0 unmodified.";
        assert_eq!(count_before(line, "static"), Some(5000));
        assert_eq!(count_before(line, "unmodified"), Some(0));
        let line = "0 static files copied to '/tmp/x y', 5000 unmodified, 5000 post-processed.";
        assert_eq!(count_before(line, "unmodified"), Some(5000));
        assert_eq!(count_before(line, "post-processed"), Some(5000));
    }
}
