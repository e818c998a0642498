//! Tera templates: the project's `template_dirs` first, then each app's
//! `templates/`; autoescape on for every template whatever its name (as
//! Django), off only for what [`Templates::render_text`] renders (a mail's
//! plain text); the functions `url(name=…, param=…)` (or the route's
//! parameters in `kwargs={…}`, a parameter called `name` too), `static()`,
//! `csrf_input()`, `csrf_token()` and `render_form(form=…)` (a bound form with
//! its CSRF input, see [`crate::forms`]); `messages` (with the `messages`
//! middleware, see [`crate::messages`]); `user` and `perms` (with the `auth`
//! middleware, see [`crate::auth::login`]); edits seen on the next render in debug.
//!
//! Views render through the [`Templates`] extractor:
//!
//! ```
//! use nuages::templates::{Templates, context};
//! async fn index(templates: Templates) -> nuages::Result<axum::response::Html<String>> {
//!     templates.render("polls/index.html", context! { "latest" => &["a", "b"] })
//! }
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::response::Html;
use http::request::Parts;
use tera::{Context, Kwargs, State, Tera, Value};

use crate::error::Error;
use crate::middleware::csrf::CsrfState;
use crate::project::TemplateLibrary;
use crate::urls::Resolver;

mod django;

pub use tera;

/// Build a [`tera::Context`] from `"key" => value` pairs.
///
/// ```
/// let ctx = nuages::templates::context! { "name" => "World", "count" => &3 };
/// assert!(ctx.contains_key("count"));
/// ```
#[macro_export]
macro_rules! context {
    () => { $crate::templates::tera::Context::new() };
    ($($key:expr => $value:expr),+ $(,)?) => {{
        let mut context = $crate::templates::tera::Context::new();
        $( context.insert($key, $value); )+
        context
    }};
}
pub use crate::context;

/// The context key where the CSRF middleware puts the current token.
pub(crate) const CSRF_TOKEN_KEY: &str = "csrf_token";

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A template file has a syntax error or cannot be read.
    #[error("cannot load the templates")]
    Load {
        /// Tera's error, with the template source location.
        #[source]
        source: tera::Error,
        /// How to fix it, when there is more to say than Tera does (Django's
        /// `{% url %}` and its Nuages spelling, for example).
        hint: Option<String>,
    },
    /// Rendering failed.
    #[error("failed to render template '{name}'")]
    Render {
        /// The template.
        name: String,
        /// Tera's error, with the template source location.
        #[source]
        source: tera::Error,
    },
    /// No folder has this template.
    #[error("template '{name}' does not exist; looked in: {searched}")]
    NotFound {
        /// The template asked for.
        name: String,
        /// The folders searched, in order.
        searched: String,
    },
    /// A template folder, or a file in one, exists but cannot be read.
    #[error("cannot read {} in the template folders", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl TemplateError {
    /// How to fix it.
    pub fn hint(&self) -> Option<String> {
        match self {
            TemplateError::NotFound { name, .. } => Some(format!(
                "create {name} in a folder of template_dirs or in an app's templates/ folder"
            )),
            TemplateError::Load { hint, .. } => hint.clone(),
            TemplateError::Render { source, .. } => django::render_hint(&source.to_string()),
            _ => None,
        }
    }
}

/// How `static()` turns a path into a URL (plain, or hashed with a manifest).
pub(crate) type StaticUrlFn = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// The template engine of an application, built once.
pub(crate) struct Engine {
    dirs: Vec<PathBuf>,
    reload: bool,
    resolver: Arc<Resolver>,
    static_url: StaticUrlFn,
    libraries: Vec<TemplateLibrary>,
    loaded: RwLock<Arc<Tera>>,
    fingerprint: Mutex<u64>,
    /// By template name: what it, or a template it extends, includes or
    /// imports, names. Read on every render without allocating; forgotten
    /// when the templates reload.
    names: RwLock<fnv::FnvHashMap<String, Names>>,
    /// `messages` for a template that does not show them: an empty list,
    /// shared rather than made per render.
    no_messages: Value,
}

/// What a template names of the request (see [`Engine::names`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    /// `user` or `perms`: it depends on the session.
    pub(crate) user: bool,
    /// `csrf_token`, the variable (or the function, which reads it first).
    pub(crate) csrf_token: bool,
    /// `messages`: it shows them, and uses them up.
    pub(crate) messages: bool,
}

impl Names {
    /// A template that names none of them.
    const NONE: Names = Names {
        user: false,
        csrf_token: false,
        messages: false,
    };
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dirs", &self.dirs)
            .field("reload", &self.reload)
            .finish()
    }
}

impl Engine {
    /// Load every template under `dirs` (earlier folders win); with `reload`,
    /// changed files are picked up by the next render.
    pub fn new(
        dirs: Vec<PathBuf>,
        reload: bool,
        resolver: Arc<Resolver>,
        static_url: StaticUrlFn,
        libraries: Vec<TemplateLibrary>,
    ) -> Result<Engine, TemplateError> {
        let files = collect_templates(&dirs)?;
        let fingerprint = fingerprint(&files);
        let tera = build_tera(&files, &resolver, &static_url, &libraries)?;
        Ok(Engine {
            dirs,
            reload,
            resolver,
            static_url,
            libraries,
            loaded: RwLock::new(Arc::new(tera)),
            fingerprint: Mutex::new(fingerprint),
            names: RwLock::default(),
            no_messages: Value::from_serializable(&[] as &[u8; 0]),
        })
    }

