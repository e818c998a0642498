//! Refuse a request whose declared body is larger than
//! `data_upload_max_memory_size` before reading it (413). Bodies without a
//! length are cut at the same size when a view reads them.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;

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
