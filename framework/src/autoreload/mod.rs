//! The development reloader behind `runserver`: it owns the listening socket,
//! runs the server as a child that inherits it (`LISTEN_FDS`), watches the
//! project's sources, settings and templates, rebuilds with cargo on a
//! source change and replaces the child once the new one says it serves.
//!
//! - A failed build prints the compiler's errors while the last good server
//!   keeps serving; since both children share one socket, the port is never
//!   released between them.
//! - A child that cannot start (a template that does not parse, a settings
//!   error, a system check error) says why; the reloader prints it and, until
//!   a change makes a server start, answers every request itself with a 500
//!   page showing it (debug only), so no connection waits in vain.
//! - Editing the settings restarts the server; editing a template retries a
//!   server that could not start.
//! - SIGINT, SIGTERM and SIGHUP stop the reloader and its server; a child
//!   also stops if the reloader is killed outright.

mod child;
mod standin;
mod watch;

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub use child::StartReport;
use child::{Outcome, Starting};
use standin::{Failure, StandIn};
use watch::{Change, Watched};

use crate::conf::{Settings, SettingsLoader};
use crate::error::{Error, ErrorReport, Problem};
use crate::project::Project;

/// Set in the environment of the server child the reloader starts: the
/// child serves on the socket it is passed instead of starting a reloader.
pub const CHILD_VARIABLE: &str = "RUN_MAIN";

fn failed(message: String) -> Error {
    Error::Config(Problem::new(message))
}

/// Quiet time after the last change before acting (editors save in bursts).
const DEBOUNCE: Duration = Duration::from_millis(300);

/// How long a failed build waits for our own stop signal: Ctrl-C reaches
/// cargo and the reloader together, and an interrupted build is no failure.
const INTERRUPT_GRACE: Duration = Duration::from_millis(300);

/// Run the reloader for `project` until SIGINT, SIGTERM or SIGHUP: start
/// this program again as the server (with [`CHILD_VARIABLE`] set and
/// `listener` passed as `LISTEN_FDS`), rebuild and restart it when a source
/// changes, and answer on `listener` itself while no server is up.
/// `settings` were loaded from `settings_path`, which is watched too.
/// `greeting` is printed once the first server has run its system checks
/// (whether it starts or not), after what they print, as Django's order is.
pub fn supervise(
    project: &Project,
    settings_path: &Path,
    settings: Settings,
    listener: std::net::TcpListener,
    greeting: String,
) -> Result<(), Error> {
    let project_dir = project.dir().to_path_buf();
    // Taken now: once cargo replaces the binary, /proc/self/exe names a deleted file.
    let exe = std::env::current_exe()
        .map_err(|e| failed(format!("cannot find the server binary: {e}")))?;
    let mut template_dirs = settings.template_dirs.clone();
    template_dirs.extend(
        project
            .installed_apps()
            .iter()
            .map(|app| app.templates_dir()),
    );
    let watched = Watched::new(&project_dir, settings_path, template_dirs);
    let loader = project.settings_loader(settings_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the reloader: {e}")))?;
    runtime.block_on(async move {
        let (changes, mut changed) = mpsc::unbounded_channel::<PathBuf>();
        let _watcher = watched.start(changes).map_err(failed)?;
        let standin = StandIn::start(&listener)
            .map_err(|e| failed(format!("cannot answer on the server's socket: {e}")))?;
        let mut reloader = Reloader {
            exe,
            listener: listener.as_raw_fd(),
            settings,
            loader,
            serving: None,
            starting: None,
            standin,
            greeting: Some(greeting),
        };
        reloader.start(Reason::First).await?;
        let mut stop = std::pin::pin!(stop_signal());
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => {
                    reloader.shutdown().await;
                    return Ok(());
                }
                Some(path) = changed.recv() => {
                    // Let the burst of saves settle, then act once, for the
                    // change that calls for the most.
                    tokio::time::sleep(DEBOUNCE).await;
                    let mut paths = vec![path];
                    while let Ok(path) = changed.try_recv() {
                        paths.push(path);
                    }
                    let Some((change, path)) = paths
                        .into_iter()
                        .filter_map(|path| watched.classify(&path).map(|change| (change, path)))
                        .max_by_key(|(change, _)| *change)
                    else {
                        continue;
                    };
                    let shown = path.strip_prefix(&project_dir).unwrap_or(&path).display().to_string();
                    match change {
                        Change::Source => {
                            crate::management::output::eprintln(format_args!("{shown} changed, rebuilding…"));
                            let built = tokio::select! {
                                biased;
                                _ = &mut stop => {
                                    reloader.shutdown().await;
                                    return Ok(());
                                }
                                built = rebuild(&project_dir, &reloader.exe) => built,
                            };
                            match built {
                                Ok(()) => reloader.start(Reason::Rebuilt).await?,
                                Err(failure) => tokio::select! {
                                    biased;
                                    _ = &mut stop => {
                                        reloader.shutdown().await;
                                        return Ok(());
                                    }
                                    _ = tokio::time::sleep(INTERRUPT_GRACE) => reloader.build_failed(failure),
                                },
                            }
                        }
                        Change::Settings => {
                            crate::management::output::eprintln(format_args!("{shown} changed, restarting the server…"));
                            reloader.start(Reason::Restarted).await?;
                        }
                        Change::Template if reloader.is_down() => {
                            crate::management::output::eprintln(format_args!("{shown} changed, starting the server again…"));
                            reloader.start(Reason::Restarted).await?;
                        }
                        Change::Template => {}
                    }
                }
                outcome = starting_outcome(&mut reloader.starting) => reloader.started(outcome).await,
                status = wait_for(&mut reloader.serving) => reloader.server_exited(&status),
            }
        }
    })
}

