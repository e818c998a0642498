//! The engine of `manage collectstatic`: gather the static files of every
//! source folder into `static_root`, for the web server.
//!
//! - Only what is new or changed is copied: a file is unmodified when the
//!   copy in `static_root` has the source's size and modification time
//!   (copies keep the source's time). A copy that differs in either way,
//!   including one *newer* than its source, is replaced: the sources are
//!   the truth, not the newest file.
//! - Every file is written under a temporary name in its destination
//!   folder and renamed into place, so a server never reads half a file;
//!   `--link` makes symbolic links the same way. The temporary name is
//!   short (`.` and up to 12 random characters), so any name the file
//!   system accepts can be collected (with manifest storage, any that
//!   leaves room for the hash its copy's name adds). The `collectstatic` command removes
//!   the ones not yet renamed when a signal stops it (`Unfinished`, a
//!   value of the run, shared with its signal watcher).
//! - Files are copied, hashed and compressed on all cores (rayon).
//! - `--clear` empties `static_root` first; nothing outside it is deleted
//!   (links are removed, never followed).
//! - With manifest storage, hashed copies and `staticfiles.json` are
//!   written after the copies ([`super::manifest`]); then compressible
//!   files get `.gz` and `.br` siblings ([`super::compress`]) when
//!   [`Settings::precompresses_static_files`] (`staticfiles_precompress`,
//!   unset: with `debug` off). `--no-post-process` skips both. A file's
//!   old siblings are removed before its new version is renamed into
//!   place, and every run removes the siblings whose time is not their
//!   file's (made from another version), so that whatever stops a run, no
//!   server sends an old version.
//!
//! It refuses, before touching anything, when `static_root` is unset, is
//! `/`, the home folder or `base_dir`, or is, is inside, or contains a
//! static source folder or a folder of the project's own files
//! ([`static_root_overlaps`]: templates, database, uploads, sources…);
//! `--clear` also refuses when `static_root` contains the settings file or
//! the home folder.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use rayon::prelude::*;

use super::compress::{self, Encoding};
use super::finders::{FindError, Finder, IgnorePatterns, Listing, Located, StaticFile};
use super::manifest::{self, HashedFile, Input, MANIFEST_NAME, Manifest, PostProcessError};
use crate::checks::files::{NotAFolder, not_a_folder};
use crate::checks::staticfiles::{Relation, resolve};
use crate::conf::{Settings, StaticfilesStorage};
use crate::error::Problem;
use crate::project::App;

/// What `collectstatic` was asked to do.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Ask before overwriting a non-empty `static_root` (no `--noinput`).
    pub interactive: bool,
    /// Empty `static_root` first.
    pub clear: bool,
    /// Say what would be done, change nothing.
    pub dry_run: bool,
    /// Symbolic links instead of copies.
    pub link: bool,
    /// Hash (manifest storage) and compress after copying.
    pub post_process: bool,
    /// `--ignore` patterns.
    pub ignore_patterns: Vec<String>,
    /// Also ignore `CVS`, `.*` and `*~`.
    pub use_default_ignore: bool,
    /// 0 silent, 1 summary, 2 each file.
    pub verbosity: u8,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            interactive: false,
            clear: false,
            dry_run: false,
            link: false,
            post_process: true,
            ignore_patterns: Vec::new(),
            use_default_ignore: true,
            verbosity: 1,
        }
    }
}

/// Where `collectstatic` talks: its output, the answers to its question,
/// and whether the output is a terminal (for the progress bar).
pub struct Console<'a> {
    /// Messages and the summary.
    pub out: &'a mut dyn Write,
    /// The answer to the confirmation prompt.
    pub input: &'a mut dyn BufRead,
    /// Draw a progress bar for big trees.
    pub terminal: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `static_root`.
    pub root: PathBuf,
    /// Files copied (or linked).
    pub copied: usize,
    /// Files already up to date.
    pub unmodified: usize,
    /// Hashed files written; `None` without manifest post-processing.
    pub post_processed: Option<usize>,
    /// Files hidden by an earlier source's file of the same name.
    pub duplicates: usize,
    /// Files deleted by `--clear`.
    pub deleted: usize,
    /// `.gz` and `.br` files written.
    pub compressed: usize,
    /// `--link`.
    pub linked: bool,
}

impl Summary {
    /// `N static files copied to '<root>', M unmodified[, K post-processed].`
    ///
    /// ```
    /// let mut summary = nuages::staticfiles::Summary {
    ///     root: "/srv/static".into(), copied: 1, unmodified: 0, post_processed: None,
    ///     duplicates: 0, deleted: 0, compressed: 0, linked: false,
    /// };
    /// assert_eq!(summary.line(), "1 static file copied to '/srv/static', 0 unmodified.");
    /// summary.copied = 3;
    /// summary.post_processed = Some(2);
    /// summary.linked = true;
    /// assert_eq!(summary.line(), "3 static files symlinked to '/srv/static', 0 unmodified, 2 post-processed.");
    /// ```
    pub fn line(&self) -> String {
        format!(
            "{} static {} {} to '{}', {} unmodified{}.",
            self.copied,
            if self.copied == 1 { "file" } else { "files" },
            if self.linked { "symlinked" } else { "copied" },
            self.root.display(),
            self.unmodified,
            match self.post_processed {
                Some(count) => format!(", {count} post-processed"),
                None => String::new(),
            }
        )
    }
}

/// A refusal or failure, with how to fix it.
fn refusal(message: impl Into<String>, hint: impl Into<String>) -> Problem {
    Problem::new(message).with_hint(hint)
}

const HINT_SEPARATE_ROOT: &str = "static_root is where collectstatic copies the files to: set it to a folder of its own, such as static_root = \"www_dir/static\"";

/// Collect the static files of `settings` and `apps` into `static_root`.
pub fn collect(
    settings: &Settings,
    apps: &[App],
    options: &CollectOptions,
    console: &mut Console<'_>,
) -> Result<Summary, Problem> {
    collect_listing_unfinished(settings, apps, options, console, &Unfinished::default())
}