    /// Whether a template of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        let tera = self.current().unwrap_or_else(|_| self.snapshot());
        tera.contains_template(name)
    }

    /// Render `name` with `context`, its values HTML-escaped.
    pub fn render(&self, name: &str, context: &Context) -> Result<String, TemplateError> {
        // Rendered at once, the missing template told apart by Tera's
        // error (one lookup of the name, not two).
        self.current()?
            .render(name, context)
            .map_err(|source| match source.kind() {
                tera::ErrorKind::TemplateNotFound(missing) if missing == name => {
                    TemplateError::NotFound {
                        name: name.to_string(),
                        searched: self
                            .dirs
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                }
                _ => TemplateError::Render {
                    name: name.to_string(),
                    source,
                },
            })
    }

    /// What rendering `name` may show of the request: the variables and
    /// functions named in a tag of it or of a template it extends, includes
    /// or imports. Read once per template (again when the templates reload,
    /// which in debug is checked first: an edit is read before it renders);
    /// a name no template has names nothing and is not kept (a view that
    /// renders a name a visitor chose cannot grow the table).
    pub(crate) fn names(&self, name: &str) -> Names {
        // Without reloads the table is all there is to look at: the render
        // that follows takes the engine once, not twice.
        let reloaded = self.reload.then(|| self.current());
        let known = self
            .names
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .copied();
        if let Some(names) = known {
            return names;
        }
        let tera = match reloaded {
            Some(Ok(tera)) => tera,
            _ => self.snapshot(),
        };
        if !tera.contains_template(name) {
            return Names::NONE;
        }
        let files = template_files(&self.dirs).unwrap_or_default();
        let named = |variable: &str| template_names_variable(&files, name, variable);
        let names = Names {
            user: named("user") || named("perms"),
            csrf_token: named("csrf_token"),
            messages: named("messages"),
        };
        self.names
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_string(), names);
        names
    }

    fn snapshot(&self) -> Arc<Tera> {
        self.loaded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The engine to render with; in reload mode, rebuilt first if a file changed.
    fn current(&self) -> Result<Arc<Tera>, TemplateError> {
        if self.reload {
            let files = collect_templates(&self.dirs)?;
            let now = fingerprint(&files);
            let mut seen = self
                .fingerprint
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *seen != now {
                let tera = build_tera(&files, &self.resolver, &self.static_url, &self.libraries)?;
                *self
                    .loaded
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(tera);
                *seen = now;
                self.names
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clear();
            }
        }
        Ok(self.snapshot())
    }
}

/// A template file and the name it is known by.
struct TemplateFile {
    name: String,
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
}

/// Whether the template `name` among `files`, or one it extends, includes
/// or imports, names `variable` inside a `{{ }}` or `{% %}` tag.
fn template_names_variable(files: &BTreeMap<String, PathBuf>, name: &str, variable: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut queue = vec![name.to_string()];
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(text) = files
            .get(&name)
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            continue;
        };
        for tag in tags(&text) {
            if tag_reads_variable(tag, variable) {
                return true;
            }
            let tag = tag.trim_start_matches('-').trim_start();
            if ["extends", "include", "import"]
                .iter()
                .any(|keyword| tag.starts_with(keyword))
            {
                queue.extend(
                    tag.split(['"', '\''])
                        .skip(1)
                        .step_by(2)
                        .map(str::to_string),
                );
            }
        }
    }
    false
}

/// Whether the inside of a tag reads the context's `variable`: the name on
/// its own, not in a string (`url(name="messages:inbox")`), not an
/// attribute (`thread.messages`), not a block's name (`{% block messages
/// %}`), not a keyword argument's or an assignment's name (`messages=…`).
/// Reading `messages` uses the visitor's messages up: a word in passing
/// must not (they were deleted unseen).
fn tag_reads_variable(tag: &str, variable: &str) -> bool {
    let tag = tag.trim_matches(|c: char| c == '-' || c.is_whitespace());
    // A block's name, a macro's parameters: names of their own.
    if matches!(
        tag.split(|c: char| c.is_whitespace() || c == '(').next(),
        Some("block" | "endblock" | "macro")
    ) {
        return false;
    }
    let chars: Vec<char> = tag.chars().collect();
    let mut i = 0;
    let mut previous = ' ';
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            // A string: skipped whole.
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
            previous = c;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next: Vec<char> = chars[i..]
                .iter()
                .copied()
                .filter(|c| !c.is_whitespace())
                .take(2)
                .collect();
            let named_argument = next.first() == Some(&'=') && next.get(1) != Some(&'=');
            if word == variable && previous != '.' && !named_argument {
                return true;
            }
            previous = 'a';
            continue;
        }
        if !c.is_whitespace() {
            previous = c;
        }
        i += 1;
    }
    false
}

/// The insides of the `{{ … }}` and `{% … %}` tags of a template source;
/// none of a comment (`{# … #}`) or of a `{% raw %}` section, which Tera
/// does not run.
fn tags(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find('{')?;
            let after = &rest[start + 1..];
            let close = match after.chars().next() {
                Some('{') => "}}",
                Some('%') => "%}",
                Some('#') => "#}",
                _ => {
                    rest = after;
                    continue;
                }
            };
            let inside = &after[1..];
            let end = inside.find(close).unwrap_or(inside.len());
            rest = &inside[(end + close.len()).min(inside.len())..];
            let tag = &inside[..end];
            if close == "#}" {
                continue;
            }
            if close == "%}" && tag.trim_matches(|c: char| c == '-' || c.is_whitespace()) == "raw" {
                rest = after_endraw(rest);
                continue;
            }
            return Some(tag);
        }
    })
}

/// What follows the `{% endraw %}` that ends a raw section in `text`
/// (nothing when none does).
fn after_endraw(text: &str) -> &str {
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let inside = &rest[start + 2..];
        let end = inside.find("%}").unwrap_or(inside.len());
        rest = &inside[(end + 2).min(inside.len())..];
        if inside[..end].trim_matches(|c: char| c == '-' || c.is_whitespace()) == "endraw" {
            return rest;
        }
    }
    ""
}

