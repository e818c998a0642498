//! A site that outgrew one machine, as the README's "Scaling out" has it:
//! the example, unchanged, with its database on a real PostgreSQL server,
//! its cache and sessions on a real Redis server, and two `serve`
//! processes behind one nginx configured by `deployconfig nginx --upstream`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nuages_e2e::postgres::{Backend, PostgresServer};
use nuages_e2e::redis::{REDIS_SERVER, RedisServer};
use nuages_e2e::{
    Example, HttpResponse, Server, deployconfig_nginx, form_credentials, http, require, run,
    session_cookie, start_nginx, wait_for,
};

const HOST: (&str, &str) = ("Host", "example.test");

/// The example's settings for this site: production mode, PostgreSQL from
/// `example` (written by `Example::on`), the cache and the sessions on Redis.
fn scaled_settings(example: &Example, redis: &RedisServer) -> std::path::PathBuf {
    let path = example.dir.path().join("settings.scaled.toml");
    std::fs::write(
        &path,
        format!(
            "extends = {:?}\n\
             debug = false\n\
             secret_key = \"scale-out-test-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0\"\n\
             allowed_hosts = [\"example.test\"]\n\
             session_engine = \"cache\"\n\
             [caches.default]\n\
             backend = \"redis\"\n\
             location = {:?}\n",
            example.settings.display().to_string(),
            redis.url()
        ),
    )
    .unwrap();
    path
}

/// `serve` of the example on a free loopback port, once it answers.
fn serve(example: &Example, settings: &Path, name: &str) -> (Server, SocketAddr) {
    example.serve_with(settings, name, HOST.1)
}

