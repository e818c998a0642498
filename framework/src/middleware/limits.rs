//! Refuse a request whose declared body is larger than
//! `data_upload_max_memory_size` before reading it (413). Bodies without a
//! length are cut at the same size when a view reads them.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};

use crate::error::ErrorReport;

/// The 413 for a request whose declared body is over `limit`.
pub(crate) fn oversized(request: &Request, limit: usize) -> Option<Response> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Some(
            ErrorReport::response(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                ErrorReport {
                    chain: vec![format!(
                        "the request body is {length} bytes, over data_upload_max_memory_size ({limit})"
                    )],
                    hint: Some(
                        "raise data_upload_max_memory_size in the settings if such bodies are expected"
                            .into(),
                    ),
                },
            )
            .into_response(),
        ),
        _ => None,
    }
}

/// The 501 that refuses a body sent with a transfer coding other than
/// `chunked` (`gzip, chunked`): the server would take its bytes for the
/// body itself (RFC 9112, 6.1: "SHOULD respond with 501").
pub(crate) fn unknown_transfer_coding(request: &Request) -> Option<Response> {
    let codings = request.headers().get_all(TRANSFER_ENCODING);
    let mut chunked = 0;
    let unknown = codings
        .iter()
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty())
        // `chunked` twice: hyper takes one off, the view would get the other.
        .find(|coding| {
            !coding.eq_ignore_ascii_case(b"chunked") || {
                chunked += 1;
                chunked > 1
            }
        })?;
    Some(
        ErrorReport::response(
            http::StatusCode::NOT_IMPLEMENTED,
            ErrorReport {
                chain: vec![format!(
                    "the request body is sent with the transfer coding {:?}, which this server \
                     does not decode",
                    String::from_utf8_lossy(unknown)
                )],
                hint: Some("send the body as it is, or chunked".into()),
            },
        )
        .into_response(),
    )
}

/// Whether reading a body failed because it was over the limit, rather
/// than broken off (a client gone silent, a dropped connection).
pub(crate) fn is_over_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}