/// [`collect`], its temporary files listed in `unfinished` while they are
/// not renamed into place, for `collectstatic` to remove them when a
/// signal stops it ([`Unfinished::remove_all`]).
pub(crate) fn collect_listing_unfinished(
    settings: &Settings,
    apps: &[App],
    options: &CollectOptions,
    console: &mut Console<'_>,
    unfinished: &Unfinished,
) -> Result<Summary, Problem> {
    let root = settings.static_root.clone().ok_or_else(|| {
        refusal(
            "static_root is not set, so collectstatic has nowhere to put the static files",
            "set static_root in the settings file, e.g. static_root = \"www_dir/static\" (the folder the web server serves at static_url)",
        )
    })?;
    let ignore = IgnorePatterns::new(&options.ignore_patterns, options.use_default_ignore)
        .map_err(|e| {
            refusal(
                format!("invalid --ignore pattern: {e}"),
                "use glob patterns such as '*.scss' or 'vendor/src/*'",
            )
        })?;
    let finder = Finder::from_settings(settings, apps, ignore);
    // The folder the checks passed: the one --clear empties.
    let real_root = check_root(&root, settings, apps, &finder, options.clear)?;
    let mut listing = finder.list().map_err(|error| {
        let hint = match error {
            FindError::NotUtf8 { .. } => {
                "rename it with a UTF-8 name (its URL is made of its name), remove it, or leave it out with --ignore PATTERN"
            }
            FindError::Unreadable { .. } => {
                "make the file readable by this user, remove it, or leave it out with --ignore PATTERN"
            }
        };
        refusal(error.to_string(), hint)
    })?;
    if settings.staticfiles_storage == StaticfilesStorage::Manifest
        && let Some(file) = listing.files.iter().find(|f| f.name == MANIFEST_NAME)
    {
        // The manifest would replace it on every run (and a run without
        // post-processing would leave it to be read as the manifest).
        return Err(refusal(
            format!(
                "the static file '{}' has the name of the manifest, {MANIFEST_NAME}, which manifest storage writes at the top of static_root",
                file.path.display()
            ),
            format!(
                "rename it (or move it into a folder), or leave it out with --ignore /{MANIFEST_NAME}"
            ),
        ));
    }
    if let Some(problem) = file_where_a_folder_goes(&listing) {
        return Err(problem);
    }
    if options.post_process
        && settings.staticfiles_storage == StaticfilesStorage::Manifest
        && let Some(problem) = hashed_name_too_long(&listing)
    {
        return Err(problem);
    }
    // Asked once the source files are known to be collectable: a refusal
    // comes before the question, not after a "yes".
    if options.interactive && is_non_empty(&root) {
        confirm(&root, options, console)?;
    }
    let verbose = options.verbosity >= 2;
    let mut out = Output {
        out: console.out,
        verbosity: options.verbosity,
    };
    let precompress = options.post_process && settings.precompresses_static_files();
    if precompress {
        leave_out_made_siblings(&mut listing, &mut out);
    }
    for link in &listing.outside_links {
        out.line(
            1,
            &format!(
                "Skipping '{}': a symbolic link that leads out of its static folder.",
                link.display()
            ),
        );
    }

    let mut deleted = 0;
    if options.clear {
        deleted = clear(&real_root, options.dry_run, &mut out)?;
    }

    // Decide, then create the folders, then copy in parallel.
    let cleared = options.clear;
    let decisions: Vec<Action> = listing
        .files
        .par_iter()
        .map(|file| {
            if cleared {
                return Ok(Action::Write);
            }
            decide(file, &root.join(&file.name), options.link)
        })
        .collect::<Result<_, Problem>>()?;
    let to_write: Vec<usize> = (0..listing.files.len())
        .filter(|&i| decisions[i] == Action::Write)
        .collect();
    // A `.gz` or `.br` of that name is a collected file, not a sibling.
    let collected: HashSet<&str> = listing.files.iter().map(|f| f.name.as_str()).collect();
    // Siblings deleted as made from an older version, to say so.
    let mut stale_siblings = Vec::new();
    if !options.dry_run {
        let folders: BTreeSet<PathBuf> = to_write
            .iter()
            .filter_map(|&i| {
                root.join(&listing.files[i].name)
                    .parent()
                    .map(Path::to_path_buf)
            })
            .collect();
        for folder in folders.iter().chain(std::iter::once(&root)) {
            create_folder(folder)?;
        }
        let progress = progress_bar(console.terminal, options.verbosity, to_write.len());
        let results: Vec<Result<Vec<String>, Problem>> = to_write
            .par_iter()
            .map(|&i| {
                let file = &listing.files[i];
                let dest = root.join(&file.name);
                // Gone before the new version is in place: a run that
                // stops later (post-processing failed) or makes no
                // siblings leaves none of the old version to be sent.
                let result =
                    remove_siblings(&root, &file.name, &collected, |_| true).and_then(|removed| {
                        if options.link {
                            link_file(&file.path, &dest, unfinished)?;
                        } else {
                            copy_file(&file.path, &dest, file.modified, unfinished)?;
                        }
                        Ok(removed)
                    });
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
                result
            })
            .collect();
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        for removed in results {
            stale_siblings.extend(removed?);
        }
        // Siblings a file's version no longer matches, whatever left them
        // (a run stopped between copying and compressing by an older
        // version, a file replaced by hand): removed in every run, with or
        // without compression, which makes them again. Only a file with a
        // sibling in its folder is looked at: a re-run that copies only,
        // with none, costs no more than its listing.
        let with_siblings =
            files_with_siblings(&root, listing.files.iter().map(|file| file.name.as_str()));
        let swept: Vec<Result<Vec<String>, Problem>> = listing
            .files
            .par_iter()
            .zip(&decisions)
            .filter(|(file, action)| {
                **action == Action::Unmodified
                    && with_siblings
                        .as_ref()
                        .is_none_or(|names| names.contains(file.name.as_str()))
            })
            .map(|(file, _)| {
                let Ok(modified) =
                    std::fs::metadata(root.join(&file.name)).and_then(|m| m.modified())
                else {
                    return Ok(Vec::new());
                };
                remove_siblings(&root, &file.name, &collected, |sibling| {
                    !sibling_is_current(sibling, modified)
                })
            })
            .collect();
        for removed in swept {
            stale_siblings.extend(removed?);
        }
    }
    for (file, action) in listing.files.iter().zip(&decisions) {
        match (action, options.dry_run, options.link) {
            (Action::Write, true, link) => out.line(
                1,
                &format!(
                    "Pretending to {} '{}'",
                    if link { "link" } else { "copy" },
                    file.path.display()
                ),
            ),
            (Action::Write, false, true) => {
                out.line(2, &format!("Linking '{}'", file.path.display()))
            }
            (Action::Write, false, false) => {
                out.line(2, &format!("Copying '{}'", file.path.display()))
            }
            (Action::Unmodified, ..) => {
                out.line(2, &format!("Skipping '{}' (not modified)", file.name))
            }
        }
    }
    for name in &stale_siblings {
        out.line(
            2,
            &format!("Deleting '{name}' (made from an older version)"),
        );
    }
    for duplicate in &listing.duplicates {
        out.line(
            2,
            &format!(
                "Found another file with the destination path '{}' ({}). It will be ignored since only the first encountered file is collected. If this is not what you want, make sure every static file has a unique path.",
                duplicate.name,
                duplicate.path.display()
            ),
        );
    }
    if !verbose && !listing.duplicates.is_empty() {
        let count = listing.duplicates.len();
        out.line(
            1,
            &format!(
                "{count} static {} ignored: an earlier static folder has a file of the same path (-v 2 names them).",
                if count == 1 { "file was" } else { "files were" }
            ),
        );
    }

    let mut post_processed = None;
    let mut written: Vec<Written> = listing
        .files
        .iter()
        .zip(&decisions)
        .map(|(f, action)| Written {
            name: f.name.clone(),
            path: root.join(&f.name),
            same_as: None,
            replaced: *action == Action::Write,
        })
        .collect();
    if options.post_process && settings.staticfiles_storage == StaticfilesStorage::Manifest {
        let unmodified: HashSet<&str> = listing
            .files
            .iter()
            .zip(&decisions)
            .filter(|(_, action)| **action == Action::Unmodified)
            .map(|(f, _)| f.name.as_str())
            .collect();
        let (count, hashed) = hash_files(
            settings,
            &root,
            &listing.files,
            &unmodified,
            options.dry_run,
            unfinished,
            &mut out,
        )?;
        post_processed = Some(count);
        written.extend(hashed.into_iter().map(|(name, original)| Written {
            path: root.join(&name),
            same_as: original,
            name,
            // The name carries the content's hash: same name, same content.
            replaced: false,
        }));
    }
    let mut compressed = 0;
    if precompress && !options.dry_run {
        let progress = progress_bar(console.terminal, options.verbosity, written.len());
        compressed = compress_files(
            &root,
            finder.ignore(),
            &written,
            progress.as_ref(),
            unfinished,
            &mut out,
        )?;
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
    }

    let summary = Summary {
        root,
        copied: to_write.len(),
        unmodified: listing.files.len() - to_write.len(),
        post_processed,
        duplicates: listing.duplicates.len(),
        deleted,
        compressed,
        linked: options.link,
    };
    out.line(1, &summary.line());
    Ok(summary)
}

