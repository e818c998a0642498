//! Static files: development serving through the application (test client
//! and a real socket), `collectstatic` (copy rules, refusals, prompt,
//! manifest, compression) and `static()` in templates.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nuages::App;
use nuages::conf::Settings;
use nuages::staticfiles::collect::{CollectOptions, Console, collect};
use nuages::staticfiles::{StaticServing, Summary};
use nuages::test::Client;
use nuages::{Application, Project};

mod support;
use support::Listening;

const SITE_CSS: &str =
    "body { margin: 0 auto; color: #333; font-family: system-ui, sans-serif; }\n";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project folder: `static/` (in staticfiles_dirs), `vendor/` (as
/// `lib=vendor`), an app `polls` with its own `static/`, and a secret next
/// to them that must never be served.
struct Site {
    temp: tempfile::TempDir,
    dir: PathBuf,
}

impl Site {
    fn new(extra_settings: &str) -> Site {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("site");
        write(&dir.join("static/css/site.css"), &SITE_CSS.repeat(10));
        write(&dir.join("static/js/app.js"), "console.log('app');\n");
        write(&dir.join("static/.env"), "SECRET=hidden");
        write(&dir.join("vendor/jquery.js"), "/* jquery */\n");
        write(
            &dir.join("src/polls/static/polls/style.css"),
            "li { color: green; }\n",
        );
        write(
            &dir.join("src/polls/static/css/site.css"),
            "/* the app's copy loses */\n",
        );
        write(&dir.join("secret.txt"), "TOP-SECRET");
        write(
            &dir.join("settings.toml"),
            &format!(
                "debug = true\nsecret_key = \"{}\"\nstaticfiles_dirs = [\"static\", \"lib=vendor\"]\n\
                 static_root = \"www/static\"\n{extra_settings}",
                "s".repeat(60)
            ),
        );
        Site { temp, dir }
    }

    fn settings(&self) -> Settings {
        Settings::load(self.dir.join("settings.toml")).unwrap()
    }

    fn apps(&self) -> Vec<App> {
        vec![App::new("polls", self.dir.join("src/polls"))]
    }

    /// The application as `serve --static` runs it in production: `debug`
    /// off, `localhost` allowed, files sent from static_root.
    fn serving_collected(&self) -> Application {
        let mut production = self.settings();
        production.debug = false;
        production.allowed_hosts = vec!["localhost".into()];
        self.application(production)
            .with_static_serving(StaticServing::Collected)
            .unwrap()
    }

    fn root(&self) -> PathBuf {
        self.dir.join("www/static")
    }

    fn application(&self, settings: Settings) -> Application {
        let project = Project::new("site", &self.dir).apps(self.apps());
        Application::new(project, settings).unwrap()
    }

    fn collect_with(
        &self,
        settings: &Settings,
        options: CollectOptions,
        input: &str,
    ) -> (Result<Summary, String>, String) {
        let mut out = Vec::new();
        let mut input = input.as_bytes();
        let mut console = Console {
            out: &mut out,
            input: &mut input,
            terminal: false,
        };
        let result = collect(settings, &self.apps(), &options, &mut console).map_err(|e| {
            format!(
                "error: {}\n  hint: {}",
                e.message,
                e.hint.unwrap_or_default()
            )
        });
        (result, String::from_utf8(out).unwrap())
    }

    fn collect(&self, options: CollectOptions) -> (Summary, String) {
        let (result, out) = self.collect_with(&self.settings(), options, "");
        (result.unwrap_or_else(|e| panic!("{e}\n{out}")), out)
    }
}

fn noinput() -> CollectOptions {
    CollectOptions {
        interactive: false,
        ..CollectOptions::default()
    }
}

fn last_line(out: &str) -> &str {
    out.lines().last().unwrap_or_default()
}

/// Files left under a temporary name: hidden (collectstatic's own) or `.tmp`.
fn temp_files(root: &Path) -> Vec<PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with('.') || name.ends_with(".tmp")
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

// ---------------------------------------------------------------- serving

#[tokio::test]
async fn debug_serves_sources_with_type_validators_and_no_cache() {
    let site = Site::new("");
    let client = Client::new(site.application(site.settings()));
    let response = client.get("/static/css/site.css").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert_eq!(response.text(), SITE_CSS.repeat(10));
    assert!(response.header("last-modified").is_some());
    let etag = response.header("etag").unwrap().to_string();

    let again = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("if-none-match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let since = client
        .request(http::Method::GET, "/static/css/site.css")
        .header(
            "if-modified-since",
            response.header("last-modified").unwrap(),
        )
        .send()
        .await;
    assert_eq!(since.status, 304);
    let other_tag = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("if-none-match", "\"something-else\"")
        .send()
        .await;
    assert_eq!(other_tag.status, 200);

    // The prefix of a staticfiles_dirs entry, an app's folder, JavaScript.
    let jquery = client.get("/static/lib/jquery.js").await;
    assert_eq!(jquery.status, 200);
    assert_eq!(
        jquery.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(client.get("/static/polls/style.css").await.status, 200);
    // HEAD: headers, no body.
    let head = client
        .request(http::Method::HEAD, "/static/js/app.js")
        .send()
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // Other methods are not static serving's business.
    assert_ne!(
        client
            .request(http::Method::POST, "/static/js/app.js")
            .send()
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_first_source_wins_when_serving() {
    let site = Site::new("");
    let client = Client::new(site.application(site.settings()));
    let response = client.get("/static/css/site.css").await;
    assert!(!response.text().contains("the app's copy loses"));
}

#[tokio::test]
async fn ranges_give_206_and_416() {
    let site = Site::new("");
    let client = Client::new(site.application(site.settings()));
    let part = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("range", "bytes=0-3")
        .send()
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.text(), "body");
    let total = SITE_CSS.len() * 10;
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-3/{total}").as_str())
    );
    let beyond = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("range", &format!("bytes={}-{}", total + 10, total + 20))
        .send()
        .await;
    assert_eq!(beyond.status, 416);
    // Another unit, several ranges, a malformed range: the whole file.
    for range in [
        "items=0-1",
        "bytes=0-1,3-4",
        "bytes=5-1",
        "bytes=abc",
        "bytes=-",
        "Bytes=0-1",
        "bytes= 0-1",
        "bytes=00-5",
    ] {
        let whole = client
            .request(http::Method::GET, "/static/css/site.css")
            .header("range", range)
            .send()
            .await;
        assert_eq!(whole.status, 200, "{range}");
        assert_eq!(whole.text().len(), total, "{range}");
    }
    let suffix = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("range", "bytes=-2")
        .send()
        .await;
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.text(), "}\n");
    // The last N bytes of a shorter file: all of it (RFC 9110 14.1.2), as
    // nginx and WhiteNoise answer, where the file server said 416.
    let longer = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("range", &format!("bytes=-{}", total + 99_999))
        .send()
        .await;
    assert_eq!(longer.status, 206);
    assert_eq!(
        longer.header("content-range"),
        Some(format!("bytes 0-{}/{total}", total - 1).as_str())
    );
    assert_eq!(longer.text().len(), total);
}

/// An empty file has no byte to send a range of: a range request (a
/// media player's `bytes=0-`) gets the whole, empty, file with 200, never
/// a 206 whose `Content-Range: bytes 0-0/0` names a byte that is not there
/// (RFC 9110 14.4 calls such a value invalid; clients refuse it).
#[tokio::test]
async fn a_range_of_an_empty_file_gets_the_whole_empty_file() {
    let site = Site::new("");
    write(&site.dir.join("static/empty.txt"), "");
    let client = Client::new(site.application(site.settings()));
    for range in ["bytes=0-", "bytes=0-0", "bytes=-1"] {
        let r = client
            .request(http::Method::GET, "/static/empty.txt")
            .header("range", range)
            .send()
            .await;
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.header("content-range"), None, "{range}");
        assert_eq!(r.header("content-length"), Some("0"), "{range}");
        assert_eq!(r.text(), "", "{range}");
    }
}

/// `If-Range`: the range of the version the client names, else the whole
/// file (RFC 9110), so a resumed download never mixes two versions.
#[tokio::test]
async fn a_range_with_a_stale_if_range_gets_the_whole_file() {
    let site = Site::new("");
    let client = Client::new(site.application(site.settings()));
    let total = SITE_CSS.len() * 10;
    let first = client.get("/static/css/site.css").await;
    let etag = first.header("etag").unwrap().to_string();
    let modified = first.header("last-modified").unwrap().to_string();
    for current in [etag.as_str(), modified.as_str()] {
        let part = client
            .request(http::Method::GET, "/static/css/site.css")
            .header("range", "bytes=0-3")
            .header("if-range", current)
            .send()
            .await;
        assert_eq!(part.status, 206, "{current}");
        assert_eq!(part.text(), "body");
    }
    for stale in [
        "\"0-0\"",
        &format!("W/{etag}"),
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "not a validator",
    ] {
        for range in ["bytes=0-3", &format!("bytes={}-", total + 10)] {
            let whole = client
                .request(http::Method::GET, "/static/css/site.css")
                .header("range", range)
                .header("if-range", stale)
                .send()
                .await;
            assert_eq!(whole.status, 200, "{stale} {range}");
            assert_eq!(whole.text().len(), total, "{stale} {range}");
            assert_eq!(whole.header("content-range"), None, "{stale} {range}");
        }
    }
}

#[tokio::test]
async fn precompressed_siblings_go_to_clients_that_accept_them() {
    let site = Site::new("");
    let css = SITE_CSS.repeat(10);
    let gz = nuages::staticfiles::compress::Encoding::Gzip
        .compress(css.as_bytes())
        .unwrap();
    let br = nuages::staticfiles::compress::Encoding::Brotli
        .compress(css.as_bytes())
        .unwrap();
    std::fs::write(site.dir.join("static/css/site.css.gz"), &gz).unwrap();
    std::fs::write(site.dir.join("static/css/site.css.br"), &br).unwrap();
    let client = Client::new(site.application(site.settings()));

    let gzipped = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gzipped.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert!(
        gzipped
            .header("vary")
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gzipped.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, css);

    let brotli = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert_eq!(&brotli.body[..], &br[..]);
    assert_ne!(brotli.header("etag"), gzipped.header("etag"));

    let plain = client.get("/static/css/site.css").await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text(), css);
}