/// Why a server is being started: what to say once it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The first one; the banner said it all.
    First,
    /// After a successful build.
    Rebuilt,
    /// After a settings or template change.
    Restarted,
}

/// The reloader's servers: the one answering, and the one starting.
struct Reloader {
    exe: PathBuf,
    listener: RawFd,
    /// The last settings that loaded: what the stand-in's page follows.
    settings: Settings,
    /// Loads the settings file again, with the project's sections.
    loader: SettingsLoader,
    serving: Option<Child>,
    starting: Option<(Starting, Reason)>,
    standin: StandIn,
    /// What to print after the first server's checks; taken then.
    greeting: Option<String>,
}

impl Reloader {
    /// Whether no server is up, nor about to be.
    fn is_down(&self) -> bool {
        self.serving.is_none() && self.starting.is_none()
    }

    /// Start a server; one still starting from an earlier change is stale.
    async fn start(&mut self, reason: Reason) -> Result<(), Error> {
        if let Some((stale, _)) = self.starting.take() {
            stale.abandon().await;
        }
        let child = Starting::spawn(&self.exe, self.listener)
            .map_err(|e| failed(format!("cannot start the server: {e}")))?;
        self.starting = Some((child, reason));
        Ok(())
    }

    /// The starting server has said whether it serves.
    async fn started(&mut self, outcome: Outcome) {
        let Some((starting, reason)) = self.starting.take() else {
            return;
        };
        if let Some(greeting) = self.greeting.take() {
            // Not `print!`: a closed stdout is no reason to stop serving.
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(greeting.as_bytes())
                .and_then(|()| stdout.flush());
        }
        match outcome {
            Outcome::Ready => {
                // What the page of a later failure follows: these settings
                // (`debug = false` now hides its detail), not the first ones.
                self.reload_settings();
                self.standin.stop_answering();
                if let Some(old) = self.serving.replace(starting.into_child()) {
                    child::terminate(old).await;
                }
                match reason {
                    Reason::First => {}
                    Reason::Rebuilt => crate::management::output::eprintln(format_args!(
                        "Rebuilt; the new server is answering."
                    )),
                    Reason::Restarted => crate::management::output::eprintln(format_args!(
                        "Restarted; the new server is answering."
                    )),
                }
            }
            Outcome::Failed { error, status } => {
                // The last server ran other code or settings: answering with
                // it would hide the error.
                if let Some(old) = self.serving.take() {
                    child::terminate(old).await;
                }
                crate::management::output::eprintln(format_args!("{error}"));
                crate::management::output::eprintln(format_args!(
                    "The server did not start ({status}). Until it does, every request gets this error. \
                     Fix it and save: a change to a template, the settings or a .rs file starts it again."
                ));
                self.answer_with(
                    vec!["The development server did not start".into(), error],
                    "fix the error shown and save the file: a change to a template, the settings or a .rs file \
                     starts the server again",
                );
            }
        }
    }

    /// The server that was answering has exited by itself.
    fn server_exited(&mut self, status: &str) {
        self.serving = None;
        crate::management::output::eprintln(format_args!(
            "The server exited ({status}); until a change starts it again, every request gets an error page."
        ));
        self.answer_with(
            vec![format!("The development server exited ({status})")],
            "its output is in the terminal; save a file of the project to start it again",
        );
    }

