//! Manifest storage (`staticfiles_storage = "manifest"`), as Django's
//! `ManifestStaticFilesStorage`.
//!
//! Each collected file also gets a copy named `name.<hash>.ext` beside it,
//! where `<hash>` is the first 12 hex digits of the **MD5** digest of the
//! file's content (Django's choice: a cache-busting fingerprint, not a
//! security measure). `staticfiles.json` in `static_root` maps each name to
//! its hashed name, in Django's format:
//!
//! ```json
//! {"paths": {"css/site.css": "css/site.5c6a6e7ff4f4.css"}, "version": "1.1", "hash": "…"}
//! ```
//!
//! CSS `url(…)` (quoted or not) and `@import "…"`, and `sourceMappingURL`
//! comments of CSS and JavaScript, are rewritten to the hashed names before
//! the CSS or JavaScript file is hashed itself. Relative URLs resolve
//! against the referring file's folder; URLs starting with `/` must start
//! with `static_url`. `#fragment` and `?query` are kept; external
//! (`https://…`), protocol-relative (`//…`), `data:` and fragment-only URLs,
//! and URLs inside CSS comments and strings other than `@import`, are left
//! alone. Files are processed in dependency order, so a stylesheet that
//! imports a changed stylesheet gets a new hash too; a circular reference is
//! an error, and so is a reference to a file that is not collected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The manifest's file name in `static_root`.
pub const MANIFEST_NAME: &str = "staticfiles.json";
/// The manifest format version (Django's).
pub(crate) const MANIFEST_VERSION: &str = "1.1";
/// Hex digits of the content hash in a hashed name.
pub(crate) const HASH_LEN: usize = 12;

/// The first [`HASH_LEN`] hex digits of the MD5 digest of `content`.
pub(crate) fn file_hash(content: &[u8]) -> String {
    let mut hex = crate::hex::encode(&Md5::digest(content));
    hex.truncate(HASH_LEN);
    hex
}

/// `css/site.css` → `css/site.<hash>.css`; `LICENSE` → `LICENSE.<hash>`.
/// The hash goes before the last extension, as Django does
/// (`jquery.min.js` → `jquery.min.<hash>.js`).
pub(crate) fn hashed_name(name: &str, hash: &str) -> String {
    let (dir, file) = match name.rsplit_once('/') {
        Some((dir, file)) => (Some(dir), file),
        None => (None, name),
    };
    let file = match file.rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{hash}{}", &file[..dot], &file[dot..]),
        _ => format!("{file}.{hash}"),
    };
    match dir {
        Some(dir) => format!("{dir}/{file}"),
        None => file,
    }
}

/// Whether a name given to `static()` is a folder (its path, before any
/// `?query` or `#fragment`, ends in `/`): Django leaves those unhashed.
pub(crate) fn names_a_folder(name: &str) -> bool {
    name[..name.find(['?', '#']).unwrap_or(name.len())].ends_with('/')
}

/// The name → hashed name map of a collected `static_root`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `css/site.css` → `css/site.<hash>.css`.
    pub paths: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct ManifestFile {
    paths: BTreeMap<String, String>,
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
}