/// Every template file under `dirs` by the name it is known by; for a name
/// found twice, the earlier folder's. Hidden files and `~` backups are skipped.
pub(crate) fn template_files(dirs: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>, TemplateError> {
    Ok(collect_templates(dirs)?
        .into_iter()
        .map(|file| (file.name, file.path))
        .collect())
}

/// Every template under `dirs`; for a name found twice, the earlier folder wins.
fn collect_templates(dirs: &[PathBuf]) -> Result<Vec<TemplateFile>, TemplateError> {
    let mut by_name: BTreeMap<String, TemplateFile> = BTreeMap::new();
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        walk(dir, dir, &mut HashSet::new(), &mut |name, path, meta| {
            by_name.entry(name).or_insert_with(|| TemplateFile {
                name: String::new(),
                path,
                modified: meta.modified().ok(),
                len: meta.len(),
            });
        })
        .map_err(|(path, source)| TemplateError::Io { path, source })?;
    }
    Ok(by_name
        .into_iter()
        .map(|(name, file)| TemplateFile { name, ..file })
        .collect())
}

/// Call `found` for each template under `dir` (names relative to
/// `root`). A link that leads nowhere (its target gone, or a loop) names
/// no template and is passed over, as Django's loaders only fail on a
/// template asked for; a link to a folder the walk is inside (a loop) is
/// not followed. What cannot be read is the error, with its path.
fn walk(
    root: &Path,
    dir: &Path,
    inside: &mut HashSet<PathBuf>,
    found: &mut dyn FnMut(String, PathBuf, std::fs::Metadata),
) -> Result<(), (PathBuf, std::io::Error)> {
    let canonical = dir.canonicalize().map_err(io_error_at(dir))?;
    if !inside.insert(canonical.clone()) {
        return Ok(());
    }
    let walked = walk_entries(root, dir, inside, found);
    inside.remove(&canonical);
    walked
}

/// An I/O error of `path`, as [`walk`] returns it.
fn io_error_at(path: &Path) -> impl FnOnce(std::io::Error) -> (PathBuf, std::io::Error) {
    let path = path.to_path_buf();
    move |error| (path, error)
}

/// [`walk`]'s work in `dir`, once it is known not to be a loop.
fn walk_entries(
    root: &Path,
    dir: &Path,
    inside: &mut HashSet<PathBuf>,
    found: &mut dyn FnMut(String, PathBuf, std::fs::Metadata),
) -> Result<(), (PathBuf, std::io::Error)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<Result<_, _>>())
        .map_err(io_error_at(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with('.') || file_name.ends_with('~') {
            continue;
        }
        let path = entry.path();
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(error)
                if entry.file_type().is_ok_and(|kind| kind.is_symlink())
                    && (error.kind() == std::io::ErrorKind::NotFound
                        || error.raw_os_error() == Some(libc::ELOOP)) =>
            {
                continue;
            }
            Err(error) => return Err((path, error)),
        };
        if meta.is_dir() {
            walk(root, &path, inside, found)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            found(name, path, meta);
        }
    }
    Ok(())
}

fn fingerprint(files: &[TemplateFile]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.name.hash(&mut hasher);
        file.path.hash(&mut hasher);
        file.modified.hash(&mut hasher);
        file.len.hash(&mut hasher);
    }
    hasher.finish()
}

fn build_tera(
    files: &[TemplateFile],
    resolver: &Arc<Resolver>,
    static_url: &StaticUrlFn,
    libraries: &[TemplateLibrary],
) -> Result<Tera, TemplateError> {
    let mut tera = Tera::new();
    // Every template is HTML-escaped, whatever its name (Tera's default is
    // `.html`, `.htm` and `.xml` alone: a `.jinja`, `.txt` or extensionless
    // page would show a visitor's `<script>` as is); plain text is rendered
    // through `render_text`.
    tera.autoescape_on([""]);
    tera.set_escape_fn(PlainText::escape);
    tera.register_filter("escape", escape_filter);
    register_functions(&mut tera, resolver.clone(), static_url.clone());
    for register in libraries {
        register(&mut tera);
    }
    // The framework's own templates (the login page…), unless a file of
    // the project's has the same name.
    let builtin = crate::auth::views::TEMPLATES
        .iter()
        .chain(crate::auth::password_reset::TEMPLATES)
        .filter(|(name, _)| !files.iter().any(|f| f.name == *name));
    tera.add_raw_templates(builtin.copied())
        .map_err(|source| TemplateError::Load { hint: None, source })?;
    // A file that is not UTF-8 text (an image left among the templates) is
    // no template: loaded, it failed every page.
    let texts = files.iter().filter(|file| {
        let text = std::fs::read(&file.path).map(|bytes| std::str::from_utf8(&bytes).is_ok());
        if let Ok(false) = text {
            tracing::warn!(
                target: "nuages::templates",
                "{} is not UTF-8 text: it is not loaded as a template",
                file.path.display()
            );
        }
        // One that cannot be read is Tera's error, with its path.
        text.unwrap_or(true)
    });
    tera.add_template_files(texts.map(|f| (&f.path, Some(f.name.as_str()))))
        .map_err(|source| TemplateError::Load {
            hint: syntax_hint(&source, files, resolver),
            source,
        })?;
    Ok(tera)
}

/// A hint for a syntax error Tera reports without one: Django's tags.
fn syntax_hint(error: &tera::Error, files: &[TemplateFile], resolver: &Resolver) -> Option<String> {
    let tera::ErrorKind::SyntaxError(report) = error.kind() else {
        return None;
    };
    let file = files.iter().find(|f| f.name == report.filename())?;
    let source = std::fs::read_to_string(&file.path).ok()?;
    let hint = django::hint(&source, report.span().range.start, resolver)?;
    Some(format!(
        "{} line {}: {hint}",
        file.path.display(),
        report.span().start_line
    ))
}

