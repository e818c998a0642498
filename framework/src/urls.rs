//! URL routing with named routes, as Django's `urls.py`: patterns with typed
//! parameters, apps included under a prefix with a namespace, and `reverse`.
//!
//! One table, the [`Resolver`], serves requests, reverses names, lists the
//! patterns on the debug 404 page and decides `APPEND_SLASH`. Patterns are
//! tried in order with Django's fall-through: when `<int:id>/` refuses a
//! segment, `<slug:s>/` after it may still take it.
//!
//! ```
//! use nuages::urls::{UrlConf, post};
//!
//! async fn index() -> &'static str { "polls" }
//! async fn detail(axum::extract::Path(id): axum::extract::Path<i64>) -> String { id.to_string() }
//! async fn vote() -> &'static str { "voted" }
//!
//! let polls = UrlConf::app("polls")
//!     .path("", index, "index")
//!     .path("<int:question_id>/", detail, "detail")
//!     .path("<int:question_id>/vote/", post(vote), "vote");
//! let urls = UrlConf::new().include("polls/", polls);
//! let resolver = urls.resolver().unwrap();
//! assert_eq!(resolver.reverse("polls:detail", &[("question_id", "7")]).unwrap(), "/polls/7/");
//! assert!(resolver.resolve("/polls/7/vote/").unwrap().view.ends_with("::vote [POST]"));
//! ```

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::handler::Handler;
use axum::response::Response;
use axum::routing::{MethodRouter, any};
use futures_util::FutureExt;
use http::request::Parts;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Problem};
use crate::extract::Needs;
use crate::middleware::csrf::CsrfExempt;
use crate::views::RedirectTarget;
use crate::views::errors::{Panicked, panic_response};

/// What a path parameter accepts, as Django's path converters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Converter {
    /// Any non-empty segment without `/` (the default).
    Str,
    /// Zero or more digits.
    Int,
    /// ASCII letters, digits, `-` and `_`.
    Slug,
    /// A lowercase hyphenated UUID.
    Uuid,
    /// The rest of the path, `/` included (last segment only).
    Path,
}

impl Converter {
    fn parse(name: &str) -> Option<Converter> {
        Some(match name {
            "str" => Converter::Str,
            "int" => Converter::Int,
            "slug" => Converter::Slug,
            "uuid" => Converter::Uuid,
            "path" => Converter::Path,
            _ => return None,
        })
    }

    /// Whether `value` (percent-decoded) is accepted.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Converter::Str => !value.is_empty() && !value.contains('/'),
            // Digits that fit the i64 a view takes: a longer number is no
            // match (404, as for an id that does not exist), not a 400
            // from the view's `Path<i64>`.
            Converter::Int => {
                !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && value.parse::<i64>().is_ok()
            }
            Converter::Slug => {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            Converter::Uuid => {
                value.len() == 36
                    && value.char_indices().all(|(i, c)| match i {
                        8 | 13 | 18 | 23 => c == '-',
                        _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
                    })
            }
            Converter::Path => !value.is_empty(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Converter::Str => "str",
            Converter::Int => "int",
            Converter::Slug => "slug",
            Converter::Uuid => "uuid",
            Converter::Path => "path",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param { name: String, converter: Converter },
}

/// One route of the flattened URL configuration.
#[derive(Clone)]
pub struct Route {
    /// The full pattern as written, without the leading slash: `polls/<int:question_id>/`.
    pub pattern: String,
    /// The full name with namespaces, `polls:detail`, if the route has one.
    pub name: Option<String>,
    /// The view's Rust path, for `showurls` and the debug 404 page.
    pub view: String,
    /// Its place in [`Resolver::routes`].
    index: usize,
    csrf_exempt: bool,
    /// The project's state and settings sections the view takes.
    pub(crate) needs: Needs,
    segments: Vec<Segment>,
    /// A literal segment is written otherwise in the axum path.
    encoded_literals: bool,
    /// The view behind a one-route axum router, which gives the view its
    /// path parameters (`Path<…>`) and answers 405 for other methods.
    service: Router,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("pattern", &self.pattern)
            .field("name", &self.name)
            .field("view", &self.view)
            .field("csrf_exempt", &self.csrf_exempt)
            .finish_non_exhaustive()
    }
}

impl Route {
    /// Whether the view was marked with [`csrf_exempt`](crate::middleware::csrf::csrf_exempt).
    pub fn is_csrf_exempt(&self) -> bool {
        self.csrf_exempt
    }

    /// Serve `request` with this route's view.
    pub(crate) fn call(
        &self,
        mut request: Request,
    ) -> impl Future<Output = Response> + Send + use<> {
        let path = request.uri().path();
        // Word-at-a-time and memchr, not a loop over each byte: every
        // routed request comes by here.
        if self.encoded_literals || !path.is_ascii() || path.contains('%') {
            self.canonicalize(&mut request);
        }
        // axum's router is always ready: called at once, rather than kept
        // with the request (as `oneshot` keeps them) until the first poll.
        let served = tower::Service::call(&mut self.service.clone(), request);
        let index = self.index;
        async move {
            // A panic of the view is its 500 here, which the middleware
            // around it then see (the session of a logout that panicked
            // still ends), as Django turns a view's exception into a
            // response inside the innermost middleware.
            let mut response = match AssertUnwindSafe(served).catch_unwind().await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(payload) => return panic_response(Panicked::View, payload),
            };
            // Only a 404 is marked: the debug page then says the path
            // matched this route and names its view (Django's
            // `resolver_match`), rather than that no pattern matched.
            if response.status() == http::StatusCode::NOT_FOUND {
                response.extensions_mut().insert(AnsweredBy(index));
            }
            response
        }
    }

