//! Finders: where static files come from, as Django's `STATICFILES_FINDERS`.
//!
//! The sources, in order: each entry of `staticfiles_dirs` (`"path"` or
//! `"prefix=path"`), then each installed app's `static/` folder. For a given
//! name (`css/site.css`) the first source that has it wins; the files that a
//! later source has under the same name are listed as [`Duplicate`]s.
//!
//! Names matching the ignore patterns are skipped: by default `CVS`, `.*`
//! and `*~`. A pattern without `/` is matched against each file and folder
//! name; a pattern with `/` against the path inside the source folder.
//!
//! Nothing outside a source folder is ever found: a symbolic link that
//! leads out of its source folder is skipped (and listed in
//! [`Listing::outside_links`]), so `collectstatic` and the development
//! server agree on what exists. Every file that leaves the static files
//! (served, or sent or read as the `.gz` / `.br` sibling of another) passes
//! one rule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::conf::Settings;
use crate::project::App;

/// The patterns ignored unless `--no-default-ignore`: Django's defaults.
pub(crate) const DEFAULT_IGNORE_PATTERNS: &[&str] = &["CVS", ".*", "*~"];

/// Glob patterns of files and folders to leave out.
///
/// ```
/// use nuages::staticfiles::finders::IgnorePatterns;
/// let ignore = IgnorePatterns::new(&["*.scss", "vendor/src/*"], true).unwrap();
/// assert!(ignore.is_ignored("css/.hidden/x.css"));
/// assert!(ignore.is_ignored("css/site.css~"));
/// assert!(ignore.is_ignored("css/site.scss"));
/// assert!(ignore.is_ignored("vendor/src/a.js"));
/// assert!(!ignore.is_ignored("css/site.css"));
/// ```
#[derive(Debug, Clone)]
pub struct IgnorePatterns {
    names: GlobSet,
    paths: GlobSet,
    patterns: Vec<String>,
}

impl Default for IgnorePatterns {
    fn default() -> Self {
        IgnorePatterns::new::<&str>(&[], true).expect("the default patterns are valid")
    }
}

impl IgnorePatterns {
    /// `patterns`, plus the defaults when `use_defaults`.
    pub fn new<S: AsRef<str>>(patterns: &[S], use_defaults: bool) -> Result<Self, globset::Error> {
        let mut all: Vec<String> = Vec::new();
        if use_defaults {
            all.extend(DEFAULT_IGNORE_PATTERNS.iter().map(|p| p.to_string()));
        }
        all.extend(patterns.iter().map(|p| p.as_ref().to_string()));
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in &all {
            if pattern.contains('/') {
                let glob = GlobBuilder::new(pattern.trim_start_matches('/'))
                    .literal_separator(true)
                    .build()?;
                paths.add(glob);
            } else {
                names.add(Glob::new(pattern)?);
            }
        }
        Ok(IgnorePatterns {
            names: names.build()?,
            paths: paths.build()?,
            patterns: all,
        })
    }

    /// No pattern at all (`--no-default-ignore` without `--ignore`).
    pub fn none() -> Self {
        IgnorePatterns::new::<&str>(&[], false).expect("no patterns")
    }

    /// The patterns in force.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a single file or folder name is ignored.
    pub fn is_ignored_name(&self, name: &str) -> bool {
        self.names.is_match(name)
    }

    /// Whether a path inside a source folder (`/`-separated) is ignored:
    /// one of its components matches a name pattern, or the whole path a
    /// path pattern.
    pub fn is_ignored(&self, relative: &str) -> bool {
        relative.split('/').any(|part| self.is_ignored_name(part)) || self.paths.is_match(relative)
    }
}

/// Where a source folder comes from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An entry of `staticfiles_dirs`.
    StaticfilesDirs,
    /// The `static/` folder of the app with this label.
    App(String),
}

/// One source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its files appear under `prefix/` (entries `"prefix=path"`).
    pub prefix: Option<String>,
    /// The folder.
    pub root: PathBuf,
    /// Where it was configured.
    pub origin: Origin,
}