/// The argument of `url()` holding the route's parameters as a map.
pub(crate) const URL_KWARGS: &str = "kwargs";

/// `url()`, `static()`, `csrf_token()`, `csrf_input()` and `render_form()`.
fn register_functions(tera: &mut Tera, resolver: Arc<Resolver>, static_url: StaticUrlFn) {
    tera.register_function("url", move |kwargs: Kwargs, _: &State| {
        let name: &str = kwargs.must_get("name")?;
        // A route's parameters given in a map, as Django's
        // `reverse(kwargs=…)`: the way to one called `name`.
        let map: Option<Value> = kwargs.get(URL_KWARGS)?;
        let map = match &map {
            Some(value) => Some(value.as_map().ok_or_else(|| {
                tera::Error::message(format!(
                    "url(): {URL_KWARGS} takes a map of the route's parameters, \
                     {URL_KWARGS}={{\"name\": …}}"
                ))
            })?),
            None => None,
        };
        // The arguments as the template wrote them, borrowed where they are
        // text already.
        let args: Vec<(&str, Cow<str>)> = kwargs
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), Some("name" | URL_KWARGS)))
            .chain(map.into_iter().flatten())
            .filter_map(|(key, value)| Some((key.as_str()?, value)))
            .map(|(key, value)| (key, value_text(value)))
            .collect();
        let pairs: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        resolver
            .reverse(name, &pairs)
            .map_err(|e| tera::Error::message(format!("url(): {e}")))
    });
    tera.register_function("static", move |kwargs: Kwargs, _: &State| {
        let path: &str = kwargs.must_get("path")?;
        static_url(path).map_err(|e| tera::Error::message(format!("static(): {e}")))
    });
    tera.register_function("csrf_token", |_: Kwargs, state: &State| {
        csrf_token(state).map(Value::from)
    });
    tera.register_function("csrf_input", |_: Kwargs, state: &State| {
        let token = csrf_token(state)?;
        Ok::<_, tera::Error>(Value::safe_string(&format!(
            "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{}\">",
            crate::views::escape_html(&token)
        )))
    });
    // A bound form as a whole (see `forms::BoundForm`): the CSRF input,
    // then the form's own already escaped HTML.
    tera.register_function("render_form", |kwargs: Kwargs, state: &State| {
        let form: Value = kwargs.must_get("form")?;
        let fields = form
            .as_map()
            .and_then(|map| map.get(&tera::value::Key::Str("as_p")))
            // Only the form's own HTML, escaped already and marked safe: a
            // map of text with an `as_p` key (a visitor's JSON) is refused,
            // never written out unescaped.
            .filter(|as_p| as_p.is_safe())
            .and_then(Value::as_str)
            .ok_or_else(|| {
                tera::Error::message(
                    "render_form(form=…) takes a form: a BoundForm put in the context",
                )
            })?;
        let token = csrf_token(state)?;
        Ok::<_, tera::Error>(Value::safe_string(&format!(
            "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{}\">{fields}",
            crate::views::escape_html(&token)
        )))
    });
}

/// The token for `csrf_token()`, `csrf_input()` and `render_form()`: the
/// context's own (`csrf_token`), else the request's, made now if it was not
/// yet (Django's `get_token` at its `{% csrf_token %}` tag): a page whose
/// template names the token only in a branch it does not take (the logout
/// form of a logged-in visitor) makes no secret and sets no cookie.
fn csrf_token(state: &State) -> tera::TeraResult<String> {
    if let Some(token) = state.get::<String>(CSRF_TOKEN_KEY)? {
        return Ok(token);
    }
    match RequestCsrf::token() {
        Some(token) => token.map_err(|error| tera::Error::message(error.to_string())),
        None => Err(tera::Error::message(
            "csrf_token()/csrf_input() need the \"csrf\" middleware and a template rendered through the Templates extractor",
        )),
    }
}

/// The CSRF state of the request whose template this thread is rendering.
///
/// Tera's functions are registered once per engine and get nothing of a
/// render but its context, which holds only data; a rendering is one
/// synchronous call on one thread, so the request's state is set here for
/// its length (and put back after, whatever happens), for the token
/// functions to make the token only when they are called.
struct RequestCsrf;

thread_local! {
    static RENDERING_FOR: std::cell::RefCell<Option<CsrfState>> =
        const { std::cell::RefCell::new(None) };
}

impl RequestCsrf {
    /// Run `render` with `csrf` as the request's CSRF state.
    fn during<R>(csrf: Option<&CsrfState>, render: impl FnOnce() -> R) -> R {
        /// Puts the previous state back, on return or unwind.
        struct Restore(Option<CsrfState>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                RENDERING_FOR.with_borrow_mut(|current| *current = previous);
            }
        }
        let previous =
            RENDERING_FOR.with_borrow_mut(|current| std::mem::replace(current, csrf.cloned()));
        let _restore = Restore(previous);
        render()
    }

    /// The token of the request being rendered, if it has CSRF protection.
    fn token() -> Option<Result<String, crate::middleware::csrf::RandomError>> {
        RENDERING_FOR.with_borrow(|current| current.as_ref().map(CsrfState::token))
    }
}

/// `|escape`: HTML-escaped even in plain text (as Django's, which escapes
/// inside `{% autoescape off %}` too).
fn escape_filter(value: tera::StringInput, _: Kwargs, _: &State) -> tera::TeraResult<Value> {
    if value.is_safe() {
        return Ok(value.into_value());
    }
    let mut escaped = Vec::with_capacity(value.as_str().len());
    tera::escape_html(value.as_str(), &mut escaped)?;
    Ok(Value::safe_string(&String::from_utf8_lossy(&escaped)))
}