    /// The request's path with this route's literal segments written as
    /// the route's axum router has them (see [`canonical_literal`]): the
    /// resolver matched them decoded (`/%70olls/`), axum compares bytes.
    /// Parameters stay as sent: axum decodes them. Only a path holding an
    /// escape or a byte beyond ASCII, or a route with a literal that its
    /// axum path encodes (`a b/`), can differ.
    #[cold]
    fn canonicalize(&self, request: &mut Request) {
        let path = request.uri().path();
        let mut sent = path.strip_prefix('/').unwrap_or(path);
        let mut canonical = String::with_capacity(path.len());
        for segment in &self.segments {
            let (part, rest) = match segment {
                Segment::Param {
                    converter: Converter::Path,
                    ..
                } => (sent, ""),
                _ => sent.split_once('/').unwrap_or((sent, "")),
            };
            canonical.push('/');
            match segment {
                Segment::Literal(text) => canonical.push_str(&canonical_literal(text)),
                Segment::Param { .. } => canonical.push_str(part),
            }
            sent = rest;
        }
        if self.segments.is_empty() {
            canonical.push('/');
        }
        let with_query = match request.uri().query() {
            Some(query) => format!("{canonical}?{query}"),
            None => canonical,
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(path_and_query) = with_query.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }

    /// The parameter names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param { name, .. } => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// On a 404 response: the route, by its place in [`Resolver::routes`],
/// whose view answered it, where a 404 without it is a path that no
/// pattern matched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnsweredBy(pub(crate) usize);

/// What a literal segment's bytes are percent-encoded to in a route's axum
/// path, and in a request path before axum sees it: what a URI's path
/// cannot hold as it is (and `%` itself), so that `café` is `caf%C3%A9` on
/// both sides, and a literal of URI characters (`a+b`) is its own text.
const ENCODED_IN_A_LITERAL: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A literal segment as both sides of axum's comparison write it.
fn canonical_literal(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, ENCODED_IN_A_LITERAL).to_string()
}

/// The axum path of a pattern's segments (`/polls/{question_id}/`).
fn axum_path(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|segment| match segment {
            Segment::Literal(text) => canonical_literal(text),
            Segment::Param {
                name,
                converter: Converter::Path,
            } => format!("{{*{name}}}"),
            Segment::Param { name, .. } => format!("{{{name}}}"),
        })
        .collect();
    format!("/{}", parts.join("/"))
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pattern)?;
        if let Some(name) = &self.name {
            write!(f, " [name='{name}']")?;
        }
        Ok(())
    }
}

/// A route or an included configuration, before flattening.
enum Entry {
    Route {
        pattern: String,
        view: Box<RouteView>,
        name: Option<String>,
    },
    Include {
        prefix: String,
        conf: UrlConf,
    },
}

/// A list of URL patterns: the project's `urls.rs` or an app's.
#[derive(Default)]
pub struct UrlConf {
    namespace: Option<String>,
    entries: Vec<Entry>,
}

impl UrlConf {
    /// An empty configuration without a namespace (the project's).
    pub fn new() -> Self {
        UrlConf::default()
    }

    /// An app's configuration: its names are reached as `namespace:name`.
    pub fn app(namespace: &str) -> Self {
        UrlConf {
            namespace: Some(namespace.to_string()),
            entries: Vec::new(),
        }
    }

    /// Route `pattern` to `view`: a handler function serves every method;
    /// [`get`], [`post`] and friends restrict the methods (others get 405);
    /// [`csrf_exempt`](crate::middleware::csrf::csrf_exempt) wraps either.
    ///
    /// Patterns are Django's: no leading slash, parameters as whole segments
    /// `<int:id>`, `<slug:s>`, `<uuid:u>`, `<path:p>` or `<name>` (a `str`).
    /// An empty `name` leaves the route unnamed.
    pub fn path<V, M>(mut self, pattern: &str, view: V, name: &str) -> Self
    where
        V: View<M>,
    {
        self.entries.push(Entry::Route {
            pattern: pattern.to_string(),
            view: Box::new(view.into_route_view()),
            name: (!name.is_empty()).then(|| name.to_string()),
        });
        self
    }

    /// Mount another configuration under `prefix` (`"polls/"`).
    pub fn include(mut self, prefix: &str, conf: UrlConf) -> Self {
        self.entries.push(Entry::Include {
            prefix: prefix.to_string(),
            conf,
        });
        self
    }