/// Every way out of a source folder, each through the test client.
const TRAVERSALS: &[&str] = &[
    "/static/../secret.txt",
    "/static/css/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/css/%2e%2e/%2e%2e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/css%2f..%2f..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/css%5c..%5c..%5csecret.txt",
    "/static/css/site.css%00",
    "/static/css%00/site.css",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/%2Fetc/passwd",
    "/static/leak/secret.txt",
    "/static/leak.txt",
    "/static/.env",
    "/static/lib/../../secret.txt",
    "/static/lib/%2e%2e/%2e%2e/secret.txt",
    // Double-encoded, overlong UTF-8 and fullwidth dots: names, not steps.
    "/static/%252e%252e/secret.txt",
    "/static/%c0%ae%c0%ae/secret.txt",
    "/static/%ef%bc%8e%ef%bc%8e/secret.txt",
    // A file as a folder, a `.` step, a folder.
    "/static/css/site.css/",
    "/static/css/./site.css",
    "/static/lib/",
];

fn add_outward_links(site: &Site) {
    std::os::unix::fs::symlink(&site.dir, site.dir.join("static/leak")).unwrap();
    std::os::unix::fs::symlink(
        site.dir.join("secret.txt"),
        site.dir.join("static/leak.txt"),
    )
    .unwrap();
}

#[tokio::test]
async fn nothing_outside_the_source_folders_is_served() {
    let site = Site::new("");
    add_outward_links(&site);
    let client = Client::new(site.application(site.settings()));
    for path in TRAVERSALS {
        let response = client.get(path).await;
        assert_eq!(response.status, 404, "{path}");
        assert!(!response.text().contains("TOP-SECRET"), "{path}");
        assert!(!response.text().contains("SECRET=hidden"), "{path}");
    }
    // A raw backslash, where the URI parser lets one through.
    if let Ok(uri) = "/static/..\\secret.txt".parse::<http::Uri>() {
        assert_eq!(client.get(&uri.to_string()).await.status, 404);
    }
    // The files themselves are fine.
    assert_eq!(client.get("/static/css/site.css").await.status, 200);
}

