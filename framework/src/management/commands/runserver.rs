//! `runserver [ADDRPORT] [--noreload] [--nostatic] [--insecure]`: the
//! development server. Static files are served from their source folders
//! when `debug` is on or with `--insecure`, never with `--nostatic`.
//!
//! Without `--noreload` this process is the reloader (see
//! [`crate::autoreload`]): it binds the port once, runs the server as a child
//! process that inherits the socket, watches the project's files, rebuilds on
//! a change and swaps in a new child once it serves, so the last good server
//! keeps answering and the port never changes hands. A server that cannot
//! start is reported, and its error answers every request until a change
//! fixes it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use clap::{Arg, ArgAction, ArgMatches};

use crate::autoreload::CHILD_VARIABLE;
use crate::management::{Command, CommandContext, CommandError};

/// `manage runserver`.
pub struct RunServer;

const DEFAULT_ADDR: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 8000;

impl Command for RunServer {
    fn name(&self) -> &'static str {
        "runserver"
    }

    fn about(&self) -> &'static str {
        "Start the development server (reloads on code changes)"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("addrport").help(
                    "PORT, IP:PORT, [IPV6]:PORT, HOST:PORT or 0:PORT (default 127.0.0.1:8000)",
                ),
            )
            .arg(
                Arg::new("noreload")
                    .long("noreload")
                    .action(ArgAction::SetTrue)
                    .help("Do not rebuild and restart on code changes"),
            )
            .arg(
                Arg::new("nostatic")
                    .long("nostatic")
                    .action(ArgAction::SetTrue)
                    .help("Do not serve static files under static_url"),
            )
            .arg(
                Arg::new("insecure")
                    .long("insecure")
                    .action(ArgAction::SetTrue)
                    .help("Serve static files from their source folders even with debug = false"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let addrport = args.get_one::<String>("addrport").map(String::as_str);
        let target = parse_addrport(addrport)?;
        if std::env::var_os(CHILD_VARIABLE).is_some() {
            return serve_for_reloader(ctx, args);
        }
        let settings = ctx.settings()?;
        refuse_without_hosts(settings)?;
        // Refused here, before the reloader starts a server that would.
        static_choice(settings, args)?;
        crate::logging::init(settings, ctx.verbosity_flag())?;
        if args.get_flag("noreload") {
            // As Django's: the checks run in the process that serves.
            super::check::startup_checks(ctx, false, &[], None)?;
        }
        let notice = ctx.block_on(crate::migrations::pending_notice(ctx.project(), settings));
        if !args.get_flag("noreload") {
            let listener = bind(&target)?;
            // As Django's: the first server's checks come first; the
            // reloader prints the rest once they have run.
            let greeting = greeting(ctx, notice.as_deref(), Some(&target));
            let settings = ctx.settings()?.clone();
            return Ok(crate::autoreload::supervise(
                ctx.project(),
                ctx.settings_path(),
                settings,
                listener,
                greeting,
            )?);
        }
        let application = with_static_choice(ctx.application()?, args)?;
        let (listener, target) =
            match crate::server::inherited_tcp_listener().map_err(inherited_error)? {
                Some(listener) => (listener, None),
                None => (bind(&target)?, Some(&target)),
            };
        crate::management::output::print(format_args!(
            "{}",
            greeting(ctx, notice.as_deref(), target)
        ))?;
        serve(ctx, listener, application)
    }
}

/// With `debug = false`, an empty `allowed_hosts` refuses every request.
fn refuse_without_hosts(settings: &crate::conf::Settings) -> Result<(), CommandError> {
    if !settings.debug && settings.allowed_hosts.is_empty() {
        return Err(CommandError::failed(
            "debug is false and allowed_hosts is empty: every request would be refused",
            Some(
                "set allowed_hosts in the settings file (or NUAGES_ALLOWED_HOSTS), or debug = true for development",
            ),
        ));
    }
    Ok(())
}

fn inherited_error(error: std::io::Error) -> CommandError {
    CommandError::failed(
        format!("cannot use the socket passed by the parent process: {error}"),
        None,
    )
}

fn serve(
    ctx: &CommandContext,
    listener: std::net::TcpListener,
    application: crate::Application,
) -> Result<(), CommandError> {
    ctx.block_on(async move {
        application.report_unreachable_stores().await;
        crate::server::serve_tcp(listener, application, crate::server::shutdown_signal()).await
    })
    .map_err(|e| CommandError::failed(format!("the server stopped: {e}"), None))
}