    /// Flatten into the route table that serves, reverses and lists the
    /// patterns; a malformed pattern is an error naming it.
    pub fn resolver(self) -> Result<Resolver, Error> {
        self.check_names("", None, &mut Vec::new())?;
        let mut flat = Vec::new();
        self.flatten("", None, &mut flat);
        let mut resolver = Resolver::default();
        for (pattern, name, view) in flat {
            let segments = parse_pattern(&pattern)?;
            let axum_path = axum_path(&segments);
            let RouteView {
                router,
                name: view,
                csrf_exempt,
                needs,
            } = *view;
            let service = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Router::new().route(&axum_path, router).with_state(())
            }))
            .map_err(|_| Error::Config(Problem::new(format!("the URL pattern '{pattern}' cannot be served")).with_hint("patterns look like \"polls/<int:question_id>/\": literal text and whole-segment parameters")))?;
            let encoded_literals = segments.iter().any(|segment| match segment {
                Segment::Literal(text) => canonical_literal(text) != *text,
                Segment::Param { .. } => false,
            });
            resolver.push(Route {
                pattern,
                name,
                view,
                index: 0,
                csrf_exempt,
                needs,
                segments,
                encoded_literals,
                service,
            });
        }
        Ok(resolver)
    }

    /// Refuse what would make names reverse wrongly, as Django's URL checks
    /// warn of it: a namespace that is empty or not a word, one included
    /// twice (its names would reverse to one of the two places only), a
    /// route name holding the namespaces' `:`.
    fn check_names(
        &self,
        prefix: &str,
        outer: Option<&str>,
        seen: &mut Vec<(String, String)>,
    ) -> Result<(), Error> {
        let namespace = match (outer, &self.namespace) {
            (_, Some(inner)) if !is_word(inner) => {
                return Err(Error::Config(
                    Problem::new(format!(
                        "the URL namespace {inner:?} is not a name: route names are reached as \
                         namespace:name"
                    ))
                    .with_hint("name it with letters, digits and _, e.g. UrlConf::app(\"polls\")"),
                ));
            }
            (Some(outer), Some(inner)) => Some(format!("{outer}:{inner}")),
            (None, Some(inner)) => Some(inner.clone()),
            (outer, None) => outer.map(str::to_string),
        };
        if let Some(full) = self.namespace.as_ref().and(namespace.as_ref()) {
            if let Some((_, first)) = seen.iter().find(|(ns, _)| ns == full) {
                return Err(Error::Config(
                    Problem::new(format!(
                        "the URL namespace '{full}' is included twice, under '{first}' and \
                         '{prefix}': its names would reverse to one of the two only"
                    ))
                    .with_hint("include each app's patterns once; answer the other prefix with a redirect view"),
                ));
            }
            seen.push((full.clone(), prefix.to_string()));
        }
        for entry in &self.entries {
            match entry {
                Entry::Route {
                    name: Some(name),
                    pattern,
                    ..
                } if name.contains(':') => {
                    return Err(Error::Config(
                        Problem::new(format!(
                            "the URL name '{name}' of the pattern '{prefix}{pattern}' holds a ':', \
                             which separates namespaces: url(name='{name}') would look for it \
                             in another app"
                        ))
                        .with_hint("name it without ':'; an app's names get their namespace from UrlConf::app"),
                    ));
                }
                Entry::Route { .. } => {}
                Entry::Include {
                    prefix: inner,
                    conf,
                } => conf.check_names(&format!("{prefix}{inner}"), namespace.as_deref(), seen)?,
            }
        }
        Ok(())
    }

    fn flatten(
        self,
        prefix: &str,
        namespace: Option<&str>,
        out: &mut Vec<(String, Option<String>, Box<RouteView>)>,
    ) {
        let namespace = match (namespace, &self.namespace) {
            (Some(outer), Some(inner)) => Some(format!("{outer}:{inner}")),
            (None, Some(inner)) => Some(inner.clone()),
            (outer, None) => outer.map(str::to_string),
        };
        for entry in self.entries {
            match entry {
                Entry::Route {
                    pattern,
                    view,
                    name,
                } => {
                    let full_name = name.map(|name| match &namespace {
                        Some(ns) => format!("{ns}:{name}"),
                        None => name,
                    });
                    out.push((format!("{prefix}{pattern}"), full_name, view));
                }
                Entry::Include {
                    prefix: inner,
                    conf,
                } => {
                    conf.flatten(&format!("{prefix}{inner}"), namespace.as_deref(), out);
                }
            }
        }
    }
}

/// What [`UrlConf::path`] routes to: a handler function (every method),
/// the [`Methods`] of [`get`], [`post`] and friends, or either wrapped in
/// [`csrf_exempt`](crate::middleware::csrf::csrf_exempt). The type parameter
/// only tells the three apart.
pub trait View<M>: Sized {
    #[doc(hidden)]
    fn into_route_view(self) -> RouteView;
}

pub(crate) mod sealed {
    /// A view ready to route: its method router, its name for `showurls`,
    /// and whether the CSRF check skips it.
    pub struct RouteView {
        pub(crate) router: axum::routing::MethodRouter,
        pub(crate) name: String,
        pub(crate) csrf_exempt: bool,
        pub(crate) needs: crate::extract::Needs,
    }

    /// Marks a handler function, [`super::Methods`], and an exempt view.
    pub struct ByHandler;
    /// See [`ByHandler`].
    pub struct ByMethods;
    /// See [`ByHandler`].
    pub struct ByExempt;
    /// See [`ByHandler`].
    pub struct ByCachePage;
}
use sealed::RouteView;

impl<H, T> View<(sealed::ByHandler, T)> for H
where
    H: Handler<T, ()>,
    T: 'static,
{
    fn into_route_view(self) -> RouteView {
        RouteView {
            router: any(self),
            name: std::any::type_name::<H>().to_string(),
            csrf_exempt: false,
            needs: Needs::of(std::any::type_name::<T>()),
        }
    }
}

impl View<sealed::ByMethods> for Methods {
    fn into_route_view(self) -> RouteView {
        let name = self
            .views
            .iter()
            .map(|(method, view)| format!("{view} [{method}]"))
            .collect::<Vec<_>>()
            .join(", ");
        RouteView {
            router: self.router,
            name,
            csrf_exempt: false,
            needs: self.needs,
        }
    }
}

impl<V, M> View<(sealed::ByExempt, M)> for CsrfExempt<V>
where
    V: View<M>,
{
    fn into_route_view(self) -> RouteView {
        RouteView {
            csrf_exempt: true,
            ..self.into_inner().into_route_view()
        }
    }
}

