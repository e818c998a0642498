//! [`FormData`]: what a browser submitted, as an extractor.

use std::borrow::Cow;

use axum::extract::{FromRequest, Request};
use http::Method;
use http::header::CONTENT_TYPE;

use super::upload::{Media, UploadedFile};
use crate::error::{Error, Result};
use crate::middleware::limits::is_over_limit;
use crate::state::AppState;

/// The fields a form submitted: the query string of a `GET`, or the body of
/// a `POST` (`application/x-www-form-urlencoded`, or `multipart/form-data`
/// with files). Bind it to a form with [`Form::binder`](super::Form::binder).
///
/// The body counts against `data_upload_max_memory_size` as a whole (files
/// included): a larger one is answered 413. Files stream to a temporary
/// file under `media_root`, never into memory; a file arriving while
/// `media_root` is unset is read and dropped (a warning in the log names
/// the setting), and a form with a file field refuses to bind.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    values: Vec<(String, String)>,
    files: Vec<(String, UploadedFile)>,
    media: Option<Media>,
}

impl FormData {
    /// Form data of these pairs (a test, a form built by hand).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> FormData {
        FormData {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..FormData::default()
        }
    }

    /// The value sent under `name`: the last one when it was sent more
    /// than once (`?page=1&page=2` is `2`), as Django's `QueryDict`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rfind(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The file sent under `name` (the last one, as [`FormData::get`]).
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().rfind(|(k, _)| k == name).map(|(_, f)| f)
    }

    /// Whether uploads can be received (`media_root` is set).
    pub(crate) fn accepts_files(&self) -> bool {
        self.media.is_some()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Error;

    async fn from_request(request: Request, _: &S) -> Result<Self> {
        let (parts, body) = request.into_parts();
        let state = AppState::from_parts(&parts)?;
        let limit = state.settings.data_upload_max_memory_size;
        let counts = Counts::from_settings(&state.settings);
        let media = Media::from_settings(&state.settings);
        if parts.method == Method::GET || parts.method == Method::HEAD {
            let query = parts.uri.query().unwrap_or("");
            return Ok(FormData {
                media,
                values: counts.fields(form_urlencoded::parse(query.as_bytes()))?,
                ..FormData::default()
            });
        }
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            // A POST without a body (nor its type) submitted nothing.
            "" if parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .is_none_or(|length| length == "0") =>
            {
                Ok(FormData {
                    media,
                    ..FormData::default()
                })
            }
            "application/x-www-form-urlencoded" => {
                let bytes =
                    axum::body::to_bytes(body, limit).await.map_err(
                        |error| match is_over_limit(&error) {
                            true => too_large(limit),
                            false => {
                                Error::BadRequest(format!("the form could not be read: {error}"))
                            }
                        },
                    )?;
                Ok(FormData {
                    media,
                    values: counts.fields(urlencoded_pairs(&bytes, content_type))?,
                    ..FormData::default()
                })
            }
            "multipart/form-data" => {
                let boundary = multipart_boundary(content_type)?;
                let constraints = multer::Constraints::new()
                    .size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
                let multipart = multer::Multipart::with_constraints(
                    body.into_data_stream(),
                    boundary,
                    constraints,
                );
                read_multipart(multipart, media, counts).await
            }
            other => Err(Error::BadRequest(format!(
                "a form is sent as application/x-www-form-urlencoded or multipart/form-data, not {other:?}"
            ))),
        }
    }
}