impl Source {
    /// The name of the file at `relative` (inside the folder), with the prefix.
    fn name_of(&self, relative: &str) -> String {
        match &self.prefix {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}/{relative}"),
            _ => relative.to_string(),
        }
    }

    /// The path inside the folder for `name`, if `name` is under the prefix.
    fn relative_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        match &self.prefix {
            Some(prefix) if !prefix.is_empty() => name
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/')),
            _ => Some(name),
        }
    }
}

/// A static file found in a source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFile {
    /// Its name under `static_url` and in `static_root` (`css/site.css`).
    pub name: String,
    /// The file in its source folder.
    pub path: PathBuf,
    /// Index of the source in [`Finder::sources`].
    pub source: usize,
    /// Size in bytes.
    pub len: u64,
    /// Modification time.
    pub modified: SystemTime,
}

/// A file hidden by an earlier source's file of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The name both have.
    pub name: String,
    /// The file left out.
    pub path: PathBuf,
    /// The file collected instead.
    pub kept: PathBuf,
}

/// Everything the sources hold.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The files, first source first, each folder in name order.
    pub files: Vec<StaticFile>,
    /// Files hidden by an earlier file of the same name.
    pub duplicates: Vec<Duplicate>,
    /// Symbolic links skipped because they lead out of their source folder.
    pub outside_links: Vec<PathBuf>,
}