/// A vote for `choice` of question 1, with a CSRF cookie and token, and
/// more cookies (a session) when given.
fn vote(addr: SocketAddr, credentials: &(String, String), choice: i64) -> HttpResponse {
    let (cookie, token) = credentials;
    let cookie = format!("csrftoken={cookie}");
    http(
        addr,
        "POST",
        "/polls/1/vote/",
        &[
            HOST,
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrfmiddlewaretoken={token}&choice={choice}"),
    )
    .unwrap()
}

/// Question 1's results page for a client with `cookie`.
fn results_with(addr: SocketAddr, cookie: &str) -> String {
    let page = http(
        addr,
        "GET",
        "/polls/1/results/",
        &[HOST, ("Cookie", cookie)],
        "",
    )
    .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
}

/// The count shown for `choice` on question 1's results page.
fn shown_count(addr: SocketAddr, choice: i64) -> i64 {
    let page = http(addr, "GET", "/polls/1/results/", &[HOST], "").unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = format!("data-choice=\"{choice}\">");
    let at = page.body.find(&marker).expect("the choice's count") + marker.len();
    page.body[at..].split('<').next().unwrap().parse().unwrap()
}

#[test]
fn two_serve_processes_behind_nginx_share_postgresql_and_redis() {
    if !require(REDIS_SERVER) || !require("/usr/sbin/nginx") {
        return;
    }
    let Some(postgres) = PostgresServer::shared() else {
        return;
    };
    let example = Example::on(Backend::Postgres).expect("PostgreSQL is installed");
    let redis = RedisServer::start();
    let settings = scaled_settings(&example, &redis);
    let url = std::fs::read_to_string(&example.settings).unwrap();
    let database = postgres.database_of(
        url.lines()
            .find_map(|l| l.strip_prefix("url = \""))
            .unwrap()
            .trim_end_matches('"'),
    );
    let total_votes = || {
        postgres.psql(
            &database,
            "SELECT SUM(votes) FROM polls_choice WHERE question_id = 1",
        )
    };

    let (serve_a, a) = serve(&example, &settings, "serve-a");
    let (serve_b, b) = serve(&example, &settings, "serve-b");
    let work = example.dir.path();
    let (a_bind, b_bind) = (a.to_string(), b.to_string());
    let (site, _, front) = deployconfig_nginx(
        &mut example.command_with(&settings),
        work,
        &["--upstream", &a_bind, "--upstream", &b_bind],
    );
    let nginx = start_nginx(work, &site, front);

    // 400 votes from 20 clients through nginx: every one answered with the
    // redirect to the results, and every one in the database.
    let before: i64 = total_votes().parse().unwrap();
    std::thread::scope(|scope| {
        for client in 0..20 {
            scope.spawn(move || {
                let credentials = form_credentials(front, "/polls/1/", &[HOST]);
                for n in 0..20 {
                    let page = vote(front, &credentials, 1 + (client + n) % 3);
                    assert_eq!(page.status, 302, "{}", page.body);
                }
            });
        }
    });
    let after: i64 = total_votes().parse().unwrap();
    assert_eq!(after - before, 400, "nginx: {}", nginx.output());

    // A session made through one serve is valid on the other: the vote's
    // message, kept in the session on Redis, is shown by the other process.
    let credentials = form_credentials(a, "/polls/1/", &[HOST]);
    let voted = vote(a, &credentials, 2);
    assert_eq!(voted.status, 302, "{}", voted.body);
    let cookie = session_cookie(&voted);
    assert_eq!(
        redis.cli(&[
            "EXISTS",
            &format!("nuages.session.{}", &cookie["sessionid=".len()..])
        ]),
        "1",
        "the session is on Redis"
    );
    let shown = results_with(b, &cookie);
    assert!(shown.contains("Your vote was counted."), "{shown}");
    let again = results_with(a, &cookie);
    assert!(
        !again.contains("Your vote was counted."),
        "shown once across processes"
    );

    // The cached counts are shared and dropped for both by a vote: a change
    // behind the site's back is not seen while cached...
    let cached = shown_count(a, 3);
    assert_eq!(shown_count(b, 3), cached);
    postgres.psql(
        &database,
        "UPDATE polls_choice SET votes = votes + 1000 WHERE id = 3",
    );
    assert_eq!(shown_count(a, 3), cached, "served from the cache");
    assert_eq!(shown_count(b, 3), cached, "served from the same cache");
    // ...and a vote through one process invalidates it for the other.
    let page = vote(b, &form_credentials(b, "/polls/1/", &[HOST]), 3);
    assert_eq!(page.status, 302);
    assert_eq!(shown_count(a, 3), cached + 1001);
    assert_eq!(shown_count(b, 3), cached + 1001);

    // Sessions in PostgreSQL instead: `migrate` creates their table there,
    // and a session made through one process is read through another.
    let db_sessions = example.dir.path().join("settings.db_sessions.toml");
    std::fs::write(
        &db_sessions,
        format!(
            "extends = {:?}\nsession_engine = \"db\"\n",
            settings.display().to_string()
        ),
    )
    .unwrap();
    let (output, stdout, stderr) = run(example.command_with(&db_sessions).arg("migrate"));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Applying sessions.1_initial... OK"),
        "{stdout}"
    );
    let (_db_a, db_a) = serve(&example, &db_sessions, "serve-db-a");
    let (_db_b, db_b) = serve(&example, &db_sessions, "serve-db-b");
    let voted = vote(db_a, &form_credentials(db_a, "/polls/1/", &[HOST]), 1);
    let cookie = session_cookie(&voted);
    assert_eq!(
        postgres.psql(&database, "SELECT COUNT(*) FROM nuages_session"),
        "1"
    );
    let shown = results_with(db_b, &cookie);
    assert!(shown.contains("Your vote was counted."), "{shown}");

    // One serve killed under load: nginx retries what it may (a GET) on the
    // other, so no visitor sees an error.
    let stop = AtomicBool::new(false);
    let answered = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..10 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let page = http(front, "GET", "/polls/", &[HOST], "").unwrap();
                    if page.status == 200 {
                        answered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failures.lock().unwrap().push(page.status);
                    }
                }
            });
        }
        wait_for(Duration::from_secs(20), || {
            (answered.load(Ordering::Relaxed) > 200).then_some(())
        })
        .expect("the load runs");
        serve_a.signal(libc::SIGKILL);
        let at_kill = answered.load(Ordering::Relaxed);
        wait_for(Duration::from_secs(20), || {
            (answered.load(Ordering::Relaxed) > at_kill + 400).then_some(())
        })
        .expect("the load goes on after the kill");
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        failures.into_inner().unwrap(),
        Vec::<u16>::new(),
        "nginx: {}\nserve b: {}",
        nginx.output(),
        serve_b.output()
    );
}