/// A manifest that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file is missing or unreadable.
    #[error("cannot read the static files manifest {}", path.display())]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a manifest.
    #[error("the static files manifest {} is not valid: {message}", path.display())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl Manifest {
    /// The manifest of `static_root` (its `staticfiles.json`).
    pub fn load(static_root: &Path) -> Result<Manifest, ManifestError> {
        let path = static_root.join(MANIFEST_NAME);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        Manifest::from_json(&text).map_err(|message| ManifestError::Invalid { path, message })
    }

    /// Parse Django's format (versions 1.0 and 1.1).
    pub fn from_json(text: &str) -> Result<Manifest, String> {
        let file: ManifestFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.version != "1.0" && file.version != MANIFEST_VERSION {
            return Err(format!(
                "version {:?}, expected {MANIFEST_VERSION:?}",
                file.version
            ));
        }
        Ok(Manifest { paths: file.paths })
    }

    /// Django's format, with `hash`: a fingerprint of the whole map.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ManifestFile {
            paths: self.paths.clone(),
            version: MANIFEST_VERSION.into(),
            hash: Some(self.hash()),
        })
        .expect("a map of strings serializes")
    }

    /// A fingerprint of the whole map (changes when any file changes).
    pub fn hash(&self) -> String {
        let pairs: Vec<(&String, &String)> = self.paths.iter().collect();
        file_hash(
            serde_json::to_string(&pairs)
                .expect("strings serialize")
                .as_bytes(),
        )
    }

    /// The hashed name of `name`, keeping a `?query` or `#fragment`. A
    /// folder (a path ending in `/`) is not hashed: it comes back as is, as
    /// Django does.
    ///
    /// ```
    /// let mut manifest = nuages::staticfiles::Manifest::default();
    /// manifest.paths.insert("f.woff".into(), "f.0123456789ab.woff".into());
    /// assert_eq!(manifest.stored_name("/f.woff?#iefix").unwrap(), "f.0123456789ab.woff?#iefix");
    /// assert_eq!(manifest.stored_name("fonts/?v=2").unwrap(), "fonts/?v=2");
    /// assert!(manifest.stored_name("g.woff").is_none());
    /// ```
    pub fn stored_name(&self, name: &str) -> Option<String> {
        if names_a_folder(name) {
            return Some(name.trim_start_matches('/').to_string());
        }
        let name = name.trim_start_matches('/');
        let end = name.find(['?', '#']).unwrap_or(name.len());
        let hashed = self.paths.get(&name[..end])?;
        Some(format!("{hashed}{}", &name[end..]))
    }
}

/// A file whose content is rewritten before hashing: CSS and JavaScript.
pub(crate) fn is_adjustable(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".css") || lower.ends_with(".js") || lower.ends_with(".mjs")
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashedFile {
    /// The name (`css/site.css`).
    pub name: String,
    /// The hashed name (`css/site.<hash>.css`).
    pub hashed_name: String,
    /// The rewritten content, for CSS and JavaScript; `None` when the hashed
    /// file has the original's content.
    pub content: Option<Vec<u8>>,
}

/// Why post-processing failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostProcessError {
    /// A source file cannot be read.
    #[error("cannot read static file '{}': {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A CSS or JavaScript file refers to a file that is not collected.
    #[error(
        "'{file}' line {line} refers to '{url}', but the static file '{target}' does not exist{more}",
        more = if *.others > 0 { format!(" (and {} more missing references)", .others) } else { String::new() }
    )]
    MissingReference {
        /// The referring file's name.
        file: String,
        /// The referring file on disk.
        path: PathBuf,
        /// 1-based line of the reference.
        line: usize,
        /// The URL as written.
        url: String,
        /// The static name it resolves to.
        target: String,
        /// How many other missing references there are.
        others: usize,
    },
    /// Files refer to each other in a circle, so no hash can settle.
    #[error("circular references between static files: {}", files.join(" → "))]
    Cycle {
        /// The files of the circle, the first repeated at the end.
        files: Vec<String>,
    },
}

/// A URL found in a file: its byte range and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// Byte offset of the URL's first character.
    pub start: usize,
    /// Byte offset just past the URL.
    pub end: usize,
    /// 1-based line.
    pub line: usize,
    /// A source map comment around the URL, written anew when the URL is
    /// rewritten; `None` for a URL rewritten alone.
    pub comment: Option<SourceMapComment>,
}

/// A `sourceMappingURL` comment, which Django writes in one canonical form
/// (`/*# sourceMappingURL=… */`, `//# sourceMappingURL=…`), whatever blank
/// (space or tab) the original had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceMapComment {
    /// Byte offset of the comment's `/`.
    pub start: usize,
    /// Byte offset just past the comment (past `*/` in CSS, past the URL in
    /// JavaScript).
    pub end: usize,
    /// `/* … */` (CSS) rather than `//` (JavaScript).
    pub block: bool,
}

impl Reference {
    fn url<'c>(&self, content: &'c [u8]) -> &'c [u8] {
        &content[self.start..self.end]
    }

    /// The bytes replaced, and the text written before and after the URL.
    fn replaced(&self) -> (usize, usize, &'static str, &'static str) {
        match &self.comment {
            None => (self.start, self.end, "", ""),
            Some(c) if c.block => (c.start, c.end, "/*# sourceMappingURL=", " */"),
            Some(c) => (c.start, c.end, "//# sourceMappingURL=", ""),
        }
    }
}