/// A view per HTTP method, as Django's `require_http_methods`: made by
/// [`get`], [`post`], [`put`], [`patch`] or [`delete`], chained for more
/// (`get(show).post(save)`). Other methods get 405 with `Allow`, and
/// `showurls` names each view with its method.
#[derive(Debug)]
pub struct Methods {
    router: MethodRouter,
    views: Vec<(&'static str, String)>,
    needs: Needs,
}

macro_rules! method_views {
    ($($method:ident $label:literal),*) => {
        $(
            #[doc = concat!("Route `", $label, "` requests to `view` (see [`Methods`]).")]
            pub fn $method<H, T>(view: H) -> Methods
            where
                H: Handler<T, ()>,
                T: 'static,
            {
                Methods {
                    router: MethodRouter::new(),
                    views: Vec::new(),
                    needs: Needs::default(),
                }
                .$method(view)
            }
        )*

        impl Methods {
            $(
                #[doc = concat!("Also route `", $label, "` requests, to `view`.")]
                pub fn $method<H, T>(mut self, view: H) -> Methods
                where
                    H: Handler<T, ()>,
                    T: 'static,
                {
                    self.views.push(($label, std::any::type_name::<H>().to_string()));
                    self.needs = std::mem::take(&mut self.needs).and(Needs::of(std::any::type_name::<T>()));
                    self.router = self.router.$method(view);
                    self
                }
            )*
        }
    };
}

method_views!(get "GET", post "POST", put "PUT", patch "PATCH", delete "DELETE");

/// A namespace: letters, digits, `_` and `-`, at least one.
fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, Error> {
    let invalid = |why: &str| {
        Error::Config(Problem::new(format!("invalid URL pattern '{pattern}': {why}")).with_hint("patterns look like \"polls/<int:question_id>/\": no leading slash, parameters as whole segments"))
    };
    if pattern.starts_with('/') {
        return Err(invalid("it starts with a slash"));
    }
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts[..parts.len() - 1].contains(&"") {
        // Django's urls.W002: a URL with `//` is one no visitor types.
        return Err(invalid(
            "it has an empty segment ('//'): an included pattern must not start with a slash",
        ));
    }
    let mut segments = Vec::with_capacity(parts.len());
    let mut names: Vec<&str> = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if let Some(inner) = part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
            let (converter, name) = match inner.split_once(':') {
                Some((converter, name)) => (
                    Converter::parse(converter).ok_or_else(|| {
                        invalid(&format!(
                            "unknown converter '{converter}' (int, str, slug, uuid, path)"
                        ))
                    })?,
                    name,
                ),
                None => (Converter::Str, inner),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(&format!("'{name}' is not a parameter name")));
            }
            if names.contains(&name) {
                return Err(invalid(&format!("the parameter '{name}' appears twice")));
            }
            if converter == Converter::Path && index != parts.len() - 1 {
                return Err(invalid("a <path:…> parameter must be the last segment"));
            }
            names.push(name);
            segments.push(Segment::Param {
                name: name.to_string(),
                converter,
            });
        } else if part.contains('<') || part.contains('>') {
            return Err(invalid(&format!(
                "'{part}' mixes text and a parameter in one segment"
            )));
        } else {
            segments.push(Segment::Literal(part.to_string()));
        }
    }
    Ok(segments)
}

/// Characters escaped in a reversed `<path:…>` value (it keeps its
/// slashes): as Django's `reverse`, which quotes all but letters, digits,
/// `-._~`, RFC 3986's sub-delimiters `!$&'()*+,;=` and `/:@`, so a `\`
/// (which browsers read as `/`), `[`, `^` or `|` is percent-encoded too.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');
/// Characters escaped in any other reversed path segment.
const SEGMENT: &AsciiSet = &PATH.add(b'/');

/// Why a name could not be reversed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReverseError {
    /// No route has this name.
    #[error("no URL is named '{name}'{}", suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The closest existing name.
        suggestion: Option<String>,
    },
    /// The arguments do not fit the route's parameters.
    #[error("the URL '{name}' takes the arguments [{expected}], got [{given}]")]
    WrongArguments {
        /// The route name.
        name: String,
        /// The parameters it has.
        expected: String,
        /// The arguments given.
        given: String,
    },
    /// An argument the converter refuses.
    #[error(
        "the URL '{name}' takes for '{param}' what its {converter} converter accepts ({}), got {value:?}",
        converter_accepts(converter)
    )]
    InvalidArgument {
        /// The route name.
        name: String,
        /// The parameter.
        param: String,
        /// Its converter.
        converter: &'static str,
        /// The value given.
        value: String,
    },
}

/// What the converter named `converter` accepts, in words.
fn converter_accepts(converter: &str) -> &'static str {
    match converter {
        "int" => "digits that fit a 64-bit integer",
        "slug" => "ASCII letters, digits, hyphens and underscores",
        "uuid" => "a lowercase hyphenated UUID",
        "path" => "any text but the empty one",
        _ => "any text but the empty one, without a slash",
    }
}

/// The route table: the flattened routes in order, and a tree of their
/// segments that finds the first match without trying every route.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    routes: Vec<Route>,
    tree: Node,
    /// The routes of each name, in order: what `reverse` tries.
    by_name: fnv::FnvHashMap<String, Vec<usize>>,
}

/// One level of the segment tree. Every route below a node has an index of
/// at least `first`, which lets a search skip branches that cannot beat the
/// match it already has.
#[derive(Debug, Clone)]
struct Node {
    first: usize,
    /// By the literal segment (the project's own strings: a fast hash).
    literals: fnv::FnvHashMap<String, Node>,
    params: Vec<(Converter, Node)>,
    /// Routes whose last segment, a `<path:…>`, takes the rest from here.
    rest: Option<usize>,
    /// Routes that end at this node (the first one added).
    end: Option<usize>,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            first: usize::MAX,
            literals: Default::default(),
            params: Vec::new(),
            rest: None,
            end: None,
        }
    }
}

