//! [`FormData`]: what a browser submitted, as an extractor.

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

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The file sent under `name`.
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|(k, _)| k == name).map(|(_, f)| f)
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
        let media = Media::from_settings(&state.settings);
        if parts.method == Method::GET || parts.method == Method::HEAD {
            let query = parts.uri.query().unwrap_or("");
            return Ok(FormData {
                media,
                ..FormData::from_pairs(form_urlencoded::parse(query.as_bytes()))
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
                    ..FormData::from_pairs(form_urlencoded::parse(&bytes))
                })
            }
            "multipart/form-data" => {
                let boundary = multer::parse_boundary(content_type).map_err(|e| {
                    Error::BadRequest(format!("multipart form without a boundary: {e}"))
                })?;
                let constraints = multer::Constraints::new()
                    .size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
                let multipart = multer::Multipart::with_constraints(
                    body.into_data_stream(),
                    boundary,
                    constraints,
                );
                read_multipart(multipart, media).await
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
) -> Result<FormData> {
    let mut data = FormData {
        media,
        ..FormData::default()
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name() {
            // A file input left empty: browsers send an empty part without a name.
            Some("") => {
                field.bytes().await.map_err(multipart_error)?;
            }
            Some(_) => match &data.media {
                Some(media) => {
                    let file = UploadedFile::receive(field, media).await?;
                    data.files.push((name, file));
                }
                // Nowhere to keep it: read and dropped, as a field the
                // form does not have (a form with a file field refuses to
                // bind without `media_root`, naming it).
                None => {
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                    tracing::warn!(
                        target: "nuages::forms",
                        "a file sent as '{name}' was dropped: media_root is not set"
                    );
                }
            },
            None => {
                let text = field.text().await.map_err(multipart_error)?;
                data.values.push((name, text));
            }
        }
    }
    Ok(data)
}

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!(
        "the request body is over data_upload_max_memory_size ({limit} bytes)"
    ))
}

/// A multipart body that cannot be read: 413 when over the limit, else 400.
pub(crate) fn multipart_error(error: multer::Error) -> Error {
    match error {
        multer::Error::StreamSizeExceeded { limit }
        | multer::Error::FieldSizeExceeded { limit, .. } => too_large(limit as usize),
        other => Error::BadRequest(format!("the multipart form cannot be read: {other}")),
    }
}