/// The length of `#<blank>sourceMappingURL=` right after `//` or `/*` at
/// `at`, where the blank is one space or tab (Django's `[ \t]`).
fn source_map_marker(content: &[u8], at: usize) -> Option<usize> {
    let rest = content.get(at..)?;
    let marker = b"sourceMappingURL=";
    (rest.first() == Some(&b'#')
        && matches!(rest.get(1), Some(b' ' | b'\t'))
        && rest[2..].starts_with(marker))
    .then_some(2 + marker.len())
}

/// The URLs of a CSS file: `url(…)`, `@import "…"` and
/// `/*# sourceMappingURL=… */`, skipping other comments and strings.
pub(crate) fn css_references(content: &[u8]) -> Vec<Reference> {
    let mut found = Vec::new();
    let n = content.len();
    let mut i = 0;
    let at = |i: usize, what: &[u8]| -> bool {
        content.len() >= i + what.len() && content[i..i + what.len()].eq_ignore_ascii_case(what)
    };
    while i < n {
        let b = content[i];
        if at(i, b"/*") {
            let end = find(content, i + 2, b"*/").map_or(n, |e| e + 2);
            if let Some(reference) = css_source_map(content, i, end) {
                found.push(reference);
            }
            i = end;
        } else if b == b'"' || b == b'\'' {
            i = skip_string(content, i);
        } else if at(i, b"url(") && (i == 0 || !is_ident_byte(content[i - 1])) {
            let mut j = skip_spaces(content, i + 4);
            if j < n && (content[j] == b'"' || content[j] == b'\'') {
                let end = skip_string(content, j);
                let close = if end > j + 1 && content[end - 1] == content[j] {
                    end - 1
                } else {
                    end
                };
                push(&mut found, content, j + 1, close);
                j = end;
            } else {
                let end = content[j..]
                    .iter()
                    .position(|&c| c == b')')
                    .map_or(n, |p| j + p);
                let mut last = end;
                while last > j && content[last - 1].is_ascii_whitespace() {
                    last -= 1;
                }
                push(&mut found, content, j, last);
                j = end;
            }
            i = j.max(i + 4);
        } else if at(i, b"@import") {
            let j = skip_spaces(content, i + 7);
            if j < n && (content[j] == b'"' || content[j] == b'\'') {
                let end = skip_string(content, j);
                let close = if end > j + 1 && content[end - 1] == content[j] {
                    end - 1
                } else {
                    end
                };
                push(&mut found, content, j + 1, close);
                i = end;
            } else {
                i = j;
            }
        } else {
            i += 1;
        }
    }
    found
}

/// `//# sourceMappingURL=…` lines of a JavaScript file (a tab instead of
/// the space too).
pub(crate) fn js_references(content: &[u8]) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in content.split(|&b| b == b'\n') {
        if line.starts_with(b"//")
            && let Some(marker) = source_map_marker(content, line_start + 2)
        {
            let start = line_start + 2 + marker;
            let mut end = line_start + line.len();
            while end > start && content[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            if end > start {
                found.push(Reference {
                    start,
                    end,
                    line: line_of(content, start),
                    comment: Some(SourceMapComment {
                        start: line_start,
                        end,
                        block: false,
                    }),
                });
            }
        }
        line_start += line.len() + 1;
    }
    found
}

fn css_source_map(content: &[u8], start: usize, end: usize) -> Option<Reference> {
    let line_start = start == 0 || content[start - 1] == b'\n';
    let comment = &content[start..end];
    let marker = source_map_marker(content, start + 2)?;
    if !line_start || !comment.ends_with(b"*/") || comment.len() < 2 + marker + 2 {
        return None;
    }
    let url_start = start + 2 + marker;
    let mut url_end = end - 2;
    while url_end > url_start && content[url_end - 1].is_ascii_whitespace() {
        url_end -= 1;
    }
    (url_end > url_start).then(|| Reference {
        start: url_start,
        end: url_end,
        line: line_of(content, url_start),
        comment: Some(SourceMapComment {
            start,
            end,
            block: true,
        }),
    })
}

