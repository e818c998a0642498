//! Forms through a whole application: a contact form re-rendered with the
//! values typed (escaped) and its errors, with the CSRF input; file uploads
//! over a real socket (size limit, crafted names, serving under media_url in
//! debug, body limit), and the error that names `media_root` when it is unset.

use std::path::{Path, PathBuf};

use http::Method;
use nuages::forms::{Email, Form, FormData, UploadedFile, Url};
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

mod support;
use support::{Listening, RawResponse};

#[derive(Debug, Form)]
#[allow(dead_code)] // the view reads some fields
struct Contact {
    #[form(max_length = 20)]
    name: String,
    sender: Email,
    website: Option<Url>,
    #[form(min = 1, max = 5)]
    copies: i64,
}

async fn contact(method: Method, templates: Templates, data: FormData) -> Result<Response> {
    let form = if method == Method::POST {
        match Contact::binder().bind(&data).await? {
            Ok(contact) => {
                return Ok(
                    format!("thanks {} ({} copies)", contact.sender, contact.copies)
                        .into_response(),
                );
            }
            Err(form) => form,
        }
    } else {
        Contact::binder().initial("copies", "1").unbound().await?
    };
    Ok(templates
        .render("contact.html", context! { "form" => &form })?
        .into_response())
}

#[derive(Debug, Form)]
#[allow(dead_code)] // the view reads some fields
struct Upload {
    #[form(max_size = 1000)]
    picture: UploadedFile,
    title: Option<String>,
}

async fn upload(templates: Templates, data: FormData) -> Result<Response> {
    match Upload::binder().bind(&data).await? {
        Ok(upload) => Ok(upload.picture.save("avatars")?.url.into_response()),
        Err(form) => Ok(templates
            .render("upload.html", context! { "form" => &form })?
            .into_response()),
    }
}

