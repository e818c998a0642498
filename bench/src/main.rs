//! `nuages-bench`: the performance benchmarks (issue #9), run with
//!
//! ```text
//! cargo run --release -p nuages-bench            # the full run (about 6 minutes)
//! cargo run --release -p nuages-bench -- --quick # one round of everything
//! ```
//!
//! Every figure is a ratio against a baseline measured in the same run, A and
//! B alternating round after round, medians reported:
//!
//! - a page through the full default middleware and `serve` against a bare
//!   axum + tera handler doing the same work (and the 404 page);
//! - the example's `/polls/` against the same query and template written
//!   with axum + tera + sqlx;
//! - collectstatic against Django's on 5,000 files, cold and unchanged;
//! - memory after the load, start-up time, `check --deploy` and
//!   `startproject`.
//!
//! The servers are separate processes: the harness re-executes itself as
//! `nuages-bench hellosite serve …` (a one-page Nuages project),
//! `nuages-bench mysite serve …` (the example project's command line, the
//! same code as its binary), `nuages-bench serve-axum-hello …` and
//! `nuages-bench serve-axum-polls …`.

mod baseline;
mod load;
mod procs;
mod report;
mod sites;
mod statics;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use load::{Generator, Load, LoadSettings};
use procs::{Server, free_port, me};
use report::{Report, median};
use statics::{Setup, Storage, Tool};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve-axum-hello") => baseline::hello_main(&args[2..]),
        Some("serve-axum-polls") => baseline::polls_main(&args[2..]),
        Some("hellosite") => sites::hellosite_main(args[1..].to_vec()),
        Some("mysite") => sites::mysite_main(args[1..].to_vec()),
        _ => match Options::parse(&args[1..]) {
            Ok(options) => match run(&options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            },
            Err(usage) => {
                eprintln!("{usage}");
                ExitCode::from(2)
            }
        },
    }
}

/// What to run, and how long.
#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    duration: Duration,
    startups: usize,
    static_rounds: usize,
    command_runs: usize,
    only: Vec<String>,
}

const SECTIONS: &[&str] = &["hello", "polls", "startup", "static", "commands"];

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let usage = format!(
            "usage: nuages-bench [--quick] [--rounds N] [--seconds S] [--only {}]…",
            SECTIONS.join("|")
        );
        let mut options = Options {
            rounds: 5,
            duration: Duration::from_secs(3),
            startups: 7,
            static_rounds: 3,
            command_runs: 5,
            only: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.rounds = 1;
                    options.duration = Duration::from_secs(2);
                    options.startups = 3;
                    options.static_rounds = 1;
                    options.command_runs = 3;
                }
                "--rounds" => options.rounds = next_number(&mut args, &usage)?,
                "--seconds" => {
                    options.duration = Duration::from_secs(next_number(&mut args, &usage)? as u64)
                }
                "--only" => {
                    let section = args.next().ok_or(&usage)?;
                    if !SECTIONS.contains(&section.as_str()) {
                        return Err(usage);
                    }
                    options.only.push(section.clone());
                }
                "-h" | "--help" => return Err(usage),
                _ => return Err(usage),
            }
        }
        Ok(options)
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

fn next_number<'a>(
    args: &mut impl Iterator<Item = &'a String>,
    usage: &str,
) -> Result<usize, String> {
    args.next()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| usage.to_string())
}

/// `<target>/release/nuages-bench` → `<target>`.
fn target_dir() -> PathBuf {
    me().ancestors()
        .nth(2)
        .expect("the harness runs from a target folder")
        .to_path_buf()
}