    /// A build failed: the last good server, if there is one, keeps serving.
    fn build_failed(&mut self, failure: Build) {
        let errors = match failure {
            Build::Failed(errors) => errors,
            Build::Interrupted => {
                crate::management::output::eprintln(format_args!(
                    "The build was interrupted by a signal; save again to rebuild."
                ));
                return;
            }
        };
        crate::management::output::eprintln(format_args!("{errors}"));
        if self.serving.is_none() {
            crate::management::output::eprintln(format_args!(
                "The build failed and no server is running. Fix the error and save again."
            ));
            self.answer_with(
                vec!["The project does not build".into(), errors],
                "fix the compiler's errors and save the file: the server starts once it builds",
            );
        } else {
            crate::management::output::eprintln(format_args!(
                "The build failed; the last good server keeps running. Fix the error and save again."
            ));
        }
    }

    /// Answer every request with this error until a server starts.
    fn answer_with(&mut self, chain: Vec<String>, hint: &str) {
        // The settings may have changed since the last load, or be the error.
        self.reload_settings();
        self.standin.answer_with(Failure {
            report: ErrorReport {
                chain,
                hint: Some(hint.to_string()),
            },
            settings: self.settings.clone(),
        });
    }

    /// The settings as the file says now; the last that loaded if it
    /// does not load.
    fn reload_settings(&mut self) {
        if let Ok(settings) = self.loader.load() {
            self.settings = settings;
        }
    }

    /// Stop every server.
    async fn shutdown(&mut self) {
        self.standin.stop_answering();
        if let Some((starting, _)) = self.starting.take() {
            starting.abandon().await;
        }
        if let Some(child) = self.serving.take() {
            child::terminate(child).await;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C), SIGTERM, or SIGHUP (the terminal closed).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    let mut hangup = signal(SignalKind::hangup()).expect("a SIGHUP handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
        _ = hangup.recv() => {}
    }
}

async fn starting_outcome(starting: &mut Option<(Starting, Reason)>) -> Outcome {
    match starting {
        Some((child, _)) => child.outcome().await,
        None => std::future::pending().await,
    }
}

async fn wait_for(server: &mut Option<Child>) -> String {
    match server {
        Some(child) => child::describe(child.wait().await),
        None => std::future::pending().await,
    }
}

/// Why a build did not produce a binary.
#[derive(Debug)]
enum Build {
    /// The compiler's errors.
    Failed(String),
    /// Cargo was stopped by a signal (Ctrl-C reaches it too).
    Interrupted,
}

/// The arguments of `cargo build` for the running binary `exe`: its
/// profile (`--release` when it is in `target/release/`), its name.
fn cargo_build_args(exe: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["build".into(), "--quiet".into()];
    if crate::project::profile_folder(exe) == Some("release") {
        args.push("--release".into());
    }
    if let Some(name) = exe.file_name() {
        args.extend(["--bin".into(), name.to_os_string()]);
    }
    args
}

/// `cargo build` the project with the profile of the running binary.
async fn rebuild(project_dir: &Path, exe: &Path) -> Result<(), Build> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(cargo_build_args(exe))
        .current_dir(project_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Build::Failed(format!("cannot run cargo: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    if output.status.success() {
        Ok(())
    } else if output.status.signal().is_some() {
        Err(Build::Interrupted)
    } else {
        Err(Build::Failed(
            String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profile of the rebuild is the binary's own folder's: a project
    /// under a folder named `release` (`~/release/site/`) rebuilt its debug
    /// binary with `--release`, then restarted the unchanged debug binary.
    #[test]
    fn the_rebuild_takes_the_profile_of_the_binarys_own_folder() {
        let args = |exe: &str| -> Vec<String> {
            cargo_build_args(Path::new(exe))
                .into_iter()
                .map(|arg| arg.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            args("/home/ann/release/site/target/debug/mysite"),
            ["build", "--quiet", "--bin", "mysite"]
        );
        assert_eq!(
            args("/home/ann/site/target/release/mysite"),
            ["build", "--quiet", "--release", "--bin", "mysite"]
        );
        assert_eq!(
            args("/srv/release/target/x86_64-unknown-linux-gnu/release/mysite"),
            ["build", "--quiet", "--release", "--bin", "mysite"]
        );
    }
}
