//! Serving static files from the application, under `static_url`, and in
//! development the uploaded files of `media_root` under `media_url` (with
//! `Content-Security-Policy: default-src 'none'; sandbox`).
//!
//! In development (`debug = true`, or `runserver --insecure`) files come
//! straight from the source folders through the [`Finder`], so no
//! `collectstatic` is needed. A production server may opt in to serving the
//! collected `static_root` instead ([`StaticServing::Collected`]); the
//! hashed names of its manifest then get `Cache-Control: public,
//! max-age=31536000, immutable`.
//!
//! Either way the handler sits inside the application's request path (after
//! the host check and the request log, inside the middleware), answers `GET`
//! and `HEAD` (any other method on a file gets 405 with `Allow: GET, HEAD`) with the right `Content-Type`, `ETag` and `Last-Modified` (and
//! `304` for `If-None-Match` / `If-Modified-Since`), ranges (`206`, `416`),
//! and the `.br` / `.gz` sibling when the client accepts it (with
//! `Content-Encoding` and `Vary: Accept-Encoding`), through tower-http's
//! `ServeFile`. Nothing outside the source folders (or `static_root`) is
//! ever served: `..`, `%2e%2e`, encoded slashes or backslashes, NUL,
//! absolute paths and symbolic links that lead out all get 404, and so do
//! ignored names (`.*`, `*~`, `CVS`). The one link out of `static_root`
//! that is followed is the one `collectstatic --link` makes: to the very
//! file the sources have under that name. A `.br` or `.gz` sibling is sent only
//! when it passes the same rule as the file, in the same
//! folder; otherwise the file itself is sent.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_ENCODING, VARY};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use mime_guess::mime::Mime;
use tower_http::services::ServeFile;

use super::compress::Encoding;
use super::finders::{Finder, IgnorePatterns, Located};
use super::manifest::Manifest;
use crate::conf::{Settings, StaticfilesStorage};
use crate::error::{Error, ErrorReport};
use crate::project::App;

/// `Cache-Control` of files that may change (revalidate with the `ETag`).
pub(crate) const NO_CACHE: &str = "no-cache";
/// `Cache-Control` of content-hashed names: cache for a year.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Content-Security-Policy` of uploaded files: an uploaded HTML or SVG
/// file runs no script and loads nothing (the nginx config sends the same).
pub(crate) const MEDIA_CSP: &str = "default-src 'none'; sandbox";

/// Whether and from where the application serves `static_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaticServing {
    /// Not at all (production behind a web server, `runserver --nostatic`).
    #[default]
    Off,
    /// From the source folders (development: `debug`, `runserver --insecure`).
    Sources,
    /// From the collected `static_root` (a production server that opts in).
    Collected,
}

impl StaticServing {
    /// The default of an application: from the sources when `debug` is on.
    pub fn default_for(settings: &Settings) -> StaticServing {
        if settings.debug {
            StaticServing::Sources
        } else {
            StaticServing::Off
        }
    }
}

/// Whether `static_url` is a path of this site (`/static/`), which the
/// application can serve, rather than a URL on another host
/// (`https://cdn.example.com/static/`, `//cdn.example.com/static/`).
pub(crate) fn is_a_path_of_this_site(static_url: &str) -> bool {
    static_url.starts_with('/') && !static_url.starts_with("//")
}

/// The refusal of `flag` (`serve --static`, `runserver --insecure`), which
/// asks the application to serve `static_url`, when `static_url` is on
/// another host: the application would say it serves the files and answer
/// 404 for every one, since no request for them reaches it.
pub(crate) fn refuse_static_url_of_another_host(
    settings: &Settings,
    flag: &str,
) -> Result<(), crate::error::Problem> {
    if is_a_path_of_this_site(&settings.static_url) {
        return Ok(());
    }
    Err(crate::error::Problem::new(format!(
        "{flag} serves static_url as a path of this site, and static_url \"{}\" is on another host",
        settings.static_url
    ))
    .with_hint(format!(
        "with static_url on another host the static files are served there: drop {flag}; or, to \
         serve them from this site, set static_url = \"/static/\""
    )))
}