fn run(options: &Options) -> Result<(), String> {
    let started = Instant::now();
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run `cargo run --release -p nuages-bench` for real figures"
        );
    }
    let work = target_dir().join("nuages-bench/run");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("logs")).map_err(|e| e.to_string())?;
    let generator = Generator::detect();
    let load = LoadSettings {
        threads: 2,
        connections: 32,
        duration: options.duration,
    };
    let mut report = Report::new(machine_line(), generator.describe(&load), options.rounds);

    if options.wants("hello") {
        section("full stack: /hello/<name>/ and a 404, Nuages serve vs bare axum");
        hello(&work, generator, &load, options, &mut report)?;
    }
    if options.wants("polls") {
        section("/polls/: the example project vs axum + tera + sqlx");
        polls(&work, generator, &load, options, &mut report)?;
    }
    if options.wants("startup") {
        section("start-up: exec to the first good answer");
        startup(&work, options, &mut report)?;
    }
    if options.wants("static") {
        section("collectstatic: 5,000 files in 50 folders, Nuages vs Django");
        collectstatic(&work, options, &mut report)?;
    }
    if options.wants("commands") {
        section("check --deploy and startproject");
        commands(&work, options, &mut report)?;
    }
    report.total = Some(started.elapsed());
    println!();
    println!("{}", report.render());
    Ok(())
}

fn section(title: &str) {
    eprintln!("\n== {title}");
}

fn machine_line() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores, load average {load} at the start")
}

/// Start a server by re-executing the harness; wait for `ready` to answer `status`.
fn start(
    name: &str,
    args: &[&str],
    env: &[(&str, &Path)],
    port: u16,
    ready: (&str, u16),
    work: &Path,
) -> Result<(Server, Duration), String> {
    let mut command = Command::new(me());
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    // The servers' own environment: no NUAGES_* left over from the caller.
    for (key, _) in std::env::vars() {
        if key.starts_with("NUAGES_") && !env.iter().any(|(k, _)| *k == key) {
            command.env_remove(key);
        }
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    let mut server = Server::spawn(name, command, addr, &work.join("logs"))?;
    let took = server.wait_ready(ready.0, ready.1, started, Duration::from_secs(30))?;
    Ok((server, took))
}

fn expect_page(server: &Server, path: &str, status: u16, contains: &str) -> Result<(), String> {
    let response =
        procs::get(server.addr, path).map_err(|e| format!("{}: GET {path}: {e}", server.name))?;
    if response.status != status || !response.text.contains(contains) {
        return Err(format!(
            "{}: GET {path} answered {} instead of {status} with {contains:?}:\n{}",
            server.name, response.status, response.text
        ));
    }
    Ok(())
}

/// Drive `paths` on every server, rotating which goes first each round; the
/// runs of `servers[i]` on `paths[p]` are `result[p][i]`.
fn alternate(
    generator: Generator,
    settings: &LoadSettings,
    rounds: usize,
    servers: &[&Server],
    paths: &[&str],
) -> Result<Vec<Vec<Vec<Load>>>, String> {
    // Warm every server up (connections, caches, the allocator) before measuring.
    let warm = LoadSettings {
        duration: Duration::from_secs(1),
        ..settings.clone()
    };
    for server in servers {
        for path in paths {
            generator.run(server.addr, path, &warm)?;
        }
    }
    let mut results: Vec<Vec<Vec<Load>>> = paths
        .iter()
        .map(|_| servers.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..rounds {
        for (p, path) in paths.iter().enumerate() {
            let mut order: Vec<usize> = (0..servers.len()).collect();
            order.rotate_left(round % servers.len());
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let load = generator.run(servers[i].addr, path, settings)?;
                eprintln!(
                    "  round {}  {:<16} {:<14} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
                    round + 1,
                    path,
                    servers[i].name,
                    load.rps,
                    load.p50_ms,
                    load.p99_ms
                );
                results[p][i].push(load);
            }
        }
    }
    Ok(results)
}

/// The settings of a Nuages server, and the same with `log_level = "warn"`.
fn write_settings_pair(dir: &Path, text: &str) -> Result<(PathBuf, PathBuf), String> {
    let info = dir.join("settings.toml");
    let warn = dir.join("settings.warn.toml");
    std::fs::write(&info, text).map_err(|e| e.to_string())?;
    std::fs::write(
        &warn,
        text.replace("log_level = \"info\"", "log_level = \"warn\""),
    )
    .map_err(|e| e.to_string())?;
    Ok((info, warn))
}

fn hello(
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let dir = work.join("hello");
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).map_err(|e| e.to_string())?;
    std::fs::write(templates.join("hello.html"), sites::HELLO_TEMPLATE)
        .map_err(|e| e.to_string())?;
    let (settings, quiet) = write_settings_pair(
        &dir,
        &sites::production_settings(
            &[&templates],
            &[],
            &dir.join("static_root"),
            &dir.join("db.sqlite3"),
        ),
    )?;

    let page = "/hello/world/";
    let missing = "/missing/page/";
    let mut servers = Vec::new();
    for (name, file) in [("nuages", &settings), ("nuages-warn", &quiet)] {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let (server, _) = start(
            name,
            &["hellosite", "serve", "--bind", &bind],
            &[("NUAGES_SETTINGS", file)],
            port,
            (page, 200),
            work,
        )?;
        servers.push(server);
    }
    let port = free_port();
    let (axum, _) = start(
        "axum",
        &[
            "serve-axum-hello",
            &port.to_string(),
            &templates.display().to_string(),
        ],
        &[],
        port,
        (page, 200),
        work,
    )?;
    servers.push(axum);
    for server in &servers {
        expect_page(server, page, 200, "<h1>Hello, world!</h1>")?;
        expect_page(server, "/hello/%3Cb%3E/", 200, "Hello, &lt;b&gt;!")?;
        expect_page(server, missing, 404, "<h1>Not Found</h1>")?;
    }
    expect_page(&servers[0], page, 200, "x-frame-options: DENY")?;
    let refs: Vec<&Server> = servers.iter().collect();
    let results = alternate(generator, load, options.rounds, &refs, &[page, missing])?;
    for (p, name) in ["/hello/<name>/ (Tera)", "404 page"]
        .into_iter()
        .enumerate()
    {
        report.pages.push(report::PageRow::new(
            name,
            "info",
            &results[p][0],
            &results[p][2],
        ));
        report.pages.push(report::PageRow::new(
            name,
            "warn",
            &results[p][1],
            &results[p][2],
        ));
    }
    report
        .memory
        .push(("/hello/", servers[0].rss_mib(), servers[2].rss_mib()));
    Ok(())
}