#[test]
fn nothing_outside_the_source_folders_is_served_over_a_socket() {
    let site = Site::new("");
    add_outward_links(&site);
    let server = Listening::start(site.application(site.settings()));
    for path in TRAVERSALS {
        let response = server.get(path, "");
        assert_eq!(response.status, 404, "{path}: {}", response.head);
        assert!(!response.holds(b"TOP-SECRET"), "{path}");
    }
    // A raw backslash: rejected by the server (400) or by us (404), never served.
    let response = server.get("/static/..\\secret.txt", "");
    assert!(
        response.status == 404 || response.status == 400,
        "{}",
        response.head
    );
    assert!(!response.holds(b"TOP-SECRET"));
    // Names longer than the file system takes, a deep path, a link loop:
    // 404 with the headers of every response.
    std::os::unix::fs::symlink("loop", site.dir.join("static/loop")).unwrap();
    for path in [
        format!("/static/{}", "a".repeat(5000)),
        format!("/static/{}x", "a/".repeat(3000)),
        "/static/loop".to_string(),
    ] {
        let response = server.get(&path, "");
        assert_eq!(response.status, 404, "{}", response.head);
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert!(!response.holds(site.dir.to_str().unwrap().as_bytes()));
    }
    let response = server.get("/static/css/site.css", "");
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(
        response.header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

/// The secrets of [`Site`] that live outside every static folder.
const SECRETS: &[&[u8]] = &[b"TOP-SECRET", b"secret_key"];

/// Make `file.gz` and `file.br` links to files outside the static folders:
/// the settings file (relative link) and `secret.txt` (absolute link).
fn plant_outward_siblings(site: &Site, file: &Path) {
    for suffix in [".gz", ".br"] {
        let sibling = PathBuf::from(format!("{}{suffix}", file.display()));
        let _ = std::fs::remove_file(&sibling);
    }
    let up = file
        .strip_prefix(&site.dir)
        .unwrap()
        .components()
        .skip(1)
        .map(|_| "..")
        .collect::<Vec<_>>()
        .join("/");
    std::os::unix::fs::symlink(
        format!("{up}/settings.toml"),
        format!("{}.gz", file.display()),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        site.dir.join("secret.txt"),
        format!("{}.br", file.display()),
    )
    .unwrap();
    // The links do lead to the secrets.
    assert!(
        std::fs::read_to_string(format!("{}.gz", file.display()))
            .unwrap()
            .contains("secret_key")
    );
}

/// Ask for `path` with every way of accepting a sibling: `expected` comes
/// back as is, never a byte of the secrets the siblings lead to.
fn assert_siblings_are_refused(server: &Listening, path: &str, expected: &[u8]) {
    for accept in ["gzip, br", "gzip", "br", "br;q=1, gzip;q=0.5", "x-gzip"] {
        let response = server.get(path, &format!("Accept-Encoding: {accept}\r\n"));
        assert_eq!(response.status, 200, "{accept}: {}", response.head);
        for secret in SECRETS {
            assert!(
                !response.holds(secret),
                "{accept}: {}",
                String::from_utf8_lossy(&response.raw)
            );
        }
        assert_eq!(response.header("content-encoding"), None, "{accept}");
        assert_eq!(response.body, expected, "{accept}");
    }
}

#[test]
fn a_sibling_that_leads_out_of_its_source_folder_is_never_sent() {
    let site = Site::new("");
    let css = SITE_CSS.repeat(10);
    let gz = nuages::staticfiles::compress::Encoding::Gzip
        .compress(css.as_bytes())
        .unwrap();
    std::fs::write(site.dir.join("static/css/site.css.gz"), &gz).unwrap();
    plant_outward_siblings(&site, &site.dir.join("static/js/app.js"));
    plant_outward_siblings(&site, &site.dir.join("vendor/jquery.js"));
    let server = Listening::start(site.application(site.settings()));

    assert_siblings_are_refused(&server, "/static/js/app.js", b"console.log('app');\n");
    assert_siblings_are_refused(&server, "/static/lib/jquery.js", b"/* jquery */\n");
    // A sibling inside the folder is still sent.
    let legit = server.get("/static/css/site.css", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(legit.status, 200, "{}", legit.head);
    assert_eq!(legit.header("content-encoding"), Some("gzip"));
    assert_eq!(legit.body, gz);
}

#[test]
fn a_sibling_that_leads_out_of_static_root_is_never_sent() {
    let site = Site::new("staticfiles_precompress = true\n");
    site.collect(noinput());
    let root = site.root();
    let application = site.serving_collected();
    let server = Listening::start(application);
    let css = SITE_CSS.repeat(10);

    // The siblings collectstatic wrote are sent.
    let legit = server.get("/static/css/site.css", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(legit.status, 200, "{}", legit.head);
    assert_eq!(legit.header("content-encoding"), Some("br"));
    assert_eq!(
        legit.body,
        std::fs::read(root.join("css/site.css.br")).unwrap()
    );

    plant_outward_siblings(&site, &root.join("css/site.css"));
    assert_siblings_are_refused(&server, "/static/css/site.css", css.as_bytes());
}

/// `METHOD path` with no body, on a new connection.
fn bodiless(server: &Listening, method: &str, path: &str) -> support::RawResponse {
    server.send(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// As WhiteNoise answers: a static file's URL takes GET and HEAD only.
/// Another method gets 405 with `Allow`, and the headers every response
/// carries; a name that is no file is still the 404 of the site.
#[test]
fn other_methods_on_a_static_file_get_405_with_allow() {
    let site = Site::new("");
    let server = Listening::start(site.application(site.settings()));
    let response = bodiless(&server, "OPTIONS", "/static/css/site.css");
    assert_eq!(response.status, 405, "{}", response.head);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(response.header("referrer-policy"), Some("same-origin"));
    assert!(!response.holds(b"margin: 0 auto"));
    // Unsafe methods meet the CSRF check first: refused all the same.
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let response = bodiless(&server, method, "/static/css/site.css");
        assert_eq!(response.status, 403, "{method}: {}", response.head);
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(
        bodiless(&server, "OPTIONS", "/static/nothing.css").status,
        404
    );
    assert_eq!(
        bodiless(&server, "OPTIONS", "/static/../secret.txt").status,
        404
    );

    // Without the CSRF check, every other method gets the 405.
    let site = Site::new("middleware = [\"security\", \"common\", \"xframe\"]\n");
    let server = Listening::start(site.application(site.settings()));
    for method in ["OPTIONS", "POST", "PUT", "DELETE", "PATCH"] {
        let response = bodiless(&server, method, "/static/lib/jquery.js");
        assert_eq!(response.status, 405, "{method}: {}", response.head);
        assert_eq!(response.header("allow"), Some("GET, HEAD"), "{method}");
        assert!(!response.holds(b"/* jquery */"), "{method}");
    }
    let collected = Site::new("");
    collected.collect(noinput());
    let server = Listening::start(collected.serving_collected());
    let response = bodiless(&server, "OPTIONS", "/static/css/site.css");
    assert_eq!(response.status, 405, "{}", response.head);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn hosts_are_still_checked_for_static_files() {
    let site = Site::new("");
    let client = Client::new(site.application(site.settings()));
    let response = client
        .request(http::Method::GET, "/static/css/site.css")
        .header("host", "evil.example.com")
        .send()
        .await;
    assert_eq!(response.status, 400);
}

#[tokio::test]
async fn serving_follows_debug_and_the_runserver_choice() {
    let site = Site::new("");
    let mut production = site.settings();
    production.debug = false;
    production.allowed_hosts = vec!["localhost".into()];

    let off = site.application(production.clone());
    assert_eq!(off.static_serving(), StaticServing::Off);
    assert_eq!(
        Client::new(off.clone())
            .get("/static/css/site.css")
            .await
            .status,
        404
    );
    // runserver --insecure
    let insecure = off.with_static_serving(StaticServing::Sources).unwrap();
    assert_eq!(
        Client::new(insecure)
            .get("/static/css/site.css")
            .await
            .status,
        200
    );
    // runserver --nostatic with debug on
    let debug = site.application(site.settings());
    assert_eq!(debug.static_serving(), StaticServing::Sources);
    let nostatic = debug.with_static_serving(StaticServing::Off).unwrap();
    assert_eq!(
        Client::new(nostatic)
            .get("/static/css/site.css")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn collected_files_with_hashed_names_are_cached_forever() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    site.collect(noinput());
    let manifest = nuages::staticfiles::Manifest::load(&site.root()).unwrap();
    let hashed = manifest.paths["css/site.css"].clone();
    let application = site.serving_collected();
    let client = Client::new(application);
    let response = client.get(&format!("/static/{hashed}")).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let plain = client.get("/static/css/site.css").await;
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let gzipped = client
        .request(http::Method::GET, &format!("/static/{hashed}"))
        .header("accept-encoding", "br")
        .send()
        .await;
    assert_eq!(gzipped.header("content-encoding"), Some("br"));
    assert_eq!(client.get("/static/../settings.toml").await.status, 404);
}

/// Only the names the manifest gives are cached for a year: a source file
/// whose name merely looks hashed (a 12-digit timestamp) may change, and
/// under plain storage no name is hashed.
#[tokio::test]
async fn names_that_only_look_hashed_are_not_cached_forever() {
    for storage in ["manifest", "plain"] {
        let site = Site::new(&format!("staticfiles_storage = \"{storage}\"\n"));
        write(
            &site.dir.join("static/css/theme.202401011230.css"),
            "body {}",
        );
        site.collect(noinput());
        let client = Client::new(site.serving_collected());
        let response = client.get("/static/css/theme.202401011230.css").await;
        assert_eq!(response.status, 200, "{storage}");
        assert_eq!(
            response.header("cache-control"),
            Some("no-cache"),
            "{storage}"
        );
    }
}

/// `collectstatic --link` fills static_root with links to the source files:
/// `serve --static` sends each of them (it is the very file the sources
/// have under that name), not a 404 for every unhashed name; a link to
/// anything else stays refused.
#[tokio::test]
async fn collected_links_to_the_sources_are_served() {
    let site = Site::new("");
    site.collect(CollectOptions {
        link: true,
        ..noinput()
    });
    let root = site.root();
    for (target, link) in [
        (site.dir.join("secret.txt"), "secret.txt"),
        (site.dir.join("static/.env"), "env.txt"),
        (site.dir.join("static/js/app.js"), "css/other.css"),
        (
            site.dir.join("src/polls/static/css/site.css"),
            "polls/site.css",
        ),
    ] {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
    }
    let application = site.serving_collected();
    let client = Client::new(application);
    for (path, body) in [
        ("/static/css/site.css", SITE_CSS.repeat(10)),
        ("/static/js/app.js", "console.log('app');\n".to_string()),
        ("/static/lib/jquery.js", "/* jquery */\n".to_string()),
        (
            "/static/polls/style.css",
            "li { color: green; }\n".to_string(),
        ),
    ] {
        let response = client.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), body, "{path}");
        assert_eq!(response.header("cache-control"), Some("no-cache"), "{path}");
    }
    for path in [
        "/static/secret.txt",
        "/static/env.txt",
        "/static/css/other.css",
        "/static/polls/site.css",
    ] {
        assert_eq!(client.get(path).await.status, 404, "{path}");
    }
}

// ---------------------------------------------------------------- templates

#[test]
fn static_in_templates_uses_the_manifest_with_debug_off() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(
        &site.dir.join("templates/page.html"),
        "<link href=\"{{ static(path='css/site.css') }}\">",
    );
    write(
        &site.dir.join("templates/broken.html"),
        "<link href=\"{{ static(path='css/nope.css') }}\">",
    );
    // Debug on: plain URLs, no manifest needed.
    let debug = site.application(site.settings());
    let page = debug
        .templates()
        .render_string("page.html", Default::default())
        .unwrap();
    assert_eq!(page, "<link href=\"/static/css/site.css\">");

    let mut production = site.settings();
    production.debug = false;
    // Not collected yet: a clear error, not a plain URL.
    let error = site
        .application(production.clone())
        .templates()
        .render_string("page.html", Default::default())
        .unwrap_err();
    let chain = error.chain().join(": ");
    assert!(chain.contains("collectstatic"), "{chain}");

    site.collect(noinput());
    let manifest = nuages::staticfiles::Manifest::load(&site.root()).unwrap();
    let application = site.application(production);
    let page = application
        .templates()
        .render_string("page.html", Default::default())
        .unwrap();
    assert_eq!(
        page,
        format!("<link href=\"/static/{}\">", manifest.paths["css/site.css"])
    );
    let error = application
        .templates()
        .render_string("broken.html", Default::default())
        .unwrap_err();
    let chain = error.chain().join(": ");
    assert!(chain.contains("broken.html"), "{chain}");
    assert!(
        chain.contains("'css/nope.css' is not in the manifest"),
        "{chain}"
    );
    assert!(chain.contains("collectstatic"), "{chain}");
}

/// A name with a space, a `%` or a letter outside ASCII: `static()` gives a
/// URL that reaches the file, with `debug` on (the sources) and off (the
/// manifest's hashed name in static_root), as Django quotes it.
#[tokio::test]
async fn static_urls_of_names_with_spaces_and_accents_reach_the_file() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(
        &site.dir.join("static/img/café 100%.css"),
        "p { color: red; }\n",
    );
    write(
        &site.dir.join("templates/page.html"),
        "{{ static(path='img/café 100%.css') }}",
    );
    let render = |application: &Application| {
        application
            .templates()
            .render_string("page.html", Default::default())
            .unwrap()
    };
    let debug = site.application(site.settings());
    let url = render(&debug);
    assert_eq!(url, "/static/img/caf%C3%A9%20100%25.css");
    let response = Client::new(debug).get(&url).await;
    assert_eq!(response.status, 200, "{url}");
    assert_eq!(response.text(), "p { color: red; }\n");

    site.collect(noinput());
    let application = site.serving_collected();
    let url = render(&application);
    assert!(
        url.starts_with("/static/img/caf%C3%A9%20100%25.") && url.ends_with(".css"),
        "{url}"
    );
    let response = Client::new(application).get(&url).await;
    assert_eq!(response.status, 200, "{url}");
    assert_eq!(response.text(), "p { color: red; }\n");
}

// ---------------------------------------------------------------- collectstatic

#[test]
fn collects_only_what_is_new_or_changed() {
    let site = Site::new("");
    let root = site.root();
    let (summary, out) = site.collect(noinput());
    assert_eq!(
        last_line(&out),
        format!(
            "4 static files copied to '{}', 0 unmodified.",
            root.display()
        )
    );
    assert_eq!(summary.copied, 4);
    assert_eq!(
        std::fs::read_to_string(root.join("css/site.css")).unwrap(),
        SITE_CSS.repeat(10)
    );
    assert_eq!(
        std::fs::read_to_string(root.join("lib/jquery.js")).unwrap(),
        "/* jquery */\n"
    );
    assert!(root.join("polls/style.css").is_file());
    assert!(!root.join(".env").exists());
    // Copies keep the source's modification time.
    assert_eq!(
        mtime(&root.join("css/site.css")),
        mtime(&site.dir.join("static/css/site.css"))
    );

    // Nothing changed: nothing copied.
    let (_, out) = site.collect(noinput());
    assert_eq!(
        last_line(&out),
        format!(
            "0 static files copied to '{}', 4 unmodified.",
            root.display()
        )
    );

    // A changed file is copied again, and only it: "1 static file".
    write(
        &site.dir.join("static/js/app.js"),
        "console.log('changed');\n",
    );
    let (_, out) = site.collect(noinput());
    assert_eq!(
        last_line(&out),
        format!(
            "1 static file copied to '{}', 3 unmodified.",
            root.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(root.join("js/app.js")).unwrap(),
        "console.log('changed');\n"
    );

    // Same size, other time: copied again.
    let source = site.dir.join("vendor/jquery.js");
    set_mtime(&source, mtime(&source) - Duration::from_secs(3600));
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 1);

    // A destination newer than its source (edited in place) is replaced.
    let dest = root.join("css/site.css");
    std::fs::write(&dest, "/* edited on the server, same size? no */").unwrap();
    set_mtime(&dest, SystemTime::now() + Duration::from_secs(3600));
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 1);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), SITE_CSS.repeat(10));
    // Even with the same size.
    let same_size = "x".repeat(SITE_CSS.len() * 10);
    std::fs::write(&dest, &same_size).unwrap();
    set_mtime(&dest, SystemTime::now() + Duration::from_secs(3600));
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 1);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), SITE_CSS.repeat(10));
    assert!(temp_files(&root).is_empty(), "{:?}", temp_files(&root));
}