fn urls() -> UrlConf {
    UrlConf::new()
        .path("contact/", contact, "contact")
        .path("upload/", upload, "upload")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project folder with its templates and settings (`extra` appended).
struct Site {
    _temp: tempfile::TempDir,
    dir: PathBuf,
}

impl Site {
    fn new(extra: &str) -> Site {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("site");
        write(
            &dir.join("templates/contact.html"),
            "<form method=\"post\">{{ render_form(form=form) }}<button>Send</button></form>",
        );
        write(
            &dir.join("templates/upload.html"),
            "<form method=\"post\" enctype=\"multipart/form-data\">{{ csrf_input() }}{{ form.as_p }}</form>",
        );
        write(
            &dir.join("settings.toml"),
            &format!("debug = true\nsecret_key = \"{}\"\n{extra}", "s".repeat(60)),
        );
        Site { _temp: temp, dir }
    }

    fn application(&self) -> Application {
        let settings = nuages::conf::Settings::load(self.dir.join("settings.toml")).unwrap();
        Application::new(Project::new("site", &self.dir).urls(urls), settings).unwrap()
    }

    fn media(&self) -> PathBuf {
        self.dir.join("media")
    }
}

#[tokio::test]
async fn a_form_comes_back_with_the_values_typed_escaped_and_its_errors() {
    let site = Site::new("");
    let client = Client::new(site.application());
    let page = client.get("/contact/").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.starts_with(
            "<form method=\"post\"><input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\""
        ),
        "render_form() starts with the CSRF input: {html}"
    );
    assert!(
        html.contains("<label for=\"id_name\">Name:</label>"),
        "{html}"
    );
    assert!(html.contains("value=\"1\""), "the initial value: {html}");

    let response = client
        .request(Method::POST, "/contact/")
        .form(&[
            ("name", "<script>alert('x')</script>"),
            ("sender", "\"><img src=x onerror=alert(1)>"),
            ("website", "javascript:alert(1)"),
            ("copies", "9"),
        ])
        .csrf()
        .send()
        .await;
    assert_eq!(response.status, 200);
    let html = response.text();
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("value=\"&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;\"")
            || html.contains("value=\"&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;\""),
        "{html}"
    );
    assert!(
        html.contains("value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\""),
        "{html}"
    );
    for message in [
        "Ensure this value has at most 20 characters (it has 27).",
        "Enter a valid email address.",
        "Enter a valid URL.",
        "Ensure this value is less than or equal to 5.",
    ] {
        assert!(
            html.contains(&format!("<li>{message}</li>")),
            "{message}: {html}"
        );
    }
    assert!(html.contains("name=\"csrfmiddlewaretoken\""), "{html}");

    let response = client
        .request(Method::POST, "/contact/")
        .form(&[
            ("name", "Ada"),
            ("sender", "ada@example.com"),
            ("copies", "2"),
        ])
        .csrf()
        .send()
        .await;
    assert_eq!(response.text(), "thanks ada@example.com (2 copies)");

    let empty = client
        .request(Method::POST, "/contact/")
        .csrf()
        .send()
        .await;
    assert_eq!(empty.status, 200, "a POST without a body submitted nothing");
    assert!(empty.text().contains("<li>This field is required.</li>"));
    let json = client
        .request(Method::POST, "/contact/")
        .json(&serde_json::json!({"name": "Ada"}))
        .csrf()
        .send()
        .await;
    assert_eq!(json.status, 400, "a form is not JSON");

    let refused = client
        .post_form(
            "/contact/",
            &[
                ("name", "Ada"),
                ("sender", "ada@example.com"),
                ("copies", "2"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "the CSRF protection stays on");
}

/// A `multipart/form-data` POST of `file_name` holding `content`, with the
/// CSRF cookie and header of `csrf` (from a GET).
fn multipart_request(file_name: &[u8], content: &[u8], csrf: &str) -> Vec<u8> {
    multipart_post(
        "/upload/",
        &[("title", "My <b>cat</b>")],
        file_name,
        content,
        csrf,
    )
}

/// A `multipart/form-data` POST to `path` of the text `fields` and, as the
/// field `picture`, `file_name` holding `content`.
fn multipart_post(
    path: &str,
    fields: &[(&str, &str)],
    file_name: &[u8],
    content: &[u8],
    csrf: &str,
) -> Vec<u8> {
    let parameters = [&b"filename=\""[..], file_name, b"\""].concat();
    multipart_post_naming(path, fields, &parameters, content, csrf)
}

/// The same, the file's Content-Disposition ending in `file_parameters`
/// (`filename="…"`, `filename*=UTF-8''…`) instead.
fn multipart_post_naming(
    path: &str,
    fields: &[(&str, &str)],
    file_parameters: &[u8],
    content: &[u8],
    csrf: &str,
) -> Vec<u8> {
    let boundary = "XyZzY-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; ").as_bytes(),
    );
    body.extend_from_slice(file_parameters);
    body.extend_from_slice(b"\r\nContent-Type: image/png\r\n\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\
         Cookie: csrftoken={csrf}\r\nX-CSRFToken: {csrf}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// The CSRF cookie a GET of the contact page gives.
fn csrf_cookie(server: &Listening) -> String {
    let page = server.get("/contact/", "");
    let cookie = page
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: csrftoken="))
        .expect("a csrftoken cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn body_text(response: &RawResponse) -> String {
    String::from_utf8_lossy(&response.body).to_string()
}

#[test]
fn uploads_get_safe_names_inside_media_root_and_are_served_in_debug() {
    let site = Site::new("media_root = \"media\"\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let long = format!("{}.png", "a".repeat(5000));
    let crafted: &[(&[u8], &str)] = &[
        (b"../../escape.png", "png"),
        (b"/etc/passwd", ""),
        (b"..\\..\\windows.ini", "ini"),
        (long.as_bytes(), "png"),
        ("фото.JPG".as_bytes(), "jpg"),
        (b"..", ""),
        (b"evil.sh;rm -rf", ""),
    ];
    let name_rule = regex::Regex::new(r"^/media/avatars/[0-9a-f]{32}(\.[a-z0-9]{1,10})?$").unwrap();
    let before: Vec<PathBuf> = files_under(&site.dir);
    for (file_name, extension) in crafted {
        let content = format!(
            "picture {}",
            String::from_utf8_lossy(&file_name[..file_name.len().min(20)])
        );
        let response = server.send(&multipart_request(file_name, content.as_bytes(), &csrf));
        let shown = String::from_utf8_lossy(&file_name[..file_name.len().min(40)]).to_string();
        assert_eq!(response.status, 200, "{shown}: {}", body_text(&response));
        let url = body_text(&response);
        assert!(name_rule.is_match(&url), "{shown}: {url}");
        let expected_ext = if extension.is_empty() {
            String::new()
        } else {
            format!(".{extension}")
        };
        assert!(
            url.ends_with(&expected_ext) && (extension.is_empty() != url[15..].contains('.')),
            "{shown}: {url}"
        );
        let stored = site.media().join(&url["/media/".len()..]);
        assert_eq!(std::fs::read_to_string(&stored).unwrap(), content);

        let served = server.get(&url, "");
        assert_eq!(served.status, 200, "{url}");
        assert_eq!(served.body, content.as_bytes());
        assert_eq!(
            served.header("content-security-policy"),
            Some("default-src 'none'; sandbox")
        );
        assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    }
    // Nothing was written outside media_root, and nothing waits in .incoming.
    let after = files_under(&site.dir);
    let new: Vec<&PathBuf> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), crafted.len(), "{new:?}");
    assert!(
        new.iter()
            .all(|p| p.starts_with(site.media().join("avatars"))),
        "{new:?}"
    );
    assert!(files_under(&site.media().join(".incoming")).is_empty());
    assert_eq!(server.get("/media/.incoming/", "").status, 404);

    // A NUL in the name: the multipart headers are refused, nothing is stored.
    let response = server.send(&multipart_request(b"x.php\0.png", b"data", &csrf));
    assert_eq!(response.status, 400);
    assert_eq!(files_under(&site.dir).len(), after.len());
    assert_eq!(server.get("/media/../settings.toml", "").status, 404);
    assert_eq!(server.get("/media/%2e%2e/settings.toml", "").status, 404);
}

/// A file named by RFC 5987's `filename*=UTF-8''…` (which Django reads),
/// alone or before a plain `filename`, is received as a file, its decoded
/// name giving the stored file its extension: multer found no name in
/// such a part, so it was taken as a text field and the form answered that
/// the picture was required. A NUL, CR or LF decoded from it is refused with
/// 400, as a raw one is, and nothing is stored.
#[test]
fn a_file_named_by_filename_star_is_received_as_a_file() {
    let site = Site::new("media_root = \"media\"\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let post = |parameters: &str| {
        server.send(&multipart_post_naming(
            "/upload/",
            &[("title", "cat")],
            parameters.as_bytes(),
            b"picture",
            &csrf,
        ))
    };
    for (parameters, extension) in [
        ("filename*=UTF-8''caf%C3%A9.TXT", "txt"),
        ("filename*=UTF-8''c.txt; filename=\"c.md\"", "md"),
        ("filename*=ISO-8859-1''caf%E9.csv", "csv"),
    ] {
        let response = post(parameters);
        assert_eq!(
            response.status,
            200,
            "{parameters}: {}",
            body_text(&response)
        );
        let url = body_text(&response);
        let name_rule =
            regex::Regex::new(&format!(r"^/media/avatars/[0-9a-f]{{32}}\.{extension}$")).unwrap();
        assert!(name_rule.is_match(&url), "{parameters}: {url}");
        let stored = site.media().join(&url["/media/".len()..]);
        assert_eq!(std::fs::read_to_string(&stored).unwrap(), "picture");
    }
    let stored = files_under(&site.dir).len();
    for encoded in ["x%00.png", "x%0D.png", "x%0A.png"] {
        let response = post(&format!("filename*=UTF-8''{encoded}"));
        assert_eq!(response.status, 400, "{encoded}: {}", body_text(&response));
        assert_eq!(files_under(&site.dir).len(), stored, "{encoded}");
    }
}

/// A saved upload can be read by the web server that serves media_root in
/// production (nginx or Apache, running as another user than `serve`):
/// 0644, as Django's default `FILE_UPLOAD_PERMISSIONS`, not the 0600 of
/// the temporary file it was received into (nginx answered 403 for it).
#[test]
fn a_saved_upload_is_readable_by_the_web_server() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new("media_root = \"media\"\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let response = server.send(&multipart_request(b"cat.png", b"picture", &csrf));
    assert_eq!(response.status, 200, "{}", body_text(&response));
    let url = body_text(&response);
    let stored = site.media().join(&url["/media/".len()..]);
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "{} has mode {mode:o}", stored.display());
}