fn polls(
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("example_project");
    let dir = work.join("polls");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let database = dir.join("db/db.sqlite3");
    let (settings, quiet) = write_settings_pair(
        &dir,
        &sites::production_settings(
            &[&example.join("templates")],
            &[&example.join("static")],
            &dir.join("static_root"),
            &database,
        ),
    )?;
    for command in ["migrate", "seed"] {
        procs::time_command(
            Command::new(me())
                .args(["mysite", command])
                .env("NUAGES_SETTINGS", &settings),
        )?;
    }

    let page = "/polls/";
    let mut servers = Vec::new();
    for (name, file) in [("nuages", &settings), ("nuages-warn", &quiet)] {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let (server, _) = start(
            name,
            &["mysite", "serve", "--bind", &bind],
            &[("NUAGES_SETTINGS", file)],
            port,
            (page, 200),
            work,
        )?;
        servers.push(server);
    }
    let port = free_port();
    let polls_templates = example.join("src/polls/templates");
    let (axum, _) = start(
        "axum",
        &[
            "serve-axum-polls",
            &port.to_string(),
            &database.display().to_string(),
            &example.join("templates").display().to_string(),
            &polls_templates.display().to_string(),
        ],
        &[],
        port,
        (page, 200),
        work,
    )?;
    servers.push(axum);
    for server in &servers {
        expect_page(server, page, 200, "Which web framework?")?;
        expect_page(server, page, 200, "href=\"/polls/1/\"")?;
        expect_page(server, page, 200, "/static/polls/style.css")?;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let results = alternate(generator, load, options.rounds, &refs, &[page])?;
    let name = "/polls/ (SQLite + Tera)";
    report.pages.push(report::PageRow::new(
        name,
        "info",
        &results[0][0],
        &results[0][2],
    ));
    report.pages.push(report::PageRow::new(
        name,
        "warn",
        &results[0][1],
        &results[0][2],
    ));
    report
        .memory
        .push(("/polls/", servers[0].rss_mib(), servers[2].rss_mib()));
    Ok(())
}

fn startup(work: &Path, options: &Options, report: &mut Report) -> Result<(), String> {
    let settings = work.join("hello/settings.toml");
    if !settings.exists() {
        let templates = work.join("hello/templates");
        std::fs::create_dir_all(&templates).map_err(|e| e.to_string())?;
        std::fs::write(templates.join("hello.html"), sites::HELLO_TEMPLATE)
            .map_err(|e| e.to_string())?;
        std::fs::write(
            &settings,
            sites::production_settings(
                &[&templates],
                &[],
                &work.join("hello/static_root"),
                &work.join("hello/db.sqlite3"),
            ),
        )
        .map_err(|e| e.to_string())?;
    }
    let templates = work.join("hello/templates").display().to_string();
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..options.startups {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let port = free_port();
            let port_text = port.to_string();
            let bind = format!("127.0.0.1:{port}");
            let (mut server, took) = if side == 0 {
                start(
                    "nuages-startup",
                    &["hellosite", "serve", "--bind", &bind],
                    &[("NUAGES_SETTINGS", &settings)],
                    port,
                    ("/hello/world/", 200),
                    work,
                )?
            } else {
                start(
                    "axum-startup",
                    &["serve-axum-hello", &port_text, &templates],
                    &[],
                    port,
                    ("/hello/world/", 200),
                    work,
                )?
            };
            server.stop();
            times[side].push(took);
        }
    }
    eprintln!(
        "  nuages {:.1} ms, axum {:.1} ms (medians of {})",
        ms(median_duration(&times[0])),
        ms(median_duration(&times[1])),
        options.startups
    );
    report.startup = Some((median_duration(&times[0]), median_duration(&times[1])));
    Ok(())
}