#[test]
fn duplicates_are_listed_at_verbosity_2_and_counted_at_1() {
    let site = Site::new("");
    let (summary, out) = site.collect(CollectOptions {
        verbosity: 2,
        ..noinput()
    });
    assert_eq!(summary.duplicates, 1);
    let app_copy = site.dir.join("src/polls/static/css/site.css");
    assert!(
        out.contains(&format!(
            "Found another file with the destination path 'css/site.css' ({}).",
            app_copy.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Copying '{}'",
            site.dir.join("static/css/site.css").display()
        )),
        "{out}"
    );
    assert!(
        !std::fs::read_to_string(site.root().join("css/site.css"))
            .unwrap()
            .contains("loses")
    );
    let (_, out) = site.collect(noinput());
    assert!(out.contains("1 static file was ignored"), "{out}");
    assert!(!out.contains("Found another file"), "{out}");
    let (_, out) = site.collect(CollectOptions {
        verbosity: 2,
        ..noinput()
    });
    assert!(
        out.contains("Skipping 'css/site.css' (not modified)"),
        "{out}"
    );
    let (_, out) = site.collect(CollectOptions {
        verbosity: 0,
        ..noinput()
    });
    assert_eq!(out, "");
}

#[test]
fn ignore_patterns_and_no_default_ignore() {
    let site = Site::new("");
    write(&site.dir.join("static/scss/site.scss"), "$x: 1;");
    let (summary, _) = site.collect(CollectOptions {
        ignore_patterns: vec!["*.scss".into(), "lib/*".into()],
        ..noinput()
    });
    assert!(!site.root().join("scss/site.scss").exists());
    // lib/* is a path pattern inside the vendor folder: jquery.js is not under lib/ there.
    assert!(site.root().join("lib/jquery.js").exists());
    assert_eq!(summary.copied, 4);
    let (summary, _) = site.collect(CollectOptions {
        use_default_ignore: false,
        ..noinput()
    });
    assert!(site.root().join(".env").exists());
    assert!(site.root().join("scss/site.scss").exists());
    assert_eq!(summary.copied, 2);
}

#[test]
fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    let (summary, out) = site.collect(CollectOptions {
        dry_run: true,
        ..noinput()
    });
    assert!(!site.dir.join("www").exists());
    assert_eq!(summary.copied, 4);
    assert!(
        out.contains(&format!(
            "Pretending to copy '{}'",
            site.dir.join("static/js/app.js").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("Pretending to post-process 'css/site.css' as 'css/site."),
        "{out}"
    );

    // With files in place, a dry run with --clear deletes nothing either.
    site.collect(noinput());
    let before = walk(&site.root());
    write(
        &site.dir.join("static/js/app.js"),
        "console.log('changed');\n",
    );
    let (summary, out) = site.collect(CollectOptions {
        dry_run: true,
        clear: true,
        ..noinput()
    });
    assert!(summary.deleted > 0);
    assert!(out.contains("Pretending to delete 'css/site.css'"), "{out}");
    let mut after = walk(&site.root());
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read_to_string(site.root().join("js/app.js")).unwrap(),
        "console.log('app');\n"
    );
}

#[test]
fn clear_deletes_inside_static_root_only() {
    let site = Site::new("");
    let outside = site.temp.path().join("outside");
    write(&outside.join("keep.txt"), "keep");
    site.collect(noinput());
    write(&site.root().join("stale/old.css"), "old");
    std::os::unix::fs::symlink(&outside, site.root().join("linked")).unwrap();
    std::os::unix::fs::symlink(outside.join("keep.txt"), site.root().join("keep-link.txt"))
        .unwrap();
    let (summary, out) = site.collect(CollectOptions {
        clear: true,
        ..noinput()
    });
    assert!(!site.root().join("stale").exists());
    assert!(!site.root().join("linked").exists());
    assert!(!site.root().join("keep-link.txt").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "keep"
    );
    assert_eq!(summary.copied, 4);
    assert_eq!(
        last_line(&out),
        format!(
            "4 static files copied to '{}', 0 unmodified.",
            site.root().display()
        )
    );
}

fn refusal(site: &Site, static_root: &str, clear: bool) -> String {
    let mut settings = site.settings();
    settings.static_root = Some(PathBuf::from(static_root));
    let (result, _) = site.collect_with(&settings, CollectOptions { clear, ..noinput() }, "");
    result.unwrap_err()
}

#[test]
fn dangerous_static_roots_are_refused() {
    let site = Site::new("");
    let dir = site.dir.display().to_string();
    let parent = site.temp.path().display().to_string();
    let cases = [
        ("/".to_string(), false, "the root of the file system"),
        (dir.clone(), false, "base_dir"),
        (
            format!("{dir}/static"),
            false,
            "is the static source folder",
        ),
        (
            format!("{dir}/static/collected"),
            false,
            "is inside the static source folder",
        ),
        (
            format!("{dir}/vendor/../static/x/.."),
            false,
            "is the static source folder",
        ),
        (
            format!("{dir}/src"),
            false,
            "contains the static source folder",
        ),
        (
            format!("{dir}/src/polls/static"),
            false,
            "of the app 'polls'",
        ),
        (parent.clone(), true, "contains the static source folder"),
    ];
    for (root, clear, expected) in cases {
        let error = refusal(&site, &root, clear);
        assert!(error.contains(expected), "{root}: {error}");
        assert!(error.contains("static_root"), "{root}: {error}");
        assert!(error.contains("hint: "), "{root}: {error}");
    }
    // --clear with the settings file inside static_root, sources elsewhere.
    let conf = site.temp.path().join("conf");
    write(&conf.join("settings.toml"), "debug = true\n");
    let mut settings = site.settings();
    settings.staticfiles_dirs = vec![];
    settings.settings_file = Some(conf.join("settings.toml"));
    settings.static_root = Some(conf.join("sub").join(".."));
    settings.base_dir = site.temp.path().join("elsewhere");
    let (result, _) = site.collect_with(
        &settings,
        CollectOptions {
            clear: true,
            ..noinput()
        },
        "",
    );
    let error = result.unwrap_err();
    assert!(
        error.contains("--clear would delete the settings file"),
        "{error}"
    );
    assert!(conf.join("settings.toml").exists());
    // The home folder.
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let error = refusal(&site, &home.to_string_lossy(), false);
        assert!(error.contains("the home folder"), "{error}");
    }
    // Nothing was written anywhere.
    assert!(!site.root().exists());
    assert!(!site.dir.join("static/collected").exists());
}

