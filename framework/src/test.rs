//! The test client: drives an [`Application`] in-process, with no socket.
//!
//! ```
//! # async fn demo(application: nuages::Application) {
//! use nuages::test::Client;
//! let client = Client::new(application);
//! let response = client.get("/polls/").await;
//! assert_eq!(response.status, 200);
//! // The GET gave the client its csrftoken cookie; `csrf()` sends it back
//! // in the X-CSRFToken header, as a page's JavaScript would.
//! let response = client
//!     .request(http::Method::POST, "/polls/1/vote/")
//!     .form(&[("choice", "2")])
//!     .csrf()
//!     .send()
//!     .await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use tower::ServiceExt;

use crate::handler::Application;

/// A browser-like client for tests: keeps cookies between requests and sends
/// `Host: localhost` unless told otherwise, from the address 127.0.0.1 (as
/// axum's `ConnectInfo`, which `serve` gives every request over TCP).
pub struct Client {
    application: Application,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Client {
    /// A client for `application`.
    pub fn new(application: Application) -> Self {
        Client {
            application,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// Start a request with any method.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            secure: false,
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path).send().await
    }

    /// POST `fields` as `application/x-www-form-urlencoded`.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        self.request(Method::POST, path).form(fields).send().await
    }

    /// POST `value` as JSON.
    pub async fn post_json(&self, path: &str, value: &impl serde::Serialize) -> TestResponse {
        self.request(Method::POST, path).json(value).send().await
    }

    /// The value of a cookie the client holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// The CSRF secret the client holds (its `csrftoken` cookie), which the
    /// `X-CSRFToken` header accepts as a token. A page that renders the
    /// token (or a CSRF refusal) sets it.
    pub fn csrf_token(&self) -> Option<String> {
        self.cookie(crate::middleware::csrf::COOKIE_NAME)
    }

    /// Set a cookie by hand (to tamper with one, for example).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
    }

    fn store_cookies(&self, headers: &HeaderMap) {
        let mut jar = self.cookies.lock().unwrap();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = cookie::Cookie::parse(text.to_string()) else {
                continue;
            };
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative());
            if expired {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_string(), cookie.value().to_string());
            }
        }
    }
}

/// A request being built; `send()` runs it.
pub struct RequestBuilder<'c> {
    client: &'c Client,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    secure: bool,
    peer: SocketAddr,
}

impl RequestBuilder<'_> {
    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(value).expect("a valid header value"),
        );
        self
    }

    /// Send the client's CSRF secret in the `X-CSRFToken` header (nothing if
    /// the client has no `csrftoken` cookie yet: fetch a page first).
    pub fn csrf(self) -> Self {
        match self.client.csrf_token() {
            Some(token) => self.header("x-csrftoken", &token),
            None => self,
        }
    }

    /// Mark the request as arriving over TLS, as a server terminating TLS
    /// does with [`ConnectionInfo`](crate::middleware::security::ConnectionInfo).
    pub fn secure(mut self) -> Self {
        self.secure = true;
        self
    }

    /// Come from `address` instead of 127.0.0.1 (the peer of the connection).
    pub fn remote_addr(mut self, address: IpAddr) -> Self {
        self.peer.set_ip(address);
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// A form body.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let encoded = serde_urlencoded_pairs(fields);
        self.header(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
            .body(encoded)
    }

    /// A JSON body.
    pub fn json(self, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("serializable JSON");
        self.header(CONTENT_TYPE.as_str(), "application/json")
            .body(body)
    }

    /// Run the request through the application.
    pub async fn send(self) -> TestResponse {
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .body(Body::from(self.body))
            .expect("a valid request");
        *request.headers_mut() = self.headers;
        request.extensions_mut().insert(ConnectInfo(self.peer));
        if self.secure {
            request
                .extensions_mut()
                .insert(crate::middleware::security::ConnectionInfo { secure: true });
        }
        if !request.headers().contains_key(HOST) {
            request
                .headers_mut()
                .insert(HOST, HeaderValue::from_static("localhost"));
        }
        let cookies: Vec<String> = self
            .client
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() && !request.headers().contains_key(COOKIE) {
            request.headers_mut().insert(
                COOKIE,
                HeaderValue::from_str(&cookies.join("; ")).expect("cookie header"),
            );
        }
        let response = self
            .client
            .application
            .clone()
            .oneshot(request)
            .await
            .expect("the application never fails");
        let (parts, body) = response.into_parts();
        self.client.store_cookies(&parts.headers);
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("a readable body");
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

fn serde_urlencoded_pairs(fields: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// What the application answered.
#[derive(Debug)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl TestResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