/// The server the reloader runs. Like Django's, it runs the system checks
/// at every start; whether it starts, and if not why, goes to the reloader
/// (which prints the error and shows it on its page) instead of stderr.
fn serve_for_reloader(ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
    let report = crate::autoreload::StartReport::from_env();
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare_for_reloader(ctx, args)
    }))
    .unwrap_or_else(|panic| {
        Err(CommandError::failed(
            format!(
                "the server panicked while starting: {}",
                crate::views::errors::panic_message(panic.as_ref())
            ),
            None,
        ))
    });
    let (application, listener) = match (started, report) {
        (Ok(started), Some(report)) => {
            report.ready();
            started
        }
        (Ok(started), None) => started,
        (Err(error), Some(report)) => {
            let text = error
                .text()
                .unwrap_or_else(|| format!("the server stopped ({error}); its output is above"));
            report.failed(&text);
            return Err(CommandError::Exit(error.exit_code()));
        }
        (Err(error), None) => return Err(error),
    };
    serve(ctx, listener, application)
}

/// Everything before serving: settings, checks, the application, the socket.
fn prepare_for_reloader(
    ctx: &CommandContext,
    args: &ArgMatches,
) -> Result<(crate::Application, std::net::TcpListener), CommandError> {
    let settings = ctx.settings()?;
    refuse_without_hosts(settings)?;
    crate::logging::init(settings, ctx.verbosity_flag())?;
    super::check::startup_checks(ctx, false, &[], None)?;
    let application = with_static_choice(ctx.application()?, args)?;
    let listener = crate::server::inherited_tcp_listener()
        .map_err(inherited_error)?
        .ok_or_else(|| {
            CommandError::failed(
                format!("{CHILD_VARIABLE} is set but no socket was passed (LISTEN_FDS)"),
                Some("run `manage runserver` without setting it: the reloader sets it for its server"),
            )
        })?;
    Ok((application, listener))
}

/// `--nostatic` turns static serving off; `--insecure` serves the source
/// folders even with `debug = false` (refused when `static_url` is on
/// another host, as `serve --static` is); `None`: the application's
/// default (on with `debug`, nothing served for a `static_url` on another
/// host, as Django's).
fn static_choice(
    settings: &crate::conf::Settings,
    args: &ArgMatches,
) -> Result<Option<crate::staticfiles::StaticServing>, CommandError> {
    use crate::staticfiles::StaticServing;
    Ok(if args.get_flag("nostatic") {
        Some(StaticServing::Off)
    } else if args.get_flag("insecure") {
        crate::staticfiles::serve::refuse_static_url_of_another_host(settings, "--insecure")?;
        Some(StaticServing::Sources)
    } else {
        None
    })
}

/// The application with the [`static_choice`]. The reloader's child gets
/// the same arguments, so the choice survives reloads.
fn with_static_choice(
    application: crate::Application,
    args: &ArgMatches,
) -> Result<crate::Application, CommandError> {
    match static_choice(application.settings(), args)? {
        Some(serving) => Ok(application.with_static_serving(serving)?),
        None => Ok(application),
    }
}

/// Where `runserver` listens: the address to bind and how to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The socket address to bind.
    pub addr: SocketAddr,
    /// The host as shown in the banner (`0.0.0.0`, `[::1]`, `localhost`).
    pub display_host: String,
}

impl Target {
    /// `http://host:port/`.
    pub fn url(&self) -> String {
        format!("http://{}:{}/", self.display_host, self.addr.port())
    }
}