#[test]
fn an_upload_over_its_size_limit_is_a_form_error_and_is_not_kept() {
    let site = Site::new("media_root = \"media\"\ndata_upload_max_memory_size = 100000\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let response = server.send(&multipart_request(b"big.png", &[b'x'; 5000], &csrf));
    assert_eq!(response.status, 200, "{}", body_text(&response));
    let html = body_text(&response);
    assert!(
        html.contains("<li>Ensure this file is at most 1000 bytes (it is 5000).</li>"),
        "{html}"
    );
    assert!(
        html.contains("value=\"My &lt;b&gt;cat&lt;/b&gt;\""),
        "{html}"
    );
    assert!(
        html.contains("<input type=\"file\" name=\"picture\""),
        "{html}"
    );
    assert!(
        files_under(&site.media()).is_empty(),
        "{:?}",
        files_under(&site.media())
    );

    let empty = server.send(&multipart_request(b"empty.png", b"", &csrf));
    assert!(body_text(&empty).contains("<li>The submitted file is empty.</li>"));

    // Over the body limit: 413, answered, not a dropped connection.
    let response = server.send(&multipart_request(b"huge.png", &vec![b'x'; 150_000], &csrf));
    assert_eq!(response.status, 413);
    assert!(files_under(&site.media()).is_empty());
}

/// The process's peak memory (`VmHWM`), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// An upload streams to disk, CSRF check included: a 128 MiB file, sent
/// with the token in the form as a browser sends it, raises the process's
/// peak memory by far less than its size (the CSRF middleware used to hold
/// the whole body in memory to find the token field).
#[test]
fn a_large_upload_is_never_held_in_memory() {
    const SIZE: usize = 128 * 1024 * 1024;
    let site = Site::new("media_root = \"media\"\ndata_upload_max_memory_size = 200000000\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let boundary = "XyZzY-boundary";
    let head_of_body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n\
         {csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"picture\"; \
         filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let end_of_body = format!("\r\n--{boundary}--\r\n");
    let length = head_of_body.len() + SIZE + end_of_body.len();
    let head = format!(
        "POST /upload/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\
         Cookie: csrftoken={csrf}\r\n\r\n{head_of_body}"
    );
    let before = peak_memory();
    let megabytes = (0..SIZE / (1024 * 1024)).map(|_| vec![b'x'; 1024 * 1024]);
    let pieces = std::iter::once(head.into_bytes())
        .chain(megabytes)
        .chain(std::iter::once(end_of_body.into_bytes()));
    let response = server.send_pieces(pieces);
    let grown = peak_memory().saturating_sub(before);
    assert_eq!(response.status, 200, "{}", body_text(&response));
    assert!(
        body_text(&response).contains(&format!(
            "<li>Ensure this file is at most 1000 bytes (it is {SIZE}).</li>"
        )),
        "the whole file reached the view: {}",
        body_text(&response)
    );
    assert!(
        grown < 48 * 1024 * 1024,
        "peak memory grew by {} MiB for a {} MiB upload",
        grown / (1024 * 1024),
        SIZE / (1024 * 1024)
    );
}

#[test]
fn a_chunked_upload_over_the_body_limit_is_answered_413() {
    let site = Site::new("media_root = \"media\"\ndata_upload_max_memory_size = 100000\n");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let whole = multipart_request(b"huge.png", &vec![b'x'; 150_000], &csrf);
    let split = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&whole[..split]);
    let head: String = head
        .lines()
        .filter(|l| !l.starts_with("Content-Length"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .trim_end()
        .to_string()
        + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut request = head.into_bytes();
    for chunk in whole[split..].chunks(8192) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let response = server.send(&request);
    assert_eq!(response.status, 413, "{}", response.head);
    assert!(files_under(&site.media().join(".incoming")).is_empty());
}

/// A form body that breaks off (a client gone silent, cut off by the
/// server's body timeout) is answered 400 naming why, not 413.
#[tokio::test]
async fn a_form_body_that_breaks_off_is_a_400_not_a_413() {
    use tower::ServiceExt;
    let site = Site::new("");
    let secret = "a".repeat(32);
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"name=Ann&"),
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client sent nothing of the request body for 30 s",
        )),
    ];
    let request = http::Request::builder()
        .method("POST")
        .uri("/contact/")
        .header("host", "localhost")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("csrftoken={secret}"))
        .header("x-csrftoken", &secret)
        .body(axum::body::Body::from_stream(tokio_stream::iter(chunks)))
        .unwrap();
    let response = site.application().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 400);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("sent nothing of the request body"), "{page}");
    assert!(!page.contains("data_upload_max_memory_size"), "{page}");
}