#[derive(Debug)]
enum Files {
    Sources(Finder),
    Collected {
        root: PathBuf,
        ignore: IgnorePatterns,
        /// The sources, for the links `collectstatic --link` made.
        sources: Finder,
        /// The hashed names of the manifest (manifest storage), cached for
        /// a year: a name that only looks hashed may change.
        hashed: HashSet<String>,
    },
    /// Uploaded files in `media_root` (development only).
    Media {
        root: PathBuf,
        ignore: IgnorePatterns,
    },
}

/// Answers the requests under `static_url`.
#[derive(Debug)]
pub(crate) struct StaticHandler {
    prefix: String,
    files: Files,
}

impl StaticHandler {
    /// The handler for `mode`, or `None` when nothing is served (`Off`,
    /// a `static_url` on another host, no `static_root` to serve).
    pub fn new(mode: StaticServing, settings: &Settings, apps: &[App]) -> Option<StaticHandler> {
        let prefix = settings.static_url.clone();
        if !is_a_path_of_this_site(&prefix) || !prefix.ends_with('/') {
            return None;
        }
        let files = match mode {
            StaticServing::Off => return None,
            StaticServing::Sources => Files::Sources(Finder::from_settings(
                settings,
                apps,
                IgnorePatterns::default(),
            )),
            StaticServing::Collected => {
                let root = settings.static_root.clone()?;
                // Read at start, as the templates' `static()` reads it: a
                // name a later collectstatic makes is sent as any file.
                let hashed = match settings.staticfiles_storage {
                    StaticfilesStorage::Manifest => Manifest::load(&root)
                        .map(|manifest| manifest.paths.into_values().collect())
                        .unwrap_or_default(),
                    StaticfilesStorage::Plain => HashSet::new(),
                };
                Files::Collected {
                    root,
                    ignore: IgnorePatterns::default(),
                    sources: Finder::from_settings(settings, apps, IgnorePatterns::default()),
                    hashed,
                }
            }
        };
        Some(StaticHandler { prefix, files })
    }

    /// The handler of `media_url`, serving the uploads in `media_root`
    /// (where the forms save them) by the same rules as static files: for
    /// development, when static files come from the sources. `None` when
    /// `media_root` is unset or `media_url` is not a path of this site.
    pub fn media(mode: StaticServing, settings: &Settings) -> Option<StaticHandler> {
        let prefix = settings.media_url.clone();
        if mode != StaticServing::Sources
            || !prefix.starts_with('/')
            || !prefix.ends_with('/')
            || prefix == "/"
        {
            return None;
        }
        Some(StaticHandler {
            prefix,
            files: Files::Media {
                root: settings.media_root.clone()?,
                // Dot names: the `.incoming` folder of uploads not saved yet.
                ignore: IgnorePatterns::default(),
            },
        })
    }

