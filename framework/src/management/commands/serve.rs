//! `serve [--bind HOST:PORT | unix:PATH] [--static] [--allow-debug]`: the
//! production application server (hyper, HTTP/1.1 keep-alive and HTTP/2 over
//! cleartext) behind nginx or Apache. It refuses to start with debug on
//! (unless `--allow-debug`), on check errors, without a secret key, with an
//! insecure one, or as root when `serve_user` names another account; on
//! SIGTERM or SIGINT it stops accepting at once and answers the requests
//! already sent (up to `serve_graceful_timeout`); SIGHUP is logged and
//! ignored (it does not reload); SIGUSR1 reopens `log_file` (log rotation).

use std::time::Duration;

use clap::{Arg, ArgMatches};

use crate::conf::SETTINGS_VARIABLE;
use crate::management::{Command, CommandContext, CommandError, outln};
use crate::server::{self, Bind, Listener, ServeOptions};

/// `manage serve`.
pub struct Serve;

impl Command for Serve {
    fn name(&self) -> &'static str {
        "serve"
    }

    fn about(&self) -> &'static str {
        "Run the production server (behind nginx or Apache)"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("bind")
                    .long("bind")
                    .value_name("HOST:PORT|unix:PATH")
                    .help("Where to listen (default: the serve_bind setting); systemd-passed sockets win"),
            )
            .arg(
                Arg::new("static")
                    .long("static")
                    .action(clap::ArgAction::SetTrue)
                    .help("Also serve static_url from static_root (no web server in front)"),
            )
            .arg(
                Arg::new("allow-debug")
                    .long("allow-debug")
                    .action(clap::ArgAction::SetTrue)
                    .help("Serve even with debug = true (error pages then show code and settings)"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        if settings.debug && !args.get_flag("allow-debug") {
            return Err(debug_refused(ctx));
        }
        refuse_unsafe_settings(settings)?;
        // What --static serves, refused before the checks when it cannot.
        let static_root = match args.get_flag("static") {
            false => None,
            true => {
                let Some(root) = &settings.static_root else {
                    return Err(CommandError::failed(
                        "--static serves static_root, and static_root is not set",
                        Some("set static_root in the settings file and run collectstatic"),
                    ));
                };
                crate::staticfiles::serve::refuse_static_url_of_another_host(settings, "--static")?;
                Some(root)
            }
        };
        // Every check, deployment ones included: errors stop the server.
        let bind_flag = args.get_one::<String>("bind");
        let mut allowed = Vec::new();
        if args.get_flag("allow-debug") {
            allowed.push("nuages.E017");
        }
        if bind_flag.is_some() {
            // --bind replaces serve_bind, which is then not used.
            allowed.push("nuages.E052");
        }
        super::check::startup_checks(ctx, true, &allowed, bind_flag.map(String::as_str))?;
        let log_file = crate::logging::init(settings, ctx.verbosity_flag())?;
        let mut application = ctx.application()?;
        if let Some(root) = &static_root {
            outln!("Serving {} from {}", settings.static_url, root.display())?;
            application =
                application.with_static_serving(crate::staticfiles::StaticServing::Collected)?;
        }
        let name = ctx.project().name();
        let bind = match bind_flag {
            Some(text) => server::parse_bind(text, &settings.base_dir).map_err(|reason| {
                CommandError::usage(
                    format!("--bind {text:?} {reason}"),
                    Some(&format!(
                        "e.g. --bind 127.0.0.1:8000, --bind [::1]:8000 or --bind unix:/run/{name}/{name}.sock"
                    )),
                )
            })?,
            // Reached when nuages.E052 is silenced: the same words.
            None => server::serve_bind_setting(
                settings,
                name,
                std::env::var_os("NUAGES_SERVE_BIND").is_some(),
            )?,
        };
        let mode = u32::from_str_radix(&settings.serve_socket_mode, 8)
            .expect("validated when settings load");
        let options = ServeOptions {
            graceful_timeout: Duration::from_secs(settings.serve_graceful_timeout),
            ..ServeOptions::default()
        };
        let restart = format!(
            "restart it: `systemctl restart {name}` (the socket unit of deployconfig systemd \
             keeps new connections waiting meanwhile), or SIGTERM, which answers the requests \
             in flight, and start it again"
        );
        // Each connection holds a descriptor: room for more than the 1024
        // systemd allows by default.
        if let Err(error) = server::raise_open_files_limit() {
            tracing::warn!(
                target: "nuages::server",
                "the limit on open files could not be raised ({error}): each connection takes one \
                 of them; raise it with LimitNOFILE= in the systemd unit or ulimit -n"
            );
        }
        ctx.block_on(async move {
            // Listening first: while the reports below wait on a server that
            // does not answer (up to a few seconds), clients wait in the
            // socket's queue instead of being refused.
            let listener = listen(&bind, mode, name)?;
            // In the runtime that serves: the connections made are kept.
            application.report_unreachable_stores().await;
            // A production site on a database missing tables (the sessions'
            // with session_engine = "db": no login sticks) must say so.
            if let Some(notice) = crate::migrations::pending_notice(ctx.project(), settings).await {
                tracing::error!(target: "nuages::migrations", "{notice}");
            }
            // Ready: the code that only the start-up ran leaves the
            // process's memory (the requests take back what they run).
            if let Err(error) = server::release_code_pages() {
                tracing::debug!(target: "nuages::server", "code pages kept: {error}");
            }
            let shutdown = server::shutdown_signal_surviving_hangup(restart, log_file);
            outln!(
                "Serving {} on {} (Nuages {}, process {}, settings {})",
                ctx.project().name(),
                listener.describe(),
                crate::VERSION,
                std::process::id(),
                ctx.settings_path().display()
            )?;
            let graceful = options.graceful_timeout.as_secs();
            let stopped = server::serve(listener, application, options, shutdown)
                .await
                .map_err(|e| CommandError::failed(format!("the server failed: {e}"), None))?;
            // The server is down either way: a reader gone changes nothing.
            let _ = match stopped {
                server::Stopped::Drained => outln!("Shut down cleanly."),
                server::Stopped::CutOff => outln!(
                    "Shut down, cutting off the requests still running after {graceful}s \
                     (serve_graceful_timeout)."
                ),
            };
            Ok(())
        })
    }
}