/// Whether the render under way on this thread is plain text: the engine's
/// escape function then writes values as they are.
///
/// Tera decides autoescaping per template name, once, and calls one escape
/// function for every value; a render is one synchronous call on one thread,
/// so the choice of [`Templates::render_text`] is set here for its length (and
/// put back after, whatever happens), as [`RequestCsrf`] is.
struct PlainText;

thread_local! {
    static PLAIN_TEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl PlainText {
    /// Run `render` with autoescaping off.
    fn during<R>(render: impl FnOnce() -> R) -> R {
        /// Puts the previous choice back, on return or unwind.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                PLAIN_TEXT.set(self.0);
            }
        }
        let _restore = Restore(PLAIN_TEXT.replace(true));
        render()
    }

    /// The engine's escape function: HTML-escaping, unless in plain text.
    fn escape(input: &str, output: &mut dyn std::io::Write) -> std::io::Result<()> {
        if PLAIN_TEXT.get() {
            output.write_all(input.as_bytes())
        } else {
            tera::escape_html(input, output)
        }
    }
}

fn value_text(value: &Value) -> Cow<'_, str> {
    // Strings and integers (ids, the common arguments of `url()`) without
    // the general display of a value.
    match (value.as_str(), value.as_i64()) {
        (Some(text), _) => Cow::Borrowed(text),
        (None, Some(number)) => Cow::Owned(number.to_string()),
        (None, None) => Cow::Owned(value.to_string()),
    }
}

/// Extractor: render templates for this request, with what the middleware
/// give a template that names it (`user`, `perms`, `messages`,
/// `csrf_token`).
#[derive(Clone)]
pub struct Templates {
    engine: Arc<Engine>,
    /// For a request: `user` and `perms`, as Django's auth context
    /// processor gives them to templates (the anonymous user's without the
    /// `auth` middleware).
    auth_values: Option<Arc<(Value, Value)>>,
    /// With the `csrf` middleware: the request's token, made only for a
    /// template that names it.
    csrf: Option<CsrfState>,
    messages: Option<crate::messages::Messages>,
    /// With the `auth` middleware: a page that shows `user` or `perms`
    /// depends on the session (`Vary: Cookie`).
    auth_session: Option<crate::middleware::session::Session>,
}

impl Templates {
    /// Templates without what middleware adds for a request (`csrf_token`).
    pub(crate) fn outside_request(engine: Arc<Engine>) -> Templates {
        Templates {
            engine,
            auth_values: None,
            csrf: None,
            messages: None,
            auth_session: None,
        }
    }

    /// Render `name` into an HTML response body.
    pub fn render(&self, name: &str, context: Context) -> Result<Html<String>, Error> {
        self.render_string(name, context).map(Html)
    }

    /// Render `name` into plain text, its values written as they are, not
    /// HTML-escaped: a mail's subject and text body (what Django's mail
    /// templates get with `{% autoescape off %}`). Never for a page: a
    /// visitor's `<script>` would run.
    pub fn render_text(&self, name: &str, context: Context) -> Result<String, Error> {
        PlainText::during(|| self.render_string(name, context))
    }

    /// Render `name` into a string, its values HTML-escaped (whatever the
    /// template's name). With the `messages` middleware, a
    /// template that names `messages` gets them, and they are used up.
    pub fn render_string(&self, name: &str, mut context: Context) -> Result<String, Error> {
        let names = self.engine.names(name);
        if let Some(session) = &self.auth_session
            && names.user
        {
            session.mark_accessed();
        }
        // What the middleware give a template (`user`, `perms`,
        // `{{ csrf_token }}` the variable, `messages`) goes into its context
        // where its tags, or those of what it extends, includes or imports,
        // name it: a page that names none of them pays for none.
        if names.user {
            self.insert_auth_values(&mut context);
        }
        if names.csrf_token {
            self.insert_csrf_token(&mut context)?;
        }
        if let Some(messages) = &self.messages
            && names.messages
            && !context.contains_key("messages")
        {
            context.insert_value("messages", messages.take_for_template());
        }
        let render = |context: &Context| {
            RequestCsrf::during(self.csrf.as_ref(), || self.engine.render(name, context))
        };
        match render(&context) {
            // A name used where that reading cannot see still gets its
            // value, on a second render (messages as none: they are kept
            // for a page that shows them).
            Err(TemplateError::Render { .. }) if self.left_out(&context) => {
                if let Some(session) = &self.auth_session {
                    session.mark_accessed();
                }
                self.insert_auth_values(&mut context);
                self.insert_csrf_token(&mut context)?;
                if self.messages.is_some() && !context.contains_key("messages") {
                    context.insert_value("messages", self.engine.no_messages.clone());
                }
                Ok(render(&context)?)
            }
            rendered => Ok(rendered?),
        }
    }

    /// Whether `context` lacks a value the middleware would give it.
    fn left_out(&self, context: &Context) -> bool {
        (self.auth_values.is_some()
            && !(context.contains_key("user") && context.contains_key("perms")))
            || (self.csrf.is_some() && !context.contains_key(CSRF_TOKEN_KEY))
            || (self.messages.is_some() && !context.contains_key("messages"))
    }

    /// `user` and `perms`, where the view's context has not set them (the
    /// values are shared, not copied).
    fn insert_auth_values(&self, context: &mut Context) {
        if let Some(values) = &self.auth_values {
            let (user, perms) = &**values;
            for (key, value) in [("user", user), ("perms", perms)] {
                if !context.contains_key(key) {
                    context.insert_value(key, value.clone());
                }
            }
        }
    }