/// `static_root = "deep/lnk/.."`, `lnk` a link to `../static/css`, is
/// `static` as the system follows it: `..` after a link is the parent of
/// the link's target. The refusals took it for `deep`, and `--clear`
/// deleted the source folder's files.
#[test]
fn a_dotdot_after_a_link_into_a_source_is_refused_and_nothing_deleted() {
    let site = Site::new("");
    std::fs::create_dir_all(site.dir.join("deep")).unwrap();
    std::os::unix::fs::symlink("../static/css", site.dir.join("deep/lnk")).unwrap();
    let sources = walk(&site.dir.join("static"));
    assert!(sources.len() >= 3, "{sources:?}");
    let mut settings = site.settings();
    settings.static_root = Some(site.dir.join("deep/lnk/.."));
    for dry_run in [false, true] {
        let (result, out) = site.collect_with(
            &settings,
            CollectOptions {
                clear: true,
                dry_run,
                verbosity: 2,
                ..noinput()
            },
            "",
        );
        let dir = site.dir.display();
        assert_eq!(
            result.unwrap_err(),
            format!(
                "error: static_root '{dir}/deep/lnk/..' is the static source folder '{dir}/static' \
                 (listed in staticfiles_dirs)\n  hint: static_root is where collectstatic copies the \
                 files to: set it to a folder of its own, such as static_root = \"www_dir/static\""
            )
        );
        assert_eq!(out, "", "dry run {dry_run}");
        assert_eq!(walk(&site.dir.join("static")), sources);
    }
}

#[test]
fn an_unset_static_root_names_the_key() {
    let site = Site::new("");
    let mut settings = site.settings();
    settings.static_root = None;
    let (result, _) = site.collect_with(&settings, noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("static_root is not set"), "{error}");
    assert!(
        error.contains("set static_root in the settings file"),
        "{error}"
    );
}

#[test]
fn an_unreadable_source_file_is_named_and_nothing_is_half_written() {
    let site = Site::new("");
    std::os::unix::fs::symlink(
        site.dir.join("static/gone.css"),
        site.dir.join("static/css/broken.css"),
    )
    .unwrap();
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("cannot read static file"), "{error}");
    assert!(error.contains("broken.css"), "{error}");
    assert!(!site.root().join("css/broken.css").exists());
    assert!(temp_files(&site.root()).is_empty());

    // A file this user cannot open (only testable when not root).
    std::fs::remove_file(site.dir.join("static/css/broken.css")).unwrap();
    let locked = site.dir.join("static/css/locked.css");
    write(&locked, "locked");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        let (result, _) = site.collect_with(&site.settings(), noinput(), "");
        let error = result.unwrap_err();
        assert!(error.contains("locked.css"), "{error}");
        assert!(!site.root().join("css/locked.css").exists());
        assert!(temp_files(&site.root()).is_empty());
    }
}

/// Emacs marks a file being edited with a dangling link `.#name`: an
/// ignored name (`.*`), so collectstatic leaves it out instead of failing
/// on it, and so does any link the patterns name (broken or looping).
#[test]
fn an_ignored_broken_link_is_left_out() {
    let site = Site::new("");
    std::os::unix::fs::symlink(
        "ann@host.1234:1700000000",
        site.dir.join("static/css/.#site.css"),
    )
    .unwrap();
    std::os::unix::fs::symlink("loop~", site.dir.join("static/css/loop~")).unwrap();
    std::os::unix::fs::symlink("gone", site.dir.join("static/js/old.js")).unwrap();
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("js/old.js"), "a link not ignored: {error}");
    let (summary, _) = site.collect(CollectOptions {
        ignore_patterns: vec!["old.js".into()],
        ..noinput()
    });
    assert_eq!(summary.copied, 4);
}

/// A file whose name is not UTF-8 (from an old archive) has no URL: the
/// error names it and says to rename it, and the `--ignore` it suggests
/// does leave it out (the name failed before the patterns were tried).
#[test]
fn a_name_that_is_not_utf8_is_named_and_can_be_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let site = Site::new("");
    let odd = site
        .dir
        .join("static/css")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.css"));
    std::fs::write(&odd, "body{}").unwrap();
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("is not valid UTF-8"), "{error}");
    assert!(error.contains("static/css/caf"), "{error}");
    assert!(
        error.contains("hint: rename it with a UTF-8 name (its URL is made of its name)"),
        "{error}"
    );
    assert!(!error.contains("readable"), "{error}");
    assert!(!site.root().exists(), "nothing is written");

    let (summary, _) = site.collect(CollectOptions {
        ignore_patterns: vec!["caf*.css".into()],
        ..noinput()
    });
    assert_eq!(summary.copied, 4);
    assert!(site.root().join("css/site.css").is_file());
}

#[test]
fn the_prompt_needs_yes_and_a_closed_stdin_cancels() {
    let site = Site::new("");
    let interactive = CollectOptions {
        interactive: true,
        ..CollectOptions::default()
    };
    // Empty static_root: no question.
    let (result, out) = site.collect_with(&site.settings(), interactive.clone(), "");
    result.unwrap();
    assert!(!out.contains("Are you sure"), "{out}");

    write(&site.dir.join("static/js/app.js"), "console.log('v2');\n");
    for answer in ["", "no\n", "y\n", "YES\n"] {
        let (result, out) = site.collect_with(&site.settings(), interactive.clone(), answer);
        let error = result.unwrap_err();
        assert!(
            error.contains("collecting static files cancelled"),
            "{answer:?}: {error}"
        );
        assert!(out.contains("This will overwrite existing files!"), "{out}");
        assert!(
            out.contains(&format!("    {}\n", site.root().display())),
            "{out}"
        );
        assert!(
            out.contains("Type 'yes' to continue, or 'no' to cancel: "),
            "{out}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(site.root().join("js/app.js")).unwrap(),
        "console.log('app');\n"
    );
    let (result, out) = site.collect_with(
        &site.settings(),
        CollectOptions {
            clear: true,
            ..interactive.clone()
        },
        "no\n",
    );
    assert!(result.is_err());
    assert!(
        out.contains("This will DELETE ALL FILES in this location!"),
        "{out}"
    );
    let (result, out) = site.collect_with(&site.settings(), interactive, "yes\n");
    result.unwrap();
    assert_eq!(
        last_line(&out),
        format!(
            "1 static file copied to '{}', 3 unmodified.",
            site.root().display()
        )
    );
}

#[test]
fn link_makes_symlinks() {
    let site = Site::new("");
    let (_, out) = site.collect(CollectOptions {
        link: true,
        ..noinput()
    });
    assert_eq!(
        last_line(&out),
        format!(
            "4 static files symlinked to '{}', 0 unmodified.",
            site.root().display()
        )
    );
    let link = site.root().join("css/site.css");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        site.dir.join("static/css/site.css")
    );
    let (summary, _) = site.collect(CollectOptions {
        link: true,
        ..noinput()
    });
    assert_eq!(summary.copied, 0);
    // Back to copies: the links are replaced by files.
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 4);
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// With manifest storage, a source file named `staticfiles.json` (at the
/// top of static_root) would be replaced by the manifest on every run, its
/// URL serving the manifest and the run never settling: refused before
/// anything is written, naming the file and the fix.
#[test]
fn a_static_file_named_like_the_manifest_is_refused() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(
        &site.dir.join("static/staticfiles.json"),
        "{\"app\": \"mine\"}",
    );
    // Elsewhere than the top, the name is free.
    write(&site.dir.join("static/data/staticfiles.json"), "{}");
    for options in [
        noinput(),
        CollectOptions {
            post_process: false,
            ..noinput()
        },
    ] {
        let (result, _) = site.collect_with(&site.settings(), options, "");
        let error = result.unwrap_err();
        assert!(
            error.contains(&format!(
                "the static file '{}' has the name of the manifest",
                site.dir.join("static/staticfiles.json").display()
            )),
            "{error}"
        );
        assert!(error.contains("hint: rename it"), "{error}");
        assert!(!site.root().exists(), "nothing is written");
    }
    // The hint's --ignore leaves out that file only.
    let (summary, _) = site.collect(CollectOptions {
        ignore_patterns: vec!["/staticfiles.json".into()],
        ..noinput()
    });
    assert_eq!(summary.copied, 5);
    assert!(site.root().join("data/staticfiles.json").is_file());
    std::fs::remove_dir_all(site.root()).unwrap();
    std::fs::remove_file(site.dir.join("static/staticfiles.json")).unwrap();
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 5);
    // Plain storage writes no manifest: the name is free there.
    let plain = Site::new("");
    write(&plain.dir.join("static/staticfiles.json"), "{}");
    plain.collect(noinput());
    assert_eq!(
        std::fs::read_to_string(plain.root().join("staticfiles.json")).unwrap(),
        "{}"
    );
}