/// The socket systemd passed, else a new one at `bind`.
fn listen(bind: &Bind, mode: u32, name: &str) -> Result<Listener, CommandError> {
    if let Some(listener) = server::inherited_listener().map_err(|e| {
        CommandError::failed(
            format!("cannot use the socket passed by systemd (LISTEN_FDS): {e}"),
            None,
        )
    })? {
        return Ok(listener);
    }
    let failed = |e: std::io::Error| {
        CommandError::failed(
            format!("cannot listen on {bind}: {e}"),
            Some(&listen_hint(bind, &e, name)),
        )
    };
    match bind {
        Bind::Tcp(addr) => {
            let listener = server::bind_tcp(*addr).map_err(failed)?;
            Ok(Listener::Tcp(
                tokio::net::TcpListener::from_std(listener).map_err(failed)?,
            ))
        }
        Bind::Unix(path) => server::bind_unix(path, mode).map_err(failed),
    }
}

/// The fix for a listener that could not be opened: another server there
/// (an address in use, a live socket), a file that is no socket at the
/// socket's path, a socket that is not known to be unused, a path too long for a socket, or a socket that cannot be
/// made in its folder (missing permission, a file where a folder goes),
/// which is not about what listens.
fn listen_hint(bind: &Bind, error: &std::io::Error, name: &str) -> String {
    const ELSEWHERE: &str = "choose another address with --bind or serve_bind";
    use std::io::ErrorKind;
    let path = match (bind, error.kind()) {
        (Bind::Unix(path), kind) if kind != ErrorKind::AddrInUse => path,
        (Bind::Tcp(_), ErrorKind::PermissionDenied) => {
            return "ports below 1024 need root or CAP_NET_BIND_SERVICE: let the socket unit of \
                    deployconfig systemd open it, or choose a port from 1024 up with --bind or \
                    serve_bind"
                .to_string();
        }
        (Bind::Tcp(_), ErrorKind::AddrNotAvailable) => {
            return format!(
                "that address is not one of this machine's (`ip -brief address` lists them): \
                 {ELSEWHERE}, such as 0.0.0.0:PORT for all of them"
            );
        }
        _ => return format!("stop what listens there, or {ELSEWHERE}"),
    };
    // Nothing is in the way: the path itself cannot be used.
    if path.as_os_str().len() > server::SOCKET_PATH_MAX {
        return format!(
            "choose a shorter path with --bind or serve_bind, such as unix:/run/{name}/{name}.sock \
             (a relative path is joined to the settings file's folder)"
        );
    }
    use std::os::unix::fs::FileTypeExt;
    // What is at the path already: a socket, another file, or nothing.
    let socket_there = std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| meta.file_type().is_socket());
    if socket_there == Some(false) {
        return format!(
            "move that file out of the way (serve replaces only a socket nothing answers on), \
             or {ELSEWHERE}"
        );
    }
    if socket_there == Some(true) && error.kind() == std::io::ErrorKind::AlreadyExists {
        return format!(
            "that socket belongs to another program or user: remove it if nothing uses it, \
             or {ELSEWHERE}"
        );
    }
    let folder = path.parent().unwrap_or(path);
    let user = crate::checks::files::Identity::current()
        .name
        .unwrap_or_else(|| "this account".to_string());
    let group = crate::checks::files::current_group_name();
    format!(
        "serve, running as {user}, makes the socket in {folder}: create that folder for it \
         (as root: install -d -o {user} -g {group} {folder}), let the socket unit of \
         deployconfig systemd make the socket, or {ELSEWHERE}",
        folder = folder.display()
    )
}