    /// `{{ csrf_token }}`, the variable (Django's way into JavaScript),
    /// where the view's context has not set it: the token is made now.
    fn insert_csrf_token(&self, context: &mut Context) -> Result<(), Error> {
        if let Some(csrf) = &self.csrf
            && !context.contains_key(CSRF_TOKEN_KEY)
        {
            context.insert(CSRF_TOKEN_KEY, &csrf.token().map_err(Error::other)?);
        }
        Ok(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Templates {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let app = crate::state::AppState::from_parts(parts)?.clone();
        // As Django's auth context processor: `user` and `perms`, loaded
        // here since rendering cannot wait on the database; without the
        // auth middleware, the anonymous user's (a page that shows `user`
        // renders, as Django's does without `request.user`).
        let (auth_values, auth_session) = match crate::auth::login::template_values(parts).await? {
            Some((values, session)) => (values, Some(session)),
            None => (app.anonymous.clone(), None),
        };
        Ok(Templates {
            engine: app.templates.clone(),
            auth_values: Some(auth_values),
            csrf: parts.extensions.get::<CsrfState>().cloned(),
            messages: parts.extensions.get::<crate::messages::Messages>().cloned(),
            auth_session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::UrlConf;

    async fn view() {}

    fn engine(dirs: Vec<PathBuf>, reload: bool) -> Engine {
        let resolver = UrlConf::new()
            .include(
                "polls/",
                UrlConf::app("polls").path("<int:question_id>/", view, "detail"),
            )
            .resolver()
            .unwrap();
        Engine::new(
            dirs,
            reload,
            Arc::new(resolver),
            Arc::new(|path: &str| Ok(format!("/static/{path}"))),
            vec![|tera: &mut Tera| tera.register_filter("shout", shout)],
        )
        .unwrap()
    }

    #[test]
    fn earlier_folders_win_and_autoescape_is_on() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("page.html"), "A {{ x }}").unwrap();
        std::fs::create_dir_all(b.path().join("polls")).unwrap();
        std::fs::write(b.path().join("page.html"), "B").unwrap();
        std::fs::write(b.path().join("polls/x.html"), "X").unwrap();
        let e = engine(vec![a.path().into(), b.path().into()], false);
        let out = e.render("page.html", &context! { "x" => "<b>" }).unwrap();
        assert_eq!(out, "A &lt;b&gt;");
        assert_eq!(e.render("polls/x.html", &Context::new()).unwrap(), "X");
    }

    /// A link in a template folder that leads nowhere (its target gone,
    /// or a loop back to a folder above) names no template: the others
    /// load, as Django's loaders fail only on a template asked for. A link
    /// to another folder gives its templates under the link's name.
    #[test]
    fn a_file_that_is_not_text_is_no_template_and_the_others_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("page.html"), "P").unwrap();
        std::fs::write(dir.path().join("logo.png"), b"\x89PNG\r\n\x1a\n\xff\xfe").unwrap();
        let e = engine(vec![dir.path().into()], false);
        assert_eq!(e.render("page.html", &Context::new()).unwrap(), "P");
        assert!(e.render("logo.png", &Context::new()).is_err());
    }

    /// A variable the context lacks is an error, but in `if` and through
    /// `default` (the README's words).
    #[test]
    fn a_missing_variable_is_an_error_but_in_if_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("bare.html", "{{ nothere }}");
        write(
            "allowed.html",
            "{% if nothere %}x{% endif %}{{ nothere | default(value='d') }}",
        );
        let e = engine(vec![dir.path().into()], false);
        assert!(e.render("bare.html", &Context::new()).is_err());
        assert_eq!(e.render("allowed.html", &Context::new()).unwrap(), "d");
    }

    #[test]
    fn links_that_lead_nowhere_are_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::write(dir.path().join("page.html"), "P").unwrap();
        std::fs::write(dir.path().join("shared/part.html"), "S").unwrap();
        std::os::unix::fs::symlink("../gone/old.html", dir.path().join("old.html")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
        std::os::unix::fs::symlink("shared", dir.path().join("alias")).unwrap();
        let e = engine(vec![dir.path().into()], false);
        assert_eq!(e.render("page.html", &Context::new()).unwrap(), "P");
        assert_eq!(e.render("alias/part.html", &Context::new()).unwrap(), "S");
        assert!(matches!(
            e.render("old.html", &Context::new()),
            Err(TemplateError::NotFound { .. })
        ));
        assert!(matches!(
            e.render("loop/page.html", &Context::new()),
            Err(TemplateError::NotFound { .. })
        ));
    }

