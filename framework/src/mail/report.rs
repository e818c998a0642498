//! The mail the `admins` get when a request ends in a server error with
//! `debug` off, as Django's `AdminEmailHandler`: the request line, the user
//! agent and the error chain. Never a cookie, another header, a setting or
//! a secret: query values whose name looks secret are blanked, and any
//! secret of the settings that shows up in the error is masked.

use http::{Method, StatusCode, Uri};

use crate::checks::database::url_passwords;
use crate::conf::Settings;
use crate::conf::secrets::MASK;
use crate::error::ErrorReport;

/// Shorter values are not masked: they would blank ordinary words.
const SHORTEST_MASKED_SECRET: usize = 4;

/// The request, as much of it as the report tells.
#[derive(Debug, Clone)]
pub(crate) struct RequestSummary {
    method: Method,
    uri: Uri,
    user_agent: Option<String>,
}

impl RequestSummary {
    /// The summary of a request about to be handled.
    pub(crate) fn of(request: &http::Request<axum::body::Body>) -> Self {
        RequestSummary {
            method: request.method().clone(),
            uri: request.uri().clone(),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        }
    }

    /// The path and the query, values of secret-looking names blanked.
    fn target(&self) -> String {
        let path = self.uri.path();
        let Some(query) = self.uri.query() else {
            return path.to_string();
        };
        let blanked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if names_a_secret(&decoded(name)) => format!("{name}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        format!("{path}?{}", blanked.join("&"))
    }
}

/// A query name as the view reads it (`p%61ssword` is `password`, `+` a
/// space), so that an encoded name is judged by what it says.
fn decoded(name: &str) -> String {
    percent_encoding::percent_decode_str(&name.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Django's `SafeExceptionReporterFilter.hidden_settings`: `API`, `AUTH`,
/// `TOKEN`, `KEY`, `SECRET`, `PASS` or `SIGNATURE` in the name (any case).
pub(crate) fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["API", "AUTH", "TOKEN", "KEY", "SECRET", "PASS", "SIGNATURE"]
        .iter()
        .any(|word| name.contains(word))
}

/// The subject (before `email_subject_prefix`) and the body of the report.
pub(crate) fn error_mail(
    settings: &Settings,
    status: StatusCode,
    request: &RequestSummary,
    report: &ErrorReport,
) -> (String, String) {
    let reason = status.canonical_reason().unwrap_or("Server Error");
    let target = request.target();
    let subject = format!("ERROR: {reason}: {}", request.uri.path());
    let mut body = format!(
        "{reason} ({}): {} {target}\n\nError:\n",
        status.as_u16(),
        request.method
    );
    for (index, message) in report.chain.iter().enumerate() {
        let lead = if index == 0 { "  " } else { "  caused by: " };
        body.push_str(&format!("{lead}{message}\n"));
    }
    body.push_str(&format!(
        "\nRequest:\n  {} {target}\n  User-Agent: {}\n\n\
         Cookies, the other headers and the settings are left out of this report on purpose.\n",
        request.method,
        request.user_agent.as_deref().unwrap_or("(none)")
    ));
    let secrets = secrets_of(settings);
    // Masked before it is cut: a secret cut in two would no longer match.
    (
        subject_line(&mask(&subject, &secrets)),
        mask(&body, &secrets),
    )
}

/// The most characters of a report's subject, as Django's
/// `AdminEmailHandler.format_subject`: RFC 2822's 998 of a line, less
/// `Subject: `.
const LONGEST_SUBJECT: usize = 989;

/// `subject` as Django's `format_subject` makes it: each newline written
/// as `\n` (and `\r`), then cut at [`LONGEST_SUBJECT`] characters (never
/// inside one). The path of the request is in it, and a path of 60,000
/// characters made a 60 KB header.
fn subject_line(subject: &str) -> String {
    subject
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .chars()
        .take(LONGEST_SUBJECT)
        .collect()
}

/// The secrets the settings hold: the secret keys, the SMTP password, the
/// passwords in database and cache URLs, and the values of the project's
/// own settings whose name looks secret (`[payments] api_key`).
fn secrets_of(settings: &Settings) -> Vec<String> {
    let mut secrets: Vec<String> = settings.secret_key.iter().cloned().collect();
    secrets.extend(settings.secret_key_fallbacks.iter().cloned());
    secrets.push(settings.email_host_password.clone());
    secrets.extend(settings.sections.secret_values());
    let urls = settings
        .databases
        .values()
        .map(|db| &db.url)
        .chain(settings.caches.values().map(|cache| &cache.location));
    secrets.extend(urls.flat_map(|url| url_passwords(url)));
    secrets.retain(|secret| secret.len() >= SHORTEST_MASKED_SECRET);
    // The longest first, so that a secret holding another is masked whole.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets
}

fn mask(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |text, secret| text.replace(secret, MASK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::DatabaseSettings;

    /// Passwords in a URL's query, and either form of an encoded one, are
    /// masked as well.
    #[test]
    fn passwords_in_queries_and_encoded_ones_are_masked() {
        let mut settings = Settings::default();
        settings.databases.insert(
            "default".into(),
            DatabaseSettings {
                url: "postgres://app@db/site?sslmode=require&password=query-pass-1".into(),
                ..DatabaseSettings::default()
            },
        );
        settings.caches.insert(
            "default".into(),
            crate::conf::CacheSettings {
                location: "redis://:p%40ss-word-2@cache/0".into(),
                ..Default::default()
            },
        );
        let secrets = secrets_of(&settings);
        let text = "connect postgres://app@db/site?password=query-pass-1 \
                    then redis://:p%40ss-word-2@cache/0 (p@ss-word-2)";
        let masked = mask(text, &secrets);
        for secret in ["query-pass-1", "p%40ss-word-2", "p@ss-word-2"] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
    }

    /// Django's pattern (`API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE`) has
    /// `AUTH`: an `?auth=` or `?authorization=` value, and a project's
    /// `[sso] client_auth`, were mailed to the admins in clear.
    #[test]
    fn auth_in_a_name_hides_its_value_as_in_django() {
        let request =
            http::Request::get("/sso/?auth=opaque-value-1&Authorization=Bearer-xyz&next=/")
                .body(axum::body::Body::empty())
                .unwrap();
        let target = RequestSummary::of(&request).target();
        assert_eq!(
            target,
            format!("/sso/?auth={MASK}&Authorization={MASK}&next=/")
        );
        assert!(names_a_secret("sso.client_auth"));
        assert!(!names_a_secret("polls.page_size"));
    }

    #[derive(Default, serde::Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Payments {
        credentials: std::collections::BTreeMap<String, String>,
        api_keys: Vec<String>,
        accounts: Vec<std::collections::BTreeMap<String, String>>,
    }

    /// A project's section keeps a secret in a table (`[payments.credentials]
    /// password`), in a list under a secret name (`api_keys`), or in a
    /// table of a list: each is masked, as Django's `cleanse_setting`
    /// walks dicts and lists, where only a string right under a secret name
    /// was.
    #[test]
    fn secrets_inside_a_sections_tables_and_lists_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(
            &path,
            "[payments]\napi_keys = [\"list-key-111\"]\n\
             accounts = [{ name = \"shop\", token = \"list-token-222\" }]\n\
             [payments.credentials]\nuser = \"shop-user\"\npassword = \"nested-pass-333\"\n",
        )
        .unwrap();
        let settings = crate::conf::SettingsLoader::new(&path)
            .sections(vec![crate::conf::Section::new::<Payments>("payments")])
            .env(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        let text = "list-key-111 list-token-222 nested-pass-333 shop-user";
        let masked = mask(text, &secrets_of(&settings));
        assert_eq!(masked, format!("{MASK} {MASK} {MASK} shop-user"));
    }

    /// As Django's `format_subject`: a path of 60,000 characters made a
    /// subject (so a header) of 60 KB; it is cut at 989 characters, each
    /// counted whole, and a newline is written as `\n`.
    #[test]
    fn the_subject_is_one_line_of_at_most_989_characters() {
        let request = http::Request::get(format!("/{}", "a".repeat(60_000)))
            .body(axum::body::Body::empty())
            .unwrap();
        let report = ErrorReport {
            chain: vec!["boom".into()],
            hint: None,
        };
        let (subject, _) = error_mail(
            &Settings::default(),
            StatusCode::INTERNAL_SERVER_ERROR,
            &RequestSummary::of(&request),
            &report,
        );
        assert_eq!(subject.chars().count(), 989);
        assert!(
            subject.starts_with("ERROR: Internal Server Error: /aaa"),
            "{subject}"
        );
        // Multi-byte characters are kept whole.
        assert_eq!(subject_line(&"é".repeat(1000)), "é".repeat(989));
        assert_eq!(subject_line("a\nb\rc"), "a\\nb\\rc");
    }

    #[test]
    fn the_report_tells_the_request_and_the_error_and_hides_secrets() {
        let settings = crate::conf::secrets::settings_with_secrets();
        let request = http::Request::get("/polls/3/?page=2&api_token=tok-abc&q=x")
            .header("user-agent", "Mozilla/5.0 (Tester)")
            .header("cookie", "sessionid=cookie-value-xyz")
            .body(axum::body::Body::empty())
            .unwrap();
        let report = ErrorReport {
            chain: vec![
                "database error".into(),
                "password db-pass-789 refused, key the-secret-key-123".into(),
            ],
            hint: None,
        };
        let (subject, body) = error_mail(
            &settings,
            StatusCode::INTERNAL_SERVER_ERROR,
            &RequestSummary::of(&request),
            &report,
        );
        assert_eq!(subject, "ERROR: Internal Server Error: /polls/3/");
        assert!(
            body.contains("GET /polls/3/?page=2&api_token=********************&q=x"),
            "{body}"
        );
        assert!(body.contains("User-Agent: Mozilla/5.0 (Tester)"), "{body}");
        assert!(
            body.contains("  database error\n  caused by: password"),
            "{body}"
        );
        for secret in [
            "tok-abc",
            "cookie-value-xyz",
            "db-pass-789",
            "the-secret-key-123",
            "smtp-pass-456",
        ] {
            assert!(!body.contains(secret), "{secret} in {body}");
        }
    }
}
