//! `nuages-bench`: the performance benchmarks (issue #9), run with
//!
//! ```text
//! cargo run --release -p nuages-bench            # the full run (about 6 minutes)
//! cargo run --release -p nuages-bench -- --quick # one round of everything
//! cargo run --release -p nuages-bench -- --only peers --json figures.json
//! ```
//!
//! Every figure is a ratio against a baseline measured in the same run, A and
//! B alternating round after round, medians reported:
//!
//! - a page through the full default middleware and `serve` against a bare
//!   axum + tera handler doing the same work (and the 404 page);
//! - the example's `/polls/` against the same query and template written
//!   with axum + tera + sqlx;
//! - `/hello/<name>/` against what a user would pick instead: Loco's
//!   generated app and the same protections assembled by hand on axum
//!   (`--only peers`, built on the first run, see [`peers`]), and Django
//!   under gunicorn (`--only django`);
//! - the same page with 1,000 URL patterns against 10 (`--only routes`);
//! - collectstatic against Django's on 5,000 files, cold and unchanged;
//! - memory after the load, start-up time, `check --deploy` and
//!   `startproject`.
//!
//! The servers are separate processes: the harness re-executes itself as
//! `nuages-bench hellosite serve …` (a one-page Nuages project),
//! `nuages-bench mysite serve …` (the example project's command line, the
//! same code as its binary), `nuages-bench routesite 10|1000 serve …`,
//! `nuages-bench serve-axum-hello …` and `nuages-bench serve-axum-polls …`;
//! the peers are their own binaries. Around each load run the server's CPU
//! time is read, for the CPU per request; the summary ends with issue #17's
//! targets, and `--json FILE` writes every figure.

mod baseline;
mod load;
mod peers;
mod procs;
mod report;
mod sites;
mod static_tree;
mod statics;

use std::ffi::OsStr;
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
        Some("routesite") => sites::routesite_main(args[1..].to_vec()),
        _ => match Options::parse(&args[1..]) {
            Ok(options) => match run(&options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            },
            Err(Parsed::Help) => {
                println!("{}", usage());
                ExitCode::SUCCESS
            }
            Err(Parsed::Bad(error)) => {
                eprintln!("error: {error}\n{}", usage());
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
    /// Where `--json FILE` writes every figure.
    json: Option<PathBuf>,
}

const SECTIONS: &[&str] = &[
    "hello", "polls", "peers", "django", "routes", "startup", "static", "commands",
];

/// Why the options do not make a run: `--help`, or what is wrong with them.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// `--help` or `-h`: the usage, on stdout, exit 0.
    Help,
    /// A bad argument: what is wrong and what it takes (exit 2, with the usage).
    Bad(String),
}

/// The one-line usage, printed by `--help` and after every bad argument.
fn usage() -> String {
    format!(
        "usage: nuages-bench [--quick] [--rounds N] [--seconds S] [--json FILE] [--only {}]…",
        SECTIONS.join("|")
    )
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, Parsed> {
        let mut options = Options {
            rounds: 5,
            duration: Duration::from_secs(3),
            startups: 7,
            static_rounds: 3,
            command_runs: 5,
            only: Vec::new(),
            json: None,
        };
        // Given explicitly, --rounds and --seconds win over --quick wherever it stands.
        let (mut rounds, mut seconds, mut quick) = (None, None, false);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--rounds" => rounds = Some(next_number(&mut args, "--rounds", "N")?),
                "--seconds" => seconds = Some(next_number(&mut args, "--seconds", "S")?),
                "--only" => {
                    let section = next_value(&mut args, "--only", "a section", "SECTION")?;
                    if !SECTIONS.contains(&section.as_str()) {
                        return Err(Parsed::Bad(format!(
                            "--only takes one of {}, not {section:?}",
                            SECTIONS.join(", ")
                        )));
                    }
                    options.only.push(section.clone());
                }
                "--json" => {
                    options.json = Some(PathBuf::from(next_value(
                        &mut args,
                        "--json",
                        "a file to write the figures to",
                        "FILE",
                    )?))
                }
                "-h" | "--help" => return Err(Parsed::Help),
                _ => {
                    return Err(Parsed::Bad(format!(
                        "unknown argument {arg:?} (the options are --quick, --rounds, --seconds, --json, --only and --help)"
                    )));
                }
            }
        }
        if quick {
            options.rounds = 1;
            options.duration = Duration::from_secs(2);
            options.startups = 3;
            options.static_rounds = 1;
            options.command_runs = 3;
        }
        if let Some(rounds) = rounds {
            options.rounds = rounds;
        }
        if let Some(seconds) = seconds {
            options.duration = Duration::from_secs(seconds as u64);
        }
        // Found out now, not at the end of an hour of measuring.
        if let Some(file) = &options.json {
            check_json_file(file).map_err(Parsed::Bad)?;
        }
        Ok(options)
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// The value after `flag`, which takes `what` (written `flag name` in the usage).
fn next_value<'a>(
    args: &mut impl Iterator<Item = &'a String>,
    flag: &str,
    what: &str,
    name: &str,
) -> Result<&'a String, Parsed> {
    args.next().ok_or_else(|| {
        Parsed::Bad(format!(
            "{flag} takes {what} after it (`{flag} {name}`); nothing followed it"
        ))
    })
}

