//! The example site as a visitor meets it: a real server on loopback, a real
//! SQLite file, 20 clients voting at once, and a real headless Chromium (a
//! visitor who votes; a superuser who logs in, adds a question and logs out).
//! The votes and the migrate/showmigrations tests run twice: on SQLite and
//! on a real PostgreSQL server (modules `sqlite` and `postgres`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::Locator;
use nuages_e2e::postgres::{Backend, PostgresServer};
use nuages_e2e::{Example, Server, form_credentials, free_port, get, http, target_dir, wait_for};

nuages_e2e::on_both_databases!(
    sync: two_hundred_parallel_votes_are_all_counted,
    pending_migrations_are_listed_and_announced_until_migrate_runs
);

/// What a visitor of the example sees.
trait Visit {
    fn serve(&self) -> (Server, SocketAddr);
    fn votes(&self, question: i64) -> Vec<i64>;
}

impl Visit for Example {
    fn serve(&self) -> (Server, SocketAddr) {
        let port = free_port();
        let server = Server::start(
            self.command()
                .args(["runserver", "--noreload", &port.to_string()]),
            self.dir.path(),
            "example",
        );
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for(Duration::from_secs(30), || get(addr, "/polls/").ok())
            .unwrap_or_else(|| panic!("the example did not start: {}", server.output()));
        (server, addr)
    }

    fn votes(&self, question: i64) -> Vec<i64> {
        let settings = mysite::wsgi::project()
            .settings_loader(&self.settings)
            .env(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let databases = nuages::db::Databases::new(&settings);
            let pool = databases.get("default").await.unwrap();
            mysite::polls::models::Choice::of(&pool, question)
                .await
                .unwrap()
                .iter()
                .map(|c| c.votes)
                .collect()
        })
    }
}

fn two_hundred_parallel_votes_are_all_counted(backend: Backend) {
    let Some(example) = Example::on(backend) else {
        return;
    };
    let (server, addr) = example.serve();
    let before = example.votes(1);
    let threads: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let (cookie, token) = form_credentials(addr, "/polls/1/", &[]);
                let mut statuses = Vec::new();
                for _ in 0..10 {
                    let response = http(
                        addr,
                        "POST",
                        "/polls/1/vote/",
                        &[
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Cookie", &format!("csrftoken={cookie}")),
                        ],
                        &format!("csrfmiddlewaretoken={token}&choice=1"),
                    )
                    .unwrap();
                    statuses.push((
                        response.status,
                        response.header("location").map(str::to_string),
                    ));
                }
                statuses
            })
        })
        .collect();
    let mut redirects = 0;
    for thread in threads {
        for (status, location) in thread.join().unwrap() {
            assert_eq!(status, 302);
            assert_eq!(location.as_deref(), Some("/polls/1/results/"));
            redirects += 1;
        }
    }
    assert_eq!(redirects, 200);
    let after = example.votes(1);
    assert_eq!(
        after[0],
        before[0] + 200,
        "before {before:?}, after {after:?}"
    );
    assert_eq!(after[1..], before[1..]);
    let output = server.output();
    assert!(!output.contains("database is locked"), "{output}");
    assert!(!output.contains(" 500 "), "{output}");
}

/// chromedriver's path; `None` (the test skips, saying why) when it is not
/// installed, which fails the test under CI.
fn chromedriver() -> Option<PathBuf> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromedriver is missing: .ci/run must install chromium and chromium-driver");
        }
        eprintln!(
            "SKIPPED: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// Run `visit` in a real headless Chromium driven by `driver` (its logs in
/// `logs`); a browser error fails the test with chromedriver's output.
fn in_chromium<T>(
    driver: &Path,
    logs: &Path,
    visit: impl AsyncFnOnce(&fantoccini::Client) -> Result<T, fantoccini::error::CmdError>,
) -> T {
    let driver_port = free_port();
    let mut chromedriver = Server::start(
        Command::new(driver).arg(format!("--port={driver_port}")),
        logs,
        "chromedriver",
    );
    let profile = tempfile::tempdir().unwrap();
    let result = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1024,768",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        let client = wait_for_async(|| async {
            fantoccini::ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
                .ok()
        })
        .await
        .expect("chromedriver accepts a session");
        let outcome = visit(&client).await;
        let _ = client.close().await;
        outcome
    });
    let value = result.unwrap_or_else(|e| panic!("browser: {e}\n{}", chromedriver.output()));
    chromedriver.stop(Duration::from_secs(5));
    value
}