async fn read_multipart(
    mut multipart: multer::Multipart<'_>,
    media: Option<Media>,
    counts: Counts,
) -> Result<FormData> {
    let mut data = FormData {
        media,
        ..FormData::default()
    };
    // Every part counts against the limits, kept or not: a file dropped
    // for want of `media_root`, or an empty file input, costs reading too.
    let (mut fields_sent, mut files_sent) = (0, 0);
    let mut dropped = DroppedFiles::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = part_file_name(&field)?;
        match file_name.as_deref() {
            Some(file_name) if !file_name.is_empty() => {
                files_sent += 1;
                counts.check_files(files_sent)?;
            }
            _ => {
                fields_sent += 1;
                counts.check_fields(fields_sent)?;
            }
        }
        match file_name {
            // A file input left empty: browsers send an empty part without a name.
            Some(file_name) if file_name.is_empty() => {
                field.bytes().await.map_err(multipart_error)?;
            }
            Some(file_name) => match &data.media {
                Some(media) => {
                    let file = UploadedFile::receive(field, file_name, media).await?;
                    data.files.push((name, file));
                }
                // Nowhere to keep it: read and dropped, as a field the
                // form does not have (a form with a file field refuses to
                // bind without `media_root`, naming it).
                None => {
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                    dropped.add(name);
                }
            },
            None => {
                let text = field.text().await.map_err(multipart_error)?;
                data.values.push((name, text));
            }
        }
    }
    dropped.log();
    Ok(data)
}

/// The name the client gave a part's file, or none for a text field. multer
/// reads `filename="…"` but stops at a `filename*` before it, and never reads
/// RFC 5987's `filename*=charset'lang'percent-encoded` alone, which Django
/// reads: such a part was taken as a text field. So the header is read
/// here when multer finds no name: its `filename` wherever it is, else
/// its `filename*`, decoded. The name is only ever shown, never part of a
/// path. A NUL, CR or LF decoded from it is refused (400), as the raw ones
/// are in a header.
pub(crate) fn part_file_name(field: &multer::Field<'_>) -> Result<Option<String>> {
    if let Some(name) = field.file_name() {
        return Ok(Some(name.to_string()));
    }
    let Some(header) = field.headers().get(http::header::CONTENT_DISPOSITION) else {
        return Ok(None);
    };
    let parameters = disposition_parameters(&String::from_utf8_lossy(header.as_bytes()));
    let find = |wanted: &str| {
        parameters
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value)
    };
    let name = match (find("filename"), find("filename*")) {
        (Some(plain), _) => plain.clone(),
        (None, Some(extended)) => match extended.splitn(3, '\'').collect::<Vec<_>>()[..] {
            [charset, _language, encoded] => {
                let bytes = percent_encoding::percent_decode_str(encoded);
                if is_latin1(charset) {
                    bytes.map(char::from).collect()
                } else {
                    bytes.decode_utf8_lossy().into_owned()
                }
            }
            // No charset: taken as it is, as Django does.
            _ => extended.clone(),
        },
        (None, None) => return Ok(None),
    };
    if name.contains(['\0', '\r', '\n']) {
        return Err(Error::BadRequest(
            "the multipart form cannot be read: a file name holds a NUL, CR or LF character".into(),
        ));
    }
    Ok(Some(name))
}

/// The `name=value` parameters of a Content-Disposition header after its
/// type, a quoted value unquoted (a `;` inside it is part of it).
fn disposition_parameters(header: &str) -> Vec<(String, String)> {
    let mut parameters = Vec::new();
    let mut rest = header.split_once(';').map_or("", |(_, rest)| rest);
    while !rest.is_empty() {
        let end = rest.find([';', '=']).unwrap_or(rest.len());
        let name = rest[..end].trim().to_string();
        if !rest[end..].starts_with('=') {
            rest = rest.get(end + 1..).unwrap_or("");
            continue;
        }
        let after = rest[end + 1..].trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut close = quoted.len();
                while let Some((at, c)) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        '"' => {
                            close = at + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                let tail = &quoted[close..];
                (value, tail.find(';').map_or("", |at| &tail[at + 1..]))
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (
                    after[..end].trim().to_string(),
                    after.get(end + 1..).unwrap_or(""),
                )
            }
        };
        parameters.push((name, value));
        rest = next;
    }
    parameters
}

/// The files of one request dropped for want of `media_root`: one warning
/// for them all, so that a form of many files writes one line to the log.
#[derive(Default)]
struct DroppedFiles {
    first: Option<String>,
    count: usize,
}

/// The most characters of a client's field name the log shows: the name
/// may be as long as the body, and one request must not write megabytes.
const LOGGED_NAME: usize = 64;