/// The whole number above 0 after `flag`.
fn next_number<'a>(
    args: &mut impl Iterator<Item = &'a String>,
    flag: &str,
    name: &str,
) -> Result<usize, Parsed> {
    let what = "a whole number above 0";
    let value = next_value(args, flag, what, name)?;
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Parsed::Bad(format!("{flag} takes {what}, not {value:?}")))
}

/// Where `--json FILE`'s figures are written first: beside it, so that the
/// rename onto it is atomic and FILE is never left half-written.
fn json_scratch(file: &Path) -> PathBuf {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    file.with_file_name(format!(".{name}.nuages-bench-{}.tmp", std::process::id()))
}

/// Can `--json FILE` be written? Its folder must exist and take a new file
/// (tried with the scratch file, removed at once: FILE itself is not touched).
fn check_json_file(file: &Path) -> Result<(), String> {
    let shown = file.display();
    if file.is_dir() {
        return Err(format!(
            "--json {shown}: that is a folder; --json takes the file to write the figures to"
        ));
    }
    let folder = match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        let folder = folder.display();
        let problem = if file.parent().is_some_and(Path::exists) {
            format!("{folder} is a file, not a folder")
        } else {
            format!("the folder {folder} does not exist")
        };
        return Err(format!(
            "--json {shown}: {problem}; --json FILE needs a folder that exists (create it, or name a file in another)"
        ));
    }
    let scratch = json_scratch(file);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&scratch)
        .map_err(|e| {
            format!(
                "--json {shown}: cannot write in {} ({e}); name a file in a folder you can write to",
                folder.display()
            )
        })?;
    let _ = std::fs::remove_file(&scratch);
    Ok(())
}

/// Write `text` to `file` whole: into the scratch file, then renamed onto it.
fn write_json_file(file: &Path, text: &str) -> Result<(), String> {
    let scratch = json_scratch(file);
    std::fs::write(&scratch, text)
        .and_then(|()| std::fs::rename(&scratch, file))
        .map_err(|e| {
            let _ = std::fs::remove_file(&scratch);
            format!("writing the figures to {}: {e}", file.display())
        })
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

    // The sections that load servers, in order: (name, title, run).
    type LoadSection =
        fn(&Path, Generator, &LoadSettings, &Options, &mut Report) -> Result<(), String>;
    let load_sections: [(&str, &str, LoadSection); 5] = [
        (
            "hello",
            "full stack: /hello/<name>/ and a 404, Nuages serve vs bare axum",
            hello,
        ),
        (
            "polls",
            "/polls/: the example project vs axum + tera + sqlx",
            polls,
        ),
        (
            "peers",
            "peers: /hello/<name>/, Nuages vs Loco's generated app and the same protections by hand on axum",
            peers,
        ),
        (
            "django",
            "Django pages: /hello/<name>/, Nuages vs Django + gunicorn",
            django,
        ),
        (
            "routes",
            "URLconf size: /hello/<name>/ with 1,000 URL patterns vs 10",
            routes,
        ),
    ];
    // A section that fails is reported as not measured and the run goes on:
    // the figures of the others are still printed and written.
    for (name, title, run_section) in load_sections {
        if options.wants(name) {
            section(title);
            let result = run_section(&work, generator, &load, options, &mut report);
            not_measured_if_failed(&mut report, name, result);
        }
    }
    type OtherSection = fn(&Path, &Options, &mut Report) -> Result<(), String>;
    let other_sections: [(&str, &str, OtherSection); 3] = [
        (
            "startup",
            "start-up: exec to the first good answer",
            startup,
        ),
        (
            "static",
            "collectstatic: 5,000 files in 50 folders, Nuages vs Django",
            collectstatic,
        ),
        ("commands", "check --deploy and startproject", commands),
    ];
    for (name, title, run_section) in other_sections {
        if options.wants(name) {
            section(title);
            let result = run_section(&work, options, &mut report);
            not_measured_if_failed(&mut report, name, result);
        }
    }
    report.total = Some(started.elapsed());
    finish(&report, options)
}