struct Output<'a, 'b> {
    out: &'a mut (dyn Write + 'b),
    verbosity: u8,
}

impl Output<'_, '_> {
    fn line(&mut self, level: u8, text: &str) {
        if self.verbosity >= level {
            let _ = writeln!(self.out, "{text}");
        }
    }
}

fn progress_bar(terminal: bool, verbosity: u8, len: usize) -> Option<indicatif::ProgressBar> {
    const BIG_TREE: usize = 200;
    if !terminal || verbosity == 0 || len < BIG_TREE {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        indicatif::ProgressDrawTarget::stdout(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} static files {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Write,
    Unmodified,
}

/// Copy (or link) unless `dest` already is the same file.
fn decide(file: &StaticFile, dest: &Path, link: bool) -> Result<Action, Problem> {
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Action::Write),
        Err(e) => return Err(write_error(dest, e)),
    };
    if meta.is_dir() {
        return Err(refusal(
            format!(
                "static_root has a folder where the file '{}' goes: {}",
                file.name,
                dest.display()
            ),
            "remove that folder, or run collectstatic --clear",
        ));
    }
    let same = if link {
        meta.file_type().is_symlink()
            && std::fs::read_link(dest).is_ok_and(|target| target == absolute(&file.path))
    } else {
        !meta.file_type().is_symlink()
            && meta.len() == file.len
            && meta
                .modified()
                .is_ok_and(|modified| same_time(modified, file.modified))
    };
    Ok(if same {
        Action::Unmodified
    } else {
        Action::Write
    })
}

/// Equal, or equal to the second on a file system that keeps no fraction.
fn same_time(a: SystemTime, b: SystemTime) -> bool {
    if a == b {
        return true;
    }
    let since = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let (a, b) = (since(a), since(b));
    a.as_secs() == b.as_secs() && (a.subsec_nanos() == 0 || b.subsec_nanos() == 0)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The temporary files of one run not yet renamed into place (or
/// removed): what [`Unfinished::remove_all`] removes when `collectstatic`
/// is interrupted. Made by the command (a caller that never removes them
/// passes `Unfinished::default()`) and shared, as a clone, with its signal
/// watcher.
#[derive(Clone, Default)]
pub(crate) struct Unfinished(Arc<UnfinishedList>);

#[derive(Default)]
struct UnfinishedList {
    state: Mutex<UnfinishedState>,
    /// Signalled when a file being created is made while the list closes.
    created: Condvar,
}

#[derive(Default)]
struct UnfinishedState {
    /// Made and not yet finished.
    temps: BTreeSet<PathBuf>,
    /// Files being created right now, outside the lock.
    creating: usize,
    /// [`Unfinished::remove_all`] has run: the process is ending.
    closed: bool,
}

impl Unfinished {
    fn lock(&self) -> MutexGuard<'_, UnfinishedState> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, once the list is open; after [`Unfinished::remove_all`]
    /// it waits for good (the process is ending), so that no new file is
    /// started and no thread goes on to report a failure of its own.
    fn lock_open(&self) -> MutexGuard<'_, UnfinishedState> {
        let mut state = self.lock();
        while state.closed {
            state = self
                .0
                .created
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state
    }

    /// Make `temp` with `create`, listing it when made. The call itself is
    /// made outside the lock, so that the threads create their files at
    /// the same time. So that a signal between the file being made and its
    /// name being listed cannot miss it, the call is counted under the lock
    /// before it starts and [`Unfinished::remove_all`] waits for the count
    /// to fall to zero (one system call per thread at most) before removing.
    /// Only a `kill -9` can still leave a file behind.
    fn create<T>(
        &self,
        temp: &Path,
        create: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        self.lock_open().creating += 1;
        let made = create(temp);
        let mut state = self.lock();
        state.creating -= 1;
        if made.is_ok() {
            state.temps.insert(temp.to_path_buf());
        }
        let closing = state.closed;
        drop(state);
        if closing {
            self.0.created.notify_all();
            // Never past this: the process is ending.
            drop(self.lock_open());
        }
        made
    }

    /// `temp` is renamed into place or removed: no longer listed.
    fn finished(&self, temp: &Path) {
        self.lock_open().temps.remove(temp);
    }

    /// Remove the temporary files not finished, for `collectstatic`
    /// interrupted (Ctrl-C, SIGTERM, the terminal closed): a hidden
    /// half-written file would otherwise stay in `static_root` for good,
    /// its name unknown to any later run. Waits for the files being
    /// created to be made and listed first. Returns how many were removed.
    /// The list stays closed, so that no new file is started and the
    /// threads still working wait: call it only to end the process.
    pub(crate) fn remove_all(&self) -> usize {
        let mut state = self.lock();
        state.closed = true;
        while state.creating > 0 {
            state = self
                .0
                .created
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state
            .temps
            .iter()
            .filter(|temp| std::fs::remove_file(temp).is_ok())
            .count()
    }
}

/// Make something under a new hidden name in `dest`'s folder with `create`
/// (which must fail with `AlreadyExists` on a name taken): `.` and 6 to 12
/// random letters and digits, no longer than `dest`'s own name when that
/// has 7 bytes or more, so that every name the file system accepts can be
/// written this way. A name taken is tried again with another. The name is
/// listed in `unfinished` until [`Unfinished::finished`].
fn create_beside<T>(
    dest: &Path,
    unfinished: &Unfinished,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> std::io::Result<(PathBuf, T)> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let len = dest
        .file_name()
        .map_or(0, |name| name.len())
        .saturating_sub(1)
        .clamp(6, 12);
    let mut error = None;
    for _ in 0..16 {
        let name: String = (0..len)
            .map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())]))
            .collect();
        let temp = dest.with_file_name(format!(".{name}"));
        match unfinished.create(&temp, &create) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => error = Some(e),
            result => return result.map(|made| (temp, made)),
        }
    }
    Err(error.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// A new file under a temporary name beside `dest`.
fn create_temp(dest: &Path, unfinished: &Unfinished) -> std::io::Result<(PathBuf, std::fs::File)> {
    create_beside(dest, unfinished, |temp| {
        std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(temp)
    })
}

fn write_error(path: &Path, error: std::io::Error) -> Problem {
    // "Not a directory" is about a folder of the path, not about space or
    // permissions: name the file that stands where the folder must be.
    if error.kind() == std::io::ErrorKind::NotADirectory
        && let Some(problem) = file_in_the_way(path)
    {
        return problem;
    }
    let hint = if error.kind() == std::io::ErrorKind::InvalidFilename {
        // ENAMETOOLONG: a path longer than the system takes, or a name
        // longer than static_root's file system takes (shorter than the
        // static folders' own).
        "rename the static file or its folder to a shorter name, or set static_root to a shorter path (on a file system that takes names this long), or leave the file out with --ignore PATTERN"
    } else {
        "check that static_root is writable by this user and the disk is not full"
    };
    refusal(format!("cannot write '{}': {error}", path.display()), hint)
}

/// `folder` and the folders above it, as `create_dir_all`.
fn create_folder(folder: &Path) -> Result<(), Problem> {
    std::fs::create_dir_all(folder).map_err(|e| {
        // A file there fails with "File exists", or "Not a directory" when
        // it is higher up.
        file_in_the_way(folder).unwrap_or_else(|| {
            refusal(
                format!("cannot create the folder '{}': {e}", folder.display()),
                "check that static_root is writable by this user",
            )
        })
    })
}

/// A file, or a link to nothing, at `folder` or above it, where
/// collectstatic needs a folder ([`not_a_folder`]). It is the user's: it
/// is named, never removed.
fn file_in_the_way(folder: &Path) -> Option<Problem> {
    let in_the_way = not_a_folder(folder)?;
    let what = match &in_the_way {
        NotAFolder::File(file) => format!("'{}' is a file", file.display()),
        other => other.describe(),
    };
    Some(refusal(
        format!("{what}, where collectstatic needs a folder"),
        format!(
            "{} (static_root and the folders in it hold the collected files), then run \
             collectstatic again",
            in_the_way.fix()
        ),
    ))
}

fn read_error(path: &Path, error: std::io::Error) -> Problem {
    refusal(
        format!("cannot read static file '{}': {error}", path.display()),
        "make the file readable by this user, remove it, or leave it out with --ignore PATTERN",
    )
}

/// Move a finished temporary file into place, or remove it.
fn rename_into_place(temp: &Path, dest: &Path, unfinished: &Unfinished) -> Result<(), Problem> {
    let renamed = std::fs::rename(temp, dest).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        write_error(dest, e)
    });
    unfinished.finished(temp);
    renamed
}

