//! `xframe`: Django's `XFrameOptionsMiddleware`. Every response gets
//! `X-Frame-Options` from the `x_frame_options` setting (`DENY` by default,
//! or `SAMEORIGIN`) so other sites cannot frame the pages (clickjacking),
//! unless the view set the header itself or opted out with [`XFrameExempt`].
//! The header is set outermost, by the response-headers layer, so the
//! responses the framework makes itself (a refused host, 413, error pages,
//! redirects) carry it too.
//!
//! A view meant to be embedded elsewhere (a widget) opts out:
//!
//! ```
//! use axum::response::{Html, IntoResponse};
//! use nuages::middleware::xframe::XFrameExempt;
//!
//! async fn widget() -> impl IntoResponse {
//!     (XFrameExempt, Html("<p>embed me</p>"))
//! }
//! ```
//!
//! or, on a response already built, [`xframe_options_exempt`].

use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use http::HeaderValue;
use http::header::X_FRAME_OPTIONS;

use crate::conf::Settings;
use crate::error::{Error, Problem, Result};

/// Marks a response that may be framed by any site: the `xframe` middleware
/// leaves it without `X-Frame-Options`. Use it as a response part, as in
/// the [module example](self), or with [`xframe_options_exempt`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XFrameExempt;

impl IntoResponseParts for XFrameExempt {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(XFrameExempt);
        Ok(res)
    }
}

/// Exempt `response` from `X-Frame-Options`: Django's `@xframe_options_exempt`.
///
/// ```
/// use nuages::middleware::xframe::{XFrameExempt, xframe_options_exempt};
/// let response = xframe_options_exempt("embed me");
/// assert!(response.extensions().get::<XFrameExempt>().is_some());
/// ```
pub fn xframe_options_exempt(response: impl IntoResponse) -> Response {
    (XFrameExempt, response).into_response()
}

/// The `xframe` middleware's header value, checked once.
#[derive(Debug, Clone)]
pub(crate) struct XFrameConfig {
    value: HeaderValue,
}

impl XFrameConfig {
    /// `x_frame_options`, which must be `DENY` or `SAMEORIGIN` (any case):
    /// browsers ignore anything else, which would leave pages frameable.
    pub fn new(settings: &Settings) -> Result<XFrameConfig> {
        let value = settings.x_frame_options.trim().to_ascii_uppercase();
        match value.as_str() {
            "DENY" => Ok(XFrameConfig {
                value: HeaderValue::from_static("DENY"),
            }),
            "SAMEORIGIN" => Ok(XFrameConfig {
                value: HeaderValue::from_static("SAMEORIGIN"),
            }),
            _ => Err(Error::Config(Problem::new(format!(
                    "x_frame_options is '{}', which browsers do not understand",
                    settings.x_frame_options
                )).with_hint(format!(
                    "{}use \"DENY\" or \"SAMEORIGIN\"; exempt single views with nuages::middleware::xframe::XFrameExempt, or remove \"xframe\" from the middleware setting",
                    super::did_you_mean(&value, &["DENY", "SAMEORIGIN"])
                )))),
        }
    }

    /// Set the header on `response`, unless it has one or is exempt.
    pub fn add_to(&self, response: &mut Response) {
        if response.extensions().get::<XFrameExempt>().is_none() {
            response
                .headers_mut()
                .entry(X_FRAME_OPTIONS)
                .or_insert_with(|| self.value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deny_and_sameorigin_are_accepted() {
        let mut settings = Settings::default();
        assert_eq!(XFrameConfig::new(&settings).unwrap().value, "DENY");
        settings.x_frame_options = "sameorigin".into();
        assert_eq!(XFrameConfig::new(&settings).unwrap().value, "SAMEORIGIN");
        settings.x_frame_options = "ALLOW-FROM https://x".into();
        let error = XFrameConfig::new(&settings).unwrap_err();
        assert!(error.to_string().contains("ALLOW-FROM"));
        settings.x_frame_options = "SAMEORGIN".into();
        let hint = XFrameConfig::new(&settings).unwrap_err().hint().unwrap();
        assert!(
            hint.starts_with("did you mean \"SAMEORIGIN\"? use \"DENY\" or"),
            "{hint}"
        );
    }
}