/// A source file that cannot be listed or read.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// Listing or reading failed.
    #[error("cannot read static file '{}': {source}", path.display())]
    Unreadable {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file name that is not UTF-8 cannot become a URL.
    #[error("the static file name '{}' is not valid UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

/// Looks for static files in the source folders.
#[derive(Debug, Clone, Default)]
pub struct Finder {
    sources: Vec<Source>,
    ignore: IgnorePatterns,
}

impl Finder {
    /// A finder over `sources`, in order.
    pub fn new(sources: Vec<Source>, ignore: IgnorePatterns) -> Self {
        Finder { sources, ignore }
    }

    /// The sources of a project: `staticfiles_dirs`, then each app's `static/`.
    pub fn from_settings(settings: &Settings, apps: &[App], ignore: IgnorePatterns) -> Self {
        let mut sources: Vec<Source> = settings
            .static_dirs()
            .into_iter()
            .map(|dir| Source {
                prefix: dir.prefix.filter(|p| !p.is_empty()),
                root: dir.path,
                origin: Origin::StaticfilesDirs,
            })
            .collect();
        sources.extend(apps.iter().map(|app| Source {
            prefix: None,
            root: app.static_dir(),
            origin: Origin::App(app.label().to_string()),
        }));
        Finder::new(sources, ignore)
    }

    /// The source folders, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The ignore patterns.
    pub fn ignore(&self) -> &IgnorePatterns {
        &self.ignore
    }

    /// Every file of every source; the first file of a name wins. Missing
    /// source folders are skipped (the system checks report them).
    pub fn list(&self) -> Result<Listing, FindError> {
        let mut listing = Listing::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (index, source) in self.sources.iter().enumerate() {
            let Ok(real_root) = std::fs::canonicalize(&source.root) else {
                continue;
            };
            if !real_root.is_dir() {
                continue;
            }
            self.walk_source(index, source, &real_root, &mut seen, &mut listing)?;
        }
        Ok(listing)
    }

    fn walk_source(
        &self,
        index: usize,
        source: &Source,
        real_root: &Path,
        seen: &mut HashMap<String, usize>,
        listing: &mut Listing,
    ) -> Result<(), FindError> {
        let mut walker = walkdir::WalkDir::new(&source.root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter();
        while let Some(next) = walker.next() {
            let entry = match next {
                Ok(entry) => entry,
                // A link back to a parent folder: nothing new below it.
                Err(error) if error.loop_ancestor().is_some() => continue,
                Err(error) => {
                    let path = error.path().unwrap_or(&source.root).to_path_buf();
                    // A broken or looping link the patterns leave out (an
                    // editor's lock file, `.#name`) is no error.
                    let relative = path.strip_prefix(&source.root).unwrap_or(&path);
                    if !relative.as_os_str().is_empty()
                        && self.ignore.is_ignored(&relative.to_string_lossy())
                    {
                        continue;
                    }
                    let source = error
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("unreadable"));
                    return Err(FindError::Unreadable { path, source });
                }
            };
            if entry.depth() == 0 {
                continue;
            }
            let is_dir = entry.file_type().is_dir();
            let relative = match relative_name(entry.path(), &source.root) {
                Ok(relative) => relative,
                // Not UTF-8, so no URL: an error, unless the patterns leave
                // it out (they see each odd byte as U+FFFD).
                Err(error) => {
                    let lossy = entry
                        .path()
                        .strip_prefix(&source.root)
                        .unwrap_or(entry.path());
                    if !self.ignore.is_ignored(&lossy.to_string_lossy()) {
                        return Err(error);
                    }
                    if is_dir {
                        walker.skip_current_dir();
                    }
                    continue;
                }
            };
            if self.ignore.is_ignored(&relative) {
                if is_dir {
                    walker.skip_current_dir();
                }
                continue;
            }
            if entry.path_is_symlink() {
                let target = std::fs::canonicalize(entry.path()).map_err(|source| {
                    FindError::Unreadable {
                        path: entry.path().to_path_buf(),
                        source,
                    }
                })?;
                if !target.starts_with(real_root) {
                    listing.outside_links.push(entry.path().to_path_buf());
                    if is_dir {
                        walker.skip_current_dir();
                    }
                    continue;
                }
            }
            if !entry.file_type().is_file() {
                continue;
            }
            let metadata = entry.metadata().map_err(|error| FindError::Unreadable {
                path: entry.path().to_path_buf(),
                source: error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("unreadable")),
            })?;
            let name = source.name_of(&relative);
            match seen.get(&name) {
                Some(&kept) => listing.duplicates.push(Duplicate {
                    name,
                    path: entry.path().to_path_buf(),
                    kept: listing.files[kept].path.clone(),
                }),
                None => {
                    seen.insert(name.clone(), listing.files.len());
                    listing.files.push(StaticFile {
                        name,
                        path: entry.path().to_path_buf(),
                        source: index,
                        len: metadata.len(),
                        modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        Ok(())
    }

    /// The file for `name` (`css/site.css`), from the first source that has
    /// it: never a file outside its source folder, never an ignored name.
    /// `name` must be a clean relative path (`/`-separated, no empty, `.` or
    /// `..` component, no backslash, no NUL), else nothing is found.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.locate(name)
            .map(|located| located.root.join(&located.relative))
    }

    /// Like [`Finder::find`], keeping the source folder, so that a sibling
    /// (`css/site.css.gz`) is looked for in that folder only, by the same
    /// rule ([`Located::sibling`]).
    pub(crate) fn locate(&self, name: &str) -> Option<Located<'_>> {
        if !is_clean_name(name) {
            return None;
        }
        self.sources
            .iter()
            .find_map(|source| Located::new(&source.root, source.relative_of(name)?, &self.ignore))
    }
}

/// A file that may leave the static files: served by the application, or
/// read as content by `collectstatic`. Every such file, and every `.gz` or
/// `.br` sibling sent or read in its place, passes the one rule of
/// [`Located::new`].
#[derive(Debug, Clone)]
pub(crate) struct Located<'a> {
    root: &'a Path,
    ignore: &'a IgnorePatterns,
    relative: String,
    /// Its real location (links resolved): the file to open.
    pub path: PathBuf,
}

impl<'a> Located<'a> {
    /// `root/relative`, when `relative` is a clean name (see
    /// [`is_clean_name`]) that `ignore` does not ignore, and the file's real
    /// location (symbolic links followed) is a regular file inside the real
    /// location of `root`.
    pub fn new(root: &'a Path, relative: &str, ignore: &'a IgnorePatterns) -> Option<Located<'a>> {
        if !is_clean_name(relative) || ignore.is_ignored(relative) {
            return None;
        }
        let real_root = std::fs::canonicalize(root).ok()?;
        let path = std::fs::canonicalize(root.join(relative)).ok()?;
        if !path.starts_with(&real_root) || !path.is_file() {
            return None;
        }
        Some(Located {
            root,
            ignore,
            relative: relative.to_string(),
            path,
        })
    }

    /// `root/relative` (`root` being `static_root`) when it is a link of
    /// `collectstatic --link`: its real location is exactly the file that
    /// `sources` has under the same name, by their own rule (so a link to
    /// anything else, or to a source file under another name, is refused).
    pub fn linked(
        root: &'a Path,
        relative: &str,
        ignore: &'a IgnorePatterns,
        sources: &Finder,
    ) -> Option<Located<'a>> {
        if !is_clean_name(relative) || ignore.is_ignored(relative) {
            return None;
        }
        let path = std::fs::canonicalize(root.join(relative)).ok()?;
        let source = sources.locate(relative)?;
        (source.path == path).then(|| Located {
            root,
            ignore,
            relative: relative.to_string(),
            path,
        })
    }

    /// The file named like this one plus `suffix` (`.gz`), in the same
    /// folder, if it passes the same rule.
    pub fn sibling(&self, suffix: &str) -> Option<Located<'a>> {
        Located::new(
            self.root,
            &format!("{}{suffix}", self.relative),
            self.ignore,
        )
    }
}