/// Copy `source` to a temporary file beside `dest`, give it `modified`, and
/// rename it into place. Nothing is left at `dest` or beside it on failure.
fn copy_file(
    source: &Path,
    dest: &Path,
    modified: SystemTime,
    unfinished: &Unfinished,
) -> Result<(), Problem> {
    let mut input = std::fs::File::open(source).map_err(|e| read_error(source, e))?;
    let (temp, mut output) = create_temp(dest, unfinished).map_err(|e| write_error(dest, e))?;
    let copied = copy_contents(&mut input, &mut output, source, dest).and_then(|()| {
        output
            .set_modified(modified)
            .map_err(|e| write_error(dest, e))
    });
    drop(output);
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&temp);
        unfinished.finished(&temp);
        return Err(error);
    }
    rename_into_place(&temp, dest, unfinished)
}

/// Copy `input`, the static file `source`, into `output`, the file made
/// for `dest`: a failure to read is the source's ("make the file
/// readable"), a failure to write (a full disk) the destination's, each
/// with its own fix. `io::copy` (which copies file to file in the kernel)
/// does not say which side failed: the errors only a write gives are the
/// destination's.
fn copy_contents(
    input: &mut impl std::io::Read,
    output: &mut impl Write,
    source: &Path,
    dest: &Path,
) -> Result<(), Problem> {
    use std::io::ErrorKind;
    std::io::copy(input, output)
        .and_then(|_| output.flush())
        .map_err(|error| match error.kind() {
            ErrorKind::StorageFull
            | ErrorKind::QuotaExceeded
            | ErrorKind::FileTooLarge
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::WriteZero => write_error(dest, error),
            _ => read_error(source, error),
        })
}

/// Write `content` to a temporary file beside `dest` and rename it into place.
fn write_file(
    content: &[u8],
    dest: &Path,
    modified: SystemTime,
    unfinished: &Unfinished,
) -> Result<(), Problem> {
    let (temp, mut file) = create_temp(dest, unfinished).map_err(|e| write_error(dest, e))?;
    let written = file
        .write_all(content)
        .and_then(|()| file.set_modified(modified));
    drop(file);
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        unfinished.finished(&temp);
        return Err(write_error(dest, error));
    }
    rename_into_place(&temp, dest, unfinished)
}

/// A symbolic link to `source` at `dest`, made beside it and renamed into place.
fn link_file(source: &Path, dest: &Path, unfinished: &Unfinished) -> Result<(), Problem> {
    let target = absolute(source);
    let (temp, ()) = create_beside(dest, unfinished, |temp| {
        std::os::unix::fs::symlink(&target, temp)
    })
    .map_err(|e| write_error(dest, e))?;
    rename_into_place(&temp, dest, unfinished)
}

/// Empty `root`: files and links removed (links never followed), then folders.
fn clear(root: &Path, dry_run: bool, out: &mut Output<'_, '_>) -> Result<usize, Problem> {
    fn walk(
        dir: &Path,
        root: &Path,
        dry_run: bool,
        out: &mut Output<'_, '_>,
        deleted: &mut usize,
    ) -> Result<(), Problem> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(write_error(dir, e)),
        };
        let mut entries: Vec<_> = entries
            .collect::<Result<_, _>>()
            .map_err(|e| write_error(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| write_error(&path, e))?;
            if kind.is_dir() {
                walk(&path, root, dry_run, out, deleted)?;
                if !dry_run {
                    std::fs::remove_dir(&path).map_err(|e| write_error(&path, e))?;
                }
                continue;
            }
            let shown = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if dry_run {
                out.line(1, &format!("Pretending to delete '{shown}'"));
            } else {
                std::fs::remove_file(&path).map_err(|e| write_error(&path, e))?;
                out.line(2, &format!("Deleting '{shown}'"));
            }
            *deleted += 1;
        }
        Ok(())
    }
    let mut deleted = 0;
    walk(root, root, dry_run, out, &mut deleted)?;
    Ok(deleted)
}

/// Hash every file (manifest storage): write the hashed copies that are
/// missing and `staticfiles.json`. Returns how many hashed files were
/// written and the hashed names, each with the name of the original when
/// the content is the same.
fn hash_files(
    settings: &Settings,
    root: &Path,
    files: &[StaticFile],
    unmodified: &HashSet<&str>,
    dry_run: bool,
    unfinished: &Unfinished,
    out: &mut Output<'_, '_>,
) -> Result<(usize, Vec<HashedCopy>), Problem> {
    let previous = Manifest::load(root).unwrap_or_default();
    let inputs: Vec<Input> = files
        .iter()
        .map(|f| Input {
            name: f.name.clone(),
            path: f.path.clone(),
        })
        .collect();
    let by_name: std::collections::HashMap<&str, &StaticFile> =
        files.iter().map(|f| (f.name.as_str(), f)).collect();
    // Nothing changed since the last run (same files, none copied, every
    // hashed copy there as written): the last manifest still holds, and no
    // file needs reading.
    let nothing_changed = unmodified.len() == files.len()
        && previous.paths.len() == files.len()
        && files.par_iter().all(|file| {
            previous.paths.get(&file.name).is_some_and(|hashed| {
                std::fs::metadata(root.join(hashed)).is_ok_and(|m| {
                    m.is_file() && m.modified().is_ok_and(|t| same_time(t, file.modified))
                })
            })
        });
    if nothing_changed {
        let hashed = previous
            .paths
            .into_iter()
            .map(|(name, hashed)| (hashed, (!manifest::is_adjustable(&name)).then_some(name)))
            .collect();
        return Ok((0, hashed));
    }
    // A file unchanged since the last run keeps its hashed name, if the
    // hashed copy is still there as written.
    let reuse = |input: &Input| -> Option<String> {
        if !unmodified.contains(input.name.as_str()) {
            return None;
        }
        let hashed = previous.paths.get(&input.name)?;
        let file = by_name.get(input.name.as_str())?;
        let meta = std::fs::metadata(root.join(hashed)).ok()?;
        (meta.len() == file.len && meta.modified().is_ok_and(|m| same_time(m, file.modified)))
            .then(|| hashed.clone())
    };
    let hashed = manifest::post_process(&inputs, &settings.static_url, reuse)
        .map_err(|error| post_process_error(error, settings))?;

    let results: Vec<Result<bool, Problem>> = hashed
        .par_iter()
        .map(|item| write_hashed(item, by_name[item.name.as_str()], root, dry_run, unfinished))
        .collect();
    let mut count = 0;
    for (item, result) in hashed.iter().zip(results) {
        if result? {
            count += 1;
            let verb = if dry_run {
                "Pretending to post-process"
            } else {
                "Post-processed"
            };
            out.line(
                if dry_run { 1 } else { 2 },
                &format!("{verb} '{}' as '{}'", item.name, item.hashed_name),
            );
        }
    }
    let manifest = Manifest {
        paths: hashed
            .iter()
            .map(|h| (h.name.clone(), h.hashed_name.clone()))
            .collect(),
    };
    if !dry_run {
        let json = manifest.to_json();
        let path = root.join(MANIFEST_NAME);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            write_file(json.as_bytes(), &path, SystemTime::now(), unfinished)?;
        }
    }
    let names = hashed
        .into_iter()
        .map(|h| (h.hashed_name, h.content.is_none().then_some(h.name)))
        .collect();
    Ok((count, names))
}