impl DroppedFiles {
    fn add(&mut self, name: String) {
        self.first
            .get_or_insert_with(|| match name.char_indices().nth(LOGGED_NAME) {
                Some((cut, _)) => format!("{}…", &name[..cut]),
                None => name,
            });
        self.count += 1;
    }

    fn log(self) {
        // The name is the client's: quoted and escaped.
        match (self.first, self.count) {
            (Some(name), 1) => tracing::warn!(
                target: "nuages::forms",
                "a file sent as {name:?} was dropped: media_root is not set"
            ),
            (Some(name), count) => tracing::warn!(
                target: "nuages::forms",
                "{count} files sent (the first as {name:?}) were dropped: media_root is not set"
            ),
            (None, _) => {}
        }
    }
}

/// Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS` and `…_FILES`: a form of more
/// fields or files than anyone fills in is refused (400) before it costs
/// more to read. 0: no limit.
#[derive(Debug, Clone, Copy)]
struct Counts {
    fields: usize,
    files: usize,
}

impl Counts {
    fn from_settings(settings: &crate::conf::Settings) -> Counts {
        Counts {
            fields: settings.data_upload_max_number_fields,
            files: settings.data_upload_max_number_files,
        }
    }

    /// The pairs of a query string or urlencoded body, if not too many.
    fn fields<'a>(
        self,
        pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    ) -> Result<Vec<(String, String)>> {
        let mut values = Vec::new();
        for (name, value) in pairs {
            self.check_fields(values.len() + 1)?;
            values.push((name.into_owned(), value.into_owned()));
        }
        Ok(values)
    }

    fn check_fields(self, count: usize) -> Result<()> {
        match self.fields != 0 && count > self.fields {
            true => Err(Error::BadRequest(format!(
                "the form sent more than {} fields (data_upload_max_number_fields)",
                self.fields
            ))),
            false => Ok(()),
        }
    }

    fn check_files(self, count: usize) -> Result<()> {
        match self.files != 0 && count > self.files {
            true => Err(Error::BadRequest(format!(
                "the form sent more than {} files (data_upload_max_number_files)",
                self.files
            ))),
            false => Ok(()),
        }
    }
}

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!(
        "the request body is over data_upload_max_memory_size ({limit} bytes)"
    ))
}

/// The boundary a `multipart/form-data` body's `Content-Type` names; none
/// (or an empty one) is a bad request, as Django's `MultiPartParserError`
/// ("Invalid boundary in multipart"): the body cannot be split into fields.
pub(crate) fn multipart_boundary(content_type: &str) -> Result<String> {
    match multer::parse_boundary(content_type) {
        Ok(boundary) if !boundary.is_empty() => Ok(boundary),
        Ok(_) => Err(Error::BadRequest(
            "multipart form without a boundary: the boundary parameter is empty".into(),
        )),
        Err(e) => Err(Error::BadRequest(format!(
            "multipart form without a boundary: {e}"
        ))),
    }
}

/// A multipart body that cannot be read: 413 when over the limit, else 400.
pub(crate) fn multipart_error(error: multer::Error) -> Error {
    match error {
        multer::Error::StreamSizeExceeded { limit }
        | multer::Error::FieldSizeExceeded { limit, .. } => too_large(limit as usize),
        other => Error::BadRequest(format!("the multipart form cannot be read: {other}")),
    }
}

/// The pairs of an urlencoded body, decoded as its type's `charset` says:
/// ISO-8859-1 (`latin1`; each byte is the character of that number), or
/// UTF-8, the default, what browsers send, and what any other charset is
/// read as (invalid sequences replaced), as Django reads one it has no
/// codec for.
fn urlencoded_pairs<'a>(
    body: &'a [u8],
    content_type: &str,
) -> Box<dyn Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a> {
    let latin1 = content_type.split(';').skip(1).any(|parameter| {
        let Some((name, value)) = parameter.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("charset") && is_latin1(value.trim().trim_matches('"'))
    });
    if !latin1 {
        return Box::new(form_urlencoded::parse(body));
    }
    let decode = |text: &[u8]| -> Cow<'a, str> {
        let spaced: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .map(char::from)
            .collect::<String>()
            .into()
    };
    Box::new(
        body.split(|&byte| byte == b'&')
            .filter(|pair| !pair.is_empty())
            .map(move |pair| {
                let at = pair.iter().position(|&byte| byte == b'=');
                let (name, value) = match at {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &b""[..]),
                };
                (decode(name), decode(value))
            }),
    )
}