/// Where the browser tests leave their screenshots.
fn save_screenshot(name: &str, png: &[u8]) {
    let output_dir = target_dir().join("e2e-output");
    std::fs::create_dir_all(&output_dir).unwrap();
    std::fs::write(output_dir.join(name), png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
}

#[test]
fn a_visitor_votes_in_headless_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let example = Example::new();
    let (_server, addr) = example.serve();
    let before = example.votes(1);
    let (votes, url, screenshot) = in_chromium(&driver, example.dir.path(), async |client| {
        client
            .goto(&format!("http://127.0.0.1:{}/polls/", addr.port()))
            .await?;
        client
            .find(Locator::LinkText("What's new?"))
            .await?
            .click()
            .await?;
        client.find(Locator::Css("#choice1")).await?.click().await?;
        client
            .find(Locator::Css("input[type=submit]"))
            .await?
            .click()
            .await?;
        let votes = client
            .wait()
            .for_element(Locator::Css(".votes[data-choice='1']"))
            .await?
            .text()
            .await?;
        let url = client.current_url().await?;
        Ok((votes, url.to_string(), client.screenshot().await?))
    });
    save_screenshot("polls-results.png", &screenshot);
    assert!(url.ends_with("/polls/1/results/"), "{url}");
    assert_eq!(votes.trim(), (before[0] + 1).to_string());
    assert_eq!(example.votes(1)[0], before[0] + 1);
}

/// What the browser saw along the staff flow of
/// `a_superuser_adds_a_question_in_headless_chromium`.
#[derive(Debug, Default)]
struct StaffVisit {
    after_login: String,
    invalid_errors: String,
    invalid_question_kept: Option<String>,
    added_url: String,
    added_messages: String,
    results: Vec<String>,
    results_messages: String,
    after_logout: String,
    add_again_url: String,
    add_again_heading: String,
}

