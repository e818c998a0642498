//! The baselines: the same pages written directly with axum, tera and sqlx,
//! as one would without a framework. No middleware, no logging.
//!
//! - `serve-axum-hello PORT TEMPLATE_DIR`: `/hello/{name}/` rendered from
//!   the same template file as the Nuages project, and the same 404 page.
//! - `serve-axum-polls PORT DATABASE PROJECT_TEMPLATES POLLS_TEMPLATES`: `/polls/` with the same
//!   query as `Question::latest` and the same templates (`base.html`,
//!   `polls/index.html`), on an sqlx `Any` pool with the same size and
//!   SQLite pragmas (WAL, busy timeout, foreign keys, synchronous NORMAL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, FromRow};
use tera::{Context, Kwargs, Tera};

fn listen_and_serve(port: u16, app: Router) -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the port is free");
        axum::serve(listener, app).await.expect("serving");
    });
    std::process::ExitCode::SUCCESS
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Html(crate::sites::NOT_FOUND_PAGE)).into_response()
}

fn server_error(error: impl std::fmt::Display) -> Response {
    eprintln!("error: {error}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<h1>Server Error (500)</h1>"),
    )
        .into_response()
}

/// Every template file under `dirs`, named by its path relative to its folder.
fn load_templates(dirs: &[PathBuf], tera: &mut Tera) -> tera::TeraResult<()> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push((path.clone(), relative.to_string_lossy().replace('\\', "/")));
            }
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        walk(dir, dir, &mut files);
    }
    tera.add_template_files(files.iter().map(|(path, name)| (path, Some(name.as_str()))))
}

// ---- hello ----------------------------------------------------------------

async fn hello(State(tera): State<Arc<Tera>>, UrlPath(name): UrlPath<String>) -> Response {
    let mut context = Context::new();
    context.insert("name", &name);
    match tera.render("hello.html", &context) {
        Ok(page) => Html(page).into_response(),
        Err(error) => server_error(error),
    }
}

/// `serve-axum-hello PORT TEMPLATE_DIR`.
pub fn hello_main(args: &[String]) -> std::process::ExitCode {
    let port: u16 = args[0].parse().expect("a port");
    let mut tera = Tera::new();
    load_templates(&[PathBuf::from(&args[1])], &mut tera).expect("the templates load");
    let app = Router::new()
        .route("/hello/{name}/", get(hello))
        .fallback(|| async { not_found() })
        .with_state(Arc::new(tera));
    listen_and_serve(port, app)
}

// ---- polls ----------------------------------------------------------------

#[derive(Serialize, FromRow)]
struct Question {
    id: i64,
    question_text: String,
    pub_date: String,
}

#[derive(Clone)]
struct Polls {
    tera: Arc<Tera>,
    pool: AnyPool,
}

async fn polls_index(State(polls): State<Polls>) -> Response {
    let now = chrono_now();
    let latest: Vec<Question> = match sqlx::query_as(
        "SELECT id, question_text, pub_date FROM polls_question \
         WHERE pub_date <= $1 ORDER BY pub_date DESC, id DESC LIMIT $2",
    )
    .bind(now)
    .bind(5_i64)
    .fetch_all(&polls.pool)
    .await
    {
        Ok(rows) => rows,
        Err(error) => return server_error(error),
    };
    let mut context = Context::new();
    context.insert("latest_question_list", &latest);
    // What base.html reads on every page: nobody is logged in, no messages.
    context.insert(
        "user",
        &std::collections::BTreeMap::from([("is_authenticated", false)]),
    );
    context.insert("messages", &Vec::<String>::new());
    // What the index reads for its "Add a question" link: no permission.
    context.insert(
        "perms",
        &std::collections::BTreeMap::from([(
            "polls",
            std::collections::BTreeMap::from([("add_question", false)]),
        )]),
    );
    match polls.tera.render("polls/index.html", &context) {
        Ok(page) => Html(page).into_response(),
        Err(error) => server_error(error),
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS`, as the example stores it.
fn chrono_now() -> String {
    nuages::timezone::to_db(nuages::timezone::now())
}

/// `serve-axum-polls PORT DATABASE PROJECT_TEMPLATES POLLS_TEMPLATES`.
pub fn polls_main(args: &[String]) -> std::process::ExitCode {
    let port: u16 = args[0].parse().expect("a port");
    let database = args[1].clone();
    let dirs: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
    let mut tera = Tera::new();
    // The two functions the polls templates call, written by hand.
    tera.register_function("static", |kwargs: Kwargs, _: &tera::State| {
        let path: &str = kwargs.must_get("path")?;
        Ok::<_, tera::Error>(format!("/static/{path}"))
    });
    tera.register_function("url", |kwargs: Kwargs, _: &tera::State| {
        let name: &str = kwargs.must_get("name")?;
        let id: i64 = kwargs.must_get("question_id")?;
        match name {
            "polls:detail" => Ok(format!("/polls/{id}/")),
            "polls:results" => Ok(format!("/polls/{id}/results/")),
            "polls:vote" => Ok(format!("/polls/{id}/vote/")),
            other => Err(tera::Error::message(format!("no route {other}"))),
        }
    });
    // base.html calls it only for a logged-in user, which the load never is;
    // Tera still wants every function the template names to exist.
    tera.register_function("csrf_input", |_: Kwargs, _: &tera::State| {
        Ok::<_, tera::Error>(String::new())
    });
    // Only the two templates the page uses.
    tera.add_template_files([
        (dirs[0].join("base.html"), Some("base.html")),
        (dirs[1].join("polls/index.html"), Some("polls/index.html")),
    ])
    .expect("the templates load");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let pool = runtime.block_on(async {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA busy_timeout = 5000",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA synchronous = NORMAL",
                    ] {
                        sqlx::query(pragma).execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .connect(&format!("sqlite://{database}?mode=rwc"))
            .await
            .expect("the database opens")
    });
    let app = Router::new()
        .route("/polls/", get(polls_index))
        .fallback(|| async { not_found() })
        .with_state(Polls {
            tera: Arc::new(tera),
            pool,
        });
    runtime.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the port is free");
        axum::serve(listener, app).await.expect("serving");
    });
    std::process::ExitCode::SUCCESS
}