/// A hashed name, and the name of its original when the content is the same.
type HashedCopy = (String, Option<String>);

/// Write one hashed copy unless it is there; whether it was (or would be) written.
fn write_hashed(
    item: &HashedFile,
    file: &StaticFile,
    root: &Path,
    dry_run: bool,
    unfinished: &Unfinished,
) -> Result<bool, Problem> {
    let dest = root.join(&item.hashed_name);
    let expected_len = item.content.as_ref().map_or(file.len, |c| c.len() as u64);
    if let Ok(meta) = std::fs::symlink_metadata(&dest)
        && meta.is_file()
        && meta.len() == expected_len
    {
        // The name carries the content's hash: same name, same content. Keep
        // its time in step with the source, so the next run can reuse it.
        if !dry_run && !meta.modified().is_ok_and(|m| same_time(m, file.modified)) {
            let _ = std::fs::File::options()
                .write(true)
                .open(&dest)
                .and_then(|f| f.set_modified(file.modified));
        }
        return Ok(false);
    }
    if dry_run {
        return Ok(true);
    }
    if let Some(parent) = dest.parent() {
        create_folder(parent)?;
    }
    match &item.content {
        Some(content) => write_file(content, &dest, file.modified, unfinished)?,
        None => copy_file(&file.path, &dest, file.modified, unfinished)?,
    }
    Ok(true)
}

fn post_process_error(error: PostProcessError, settings: &Settings) -> Problem {
    let hint = match &error {
        PostProcessError::MissingReference { path, .. } => format!(
            "add the missing file to a static folder, or fix the URL in {}",
            path.display()
        ),
        PostProcessError::Cycle { .. } => {
            "break the circle: a stylesheet cannot import one that imports it".to_string()
        }
        PostProcessError::Read { .. } => {
            "make the file readable by this user, remove it, or leave it out with --ignore PATTERN"
                .to_string()
        }
    };
    let _ = settings;
    refusal(error.to_string(), hint)
}

/// A file written to `static_root` this run, to compress.
struct Written {
    name: String,
    path: PathBuf,
    /// The name of a file with the same content whose siblings are made
    /// first (the original of a hashed copy): its siblings are copied, not
    /// recomputed.
    same_as: Option<String>,
    /// Whether it was copied this run over an older version: whatever
    /// siblings it has were made from that version, even with the same time
    /// (`cp -p`, an archive, npm's fixed 1985 dates keep a changed file's).
    replaced: bool,
}

/// The most bytes a file name (one component of a path) may have on the
/// file systems static_root lives on (ext4, XFS, Btrfs: `NAME_MAX`).
const NAME_MAX: usize = 255;

/// A file whose hashed copy's name (manifest storage adds `.` and
/// [`manifest::HASH_LEN`] hex digits) would be longer than [`NAME_MAX`]:
/// the file system would refuse it once the original was copied, and
/// `staticfiles.json` would not be written. Told before anything is
/// written, naming the file and the longest name that fits.
fn hashed_name_too_long(listing: &Listing) -> Option<Problem> {
    let added = manifest::HASH_LEN + 1;
    listing.files.iter().find_map(|file| {
        let len = file.name.rsplit('/').next().unwrap_or(&file.name).len();
        (len + added > NAME_MAX).then(|| {
            refusal(
                format!(
                    "the static file '{}' has a name of {len} bytes, and its hashed copy \
                     (manifest storage adds a '.' and {} hex digits of hash) would have {}: more \
                     than the {NAME_MAX} bytes a file name may have; nothing was written",
                    file.path.display(),
                    manifest::HASH_LEN,
                    len + added
                ),
                format!(
                    "rename it to a name of at most {} bytes, or leave it out with --ignore \
                     PATTERN",
                    NAME_MAX - added
                ),
            )
        })
    })
}

/// A file of one static folder whose name is a folder of another's
/// (`img` beside `img/logo.png`): static_root cannot hold both, and the
/// copies, made in parallel, would stop on whichever came second. Told
/// before anything is written.
fn file_where_a_folder_goes(listing: &Listing) -> Option<Problem> {
    let files: std::collections::HashMap<&str, &StaticFile> =
        listing.files.iter().map(|f| (f.name.as_str(), f)).collect();
    listing.files.iter().find_map(|inside| {
        let folder = inside
            .name
            .match_indices('/')
            .map(|(at, _)| &inside.name[..at])
            .find_map(|folder| files.get(folder))?;
        Some(refusal(
            format!(
                "the static file '{}' ({}) has the name of a folder that holds '{}' ({}): static_root cannot hold both",
                folder.name,
                folder.path.display(),
                inside.name,
                inside.path.display()
            ),
            "rename one of them, or leave one out with --ignore PATTERN",
        ))
    })
}

/// Leave out of `listing` a static folder's own `x.gz` and `x.br` beside
/// its `x`: collectstatic makes them from `x` itself, as WhiteNoise does.
/// Collected as they were, they were sent in place of `x` (and given to its
/// hashed copy, cached for a year) whatever `x` now holds.
fn leave_out_made_siblings(listing: &mut Listing, out: &mut Output<'_, '_>) {
    let names: HashSet<String> = listing.files.iter().map(|f| f.name.clone()).collect();
    let made_here = |name: &str| {
        Encoding::ALL.into_iter().any(|encoding| {
            name.strip_suffix(encoding.suffix())
                .is_some_and(|original| {
                    names.contains(original) && compress::is_compressible(original)
                })
        })
    };
    let (left_out, kept): (Vec<StaticFile>, Vec<StaticFile>) = std::mem::take(&mut listing.files)
        .into_iter()
        .partition(|f| made_here(&f.name));
    listing.files = kept;
    for file in &left_out {
        out.line(
            2,
            &format!(
                "Leaving out '{}': collectstatic compresses the file beside it itself.",
                file.path.display()
            ),
        );
    }
    if !left_out.is_empty() && out.verbosity < 2 {
        let count = left_out.len();
        out.line(
            1,
            &format!(
                "{count} compressed {} of the static folders {} left out: collectstatic makes the .gz and .br of the files beside them itself (-v 2 names them).",
                if count == 1 { "file" } else { "files" },
                if count == 1 { "was" } else { "were" }
            ),
        );
    }
}