/// Without `media_root`, a file sent to a form that has no file field is
/// read and dropped: the form is served as without it (Django ignores the
/// files a form does not use), not answered 500.
#[test]
fn without_media_root_a_file_the_form_does_not_use_is_dropped() {
    let site = Site::new("");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let fields = [
        ("name", "Ann"),
        ("sender", "ann@example.com"),
        ("copies", "2"),
    ];
    let response = server.send(&multipart_post(
        "/contact/",
        &fields,
        b"a.png",
        b"data",
        &csrf,
    ));
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(body_text(&response), "thanks ann@example.com (2 copies)");
    assert!(!site.media().exists());
}

/// The contact form (no file field) posted with a file under the field
/// name `name`, to a site without media_root: the answer's text and what
/// was logged meanwhile.
async fn post_a_file_named(name: &str) -> (String, String) {
    let site = Site::new("");
    let client = Client::new(site.application());
    client.get("/contact/").await;
    let csrf = client.csrf_token().expect("a CSRF cookie");
    let fields = [
        ("name", "Ann"),
        ("sender", "ann@example.com"),
        ("copies", "2"),
    ];
    let raw = multipart_post("/contact/", &fields, b"a.png", b"data", &csrf);
    let body = raw[raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..].to_vec();
    let body = String::from_utf8(body)
        .unwrap()
        .replace("name=\"picture\"", &format!("name=\"{name}\""))
        .into_bytes();
    let (logs, guard) = support::capture_logs();
    let response = client
        .request(Method::POST, "/contact/")
        .csrf()
        .header(
            "content-type",
            "multipart/form-data; boundary=XyZzY-boundary",
        )
        .body(body)
        .send()
        .await;
    drop(guard);
    (response.text(), logs.text())
}