    /// The part of `path` under the prefix, if this handler's prefix is
    /// the start of it.
    fn name_in<'p>(&self, path: &'p str) -> Option<&'p str> {
        path.strip_prefix(self.prefix.as_str())
    }

    /// Whether `raw` (a request path under the prefix, still encoded) names
    /// a file this handler would send.
    fn serves(&self, raw: &str) -> bool {
        decode_path(raw).is_some_and(|name| self.locate(&name).is_some())
    }

    /// The file for a name under the prefix, by the one rule of
    /// [`Located::new`].
    fn locate(&self, name: &str) -> Option<Located<'_>> {
        match &self.files {
            Files::Sources(finder) => finder.locate(name),
            Files::Collected {
                root,
                ignore,
                sources,
                ..
            } => Located::new(root, name, ignore)
                .or_else(|| Located::linked(root, name, ignore, sources)),
            Files::Media { root, ignore } => Located::new(root, name, ignore),
        }
    }

    /// What to send for `name`: the file, or the sibling of the encoding the
    /// client prefers, if that sibling passes the same rule as the file.
    fn variant(&self, name: &str, headers: &HeaderMap) -> Option<(PathBuf, Option<Encoding>)> {
        let file = self.locate(name)?;
        let sibling = Encoding::accepted(headers)
            .into_iter()
            .find_map(|encoding| {
                file.sibling(encoding.suffix())
                    .map(|sibling| (sibling.path, Some(encoding)))
            });
        Some(sibling.unwrap_or((file.path, None)))
    }

    /// Answer a `GET` or `HEAD` under the prefix.
    pub async fn respond(&self, mut request: Request) -> Response {
        if !request
            .headers()
            .get(http::header::RANGE)
            .is_none_or(is_single_byte_range)
        {
            // Another unit (which RFC 9110 says to ignore), several ranges or
            // a malformed one: the whole file, as WhiteNoise answers.
            request.headers_mut().remove(http::header::RANGE);
        }
        let raw = request.uri().path()[self.prefix.len()..].to_string();
        let found = decode_path(&raw)
            .and_then(|name| Some((self.variant(&name, request.headers())?, name)));
        let Some(((path, encoding), name)) = found else {
            return Error::NotFound(format!("static file '{raw}' could not be found"))
                .into_response();
        };
        if let Some(range) = request.headers().get(http::header::RANGE)
            && let Ok(meta) = tokio::fs::metadata(&path).await
        {
            let len = meta.len();
            if len == 0 {
                // An empty file has no byte to send a range of: the file
                // server would answer 206 with `Content-Range: bytes 0-0/0`,
                // which names a byte that is not there (invalid, RFC 9110
                // 14.4). A server may ignore Range: the whole, empty, file
                // is the valid answer.
                request.headers_mut().remove(http::header::RANGE);
            } else if let Some(suffix) = suffix_length(range)
                && suffix > len
            {
                // The last N bytes of a shorter file are all of it (RFC 9110
                // 14.1.2), where the file server answered 416.
                let whole = HeaderValue::from_str(&format!("bytes=-{len}"))
                    .expect("digits are a header value");
                request.headers_mut().insert(http::header::RANGE, whole);
            }
        }
        // `If-Range` (RFC 9110 13.1.5), which the file server ignores: a
        // range is sent only of the version the client names; otherwise
        // the whole file, so a resumed download never mixes two versions.
        let if_range = request.headers().get(http::header::IF_RANGE).cloned();
        let whole = (if_range.is_some() && request.headers().contains_key(http::header::RANGE))
            .then(|| {
                let mut whole = Request::new(Body::empty());
                *whole.method_mut() = request.method().clone();
                *whole.uri_mut() = request.uri().clone();
                *whole.headers_mut() = request.headers().clone();
                whole.headers_mut().remove(http::header::RANGE);
                whole
            });
        let mut serve = ServeFile::new_with_mime(&path, &content_type(&name));
        let mut served = serve.clone().try_call(request).await;
        let stale = match (&served, &if_range) {
            (Ok(response), Some(if_range)) => {
                matches!(
                    response.status(),
                    StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE
                ) && !if_range_matches(if_range, response.headers())
            }
            _ => false,
        };
        if let Some(whole) = whole.filter(|_| stale) {
            served = serve.try_call(whole).await;
        }
        let mut response = match served {
            Ok(response) => response.map(Body::new),
            Err(error) => return Error::Io(error).into_response(),
        };
        let status = response.status();
        let headers = response.headers_mut();
        // The answer depends on Accept-Encoding whenever a sibling may exist.
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(encoding) = encoding
            && status.is_success()
        {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
        }
        if matches!(self.files, Files::Media { .. }) {
            // An upload is the visitor's content: never run it as a page of this site.
            headers.insert(
                http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(MEDIA_CSP),
            );
            headers.insert(
                http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
        }
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            let immutable = matches!(&self.files, Files::Collected { hashed, .. } if hashed.contains(name.as_str()));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static(if immutable { IMMUTABLE } else { NO_CACHE }),
            );
        }
        response
    }
}

