//! A visitor of a real server on loopback that keeps its cookies between
//! requests, as a browser does, and submits forms with their CSRF token.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::{HttpResponse, http};

/// One visitor: its cookies, sent with every request to `addr`.
pub struct Browser {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The `Host` header sent.
    pub host: String,
    /// The cookies kept, by name.
    pub cookies: BTreeMap<String, String>,
    /// More headers sent with every request.
    pub headers: Vec<(String, String)>,
}

impl Browser {
    /// A visitor without cookies, sending `Host: localhost`.
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            host: "localhost".into(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> HttpResponse {
        self.request("GET", path, &[])
    }

    /// POST `fields` to `path` as a form, with the CSRF token of the form
    /// page at `path` (fetched first, as a visitor opens a form before
    /// sending it).
    pub fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let page = self.get(path);
        assert_eq!(page.status, 200, "the form at {path}: {page:?}");
        let token = csrf_field(&page.body)
            .unwrap_or_else(|| panic!("no CSRF field on {path}: {}", page.body));
        let mut all = vec![("csrfmiddlewaretoken", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all)
    }

    /// POST `fields` to `path` as a form, as they are.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        self.request("POST", path, fields)
    }

    fn request(&mut self, method: &str, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec![("Host", self.host.as_str())];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        for (name, value) in &self.headers {
            headers.push((name, value));
        }
        if method == "POST" {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let body = form_body(fields);
        let response = http(self.addr, method, path, &headers, &body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.keep_cookies(&response);
        response
    }

    /// Keep what `Set-Cookie` says; a cookie set with `Max-Age=0` (or
    /// negative) is forgotten.
    fn keep_cookies(&mut self, response: &HttpResponse) {
        for (_, line) in response.headers.iter().filter(|(k, _)| k == "set-cookie") {
            let mut parts = line.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|attribute| {
                attribute
                    .to_ascii_lowercase()
                    .strip_prefix("max-age=")
                    .is_some_and(|age| age.trim().starts_with('-') || age.trim() == "0")
            });
            if expired || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }
}

/// The value of the `csrfmiddlewaretoken` field of a page.
pub fn csrf_field(page: &str) -> Option<String> {
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let at = page.find(marker)? + marker.len();
    Some(page[at..].split('"').next()?.to_string())
}

/// `fields` as `application/x-www-form-urlencoded`.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
