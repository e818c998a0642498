//! The response-headers layer: the headers of `security`
//! ([`SecurityHeaders`]) and of `xframe` ([`XFrameConfig`]) on every
//! response, when those middleware are in the `middleware` setting.
//!
//! Django's `SecurityMiddleware` and `XFrameOptionsMiddleware` see every
//! response, those its exception handling makes included. Here the
//! framework makes some responses before or around the settings' middleware
//! (a refused host, 413, a panic's 500, error pages), so the headers are set
//! by this one layer, outermost in the request path, computed once from the
//! settings. Only the headers: the https redirect stays at the place of
//! `security` in the stack.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

use super::RequestHead;
use super::security::{SecurityHeaders, is_secure};
use super::xframe::XFrameConfig;
use crate::conf::Settings;
use crate::error::Result;
use crate::state::AppState;

/// What the layer sets, checked once.
#[derive(Debug)]
pub(crate) struct ResponseHeaders {
    app: Arc<AppState>,
    security: Option<SecurityHeaders>,
    xframe: Option<XFrameConfig>,
}

impl ResponseHeaders {
    /// The headers of the middleware `app`'s settings list; `None` when
    /// they list neither `security` nor `xframe`. An invalid value is an
    /// error naming its setting.
    pub(crate) fn new(app: &Arc<AppState>) -> Result<Option<ResponseHeaders>> {
        let (security, xframe) = listed(&app.settings)?;
        if security.is_none() && xframe.is_none() {
            return Ok(None);
        }
        Ok(Some(ResponseHeaders {
            app: app.clone(),
            security,
            xframe,
        }))
    }
}

/// The headers of `security` and of `xframe`, each when `settings` list it;
/// an invalid value is an error naming its setting.
fn listed(settings: &Settings) -> Result<(Option<SecurityHeaders>, Option<XFrameConfig>)> {
    let listed = |name: &str| settings.middleware.iter().any(|m| m == name);
    let security = match listed("security") {
        true => Some(SecurityHeaders::new(settings)?),
        false => None,
    };
    let xframe = match listed("xframe") {
        true => Some(XFrameConfig::new(settings)?),
        false => None,
    };
    Ok((security, xframe))
}

/// Set `security`'s and `xframe`'s headers on `response` (of a request
/// that was `secure`).
fn set(
    security: Option<&SecurityHeaders>,
    xframe: Option<&XFrameConfig>,
    response: &mut Response,
    secure: bool,
) {
    if let Some(security) = security {
        security.add_to(response.headers_mut(), secure);
    }
    if let Some(xframe) = xframe {
        xframe.add_to(response);
    }
}

/// The headers of the `security` and `xframe` middleware that `settings`
/// list, on a response to `request` made outside the request path: the
/// development reloader's error page while no server is up. Settings with
/// an invalid header value add none (that error is what the page shows).
pub(crate) fn add_listed(settings: &Settings, request: &impl RequestHead, response: &mut Response) {
    if let Ok((security, xframe)) = listed(settings) {
        let secure = security.is_some() && is_secure(request, settings);
        set(security.as_ref(), xframe.as_ref(), response, secure);
    }
}

impl ResponseHeaders {
    /// Whether the request is secure, as the headers need to know.
    pub(crate) fn is_secure(&self, request: &Request) -> bool {
        self.security.is_some() && is_secure(request, &self.app.settings)
    }

    /// Set the headers on `response` (of a request that was `secure`).
    pub(crate) fn add_to(&self, response: &mut Response, secure: bool) {
        set(
            self.security.as_ref(),
            self.xframe.as_ref(),
            response,
            secure,
        );
    }
}