/// The whole staff flow in a real browser: a superuser made by
/// `createsuperuser --noinput` logs in through the login page, adds a
/// question (an invalid form, then a valid one), votes on it, logs out,
/// and is sent to the login page when opening `polls/add/` again.
#[test]
fn a_superuser_adds_a_question_in_headless_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let example = Example::new();
    let password = "plum-violin-orbit-42";
    example.create_superuser(&example.settings, "admin", "admin@example.com", password);
    let (_server, addr) = example.serve();
    let site = format!("http://127.0.0.1:{}", addr.port());
    let text_of = async |client: &fantoccini::Client, css: &str| {
        client
            .wait()
            .for_element(Locator::Css(css))
            .await?
            .text()
            .await
    };
    let fill = async |client: &fantoccini::Client, css: &str, text: &str| {
        client.find(Locator::Css(css)).await?.send_keys(text).await
    };
    let submit = async |client: &fantoccini::Client, css: &str| {
        client.find(Locator::Css(css)).await?.click().await
    };
    let (seen, screenshot) = in_chromium(&driver, example.dir.path(), async |client| {
        let mut seen = StaffVisit::default();
        // Log in from the link in the header of every page.
        client.goto(&format!("{site}/polls/")).await?;
        client
            .find(Locator::LinkText("Log in"))
            .await?
            .click()
            .await?;
        fill(client, "#id_username", "admin").await?;
        fill(client, "#id_password", password).await?;
        submit(client, "button[type=submit]").await?;
        seen.after_login = text_of(client, "header").await?;
        // The index shows staff the way to the page.
        client.goto(&format!("{site}/polls/")).await?;
        client
            .find(Locator::LinkText("Add a question"))
            .await?
            .click()
            .await?;
        // One choice only: the form again, with its error and the text kept.
        fill(client, "#id_question_text", "Tea or coffee?").await?;
        fill(client, "#id_choice1", "Tea").await?;
        submit(client, ".add-question button[type=submit]").await?;
        seen.invalid_errors = text_of(client, ".errorlist.nonfield").await?;
        seen.invalid_question_kept = client
            .find(Locator::Css("#id_question_text"))
            .await?
            .prop("value")
            .await?;
        // A second choice: the question's page, with the message.
        fill(client, "#id_choice2", "Coffee").await?;
        submit(client, ".add-question button[type=submit]").await?;
        seen.added_messages = text_of(client, ".messages").await?;
        seen.added_url = client.current_url().await?.to_string();
        // Vote for Coffee, the second radio.
        client.find(Locator::Css("#choice2")).await?.click().await?;
        submit(client, "input[type=submit]").await?;
        client.wait().for_element(Locator::Css(".results")).await?;
        for item in client.find_all(Locator::Css(".results li")).await? {
            seen.results.push(item.text().await?);
        }
        seen.results_messages = text_of(client, ".messages").await?;
        // Log out with the header's button (a POST), then try the page again.
        submit(client, "header button[type=submit]").await?;
        // The header of the next page: the same element until it has loaded.
        client
            .wait()
            .for_element(Locator::LinkText("Log in"))
            .await?;
        seen.after_logout = text_of(client, "header").await?;
        client.goto(&format!("{site}/polls/add/")).await?;
        seen.add_again_heading = text_of(client, "h1").await?;
        seen.add_again_url = client.current_url().await?.to_string();
        Ok((seen, client.screenshot().await?))
    });
    save_screenshot("polls-add-login-again.png", &screenshot);
    assert!(seen.after_login.contains("Logged in as admin."), "{seen:?}");
    assert_eq!(seen.invalid_errors, "Give at least 2 choices.", "{seen:?}");
    assert_eq!(
        seen.invalid_question_kept.as_deref(),
        Some("Tea or coffee?")
    );
    assert_eq!(
        seen.added_messages, "Question “Tea or coffee?” was added.",
        "{seen:?}"
    );
    let id: i64 = seen
        .added_url
        .strip_prefix(&format!("{site}/polls/"))
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the question's page: {seen:?}"));
    assert_eq!(
        seen.results,
        ["Tea -- 0 votes", "Coffee -- 1 vote"],
        "{seen:?}"
    );
    assert_eq!(seen.results_messages, "Your vote was counted.");
    assert_eq!(example.votes(id), [0, 1]);
    assert!(seen.after_logout.contains("Log in"), "{seen:?}");
    assert!(!seen.after_logout.contains("admin"), "{seen:?}");
    assert_eq!(
        seen.add_again_url,
        format!("{site}/accounts/login/?next=/polls/add/")
    );
    assert_eq!(seen.add_again_heading, "Log in");
}