fn collectstatic(work: &Path, options: &Options, report: &mut Report) -> Result<(), String> {
    let dir = work.join("static");
    let tree = dir.join("tree");
    make_tree_once(&tree);
    let python = match statics::django_python(&target_dir()) {
        Ok(python) => Some(python),
        Err(error) => {
            eprintln!("  Django is not available ({error}); only Nuages is timed");
            None
        }
    };
    report.django = python.as_deref().map(statics::django_version);
    let setup = Setup { dir, tree, python };
    setup.write_settings();
    for storage in Storage::ALL {
        let tools: Vec<Tool> = if setup.python.is_some() {
            vec![Tool::Nuages, Tool::Django]
        } else {
            vec![Tool::Nuages]
        };
        let mut cold: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut rerun: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for round in 0..options.static_rounds {
            let mut order = tools.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for tool in order {
                let side = if tool == Tool::Nuages { 0 } else { 1 };
                setup.clear(tool, storage);
                let (took, line) = setup.run(tool, storage)?;
                check_summary(tool, storage, &line, statics::FILES, 0)?;
                cold[side].push(took);
                let (again, line) = setup.run(tool, storage)?;
                check_summary(tool, storage, &line, 0, statics::FILES)?;
                rerun[side].push(again);
                eprintln!(
                    "  round {}  {:<8} {:<7} cold {:>8.0} ms   unchanged {:>7.0} ms   ({line})",
                    round + 1,
                    storage.name(),
                    format!("{tool:?}").to_lowercase(),
                    ms(took),
                    ms(again)
                );
            }
        }
        report.statics.push(report::StaticRow {
            storage: storage.name(),
            nuages: (median_duration(&cold[0]), median_duration(&rerun[0])),
            django: (!cold[1].is_empty())
                .then(|| (median_duration(&cold[1]), median_duration(&rerun[1]))),
        });
    }
    report.listing = Some(time_listing(&setup.tree));
    Ok(())
}

