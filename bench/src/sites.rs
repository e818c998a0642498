//! What is measured on the Nuages side: a one-page project (`/hello/<name>/`
//! rendered from a small Tera template) run by the framework's own command
//! line, and the settings files of every Nuages process the harness starts.

use std::path::Path as FsPath;

use nuages::Project;
use nuages::prelude::*;

/// The template both servers render for `/hello/<name>/`.
pub const HELLO_TEMPLATE: &str = "<!doctype html>
<html lang=\"en\">
<head><meta charset=\"utf-8\"><title>Hello, {{ name }}</title></head>
<body>
  <h1>Hello, {{ name }}!</h1>
  <p>This page was rendered for {{ name | upper }} by a Tera template.</p>
  <ul>{% for i in range(end=5) %}<li>item {{ i }}</li>{% endfor %}</ul>
</body>
</html>
";

/// The body of Nuages' production 404 page, which the axum baseline sends too.
pub const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><title>Not Found</title></head><body><h1>Not Found</h1><p>The requested resource was not found on this server.</p></body></html>\n";

/// A strong secret key (over 50 characters, many distinct ones), so that
/// `serve` accepts the production settings.
pub const SECRET_KEY: &str = "bench-2f9Q!x7@Lr#p0Vz&Kd4^Tm8*Wn3(Ys6)Hc1_Jb5=Gf0+Eu9aQ";

/// `/hello/<name>/`: the name from the URL, through a template.
async fn hello(Path(name): Path<String>, templates: Templates) -> Result<Html<String>> {
    templates.render("hello.html", context! { "name" => &name })
}

fn urlpatterns() -> UrlConf {
    UrlConf::new().path("hello/<str:name>/", hello, "hello")
}

/// The project: no apps, one view.
pub fn project() -> Project {
    Project::new("hellosite", env!("CARGO_MANIFEST_DIR")).urls(urlpatterns)
}

/// The pages of the other apps of the many-routes sites: never requested.
async fn other_page(Path(id): Path<i64>) -> Html<String> {
    Html(format!("<p>item {id}</p>"))
}

async fn other_index() -> Html<&'static str> {
    Html("<p>index</p>")
}

/// `count` URL patterns as a project grows them: apps of three patterns
/// each (`appN/`, `appN/<int:id>/`, `appN/<int:id>/edit/`) included under
/// their prefix, and `/hello/<name>/` last (the worst place for a resolver
/// that tries the patterns in order, as Django's does).
fn urlpatterns_with(count: usize) -> UrlConf {
    let mut conf = UrlConf::new();
    for app in 0..(count - 1) / 3 {
        conf = conf.include(
            &format!("app{app}/"),
            UrlConf::new()
                .path("", other_index, &format!("app{app}-index"))
                .path("<int:id>/", other_page, &format!("app{app}-detail"))
                .path("<int:id>/edit/", other_page, &format!("app{app}-edit")),
        );
    }
    conf.path("hello/<str:name>/", hello, "hello")
}

fn urlpatterns_10() -> UrlConf {
    urlpatterns_with(ROUTES_FEW)
}

fn urlpatterns_1000() -> UrlConf {
    urlpatterns_with(ROUTES_MANY)
}

/// The URLconf sizes compared (issue #17: 1,000 patterns against 10).
pub const ROUTES_FEW: usize = 10;
pub const ROUTES_MANY: usize = 1000;

/// `nuages-bench routesite COUNT ARGS…`: the one-page project with
/// `COUNT` URL patterns (10 or 1000).
pub fn routesite_main(args: Vec<String>) -> std::process::ExitCode {
    let urls = match args.get(1).map(String::as_str) {
        Some("10") => urlpatterns_10,
        Some("1000") => urlpatterns_1000,
        _ => {
            eprintln!("usage: nuages-bench routesite 10|1000 COMMAND…");
            return std::process::ExitCode::from(2);
        }
    };
    let project = Project::new("routesite", env!("CARGO_MANIFEST_DIR")).urls(urls);
    // The command line sees `routesite COMMAND…`, as a binary named so would.
    let mut rest = vec![args[0].clone()];
    rest.extend(args[2..].iter().cloned());
    nuages::management::ManagementUtility::new(project).execute_from(rest)
}

/// `nuages-bench hellosite ARGS…`: the project's command line (`serve`,
/// `check`, `collectstatic`…), as its own binary would be.
pub fn hellosite_main(args: Vec<String>) -> std::process::ExitCode {
    nuages::management::ManagementUtility::new(project()).execute_from(args)
}

/// `nuages-bench mysite ARGS…`: the example project's command line, the
/// same code as `target/release/mysite ARGS…`.
pub fn mysite_main(args: Vec<String>) -> std::process::ExitCode {
    nuages::management::ManagementUtility::new(mysite::wsgi::project()).execute_from(args)
}

/// Production settings for `serve` over plain HTTP on loopback: debug off,
/// a strong key, the hosts set, the default middleware, the default log
/// level (one line per request, to the server's stderr, which the harness
/// sends to a file). `secure_ssl_redirect` stays off because the load is
/// plain HTTP.
pub fn production_settings(
    template_dirs: &[&FsPath],
    static_dirs: &[&FsPath],
    static_root: &FsPath,
    database: &FsPath,
) -> String {
    let list = |dirs: &[&FsPath]| {
        dirs.iter()
            .map(|d| format!("{:?}", d.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# Written by nuages-bench.
debug = false
secret_key = \"{SECRET_KEY}\"
allowed_hosts = [\"127.0.0.1\", \"localhost\"]
template_dirs = [{templates}]
staticfiles_dirs = [{statics}]
static_root = {root:?}
staticfiles_storage = \"plain\"
secure_ssl_redirect = false
log_level = \"info\"

[databases.default]
url = \"sqlite://{database}\"
",
        templates = list(template_dirs),
        statics = list(static_dirs),
        root = static_root.display().to_string(),
        database = database.display(),
    )
}