/// Give each compressible file up-to-date `.gz` and `.br` siblings.
fn compress_files(
    root: &Path,
    ignore: &IgnorePatterns,
    written: &[Written],
    progress: Option<&indicatif::ProgressBar>,
    unfinished: &Unfinished,
    out: &mut Output<'_, '_>,
) -> Result<usize, Problem> {
    // Originals first, then the copies that reuse their siblings.
    let mut results: Vec<Option<Result<Vec<Encoding>, Problem>>> =
        (0..written.len()).map(|_| None).collect();
    for copies in [false, true] {
        let round: Vec<(usize, Result<Vec<Encoding>, Problem>)> = written
            .par_iter()
            .enumerate()
            .filter(|(_, w)| w.same_as.is_some() == copies)
            .map(|(i, w)| {
                let result = if compress::is_compressible(&w.name) {
                    compress_one(root, ignore, w, unfinished)
                } else {
                    Ok(Vec::new())
                };
                if let Some(bar) = progress {
                    bar.inc(1);
                }
                (i, result)
            })
            .collect();
        for (i, result) in round {
            results[i] = Some(result);
        }
    }
    let mut count = 0;
    for (w, result) in written.iter().zip(results) {
        let encodings = result.unwrap_or_else(|| Ok(Vec::new()))?;
        if !encodings.is_empty() {
            count += encodings.len();
            let suffixes: Vec<&str> = encodings.iter().map(|e| e.suffix()).collect();
            out.line(
                2,
                &format!("Compressed '{}' ({})", w.name, suffixes.join(", ")),
            );
        }
    }
    Ok(count)
}

/// Remove the `.gz` and `.br` siblings of the collected file `name` that
/// `stale` (given the sibling's metadata, not following a link) says are
/// made from another version; returns the names removed. A sibling that is
/// itself a collected file stays. Only names under `root` are touched, and
/// a link is removed, never followed.
fn remove_siblings(
    root: &Path,
    name: &str,
    collected: &HashSet<&str>,
    stale: impl Fn(&std::fs::Metadata) -> bool,
) -> Result<Vec<String>, Problem> {
    let mut removed = Vec::new();
    if !compress::is_compressible(name) {
        return Ok(removed);
    }
    for encoding in Encoding::ALL {
        let sibling = format!("{name}{}", encoding.suffix());
        if collected.contains(sibling.as_str()) {
            continue;
        }
        let path = root.join(&sibling);
        let gone = |e: &std::io::Error| {
            // A name too long for the file system: no such sibling.
            matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidFilename
            )
        };
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if stale(&meta) => match std::fs::remove_file(&path) {
                Ok(()) => removed.push(sibling),
                Err(e) if gone(&e) => {}
                Err(e) => return Err(write_error(&path, e)),
            },
            Ok(_) => {}
            Err(e) if gone(&e) => {}
            Err(e) => return Err(write_error(&path, e)),
        }
    }
    Ok(removed)
}

/// The names that have a `.gz` or `.br` beside them in static_root, from
/// one listing of each folder that the collected files `names` go in;
/// `None` (look at every file) when a folder cannot be listed.
fn files_with_siblings<'a>(
    root: &Path,
    names: impl Iterator<Item = &'a str>,
) -> Option<HashSet<String>> {
    let folders: BTreeSet<&str> = names
        .map(|name| name.rsplit_once('/').map_or("", |(folder, _)| folder))
        .collect();
    let mut names = HashSet::new();
    for folder in folders {
        let entries = match std::fs::read_dir(root.join(folder)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return None,
        };
        for entry in entries {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let Some(file) = name.to_str().and_then(|name| {
                Encoding::ALL
                    .iter()
                    .find_map(|encoding| name.strip_suffix(encoding.suffix()))
            }) else {
                continue;
            };
            names.insert(match folder {
                "" => file.to_string(),
                folder => format!("{folder}/{file}"),
            });
        }
    }
    Some(names)
}

/// Whether a sibling (its metadata, not following a link) was made from
/// the version of its file modified at `modified`: siblings are given
/// their file's time, and are regular files.
fn sibling_is_current(sibling: &std::fs::Metadata, modified: SystemTime) -> bool {
    sibling.is_file() && sibling.modified().is_ok_and(|m| m == modified)
}

fn sibling(path: &Path, encoding: Encoding) -> PathBuf {
    let mut file = path.as_os_str().to_owned();
    file.push(encoding.suffix());
    PathBuf::from(file)
}

/// The siblings of one file written this time.
///
/// A sibling is up to date only when it is a regular file (not a link)
/// with the file's time, of a file not replaced this run; anything else in
/// its place is replaced. The
/// sibling of another file is read only when it passes the rule of every
/// file that leaves the static files ([`Located::new`]): a link planted in
/// `static_root` is never read as content.
fn compress_one(
    root: &Path,
    ignore: &IgnorePatterns,
    written: &Written,
    unfinished: &Unfinished,
) -> Result<Vec<Encoding>, Problem> {
    let path = &written.path;
    let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    if meta.len() < compress::MIN_SIZE {
        // Too small to compress: a sibling there was made from an older,
        // larger version, and would be sent in its place.
        for encoding in Encoding::ALL {
            let target = sibling(path, encoding);
            if std::fs::symlink_metadata(&target).is_ok() {
                std::fs::remove_file(&target).map_err(|e| write_error(&target, e))?;
            }
        }
        return Ok(Vec::new());
    }
    let modified = meta.modified().map_err(|e| read_error(path, e))?;
    let stale: Vec<Encoding> = Encoding::ALL
        .into_iter()
        .filter(|e| match std::fs::symlink_metadata(sibling(path, *e)) {
            Ok(m) => written.replaced || !sibling_is_current(&m, modified),
            // A name too long for the file system: no such sibling.
            Err(error) => error.kind() != std::io::ErrorKind::InvalidFilename,
        })
        .collect();
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let mut content = None;
    let mut done = Vec::new();
    for encoding in stale {
        let target = sibling(path, encoding);
        // Same content: the original's sibling holds, if one may be read.
        let original = written
            .same_as
            .as_deref()
            .and_then(|original| Located::new(root, original, ignore)?.sibling(encoding.suffix()));
        let packed = match original {
            Some(original) => {
                Some(std::fs::read(&original.path).map_err(|e| read_error(&original.path, e))?)
            }
            None => {
                if content.is_none() {
                    content = Some(std::fs::read(path).map_err(|e| read_error(path, e))?);
                }
                let data = content.as_deref().unwrap_or_default();
                let packed = encoding
                    .compress(data)
                    .map_err(|e| write_error(&target, e))?;
                compress::worth_keeping(data.len(), packed.len()).then_some(packed)
            }
        };
        match packed {
            Some(packed) => {
                write_file(&packed, &target, modified, unfinished)?;
                done.push(encoding);
            }
            None if std::fs::symlink_metadata(&target).is_ok() => {
                std::fs::remove_file(&target).map_err(|e| write_error(&target, e))?;
            }
            None => {}
        }
    }
    Ok(done)
}

/// A folder of the project's own files that `static_root` is, is inside,
/// or contains: see [`static_root_overlaps`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The setting (or place) the folder comes from: `template_dirs`,
    /// `databases` (a SQLite database's folder), `media_root`,
    /// `email_file_path`, `log_file` (its folder), `base_dir` (its `src/`,
    /// `tests/` and `migrations/`) or `apps` (an app's folder).
    pub setting: &'static str,
    /// What is wrong, naming the setting and the folder, and the fix.
    pub problem: Problem,
}