/// The file a form without a file field was sent is dropped with a
/// warning in the log that names the field and media_root.
#[tokio::test]
async fn without_media_root_a_dropped_file_is_logged() {
    // The field's name is the client's: one that would reverse the text
    // shown (U+202E) or end the line for some readers (U+2028) is escaped.
    let (text, logs) = post_a_file_named("pic\u{2028}t\u{202e}ure").await;
    assert_eq!(text, "thanks ann@example.com (2 copies)");
    assert!(
        logs.contains(" WARN ")
            && logs.contains(
                r#"a file sent as "pic\u{2028}t\u{202e}ure" was dropped: media_root is not set"#
            ),
        "{logs}"
    );
    assert!(!logs.contains(['\u{2028}', '\u{202e}']), "{logs}");
}

/// The field name of a dropped file is the client's and may be as long as
/// the body allows: the warning shows its start only, so that one request
/// cannot write megabytes to the log.
#[tokio::test]
async fn a_dropped_files_long_name_is_cut_in_the_log() {
    let long = format!("pic{}", "x".repeat(1_000_000));
    let (text, logs) = post_a_file_named(&long).await;
    assert_eq!(text, "thanks ann@example.com (2 copies)");
    assert!(
        logs.contains(&format!(
            "a file sent as \"pic{}…\" was dropped: media_root is not set",
            "x".repeat(61)
        )),
        "{}",
        &logs[..logs.len().min(500)]
    );
    assert!(logs.len() < 1000, "{} bytes of log", logs.len());
}

