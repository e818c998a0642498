//! Refuse a request whose declared body is larger than
//! `data_upload_max_memory_size` before reading it (413). Bodies without a
//! length are cut at the same size when a view reads them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;

use crate::error::ErrorReport;
use crate::middleware::Next;
use crate::state::AppState;

pub(crate) async fn reject_oversized_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.settings.data_upload_max_memory_size;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => ErrorReport::response(
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
        _ => next.run(request).await,
    }
}