/// Where `static_root` overlaps the project's own files: it is, is inside,
/// or contains a folder of `template_dirs`, the folder of a SQLite database
/// of `databases`, `media_root`, `email_file_path`, the folder of
/// `log_file`, `src/`, `tests/` or `migrations/` of `base_dir`, or the
/// folder of an app (which holds its `templates/`). `collectstatic` would
/// write the collected files among those files, and `--clear` would delete
/// them. The folder a database or the log file sits in counts only when
/// `static_root` is it or contains it: a static root beside them
/// (`/srv/site/db.sqlite3` and `/srv/site/static/`) is the usual layout,
/// and clearing it touches neither; so does a folder that is `base_dir` or
/// contains it. Empty when `static_root` is unset. `collectstatic` refuses the
/// first, and `check` reports them as `nuages.E035`.
pub fn static_root_overlaps(settings: &Settings, apps: &[App]) -> Vec<Overlap> {
    let Some(root) = &settings.static_root else {
        return vec![];
    };
    let real = resolve(root);
    let base = resolve(&settings.base_dir);
    own_folders(settings, apps)
        .into_iter()
        .filter_map(|(setting, folder, what, holds_only_a_file)| {
            let resolved = resolve(&folder);
            let relation = Relation::of(&real, &resolved)?;
            if relation == Relation::Inside && (holds_only_a_file || base.starts_with(&resolved)) {
                return None;
            }
            let consequence = match relation {
                Relation::Same | Relation::Contains => {
                    "collectstatic --clear would delete those files, and collectstatic would write the \
                     static files among them"
                }
                Relation::Inside => "collectstatic would write the static files among those files",
            };
            let problem = refusal(
                format!(
                    "static_root '{}' {} {what}: {consequence}",
                    root.display(),
                    relation.describe()
                ),
                HINT_SEPARATE_ROOT,
            );
            Some(Overlap { setting, problem })
        })
        .collect()
}

/// The folders of [`static_root_overlaps`], each with its setting, how a
/// message names it, and whether it is only where a file sits (a
/// database's, the log file's).
fn own_folders(settings: &Settings, apps: &[App]) -> Vec<(&'static str, PathBuf, String, bool)> {
    let mut folders = Vec::new();
    for dir in &settings.template_dirs {
        let what = format!("the folder '{}' of template_dirs", dir.display());
        folders.push(("template_dirs", dir.clone(), what, false));
    }
    for data in settings.data_folders() {
        let what = format!("the folder '{}' of {}", data.folder.display(), data.of);
        folders.push((data.setting, data.folder, what, true));
    }
    if let Some(media) = &settings.media_root {
        let what = format!("media_root '{}'", media.display());
        folders.push(("media_root", media.clone(), what, false));
    }
    if let Some(mail) = &settings.email_file_path {
        let what = format!("email_file_path '{}'", mail.display());
        folders.push(("email_file_path", mail.clone(), what, false));
    }
    for name in ["src", "tests", "migrations"] {
        let folder = settings.base_dir.join(name);
        let what = format!("the project's source folder '{}'", folder.display());
        folders.push(("base_dir", folder, what, false));
    }
    for app in apps {
        let what = format!(
            "the folder '{}' of the app '{}'",
            app.path().display(),
            app.label()
        );
        folders.push(("apps", app.path().to_path_buf(), what, false));
    }
    folders
}

/// The refusals: where `static_root` must never be. Returns the real
/// folder it names ([`resolve`]), the one these checks passed.
fn check_root(
    root: &Path,
    settings: &Settings,
    apps: &[App],
    finder: &Finder,
    clear: bool,
) -> Result<PathBuf, Problem> {
    let real = resolve(root);
    let shown = root.display();
    if real == Path::new("/") {
        return Err(refusal(
            format!("static_root is '{shown}', the root of the file system"),
            HINT_SEPARATE_ROOT,
        ));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| resolve(Path::new(&h)));
    if home.as_deref() == Some(real.as_path()) {
        return Err(refusal(
            format!("static_root is '{shown}', the home folder"),
            HINT_SEPARATE_ROOT,
        ));
    }
    if resolve(&settings.base_dir) == real {
        return Err(refusal(
            format!("static_root is '{shown}', the project's folder (base_dir)"),
            HINT_SEPARATE_ROOT,
        ));
    }
    for source in finder.sources() {
        let folder = resolve(&source.root);
        let relation = if folder == real {
            "is"
        } else if real.starts_with(&folder) {
            "is inside"
        } else if folder.starts_with(&real) {
            "contains"
        } else {
            continue;
        };
        let origin = match &source.origin {
            super::finders::Origin::StaticfilesDirs => "listed in staticfiles_dirs".to_string(),
            super::finders::Origin::App(label) => format!("of the app '{label}'"),
        };
        return Err(refusal(
            format!(
                "static_root '{shown}' {relation} the static source folder '{}' ({origin})",
                source.root.display()
            ),
            HINT_SEPARATE_ROOT,
        ));
    }
    // Refused with or without --clear: a run writes among those files
    // and a later --clear deletes them.
    if let Some(overlap) = static_root_overlaps(settings, apps).into_iter().next() {
        return Err(overlap.problem);
    }
    if clear {
        if let Some(file) = &settings.settings_file
            && resolve(file).starts_with(&real)
        {
            return Err(refusal(
                format!(
                    "--clear would delete the settings file {}: it is inside static_root '{shown}'",
                    file.display()
                ),
                HINT_SEPARATE_ROOT,
            ));
        }
        if let Some(home) = &home
            && home.starts_with(&real)
        {
            return Err(refusal(
                format!("--clear would delete the home folder: static_root '{shown}' contains it"),
                HINT_SEPARATE_ROOT,
            ));
        }
    }
    Ok(real)
}

fn is_non_empty(root: &Path) -> bool {
    std::fs::read_dir(root).is_ok_and(|mut entries| entries.next().is_some())
}