/// A `multipart/form-data` body of the contact form's fields and `files`
/// small files, each under the name `f`.
fn contact_with_files(files: usize) -> Vec<u8> {
    let boundary = "XyZzY-boundary";
    let mut body = String::new();
    for (name, value) in [
        ("name", "Ann"),
        ("sender", "ann@example.com"),
        ("copies", "2"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    for _ in 0..files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\nx\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

/// Files dropped for want of `media_root` count against
/// `data_upload_max_number_files` all the same (they cost reading), and a
/// request's dropped files are one warning, not one per file: else a single
/// request of a few hundred kilobytes wrote thousands of lines to the log.
#[tokio::test]
async fn without_media_root_dropped_files_count_and_are_logged_once() {
    let site = Site::new("data_upload_max_number_files = 3\n");
    let client = Client::new(site.application());
    client.get("/contact/").await;
    let post = |files: usize| {
        client
            .request(Method::POST, "/contact/")
            .csrf()
            .header(
                "content-type",
                "multipart/form-data; boundary=XyZzY-boundary",
            )
            .body(contact_with_files(files))
            .send()
    };
    let (logs, guard) = support::capture_logs();
    let response = post(3).await;
    drop(guard);
    assert_eq!(response.text(), "thanks ann@example.com (2 copies)");
    let logs = logs.text();
    assert_eq!(logs.matches("dropped").count(), 1, "{logs}");
    assert!(
        logs.contains(r#"3 files sent (the first as "f") were dropped: media_root is not set"#),
        "{logs}"
    );

    let response = post(4).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("data_upload_max_number_files"));
    assert!(!site.media().exists());
}

#[test]
fn without_media_root_an_upload_is_refused_naming_the_setting() {
    let site = Site::new("");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let response = server.send(&multipart_request(b"a.png", b"data", &csrf));
    assert_eq!(response.status, 500);
    let html = body_text(&response);
    assert!(html.contains("media_root is not set"), "{html}");
    assert!(html.contains("set media_root = "), "{html}");
    assert!(!site.media().exists());
    assert!(
        files_under(&site.dir).iter().all(|p| !p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("upload-")),
        "no temporary file is left"
    );
}

/// An upload that cannot be written (here a file stands where media_root
/// goes, which fails even for root) names the folder, media_root and the
/// fix, not a bare I/O error.
#[test]
fn an_upload_media_root_cannot_hold_names_the_folder_and_the_setting() {
    let site = Site::new("media_root = \"blocked/media\"\n");
    write(&site.dir.join("blocked"), "a file, not a folder");
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let response = server.send(&multipart_request(b"a.png", b"data", &csrf));
    assert_eq!(response.status, 500);
    let html = body_text(&response);
    let folder = site.dir.join("blocked/media/.incoming");
    assert!(
        html.contains(&format!(
            "cannot store an upload in &#x27;{}&#x27; (under media_root)",
            folder.display()
        )),
        "{html}"
    );
    assert!(html.contains("nuages.E034"), "{html}");
}

#[tokio::test]
async fn the_application_serves_uploads_only_where_it_serves_static_sources() {
    let site = Site::new("media_root = \"media\"\n");
    write(&site.media().join("avatars/a.txt"), "uploaded");
    let settings = || {
        let mut settings = nuages::conf::Settings::load(site.dir.join("settings.toml")).unwrap();
        settings.debug = false;
        settings.allowed_hosts = vec!["localhost".into()];
        settings
    };
    let production =
        Application::new(Project::new("site", &site.dir).urls(urls), settings()).unwrap();
    let insecure = production
        .clone()
        .with_static_serving(nuages::staticfiles::StaticServing::Sources)
        .unwrap();
    assert_eq!(
        Client::new(production)
            .get("/media/avatars/a.txt")
            .await
            .status,
        404
    );
    let served = Client::new(insecure).get("/media/avatars/a.txt").await;
    assert_eq!(
        served.status, 200,
        "runserver --insecure serves uploads too"
    );
    assert_eq!(served.text(), "uploaded");
}

/// Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS` and `…_FILES`: a form of more
/// fields (in a query string or a body) or more files than the settings
/// allow is a 400 naming the setting; up to them, it is read.
#[tokio::test]
async fn a_form_of_too_many_fields_is_refused() {
    let site = Site::new("");
    let client = Client::new(site.application());
    let query = |count: usize| {
        (0..count)
            .map(|n| format!("f{n}=x"))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert_eq!(
        client
            .get(&format!("/contact/?{}", query(1000)))
            .await
            .status,
        200
    );
    let refused = client.get(&format!("/contact/?{}", query(1001))).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .text()
            .contains("the form sent more than 1000 fields (data_upload_max_number_fields)"),
        "{}",
        refused.text()
    );
    let fields: Vec<(String, String)> = (0..1001).map(|n| (format!("f{n}"), "x".into())).collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client.get("/contact/").await;
    let response = client
        .request(Method::POST, "/contact/")
        .csrf()
        .form(&fields)
        .send()
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
}

#[tokio::test]
async fn data_upload_max_number_fields_0_is_no_limit() {
    let site = Site::new("data_upload_max_number_fields = 0\n");
    let client = Client::new(site.application());
    let query = (0..1001)
        .map(|n| format!("f{n}=x"))
        .collect::<Vec<_>>()
        .join("&");
    let page = client.get(&format!("/contact/?{query}")).await;
    assert_eq!(page.status, 200, "{}", page.text());
}

#[test]
fn a_multipart_form_of_too_many_fields_or_files_is_refused() {
    let site = Site::new(
        "media_root = \"media\"\ndata_upload_max_number_files = 1\ndata_upload_max_number_fields = 2\n",
    );
    let server = Listening::start(site.application());
    let csrf = csrf_cookie(&server);
    let one_file = multipart_post("/upload/", &[("title", "cat")], b"a.png", b"data", &csrf);
    assert_eq!(server.send(&one_file).status, 200);
    // Two files: the second part is another file.
    let two_files = |csrf: &str| {
        multipart_post(
            "/upload/",
            &[],
            b"a.png\"\r\nContent-Type: image/png\r\n\r\ndata\r\n--XyZzY-boundary\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"b.png",
            b"data",
            csrf,
        )
    };
    let response = server.send(&two_files(&csrf));
    assert_eq!(response.status, 400, "{}", response.head);
    assert!(body_text(&response).contains("data_upload_max_number_files"));
    let three_fields = multipart_post(
        "/upload/",
        &[("title", "cat"), ("a", "1"), ("b", "2")],
        b"a.png",
        b"data",
        &csrf,
    );
    let response = server.send(&three_fields);
    assert_eq!(response.status, 400, "{}", response.head);
    assert!(body_text(&response).contains("data_upload_max_number_fields"));

    // 0: no limit, as Django's None.
    let unlimited = Site::new("media_root = \"media\"\ndata_upload_max_number_files = 0\n");
    let server = Listening::start(unlimited.application());
    let response = server.send(&two_files(&csrf_cookie(&server)));
    assert_eq!(response.status, 200, "{}", response.head);
}

/// Bodies no browser sends: field names with NUL, brackets, nothing, bytes
/// that are not UTF-8 or broken percent escapes, a name sent several
/// times, a megabyte-long name. As Django's `QueryDict` (undecodable bytes
/// replaced, the last value of a name kept, unknown names ignored), each is
/// the form again with its messages or the thanks, never a 500.
#[tokio::test]
async fn hostile_field_names_and_values_are_form_errors_never_500s() {
    let site = Site::new("data_upload_max_memory_size = 5000000");
    let client = Client::new(site.application());
    client.get("/contact/").await;
    let valid = "name=Ada&sender=ada%40example.com&copies=2";
    let long_name = "n".repeat(1_000_000);
    let cases: Vec<(String, &str)> = vec![
        (format!("{valid}&na%00me=x&na[]me=y&=z&%FF%FE=w"), "thanks"),
        (format!("{valid}&copies=9&copies=3"), "thanks"),
        (format!("{valid}&{long_name}=1"), "thanks"),
        (format!("{valid}&%ZZ%=%&&&=="), "thanks"),
        (
            "name=%FF%FEAda&sender=ada%40example.com&copies=%EF%BC%92".into(),
            "thanks",
        ),
        (
            format!("{valid}&copies=1e3"),
            "<li>Enter a whole number.</li>",
        ),
        (
            format!("{valid}&copies=99999999999999999999999"),
            "<li>Ensure this value is less than or equal to 5.</li>",
        ),
        (
            format!("{valid}&sender=ada%00%40example.com"),
            "<li>Null characters are not allowed.</li>",
        ),
        (
            "name%00=Ada&sender=ada%40example.com&copies=2".into(),
            "<li>This field is required.</li>",
        ),
    ];
    for (body, expected) in cases {
        let response = client
            .request(Method::POST, "/contact/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .csrf()
            .send()
            .await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(response.status, 200, "{shown}: {}", response.text());
        assert!(
            response.text().contains(expected),
            "{shown}: {}",
            response.text()
        );
    }
}