/// What a re-run cannot go below: walking the tree and one `stat` per file.
fn time_listing(tree: &Path) -> Duration {
    fn walk(dir: &Path, count: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if let Ok(meta) = std::fs::metadata(&path) {
                if meta.is_dir() {
                    walk(&path, count);
                } else {
                    *count += 1;
                }
            }
        }
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut count = 0;
        walk(tree, &mut count);
        times.push(started.elapsed());
    }
    median_duration(&times)
}

fn make_tree_once(tree: &Path) {
    if !tree.exists() {
        statics::make_tree(tree);
    }
}

fn check_summary(
    tool: Tool,
    storage: Storage,
    line: &str,
    copied: usize,
    unmodified: usize,
) -> Result<(), String> {
    let got_copied = statics::count_before(line, "static");
    // Django leaves out ", 0 unmodified".
    let got_unmodified = statics::count_before(line, "unmodified").or(Some(0));
    if got_copied != Some(copied) || got_unmodified != Some(unmodified) {
        return Err(format!(
            "{tool:?} collectstatic ({}) said {line:?}; expected {copied} copied and {unmodified} unmodified",
            storage.name()
        ));
    }
    Ok(())
}

fn commands(work: &Path, options: &Options, report: &mut Report) -> Result<(), String> {
    // check --deploy on the example project with its production-like settings.
    let settings = work.join("commands/settings.toml");
    std::fs::create_dir_all(work.join("commands")).map_err(|e| e.to_string())?;
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("example_project");
    std::fs::write(
        &settings,
        sites::production_settings(
            &[&example.join("templates")],
            &[&example.join("static")],
            &work.join("commands/static_root"),
            &work.join("commands/db/db.sqlite3"),
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut checks = Vec::new();
    for _ in 0..options.command_runs {
        let started = Instant::now();
        let output = Command::new(me())
            .args(["mysite", "check", "--deploy"])
            .env("NUAGES_SETTINGS", &settings)
            .output()
            .map_err(|e| e.to_string())?;
        checks.push(started.elapsed());
        // Exit 1 is a finding (these settings are not a real deployment), not a failure to time.
        if output.status.code().is_none_or(|code| code > 1) {
            return Err(format!(
                "check --deploy failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    report.check_deploy = Some(median_duration(&checks));

    match manage_binary() {
        Ok(manage) => {
            let mut times = Vec::new();
            for run in 0..options.command_runs {
                let into = work.join(format!("commands/startproject-{run}"));
                times.push(procs::time_command(
                    Command::new(&manage)
                        .args(["startproject", "benchsite"])
                        .arg(&into),
                )?);
            }
            report.startproject = Some(median_duration(&times));
        }
        Err(error) => eprintln!("  startproject not timed: {error}"),
    }
    eprintln!(
        "  check --deploy {:.1} ms, startproject {}",
        ms(report.check_deploy.unwrap()),
        report
            .startproject
            .map(|d| format!("{:.1} ms", ms(d)))
            .unwrap_or_else(|| "-".into())
    );
    Ok(())
}

/// `manage`, built beside the harness (same target folder and profile; with
/// both packages selected, cargo reuses every artifact of the harness).
fn manage_binary() -> Result<PathBuf, String> {
    let profile_dir = me().parent().unwrap().to_path_buf();
    let manage = profile_dir.join("manage");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["build", "--quiet", "-p", "nuages-bench", "-p", "nuages-cli"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| format!("cargo did not run: {e}"))?;
    if !status.success() || !manage.exists() {
        return Err("building manage (cargo build -p nuages-cli) failed".into());
    }
    Ok(manage)
}

fn median_duration(times: &[Duration]) -> Duration {
    Duration::from_secs_f64(median(
        &times.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
    ))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