#[test]
fn manifest_storage_hashes_rewrites_and_settles() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(&site.dir.join("static/img/logo.png"), "PNG-DATA");
    write(
        &site.dir.join("static/css/base.css"),
        "@import 'fonts.css';\nh1{background:url(\"../img/logo.png#top\")}\n",
    );
    write(
        &site.dir.join("static/css/fonts.css"),
        "@font-face{src:url(/static/img/logo.png?v=1)}\n",
    );
    let root = site.root();
    let (summary, out) = site.collect(noinput());
    assert_eq!(summary.post_processed, Some(7));
    assert_eq!(
        last_line(&out),
        format!(
            "7 static files copied to '{}', 0 unmodified, 7 post-processed.",
            root.display()
        )
    );
    let manifest_text = std::fs::read_to_string(root.join("staticfiles.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(manifest["version"], "1.1");
    let hashed = |name: &str| manifest["paths"][name].as_str().unwrap().to_string();
    let logo = hashed("img/logo.png");
    assert_eq!(
        logo,
        format!(
            "img/logo.{}.png",
            "3023626e5245" // the MD5 of `PNG-DATA`, first 12 hex digits
        )
    );
    let fonts = hashed("css/fonts.css");
    let base = std::fs::read_to_string(root.join(hashed("css/base.css"))).unwrap();
    assert_eq!(
        base,
        format!(
            "@import '{}';\nh1{{background:url(\"../{logo}#top\")}}\n",
            fonts.trim_start_matches("css/")
        )
    );
    assert_eq!(
        std::fs::read_to_string(root.join(&fonts)).unwrap(),
        format!("@font-face{{src:url(/static/{logo}?v=1)}}\n")
    );
    // The original keeps its content.
    assert!(
        std::fs::read_to_string(root.join("css/base.css"))
            .unwrap()
            .contains("'fonts.css'")
    );

    // Idempotent.
    let (summary, out) = site.collect(noinput());
    assert_eq!(
        last_line(&out),
        format!(
            "0 static files copied to '{}', 7 unmodified, 0 post-processed.",
            root.display()
        )
    );
    assert_eq!(summary.post_processed, Some(0));
    assert_eq!(
        std::fs::read_to_string(root.join("staticfiles.json")).unwrap(),
        manifest_text
    );

    // A hashed copy removed by hand is written again.
    std::fs::remove_file(root.join(hashed("css/base.css"))).unwrap();
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.post_processed, Some(1));
    assert_eq!(
        std::fs::read_to_string(root.join(hashed("css/base.css"))).unwrap(),
        base
    );

    // The image changes: the image, the stylesheet naming it, and the one
    // importing that stylesheet all get new names.
    write(&site.dir.join("static/img/logo.png"), "NEW-PNG-DATA");
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 1);
    assert_eq!(summary.post_processed, Some(3));
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("staticfiles.json")).unwrap())
            .unwrap();
    for name in ["img/logo.png", "css/fonts.css", "css/base.css"] {
        assert_ne!(after["paths"][name], manifest["paths"][name], "{name}");
    }
    assert_eq!(after["paths"]["js/app.js"], manifest["paths"]["js/app.js"]);
    assert_ne!(after["hash"], manifest["hash"]);
}

#[test]
fn a_missing_reference_fails_naming_file_line_and_target() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(
        &site.dir.join("static/css/broken.css"),
        "body{}\n\nh1{background:url('../img/missing.png')}\n",
    );
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("'css/broken.css' line 3"), "{error}");
    assert!(
        error.contains("'img/missing.png' does not exist"),
        "{error}"
    );
    assert!(error.contains("hint: add the missing file"), "{error}");
    assert!(!site.root().join("staticfiles.json").exists());
    // --no-post-process collects without hashing.
    let (summary, out) = site.collect(CollectOptions {
        post_process: false,
        ..noinput()
    });
    assert_eq!(summary.post_processed, None);
    assert!(!last_line(&out).contains("post-processed"));
    assert!(!site.root().join("staticfiles.json").exists());
    assert!(!site.root().join("css/site.css.gz").exists());
}

#[test]
fn compressible_files_get_smaller_gz_and_br_siblings() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    write(&site.dir.join("static/img/photo.png"), &"P".repeat(2000));
    let root = site.root();
    site.collect(noinput());
    let css = SITE_CSS.repeat(10);
    let gz = std::fs::read(root.join("css/site.css.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, css);
    let br = std::fs::read(root.join("css/site.css.br")).unwrap();
    let mut back = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, css.as_bytes());
    assert!(gz.len() < css.len() && br.len() < css.len());
    // Hashed names too.
    let manifest = nuages::staticfiles::Manifest::load(&root).unwrap();
    assert!(
        root.join(format!("{}.gz", manifest.paths["css/site.css"]))
            .is_file()
    );
    assert!(
        root.join(format!("{}.br", manifest.paths["css/site.css"]))
            .is_file()
    );
    // Too small, or not a compressible type: no siblings.
    assert!(!root.join("js/app.js.gz").exists());
    assert!(!root.join("img/photo.png.gz").exists());
    // Re-run: siblings are left alone; a change refreshes them.
    let before = mtime(&root.join("css/site.css.gz"));
    site.collect(noinput());
    assert_eq!(mtime(&root.join("css/site.css.gz")), before);
    write(
        &site.dir.join("static/css/site.css"),
        &"p { color: blue; }\n".repeat(40),
    );
    site.collect(noinput());
    let gz = std::fs::read(root.join("css/site.css.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "p { color: blue; }\n".repeat(40));
    assert!(temp_files(&root).is_empty());
}

/// `gunzip` of a `.gz` file.
fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&std::fs::read(path).unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn precompression_follows_debug_unless_set_and_never_leaves_stale_siblings() {
    // A development project (debug on, no staticfiles_precompress): copies only.
    let site = Site::new("");
    let root = site.root();
    let gz = root.join("css/site.css.gz");
    let br = root.join("css/site.css.br");
    let (summary, _) = site.collect(noinput());
    assert_eq!((summary.copied, summary.compressed), (4, 0));
    assert!(!gz.exists() && !br.exists());

    // Production settings (debug off): the siblings are made, nothing copied.
    let mut production = site.settings();
    production.debug = false;
    let (result, _) = site.collect_with(&production, noinput(), "");
    let summary = result.unwrap();
    assert_eq!((summary.copied, summary.compressed), (0, 2));
    assert_eq!(gunzip(&gz), SITE_CSS.repeat(10));

    // Back to development, the stylesheet changed: its old siblings go.
    let changed = "p { color: blue; }\n".repeat(40);
    write(&site.dir.join("static/css/site.css"), &changed);
    let (summary, out) = site.collect(CollectOptions {
        verbosity: 2,
        ..noinput()
    });
    assert_eq!((summary.copied, summary.compressed), (1, 0));
    assert!(!gz.exists() && !br.exists(), "{out}");
    assert!(out.contains("Deleting 'css/site.css.gz'"), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.join("css/site.css")).unwrap(),
        changed
    );

    // The setting wins over debug, both ways.
    let mut always = site.settings();
    always.staticfiles_precompress = Some(true);
    let (result, _) = site.collect_with(&always, noinput(), "");
    assert_eq!(result.unwrap().compressed, 2);
    assert_eq!(gunzip(&gz), changed);
    let mut never = production.clone();
    never.staticfiles_precompress = Some(false);
    write(&site.dir.join("static/css/site.css"), &SITE_CSS.repeat(20));
    let (result, _) = site.collect_with(&never, noinput(), "");
    assert_eq!(result.unwrap().compressed, 0);
    assert!(!gz.exists() && !br.exists());
    assert!(temp_files(&root).is_empty());
}

/// A stylesheet changed and copied with its old time (`cp -p`, an
/// archive, npm's fixed 1985 dates): its siblings, and so its hashed
/// copy's (cached for a year), held the old version, since a sibling with
/// the file's time counted as up to date. A static folder's own `.gz` or
/// `.br` beside a file was collected as is and sent in place of the file
/// whatever it held; collectstatic now makes them itself.
#[test]
fn siblings_are_made_from_the_file_as_collected_this_run() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    let root = site.root();
    let source = site.dir.join("static/css/site.css");
    let fixed = std::time::UNIX_EPOCH + Duration::from_secs(499_162_500);
    let write_at_fixed_time = |text: &str| {
        write(&source, text);
        std::fs::File::options()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(fixed)
            .unwrap();
    };
    let hashed_siblings = |text: &str| {
        let manifest = nuages::staticfiles::Manifest::load(&root).unwrap();
        let hashed = root.join(&manifest.paths["css/site.css"]);
        for plain_or_hashed in [root.join("css/site.css"), hashed] {
            let gz = PathBuf::from(format!("{}.gz", plain_or_hashed.display()));
            assert_eq!(gunzip(&gz), text, "{}", gz.display());
            let br = std::fs::read(format!("{}.br", plain_or_hashed.display())).unwrap();
            let mut back = String::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_string(&mut back)
                .unwrap();
            assert_eq!(back, text, "{}.br", plain_or_hashed.display());
        }
    };
    let one = "/* VERSION ONE */\n".to_string() + &"p { color: red; }\n".repeat(40);
    write_at_fixed_time(&one);
    site.collect(noinput());
    hashed_siblings(&one);
    let two = "/* VERSION TWO, longer */\n".to_string() + &"p { color: red; }\n".repeat(40);
    write_at_fixed_time(&two);
    site.collect(noinput());
    hashed_siblings(&two);

    // The source folder's own siblings, stale: left out, made again.
    let mut stale = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    stale.write_all(b"/* STALE SOURCE GZ */").unwrap();
    std::fs::write(
        site.dir.join("static/css/site.css.gz"),
        stale.finish().unwrap(),
    )
    .unwrap();
    write(&site.dir.join("static/css/site.css.br"), "STALE BR");
    let (_, out) = site.collect(noinput());
    assert!(
        out.contains(
            "2 compressed files of the static folders were left out: collectstatic makes the .gz and .br of the files beside them itself (-v 2 names them)."
        ),
        "{out}"
    );
    hashed_siblings(&two);
    let (_, out) = site.collect(CollectOptions {
        verbosity: 2,
        ..noinput()
    });
    assert!(out.contains("Leaving out '"), "{out}");
    assert!(
        out.contains("css/site.css.gz': collectstatic compresses the file beside it itself."),
        "{out}"
    );
    hashed_siblings(&two);
    // A file that shrinks below the size worth compressing loses the
    // siblings of its larger version (they were kept, and sent).
    write(&source, "p{}");
    site.collect(noinput());
    assert!(!root.join("css/site.css.gz").exists());
    assert!(!root.join("css/site.css.br").exists());
    // Without precompression they are the project's own files, collected.
    let mut plain = site.settings();
    plain.staticfiles_precompress = Some(false);
    let (result, _) = site.collect_with(&plain, noinput(), "");
    result.unwrap();
    assert_eq!(
        gunzip(&root.join("css/site.css.gz")),
        "/* STALE SOURCE GZ */"
    );
}