/// Django's question; anything but `yes` (or no answer at all) cancels.
fn confirm(
    root: &Path,
    options: &CollectOptions,
    console: &mut Console<'_>,
) -> Result<(), Problem> {
    let mut message = String::from("\n");
    if options.dry_run {
        message
            .push_str("You have activated the --dry-run option so no files will be modified.\n\n");
    }
    message.push_str(&format!(
        "You have requested to collect static files at the destination\n\
         location as specified in your settings:\n\n    {}\n\n",
        root.display()
    ));
    message.push_str(if options.clear {
        "This will DELETE ALL FILES in this location!\n"
    } else {
        "This will overwrite existing files!\n"
    });
    message.push_str(
        "Are you sure you want to do this?\n\nType 'yes' to continue, or 'no' to cancel: ",
    );
    let _ = console.out.write_all(message.as_bytes());
    let _ = console.out.flush();
    let mut answer = String::new();
    let read = console.input.read_line(&mut answer);
    let confirmed = matches!(read, Ok(n) if n > 0) && answer.trim() == "yes";
    if !confirmed {
        let _ = writeln!(console.out);
        return Err(refusal(
            "collecting static files cancelled",
            "answer 'yes' to go on, or pass --noinput to skip the question",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project folder with a static source and a file in each folder of
    /// its own (templates, database, uploads, sources, migrations, mails,
    /// logs, the app `polls`), `static_root` at `root`.
    fn project(dir: &Path, root: &str) -> Settings {
        for (file, text) in [
            ("static/css/site.css", "body {}"),
            ("templates/base.html", "<html></html>"),
            ("db/db.sqlite3", "SQLite format 3"),
            ("media/upload.txt", "a visitor's file"),
            ("src/urls.rs", "// routes"),
            ("migrations/1_initial.sql", "CREATE TABLE t (id INTEGER);"),
            ("mail/1.eml", "Subject: hello"),
            ("logs/site.log", "started"),
            ("polls/templates/polls/index.html", "{{ question }}"),
        ] {
            std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
            std::fs::write(dir.join(file), text).unwrap();
        }
        Settings {
            static_root: Some(dir.join(root)),
            media_root: Some(dir.join("media")),
            email_file_path: Some(dir.join("mail")),
            log_file: Some(dir.join("logs/site.log")),
            staticfiles_dirs: vec![dir.join("static").display().to_string()],
            ..Settings::defaults_in(dir)
        }
    }

    fn run(settings: &Settings, options: CollectOptions) -> (Result<Summary, Problem>, String) {
        let mut out = Vec::new();
        let mut input: &[u8] = b"yes\n";
        let mut console = Console {
            out: &mut out,
            input: &mut input,
            terminal: false,
        };
        let apps = [App::new("polls", settings.base_dir.join("polls"))];
        let result = collect(settings, &apps, &options, &mut console);
        (result, String::from_utf8(out).unwrap())
    }

    /// The files made and not finished are removed and counted; one
    /// renamed into place (finished) is not theirs any more, and stays.
    #[test]
    fn remove_all_removes_the_unfinished_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let unfinished = Unfinished::default();
        let (kept, _) = create_temp(&dir.path().join("kept.css"), &unfinished).unwrap();
        rename_into_place(&kept, &dir.path().join("kept.css"), &unfinished).unwrap();
        let (half, _) = create_temp(&dir.path().join("half.css"), &unfinished).unwrap();
        let (link, ()) = create_beside(&dir.path().join("link.css"), &unfinished, |temp| {
            std::os::unix::fs::symlink("kept.css", temp)
        })
        .unwrap();
        assert!(half.exists() && link.symlink_metadata().is_ok());
        assert_eq!(unfinished.clone().remove_all(), 2);
        assert!(!half.exists() && link.symlink_metadata().is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, ["kept.css"]);
    }

    /// A file where collectstatic needs a folder (a folder of static_root,
    /// or static_root itself) is named, with how to fix it, not taken for a
    /// full disk; the file is left as it was.
    #[test]
    fn a_file_where_a_folder_goes_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let settings = project(dir.path(), "www_dir/static");
        let hint = "move or remove that file (static_root and the folders in it hold the collected files), then run collectstatic again";
        for (file, options) in [
            ("www_dir/static/css", CollectOptions::default()),
            ("www_dir/static", CollectOptions::default()),
            (
                "www_dir/static",
                CollectOptions {
                    clear: true,
                    ..CollectOptions::default()
                },
            ),
            (
                "www_dir/static/css",
                CollectOptions {
                    link: true,
                    ..CollectOptions::default()
                },
            ),
        ] {
            let _ = std::fs::remove_dir_all(dir.path().join("www_dir"));
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "the user's notes").unwrap();
            let (result, _) = run(&settings, options);
            let problem = result.expect_err(file);
            assert_eq!(
                problem.message,
                format!(
                    "'{}' is a file, where collectstatic needs a folder",
                    path.display()
                ),
                "{file}"
            );
            assert_eq!(problem.hint.as_deref(), Some(hint), "{file}");
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                "the user's notes",
                "{file}"
            );
        }
        // A link to nothing there: named with its target, and kept.
        let _ = std::fs::remove_dir_all(dir.path().join("www_dir"));
        std::fs::create_dir_all(dir.path().join("www_dir")).unwrap();
        let link = dir.path().join("www_dir/static");
        std::os::unix::fs::symlink("/nonexistent/static", &link).unwrap();
        let (result, _) = run(&settings, CollectOptions::default());
        let problem = result.expect_err("a link to nothing");
        assert_eq!(
            problem.message,
            format!(
                "{} is a link to /nonexistent/static, which does not exist, where collectstatic \
                 needs a folder",
                link.display()
            )
        );
        assert!(
            problem
                .hint
                .as_deref()
                .unwrap()
                .starts_with("create the link's target or remove the link"),
            "{problem:?}"
        );
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn a_static_root_among_the_projects_files_is_refused_before_anything_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let before = |dir: &Path| {
            [
                "templates/base.html",
                "db/db.sqlite3",
                "media/upload.txt",
                "src/urls.rs",
                "migrations/1_initial.sql",
                "mail/1.eml",
                "logs/site.log",
                "polls/templates/polls/index.html",
            ]
            .map(|file| std::fs::read_to_string(dir.join(file)).unwrap())
        };
        for (root, named) in [
            ("templates", "is the folder '"),
            ("db", "of the SQLite database of databases.default.url"),
            ("media", "is media_root '"),
            ("src", "is the project's source folder '"),
            ("migrations", "is the project's source folder '"),
            ("mail", "is email_file_path '"),
            ("logs", "of log_file"),
            ("polls/templates", "of the app 'polls'"),
            ("templates/static", "is inside the folder '"),
        ] {
            let settings = project(dir.path(), root);
            let kept = before(dir.path());
            for (clear, dry_run, interactive) in [
                (true, false, false),
                (true, true, false),
                (false, false, false),
                (true, false, true),
            ] {
                let options = CollectOptions {
                    clear,
                    dry_run,
                    interactive,
                    ..CollectOptions::default()
                };
                let (result, out) = run(&settings, options);
                let problem = result.expect_err(root);
                assert!(
                    problem.message.starts_with(&format!(
                        "static_root '{}' ",
                        dir.path().join(root).display()
                    )),
                    "{root}: {}",
                    problem.message
                );
                assert!(
                    problem.message.contains(named),
                    "{root}: {}",
                    problem.message
                );
                assert_eq!(problem.hint.as_deref(), Some(HINT_SEPARATE_ROOT));
                // Refused before the question, the deletions and the copies.
                assert_eq!(out, "", "{root}");
                assert_eq!(before(dir.path()), kept, "{root}");
                assert!(!dir.path().join(root).join("css").exists(), "{root}");
            }
        }
    }

    #[test]
    fn the_files_with_siblings_are_found_from_a_listing_of_their_folders() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("css/deep")).unwrap();
        for name in [
            "a.css",
            "a.css.gz",
            "css/b.css",
            "css/b.css.br",
            "css/c.css",
            "css/deep/d.js.gz",
            "e.txt",
        ] {
            std::fs::write(root.path().join(name), "x").unwrap();
        }
        let names = ["a.css", "css/b.css", "css/c.css", "e.txt", "gone/f.css"];
        let found = files_with_siblings(root.path(), names.into_iter()).unwrap();
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        found.sort();
        // css/deep holds no collected file: it is not listed.
        assert_eq!(found, ["a.css", "css/b.css"]);
    }

    /// A full disk while copying is the destination's: "cannot write", with
    /// the hint that names the disk (a real full device, /dev/full); it
    /// said "cannot read static file", telling to make the source
    /// readable. A source that cannot be read (a folder) is still the
    /// source's.
    #[test]
    fn a_full_disk_while_copying_is_a_write_error_and_a_bad_source_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("app.css");
        std::fs::write(&source, "body { color: red }").unwrap();
        let dest = dir.path().join("static_root/app.css");
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut input = std::fs::File::open(&source).unwrap();
        let problem = copy_contents(&mut input, &mut full, &source, &dest).unwrap_err();
        assert!(
            problem.message.starts_with(&format!(
                "cannot write '{}': No space left on device",
                dest.display()
            )),
            "{problem:?}"
        );
        assert!(
            problem
                .hint
                .as_deref()
                .unwrap()
                .contains("the disk is not full"),
            "{problem:?}"
        );

        let mut folder = std::fs::File::open(dir.path()).unwrap();
        let problem = copy_contents(&mut folder, &mut Vec::new(), &source, &dest).unwrap_err();
        assert!(
            problem
                .message
                .starts_with(&format!("cannot read static file '{}'", source.display())),
            "{problem:?}"
        );
    }
}