/// Whether a `Range` header asks for one range of bytes, by the grammar
/// of the file server's own parser (`bytes=0-99`, `bytes=100-`,
/// `bytes=-100`): what it answers with 206, or 416 beyond the file.
fn is_single_byte_range(value: &HeaderValue) -> bool {
    value.to_str().ok().is_some_and(|text| {
        // Any file size: only the range's own form is judged here.
        http_range_header::parse_range_header(text)
            .is_ok_and(|parsed| parsed.ranges.len() == 1 && parsed.validate(u64::MAX).is_ok())
    })
}

/// The N of a suffix range, `bytes=-N`: the last N bytes.
fn suffix_length(range: &HeaderValue) -> Option<u64> {
    let text = range.to_str().ok()?.trim();
    let digits = text.strip_prefix("bytes=")?.trim().strip_prefix('-')?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())?
}

/// Whether an `If-Range` value names the version in `headers`: the same
/// strong `ETag`, or exactly the `Last-Modified` date (a weak tag never
/// matches, RFC 9110 13.1.5).
fn if_range_matches(if_range: &HeaderValue, headers: &HeaderMap) -> bool {
    let validator = if if_range.as_bytes().starts_with(b"\"") {
        http::header::ETAG
    } else {
        http::header::LAST_MODIFIED
    };
    headers.get(validator).is_some_and(|current| {
        current.as_bytes() == if_range.as_bytes() && !current.as_bytes().starts_with(b"W/")
    })
}

/// Middleware: answer `GET`/`HEAD` under `static_url`, and any other
/// method on a file that is there with 405 (as WhiteNoise does); pass the
/// rest on (a name that is no file may be a view's).
pub(crate) async fn middleware(
    State(handler): State<Arc<StaticHandler>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method();
    if let Some(raw) = handler.name_in(request.uri().path()) {
        if method == Method::GET || method == Method::HEAD {
            return handler.respond(request).await;
        }
        if handler.serves(raw) {
            return not_allowed(method, raw);
        }
    }
    next.run(request).await
}

/// 405 with `Allow: GET, HEAD`, for a method a static file does not take;
/// the error page layer gives it the site's page (the detail in debug).
fn not_allowed(method: &Method, raw: &str) -> Response {
    let mut response = ErrorReport::response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorReport {
            chain: vec![format!(
                "static file '{raw}' takes GET and HEAD only, not {method}"
            )],
            hint: None,
        },
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// Percent-decode a request path under the prefix, segment by segment;
/// `None` for anything that could step out of a folder: an empty, `.` or
/// `..` segment (so also a leading `/`), or a segment that decodes to
/// something holding `/`, `\` or NUL, or to invalid UTF-8.
pub(crate) fn decode_path(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for segment in raw.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .ok()?;
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\\', '\0'])
        {
            return None;
        }
        parts.push(decoded.into_owned());
    }
    Some(parts.join("/"))
}

/// The `Content-Type` of a static file: by extension, UTF-8 for text.
pub(crate) fn content_type(name: &str) -> Mime {
    let guess = mime_guess::from_path(name).first_or_octet_stream();
    let textual = guess.type_() == mime_guess::mime::TEXT
        || matches!(
            guess.essence_str(),
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    if textual
        && guess.get_param("charset").is_none()
        && let Ok(with_charset) = format!("{}; charset=utf-8", guess.essence_str()).parse()
    {
        return with_charset;
    }
    guess
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_the_extension() {
        let css = content_type("css/site.css");
        assert_eq!(css.to_string(), "text/css; charset=utf-8");
        assert_eq!(content_type("a.png").to_string(), "image/png");
    }

    #[test]
    fn decoded_paths_never_leave_the_static_folder() {
        assert_eq!(
            decode_path("css/my%20site.css").as_deref(),
            Some("css/my site.css")
        );
        for bad in [
            "../x",
            "%2e%2e/x",
            "a%2f..%2fx",
            "a%5cb",
            "a%00b",
            "/etc/passwd",
            "a//b",
            "",
            "%ff",
        ] {
            assert_eq!(decode_path(bad), None, "{bad}");
        }
    }
}