/// What a client accepting `encoding` gets for `path` from `serve --static`,
/// decoded.
async fn received(site: &Site, path: &str, encoding: &str) -> String {
    let client = Client::new(site.serving_collected());
    let response = client
        .request(http::Method::GET, path)
        .header("accept-encoding", encoding)
        .send()
        .await;
    assert_eq!(response.status, 200, "{path} {encoding}");
    let mut text = String::new();
    match response.header("content-encoding") {
        Some("gzip") => flate2::read::GzDecoder::new(&response.body[..])
            .read_to_string(&mut text)
            .unwrap(),
        Some("br") => brotli::Decompressor::new(&response.body[..], 4096)
            .read_to_string(&mut text)
            .unwrap(),
        None => return response.text(),
        Some(other) => panic!("{path}: content-encoding {other}"),
    };
    text
}

/// A run that failed at post-processing had renamed the new version of a
/// file into place and left the `.gz`/`.br` of the old one, which a later
/// `--no-post-process` run never removed: gzip and Brotli clients got the
/// old version. The old siblings now go before the new file is renamed
/// into place, and any run removes the siblings a file's time no longer
/// matches (left by a run of an earlier version).
#[tokio::test]
async fn no_run_leaves_the_siblings_of_an_old_version() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    let root = site.root();
    let big = site.dir.join("static/big.txt");
    let one = "VERSION ONE\n".repeat(40);
    let two = "VERSION TWO\n".repeat(40);
    write(&big, &one);
    site.collect(noinput());
    assert_eq!(gunzip(&root.join("big.txt.gz")), one);

    // The new version is copied, then post-processing fails.
    write(&big, &two);
    write(
        &site.dir.join("static/css/broken.css"),
        "h1{background:url('../img/missing.png')}\n",
    );
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    assert!(
        result
            .unwrap_err()
            .contains("'img/missing.png' does not exist")
    );
    assert_eq!(std::fs::read_to_string(root.join("big.txt")).unwrap(), two);
    for encoding in ["gzip", "br", "identity"] {
        assert_eq!(
            received(&site, "/static/big.txt", encoding).await,
            two,
            "{encoding}"
        );
    }

    // Fixed, collected without post-processing: nothing to copy, nothing old sent.
    std::fs::remove_file(site.dir.join("static/css/broken.css")).unwrap();
    let (summary, _) = site.collect(CollectOptions {
        post_process: false,
        ..noinput()
    });
    assert_eq!((summary.copied, summary.compressed), (0, 0));
    for encoding in ["gzip", "br"] {
        assert_eq!(
            received(&site, "/static/big.txt", encoding).await,
            two,
            "{encoding}"
        );
    }

    // Siblings of the old version with the old time, as a run of an earlier
    // version left them: removed by a run without compression...
    let made_from_one = |encoding: nuages::staticfiles::compress::Encoding| {
        let sibling = root.join(format!("big.txt{}", encoding.suffix()));
        std::fs::write(&sibling, encoding.compress(one.as_bytes()).unwrap()).unwrap();
        set_mtime(&sibling, mtime(&big) - Duration::from_secs(60));
    };
    for encoding in nuages::staticfiles::compress::Encoding::ALL {
        made_from_one(encoding);
    }
    assert_eq!(received(&site, "/static/big.txt", "gzip").await, one);
    let (summary, out) = site.collect(CollectOptions {
        post_process: false,
        verbosity: 2,
        ..noinput()
    });
    assert_eq!(summary.copied, 0);
    assert!(
        out.contains("Deleting 'big.txt.gz' (made from an older version)\n"),
        "{out}"
    );
    assert!(
        out.contains("Deleting 'big.txt.br' (made from an older version)\n"),
        "{out}"
    );
    assert!(!root.join("big.txt.gz").exists() && !root.join("big.txt.br").exists());
    for encoding in ["gzip", "br"] {
        assert_eq!(
            received(&site, "/static/big.txt", encoding).await,
            two,
            "{encoding}"
        );
    }
    // ...and made again from the file by one with it.
    for encoding in nuages::staticfiles::compress::Encoding::ALL {
        made_from_one(encoding);
    }
    site.collect(noinput());
    assert_eq!(gunzip(&root.join("big.txt.gz")), two);
    for encoding in ["gzip", "br"] {
        assert_eq!(
            received(&site, "/static/big.txt", encoding).await,
            two,
            "{encoding}"
        );
    }
    assert!(temp_files(&root).is_empty());
}

/// A file of one static folder named as a folder of another's: static_root
/// cannot hold both, and the copies stopped midway on "Is a directory",
/// with a hint about permissions. Refused by name before anything is
/// written.
#[test]
fn a_file_where_another_source_has_a_folder_is_refused_before_writing() {
    let site = Site::new("");
    write(&site.dir.join("static/lib"), "not a folder");
    write(&site.dir.join("vendor/extra.js"), "var x;");
    let (result, _) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.unwrap_err();
    assert!(error.contains("the static file 'lib' ("), "{error}");
    assert!(
        error.contains("has the name of a folder that holds 'lib/extra.js' ("),
        "{error}"
    );
    assert!(error.contains("rename one of them"), "{error}");
    assert!(!site.root().exists(), "nothing written: {error}");
}

#[test]
fn collectstatic_never_reads_a_sibling_that_leads_out() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    let root = site.root();
    let secret = site.dir.join("secret.txt");
    // In a source folder: the walker skips the link, the sibling is made.
    std::os::unix::fs::symlink(&secret, site.dir.join("static/css/site.css.gz")).unwrap();
    let (_, out) = site.collect(noinput());
    assert!(
        out.contains("static/css/site.css.gz': a symbolic link that leads out"),
        "{out}"
    );
    let css = SITE_CSS.repeat(10);
    assert_eq!(gunzip(&root.join("css/site.css.gz")), css);

    // Planted in static_root, looking up to date (the time of the file),
    // with the hashed copy's siblings to be made from it.
    let original = root.join("css/site.css");
    set_mtime(&secret, mtime(&original));
    let hashed = nuages::staticfiles::Manifest::load(&root).unwrap().paths["css/site.css"].clone();
    for suffix in [".gz", ".br"] {
        std::fs::remove_file(format!("{}{suffix}", original.display())).unwrap();
        std::os::unix::fs::symlink(&secret, format!("{}{suffix}", original.display())).unwrap();
        std::fs::remove_file(root.join(format!("{hashed}{suffix}"))).unwrap();
    }
    site.collect(noinput());
    for path in walk(&root) {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(
            !meta.file_type().is_symlink(),
            "{} is left a link",
            path.display()
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(10).any(|w| w == b"TOP-SECRET"),
            "{} holds the secret",
            path.display()
        );
    }
    assert_eq!(gunzip(&root.join("css/site.css.gz")), css);
    assert_eq!(gunzip(&root.join(format!("{hashed}.gz"))), css);
}