impl Node {
    fn insert(&mut self, segments: &[Segment], index: usize) {
        self.first = self.first.min(index);
        let Some((segment, tail)) = segments.split_first() else {
            self.end.get_or_insert(index);
            return;
        };
        let child = match segment {
            Segment::Param {
                converter: Converter::Path,
                ..
            } => {
                self.rest.get_or_insert(index);
                return;
            }
            Segment::Literal(text) => self.literals.entry(text.clone()).or_default(),
            Segment::Param { converter, .. } => {
                match self.params.iter().position(|(c, _)| c == converter) {
                    Some(at) => &mut self.params[at].1,
                    None => {
                        self.params.push((*converter, Node::default()));
                        &mut self.params.last_mut().expect("just pushed").1
                    }
                }
            }
        };
        child.insert(tail, index);
    }

    /// The smallest index of a route matching `parts`, if below `best`.
    /// The best route for the segments of `rest` (`None`: no segment left;
    /// `Some("")`: one empty segment, as after a trailing slash).
    fn find(&self, rest: Option<&str>, best: &mut Option<usize>) {
        if best.is_some_and(|best| self.first >= best) {
            return;
        }
        let mut offer = |index: usize| {
            if best.is_none_or(|best| index < best) {
                *best = Some(index);
            }
        };
        let Some(rest) = rest else {
            if let Some(index) = self.end {
                offer(index);
            }
            return;
        };
        if let Some(index) = self.rest
            && Converter::Path.accepts(&decoded(rest))
        {
            offer(index);
        }
        // A byte search: `split_once('/')` goes through the general `char`
        // searcher, several times slower on these short segments.
        let (part, tail) = match rest.bytes().position(|b| b == b'/') {
            Some(slash) => (&rest[..slash], Some(&rest[slash + 1..])),
            None => (rest, None),
        };
        // A literal matches its text however it is percent-encoded
        // (`/%70olls/`, `/caf%C3%A9/`), as Django decodes the path first.
        let decoded_part = decoded(part);
        let literal = self.literals.get(&*decoded_part);
        if let Some(child) = literal {
            child.find(tail, best);
        }
        if !self.params.is_empty() {
            for (converter, child) in &self.params {
                if converter.accepts(&decoded_part) {
                    child.find(tail, best);
                }
            }
        }
    }
}

/// A segment as Django matches it, percent-decoded (invalid UTF-8 replaced):
/// borrowed as sent when it holds no escape, the case of nearly every request.
fn decoded(segment: &str) -> std::borrow::Cow<'_, str> {
    match segment.contains('%') {
        false => segment.into(),
        true => percent_encoding::percent_decode_str(segment).decode_utf8_lossy(),
    }
}

impl Resolver {
    fn push(&mut self, mut route: Route) {
        route.index = self.routes.len();
        self.tree.insert(&route.segments, self.routes.len());
        if let Some(name) = &route.name {
            self.by_name
                .entry(name.clone())
                .or_default()
                .push(self.routes.len());
        }
        self.routes.push(route);
    }

    /// Every route, in the order they are tried.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route, in order, that matches `path` (which starts with
    /// `/`): Django's fall-through, so `<int:id>/` refusing `abc/` lets a
    /// later `<slug:s>/` take it.
    pub fn resolve(&self, path: &str) -> Option<&Route> {
        let path = path.strip_prefix('/')?;
        let mut best = None;
        self.tree
            .find((!path.is_empty()).then_some(path), &mut best);
        best.map(|index| &self.routes[index])
    }