/// Parse Django's ADDRPORT forms: `PORT`, `IP:PORT`, `[IPV6]:PORT`,
/// `HOST:PORT`, `0:PORT`.
pub fn parse_addrport(addrport: Option<&str>) -> Result<Target, CommandError> {
    let Some(text) = addrport else {
        return Ok(Target {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            display_host: DEFAULT_ADDR.into(),
        });
    };
    let invalid = |why: &str| {
        CommandError::failed(
            format!("'{text}' is not a valid port number or address:port pair: {why}"),
            Some("use PORT, IP:PORT, [IPV6]:PORT, HOST:PORT or 0:PORT, e.g. 8000 or 0.0.0.0:8000"),
        )
    };
    let port_of = |port: &str| -> Result<u16, CommandError> {
        if port.is_empty() {
            return Err(invalid("the port is missing"));
        }
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(&format!("'{port}' is not a number")));
        }
        match port.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(invalid("ports go from 1 to 65535")),
        }
    };
    if !text.contains(':') {
        let port = port_of(text)?;
        return Ok(Target {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            display_host: DEFAULT_ADDR.into(),
        });
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, port) = rest
            .split_once("]:")
            .ok_or_else(|| invalid("an IPv6 address needs a port: [::1]:8000"))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| invalid(&format!("'{ip}' is not an IPv6 address")))?;
        let port = port_of(port)?;
        return Ok(Target {
            addr: SocketAddr::new(IpAddr::V6(ip), port),
            display_host: format!("[{ip}]"),
        });
    }
    let (host, port) = text.rsplit_once(':').expect("contains ':'");
    if host.contains(':') {
        return Err(invalid("write IPv6 addresses in brackets: [::1]:8000"));
    }
    let port = port_of(port)?;
    if host == "0" {
        return Ok(Target {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            display_host: "0.0.0.0".into(),
        });
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Target {
            addr: SocketAddr::new(IpAddr::V4(ip), port),
            display_host: ip.to_string(),
        });
    }
    let valid_name = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid_name {
        return Err(invalid(&format!(
            "'{host}' is not an IP address or host name"
        )));
    }
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| invalid(&format!("the host name '{host}' does not resolve")))?;
    Ok(Target {
        addr,
        display_host: host.to_string(),
    })
}

fn bind(target: &Target) -> Result<std::net::TcpListener, CommandError> {
    crate::server::bind_tcp(target.addr).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another server uses this port: stop it, or pass another port (manage runserver 8001)"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root or CAP_NET_BIND_SERVICE: pass a port from 1024 up \
                 (manage runserver 8000)"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "that address is not one of this machine's: pass one it has, such as 127.0.0.1 \
                 (manage runserver 127.0.0.1:8000)"
            }
            _ => "check the address, or pass another one (manage runserver 127.0.0.1:8001)",
        };
        CommandError::failed(format!("cannot listen on {}: {e}", target.addr), Some(hint))
    })
}

/// What `runserver` says after the system checks, as Django does: the
/// migrations not applied yet, where the server listens (`None`: on a
/// socket it was passed) and that it is for development only.
fn greeting(ctx: &CommandContext, notice: Option<&str>, target: Option<&Target>) -> String {
    let mut text = String::new();
    if let Some(notice) = notice {
        text.push_str(&format!("\n{notice}\n\n"));
    }
    let Some(target) = target else {
        return text;
    };
    text.push_str(&format!(
        "Nuages version {}, using settings file {}\n\
         Starting development server at {}\n\
         Quit the server with CONTROL-C.\n\n\
         WARNING: This is a development server. Do not use it in production: run `serve` behind a web server instead.\n",
        crate::VERSION,
        ctx.settings_path().display(),
        target.url(),
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address that is not this machine's is said to be so.
    #[test]
    fn an_address_of_another_machine_is_named_as_such() {
        let target = parse_addrport(Some("192.0.2.1:18000")).unwrap();
        let Err(CommandError::Failed(problem)) = bind(&target) else {
            panic!("listened on 192.0.2.1")
        };
        let hint = problem.hint.unwrap_or_default();
        assert!(
            hint.starts_with("that address is not one of this machine's"),
            "{hint}"
        );
    }

    #[test]
    fn addrport_forms() {
        let url = |s: Option<&str>| parse_addrport(s).unwrap().url();
        assert_eq!(url(None), "http://127.0.0.1:8000/");
        assert_eq!(url(Some("8080")), "http://127.0.0.1:8080/");
        assert_eq!(url(Some("0:8000")), "http://0.0.0.0:8000/");
        assert_eq!(url(Some("192.168.1.2:7000")), "http://192.168.1.2:7000/");
        assert_eq!(url(Some("[::1]:8000")), "http://[::1]:8000/");
        assert_eq!(url(Some("localhost:8001")), "http://localhost:8001/");
    }

    #[test]
    fn addrport_errors_explain_the_form() {
        for bad in [
            "abc:",
            "[::1]",
            "70000",
            "127.0.0.1:99999",
            "::1:8000",
            "x y:80",
            ":80",
            "8000x",
        ] {
            let err = parse_addrport(Some(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{bad}");
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn parse_addrport_reads_zero_as_every_interface() {
        assert_eq!(
            parse_addrport(Some("0:9000")).unwrap().url(),
            "http://0.0.0.0:9000/"
        );
        assert!(parse_addrport(Some("abc:")).is_err());
    }
}