// ---------------------------------------------------------------- Django's edge cases

#[test]
fn manifest_storage_rewrites_tab_source_maps_and_normalises_references() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    let cached = site.dir.join("static/cached");
    // Django's own test files (tests/staticfiles_tests/project/documents/cached).
    write(
        &cached.join("source_map_tabs.css"),
        "* {outline: 1px solid red;}\n/*#\tsourceMappingURL=source_map.css.map\t*/\n",
    );
    write(&cached.join("source_map.css.map"), "{}");
    write(
        &cached.join("source_map_space.js"),
        "//# sourceMappingURL=source_map.js.map\n",
    );
    write(
        &cached.join("source_map_tab.js"),
        "go();\n//#\tsourceMappingURL=source_map.js.map\n",
    );
    write(&cached.join("source_map.js.map"), "{\"v\":3}");
    write(
        &cached.join("denorm.css"),
        "@import url(\"..//cached///styles.css\");\nbody {\n    background: #d3d6d8 url(img/relative.png );\n}\n",
    );
    write(&cached.join("styles.css"), "x{}");
    write(&cached.join("img/relative.png"), "PNG");
    site.collect(noinput());
    let root = site.root();
    let manifest = nuages::staticfiles::Manifest::load(&root).unwrap();
    let hashed = |name: &str| manifest.paths[name].clone();
    let file = |name: &str| hashed(name).rsplit('/').next().unwrap().to_string();
    let content = |name: &str| std::fs::read_to_string(root.join(hashed(name))).unwrap();

    let css = content("cached/source_map_tabs.css");
    assert!(
        !css.contains("/*#\tsourceMappingURL=source_map.css.map\t*/"),
        "{css}"
    );
    assert!(
        css.contains(&format!(
            "/*# sourceMappingURL={} */",
            file("cached/source_map.css.map")
        )),
        "{css}"
    );
    for js in ["cached/source_map_space.js", "cached/source_map_tab.js"] {
        let text = content(js);
        assert!(
            text.contains(&format!(
                "//# sourceMappingURL={}\n",
                file("cached/source_map.js.map")
            )),
            "{js}: {text}"
        );
    }

    let denorm = content("cached/denorm.css");
    assert!(!denorm.contains("..//cached///styles.css"), "{denorm}");
    assert!(
        denorm.contains(&format!("../cached/{}", file("cached/styles.css"))),
        "{denorm}"
    );
    assert!(
        denorm.contains(&format!("url(img/{} )", file("cached/img/relative.png"))),
        "{denorm}"
    );
}

#[test]
fn static_of_a_folder_is_its_unhashed_url() {
    let site = Site::new("staticfiles_storage = \"manifest\"\n");
    write(
        &site.dir.join("templates/folders.html"),
        "{{ static(path='path/') }} {{ static(path='path/?query') }} {{ static(path='/') }}",
    );
    let mut production = site.settings();
    production.debug = false;
    let expected = "/static/path/ /static/path/?query /static/";
    // Before collectstatic (no manifest needed for a folder), and after.
    for collect in [false, true] {
        if collect {
            site.collect(noinput());
        }
        let page = site
            .application(production.clone())
            .templates()
            .render_string("folders.html", Default::default());
        assert_eq!(page.unwrap(), expected, "collected: {collect}");
    }
}

#[test]
fn every_name_the_file_system_accepts_collects() {
    // Plain storage: a 255-byte name, compressible (its siblings' names
    // would be too long, so it has none).
    let site = Site::new("staticfiles_precompress = true\n");
    let longest = format!("long/{}.css", "a".repeat(251));
    assert_eq!(longest.rsplit('/').next().unwrap().len(), 255);
    let css = SITE_CSS.repeat(10);
    write(&site.dir.join("static").join(&longest), &css);
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 5);
    let root = site.root();
    assert_eq!(std::fs::read_to_string(root.join(&longest)).unwrap(), css);
    assert!(root.join("css/site.css.gz").is_file());
    assert_eq!(walk(&root.join("long")), [root.join(&longest)]);

    // Manifest storage: a name whose hashed name has 255 bytes.
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    let name = format!("long/{}.css", "b".repeat(238));
    write(&site.dir.join("static").join(&name), &css);
    let (summary, _) = site.collect(noinput());
    assert_eq!(summary.copied, 5);
    let root = site.root();
    let manifest = nuages::staticfiles::Manifest::load(&root).unwrap();
    let hashed = &manifest.paths[&name];
    assert_eq!(hashed.rsplit('/').next().unwrap().len(), 255);
    assert_eq!(std::fs::read_to_string(root.join(hashed)).unwrap(), css);
    assert_eq!(std::fs::read_to_string(root.join(&name)).unwrap(), css);
    assert!(root.join(format!("{name}.gz")).is_file());
    assert!(temp_files(&root).is_empty(), "{:?}", temp_files(&root));
}

/// Manifest storage adds 13 bytes (`.` and 12 hex digits) to each name: a
/// source name that fits the file system's 255 bytes but whose hashed copy
/// would not is refused before anything is written, naming the file, the
/// limit and the fix; static_root is left as it was.
#[test]
fn a_name_too_long_for_its_hashed_copy_is_refused_before_anything_is_written() {
    let site = Site::new("staticfiles_storage = \"manifest\"\nstaticfiles_precompress = true\n");
    site.collect(noinput());
    let root = site.root();
    // Every file of static_root, with its content.
    let contents = || -> Vec<(PathBuf, Vec<u8>)> {
        walk(&root)
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect()
    };
    let before = contents();
    let name = format!("long/{}.css", "a".repeat(251));
    let source = site.dir.join("static").join(&name);
    write(&source, &SITE_CSS.repeat(10));
    let (result, out) = site.collect_with(&site.settings(), noinput(), "");
    let error = result.expect_err(&out);
    assert_eq!(
        error,
        format!(
            "error: the static file '{}' has a name of 255 bytes, and its hashed copy (manifest \
             storage adds a '.' and 12 hex digits of hash) would have 268: more than the 255 \
             bytes a file name may have; nothing was written\n  hint: rename it to a name of at \
             most 242 bytes, or leave it out with --ignore PATTERN",
            source.display(),
        )
    );
    assert!(contents() == before, "{:?}", walk(&root));
    // Asked interactively, the refusal comes before the question.
    let interactive = CollectOptions {
        interactive: true,
        ..CollectOptions::default()
    };
    let (result, out) = site.collect_with(&site.settings(), interactive, "yes\n");
    assert!(result.expect_err(&out).contains("its hashed copy"));
    assert!(!out.contains("Are you sure"), "{out}");
    assert!(contents() == before, "{:?}", walk(&root));
    // Plain storage copies it as it is; so does --no-post-process.
    let (summary, _) = site.collect(CollectOptions {
        post_process: false,
        ..noinput()
    });
    assert_eq!(summary.copied, 1);
    assert!(root.join(&name).is_file());
}

/// A copy whose path the system refuses as too long (here static_root's
/// path plus the file's passes PATH_MAX, 4,096 bytes) is named with the
/// fixes for a name too long, not with a full disk or permissions.
#[test]
fn a_path_too_long_to_write_names_shorter_names_as_the_fix() {
    let site = Site::new("");
    let mut settings = site.settings();
    // 3,900 bytes of folders under the site's folder, made one level at a
    // time (each call's path stays short).
    let mut deep = site.dir.clone();
    for level in 0..26 {
        deep.push(format!("{level:02}{}", "d".repeat(148)));
    }
    let mut made = site.dir.clone();
    for part in deep.strip_prefix(&site.dir).unwrap() {
        made.push(part);
        std::fs::create_dir(&made).unwrap();
    }
    let name = format!("css/{}.css", "n".repeat(240));
    write(&site.dir.join("static").join(&name), SITE_CSS);
    settings.static_root = Some(deep.clone());
    let (result, out) = site.collect_with(&settings, noinput(), "");
    let error = result.expect_err(&out);
    assert!(
        error.contains("File name too long")
            && error.ends_with(
                "hint: rename the static file or its folder to a shorter name, or set \
                 static_root to a shorter path (on a file system that takes names this long), \
                 or leave the file out with --ignore PATTERN"
            ),
        "{error}"
    );
}