async fn wait_for_async<T, F, Fut>(mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..50 {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// A settings file `name` beside the example's, extending them with the
/// database at `url`.
fn settings_with_database(example: &Example, name: &str, url: &str) -> PathBuf {
    let file = example.dir.path().join(name);
    let text = format!(
        "extends = {:?}\n[databases.default]\nurl = \"{url}\"\n",
        example.settings.display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    file
}

fn pending_migrations_are_listed_and_announced_until_migrate_runs(backend: Backend) {
    let Some(example) = Example::on(backend) else {
        return;
    };
    // A second database, never migrated.
    let url = backend.url("sqlite://db/fresh.sqlite3").unwrap();
    let fresh = settings_with_database(&example, "fresh.toml", &url);
    let with_fresh = |args: &[&str]| {
        let mut command = Command::new(&example.bin);
        command.args(args).arg("--settings").arg(&fresh);
        command
    };
    let output = with_fresh(&["showmigrations"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success());
    assert_eq!(text, "auth\n [ ] 1_initial\npolls\n [ ] 1_initial\n");
    // A read-only command: the migration record tables are `migrate`'s to make.
    let record_tables = || {
        let settings = mysite::wsgi::project()
            .settings_loader(&fresh)
            .env(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        let query = match backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE name LIKE '_nuages_migrations_%'"
            }
            Backend::Postgres => {
                "SELECT table_name::text FROM information_schema.tables WHERE table_name LIKE '_nuages_migrations_%'"
            }
        };
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let databases = nuages::db::Databases::new(&settings);
            let pool = databases.get("default").await.unwrap();
            let names: Vec<String> = nuages::sqlx::query_scalar(query)
                .fetch_all(&pool)
                .await
                .unwrap();
            databases.close().await;
            names
        })
    };
    if backend == Backend::Sqlite {
        // Nor is the database file: `migrate` creates it.
        let file = example.dir.path().join("db/fresh.sqlite3");
        assert!(!file.exists(), "showmigrations created {}", file.display());
    }
    assert_eq!(record_tables(), Vec::<String>::new());

    let port = free_port();
    let server = Server::start(
        &mut with_fresh(&["runserver", "--noreload", &port.to_string()]),
        example.dir.path(),
        "pending",
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(Duration::from_secs(30), || get(addr, "/polls/").ok())
        .unwrap_or_else(|| panic!("runserver did not start: {}", server.output()));
    assert!(
        server
            .output()
            .contains("You have 2 unapplied migration(s). Your project may not work properly until you apply the migrations for app(s): auth, polls."),
        "{}",
        server.output()
    );
    drop(server);

    let output = with_fresh(&["migrate"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        text.contains("Applying auth.1_initial... OK\n  Applying polls.1_initial... OK"),
        "{text}"
    );
    let output = with_fresh(&["migrate"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("No migrations to apply."));
    let output = with_fresh(&["showmigrations"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "auth\n [X] 1_initial\npolls\n [X] 1_initial\n"
    );
    assert_eq!(record_tables().len(), 2);
    // What the server itself holds: the tables of 1_initial.postgres.sql
    // (identity ids) and the record of the migration.
    if backend == Backend::Postgres {
        let server = PostgresServer::shared().unwrap();
        let database = server.database_of(&url);
        assert_eq!(
            server.psql(
                &database,
                "SELECT version, description, success FROM _nuages_migrations_polls"
            ),
            "1|initial|t"
        );
        assert_eq!(
            server.psql(
                &database,
                "SELECT is_identity FROM information_schema.columns WHERE table_name = 'polls_question' AND column_name = 'id'"
            ),
            "YES"
        );
    }
}

/// `migrate` and `showmigrations` against a PostgreSQL server that cannot
/// be used: nothing listening, a wrong password, a missing database. Each
/// fails with the setting, the server, the kind and the fix, never the
/// password; the password from `${DB_PASSWORD}` works.
/// `showmigrations` and `migrate` run at once on new PostgreSQL databases
/// (a deploy script on two machines, a health check beside the deploy):
/// every one succeeds, and the database ends up migrated. PostgreSQL's
/// `CREATE TABLE IF NOT EXISTS` in two sessions at once fails in one.
#[test]
fn showmigrations_beside_migrate_on_a_new_postgresql_database_all_succeed() {
    let Some(server) = PostgresServer::shared() else {
        return;
    };
    let example = Example::new();
    let mut running = Vec::new();
    let mut files = Vec::new();
    for n in 0..6 {
        let url = server.create_database();
        files.push(settings_with_database(
            &example,
            &format!("fresh{n}.toml"),
            &url,
        ));
    }
    // All started before any is waited for.
    for settings in &files {
        for command in [
            "showmigrations",
            "migrate",
            "showmigrations",
            "showmigrations",
        ] {
            let child = Command::new(&example.bin)
                .arg(command)
                .arg("--settings")
                .arg(settings)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            running.push((command, child));
        }
    }
    for (command, child) in running {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{command}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for settings in files {
        let output = Command::new(&example.bin)
            .arg("showmigrations")
            .arg("--settings")
            .arg(&settings)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "auth\n [X] 1_initial\npolls\n [X] 1_initial\n"
        );
    }
}

/// On PostgreSQL, the pool of `Databases::get_read_only` (what
/// `showmigrations` reads through) holds read-only sessions: the server
/// refuses a write through it, an explicit transaction's too, while it
/// reads what the pool of `get` wrote. It was the read-write pool.
#[tokio::test]
async fn the_read_only_pool_of_a_postgresql_database_refuses_writes() {
    let Some(server) = PostgresServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = nuages::conf::Settings::defaults_in(dir.path());
    settings.databases.get_mut("default").unwrap().url = server.create_database();
    let databases = nuages::db::Databases::new(&settings);
    let writer = databases.get("default").await.unwrap();
    nuages::sqlx::raw_sql("CREATE TABLE kept (n BIGINT); INSERT INTO kept VALUES (1)")
        .execute(&writer)
        .await
        .unwrap();
    let reader = databases.get_read_only("default").await.unwrap();
    let count: i64 = nuages::sqlx::query_scalar("SELECT count(*) FROM kept")
        .fetch_one(&reader)
        .await
        .unwrap();
    assert_eq!(count, 1);
    for write in [
        "INSERT INTO kept VALUES (2)",
        "CREATE TABLE _nuages_migrations_auth (version BIGINT)",
        "BEGIN; DELETE FROM kept; COMMIT",
    ] {
        let error = nuages::sqlx::raw_sql(nuages::sqlx::AssertSqlSafe(write))
            .execute(&reader)
            .await
            .expect_err(write);
        assert!(
            error.to_string().contains("read-only transaction"),
            "{write}: {error}"
        );
    }
    let count: i64 = nuages::sqlx::query_scalar("SELECT count(*) FROM kept")
        .fetch_one(&writer)
        .await
        .unwrap();
    assert_eq!(count, 1);
    databases.close().await;
}

#[test]
fn postgres_connection_errors_name_the_setting_the_server_and_the_fix() {
    let Some(server) = PostgresServer::shared() else {
        return;
    };
    let example = Example::new();
    let port = server.port();
    let closed = free_port();
    let settings = example.dir.path().join("pg.toml");
    let run = |url: &str, command: &str| {
        std::fs::write(
            &settings,
            format!(
                "extends = {:?}\n[databases.default]\nurl = \"{url}\"\n",
                example.settings.display().to_string()
            ),
        )
        .unwrap();
        let mut process = Command::new(&example.bin);
        process
            .arg(command)
            .arg("--settings")
            .arg(&settings)
            .env("DB_PASSWORD", nuages_e2e::postgres::PASSWORD);
        let output = process.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    let cases = [
        (
            format!("postgres://nuages:wrong-secret@127.0.0.1:{closed}/site"),
            format!(
                "databases.default.url: cannot connect to the PostgreSQL server at 127.0.0.1:{closed}: connection refused"
            ),
            "start PostgreSQL there (`systemctl start postgresql`), or correct the host and port in databases.default.url".to_string(),
        ),
        (
            format!("postgres://nuages:wrong-secret@127.0.0.1:{port}/postgres"),
            format!(
                "databases.default.url: the PostgreSQL server at 127.0.0.1:{port} refused the user 'nuages': authentication failed"
            ),
            "check the user and password of databases.default.url (write the password as ${DB_PASSWORD} and export DB_PASSWORD)".to_string(),
        ),
        (
            format!("postgres://nuages:${{DB_PASSWORD}}@127.0.0.1:{port}/no_such_site"),
            format!(
                "databases.default.url: the database \"no_such_site\" does not exist on the PostgreSQL server at 127.0.0.1:{port}"
            ),
            "create it: `createdb --owner nuages no_such_site` as a PostgreSQL superuser, or correct the database name in databases.default.url".to_string(),
        ),
    ];
    for (url, message, hint) in &cases {
        for command in ["migrate", "showmigrations"] {
            let (code, text) = run(url, command);
            assert_eq!(code, Some(1), "{command} with {url}: {text}");
            assert!(text.contains(message), "{command} with {url}: {text}");
            assert!(text.contains(hint), "{command} with {url}: {text}");
            assert!(
                !text.contains("wrong-secret") && !text.contains(nuages_e2e::postgres::PASSWORD),
                "the password is shown: {text}"
            );
        }
    }
    // A password holding `%41` reaches the server as `A`: the hint says
    // how a `%` of the password is written; not for `%2F`, which the
    // README tells to write for `/` (following the hint would break the
    // password); a `%` the URL cannot decode is refused before any
    // connection.
    let (code, text) = run(
        &format!("postgres://nuages:wrong%41secret@127.0.0.1:{port}/postgres"),
        "showmigrations",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    assert!(
        text.contains("if that % is part of the password itself, write it as %25"),
        "{text}"
    );
    let (code, text) = run(
        &format!("postgres://nuages:wrong%2Fsecret@127.0.0.1:{port}/postgres"),
        "showmigrations",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("%25"), "{text}");
    let (code, text) = run(
        &format!("postgres://nuages:wrong%zzsecret@127.0.0.1:{port}/postgres"),
        "showmigrations",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "databases.default.url: the password holds a '%' not followed by two hex digits"
        ),
        "{text}"
    );
    assert!(!text.contains("wrong%zzsecret"), "{text}");
    // A server without TLS, asked for it: what failed and what to change.
    let (code, text) = run(
        &format!("postgres://nuages:${{DB_PASSWORD}}@127.0.0.1:{port}/postgres?sslmode=require"),
        "showmigrations",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "databases.default.url: cannot connect to the PostgreSQL server at 127.0.0.1:{port}: TLS failed"
        )),
        "{text}"
    );
    assert!(
        text.contains("with sslmode=require the server needs `ssl = on` in postgresql.conf"),
        "{text}"
    );
    // An IPv6 server written as a URL writes it, in brackets, where the
    // machine has `::1`: sqlx looked `[::1]` up as a name.
    if std::net::TcpStream::connect(("::1", port)).is_ok() {
        let (code, text) = run(
            &format!("postgres://nuages:${{DB_PASSWORD}}@[::1]:{port}/postgres"),
            "showmigrations",
        );
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("polls"), "{text}");
    }
    // `createdb` as the hint says, and the password from the environment.
    server.psql("postgres", "CREATE DATABASE no_such_site OWNER nuages");
    let (code, text) = run(&cases[2].0, "migrate");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Applying polls.1_initial... OK"), "{text}");
    assert_eq!(
        server.psql("no_such_site", "SELECT count(*) FROM polls_question"),
        "0"
    );
    // A user without the privileges on those tables: PostgreSQL's words
    // without the "at line N" of its own source that sqlx adds, and the fix.
    server.psql(
        "postgres",
        "CREATE ROLE site_reader LOGIN PASSWORD 'reader-pw'",
    );
    let (code, text) = run(
        &format!("postgres://site_reader:reader-pw@127.0.0.1:{port}/no_such_site"),
        "migrate",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("permission denied for "), "{text}");
    assert!(!text.contains(" at line "), "{text}");
    assert!(
        text.contains(&format!(
            "the database user of databases.default.url (127.0.0.1:{port}) may not do this"
        )),
        "{text}"
    );
}