    #[test]
    fn a_missing_template_is_named_with_the_folders_searched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("page.html"), "{{ x + 1 }}").unwrap();
        let e = engine(vec![dir.path().into()], false);
        let missing = e.render("nope.html", &Context::new()).unwrap_err();
        assert!(matches!(&missing, TemplateError::NotFound { name, .. } if name == "nope.html"));
        assert!(
            missing
                .to_string()
                .contains(&dir.path().display().to_string()),
            "{missing}"
        );
        assert!(missing.hint().unwrap().contains("template_dirs"));
        // A template that is there but fails is a render error, not a missing one.
        let failed = e.render("page.html", &Context::new()).unwrap_err();
        assert!(matches!(failed, TemplateError::Render { .. }), "{failed}");
    }

    #[test]
    fn djangos_forloop_and_block_super_get_the_tera_spelling_when_rendered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("loop.html"),
            "{% for q in qs %}{{ forloop.counter }}{% endfor %}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("base.html"),
            "{% block a %}A{% endblock a %}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("child.html"),
            "{% extends \"base.html\" %}{% block a %}{{ block.super }}B{% endblock a %}",
        )
        .unwrap();
        let e = engine(vec![dir.path().into()], false);
        let failed = e
            .render("loop.html", &context! { "qs" => &vec![1] })
            .unwrap_err();
        assert!(matches!(failed, TemplateError::Render { .. }), "{failed}");
        assert!(
            failed
                .hint()
                .unwrap()
                .contains("`loop.index` for forloop.counter")
        );
        let failed = e.render("child.html", &Context::new()).unwrap_err();
        assert_eq!(
            failed.hint().unwrap(),
            "`{{ block.super }}` is Django's syntax; Nuages writes `{{ super() }}`"
        );
        // Another undefined variable: no hint.
        std::fs::write(dir.path().join("other.html"), "{{ nope }}").unwrap();
        let e = engine(vec![dir.path().into()], false);
        assert_eq!(
            e.render("other.html", &Context::new()).unwrap_err().hint(),
            None
        );
    }

    #[test]
    fn url_and_static_functions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.html"),
            "{{ url(name=\"polls:detail\", question_id=4) }} {{ static(path=\"polls/style.css\") }}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.html"),
            "{{ url(name=\"polls:nope\") }}",
        )
        .unwrap();
        let e = engine(vec![dir.path().into()], false);
        assert_eq!(
            e.render("t.html", &Context::new()).unwrap(),
            "/polls/4/ /static/polls/style.css"
        );
        let err = e.render("bad.html", &Context::new()).unwrap_err();
        let chain = Error::from(err).chain().join("\n");
        assert!(chain.contains("polls:nope"), "{chain}");
    }

    /// A route whose parameter is called `name` (`users/<name>/`) is
    /// reversed with its parameters in `kwargs`, as Django's
    /// `reverse(kwargs=…)`: `name=` is the route's name.
    #[test]
    fn url_takes_the_parameters_in_kwargs_a_parameter_called_name_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.html"),
            "{{ url(name=\"user\", kwargs={\"name\": who}) }} \
             {{ url(name=\"page\", kwargs={\"name\": who}, n=2) }}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.html"),
            "{{ url(name=\"user\", kwargs=who) }}",
        )
        .unwrap();
        let resolver = UrlConf::new()
            .path("users/<name>/", view, "user")
            .path("users/<name>/<int:n>/", view, "page")
            .resolver()
            .unwrap();
        let e = Engine::new(
            vec![dir.path().into()],
            false,
            Arc::new(resolver),
            Arc::new(|p: &str| Ok(p.to_string())),
            vec![],
        )
        .unwrap();
        assert_eq!(
            e.render("t.html", &context! { "who" => "ada" }).unwrap(),
            "/users/ada/ /users/ada/2/"
        );
        let chain = Error::from(
            e.render("bad.html", &context! { "who" => "ada" })
                .unwrap_err(),
        )
        .chain()
        .join("\n");
        assert!(chain.contains("kwargs takes a map"), "{chain}");
    }

    #[test]
    fn render_form_writes_only_a_form_never_text_unescaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.html"), "{{ render_form(form=form) }}").unwrap();
        let e = engine(vec![dir.path().into()], false);
        let visitor = serde_json::json!({ "as_p": "<script>alert(1)</script>" });
        let error = e
            .render(
                "f.html",
                &context! { CSRF_TOKEN_KEY => "tok", "form" => &visitor },
            )
            .unwrap_err();
        let chain = Error::from(error).chain().join("\n");
        assert!(chain.contains("takes a form"), "{chain}");
        assert!(!chain.contains("<script>"), "{chain}");
    }

    #[test]
    fn csrf_input_renders_a_hidden_field_from_the_context() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.html"), "{{ csrf_input() }}").unwrap();
        let e = engine(vec![dir.path().into()], false);
        let out = e
            .render("f.html", &context! { CSRF_TOKEN_KEY => "tok\"en" })
            .unwrap();
        assert_eq!(
            out,
            "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"tok&quot;en\">"
        );
        assert!(e.render("f.html", &Context::new()).is_err());
    }

    #[test]
    fn a_template_names_messages_itself_or_through_what_it_extends() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "base.html",
            "{% for m in messages %}{{ m.message }}{% endfor %}{% block b %}{% endblock %}",
        );
        write(
            "page.html",
            "{% extends \"base.html\" %}{% block b %}messages here{% endblock %}",
        );
        write(
            "plain.html",
            "<p>messages, in text only {{ my_messages }}</p>",
        );
        write("inc.html", "{%- include 'base.html' %}");
        let files = template_files(&[dir.path().to_path_buf()]).unwrap();
        assert!(template_names_variable(&files, "base.html", "messages"));
        assert!(template_names_variable(&files, "page.html", "messages"));
        assert!(template_names_variable(&files, "inc.html", "messages"));
        assert!(!template_names_variable(&files, "plain.html", "messages"));
    }

    /// Only the variable itself reads the messages: not a word of the same
    /// name in a string, an attribute, a block's name or an argument's.
    #[test]
    fn only_the_variable_itself_reads_messages() {
        for tag in [
            " for m in messages ",
            " messages | length ",
            "- if messages -",
            " for m in messages|reverse ",
            " messages == [] ",
            " f(x=messages) ",
        ] {
            assert!(tag_reads_variable(tag, "messages"), "{tag}");
        }
        for tag in [
            r#" set thread = {"title": "Inbox", "messages": [1, 2]} "#,
            " thread.messages | length ",
            " thread . messages ",
            r#" url(name="messages:inbox") "#,
            " block messages ",
            " endblock messages ",
            " f(messages=1) ",
            " my_messages ",
            " 'it''s' ~ `messages` ",
            "block\tmessages",
            " macro show(messages) ",
        ] {
            assert!(!tag_reads_variable(tag, "messages"), "{tag}");
        }
        // Nor in a comment or a raw section, which Tera does not run.
        let read = |text: &str| tags(text).any(|tag| tag_reads_variable(tag, "messages"));
        assert!(!read("{# {% for m in messages %}{{ m }}{% endfor %} #}"));
        assert!(!read("{% raw %}{% for m in messages %}{% endraw %}"));
        assert!(!read("{%- raw -%}{{ messages }}{%- endraw -%}"));
        assert!(read("{% raw %}x{% endraw %}{% for m in messages %}"));
        assert!(read("{# note #}{{ messages | length }}"));
    }

    /// A view rendering names a visitor chose (`pages/{slug}.html`) keeps
    /// nothing of the names no template has.
    #[test]
    fn names_of_missing_templates_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("page.html"), "{{ user }}").unwrap();
        let e = engine(vec![dir.path().into()], false);
        for n in 0..100 {
            let name = format!("pages/{n}.html");
            assert!(!e.names(&name).user);
            assert!(matches!(
                e.render(&name, &Context::new()),
                Err(TemplateError::NotFound { .. })
            ));
        }
        assert!(e.names("page.html").user);
        assert_eq!(e.names.read().unwrap().len(), 1);
    }

    #[test]
    fn reload_sees_edits_and_keeps_functions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.html");
        std::fs::write(&file, "one").unwrap();
        let e = engine(vec![dir.path().into()], true);
        assert_eq!(e.render("t.html", &Context::new()).unwrap(), "one");
        std::fs::write(&file, "two {{ static(path=\"a.css\") }}!").unwrap();
        assert_eq!(
            e.render("t.html", &Context::new()).unwrap(),
            "two /static/a.css!"
        );
        std::fs::write(dir.path().join("new.html"), "new").unwrap();
        assert_eq!(e.render("new.html", &Context::new()).unwrap(), "new");
    }

    fn shout(value: &str, _: tera::Kwargs, _: &tera::State) -> String {
        value.to_uppercase()
    }

    #[test]
    fn template_libraries_survive_the_reload() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.html");
        std::fs::write(&file, "{{ \"hi\" | shout }}").unwrap();
        let e = engine(vec![dir.path().into()], true);
        assert_eq!(e.render("t.html", &Context::new()).unwrap(), "HI");
        std::fs::write(&file, "{{ \"again\" | shout }}!").unwrap();
        assert_eq!(e.render("t.html", &Context::new()).unwrap(), "AGAIN!");
    }

    #[test]
    fn without_reload_edits_are_not_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.html");
        std::fs::write(&file, "one").unwrap();
        let e = engine(vec![dir.path().into()], false);
        std::fs::write(&file, "changed").unwrap();
        assert_eq!(e.render("t.html", &Context::new()).unwrap(), "one");
    }

    #[test]
    fn a_missing_template_names_the_folders() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(vec![dir.path().into()], false);
        let err = e.render("nope.html", &Context::new()).unwrap_err();
        assert!(err.to_string().contains("nope.html"));
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.html"), "{% if %}").unwrap();
        let resolver = Arc::new(Resolver::default());
        let err = Engine::new(
            vec![dir.path().into()],
            false,
            resolver,
            Arc::new(|p: &str| Ok(p.to_string())),
            vec![],
        )
        .unwrap_err();
        let chain = Error::from(err).chain();
        assert!(chain.len() >= 2, "{chain:?}");
        assert!(chain[1].contains("t.html"), "{chain:?}");
    }

    #[test]
    fn django_syntax_is_answered_with_the_nuages_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("polls/index.html");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "<ul>\n<li><a href=\"{% url 'polls:detail' q.id %}\">x</a></li>\n</ul>",
        )
        .unwrap();
        let err = Error::from(
            Engine::new(
                vec![dir.path().into()],
                false,
                Arc::new(
                    UrlConf::new()
                        .include(
                            "polls/",
                            UrlConf::app("polls").path("<int:question_id>/", view, "detail"),
                        )
                        .resolver()
                        .unwrap(),
                ),
                Arc::new(|p: &str| Ok(p.to_string())),
                vec![],
            )
            .unwrap_err(),
        );
        let hint = err.hint().expect("a hint");
        assert!(
            hint.contains("`{{ url(name=\"polls:detail\", question_id=q.id) }}`"),
            "{hint}"
        );
        assert!(
            hint.starts_with(&format!("{} line 2: ", file.display())),
            "{hint}"
        );

        // The same hint when a debug engine reloads an edited template.
        std::fs::write(&file, "ok").unwrap();
        let e = engine(vec![dir.path().into()], true);
        std::fs::write(&file, "<form>{% csrf_token %}</form>").unwrap();
        let err = Error::from(e.render("polls/index.html", &Context::new()).unwrap_err());
        let hint = err.hint().expect("a hint");
        assert!(
            hint.ends_with("Nuages writes `{{ csrf_input() }}`"),
            "{hint}"
        );
    }

    /// Django's `{% autoescape off %}` (a mail template's first line) stops
    /// the load with a hint naming what Nuages does instead.
    #[test]
    fn djangos_autoescape_off_is_answered_with_render_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail.txt");
        std::fs::write(
            &file,
            "{% autoescape off %}\nHello {{ name }}\n{% endautoescape %}\n",
        )
        .unwrap();
        let resolver = Arc::new(Resolver::default());
        let static_url: StaticUrlFn = Arc::new(|p: &str| Ok(p.to_string()));
        let err = Error::from(
            Engine::new(vec![dir.path().into()], false, resolver, static_url, vec![]).unwrap_err(),
        );
        let hint = err.hint().expect("a hint");
        assert!(
            hint.starts_with(&format!("{} line 1: ", file.display())),
            "{hint}"
        );
        assert!(hint.contains("Templates::render_text"), "{hint}");
    }
}