/// Whether `charset` names ISO-8859-1, where each byte is the character of
/// that number.
fn is_latin1(charset: &str) -> bool {
    matches!(
        charset.to_ascii_lowercase().as_str(),
        "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "latin-1" | "l1"
    )
}

#[cfg(test)]
mod charset_tests {
    use super::*;

    /// As Django honours the body's declared charset: `caf%E9` is `café`
    /// in ISO-8859-1, and UTF-8's `caf%C3%A9` stays `café` without one.
    #[test]
    fn an_urlencoded_body_is_decoded_with_its_charset() {
        let pairs = |body: &'static str, content_type: &str| -> Vec<(String, String)> {
            urlencoded_pairs(body.as_bytes(), content_type)
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect()
        };
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            pairs("q=caf%E9+au+lait&x", &format!("{form}; charset=ISO-8859-1")),
            [
                ("q".into(), "café au lait".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(
            pairs("q=caf%E9", &format!("{form}; charset=\"latin1\"")),
            [("q".to_string(), "café".to_string())]
        );
        assert_eq!(
            pairs("q=caf%C3%A9", form),
            [("q".to_string(), "café".to_string())]
        );
        assert_eq!(
            pairs("q=caf%E9", &format!("{form}; charset=utf-8")),
            [("q".to_string(), "caf\u{FFFD}".to_string())]
        );
    }
}

#[cfg(test)]
mod file_name_tests {
    use super::*;

    /// The file name [`part_file_name`] reads from a part with the
    /// Content-Disposition `disposition`.
    async fn file_name(disposition: &str) -> Result<Option<String>> {
        let body = format!("--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n--b--\r\n");
        let stream = axum::body::Body::from(body).into_data_stream();
        let mut multipart = multer::Multipart::new(stream, "b");
        let field = multipart.next_field().await.unwrap().unwrap();
        part_file_name(&field)
    }

    /// RFC 5987's `filename*`, which multer does not read, alone or before
    /// a plain `filename` (multer stopped at it), as Django reads both.
    #[tokio::test]
    async fn filename_star_is_decoded_and_a_plain_filename_anywhere_is_read() {
        for (disposition, expected) in [
            ("form-data; name=\"f\"; filename=\"a.txt\"", Some("a.txt")),
            ("form-data; name=\"f\"", None),
            (
                "form-data; name=\"f\"; filename*=UTF-8''caf%C3%A9%20%E2%82%AC.txt",
                Some("café €.txt"),
            ),
            (
                "form-data; name=\"f\"; filename*=UTF-8''c.txt; filename=\"a; \\\"b\\\".txt\"",
                Some("a; \"b\".txt"),
            ),
            (
                "form-data; name=\"f\"; FILENAME*=iso-8859-1'fr'caf%E9.txt",
                Some("café.txt"),
            ),
            ("form-data; name=\"f\"; filename*=c.txt", Some("c.txt")),
            ("form-data; name=\"f\"; filename*=UTF-8''", Some("")),
        ] {
            assert_eq!(
                file_name(disposition).await.unwrap().as_deref(),
                expected,
                "{disposition}"
            );
        }
    }

    /// A NUL, CR or LF cannot be in a header; decoded from `filename*`, it
    /// is refused as one there is.
    #[tokio::test]
    async fn a_control_character_decoded_from_filename_star_is_refused() {
        for encoded in ["x%00.txt", "x%0D.txt", "x%0A.txt"] {
            let disposition = format!("form-data; name=\"f\"; filename*=UTF-8''{encoded}");
            match file_name(&disposition).await {
                Err(Error::BadRequest(message)) => assert_eq!(
                    message,
                    "the multipart form cannot be read: a file name holds a NUL, CR or LF character"
                ),
                other => panic!("{encoded}: {other:?}"),
            }
        }
    }
}