/// `serve` with development settings: a forgotten `NUAGES_SETTINGS` (or a
/// stray `NUAGES_DEBUG`) must not put debug pages in production.
fn debug_refused(ctx: &CommandContext) -> CommandError {
    let path = ctx.settings_path();
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let file = absolute.display();
    let (cause, fix) = match std::env::var(DEBUG_VARIABLE) {
        Ok(value) if !value.is_empty() => (
            format!("{DEBUG_VARIABLE}={value} in the environment turns it on over {file}"),
            format!("unset {DEBUG_VARIABLE}"),
        ),
        _ if ctx.settings_path().ends_with(PRODUCTION_SETTINGS) => (
            format!("serve loaded {file}"),
            format!("set debug = false in {file}"),
        ),
        _ => (
            format!("serve loaded {file}"),
            format!(
                "select the production settings with {SETTINGS_VARIABLE}={PRODUCTION_SETTINGS} or --settings {PRODUCTION_SETTINGS}"
            ),
        ),
    };
    CommandError::failed(
        format!(
            "debug is on ({cause}): serve is the production server, and debug pages show code and settings to every visitor"
        ),
        Some(&format!(
            "{fix}; to serve with debug on anyway, pass --allow-debug"
        )),
    )
}

/// The production settings file of a generated project.
const PRODUCTION_SETTINGS: &str = "settings.production.toml";
const DEBUG_VARIABLE: &str = "NUAGES_DEBUG";

/// The ids of the checks that report what `serve` refuses by itself, in
/// [`debug_refused`], [`refuse_unsafe_settings`] and at `serve_bind`
/// (without `--bind`): silencing one hides it from `check`, not from
/// `serve` (`nuages.W046`).
pub(crate) const REFUSED_BY_SERVE: &[&str] =
    &["nuages.E013", "nuages.E014", "nuages.E017", "nuages.E052"];

/// What `serve` will not run with, whatever the checks say.
fn refuse_unsafe_settings(settings: &crate::conf::Settings) -> Result<(), CommandError> {
    let key = settings.require_secret_key()?;
    if !settings.debug && !crate::checks::security::is_strong_secret(key) {
        return Err(CommandError::failed(
            "the secret_key is insecure (shorter than 50 characters, fewer than 5 different ones, or a generated development key)",
            Some(crate::checks::security::new_secret_hint(
                std::env::var_os("NUAGES_SECRET_KEY").is_some(),
            )),
        ));
    }
    if !settings.debug && settings.allowed_hosts.is_empty() {
        return Err(CommandError::failed(
            "allowed_hosts is empty: every request would be refused",
            Some("set allowed_hosts, or NUAGES_ALLOWED_HOSTS=example.com,www.example.com"),
        ));
    }
    refuse_root_for_another_user(
        crate::checks::files::Identity::current().uid,
        settings.serve_user.as_deref(),
        |user| {
            !matches!(
                crate::checks::files::Identity::of_user(user),
                Err(crate::checks::files::UserError::Unknown(_))
            )
        },
    )
}