    /// The path of the route named `name`, with `args` by parameter name.
    pub fn reverse(&self, name: &str, args: &[(&str, &str)]) -> Result<String, ReverseError> {
        let Some(candidates) = self.by_name.get(name) else {
            let names = self.routes.iter().filter_map(|r| r.name.as_deref());
            return Err(ReverseError::UnknownName {
                name: name.to_string(),
                suggestion: crate::conf::closest_name(name, names).map(str::to_string),
            });
        };
        let mut last_error = None;
        for route in self.named(candidates) {
            match reverse_route(route, name, args) {
                Ok(path) => return Ok(path),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one candidate"))
    }

    /// The path of the route named `name`, with positional `args`: the
    /// first route of that name, in the order [`reverse`](Self::reverse)
    /// tries them, with as many parameters as `args` and taking them.
    pub fn reverse_args(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, ReverseError> {
        let Some(candidates) = self.by_name.get(name) else {
            return self.reverse(name, &[]);
        };
        let values: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut last_error = None;
        for route in self.named(candidates) {
            let params: Vec<&str> = route.params().collect();
            if params.len() != values.len() {
                last_error.get_or_insert(ReverseError::WrongArguments {
                    name: name.to_string(),
                    expected: params.join(", "),
                    given: values.join(", "),
                });
                continue;
            }
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            match reverse_route(route, name, &pairs) {
                Ok(path) => return Ok(path),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one candidate"))
    }

    /// `response` with the route's path in place of a route's name that
    /// `redirect()` was given (`redirect("books:index")`), as Django's
    /// `redirect()` reverses a name: the browser would otherwise take
    /// `books:` for a URL scheme. A name whose route takes arguments is the
    /// error `reverse` gives (a 500 naming them), as Django's
    /// `NoReverseMatch`; so is a namespaced name (`app:name`) that no route
    /// has. Any other target (`home` without such a route: a relative
    /// address) is left as it is, and said in the log with the closest
    /// route's name: Django's `redirect()` raises `NoReverseMatch` there,
    /// which would make a visitor's value passed to `redirect()` a 500.
    pub(crate) fn reverse_redirect(&self, mut response: Response) -> Response {
        let Some(RedirectTarget(name)) = response.extensions_mut().remove::<RedirectTarget>()
        else {
            return response;
        };
        if !self.by_name.contains_key(&name) {
            let Some((first, _)) = name.split_once(':') else {
                if let Err(error) = self.reverse(&name, &[]) {
                    tracing::warn!(
                        target: "nuages::urls",
                        "redirect(\"{name}\") sent the relative address `{name}`, which may be a \
                         mistyped route name: {error}"
                    );
                }
                return response;
            };
            // No route has the name and its first part is no namespace: a
            // URL (`javascript:alert`, from a visitor's `next`), whose
            // scheme is checked as redirect() checks any other.
            let namespace = format!("{first}:");
            if !self
                .by_name
                .keys()
                .any(|known| known.starts_with(&namespace))
            {
                return crate::views::refuse_unsafe_scheme(&name).unwrap_or(response);
            }
        }
        match self.reverse(&name, &[]) {
            Ok(path) => {
                let path = http::HeaderValue::try_from(path).expect("a reversed path is ASCII");
                response.headers_mut().insert(http::header::LOCATION, path);
                response
            }
            Err(error) => axum::response::IntoResponse::into_response(Error::Reverse(error)),
        }
    }

    /// The routes of one name in the order `reverse` tries them: the one
    /// listed last first, as Django's `reverse` (which finds, of two
    /// patterns that both fit, the one later in `urlpatterns`).
    fn named<'a>(&'a self, indices: &'a [usize]) -> impl Iterator<Item = &'a Route> + 'a {
        indices.iter().rev().map(|&index| &self.routes[index])
    }
}

fn reverse_route(route: &Route, name: &str, args: &[(&str, &str)]) -> Result<String, ReverseError> {
    // A route's parameters have distinct names (the pattern parser refuses
    // a repeated one): the same names are as many and each given.
    let given_once = |param: &str| args.iter().filter(|(k, _)| *k == param).count() == 1;
    if route.params().count() != args.len() || !route.params().all(given_once) {
        return Err(ReverseError::WrongArguments {
            name: name.to_string(),
            expected: route.params().collect::<Vec<_>>().join(", "),
            given: args
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    // Room for the whole path at once (more only if a value needs escaping).
    let room = route.segments.len()
        + route
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => text.len(),
                Segment::Param { .. } => 0,
            })
            .sum::<usize>()
        + args.iter().map(|(_, value)| value.len()).sum::<usize>();
    let mut path = String::with_capacity(room);
    path.push('/');
    for (index, segment) in route.segments.iter().enumerate() {
        if index > 0 {
            path.push('/');
        }
        match segment {
            // The pattern's own text is quoted too (`café/` as
            // `caf%C3%A9/`), as Django's `reverse` quotes the whole path.
            Segment::Literal(text) => path.extend(utf8_percent_encode(text, SEGMENT)),
            Segment::Param {
                name: param,
                converter,
            } => {
                let value = args
                    .iter()
                    .find(|(k, _)| k == param)
                    .map(|(_, v)| *v)
                    .unwrap_or_default();
                if !converter.accepts(value) {
                    return Err(ReverseError::InvalidArgument {
                        name: name.to_string(),
                        param: param.clone(),
                        converter: converter.name(),
                        value: value.to_string(),
                    });
                }
                let set = if *converter == Converter::Path {
                    PATH
                } else {
                    SEGMENT
                };
                path.extend(utf8_percent_encode(value, set));
            }
        }
    }
    // A path starting `//` is another host's address to a browser (a
    // `<path:…>` first, given `/evil.com`): its second slash is
    // percent-encoded, as Django's `reverse` does.
    if path.starts_with("//") {
        path.replace_range(1..2, "%2F");
    }
    Ok(path)
}

/// Extractor: the project's routes, to reverse names in a view.
///
/// ```
/// use nuages::urls::Urls;
/// async fn view(urls: Urls) -> nuages::Result<String> {
///     Ok(urls.reverse("polls:index", &[])?)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Urls(pub Arc<Resolver>);

impl std::ops::Deref for Urls {
    type Target = Resolver;
    fn deref(&self) -> &Resolver {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Urls {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let state = crate::state::AppState::from_parts(parts)?;
        Ok(Urls(state.urls.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn view() -> &'static str {
        "ok"
    }

    fn resolver() -> Resolver {
        let polls = UrlConf::app("polls")
            .path("", view, "index")
            .path("<int:question_id>/", view, "detail")
            .path("<int:question_id>/vote/", view, "vote");
        let docs = UrlConf::app("docs").path("<path:page>", view, "page");
        UrlConf::new()
            .path("", view, "home")
            .path("tags/<slug:tag>/", view, "tag")
            .path("users/<name>/", view, "user")
            .path("items/<uuid:id>/", view, "item")
            .include("polls/", polls)
            .include("docs/", docs)
            .resolver()
            .unwrap()
    }

    /// Of two routes with one name, the arguments choose (`archive` with a
    /// year or without), and where both fit, the one listed last, as in
    /// Django.
    #[test]
    fn routes_sharing_a_name_reverse_as_in_django() {
        let r = UrlConf::new()
            .path("archive/", view, "archive")
            .path("archive/<int:year>/", view, "archive")
            .path("old/<slug:page>/", view, "page")
            .path("new/<slug:page>/", view, "page")
            .resolver()
            .unwrap();
        assert_eq!(r.reverse("archive", &[]).unwrap(), "/archive/");
        assert_eq!(
            r.reverse("archive", &[("year", "2026")]).unwrap(),
            "/archive/2026/"
        );
        assert_eq!(r.reverse_args("archive", &[]).unwrap(), "/archive/");
        assert_eq!(
            r.reverse_args("archive", &[&2026]).unwrap(),
            "/archive/2026/"
        );
        assert_eq!(r.reverse("page", &[("page", "a")]).unwrap(), "/new/a/");
        assert_eq!(r.reverse_args("page", &[&"a"]).unwrap(), "/new/a/");
        assert!(matches!(
            r.reverse_args("archive", &[&1, &2]),
            Err(ReverseError::WrongArguments { .. })
        ));
    }

    /// What Django's URL checks warn of (urls.W002, W003, W005) stops the
    /// route table here, each error naming the pattern or namespace.
    #[test]
    fn names_that_would_reverse_wrongly_are_refused() {
        let refused = |conf: UrlConf| conf.resolver().err().unwrap().to_string();
        let app = || UrlConf::app("catalog").path("<int:id>/", view, "item");
        assert_eq!(
            refused(
                UrlConf::new()
                    .include("catalog/", app())
                    .include("shop/", app())
            ),
            "the URL namespace 'catalog' is included twice, under 'catalog/' and 'shop/': its \
             names would reverse to one of the two only"
        );
        assert_eq!(
            refused(UrlConf::new().include("x/", UrlConf::app("x").path("/a/", view, "a"))),
            "invalid URL pattern 'x//a/': it has an empty segment ('//'): an included pattern \
             must not start with a slash"
        );
        assert_eq!(
            refused(UrlConf::new().path("fake/", view, "catalog:item")),
            "the URL name 'catalog:item' of the pattern 'fake/' holds a ':', which separates \
             namespaces: url(name='catalog:item') would look for it in another app"
        );
        for namespace in ["", "my app", "a:b"] {
            let message = refused(UrlConf::new().include("x/", UrlConf::app(namespace)));
            assert!(message.contains("is not a name"), "{message}");
        }
        // One app in two nested namespaces is two namespaces.
        let nested = UrlConf::new()
            .include("catalog/", app())
            .include("v2/", UrlConf::app("v2").include("catalog/", app()));
        let r = nested.resolver().unwrap();
        assert_eq!(
            r.reverse_args("v2:catalog:item", &[&1]).unwrap(),
            "/v2/catalog/1/"
        );
    }

    #[test]
    fn reverse_builds_paths_with_namespaces() {
        let r = resolver();
        assert_eq!(r.reverse("home", &[]).unwrap(), "/");
        assert_eq!(r.reverse("polls:index", &[]).unwrap(), "/polls/");
        assert_eq!(
            r.reverse("polls:vote", &[("question_id", "12")]).unwrap(),
            "/polls/12/vote/"
        );
        assert_eq!(r.reverse_args("polls:detail", &[&3]).unwrap(), "/polls/3/");
        assert_eq!(
            r.reverse("docs:page", &[("page", "a/b c.html")]).unwrap(),
            "/docs/a/b%20c.html"
        );
        assert_eq!(
            r.reverse("user", &[("name", "a b?c")]).unwrap(),
            "/users/a%20b%3Fc/"
        );
        // As Django's str converter, a slash is refused rather than escaped.
        assert!(r.reverse("user", &[("name", "a/b")]).is_err());
    }

    #[test]
    fn reverse_refuses_unknown_names_and_bad_arguments() {
        let r = resolver();
        let err = r.reverse("polls:detial", &[]).unwrap_err();
        assert_eq!(
            err,
            ReverseError::UnknownName {
                name: "polls:detial".into(),
                suggestion: Some("polls:detail".into())
            }
        );
        assert!(matches!(
            r.reverse("polls:detail", &[]),
            Err(ReverseError::WrongArguments { .. })
        ));
        assert_eq!(
            r.reverse("polls:detail", &[("question_id", "abc")])
                .unwrap_err()
                .to_string(),
            "the URL 'polls:detail' takes for 'question_id' what its int converter accepts \
             (digits that fit a 64-bit integer), got \"abc\""
        );
        assert_eq!(
            r.reverse("user", &[("name", "a/b")])
                .unwrap_err()
                .to_string(),
            "the URL 'user' takes for 'name' what its str converter accepts \
             (any text but the empty one, without a slash), got \"a/b\""
        );
        // A number that fits no i64 is no <int>, as in the path.
        assert!(matches!(
            r.reverse("polls:detail", &[("question_id", "9223372036854775808")]),
            Err(ReverseError::InvalidArgument { .. })
        ));
        assert!(matches!(
            r.reverse("tag", &[("tag", "no spaces")]),
            Err(ReverseError::InvalidArgument { .. })
        ));
    }

    /// As Django's `reverse`: a value's characters other than letters,
    /// digits, `-._~`, `!$&'()*+,;=` and `:@` (and `/` in a `<path:…>`) are
    /// percent-encoded, Unicode as UTF-8; a path that would start `//`
    /// (another host, to a browser) has its second slash encoded.
    #[test]
    fn reverse_percent_encodes_values_as_django() {
        let r = resolver();
        let user = |name: &str| r.reverse("user", &[("name", name)]).unwrap();
        assert_eq!(user("a b?c#d%e"), "/users/a%20b%3Fc%23d%25e/");
        assert_eq!(user("café"), "/users/caf%C3%A9/");
        assert_eq!(user("\\x[1]^|\"<>"), "/users/%5Cx%5B1%5D%5E%7C%22%3C%3E/");
        assert_eq!(user("a:b@c!$&'()*+,;=~"), "/users/a:b@c!$&'()*+,;=~/");
        assert_eq!(
            r.reverse("docs:page", &[("page", "a/b c\\d")]).unwrap(),
            "/docs/a/b%20c%5Cd"
        );
        let root = UrlConf::new()
            .path("<path:rest>", view, "any")
            .resolver()
            .unwrap();
        let any = |rest: &str| root.reverse("any", &[("rest", rest)]).unwrap();
        assert_eq!(any("/evil.com"), "/%2Fevil.com");
        assert_eq!(any("\\evil.com"), "/%5Cevil.com");
        assert_eq!(any("a//b"), "/a//b");
        assert!(root.resolve("/%2Fevil.com").is_some());
    }

    #[test]
    fn resolve_honours_converters() {
        let r = resolver();
        let name = |p: &str| r.resolve(p).and_then(|route| route.name.clone());
        assert_eq!(name("/").as_deref(), Some("home"));
        assert_eq!(name("/polls/5/").as_deref(), Some("polls:detail"));
        assert_eq!(name("/polls/5/vote/").as_deref(), Some("polls:vote"));
        assert_eq!(name("/polls/five/"), None);
        assert_eq!(name("/polls/5"), None);
        // An int that fits an i64 and one that does not.
        assert_eq!(
            name("/polls/9223372036854775807/").as_deref(),
            Some("polls:detail")
        );
        assert_eq!(name("/polls/9223372036854775808/"), None);
        assert_eq!(name("/polls/99999999999999999999999/"), None);
        assert_eq!(name("/tags/rust-lang/").as_deref(), Some("tag"));
        assert_eq!(name("/tags/rust lang/"), None);
        assert_eq!(
            name("/items/123e4567-e89b-12d3-a456-426614174000/").as_deref(),
            Some("item")
        );
        assert_eq!(name("/items/123/"), None);
        assert_eq!(name("/docs/a/b/c.html").as_deref(), Some("docs:page"));
        assert_eq!(name("/docs/"), None);
    }

    #[test]
    fn bad_patterns_are_errors_not_panics() {
        for pattern in [
            "/leading/",
            "a<int:x>/",
            "<bogus:x>/",
            "<path:p>/more/",
            "<int:x>/<x>/",
        ] {
            let result = UrlConf::new().path(pattern, view, "x").resolver();
            assert!(result.is_err(), "{pattern} should be refused");
        }
    }

    #[test]
    fn duplicate_patterns_keep_the_first_and_do_not_panic() {
        let r = UrlConf::new()
            .path("a/", view, "first")
            .path("a/", view, "second")
            .path("<x>/", view, "x")
            .path("<y>/", view, "y")
            .resolver()
            .unwrap();
        assert_eq!(r.resolve("/a/").unwrap().name.as_deref(), Some("first"));
        assert_eq!(r.routes().len(), 4);
    }

    #[test]
    fn patterns_of_the_same_shape_fall_through_in_order() {
        let r = UrlConf::new()
            .path("<int:id>/", view, "by-id")
            .path("<slug:s>/", view, "by-slug")
            .path("<str:s>/", view, "by-str")
            .path("a/<int:x>/", view, "a-int")
            .path("<slug:s>/<int:x>/", view, "slug-int")
            .path("files/<path:rest>", view, "files")
            .path("files/readme/", view, "readme")
            .resolver()
            .unwrap();
        let name = |p: &str| r.resolve(p).and_then(|route| route.name.as_deref());
        assert_eq!(name("/12/"), Some("by-id"));
        assert_eq!(name("/twelve/"), Some("by-slug"));
        assert_eq!(name("/twelve%20and%20one/"), Some("by-str"));
        assert_eq!(name("/a/3/"), Some("a-int"));
        assert_eq!(name("/a/b/3/"), None);
        assert_eq!(name("/b/3/"), Some("slug-int"));
        // The earlier <path:…> wins over a later literal, as in Django.
        assert_eq!(name("/files/readme/"), Some("files"));
        // An empty rest is no <path:…>; the slug pattern takes it.
        assert_eq!(name("/files/"), Some("by-slug"));
    }

    #[test]
    fn a_large_table_finds_the_same_routes_as_trying_each_in_order() {
        let mut conf = UrlConf::new();
        for i in 0..1000 {
            conf = match i % 4 {
                0 => conf.path(&format!("section{i}/"), view, &format!("s{i}")),
                1 => conf.path(&format!("section{i}/<int:id>/"), view, &format!("s{i}")),
                2 => conf.path(&format!("<slug:s>/page{i}/"), view, &format!("s{i}")),
                _ => conf.path(&format!("docs{i}/<path:rest>"), view, &format!("s{i}")),
            };
        }
        let r = conf.resolver().unwrap();
        let name = |p: &str| r.resolve(p).and_then(|route| route.name.clone());
        assert_eq!(name("/section0/").as_deref(), Some("s0"));
        assert_eq!(name("/section997/42/").as_deref(), Some("s997"));
        assert_eq!(name("/section997/x/"), None);
        assert_eq!(name("/anything/page998/").as_deref(), Some("s998"));
        assert_eq!(name("/docs999/a/b.txt").as_deref(), Some("s999"));
        assert_eq!(name("/nowhere/"), None);
    }

    #[test]
    fn views_are_named_with_their_methods_and_exemption() {
        async fn save() -> &'static str {
            "saved"
        }
        let r = UrlConf::new()
            .path("show/", get(view).post(save), "show")
            .path(
                "hook/",
                crate::middleware::csrf::csrf_exempt(post(save)),
                "hook",
            )
            .resolver()
            .unwrap();
        let show = &r.routes()[0];
        assert_eq!(
            show.view,
            "nuages::urls::tests::view [GET], \
             nuages::urls::tests::views_are_named_with_their_methods_and_exemption::save [POST]"
        );
        assert!(!show.is_csrf_exempt());
        let hook = &r.routes()[1];
        assert!(hook.view.ends_with("save [POST]"), "{}", hook.view);
        assert!(hook.is_csrf_exempt());
    }

    #[test]
    fn routes_display_like_django() {
        let r = resolver();
        assert_eq!(
            r.routes()[5].to_string(),
            "polls/<int:question_id>/ [name='polls:detail']"
        );
        assert!(
            r.routes()[0].view.ends_with("::view"),
            "{}",
            r.routes()[0].view
        );
    }
}