fn push(found: &mut Vec<Reference>, content: &[u8], start: usize, end: usize) {
    if end > start {
        found.push(Reference {
            start,
            end,
            line: line_of(content, start),
            comment: None,
        });
    }
}

fn line_of(content: &[u8], offset: usize) -> usize {
    content[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

fn find(content: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    content
        .get(from..)?
        .windows(what.len())
        .position(|w| w == what)
        .map(|p| from + p)
}

fn skip_spaces(content: &[u8], mut i: usize) -> usize {
    while i < content.len() && content[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// From an opening quote to just past the closing one (or the line's end).
fn skip_string(content: &[u8], open: usize) -> usize {
    let quote = content[open];
    let mut i = open + 1;
    while i < content.len() {
        match content[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    content.len()
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// What a URL in `referrer` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Not a static file of ours: left alone.
    External,
    /// The static file of this name; `path_len` bytes of the URL are its
    /// path (the rest is `?query` or `#fragment`).
    Static {
        /// The static name.
        name: String,
        /// Length of the path part of the URL.
        path_len: usize,
    },
}

/// Resolve `url`, found in the static file `referrer`, as Django does.
pub(crate) fn resolve_url(url: &str, referrer: &str, static_url: &str) -> Target {
    let url = url.trim();
    if url.is_empty() || url.starts_with('#') || url.starts_with("//") || has_scheme(url) {
        return Target::External;
    }
    let path_len = url.find(['?', '#']).unwrap_or(url.len());
    let path = &url[..path_len];
    // A folder is not a file to hash: left as written, as Django does.
    if path.is_empty() || path.ends_with('/') {
        return Target::External;
    }
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    let name = if decoded.starts_with('/') {
        match decoded.strip_prefix(static_url) {
            Some(rest) if static_url.starts_with('/') => {
                normalize("", rest).unwrap_or_else(|| rest.to_string())
            }
            _ => return Target::External,
        }
    } else {
        let base = referrer.rsplit_once('/').map_or("", |(dir, _)| dir);
        match normalize(base, &decoded) {
            Some(name) => name,
            // Above static_root: reported as missing, with the URL as written.
            None => decoded,
        }
    };
    Target::Static { name, path_len }
}

fn has_scheme(url: &str) -> bool {
    match url.find(':') {
        Some(colon) if colon > 0 => {
            let scheme = &url[..colon];
            scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        }
        _ => false,
    }
}

/// `base/relative` as a static name: [`normpath`] of the joined path,
/// inside the root; `None` above it.
fn normalize(base: &str, relative: &str) -> Option<String> {
    let joined = normpath(format!("{base}/{relative}").trim_start_matches('/'));
    match joined.as_str() {
        "." => Some(String::new()),
        above if above == ".." || above.starts_with("../") => None,
        name => Some(name.to_string()),
    }
}

/// `path` as Python's `posixpath.normpath` gives it: no empty or `.`
/// segment, `a/..` resolved, leading `..` kept (dropped after a leading
/// `/`), `.` for nothing.
pub(crate) fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The URL, its path normalised ([`normpath`]), with its last path segment
/// replaced by the hashed file's name.
fn rewritten_url(url: &str, path_len: usize, hashed: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'\'')
        .add(b'#')
        .add(b'?')
        .add(b'%')
        .add(b'(')
        .add(b')')
        .add(b'<')
        .add(b'>')
        .add(b'\\');
    let path = normpath(&url[..path_len]);
    let hashed_file = hashed.rsplit('/').next().unwrap_or(hashed);
    let encoded = percent_encoding::utf8_percent_encode(hashed_file, SEGMENT).to_string();
    let dir = path.rsplit_once('/').map(|(dir, _)| dir);
    match dir {
        Some(dir) => format!("{dir}/{encoded}{}", &url[path_len..]),
        None => format!("{encoded}{}", &url[path_len..]),
    }
}

/// One file to post-process.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// Its static name.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
}

struct Adjustable {
    content: Vec<u8>,
    /// (reference, target name, path length) of each static reference.
    links: Vec<(Reference, String, usize)>,
}

enum Scanned {
    Plain(String),
    Adjustable(Adjustable),
}

/// Hash every file and rewrite the references of CSS and JavaScript files.
///
/// `reuse` may give the hashed name of a file that is not CSS or JavaScript
/// without reading it (a file unchanged since the last run); `None` reads
/// and hashes it.
pub(crate) fn post_process<F>(
    files: &[Input],
    static_url: &str,
    reuse: F,
) -> Result<Vec<HashedFile>, PostProcessError>
where
    F: Fn(&Input) -> Option<String> + Sync,
{
    let index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let read = |input: &Input| {
        std::fs::read(&input.path).map_err(|source| PostProcessError::Read {
            path: input.path.clone(),
            source,
        })
    };
    let scanned: Vec<Scanned> = files
        .par_iter()
        .map(|input| {
            if !is_adjustable(&input.name) {
                if let Some(hashed) = reuse(input) {
                    return Ok(Scanned::Plain(hashed));
                }
                let content = read(input)?;
                return Ok(Scanned::Plain(hashed_name(
                    &input.name,
                    &file_hash(&content),
                )));
            }
            let content = read(input)?;
            let references = if input.name.to_ascii_lowercase().ends_with(".css") {
                css_references(&content)
            } else {
                js_references(&content)
            };
            let links = references
                .into_iter()
                .filter_map(|reference| {
                    let url = String::from_utf8_lossy(reference.url(&content)).into_owned();
                    match resolve_url(&url, &input.name, static_url) {
                        Target::External => None,
                        Target::Static { name, path_len } => Some((reference, name, path_len)),
                    }
                })
                .collect();
            Ok(Scanned::Adjustable(Adjustable { content, links }))
        })
        .collect::<Result<_, PostProcessError>>()?;

    // Every reference must name a collected file.
    let mut missing = Vec::new();
    for (input, scanned) in files.iter().zip(&scanned) {
        if let Scanned::Adjustable(adjustable) = scanned {
            for (reference, target, _) in &adjustable.links {
                if !index.contains_key(target.as_str()) {
                    missing.push((input, reference, target));
                }
            }
        }
    }
    if let Some((input, reference, target)) = missing.first() {
        let content = match &scanned[index[input.name.as_str()]] {
            Scanned::Adjustable(a) => &a.content,
            Scanned::Plain(_) => unreachable!("only adjustable files have references"),
        };
        return Err(PostProcessError::MissingReference {
            file: input.name.clone(),
            path: input.path.clone(),
            line: reference.line,
            url: String::from_utf8_lossy(reference.url(content)).into_owned(),
            target: target.to_string(),
            others: missing.len() - 1,
        });
    }

    let order = dependency_order(files, &scanned, &index)?;
    let mut hashed: Vec<Option<String>> = scanned
        .iter()
        .map(|s| match s {
            Scanned::Plain(hashed) => Some(hashed.clone()),
            Scanned::Adjustable(_) => None,
        })
        .collect();
    let mut contents: Vec<Option<Vec<u8>>> = vec![None; files.len()];
    for i in order {
        let Scanned::Adjustable(adjustable) = &scanned[i] else {
            continue;
        };
        let mut out = Vec::with_capacity(adjustable.content.len());
        let mut at = 0;
        for (reference, target, path_len) in &adjustable.links {
            let j = index[target.as_str()];
            if j == i {
                continue; // a file naming itself keeps the plain name
            }
            let target_hashed = hashed[j].as_deref().expect("dependencies are hashed first");
            let url = String::from_utf8_lossy(reference.url(&adjustable.content));
            let (from, to, before, after) = reference.replaced();
            out.extend_from_slice(&adjustable.content[at..from]);
            out.extend_from_slice(before.as_bytes());
            out.extend_from_slice(rewritten_url(url.trim(), *path_len, target_hashed).as_bytes());
            out.extend_from_slice(after.as_bytes());
            at = to;
        }
        out.extend_from_slice(&adjustable.content[at..]);
        hashed[i] = Some(hashed_name(&files[i].name, &file_hash(&out)));
        if out != adjustable.content {
            contents[i] = Some(out);
        }
    }
    Ok(files
        .iter()
        .zip(hashed)
        .zip(contents)
        .map(|((input, hashed), content)| HashedFile {
            name: input.name.clone(),
            hashed_name: hashed.expect("every file is hashed"),
            content,
        })
        .collect())
}

/// The adjustable files, each after the adjustable files it refers to.
fn dependency_order(
    files: &[Input],
    scanned: &[Scanned],
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, PostProcessError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    let deps = |i: usize| -> Vec<usize> {
        match &scanned[i] {
            Scanned::Adjustable(a) => a
                .links
                .iter()
                .map(|(_, target, _)| index[target.as_str()])
                .filter(|&j| j != i && matches!(scanned[j], Scanned::Adjustable(_)))
                .collect(),
            Scanned::Plain(_) => Vec::new(),
        }
    };
    let mut marks = vec![Mark::New; files.len()];
    let mut order = Vec::new();
    for start in 0..files.len() {
        if marks[start] != Mark::New || matches!(scanned[start], Scanned::Plain(_)) {
            continue;
        }
        // Iterative depth-first search: (file, its dependencies, next one).
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(start, deps(start), 0)];
        marks[start] = Mark::Visiting;
        while let Some((node, node_deps, next)) = stack.last_mut() {
            if let Some(&dep) = node_deps.get(*next) {
                *next += 1;
                match marks[dep] {
                    Mark::Done => {}
                    Mark::Visiting => {
                        let from = stack.iter().position(|(n, _, _)| *n == dep).unwrap_or(0);
                        let mut circle: Vec<String> = stack[from..]
                            .iter()
                            .map(|(n, _, _)| files[*n].name.clone())
                            .collect();
                        circle.push(files[dep].name.clone());
                        return Err(PostProcessError::Cycle { files: circle });
                    }
                    Mark::New => {
                        marks[dep] = Mark::Visiting;
                        stack.push((dep, deps(dep), 0));
                    }
                }
            } else {
                marks[*node] = Mark::Done;
                order.push(*node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(css: &str) -> Vec<String> {
        css_references(css.as_bytes())
            .iter()
            .map(|r| String::from_utf8_lossy(r.url(css.as_bytes())).into_owned())
            .collect()
    }

    #[test]
    fn css_references_are_found_in_every_form() {
        let css = "@import 'reset.css';\n@import url(\"base.css\") screen;\n\
                   a { background: url(img/a.png) }\n\
                   b { background: URL( 'img/b.png' ) }\n\
                   c { background: url( img/c.png ) }\n\
                   /* url(commented.png) */\n\
                   d::after { content: \"url(string.png)\" }\n\
                   e { background: -webkit-image-set(url(e.png) 1x) }\n\
                   f { background: myurl(nope.png) }\n\
                   /*# sourceMappingURL=site.css.map */\n";
        assert_eq!(
            urls(css),
            [
                "reset.css",
                "base.css",
                "img/a.png",
                "img/b.png",
                "img/c.png",
                "e.png",
                "site.css.map"
            ]
        );
        let lines: Vec<usize> = css_references(css.as_bytes())
            .iter()
            .map(|r| r.line)
            .collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 8, 10]);
    }

    #[test]
    fn js_source_map_comments_are_found() {
        let js =
            "let a = 1;\n//# sourceMappingURL=app.js.map  \nlet s = '//# sourceMappingURL=no';\n";
        let refs = js_references(js.as_bytes());
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].url(js.as_bytes()), b"app.js.map");
        assert_eq!(refs[0].line, 2);
    }

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Vec<Input>) {
        let dir = tempfile::tempdir().unwrap();
        let inputs = files
            .iter()
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
                Input {
                    name: name.to_string(),
                    path,
                }
            })
            .collect();
        (dir, inputs)
    }

    fn processed(files: &[(&str, &str)]) -> HashMap<String, HashedFile> {
        let (_dir, inputs) = project(files);
        post_process(&inputs, "/static/", |_| None)
            .unwrap()
            .into_iter()
            .map(|h| (h.name.clone(), h))
            .collect()
    }

    fn text(file: &HashedFile) -> String {
        String::from_utf8(file.content.clone().unwrap()).unwrap()
    }

    #[test]
    fn urls_are_rewritten_keeping_queries_fragments_and_external_urls() {
        let png = file_hash(b"PNG");
        let woff = file_hash(b"WOFF");
        let out = processed(&[
            ("img/a.png", "PNG"),
            ("css/fonts/f.woff", "WOFF"),
            (
                "css/site.css",
                "a{background:url(../img/a.png)}\n\
                 b{background:url('/static/img/a.png?v=2')}\n\
                 @font-face{src:url(\"fonts/f.woff#iefix\")}\n\
                 c{background:url(https://cdn.example.com/x.png)}\n\
                 d{background:url(//cdn.example.com/x.png)}\n\
                 e{background:url(data:image/png;base64,iVBOR)}\n\
                 f{filter:url(#shadow)}\n",
            ),
        ]);
        assert_eq!(out["img/a.png"].hashed_name, format!("img/a.{png}.png"));
        assert_eq!(out["img/a.png"].content, None);
        let css = text(&out["css/site.css"]);
        assert_eq!(
            css,
            format!(
                "a{{background:url(../img/a.{png}.png)}}\n\
                 b{{background:url('/static/img/a.{png}.png?v=2')}}\n\
                 @font-face{{src:url(\"fonts/f.{woff}.woff#iefix\")}}\n\
                 c{{background:url(https://cdn.example.com/x.png)}}\n\
                 d{{background:url(//cdn.example.com/x.png)}}\n\
                 e{{background:url(data:image/png;base64,iVBOR)}}\n\
                 f{{filter:url(#shadow)}}\n"
            )
        );
        assert_eq!(
            out["css/site.css"].hashed_name,
            format!("css/site.{}.css", file_hash(css.as_bytes()))
        );
    }

    #[test]
    fn imports_and_source_maps_are_rewritten() {
        let out = processed(&[
            ("css/reset.css", "html{margin:0}"),
            (
                "css/site.css",
                "@import \"reset.css\";\n/*# sourceMappingURL=site.css.map */\n",
            ),
            ("css/site.css.map", "{}"),
            ("js/app.js", "go();\n//# sourceMappingURL=app.js.map\n"),
            ("js/app.js.map", "{\"v\":3}"),
        ]);
        let reset = &out["css/reset.css"].hashed_name;
        let map = &out["css/site.css.map"].hashed_name;
        assert_eq!(
            text(&out["css/site.css"]),
            format!(
                "@import \"{}\";\n/*# sourceMappingURL={} */\n",
                reset.trim_start_matches("css/"),
                map.trim_start_matches("css/")
            )
        );
        assert_eq!(
            text(&out["js/app.js"]),
            format!(
                "go();\n//# sourceMappingURL={}\n",
                out["js/app.js.map"].hashed_name.trim_start_matches("js/")
            )
        );
    }

    #[test]
    fn a_changed_import_changes_the_importer_hash() {
        let first = processed(&[
            ("a.css", "@import 'b.css';"),
            ("b.css", "@import 'c.css';"),
            ("c.css", "x{color:red}"),
        ]);
        let second = processed(&[
            ("a.css", "@import 'b.css';"),
            ("b.css", "@import 'c.css';"),
            ("c.css", "x{color:blue}"),
        ]);
        for name in ["a.css", "b.css", "c.css"] {
            assert_ne!(first[name].hashed_name, second[name].hashed_name, "{name}");
        }
        // Dependencies settled: a.css names b.css's final hashed name.
        assert!(text(&second["a.css"]).contains(second["b.css"].hashed_name.as_str()));
        assert!(text(&second["b.css"]).contains(second["c.css"].hashed_name.as_str()));
    }

    #[test]
    fn a_missing_reference_names_the_file_line_and_target() {
        let (_dir, inputs) = project(&[(
            "css/site.css",
            "body{}\n\na{background:url(../img/missing.png)}\nb{background:url(gone.png)}\n",
        )]);
        let error = post_process(&inputs, "/static/", |_| None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("'css/site.css' line 3"), "{text}");
        assert!(text.contains("'../img/missing.png'"), "{text}");
        assert!(text.contains("'img/missing.png' does not exist"), "{text}");
        assert!(text.contains("and 1 more"), "{text}");
    }

    #[test]
    fn a_reference_above_the_root_is_missing() {
        let (_dir, inputs) = project(&[("site.css", "a{background:url(../../x.png)}")]);
        let error = post_process(&inputs, "/static/", |_| None).unwrap_err();
        assert!(error.to_string().contains("../../x.png"), "{error}");
    }

    #[test]
    fn circular_imports_are_an_error() {
        let (_dir, inputs) =
            project(&[("a.css", "@import 'b.css';"), ("b.css", "@import 'a.css';")]);
        let error = post_process(&inputs, "/static/", |_| None).unwrap_err();
        assert!(
            error.to_string().contains("a.css → b.css → a.css"),
            "{error}"
        );
    }

    #[test]
    fn reuse_skips_reading_plain_files() {
        let (_dir, inputs) = project(&[("a.png", "PNG")]);
        std::fs::remove_file(&inputs[0].path).unwrap();
        let out = post_process(&inputs, "/static/", |_| Some("a.0123456789ab.png".into())).unwrap();
        assert_eq!(out[0].hashed_name, "a.0123456789ab.png");
    }

    #[test]
    fn the_manifest_round_trips_in_djangos_format() {
        let mut manifest = Manifest::default();
        manifest
            .paths
            .insert("css/site.css".into(), "css/site.0123456789ab.css".into());
        let json = manifest.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], "1.1");
        assert_eq!(value["paths"]["css/site.css"], "css/site.0123456789ab.css");
        assert_eq!(value["hash"].as_str().unwrap().len(), HASH_LEN);
        assert_eq!(Manifest::from_json(&json).unwrap(), manifest);
        assert!(Manifest::from_json("{\"paths\":{},\"version\":\"9\"}").is_err());
    }

    #[test]
    fn file_hash_is_the_start_of_the_md5_digest() {
        assert_eq!(file_hash(b""), "d41d8cd98f00");
        // The value the collectstatic integration test expects for its logo.
        assert_eq!(file_hash(b"PNG-DATA"), "3023626e5245");
    }

    #[test]
    fn the_hash_goes_before_the_last_extension() {
        assert_eq!(
            hashed_name("css/site.css", "0123456789ab"),
            "css/site.0123456789ab.css"
        );
        assert_eq!(
            hashed_name("js/jquery.min.js", "0123456789ab"),
            "js/jquery.min.0123456789ab.js"
        );
        assert_eq!(
            hashed_name("LICENSE", "0123456789ab"),
            "LICENSE.0123456789ab"
        );
        assert_eq!(hashed_name("a.b/.x", "0123456789ab"), "a.b/.x.0123456789ab");
    }

    #[test]
    fn a_name_ending_in_a_slash_names_a_folder() {
        assert!(names_a_folder("path/") && names_a_folder("path/?query") && names_a_folder("/"));
        assert!(!names_a_folder("css/site.css") && !names_a_folder("a.css?v=1/"));
    }

    #[test]
    fn normpath_folds_dots_and_slashes_as_posixpath_does() {
        assert_eq!(normpath("..//cached///styles.css"), "../cached/styles.css");
        assert_eq!(normpath("./a/../../b/./c.png"), "../b/c.png");
        assert_eq!(normpath("/static//img/../a.png"), "/static/a.png");
        assert_eq!(normpath("/../a.png"), "/a.png");
        assert_eq!(normpath("a/.."), ".");
    }

    #[test]
    fn urls_resolve_to_static_names_or_stay_external() {
        let name = |url| match resolve_url(url, "css/site.css", "/static/") {
            Target::Static { name, .. } => Some(name),
            Target::External => None,
        };
        assert_eq!(name("../img/a.png").as_deref(), Some("img/a.png"));
        assert_eq!(name("/static/img/a.png?v=1").as_deref(), Some("img/a.png"));
        assert_eq!(
            name("fonts/f.woff#iefix").as_deref(),
            Some("css/fonts/f.woff")
        );
        for external in [
            "https://x.org/a.png",
            "//cdn/a.png",
            "data:image/png;base64,AA",
            "#frag",
            "/media/a.png",
            "about:blank",
        ] {
            assert_eq!(name(external), None, "{external}");
        }
    }
}