/// Root serving a site whose `serve_user` names another account (`sudo
/// manage serve` to try it): its database, log and session files would be
/// written as root, which the service account then cannot write, and a flaw
/// in a view would run as root. `exists` says whether the system has the
/// account: when it has not (the deployment's `useradd` skipped), the hint
/// starts with the command that creates it, since `sudo -u` would fail.
fn refuse_root_for_another_user(
    uid: u32,
    serve_user: Option<&str>,
    exists: impl Fn(&str) -> bool,
) -> Result<(), CommandError> {
    match serve_user {
        Some(user) if uid == 0 && user != "root" => {
            let create = if exists(user) {
                String::new()
            } else {
                format!(
                    "there is no user '{user}' on this system: create it first with \
                     useradd --system --no-create-home {user}, then "
                )
            };
            Err(CommandError::failed(
                format!(
                    "serve is running as root while serve_user names {user:?}: the files it \
                     writes would belong to root, and every view would run as root"
                ),
                Some(&format!(
                    "{create}start it as {user}: sudo -u {user} …, or the unit deployconfig \
                     systemd writes (its User= is {user}); if root is meant, set serve_user = \
                     \"root\" (or NUAGES_SERVE_USER=root)"
                )),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP address that cannot be listened on for another reason than a
    /// server there is not blamed on what listens there.
    #[test]
    fn a_tcp_address_that_cannot_be_used_is_explained() {
        // TEST-NET-1: on no machine.
        let bind = Bind::Tcp("192.0.2.1:18000".parse().unwrap());
        let Err(CommandError::Failed(problem)) = listen(&bind, 0o660, "mysite") else {
            panic!("listened on 192.0.2.1")
        };
        let hint = problem.hint.unwrap_or_default();
        assert!(
            hint.starts_with("that address is not one of this machine's"),
            "{hint}"
        );
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let hint = listen_hint(&Bind::Tcp("127.0.0.1:81".parse().unwrap()), &denied, "m");
        assert!(hint.starts_with("ports below 1024 need root"), "{hint}");
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let hint = listen_hint(&Bind::Tcp("127.0.0.1:8000".parse().unwrap()), &in_use, "m");
        assert!(hint.starts_with("stop what listens there"), "{hint}");
    }

    #[test]
    fn root_may_not_serve_for_another_account() {
        let Err(CommandError::Failed(problem)) =
            refuse_root_for_another_user(0, Some("mysite"), |_| true)
        else {
            panic!("root serving for mysite is refused");
        };
        assert!(
            problem
                .message
                .starts_with("serve is running as root while serve_user names \"mysite\""),
            "{problem:?}"
        );
        let hint = problem.hint.expect("a hint");
        assert!(
            hint.starts_with("start it as mysite: sudo -u mysite"),
            "{hint}"
        );
        assert!(hint.contains("User= is mysite"), "{hint}");
        assert!(hint.contains("serve_user = \"root\""), "{hint}");
    }

    #[test]
    fn root_serving_for_an_account_not_made_yet_is_told_to_make_it() {
        let Err(CommandError::Failed(problem)) =
            refuse_root_for_another_user(0, Some("mysite"), |_| false)
        else {
            panic!("root serving for mysite is refused");
        };
        let hint = problem.hint.expect("a hint");
        assert!(
            hint.starts_with(
                "there is no user 'mysite' on this system: create it first with \
                 useradd --system --no-create-home mysite, then start it as mysite: sudo -u mysite"
            ),
            "{hint}"
        );
    }

    #[test]
    fn root_serves_when_meant_and_others_serve_as_themselves() {
        let exists = |_: &str| true;
        assert!(refuse_root_for_another_user(0, Some("root"), exists).is_ok());
        assert!(refuse_root_for_another_user(0, None, exists).is_ok());
        assert!(refuse_root_for_another_user(1000, Some("mysite"), exists).is_ok());
        assert!(refuse_root_for_another_user(1000, None, exists).is_ok());
    }
}