/// A `/`-separated relative path with no empty, `.` or `..` component, no
/// backslash and no NUL: safe to join to a folder.
pub(crate) fn is_clean_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['\\', '\0'])
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The `/`-separated path of `path` inside `root`.
fn relative_name(path: &Path, root: &Path) -> Result<String, FindError> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let mut parts = Vec::new();
    for component in relative.components() {
        let part = component
            .as_os_str()
            .to_str()
            .ok_or_else(|| FindError::NotUtf8 {
                path: path.to_path_buf(),
            })?;
        parts.push(part);
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn source(root: &Path, prefix: Option<&str>) -> Source {
        Source {
            prefix: prefix.map(str::to_string),
            root: root.to_path_buf(),
            origin: Origin::StaticfilesDirs,
        }
    }

    #[test]
    fn the_first_source_wins_and_later_ones_are_duplicates() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write(a.path(), "css/site.css", "a");
        write(b.path(), "css/site.css", "b");
        write(b.path(), "js/app.js", "b");
        let finder = Finder::new(
            vec![source(a.path(), None), source(b.path(), None)],
            IgnorePatterns::default(),
        );
        let listing = finder.list().unwrap();
        let names: Vec<_> = listing.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["css/site.css", "js/app.js"]);
        assert_eq!(listing.files[0].path, a.path().join("css/site.css"));
        assert_eq!(listing.duplicates.len(), 1);
        assert_eq!(listing.duplicates[0].path, b.path().join("css/site.css"));
        assert_eq!(listing.duplicates[0].kept, a.path().join("css/site.css"));
        assert_eq!(
            finder.find("css/site.css"),
            Some(a.path().join("css/site.css"))
        );
        assert_eq!(finder.find("js/app.js"), Some(b.path().join("js/app.js")));
        assert_eq!(finder.find("js/none.js"), None);
    }

    #[test]
    fn prefixes_put_files_under_a_folder() {
        let a = tempfile::tempdir().unwrap();
        write(a.path(), "jquery.js", "j");
        let finder = Finder::new(
            vec![source(a.path(), Some("vendor"))],
            IgnorePatterns::default(),
        );
        let listing = finder.list().unwrap();
        assert_eq!(listing.files[0].name, "vendor/jquery.js");
        assert_eq!(
            finder.find("vendor/jquery.js"),
            Some(a.path().join("jquery.js"))
        );
        assert_eq!(finder.find("jquery.js"), None);
        assert_eq!(finder.find("vendorjquery.js"), None);
    }

    #[test]
    fn settings_and_apps_give_the_sources_in_order() {
        let settings = Settings {
            staticfiles_dirs: vec!["/srv/static".into(), "lib=/srv/lib".into()],
            ..Settings::default()
        };
        let apps = [App::new("polls", "/srv/src/polls")];
        let finder = Finder::from_settings(&settings, &apps, IgnorePatterns::default());
        let roots: Vec<_> = finder.sources().iter().map(|s| s.root.clone()).collect();
        assert_eq!(
            roots,
            [
                PathBuf::from("/srv/static"),
                PathBuf::from("/srv/lib"),
                PathBuf::from("/srv/src/polls/static")
            ]
        );
        assert_eq!(finder.sources()[1].prefix.as_deref(), Some("lib"));
        assert_eq!(finder.sources()[2].origin, Origin::App("polls".into()));
        // Missing folders are skipped, not errors.
        assert!(finder.list().unwrap().files.is_empty());
    }

    #[test]
    fn default_ignores_and_extra_patterns() {
        let a = tempfile::tempdir().unwrap();
        for name in [
            "css/site.css",
            "css/site.css~",
            ".hidden",
            ".git/config",
            "CVS/Entries",
            "scss/site.scss",
            "src/vendor/raw.js",
            "vendor/raw.js",
        ] {
            write(a.path(), name, "x");
        }
        let names = |ignore: IgnorePatterns| -> Vec<String> {
            Finder::new(vec![source(a.path(), None)], ignore)
                .list()
                .unwrap()
                .files
                .into_iter()
                .map(|f| f.name)
                .collect()
        };
        assert_eq!(
            names(IgnorePatterns::default()),
            [
                "css/site.css",
                "scss/site.scss",
                "src/vendor/raw.js",
                "vendor/raw.js"
            ]
        );
        assert_eq!(
            names(IgnorePatterns::new(&["*.scss", "vendor/*"], true).unwrap()),
            ["css/site.css", "src/vendor/raw.js"]
        );
        let everything = names(IgnorePatterns::none());
        assert_eq!(everything.len(), 8, "{everything:?}");
        assert!(everything.contains(&".git/config".to_string()));
        let finder = Finder::new(vec![source(a.path(), None)], IgnorePatterns::default());
        assert_eq!(finder.find(".hidden"), None);
        assert_eq!(finder.find(".git/config"), None);
        assert_eq!(finder.find("css/site.css~"), None);
    }

    #[test]
    fn links_out_of_the_source_are_skipped_links_inside_are_followed() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", "secret");
        let a = tempfile::tempdir().unwrap();
        write(a.path(), "css/site.css", "x");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), a.path().join("leak.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), a.path().join("leakdir")).unwrap();
        std::os::unix::fs::symlink(a.path().join("css"), a.path().join("styles")).unwrap();
        let finder = Finder::new(vec![source(a.path(), None)], IgnorePatterns::default());
        let listing = finder.list().unwrap();
        let names: Vec<_> = listing.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["css/site.css", "styles/site.css"]);
        assert_eq!(listing.outside_links.len(), 2);
        assert_eq!(finder.find("leak.txt"), None);
        assert_eq!(finder.find("leakdir/secret.txt"), None);
        assert!(finder.find("styles/site.css").is_some());
    }

    #[test]
    fn a_dangling_link_is_an_unreadable_file_named_in_the_error() {
        let a = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(a.path().join("gone.css"), a.path().join("broken.css")).unwrap();
        let finder = Finder::new(vec![source(a.path(), None)], IgnorePatterns::default());
        let error = finder.list().unwrap_err();
        assert!(error.to_string().contains("broken.css"), "{error}");
    }

    #[test]
    fn unclean_names_are_never_found() {
        let a = tempfile::tempdir().unwrap();
        write(a.path(), "css/site.css", "x");
        let finder = Finder::new(vec![source(a.path(), None)], IgnorePatterns::default());
        for bad in [
            "css/../css/site.css",
            "/css/site.css",
            "css//site.css",
            "css\\site.css",
        ] {
            assert_eq!(finder.find(bad), None, "{bad}");
        }
    }

    #[test]
    fn located_files_and_siblings_stay_inside_their_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("site.css"), "body{}").unwrap();
        std::fs::write(root.path().join("site.css.br"), "br").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            root.path().join("site.css.gz"),
        )
        .unwrap();
        let ignore = IgnorePatterns::default();
        let css = Located::new(root.path(), "site.css", &ignore).unwrap();
        assert!(css.sibling(".br").is_some());
        assert!(css.sibling(".gz").is_none(), "a sibling that leads out");
        assert!(Located::new(root.path(), "../secret", &ignore).is_none());
        assert!(Located::new(root.path(), "site.css~", &ignore).is_none());
    }

    #[test]
    fn clean_names_are_relative_and_stay_below_their_root() {
        assert!(is_clean_name("css/site.css"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\..\\b",
            "a\0b",
        ] {
            assert!(!is_clean_name(bad), "{bad:?}");
        }
    }
}