/// Record a section's failure as not measured, with its reason.
fn not_measured_if_failed(report: &mut Report, section: &'static str, result: Result<(), String>) {
    if let Err(reason) = result {
        eprintln!("  {section} not measured: {reason}");
        report.not_measured.push((section, reason));
    }
}

/// Print the tables and write `--json FILE`; then fail (exit 1) if a
/// requested section, or a side of one, could not be measured.
fn finish(report: &Report, options: &Options) -> Result<(), String> {
    println!();
    println!("{}", report.render());
    if let Some(file) = &options.json {
        let text = serde_json::to_string_pretty(&report.to_json()).map_err(|e| e.to_string())?;
        write_json_file(file, &(text + "\n"))?;
        eprintln!("figures written to {}", file.display());
    }
    if report.not_measured.is_empty() {
        return Ok(());
    }
    let mut sections: Vec<&str> = report.not_measured.iter().map(|(s, _)| *s).collect();
    sections.dedup();
    Err(format!(
        "not measured in this run: {} (the reasons are in the report above); the other figures are {}",
        sections.join(", "),
        match &options.json {
            Some(file) => format!("printed and written to {}", file.display()),
            None => "printed".to_string(),
        }
    ))
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
    start_command(name, command, env, port, ready, work)
}

/// Start `command` (a server listening on `port`); wait for `ready` to answer `status`.
fn start_command(
    name: &str,
    mut command: Command,
    env: &[(&str, &Path)],
    port: u16,
    ready: (&str, u16),
    work: &Path,
) -> Result<(Server, Duration), String> {
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

/// A Nuages one-page site (`hellosite`, `routesite 10`…) serving with `settings`.
fn start_nuages(name: &str, site: &[&str], settings: &Path, work: &Path) -> Result<Server, String> {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = site.to_vec();
    args.extend(["serve", "--bind", bind.as_str()]);
    let (server, _) = start(
        name,
        &args,
        &[("NUAGES_SETTINGS", settings)],
        port,
        (HELLO_PAGE, 200),
        work,
    )?;
    Ok(server)
}

/// The page every comparison of `/hello/<name>/` requests.
const HELLO_PAGE: &str = "/hello/world/";

/// The hello site's folder, template and settings (default log level and
/// `warn`), written once per run.
struct HelloSite {
    templates: PathBuf,
    settings: PathBuf,
    quiet: PathBuf,
}

fn hello_site(work: &Path) -> Result<HelloSite, String> {
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
    Ok(HelloSite {
        templates,
        settings,
        quiet,
    })
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
    paths
        .iter()
        .map(|path| {
            let targets: Vec<(&Server, &str)> = servers.iter().map(|s| (*s, *path)).collect();
            alternate_each(generator, settings, rounds, &targets)
        })
        .collect()
}

/// Drive each server on its own path (Loco's pages have no trailing slash),
/// rotating which goes first each round; the runs of `targets[i]` are
/// `result[i]`, each with the server's CPU time per request.
fn alternate_each(
    generator: Generator,
    settings: &LoadSettings,
    rounds: usize,
    targets: &[(&Server, &str)],
) -> Result<Vec<Vec<Load>>, String> {
    // Warm every server up (connections, caches, the allocator) before measuring.
    let warm = LoadSettings {
        duration: Duration::from_secs(1),
        ..settings.clone()
    };
    for (server, path) in targets {
        generator.run(server.addr, path, &warm)?;
    }
    let mut results: Vec<Vec<Load>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.rotate_left(round % targets.len());
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (server, path) = targets[i];
            let cpu_before = server.cpu_seconds();
            let mut load = generator.run(server.addr, path, settings)?;
            load.cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / load.requests.max(1.0);
            eprintln!(
                "  round {}  {:<16} {:<14} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  {:>6.1} µs CPU/req",
                round + 1,
                path,
                server.name,
                load.rps,
                load.p50_ms,
                load.p99_ms,
                load.cpu_us
            );
            results[i].push(load);
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
    let HelloSite {
        templates,
        settings,
        quiet,
    } = hello_site(work)?;
    let page = HELLO_PAGE;
    let missing = "/missing/page/";
    let mut servers = Vec::new();
    for (name, file) in [("nuages", &settings), ("nuages-warn", &quiet)] {
        servers.push(start_nuages(name, &["hellosite"], file, work)?);
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
    for (p, name) in [report::HELLO, report::NOT_FOUND].into_iter().enumerate() {
        for (variant, server) in [("info", 0), ("warn", 1)] {
            report.pages.push(report::PageRow::new(
                name,
                variant,
                report::BARE_AXUM,
                &results[p][server],
                &results[p][2],
            ));
        }
    }
    record_memory(report, "/hello/", &servers[0], &servers[2]);
    Ok(())
}

/// The memory of the Nuages and bare axum servers of `page`, after the load.
fn record_memory(report: &mut Report, page: &'static str, nuages: &Server, axum: &Server) {
    report.memory.push((page, nuages.rss_mib(), axum.rss_mib()));
    report
        .private_memory
        .push((page, nuages.rss_anon_mib(), axum.rss_anon_mib()));
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
    for (variant, server) in [("info", 0), ("warn", 1)] {
        report.pages.push(report::PageRow::new(
            report::POLLS,
            variant,
            report::AXUM_SQLX,
            &results[0][server],
            &results[0][2],
        ));
    }
    record_memory(report, "/polls/", &servers[0], &servers[2]);
    Ok(())
}

/// What Loco's generated app is called, and its binary.
const LOCO_APP: &str = "locosite";
const LOCO_BIN: &str = "locosite-cli";
/// Loco registers `/hello/{name}/` as `/hello/{name}`: it drops trailing
/// slashes, so its page is requested without one.
const LOCO_PAGE: &str = "/hello/world";

fn peers(
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let cargo = procs::cargo();
    peers_built_with(
        &cargo,
        &target_dir(),
        work,
        generator,
        load,
        options,
        report,
    )
}

/// The peers section, its peers built with `cargo` under `target` (a test
/// passes a cargo that fails).
fn peers_built_with(
    cargo: &OsStr,
    target: &Path,
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let site = hello_site(work)?;
    let loco = peers::build(cargo, target, LOCO_APP, LOCO_BIN)?;
    let stack = peers::build(cargo, target, "axum-stack", "axum-stack")?;
    report.peer_builds.push(("Loco's app", loco.build_time));
    report
        .peer_builds
        .push(("the hand-assembled axum stack", stack.build_time));
    // Loco renders `assets/views/hello/hello.html`: the same template file.
    let views = loco.dir.join("assets/views/hello");
    std::fs::create_dir_all(&views).map_err(|e| e.to_string())?;
    std::fs::write(views.join("hello.html"), sites::HELLO_TEMPLATE).map_err(|e| e.to_string())?;

    let nuages = start_nuages("nuages", &["hellosite"], &site.settings, work)?;
    let port = free_port();
    let mut command = Command::new(&loco.binary);
    command
        .current_dir(&loco.dir)
        .args(["start", "--environment", "production"])
        .env("PORT", port.to_string())
        .env("BINDING", "127.0.0.1")
        .env("HOST", format!("http://127.0.0.1:{port}"));
    let (loco_server, _) = start_command("loco", command, &[], port, (LOCO_PAGE, 200), work)?;
    let port = free_port();
    let mut command = Command::new(&stack.binary);
    command.arg(port.to_string()).arg(&site.templates);
    let (stack_server, _) =
        start_command("axum-stack", command, &[], port, (HELLO_PAGE, 200), work)?;
    for (server, page) in [
        (&nuages, HELLO_PAGE),
        (&loco_server, LOCO_PAGE),
        (&stack_server, HELLO_PAGE),
    ] {
        expect_page(server, page, 200, "<h1>Hello, world!</h1>")?;
    }
    expect_page(&stack_server, HELLO_PAGE, 200, "x-frame-options: DENY")?;
    let results = alternate_each(
        generator,
        load,
        options.rounds,
        &[
            (&nuages, HELLO_PAGE),
            (&loco_server, LOCO_PAGE),
            (&stack_server, HELLO_PAGE),
        ],
    )?;
    for (baseline, other) in [(report::LOCO, 1), (report::AXUM_STACK, 2)] {
        report.pages.push(report::PageRow::new(
            report::HELLO,
            "info",
            baseline,
            &results[0],
            &results[other],
        ));
    }
    report.notes.push(format!(
        "Loco: the app `loco new` generates (loco-rs {}), production environment, its default middleware; \
         it drops trailing slashes, so its page is `/hello/world`.",
        peers::locked_version(LOCO_APP, "loco-rs").unwrap_or_else(|| "?".into())
    ));
    report.notes.push(format!(
        "axum stack: axum {}, tower-http {} (TraceLayer at info, security headers, body limit), \
         host check, tower-sessions {} (signed cookies), axum_csrf {}, tera {}.",
        peers::locked_version("axum-stack", "axum").unwrap_or_default(),
        peers::locked_version("axum-stack", "tower-http").unwrap_or_default(),
        peers::locked_version("axum-stack", "tower-sessions").unwrap_or_default(),
        peers::locked_version("axum-stack", "axum_csrf").unwrap_or_default(),
        peers::locked_version("axum-stack", "tera").unwrap_or_default(),
    ));
    Ok(())
}

fn django(
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let site = hello_site(work)?;
    let python = statics::django_python(&target_dir())
        .map_err(|error| format!("Django is not available: {error}"))?;
    let gunicorn = peers::gunicorn(&python)?;
    let project = peers::django_project(work)?;
    let nuages = start_nuages("nuages", &["hellosite"], &site.settings, work)?;
    let port = free_port();
    let mut command = Command::new(&gunicorn);
    command
        .current_dir(&project)
        .args(["--workers", "2", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("benchsite.wsgi:application");
    let (django, _) = start_command("django", command, &[], port, (HELLO_PAGE, 200), work)?;
    for server in [&nuages, &django] {
        expect_page(server, HELLO_PAGE, 200, "<h1>Hello, world!</h1>")?;
        expect_page(server, "/hello/%3Cb%3E/", 200, "Hello, &lt;b&gt;!")?;
    }
    let results = alternate_each(
        generator,
        load,
        options.rounds,
        &[(&nuages, HELLO_PAGE), (&django, HELLO_PAGE)],
    )?;
    report.pages.push(report::PageRow::new(
        report::HELLO,
        "info",
        report::DJANGO,
        &results[0],
        &results[1],
    ));
    report.notes.push(format!(
        "Django {} under gunicorn {} (2 sync workers), DEBUG = False, the default middleware.",
        peers::python_package_version(&python, "django"),
        peers::python_package_version(&python, "gunicorn"),
    ));
    Ok(())
}

fn routes(
    work: &Path,
    generator: Generator,
    load: &LoadSettings,
    options: &Options,
    report: &mut Report,
) -> Result<(), String> {
    let site = hello_site(work)?;
    let few = sites::ROUTES_FEW.to_string();
    let many = sites::ROUTES_MANY.to_string();
    let ten = start_nuages(
        "nuages-10-routes",
        &["routesite", &few],
        &site.settings,
        work,
    )?;
    let thousand = start_nuages(
        "nuages-1000-routes",
        &["routesite", &many],
        &site.settings,
        work,
    )?;
    for server in [&ten, &thousand] {
        expect_page(server, HELLO_PAGE, 200, "<h1>Hello, world!</h1>")?;
        expect_page(server, "/app2/7/edit/", 200, "item 7")?;
    }
    expect_page(&thousand, "/app332/", 200, "index")?;
    let results = alternate_each(
        generator,
        load,
        options.rounds,
        &[(&thousand, HELLO_PAGE), (&ten, HELLO_PAGE)],
    )?;
    report.pages.push(report::PageRow::new(
        report::HELLO,
        "1,000 routes",
        report::TEN_ROUTES,
        &results[0],
        &results[1],
    ));
    Ok(())
}

fn startup(work: &Path, options: &Options, report: &mut Report) -> Result<(), String> {
    let site = hello_site(work)?;
    let settings = site.settings;
    let templates = site.templates.display().to_string();
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
            not_measured_if_failed(
                report,
                "static",
                Err(format!(
                    "Django is not available ({error}); only Nuages is timed"
                )),
            );
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
        Err(error) => not_measured_if_failed(
            report,
            "commands",
            Err(format!("startproject not timed: {error}")),
        ),
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
    let cargo = procs::cargo();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["build", "--quiet", "-p", "nuages-bench", "-p", "nuages-cli"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|e| procs::cargo_did_not_run(&cargo, &e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, Parsed> {
        Options::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    fn bad(args: &[&str]) -> String {
        match parse(args) {
            Err(Parsed::Bad(error)) => error,
            other => panic!("{args:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn each_bad_argument_is_named_with_what_it_takes() {
        assert_eq!(
            bad(&["--bogus"]),
            "unknown argument \"--bogus\" (the options are --quick, --rounds, --seconds, --json, --only and --help)"
        );
        assert_eq!(
            bad(&["--only", "hallo"]),
            "--only takes one of hello, polls, peers, django, routes, startup, static, commands, not \"hallo\""
        );
        assert_eq!(
            bad(&["--rounds", "0"]),
            "--rounds takes a whole number above 0, not \"0\""
        );
        assert_eq!(
            bad(&["--seconds", "abc"]),
            "--seconds takes a whole number above 0, not \"abc\""
        );
        assert_eq!(
            bad(&["--quick", "--json"]),
            "--json takes a file to write the figures to after it (`--json FILE`); nothing followed it"
        );
        assert_eq!(
            bad(&["--rounds"]),
            "--rounds takes a whole number above 0 after it (`--rounds N`); nothing followed it"
        );
        assert_eq!(
            bad(&["--only"]),
            "--only takes a section after it (`--only SECTION`); nothing followed it"
        );
    }

    /// An empty folder of this test's own, under the system's temporary folder.
    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nuages-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn json_file_is_checked_before_the_run_and_written_whole() {
        let dir = scratch_dir("json");
        let missing = dir.join("no-such-folder/figures.json");
        assert_eq!(
            bad(&["--json", missing.to_str().unwrap()]),
            format!(
                "--json {}: the folder {} does not exist; --json FILE needs a folder that exists (create it, or name a file in another)",
                missing.display(),
                dir.join("no-such-folder").display()
            )
        );
        assert_eq!(
            bad(&["--json", dir.to_str().unwrap()]),
            format!(
                "--json {}: that is a folder; --json takes the file to write the figures to",
                dir.display()
            )
        );
        let plain = dir.join("plain");
        std::fs::write(&plain, "x").unwrap();
        let under_file = plain.join("figures.json");
        assert_eq!(
            bad(&["--json", under_file.to_str().unwrap()]),
            format!(
                "--json {}: {} is a file, not a folder; --json FILE needs a folder that exists (create it, or name a file in another)",
                under_file.display(),
                plain.display()
            )
        );

        // A good file: accepted, and nothing left in the folder by the check.
        let file = dir.join("figures.json");
        let options = parse(&["--json", file.to_str().unwrap()]).unwrap();
        assert_eq!(options.json.as_deref(), Some(file.as_path()));
        let listing = || {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(listing(), ["plain"]);
        write_json_file(&file, "{\"a\": 1}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\": 1}\n");
        assert_eq!(listing(), ["figures.json", "plain"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Run the peers section with `cargo` in a scratch target folder (it
    /// fails at the build, before any server starts); what it reported.
    fn peers_with_cargo(cargo: &str, name: &str, report: &mut Report) -> PathBuf {
        let target = scratch_dir(name);
        let work = target.join("run");
        let load = LoadSettings {
            threads: 1,
            connections: 1,
            duration: Duration::from_secs(1),
        };
        let options = parse(&[]).unwrap();
        let result = peers_built_with(
            OsStr::new(cargo),
            &target,
            &work,
            Generator::Builtin,
            &load,
            &options,
            report,
        );
        not_measured_if_failed(report, "peers", result);
        target
    }

    #[test]
    fn a_peer_that_does_not_build_is_reported_not_measured_and_the_figures_kept() {
        let mut report = Report::new("2 cores".into(), "built-in".into(), 1);
        // A figure measured before the peers section.
        let figure = load::Load {
            rps: 1000.0,
            p50_ms: 1.0,
            p99_ms: 2.0,
            requests: 2000.0,
            cpu_us: 30.0,
        };
        report.pages.push(report::PageRow::new(
            report::HELLO,
            "info",
            report::BARE_AXUM,
            &[figure],
            &[figure],
        ));
        let target = peers_with_cargo("/bin/false", "peers-false", &mut report);
        let peers = target.join("nuages-bench/peers");
        let reason = format!(
            "building locosite failed (exit status: 1) and cargo printed nothing on stderr\n\
             to see the whole output: cd {} && CARGO_TARGET_DIR={} cargo build --release --locked --bin locosite-cli",
            peers.join("locosite").display(),
            peers.join("target").display()
        );
        assert_eq!(report.not_measured, [("peers", reason.clone())]);

        // The run ends as usual: the tables, the JSON, then exit 1 naming the section.
        let json = target.join("figures.json");
        let options = parse(&["--json", json.to_str().unwrap()]).unwrap();
        assert_eq!(
            finish(&report, &options).unwrap_err(),
            format!(
                "not measured in this run: peers (the reasons are in the report above); \
                 the other figures are printed and written to {}",
                json.display()
            )
        );
        let rendered = report.render();
        assert!(
            rendered.contains("| /hello/<name>/ (Tera) | info | bare axum | 1000 |"),
            "{rendered}"
        );
        assert!(
            rendered.contains(&format!("Not measured in this run:\n- `peers`: {reason}")),
            "{rendered}"
        );
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(written["pages"][0]["nuages"]["rps"], 1000.0);
        assert_eq!(written["not_measured"][0]["section"], "peers");
        assert_eq!(written["not_measured"][0]["reason"], reason.as_str());
        std::fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn a_cargo_that_does_not_run_or_fails_says_why() {
        let mut report = Report::new("2 cores".into(), "built-in".into(), 1);
        let target = peers_with_cargo("/no/such/cargo", "peers-nocargo", &mut report);
        assert_eq!(
            report.not_measured,
            [(
                "peers",
                "cargo did not run (/no/such/cargo: No such file or directory (os error 2)); \
                 put cargo on PATH, or set CARGO to its path"
                    .to_string()
            )]
        );
        std::fs::remove_dir_all(&target).unwrap();

        // A cargo that fails after 30 lines on stderr: the last 20 are shown.
        let dir = scratch_dir("peers-noisy-cargo");
        let cargo = dir.join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\nfor i in $(seq 1 30); do echo \"line $i\" >&2; done\nexit 101\n",
        )
        .unwrap();
        let mut perms = std::fs::metadata(&cargo).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&cargo, perms).unwrap();
        let mut report = Report::new("2 cores".into(), "built-in".into(), 1);
        let target = peers_with_cargo(cargo.to_str().unwrap(), "peers-noisy", &mut report);
        let (section, reason) = &report.not_measured[0];
        assert_eq!(*section, "peers");
        let lines: Vec<String> = (11..=30).map(|i| format!("line {i}")).collect();
        assert!(
            reason.starts_with(&format!(
                "building locosite failed (exit status: 101); the last 20 lines cargo printed on stderr:\n{}\n",
                lines.join("\n")
            )),
            "{reason}"
        );
        std::fs::remove_dir_all(&target).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn help_is_not_an_error() {
        assert_eq!(parse(&["--help"]).unwrap_err(), Parsed::Help);
        assert_eq!(parse(&["--quick", "-h"]).unwrap_err(), Parsed::Help);
        assert!(usage().starts_with("usage: nuages-bench [--quick] [--rounds N]"));
    }

    #[test]
    fn explicit_rounds_and_seconds_win_over_quick_in_any_order() {
        for args in [
            ["--rounds", "4", "--seconds", "9", "--quick"],
            ["--quick", "--rounds", "4", "--seconds", "9"],
        ] {
            let options = parse(&args).unwrap();
            assert_eq!(options.rounds, 4, "{args:?}");
            assert_eq!(options.duration, Duration::from_secs(9), "{args:?}");
            // The rest of --quick still applies.
            assert_eq!(options.startups, 3, "{args:?}");
        }
        let quick = parse(&["--quick"]).unwrap();
        assert_eq!((quick.rounds, quick.duration), (1, Duration::from_secs(2)));
        let full = parse(&[]).unwrap();
        assert_eq!((full.rounds, full.duration), (5, Duration::from_secs(3)));
    }
}
