//! `deployconfig nginx|apache|systemd`: the web server's and the service
//! manager's configuration, derived from the settings. Every line that comes
//! from a setting or a flag says which.
//!
//! The web server terminates TLS (`--tls-cert`, `--tls-key`) and redirects
//! plain HTTP to HTTPS, or, with `--plain-http`, sits behind a proxy that
//! terminates TLS. Either way it tells the application which requests came
//! over HTTPS with `X-Forwarded-Proto`, which the application believes only
//! through `secure_proxy_ssl_header`: the command refuses settings with which
//! every page would redirect to itself.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches};
use sha2::Digest as _;

use crate::checks::files::primary_group_name;
use crate::checks::raw::variables_read;
use crate::conf::Settings;
use crate::management::output::shell_word;
use crate::management::{Command, CommandContext, CommandError, outln, output};
use crate::middleware::security::hsts_value;
use crate::server::{self, Bind};

/// `manage deployconfig`.
pub struct DeployConfig;

impl Command for DeployConfig {
    fn name(&self) -> &'static str {
        "deployconfig"
    }

    fn about(&self) -> &'static str {
        "Write nginx, Apache or systemd configuration derived from the settings"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("kind")
                    .required(true)
                    .value_parser(["nginx", "apache", "systemd"])
                    .help("What to configure"),
            )
            .arg(
                Arg::new("tls-cert")
                    .value_parser(one_line)
                    .long("tls-cert")
                    .value_name("FILE")
                    .requires("tls-key")
                    .help("nginx/apache: the certificate chain in PEM (Let's Encrypt: fullchain.pem)"),
            )
            .arg(
                Arg::new("tls-key")
                    .value_parser(one_line)
                    .long("tls-key")
                    .value_name("FILE")
                    .requires("tls-cert")
                    .help("nginx/apache: the certificate's private key in PEM (Let's Encrypt: privkey.pem)"),
            )
            .arg(
                Arg::new("acme-webroot")
                    .value_parser(one_line)
                    .long("acme-webroot")
                    .value_name("DIR")
                    .conflicts_with("plain-http")
                    .help(
                        "nginx/apache: serve ACME's HTTP-01 challenges from the files `certbot \
                         certonly --webroot -w DIR` writes (default: pass them to the application)",
                    ),
            )
            .arg(
                Arg::new("plain-http")
                    .long("plain-http")
                    .action(ArgAction::SetTrue)
                    .conflicts_with_all(["tls-cert", "tls-key", "listen-http"])
                    .help(
                        "nginx/apache: plain HTTP only, behind a proxy that terminates TLS and sets X-Forwarded-Proto",
                    ),
            )
            .arg(
                Arg::new("listen")
                    .long("listen")
                    .value_name("[ADDR:]PORT")
                    .value_parser(parse_listen)
                    .help("nginx/apache: where HTTPS is served (default 443; with --plain-http: HTTP, default 80)"),
            )
            .arg(
                Arg::new("listen-http")
                    .long("listen-http")
                    .value_name("[ADDR:]PORT")
                    .value_parser(parse_listen)
                    .help("nginx/apache: where plain HTTP is redirected to HTTPS (default 80)"),
            )
            .arg(
                Arg::new("server-name")
                    .value_parser(one_line)
                    .long("server-name")
                    .value_name("NAME")
                    .action(ArgAction::Append)
                    .help("Host name(s) served (default: allowed_hosts)"),
            )
            .arg(
                Arg::new("upstream")
                    .value_parser(one_line)
                    .long("upstream")
                    .value_name("unix:PATH|HOST:PORT")
                    .action(ArgAction::Append)
                    .help(
                        "Where serve listens (default: serve_bind); nginx: repeat it for several \
                         serve processes, balanced in turn",
                    ),
            )
            .arg(
                Arg::new("user")
                    .long("user")
                    .value_name("NAME")
                    .value_parser(one_line)
                    .help(
                    "systemd: the service user (default: serve_user, else the project's name)",
                ),
            )
            .arg(
                Arg::new("exec")
                    .value_parser(one_line)
                    .long("exec")
                    .value_name("PATH")
                    .help("systemd: the binary to run (default: the release build, <target>/release/<project>)"),
            )
            .arg(
                Arg::new("env-file")
                    .value_parser(one_line)
                    .long("env-file")
                    .value_name("PATH")
                    .help(
                        "systemd: the EnvironmentFile with SECRET_KEY (default /etc/<project>/env)",
                    ),
            )
            .arg(
                Arg::new("output")
                    .value_parser(one_line)
                    .short('o')
                    .long("output")
                    .value_name("FILE")
                    .help(
                        "Write to FILE (for systemd: a folder for the two units) instead of stdout",
                    ),
            )
            .arg(
                Arg::new("force")
                    .long("force")
                    .action(ArgAction::SetTrue)
                    .requires("output")
                    .help("Replace an existing file that deployconfig did not write"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let name = ctx.project().name();
        let upstreams = match args.get_many::<String>("upstream") {
            Some(texts) => texts
                .map(|text| {
                    server::parse_bind(text, &settings.base_dir).map_err(|reason| {
                        CommandError::usage(format!("--upstream {text:?} {reason}"), None)
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .and_then(distinct_upstreams)?,
            None => vec![server::serve_bind_setting(
                settings,
                name,
                std::env::var_os("NUAGES_SERVE_BIND").is_some(),
            )?],
        };
        let kind = args.get_one::<String>("kind").map(String::as_str);
        if upstreams.len() > 1 && kind != Some("nginx") {
            return Err(CommandError::usage(
                format!(
                    "--upstream is given {} times, and only `deployconfig nginx` balances between \
                     several serve processes",
                    upstreams.len()
                ),
                Some(
                    "give one --upstream here (for systemd: one set of units per serve process), \
                     or generate the nginx configuration",
                ),
            ));
        }
        let site = Site {
            name,
            settings,
            settings_path: ctx.settings_path(),
            upstreams,
            server_names: match args.get_many::<String>("server-name") {
                Some(texts) => texts
                    .map(|text| server_name_flag(text))
                    .collect::<Result<Vec<_>, _>>()?,
                None => server_names(settings)?,
            },
        };
        let output = args.get_one::<String>("output").map(PathBuf::from);
        let force = args.get_flag("force");
        if let Some(kind @ ("nginx" | "apache")) = kind {
            let front = front(args, kind)?;
            let notes = https_detection(&site, &front)?;
            let text = if kind == "nginx" {
                nginx(&site, &front)?
            } else {
                apache(&site, &front)?
            };
            emit(output.as_deref(), &text, force, name)?;
            let user = service_user(None, settings, name)?;
            let group = primary_group_name(&user);
            let names_given = args.contains_id("server-name");
            for note in notes
                .into_iter()
                .chain(static_elsewhere_note(&site, kind))
                .chain(refused_names_note(&site, names_given))
                .chain(socket_access_note(&site, &user, &group))
            {
                crate::management::output::eprintln(format_args!("note: {note}"));
            }
            return Ok(());
        }
        let user = service_user(args.get_one::<String>("user"), settings, name)?;
        let group = primary_group_name(&user);
        let exec = match args.get_one::<String>("exec") {
            Some(path) => absolute(path)?,
            None => {
                let this = std::env::current_exe().map_err(|e| {
                    CommandError::failed(
                        format!("cannot find this binary: {e}"),
                        Some("pass --exec PATH"),
                    )
                })?;
                release_binary(&this)?
            }
        };
        runnable_by_systemd(&exec, args.contains_id("exec"))?;
        // Absolute, as --exec: systemd ignores a relative EnvironmentFile=,
        // and serve would start without the variables it holds.
        let env_file = match args.get_one::<String>("env-file") {
            Some(path) => absolute(path)?,
            None => PathBuf::from(format!("/etc/{name}/env")),
        };
        let (service, socket) = systemd(&site, &user, &group, &exec, &env_file);
        match output {
            Some(dir) => {
                let service_path = dir.join(format!("{name}.service"));
                let socket_path = dir.join(format!("{name}.socket"));
                // Both checked before either is written.
                for (path, text) in [(&service_path, &service), (&socket_path, &socket)] {
                    refuse_to_replace(path, text, force)?;
                }
                write_atomically(&service_path, &sealed(&service))?;
                write_atomically(&socket_path, &sealed(&socket))?;
                outln!(
                    "Wrote {name}.service and {name}.socket to {}",
                    dir.display()
                )?;
            }
            None => output::print(format_args!(
                "# ---- {name}.service ----\n{}\n# ---- {name}.socket ----\n{}",
                sealed(&service),
                sealed(&socket)
            ))?,
        }
        // The settings loaded, so their files read: an error here cannot be.
        let variables = variables_read(site.settings_path).unwrap_or_default();
        crate::management::output::eprintln(format_args!(
            "note: {}",
            env_file_note(&site, &env_file, &variables)
        ));
        for note in missing_folders_note(settings, &user, &group)
            .into_iter()
            .chain(socket_access_note(&site, &user, &group))
        {
            crate::management::output::eprintln(format_args!("note: {note}"));
        }
        Ok(())
    }
}

/// The `--upstream` addresses, each a `serve` nginx can reach: port 0 (a
/// port the system picks when `serve` binds) is none nginx could name, and
/// an address given twice would get twice the requests.
fn distinct_upstreams(upstreams: Vec<Bind>) -> Result<Vec<Bind>, CommandError> {
    for (index, bind) in upstreams.iter().enumerate() {
        if let Bind::Tcp(addr) = bind
            && addr.port() == 0
        {
            return Err(CommandError::usage(
                format!("--upstream {addr} has port 0, which no serve listens on"),
                Some("give the port each serve listens on (its --bind or serve_bind)"),
            ));
        }
        if upstreams[..index].contains(bind) {
            return Err(CommandError::usage(
                format!("--upstream {} is given twice", bind_text(bind)),
                Some("give each serve process once"),
            ));
        }
    }
    Ok(upstreams)
}

/// `bind` as `--upstream` takes it.
fn bind_text(bind: &Bind) -> String {
    match bind {
        Bind::Unix(path) => format!("unix:{}", path.display()),
        Bind::Tcp(addr) => addr.to_string(),
    }
}

/// What the service's `EnvironmentFile` must hold, which nothing writes:
/// without `NUAGES_SETTINGS` the unit's `serve` loads `settings.toml` (and
/// refuses its `debug = true`), without a variable the settings read
/// (`${SECRET_KEY}`, `${DB_PASSWORD}`: `variables`, with whether each has
/// a default) it stops on the unset variable.
fn env_file_note(site: &Site<'_>, env_file: &Path, variables: &[(String, bool)]) -> String {
    let settings = site
        .settings_path
        .strip_prefix(&site.settings.base_dir)
        .unwrap_or(site.settings_path);
    let named = |defaulted: bool| {
        variables
            .iter()
            .filter(|(_, has_default)| *has_default == defaulted)
            .map(|(name, _)| format!("{name}=…"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (required, optional) = (named(false), named(true));
    let mut read = if required.is_empty() {
        "the variables these settings read (none without a default)".to_string()
    } else {
        format!("the variables these settings read: {required}")
    };
    if !optional.is_empty() {
        read.push_str(&format!(
            " (and, where their defaults do not fit, {optional})"
        ));
    }
    format!(
        "the service reads its environment from {}, which this command does not write: create it, \
         readable by root only (chmod 600), with one KEY=value a line: NUAGES_SETTINGS={} and {read}, \
         with NUAGES_ALLOWED_HOSTS=… or any other NUAGES_* variable that sets a setting, as exported \
         for this command",
        env_file.display(),
        settings.display()
    )
}

/// The `--server-name` names (when `given`) that `allowed_hosts` refuses:
/// the web server would pass their requests on, and serve answer each with
/// 400 Bad Request.
fn refused_names_note(site: &Site<'_>, given: bool) -> Option<String> {
    use crate::middleware::hosts::{effective_allowed_hosts, host_allowed};
    let allowed = effective_allowed_hosts(site.settings);
    let refused: Vec<&str> = site
        .host_names()
        .filter(|name| given && !name.starts_with("*.") && !host_allowed(name, &allowed))
        .collect();
    if refused.is_empty() {
        return None;
    }
    Some(format!(
        "allowed_hosts = {:?} (as loaded for this command) does not accept --server-name {}: \
         serve answers their requests with 400 Bad Request; add them to allowed_hosts in {} \
         (or NUAGES_ALLOWED_HOSTS in the server's environment)",
        &*allowed,
        refused.join(", "),
        site.settings_path.display()
    ))
}

/// What the web server needs to reach a unix socket of `serve` that only
/// its owner and group may connect to (`serve_socket_mode` 660, the
/// default): the socket is `user`'s and `group`'s (the account's primary
/// group, [`primary_group_name`]), as `serve` or the socket unit makes it,
/// and nginx's or Apache's workers run as another account.
fn socket_access_note(site: &Site<'_>, user: &str, group: &str) -> Option<String> {
    let sockets: Vec<String> = site
        .upstreams
        .iter()
        .filter_map(|bind| match bind {
            Bind::Unix(path) => Some(path.display().to_string()),
            Bind::Tcp(_) => None,
        })
        .collect();
    let mode = u32::from_str_radix(&site.settings.serve_socket_mode, 8).ok()?;
    if sockets.is_empty() || mode & 0o002 != 0 {
        return None;
    }
    Some(format!(
        "{} belongs to the account {user} and its group, mode {:o} (serve_socket_mode): the web \
         server's account must be in the group {group} to connect, or every page is a 502 \
         (Debian and Ubuntu: usermod -aG {group} www-data, then restart the web server)",
        sockets.join(", "),
        mode
    ))
}

/// What the generators need.
struct Site<'a> {
    name: &'a str,
    settings: &'a Settings,
    settings_path: &'a Path,
    /// Where the `serve` processes listen: one, except for nginx.
    upstreams: Vec<Bind>,
    server_names: Vec<String>,
}

impl Site<'_> {
    /// The one `serve` of a configuration that has room for one.
    fn upstream(&self) -> &Bind {
        &self.upstreams[0]
    }
}

impl Site<'_> {
    /// Whether `static_url` names another host (a CDN): the files are
    /// served there, and this web server has no location for them.
    fn static_elsewhere(&self) -> bool {
        on_another_host(&self.settings.static_url)
    }

    /// `static_url` and `static_root` (with its trailing `/`) when this web
    /// server serves the static files; none when `static_url` names another
    /// host.
    fn static_files(&self) -> Result<Option<(&str, String)>, CommandError> {
        if self.static_elsewhere() {
            return Ok(None);
        }
        let url = location_path("static_url", &self.settings.static_url, "/static/")?;
        let root = self.settings.static_root.as_ref().ok_or_else(|| {
            CommandError::failed(
                "static_root is not set, so the web server would not know where static files are",
                Some("set static_root in the settings file, run collectstatic, then deployconfig again"),
            )
        })?;
        Ok(Some((url, folder_word(root))))
    }

    /// What the configuration says in place of the static files' location
    /// when another host serves them, as comment lines indented by `indent`.
    fn static_elsewhere_comment(&self, indent: &str) -> String {
        format!(
            "{indent}# Static files: static_url = {:?} is another host, which serves them;\n\
             {indent}# this server has none to serve.\n",
            self.settings.static_url
        )
    }

    /// `media_url` and `media_root` (with its trailing `/`) when uploads
    /// are stored and served from this host; none when `media_root` is
    /// unset or `media_url` names another host.
    fn media(&self) -> Result<Option<(&str, String)>, CommandError> {
        let Some(root) = self.settings.media_root.as_ref() else {
            return Ok(None);
        };
        let url = &self.settings.media_url;
        if on_another_host(url) {
            return Ok(None);
        }
        Ok(Some((
            location_path("media_url", url, "/media/")?,
            folder_word(root),
        )))
    }

    /// Whether collectstatic gives the files content-hashed names (manifest
    /// storage), which may be cached for a year: with plain storage a name
    /// that merely looks hashed (`theme.202401011230.css`) may change.
    fn hashes_names(&self) -> bool {
        self.settings.staticfiles_storage == crate::conf::StaticfilesStorage::Manifest
    }

    /// The host names, one per item (`_`, nginx's catch-all, left out).
    fn host_names(&self) -> impl Iterator<Item = &str> {
        self.server_names
            .iter()
            .flat_map(|n| n.split(' '))
            .filter(|n| *n != "_")
    }
}

/// Whether the URL prefix `url` (`static_url`, `media_url`) names another
/// host (`https://cdn.example.com/static/`, `//cdn.example.com/static/`)
/// rather than a path of this site.
fn on_another_host(url: &str) -> bool {
    url.starts_with("//") || (!url.starts_with('/') && url.contains("://"))
}

/// With `static_url` on another host, what the user should know: the
/// configuration of `kind` serves no static files.
fn static_elsewhere_note(site: &Site, kind: &str) -> Option<String> {
    site.static_elsewhere().then(|| {
        format!(
            "static_url = {:?} is another host: the static files are served there, so this {kind} \
             configuration has no location for them (put collectstatic's files on that host)",
            site.settings.static_url
        )
    })
}

/// A folder as the web server configurations write it: with its trailing
/// `/`, as one [`config_word`].
fn folder_word(folder: &Path) -> String {
    let mut text = folder.display().to_string();
    if !text.ends_with('/') {
        text.push('/');
    }
    config_word(text)
}

/// Where a web server listens: a port on every address, or one address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Listen {
    addr: Option<IpAddr>,
    port: u16,
}

impl Listen {
    fn port(port: u16) -> Listen {
        Listen { addr: None, port }
    }

    /// The operand of nginx's `listen`: `443`, `127.0.0.1:8443`, `[::1]:8443`.
    fn nginx(self) -> String {
        match self.addr {
            Some(addr) => SocketAddr::new(addr, self.port).to_string(),
            None => self.port.to_string(),
        }
    }

    /// The address of Apache's `<VirtualHost>`: `*:443`, `127.0.0.1:8443`.
    fn apache(self) -> String {
        match self.addr {
            Some(addr) => SocketAddr::new(addr, self.port).to_string(),
            None => format!("*:{}", self.port),
        }
    }

    /// The address both `self` and `other` take connections on, when they
    /// share a port: the same address, or one of them on every address (no
    /// address, `0.0.0.0`, `[::]`); `Some(None)` is every address.
    fn shared_address(self, other: Listen) -> Option<Option<IpAddr>> {
        let every = |addr: Option<IpAddr>, of: Option<IpAddr>| match (addr, of) {
            (None, _) => true,
            (Some(addr), Some(of)) => addr.is_unspecified() && addr.is_ipv4() == of.is_ipv4(),
            (Some(_), None) => false,
        };
        if self.port != other.port {
            None
        } else if self.addr == other.addr || every(other.addr, self.addr) {
            Some(self.addr.filter(|addr| !addr.is_unspecified()))
        } else if every(self.addr, other.addr) {
            Some(other.addr)
        } else {
            None
        }
    }

    /// The `:PORT` an `https://` URL needs to reach this address (none for 443).
    fn https_port_suffix(self) -> String {
        if self.port == 443 {
            String::new()
        } else {
            format!(":{}", self.port)
        }
    }
}

/// `--listen`: `PORT` or `ADDR:PORT` (`[V6ADDR]:PORT`), the port from 1 to
/// 65535 (nginx and Apache refuse port 0).
/// A value written into a configuration: one line, without control
/// characters, which would end the directive it is in and start one of
/// the caller's (`--env-file $'/etc/x\nUser=root'` gave the unit a second
/// `User=`).
fn one_line(text: &str) -> Result<String, String> {
    match text.chars().find(|c| c.is_control()) {
        None => Ok(text.to_string()),
        Some(c) => Err(format!(
            "it holds the control character {:?}, which would end its line in the configuration \
             and start a directive of its own: give the value on one line",
            c
        )),
    }
}

fn parse_listen(text: &str) -> Result<Listen, String> {
    let listen = match text.parse::<u16>() {
        Ok(port) => Listen::port(port),
        Err(_) => text
            .parse::<SocketAddr>()
            .map(|addr| Listen {
                addr: Some(addr.ip()),
                port: addr.port(),
            })
            .map_err(|_| {
                format!("'{text}' is not PORT or ADDR:PORT, like 443, 127.0.0.1:8443 or [::1]:8443")
            })?,
    };
    match listen.port {
        0 => Err(format!(
            "'{text}' has port 0, which web servers refuse: give a port from 1 to 65535, like 443"
        )),
        _ => Ok(listen),
    }
}

/// How clients reach the web server.
#[derive(Debug, PartialEq)]
enum Front {
    /// The web server terminates TLS; its plain HTTP server only redirects to HTTPS.
    Tls {
        https: Listen,
        http: Listen,
        cert: PathBuf,
        key: PathBuf,
        /// `--acme-webroot`: where ACME's challenge files are, else the
        /// application answers them.
        acme_webroot: Option<PathBuf>,
    },
    /// Plain HTTP behind a proxy that terminates TLS and sets `X-Forwarded-Proto`.
    PlainHttp { listen: Listen },
}

/// The front of the site from the flags: TLS needs a certificate; plain HTTP
/// must be asked for.
fn front(args: &ArgMatches, kind: &str) -> Result<Front, CommandError> {
    let listen = args.get_one::<Listen>("listen").copied();
    if args.get_flag("plain-http") {
        return Ok(Front::PlainHttp {
            listen: listen.unwrap_or(Listen::port(80)),
        });
    }
    let (Some(cert), Some(key)) = (
        args.get_one::<String>("tls-cert"),
        args.get_one::<String>("tls-key"),
    ) else {
        return Err(CommandError::failed(
            format!(
                "{kind} needs a TLS certificate and its key to serve the site over HTTPS: give --tls-cert and --tls-key"
            ),
            Some(&format!(
                "`manage deployconfig {kind} --tls-cert /etc/letsencrypt/live/example.com/fullchain.pem --tls-key /etc/letsencrypt/live/example.com/privkey.pem` (certbot writes these), or --plain-http when a proxy in front of {kind} terminates TLS and sets X-Forwarded-Proto"
            )),
        ));
    };
    let listen_http = args.get_one::<Listen>("listen-http").copied();
    let (https, http) = (
        listen.unwrap_or(Listen::port(443)),
        listen_http.unwrap_or(Listen::port(80)),
    );
    // One port cannot speak TLS and plain HTTP: nginx -t refuses the two
    // servers on one address, and where one of them takes every address,
    // each address gets one of the two, never both.
    if let Some(address) = https.shared_address(http) {
        let flag = |name: &str, given: bool, value: Listen| match given {
            true => format!("{name} {}", value.nginx()),
            false => format!("{name} (default {})", value.nginx()),
        };
        return Err(CommandError::usage(
            format!(
                "{} and {} are the same port {} on {}: HTTPS and the plain HTTP redirected to it \
                 need a port each",
                flag("--listen", listen.is_some(), https),
                flag("--listen-http", listen_http.is_some(), http),
                https.port,
                address.map_or("every address".to_string(), |addr| addr.to_string())
            ),
            Some("give them different ports, as the defaults are: --listen 443 --listen-http 80"),
        ));
    }
    Ok(Front::Tls {
        https,
        http,
        cert: absolute(cert)?,
        key: absolute(key)?,
        acme_webroot: args
            .get_one::<String>("acme-webroot")
            .map(|dir| absolute(dir))
            .transpose()?,
    })
}

/// `path` made absolute against the working directory: a web server reads
/// relative paths against its own folders.
fn absolute(path: &str) -> Result<PathBuf, CommandError> {
    std::path::absolute(path)
        .map_err(|e| CommandError::failed(format!("cannot resolve the path {path}: {e}"), None))
}

/// The header and value the generated configs send on HTTPS requests.
const FORWARDED_PROTO: [&str; 2] = ["X-Forwarded-Proto", "https"];

/// Whether the application believes the `X-Forwarded-Proto: https` the
/// generated configs pass on.
fn reads_forwarded_proto(settings: &Settings) -> bool {
    matches!(
        settings.secure_proxy_ssl_header.as_deref(),
        Some([name, value]) if name.eq_ignore_ascii_case(FORWARDED_PROTO[0]) && value == FORWARDED_PROTO[1]
    )
}

/// Make sure the application will see HTTPS requests as HTTPS behind this
/// front: refuse the pair that would answer every page with a redirect to
/// itself, and return what the user should know (printed after the config).
fn https_detection(site: &Site, front: &Front) -> Result<Vec<String>, CommandError> {
    let settings = site.settings;
    let file = site.settings_path.display();
    let wanted = format!(
        "secure_proxy_ssl_header = [\"{}\", \"{}\"]",
        FORWARDED_PROTO[0], FORWARDED_PROTO[1]
    );
    let mut notes = Vec::new();
    if !reads_forwarded_proto(settings) {
        let current = match &settings.secure_proxy_ssl_header {
            Some(pair) => format!("secure_proxy_ssl_header is {pair:?}"),
            None => "secure_proxy_ssl_header is not set".to_string(),
        };
        // The variable beats the file: name it, and fix it there.
        const VARIABLE: &str = "NUAGES_SECURE_PROXY_SSL_HEADER";
        let (origin, fix) = match std::env::var_os(VARIABLE) {
            Some(_) => (
                format!("{VARIABLE} in the environment"),
                format!(
                    "set {VARIABLE}={},{}, or unset it and have {wanted} in {file}",
                    FORWARDED_PROTO[0], FORWARDED_PROTO[1]
                ),
            ),
            None => (
                file.to_string(),
                format!("add {wanted} to {file} (the generated settings.production.toml has it)"),
            ),
        };
        if settings.secure_ssl_redirect {
            return Err(CommandError::failed(
                format!(
                    "{current} in {origin}, so the application would not see that requests came over HTTPS and, with secure_ssl_redirect = true, would answer every page with a redirect to itself"
                ),
                Some(&format!("{fix}: the web server sets that header")),
            ));
        }
        notes.push(format!(
            "{current} in {origin}: the application will see every request as plain HTTP (no Strict-Transport-Security header); {fix}"
        ));
    }
    if let Front::PlainHttp { .. } = front {
        notes.push(format!(
            "--plain-http: the web server passes on the X-Forwarded-Proto header of the proxy in front, and the application believes it through {wanted} ({file}). That proxy must set it on every request (to https for HTTPS), and only that proxy may reach this web server."
        ));
        // Only this machine trusted: the proxy in front is the client.
        let local = |entry: &String| {
            entry == "unix" || entry.starts_with("127.") || entry == "::1" || entry == "localhost"
        };
        if settings.trusted_proxies.iter().all(local) {
            notes.push(format!(
                "--plain-http: trusted_proxies is {:?} ({file}), which names only this machine: if the proxy in front runs on another machine, every client would have that proxy's address, so the failed-login throttle (login_throttle_address_limit) would count them all as one and refuse every login once a few failed; add the proxy's address to trusted_proxies (e.g. trusted_proxies = [\"127.0.0.1\", \"::1\", \"unix\", \"10.0.0.2\"]), whose X-Forwarded-For this web server passes on",
                settings.trusted_proxies
            ));
        }
    }
    Ok(notes)
}

/// `allowed_hosts` as server names (`.example.com` → the domain and its
/// subdomains). An entry that is no host name is refused: written as it is
/// into the configuration, it would be a name no request has, a
/// configuration the web server refuses, or directives of its own (a `;`).
fn server_names(settings: &Settings) -> Result<Vec<String>, CommandError> {
    let names = settings
        .allowed_hosts
        .iter()
        .filter(|h| *h != "*")
        .map(|host| {
            server_name(host).map_err(|reason| {
                CommandError::failed(
                    format!("allowed_hosts has {host:?}, which is not a host name: {reason}"),
                    Some(
                        "write each host of allowed_hosts as a name or an IP address without \
                         scheme or port (example.com, .example.com for the domain and its \
                         subdomains, [::1]); check --deploy lists the entries no request can \
                         match (nuages.W038). Or name the hosts here with --server-name",
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if names.is_empty() {
        vec!["_".into()]
    } else {
        names
    })
}

/// The web server's names for a host as `allowed_hosts` writes it:
/// `.example.com` is the domain and its subdomains.
fn web_server_names(host: &str) -> String {
    match host.strip_prefix('.') {
        Some(domain) => format!("{domain} *.{domain}"),
        None => host.to_string(),
    }
}

/// The web server's names for `text`, a host name or an IP address
/// (`[::1]`), or `.example.com` for a domain and its subdomains, as
/// `allowed_hosts` takes them; or why it is none (a list `a.com,b.com`, a
/// port, a space, a `;`).
fn server_name(text: &str) -> Result<String, String> {
    let (dot, host) = match text.strip_prefix('.') {
        Some(domain) => (".", domain),
        None => ("", text),
    };
    match crate::middleware::hosts::parse_host(host) {
        Ok(parsed) if parsed.port.is_none() => {
            Ok(web_server_names(&format!("{dot}{}", parsed.domain)))
        }
        Ok(_) => Err("it has a port, which the web server's listen address gives".to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// One `--server-name`, as [`server_name`] reads it, or `_`.
fn server_name_flag(text: &str) -> Result<String, CommandError> {
    // nginx's catch-all, which a configuration for no name has.
    if text == "_" {
        return Ok(text.to_string());
    }
    server_name(text).map_err(|reason| {
        CommandError::usage(
            format!("--server-name {text:?} is not a host name: {reason}"),
            Some(
                "give one name per --server-name, without scheme or port: \
                 --server-name example.com --server-name www.example.com \
                 (.example.com for the domain and its subdomains)",
            ),
        )
    })
}

fn header(site: &Site, what: &str) -> String {
    format!(
        "# {what} for {}, {WRITTEN_BY} from {}.\n# Regenerate it after changing the settings; lines name the setting or flag they come from.\n",
        site.name,
        site.settings_path.display()
    )
}

/// The comment naming the settings an HSTS line comes from.
const HSTS_SETTINGS: &str =
    "secure_hsts_seconds, secure_hsts_include_subdomains, secure_hsts_preload";

/// The nginx `server { … }` blocks (with the `map` and `upstream` they use,
/// at http level).
fn nginx(site: &Site, front: &Front) -> Result<String, CommandError> {
    let settings = site.settings;
    let sockets = site.upstreams.iter().filter_map(|bind| match bind {
        Bind::Unix(path) => Some((
            "the socket of serve_bind (or --upstream)",
            path.display().to_string(),
        )),
        Bind::Tcp(_) => None,
    });
    let tls_files = match front {
        Front::Tls {
            cert,
            key,
            acme_webroot,
            ..
        } => [("--tls-cert", Some(cert)), ("--tls-key", Some(key))]
            .into_iter()
            .chain([("--acme-webroot", acme_webroot.as_ref())])
            .filter_map(|(flag, path)| Some((flag, path?.display().to_string())))
            .collect(),
        Front::PlainHttp { .. } => Vec::new(),
    };
    // static_root is written only when this server serves the files.
    let static_root = settings
        .static_root
        .as_ref()
        .filter(|_| !site.static_elsewhere());
    let roots = [
        ("static_root", static_root),
        ("media_root", settings.media_root.as_ref()),
    ];
    refuse_dollar_for_nginx(
        roots
            .into_iter()
            .filter_map(|(key, root)| Some((key, root?.display().to_string())))
            .chain(sockets)
            .chain(tls_files),
    )?;
    let upstream_servers: String = site
        .upstreams
        .iter()
        .map(|bind| match bind {
            Bind::Unix(path) => format!(
                "    server {};\n",
                config_word(format!("unix:{}", path.display()))
            ),
            Bind::Tcp(addr) => format!("    server {addr};\n"),
        })
        .collect();
    let id = site.name;
    let server_name = format!(
        "    server_name {};  # allowed_hosts (or --server-name)\n",
        site.server_names.join(" ")
    );
    let servers = match front {
        Front::Tls {
            https,
            http,
            cert,
            key,
            acme_webroot,
        } => {
            let hsts = hsts_value(site.settings)
                .map(|value| {
                    format!(
                        "        add_header Strict-Transport-Security \"{value}\" always;  # {HSTS_SETTINGS}\n"
                    )
                })
                .unwrap_or_default();
            // Only the site's names are redirected: nginx would redirect any
            // Host to itself, a redirect a shared cache could keep for a host
            // the site does not serve (Django checks allowed_hosts first).
            let unknown_hosts = match site.server_names.iter().any(|name| name == "_") {
                true => String::new(),
                false => format!(
                    r#"# HTTP, another host: no answer (the first server of the port, unless another
# configuration marks its own default_server).
server {{
    listen {http};  # --listen-http
    server_name "";
    server_tokens off;
    return 444;
}}

"#,
                    http = http.nginx()
                ),
            };
            format!(
                r#"{unknown_hosts}# HTTP: every request for the site's names is redirected to HTTPS, but
# ACME's HTTP-01 challenges, which a certificate authority asks over plain
# HTTP (a first certificate too): {acme_answer}.
server {{
    listen {http};  # --listen-http
{server_name}    server_tokens off;

{acme}
    location / {{
        return 301 https://$host{port}$request_uri;
    }}
}}

# HTTPS: TLS ends here, and the application hears X-Forwarded-Proto: https.
server {{
    # --listen (nginx 1.25.1 and later also accept `listen … ssl;` with `http2 on;`)
    listen {https} ssl http2;
{server_name}    ssl_certificate {cert};  # --tls-cert
    ssl_certificate_key {key};  # --tls-key
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:{id}_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
{site_body}}}
"#,
                http = http.nginx(),
                acme_answer = acme_answer(acme_webroot.as_deref()),
                acme = match acme_webroot {
                    Some(dir) => nginx_acme_webroot(dir),
                    None => nginx_app_location(ACME_CHALLENGES, id, "$scheme;  # http here"),
                },
                port = https.https_port_suffix(),
                https = https.nginx(),
                cert = config_word(cert.display().to_string()),
                key = config_word(key.display().to_string()),
                site_body = nginx_site_body(site, &hsts, "$scheme;  # https here")?,
            )
        }
        Front::PlainHttp { listen } => format!(
            r#"# Plain HTTP behind a proxy that terminates TLS (--plain-http): that proxy
# must set X-Forwarded-Proto on every request, and only it may reach this server.
server {{
    listen {listen};  # --listen
{server_name}{site_body}}}
"#,
            listen = listen.nginx(),
            site_body = nginx_site_body(
                site,
                "",
                "$http_x_forwarded_proto;  # as the proxy in front sent it"
            )?,
        ),
    };
    // The static files' Cache-Control, for their location only.
    let static_cache = match site.static_elsewhere() {
        true => String::new(),
        false => format!(
            r#"
# Long caching for content-hashed names (collectstatic with manifest storage),
# told by their shape: 12 hex digits between dots. A source file named so
# (theme.202401011230.css) is cached long too: give it another name.
map $uri ${id}_static_cache {{
{hashed_names}    default "no-cache";
}}
"#,
            hashed_names = if site.hashes_names() {
                "    \"~\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$\" \"public, max-age=31536000, immutable\";\n"
            } else {
                "    # none: staticfiles_storage = \"plain\" hashes no name, every file may change\n"
            },
        ),
    };
    Ok(format!(
        r#"{header}{static_cache}
# serve_bind (or each --upstream), taken in turn.
upstream {id}_app {{
{upstream_servers}    keepalive 16;
    # Below serve's {serve_idle} s for an idle connection: nginx closes it first, so
    # serve never closes one as a request comes, except when it stops: a request
    # sent at that moment gets a 502, retried on the next serve unless it is a POST.
    keepalive_timeout {idle}s;
}}

{servers}"#,
        header = header(site, "nginx configuration"),
        serve_idle = server::HEADER_READ_TIMEOUT.as_secs(),
        idle = server::HEADER_READ_TIMEOUT.as_secs() / 2,
    ))
}

/// What the site's server block holds after its `listen`, `server_name` and
/// TLS lines: static files from disk, the rest proxied to `serve`.
fn nginx_site_body(
    site: &Site,
    static_hsts: &str,
    forwarded_proto: &str,
) -> Result<String, CommandError> {
    let id = site.name;
    let static_files = match site.static_files()? {
        Some((static_url, static_root)) => format!(
            r#"    # Static files straight from disk, never reaching the application.
    location {static_url} {{  # static_url
        alias {static_root};  # static_root
        gzip_static on;  # the .gz files collectstatic writes
        # Vary: Accept-Encoding, so that a cache in front keeps the gzipped
        # and the plain copy apart.
        gzip_vary on;
        autoindex off;
        # Not `always`: an error (a 404 for a hashed name collectstatic has
        # not written here yet) must not be cached, let alone for a year.
        add_header Cache-Control ${id}_static_cache;
        add_header X-Content-Type-Options nosniff always;
{static_hsts}    }}
"#
        ),
        None => site.static_elsewhere_comment("    "),
    };
    let media = match site.media()? {
        Some((media_url, media_root)) => format!(
            r#"
    # Uploaded files: visitors' content, never run as the site's pages.
    location {media_url} {{  # media_url
        alias {media_root};  # media_root
        autoindex off;
        # A link inside media_root is never followed out of it (the application refuses it too).
        disable_symlinks on from=$document_root;
        add_header Cache-Control no-cache always;
        add_header X-Content-Type-Options nosniff always;
        add_header Content-Security-Policy "{csp}" always;
{static_hsts}    }}
"#,
            csp = crate::staticfiles::serve::MEDIA_CSP,
        ),
        None => String::new(),
    };
    Ok(format!(
        r#"    client_max_body_size {max_body};  # data_upload_max_memory_size
    server_tokens off;

    # No dotfiles, anywhere, but RFC 8615's /.well-known/ (ACME challenges,
    # security.txt, change-password), passed to the application.
    location ~ /\. {{
        return 404;
    }}

{well_known}
{static_files}{media}
    location / {{
{proxy}    }}
"#,
        max_body = web_server_body_limit(site.settings),
        well_known = nginx_app_location("/.well-known/", id, forwarded_proto),
        proxy = nginx_proxy(id, forwarded_proto),
    ))
}

/// A `location ^~ prefix` of a dot path (`/.well-known/`) passed to the
/// application: `^~` puts it before the dotfile rule, and a dot segment
/// below `prefix` is still answered 404.
fn nginx_app_location(prefix: &str, id: &str, forwarded_proto: &str) -> String {
    format!(
        r#"    location ^~ {prefix} {{
        location ~ ^{escaped}(.*/)?\. {{
            return 404;
        }}
{proxy}    }}
"#,
        escaped = regex::escape(prefix),
        proxy = nginx_proxy(id, forwarded_proto),
    )
}

/// The lines of a `location` that passes its requests to `serve`, with
/// `forwarded_proto` as the `X-Forwarded-Proto` value and its comment.
fn nginx_proxy(id: &str, forwarded_proto: &str) -> String {
    format!(
        r#"        proxy_pass http://{id}_app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        # Read by the application through secure_proxy_ssl_header.
        proxy_set_header X-Forwarded-Proto {forwarded_proto}
        proxy_redirect off;
        # A serve that refuses the connection, does not accept it within
        # proxy_connect_timeout, or sends no answer within proxy_read_timeout
        # (60 s): the request goes to the next one. nginx never sends a POST
        # (or another non-idempotent method) to a second server once one has
        # received it.
        proxy_next_upstream error timeout;
        proxy_connect_timeout 5s;
"#
    )
}

/// The Apache httpd `<VirtualHost>`s; they need mod_proxy, mod_proxy_http and
/// mod_headers, and for TLS mod_ssl and mod_rewrite.
fn apache(site: &Site, front: &Front) -> Result<String, CommandError> {
    let mut names = site.host_names();
    let server_name = names
        .next()
        .map(|n| format!("    # allowed_hosts (or --server-name)\n    ServerName {n}\n"))
        .unwrap_or_default();
    let aliases: Vec<&str> = names.collect();
    let server_alias = if aliases.is_empty() {
        String::new()
    } else {
        format!("    ServerAlias {}\n", aliases.join(" "))
    };
    let names = format!("{server_name}{server_alias}");
    let header = header(site, "Apache httpd configuration");
    Ok(match front {
        Front::Tls {
            https,
            http,
            cert,
            key,
            acme_webroot,
        } => {
            let hsts = hsts_value(site.settings)
                .map(|value| {
                    format!(
                        "        # {HSTS_SETTINGS}\n        Header always set Strict-Transport-Security \"{value}\"\n"
                    )
                })
                .unwrap_or_default();
            // Only the site's names are redirected, as with nginx: Apache
            // takes the first virtual host of the port for any other Host,
            // whose SERVER_NAME (UseCanonicalName Off) is that Host.
            let (site_names, only_site_names, other_hosts) = match apache_host_pattern(site) {
                Some(pattern) => (
                    "    # The site's names, in any case, with a port or not.\n",
                    format!("    RewriteCond %{{HTTP_HOST}} {pattern} [NC]\n"),
                    "    # Another Host: no redirect, which a shared cache could keep for a host\n    \
                     # the site does not serve, but 400 Bad Request, as the application\n    \
                     # answers a host outside allowed_hosts (Apache has no nginx's 444).\n    \
                     RewriteRule ^ - [R=400,L]\n",
                ),
                None => ("", String::new(), ""),
            };
            format!(
                r#"{header}# Needs: a2enmod ssl rewrite proxy proxy_http headers (and http2 for HTTP/2),
# and a Listen line for each port.

# HTTP: every request for the site's names is redirected to HTTPS, but
# ACME's HTTP-01 challenges, which a certificate authority asks over plain
# HTTP (a first certificate too): {acme_answer}.
# --listen-http
<VirtualHost {http}>
{names}    RewriteEngine On
{site_names}{only_site_names}    RewriteRule ^/\.well-known/acme-challenge/ - [L]
{only_site_names}    RewriteRule ^ https://%{{SERVER_NAME}}{port}%{{REQUEST_URI}} [R=301,L]
{other_hosts}    ProxyPreserveHost On
    # Read by the application through secure_proxy_ssl_header.
    RequestHeader set X-Forwarded-Proto "http"
{acme}</VirtualHost>

# HTTPS: TLS ends here, and the application hears X-Forwarded-Proto: https.
# --listen
<VirtualHost {https}>
{names}    SSLEngine on
    # --tls-cert, --tls-key
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    Protocols h2 http/1.1
    # Read by the application through secure_proxy_ssl_header.
    RequestHeader set X-Forwarded-Proto "https"
{site_body}</VirtualHost>
"#,
                http = http.apache(),
                acme_answer = acme_answer(acme_webroot.as_deref()),
                acme = match acme_webroot {
                    Some(dir) => apache_acme_webroot(dir),
                    None => format!(
                        "    # serve_bind (or --upstream)\n    ProxyPass {ACME_CHALLENGES} {}\n",
                        apache_backend(site, ACME_CHALLENGES)
                    ),
                },
                port = https.https_port_suffix(),
                https = https.apache(),
                cert = config_word(cert.display().to_string()),
                key = config_word(key.display().to_string()),
                site_body = apache_site_body(site, &hsts)?,
            )
        }
        Front::PlainHttp { listen } => format!(
            r#"{header}# Needs: a2enmod proxy proxy_http headers, and a Listen line for the port.

# Plain HTTP behind a proxy that terminates TLS (--plain-http): that proxy
# must set X-Forwarded-Proto on every request, and only it may reach this
# server. The header goes on to the application as the proxy sent it, read
# through secure_proxy_ssl_header.
# --listen
<VirtualHost {listen}>
{names}{site_body}</VirtualHost>
"#,
            listen = listen.apache(),
            site_body = apache_site_body(site, "")?,
        ),
    })
}

/// The site's names as a `RewriteCond %{HTTP_HOST}` pattern (with `[NC]`:
/// any case), with one trailing dot and a port or not, as the application
/// takes them; `*.example.org` is any subdomain. None when the site has no
/// names (any host is its own).
fn apache_host_pattern(site: &Site) -> Option<String> {
    let names: Vec<String> = site
        .host_names()
        .map(|name| {
            let (subdomains, name) = match name.strip_prefix("*.") {
                Some(domain) => ("([a-z0-9-]+\\.)+", domain),
                None => ("", name),
            };
            // `.`, and the brackets of an IPv6 address, as themselves.
            let literal: String = name
                .chars()
                .flat_map(|c| match c {
                    '.' | '[' | ']' => vec!['\\', c],
                    _ => vec![c],
                })
                .collect();
            format!("{subdomains}{literal}")
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(format!("^({})\\.?(:[0-9]+)?$", names.join("|")))
}

/// What a site's `<VirtualHost>` holds after its names and TLS lines.
fn apache_site_body(site: &Site, static_hsts: &str) -> Result<String, CommandError> {
    let static_files = match site.static_files()? {
        Some((static_url, static_root)) => format!(
            r#"    # Static files straight from disk, never reaching the application.
    # static_url, static_root
    Alias {static_url} {static_root}
    # No dot files or folders (a .git), as nginx.
    RedirectMatch 404 {static_no_dots}
    <Directory {static_root}>
        Require all granted
        AllowOverride None
        Options -Indexes
        Header always set X-Content-Type-Options nosniff
{static_hsts}        Header set Cache-Control "no-cache"
{hashed_names}    </Directory>
    ProxyPass {static_url} !
"#,
            static_no_dots = apache_no_dot_segments(static_url),
            hashed_names = if site.hashes_names() {
                "        # Content-hashed names (manifest storage), told by their shape: a source\n        # file named so (theme.202401011230.css) is cached long too.\n        <FilesMatch \"\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$\">\n            Header set Cache-Control \"public, max-age=31536000, immutable\"\n        </FilesMatch>\n"
            } else {
                ""
            },
        ),
        None => site.static_elsewhere_comment("    "),
    };
    let backend = apache_backend(site, "/");
    let media = match site.media()? {
        Some((media_url, media_root)) => format!(
            r#"
    # Uploaded files: visitors' content, never run as the site's pages.
    # media_url, media_root
    Alias {media_url} {media_root}
    # No dot files or folders: .incoming holds uploads not yet checked.
    RedirectMatch 404 {no_dots}
    <Directory {media_root}>
        Require all granted
        # No .htaccess is read here: an upload never configures the server.
        AllowOverride None
        Options -Indexes -ExecCGI -Includes -FollowSymLinks -SymLinksIfOwnerMatch
        # Sent as files whatever their name, by the handler of static files:
        # no other runs an upload (a .php where mod_php is on, a .cgi).
        # Inside the virtual host, this applies after the server's own
        # FilesMatch sections.
        <FilesMatch ".">
            SetHandler default-handler
        </FilesMatch>
        Header always set X-Content-Type-Options nosniff
        Header always set Content-Security-Policy "{csp}"
{static_hsts}        Header set Cache-Control "no-cache"
    </Directory>
    ProxyPass {media_url} !
"#,
            csp = crate::staticfiles::serve::MEDIA_CSP,
            no_dots = apache_no_dot_segments(media_url),
        ),
        None => String::new(),
    };
    Ok(format!(
        r#"    # data_upload_max_memory_size
    LimitRequestBody {max_body}
    ProxyPreserveHost On

{static_files}{media}
    # serve_bind (or --upstream)
    ProxyPass / {backend}
    ProxyPassReverse / {backend}
"#,
        max_body = web_server_body_limit(site.settings),
    ))
}

/// Where a CA asks ACME's HTTP-01 challenges (RFC 8555), over plain HTTP.
const ACME_CHALLENGES: &str = "/.well-known/acme-challenge/";

/// Who answers ACME's challenges, said in the configuration's comment.
fn acme_answer(webroot: Option<&Path>) -> &'static str {
    match webroot {
        Some(_) => "the files certbot --webroot writes\n# (--acme-webroot) answer them",
        None => {
            "passed to the application, where a view of\n# the project's answers them \
             (see secure_redirect_exempt)"
        }
    }
}

/// nginx's `location` of ACME's challenges served from `webroot`, where
/// `certbot certonly --webroot -w WEBROOT` writes them (below
/// `.well-known/acme-challenge/`); a dot segment below is still a 404.
fn nginx_acme_webroot(webroot: &Path) -> String {
    format!(
        r#"    location ^~ {ACME_CHALLENGES} {{
        location ~ ^{escaped}(.*/)?\. {{
            return 404;
        }}
        root {root};  # --acme-webroot
        default_type text/plain;
    }}
"#,
        escaped = regex::escape(ACME_CHALLENGES),
        root = config_word(webroot.display().to_string()),
    )
}

/// Apache's `Alias` of ACME's challenges to the files under `webroot`, as
/// [`nginx_acme_webroot`].
fn apache_acme_webroot(webroot: &Path) -> String {
    let folder = config_word(
        webroot
            .join(ACME_CHALLENGES.trim_start_matches('/'))
            .display()
            .to_string(),
    );
    format!(
        r#"    # --acme-webroot
    Alias {ACME_CHALLENGES} {folder}
    RedirectMatch 404 {no_dots}
    <Directory {folder}>
        Require all granted
        AllowOverride None
        Options -Indexes
    </Directory>
"#,
        no_dots = apache_no_dot_segments(ACME_CHALLENGES),
    )
}

/// The URL of `serve` (`site`'s upstream) at `path`, as `ProxyPass` takes it.
fn apache_backend(site: &Site, path: &str) -> String {
    match site.upstream() {
        Bind::Unix(socket) => {
            config_word(format!("unix:{}|http://localhost{path}", socket.display()))
        }
        Bind::Tcp(addr) => format!("http://{addr}{path}"),
    }
}

/// The quoted regex of Apache's `RedirectMatch 404` for any path under
/// `url` with a segment starting with a dot, as nginx's `location ~ /\.`
/// and the application refuse it. A `<FilesMatch>` sees only the last
/// segment (`/.git/config` passed); `RedirectMatch` sees the whole decoded
/// path, so `%2e` is a dot too.
fn apache_no_dot_segments(url: &str) -> String {
    format!(
        "\"^{}(/.*)?/\\.\"",
        regex::escape(url.trim_end_matches('/'))
    )
}

/// The account the service runs as: `--user`, else `serve_user` (the
/// account `check --deploy` judged the files for), else the project's name.
/// A name systemd would not take as it is is refused, naming where it came
/// from: an empty `User=` runs the service as root, and `bad user` or
/// `a;b` is no account.
fn service_user(
    flag: Option<&String>,
    settings: &Settings,
    name: &str,
) -> Result<String, CommandError> {
    let (user, source) = match (flag, &settings.serve_user) {
        (Some(user), _) => (user, "--user"),
        (None, Some(user)) => (user, "serve_user"),
        (None, None) => return Ok(name.to_string()),
    };
    let mut chars = user.chars();
    let valid = user.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if valid {
        return Ok(user.clone());
    }
    let empty = match user.is_empty() {
        true => " (an empty User= runs the service as root)",
        false => "",
    };
    Err(CommandError::failed(
        format!("{source} {user:?} is not an account name the service can run as{empty}"),
        Some(
            "give the name of the service account, as useradd made it: up to 32 letters, digits, \
             _, - and ., starting with a letter or _ (useradd --system --no-create-home NAME)",
        ),
    ))
}

/// The binary a service runs: this one when it is a release build or an
/// installed copy; for a debug build (`<target>/debug/<name>`, where
/// `manage` and `cargo run` leave it), the release build of the same target
/// folder, `<target>/release/<name>`, which must exist.
fn release_binary(this: &Path) -> Result<PathBuf, CommandError> {
    let profile_dir = this
        .parent()
        .filter(|_| crate::project::profile_folder(this) == Some("debug"));
    let release = match (profile_dir.and_then(Path::parent), this.file_name()) {
        (Some(target), Some(name)) => target.join("release").join(name),
        _ => this.to_path_buf(),
    };
    if !release.is_file() {
        return Err(CommandError::failed(
            format!(
                "the release build {} does not exist, and a service should not run the debug build {}",
                release.display(),
                this.display()
            ),
            Some(
                "build it with `cargo build --release` in the project, or name the binary to run with --exec PATH",
            ),
        ));
    }
    Ok(release)
}

/// `exec`, the binary the unit runs (`given` by `--exec`, else the
/// release build), refused when its path holds what systemd refuses in an
/// executable's name ("Executable name contains special characters"): a
/// quote or a backslash.
fn runnable_by_systemd(exec: &Path, given: bool) -> Result<(), CommandError> {
    let text = exec.display().to_string();
    let Some(special) = text
        .chars()
        .find(|c| "'\"\\".contains(*c) || c.is_control())
    else {
        return Ok(());
    };
    let what = match given {
        true => "--exec",
        false => "the release build",
    };
    Err(CommandError::failed(
        format!(
            "{what} {text} holds {special:?}, which systemd refuses in the name of the program \
             a unit runs"
        ),
        Some(
            "copy or link the binary to a path without quotes or backslashes and name it with \
             --exec (`--exec /usr/local/bin/NAME`), or move the project to such a folder",
        ),
    ))
}

/// The folders `serve` writes in, which the service unit's
/// `ProtectSystem=strict` leaves writable (`ReadWritePaths`): the SQLite
/// databases' folders, the log file's, `media_root` (uploads) and, with
/// the `file` mail backend, `email_file_path` (a password-reset mail is
/// written there). Caches and sessions keep nothing in files, and a
/// multipart body waits in `media_root` or the unit's private `/tmp`.
fn writable_folders(settings: &Settings) -> Vec<PathBuf> {
    let mut writable: Vec<PathBuf> = settings
        .data_folders()
        .into_iter()
        .map(|data| data.folder)
        .collect();
    writable.extend(settings.media_root.clone());
    if settings.email_backend == crate::conf::EmailBackend::File {
        writable.extend(settings.email_file_path.clone());
    }
    writable.sort();
    writable.dedup();
    writable
}

/// systemd does not start a service while a folder of its `ReadWritePaths`
/// is missing (status 226/NAMESPACE), and `serve` would have made it on
/// its first write: the folders to create first, and how (owned by `user`
/// and its primary group `group`).
fn missing_folders_note(settings: &Settings, user: &str, group: &str) -> Option<String> {
    let missing: Vec<String> = writable_folders(settings)
        .iter()
        .filter(|folder| !folder.is_dir())
        .map(|folder| shell_word(folder))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let missing = missing.join(" ");
    Some(format!(
        "the service may write only in its ReadWritePaths folders, and systemd does not start it \
         while one is missing (status 226/NAMESPACE): create {missing} for it first \
         (as root: install -d -o {user} -g {group} {missing})"
    ))
}

/// `path` as a systemd unit's setting takes it: `%` doubled, since systemd
/// expands specifiers such as `%h` in paths.
fn systemd_path(path: &Path) -> String {
    path.display().to_string().replace('%', "%%")
}

/// `path` as one word of a systemd setting that takes several
/// (`ExecStart=`, `ReadWritePaths=`): [`systemd_path`], as a [`config_word`].
fn systemd_word(path: &Path) -> String {
    config_word(systemd_path(path))
}

/// `data_upload_max_memory_size` as nginx's `client_max_body_size` and
/// Apache's `LimitRequestBody` take it. Both read 0 as "no limit", where
/// the application refuses every body: 1 byte is the nearest they say.
fn web_server_body_limit(settings: &Settings) -> u64 {
    (settings.data_upload_max_memory_size as u64).max(1)
}

/// The URL path `url` of the setting `key`, which nginx's `location` and
/// Apache's `Alias` take as a bare word: only the characters of a plain
/// path, since a space, a quote, `;`, `{`, `}`, `#` or `$` there ends the
/// word, the line or the block, or names a variable (`nginx -t` then
/// refuses the file, or worse, accepts another one).
fn location_path<'a>(key: &str, url: &'a str, example: &str) -> Result<&'a str, CommandError> {
    let plain = |c: char| c.is_alphanumeric() || "/-._~+,=:@%!*()&".contains(c);
    if url.starts_with('/') && url.chars().all(plain) {
        return Ok(url);
    }
    Err(CommandError::failed(
        format!(
            "{key} is {url:?}: the web server configuration takes it as a path of letters, digits \
             and / - . _ ~ + , = : @ % ! * ( ) &, starting with /"
        ),
        Some(&format!(
            "set {key} to such a path, for example {example}, then run deployconfig again"
        )),
    ))
}

/// nginx reads a `$` in any word as the start of a variable and has no
/// escape for it: a path holding one cannot be written into its files.
fn refuse_dollar_for_nginx<'a>(
    paths: impl IntoIterator<Item = (&'a str, String)>,
) -> Result<(), CommandError> {
    for (what, path) in paths {
        if path.contains('$') {
            return Err(CommandError::failed(
                format!(
                    "{what} {path} holds a '$', which nginx reads as the start of a variable and \
                     cannot escape"
                ),
                Some(&format!(
                    "move or rename it to a path without '$' (and change {what}), then run \
                     deployconfig nginx again"
                )),
            ));
        }
    }
    Ok(())
}

/// `text` as one word of an nginx, Apache httpd or systemd file: as it is,
/// or in double quotes with `\` and `"` escaped when it holds a space, a
/// quote, a backslash or what nginx reads as syntax (`;`, `{`, `}`, `#`),
/// where these files would split it into several words or end it.
fn config_word(text: String) -> String {
    let plain = |c: char| !(c.is_whitespace() || "\"'\\;{}#".contains(c));
    if text.chars().all(plain) {
        return text;
    }
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The service unit and the socket unit. The service runs as `user` with
/// no `Group=`: systemd then uses the account's primary group, whatever its
/// name on the machine that runs it. The socket unit needs a group name:
/// `group`, the account's primary group ([`primary_group_name`]).
fn systemd(site: &Site, user: &str, group: &str, exec: &Path, env_file: &Path) -> (String, String) {
    let name = site.name;
    let base = &site.settings.base_dir;
    let writable = writable_folders(site.settings);
    let read_write = if writable.is_empty() {
        String::new()
    } else {
        format!(
            "# The folders serve writes in: the SQLite database's, the log file's, media_root,\n\
             # email_file_path (email_backend = \"file\").\nReadWritePaths={}\n",
            writable
                .iter()
                .map(|p| systemd_word(p))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let (listen_stream, socket_extra) = match site.upstream() {
        // Unset, systemd makes the socket root's: with mode 0660 no web
        // server account could connect (nginx: 502, "Permission denied").
        Bind::Unix(path) => (
            systemd_path(path),
            format!(
                "# The service account's, as serve makes it itself; the web server's account\n\
                 # joins the group to connect: usermod -aG {group} www-data\n\
                 SocketUser={user}\nSocketGroup={group}\n\
                 # serve_socket_mode\nSocketMode=0{}\n",
                site.settings.serve_socket_mode
            ),
        ),
        Bind::Tcp(addr) => (addr.to_string(), String::new()),
    };
    let service = format!(
        r#"{header}[Unit]
Description={name} application server (Nuages)
Documentation=man:systemd.service(5)
Requires={name}.socket
After=network.target {name}.socket

[Service]
Type=simple
User={user}
WorkingDirectory={base}
# NUAGES_SETTINGS and the variables the settings read (SECRET_KEY…) live here, readable by root only.
EnvironmentFile={env_file}
ExecStart={exec} serve
KillSignal=SIGTERM
# serve_graceful_timeout + 5 seconds
TimeoutStopSec={stop}
Restart=on-failure
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectControlGroups=true
RestrictSUIDSGID=true
{read_write}
[Install]
WantedBy=multi-user.target
"#,
        header = header(site, "systemd service"),
        base = systemd_path(base),
        env_file = systemd_path(env_file),
        // systemd expands `$NAME` in a command line; `$$` is a `$`.
        // No `$$`: systemd expands variables in the arguments only, and
        // reads the executable's name as it is.
        exec = systemd_word(exec),
        stop = site.settings.serve_graceful_timeout + 5,
    );
    let socket = format!(
        r#"{header}[Unit]
Description={name} application server socket

[Socket]
# serve_bind (or --upstream)
ListenStream={listen_stream}
{socket_extra}
[Install]
WantedBy=sockets.target
"#,
        header = header(site, "systemd socket"),
    );
    (service, socket)
}

/// Print `text`, or write it to the file `output` (an nginx or Apache
/// configuration: one file, named by the user, never a folder's).
fn emit(output: Option<&Path>, text: &str, force: bool, name: &str) -> Result<(), CommandError> {
    match output {
        Some(path) => {
            // A folder (`-o /etc/nginx/sites-enabled/`) is not replaced, even
            // with --force: name the file to write in it.
            if path.is_dir() {
                return Err(CommandError::failed(
                    format!("{} is a folder: -o names the file to write", path.display()),
                    Some(&format!(
                        "name a file in it: -o {}",
                        path.join(format!("{name}.conf")).display()
                    )),
                ));
            }
            refuse_to_replace(path, text, force)?;
            write_atomically(path, &sealed(text))?;
            outln!("Wrote {}", path.display())?;
            Ok(())
        }
        None => output::print(format_args!("{}", sealed(text))),
    }
}

/// How the last line of every file this command writes begins: the
/// SHA-256 of what comes before it follows, so that a later `-o` can tell
/// that the file was changed by hand since.
const DIGEST_LINE: &str = "# deployconfig sha256: ";

/// `text` with its [`DIGEST_LINE`].
fn sealed(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!("{text}{DIGEST_LINE}{}\n", crate::hex::encode(&digest))
}

/// Whether `content`, a file this command wrote, was changed since: what
/// comes before its last line no longer has the digest that line holds. A
/// file without the line (written before it was added) is taken as written.
fn edited_since_written(content: &str) -> bool {
    let Some(at) = content.rfind(DIGEST_LINE) else {
        return false;
    };
    let (body, last) = content.split_at(at);
    sealed(body) != format!("{body}{last}")
}

/// What the first line of every file this command writes says.
const WRITTEN_BY: &str = "written by `manage deployconfig`";

/// What a first line written by [`header`] says the file is (`nginx
/// configuration`, `systemd service`, …) and for which project.
fn written_kind(first_line: &str) -> Option<(&str, &str)> {
    let (kind, rest) = first_line.strip_prefix("# ")?.split_once(" for ")?;
    let (project, _) = rest.split_once(&format!(", {WRITTEN_BY} from "))?;
    Some((kind, project))
}

/// What `file_type` is when it is not a regular file, as the errors name it.
fn special_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_file() {
        return None;
    }
    Some(if file_type.is_dir() {
        "a folder"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "no regular file"
    })
}

/// The error for `-o` naming `path`, which is (or leads to) `kind`.
fn not_a_regular_file(path: &Path, kind: &str) -> CommandError {
    let is = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => "leads to",
        _ => "is",
    };
    CommandError::failed(
        format!(
            "{} {is} {kind}, not a regular file: -o writes a file, and never reads or replaces \
             anything else, even with --force",
            path.display()
        ),
        Some("choose a file path with -o, or leave -o out to print to stdout"),
    )
}

/// Refuse, even with `--force`, to write where something other than a
/// regular file is (a link followed to what it leads to): reading a FIFO
/// or `/dev/stdout` to recognise it would wait forever, `/dev/zero` would
/// fill the memory, and the rename would put a file in place of a device
/// (`-o /dev/null` as root) or of the folder, FIFO or socket another
/// program uses.
fn refuse_unwritable_kind(path: &Path) -> Result<(), CommandError> {
    // Absent (or a link leading nowhere): nothing is replaced, and the
    // write names what fails.
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    match special_kind(meta.file_type()) {
        Some(kind) => Err(not_a_regular_file(path, kind)),
        None => Ok(()),
    }
}

/// How much of an existing file is read to recognise one this command
/// wrote, unchanged: far more than any configuration it writes.
const READ_LIMIT: u64 = 1 << 20;

/// Refuse to write `text` at `path` where something other than a regular
/// file is, even with `force` ([`refuse_unwritable_kind`]); and where a
/// file this command did not write is (its first line says so), or wrote
/// as another kind of file than `text` (an nginx configuration over the
/// systemd unit), unless `force`: `-o` names a file the user may have
/// written by hand, or mistyped.
fn refuse_to_replace(path: &Path, text: &str, force: bool) -> Result<(), CommandError> {
    refuse_unwritable_kind(path)?;
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if force {
        return Ok(());
    }
    let cannot_read = |e: std::io::Error| {
        CommandError::failed(
            format!("cannot read {} before replacing it: {e}", path.display()),
            Some("choose another path with -o"),
        )
    };
    // Opened without waiting (a FIFO put there since it was looked at opens
    // at once) and its kind checked on what was opened, before any read.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(cannot_read(e)),
    };
    if let Some(kind) = special_kind(file.metadata().map_err(cannot_read)?.file_type()) {
        return Err(not_a_regular_file(path, kind));
    }
    let mut bytes = Vec::new();
    file.take(READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    let content = String::from_utf8_lossy(&bytes);
    let first_line = bytes
        .split(|&b| b == b'\n')
        .next()
        .map(|line| String::from_utf8_lossy(line).into_owned());
    let (new_kind, new_project) =
        written_kind(text.lines().next().unwrap_or_default()).unwrap_or(("file", ""));
    match first_line.as_deref().and_then(written_kind) {
        // Another project's file (two sites on one machine, a path mistyped
        // from one to the other): that site would lose its configuration.
        Some((kind, project)) if project != new_project => {
            return Err(CommandError::failed(
                format!(
                    "{} was written by deployconfig as the {kind} for the project {project}, not \
                     for this project {new_project}: it is left as it is",
                    path.display(),
                ),
                Some(&format!(
                    "choose another path with -o for {new_project}'s {new_kind}, or add --force \
                     to replace {project}'s file"
                )),
            ));
        }
        // Changed by hand since (a location added): those lines would be
        // lost without a word.
        Some((kind, _)) if kind == new_kind && edited_since_written(&content) => {
            return Err(CommandError::failed(
                format!(
                    "{} was written by deployconfig as this {kind}, then changed (its content no \
                     longer matches the digest on its last line): it is left as it is",
                    path.display(),
                ),
                Some(
                    "keep your changes in a file of your own that the web server also reads (nginx: \
                     an include; systemd: a drop-in, systemctl edit), then add --force to replace \
                     this one; or choose another path with -o",
                ),
            ));
        }
        Some((kind, _)) if kind == new_kind => return Ok(()),
        Some((kind, _)) => {
            return Err(CommandError::failed(
                format!(
                    "{} was written by deployconfig as its {kind}, not as this {new_kind}: it is \
                     left as it is",
                    path.display(),
                ),
                Some("choose another path with -o, or add --force to replace it"),
            ));
        }
        None => {}
    }
    Err(CommandError::failed(
        format!(
            "{} exists and was not written by deployconfig: it is left as it is",
            path.display()
        ),
        Some("choose another path with -o, or add --force to replace it"),
    ))
}

/// Write through a temporary file and a rename: a server never reads half a config.
/// A link (`sites-enabled/mysite` → `../sites-available/mysite`) stays: the
/// file it leads to is the one replaced.
fn write_atomically(path: &Path, text: &str) -> Result<(), CommandError> {
    let resolved;
    let path = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            resolved = std::fs::canonicalize(path).map_err(|e| {
                CommandError::failed(
                    format!(
                        "{} is a link, and what it leads to cannot be written: {e}",
                        path.display()
                    ),
                    Some("choose another path with -o, or fix the link"),
                )
            })?;
            resolved.as_path()
        }
        _ => path,
    };
    let folder = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let missing_folder = format!(
        "create the folder first (mkdir -p {}), or choose another path with -o",
        shell_word(folder)
    );
    let failed = |e: std::io::Error| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound if !folder.is_dir() => missing_folder.as_str(),
            std::io::ErrorKind::PermissionDenied => {
                "run deployconfig as a user who may write there (sudo), or choose another path with -o"
            }
            _ => "choose another path with -o",
        };
        CommandError::failed(format!("cannot write {}: {e}", path.display()), Some(hint))
    };
    let temporary = path.with_extension(format!(
        "{}.tmp{}",
        path.extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    // The replaced file's permissions carry over (a config kept 0640
    // stays so). `create_new`: never through whatever is at that name.
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mode = std::fs::metadata(path).map_or(0o644, |meta| meta.permissions().mode() & 0o777);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(&failed)
        .and_then(|mut file| {
            // The mode again: the process's umask applies at creation.
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .and_then(|()| file.write_all(text.as_bytes()))
                .and_then(|()| file.sync_all())
                .and_then(|()| std::fs::rename(&temporary, path))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&temporary);
                    failed(e)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(settings: &Settings) -> Site<'_> {
        Site {
            name: "mysite",
            settings,
            settings_path: Path::new("/srv/mysite/settings.production.toml"),
            upstreams: vec![Bind::Unix("/run/mysite/mysite.sock".into())],
            server_names: server_names(settings).unwrap(),
        }
    }

    fn settings() -> Settings {
        Settings {
            static_root: Some("/srv/mysite/www_dir/static".into()),
            allowed_hosts: vec!["example.com".into(), ".example.org".into()],
            log_file: Some("/srv/mysite/logs/mysite.log".into()),
            secure_proxy_ssl_header: Some(vec!["X-Forwarded-Proto".into(), "https".into()]),
            secure_ssl_redirect: true,
            secure_hsts_seconds: 31536000,
            secure_hsts_include_subdomains: true,
            secure_hsts_preload: true,
            ..Settings::defaults_in(Path::new("/srv/mysite"))
        }
    }

    /// The units of `settings` for the account mysite, running `exec`.
    fn units(settings: &Settings, exec: &str) -> (String, String) {
        systemd(
            &site(settings),
            "mysite",
            "mysite",
            Path::new(exec),
            Path::new("/etc/mysite/env"),
        )
    }

    fn tls() -> Front {
        Front::Tls {
            https: Listen::port(443),
            http: Listen::port(80),
            cert: "/etc/tls/site.pem".into(),
            key: "/etc/tls/site.key".into(),
            acme_webroot: None,
        }
    }

    #[test]
    fn nginx_serves_static_root_and_proxies_the_rest() {
        let settings = settings();
        let text = nginx(&site(&settings), &tls()).unwrap();
        assert!(text.contains("location /static/ {  # static_url"), "{text}");
        assert!(
            text.contains("alias /srv/mysite/www_dir/static/;  # static_root"),
            "{text}"
        );
        assert!(text.contains("gzip_static on;"));
        assert!(text.contains("gzip_vary on;"), "{text}");
        // nginx lets go of an idle connection to serve before serve does.
        assert!(text.contains("    keepalive_timeout 15s;\n"), "{text}");
        assert!(text.contains("server unix:/run/mysite/mysite.sock;"));
        assert!(
            text.contains("server_name example.com example.org *.example.org;"),
            "{text}"
        );
        assert!(text.contains("client_max_body_size 2621440;"));
        // 0 is "no limit" to the web servers, "no body" to the application.
        let no_body = Settings {
            data_upload_max_memory_size: 0,
            ..settings.clone()
        };
        assert!(
            nginx(&site(&no_body), &tls())
                .unwrap()
                .contains("client_max_body_size 1;")
        );
        assert!(
            apache(&site(&no_body), &tls())
                .unwrap()
                .contains("LimitRequestBody 1\n")
        );
        assert!(text.contains("proxy_set_header X-Forwarded-Proto $scheme;"));
        // Plain storage hashes no name: nothing is cached for a year.
        assert!(!text.contains("immutable"), "{text}");
        assert!(
            !apache(&site(&settings), &tls())
                .unwrap()
                .contains("immutable")
        );
        let manifest = Settings {
            staticfiles_storage: crate::conf::StaticfilesStorage::Manifest,
            ..settings.clone()
        };
        let text = nginx(&site(&manifest), &tls()).unwrap();
        assert!(
            text.contains(
                "    \"~\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$\" \"public, max-age=31536000, immutable\";\n    default \"no-cache\";"
            ),
            "{text}"
        );
        // Only on a file sent: a 404 cached for a year would outlive the deploy
        // that brings the file.
        assert!(
            text.contains("        add_header Cache-Control $mysite_static_cache;\n"),
            "{text}"
        );
        let text = apache(&site(&manifest), &tls()).unwrap();
        assert!(
            text.contains("        <FilesMatch \"\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$\">\n            Header set Cache-Control \"public, max-age=31536000, immutable\""),
            "{text}"
        );
    }

    #[test]
    fn nginx_balances_between_several_upstreams_and_retries_on_connection_errors() {
        let settings = settings();
        let mut site = site(&settings);
        site.upstreams
            .push(Bind::Tcp("127.0.0.1:8001".parse().unwrap()));
        let text = nginx(&site, &tls()).unwrap();
        assert!(
            text.contains(
                "upstream mysite_app {\n    server unix:/run/mysite/mysite.sock;\n    server 127.0.0.1:8001;\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("proxy_next_upstream error timeout;"),
            "{text}"
        );
        assert!(text.contains("proxy_connect_timeout 5s;"), "{text}");
        assert!(!text.contains("non_idempotent"), "{text}");
    }

    #[test]
    fn uploads_are_served_from_media_root_when_it_is_set() {
        let without = settings();
        for text in [
            nginx(&site(&without), &tls()).unwrap(),
            apache(&site(&without), &tls()).unwrap(),
        ] {
            assert!(!text.contains("media"), "{text}");
        }
        let settings = Settings {
            media_root: Some("/srv/mysite/www_dir/media".into()),
            ..settings()
        };
        let text = nginx(&site(&settings), &tls()).unwrap();
        assert!(text.contains("location /media/ {  # media_url"), "{text}");
        assert!(text.contains("alias /srv/mysite/www_dir/media/;  # media_root"));
        assert!(text.contains(
            "add_header Content-Security-Policy \"default-src 'none'; sandbox\" always;"
        ));
        let text = apache(&site(&settings), &tls()).unwrap();
        assert!(
            text.contains("Alias /media/ /srv/mysite/www_dir/media/"),
            "{text}"
        );
        assert!(text.contains("ProxyPass /media/ !"));
        let media = &text[text.find("<Directory /srv/mysite/www_dir/media/>").unwrap()..];
        let media = &media[..media.find("</Directory>").unwrap()];
        assert!(media.contains("AllowOverride None"), "{media}");
        assert!(
            media.contains("Header always set X-Content-Type-Options nosniff")
                && media.contains(
                    "Header always set Content-Security-Policy \"default-src 'none'; sandbox\""
                ),
            "{media}"
        );
        // An upload is never run: no CGI, no includes, no handler but the
        // one of static files.
        assert!(
            media.contains("Options -Indexes -ExecCGI -Includes")
                && media.contains("<FilesMatch \".\">\n            SetHandler default-handler\n"),
            "{media}"
        );
        for url in ["https://uploads.example.com/", "//uploads.example.com/"] {
            let elsewhere = Settings {
                media_url: url.into(),
                ..settings.clone()
            };
            assert!(
                !nginx(&site(&elsewhere), &tls())
                    .unwrap()
                    .contains("media_root"),
                "{url}"
            );
        }
    }

    /// `-o` through a link (nginx's sites-enabled/ entry leading to
    /// sites-available/): the file it leads to is replaced, the link stays.
    #[test]
    fn a_link_is_written_through_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let available = dir.path().join("sites-available");
        let enabled = dir.path().join("sites-enabled");
        std::fs::create_dir_all(&available).unwrap();
        std::fs::create_dir_all(&enabled).unwrap();
        let header = "# nginx configuration for site, written by `manage deployconfig` from settings.toml.\n";
        let target = available.join("site");
        std::fs::write(&target, format!("{header}old\n")).unwrap();
        let link = enabled.join("site");
        std::os::unix::fs::symlink("../sites-available/site", &link).unwrap();

        emit(Some(&link), &format!("{header}new\n"), false, "site").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            sealed(&format!("{header}new\n"))
        );
        assert_eq!(std::fs::read_dir(&enabled).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(&available).unwrap().count(), 1);
    }

    /// static_url on another host (a CDN): the site still needs its proxy,
    /// TLS and redirect; the configuration has no static location (and
    /// needs no static_root), says why in a comment, and the command a note.
    /// A static_url that is neither a path nor another host's URL is still
    /// refused.
    #[test]
    fn static_files_on_another_host_get_no_location() {
        for url in [
            "https://cdn.example.com/static/",
            "//cdn.example.com/static/",
        ] {
            let settings = Settings {
                static_url: url.into(),
                static_root: None,
                staticfiles_storage: crate::conf::StaticfilesStorage::Manifest,
                ..settings()
            };
            let site = site(&settings);
            let comment = format!(
                "    # Static files: static_url = \"{url}\" is another host, which serves them;\n    \
                 # this server has none to serve.\n"
            );
            let nginx = nginx(&site, &tls()).unwrap();
            assert!(nginx.contains(&comment), "{nginx}");
            for absent in [
                "static_root",
                "location /static/",
                "_static_cache",
                "gzip_static",
            ] {
                assert!(!nginx.contains(absent), "{absent}: {nginx}");
            }
            assert!(
                nginx.contains("ssl_certificate /etc/tls/site.pem;"),
                "{nginx}"
            );
            assert!(
                nginx.contains("return 301 https://$host$request_uri;"),
                "{nginx}"
            );
            assert!(nginx.contains("proxy_pass http://mysite_app;"), "{nginx}");
            let apache = apache(&site, &tls()).unwrap();
            assert!(apache.contains(&comment), "{apache}");
            for absent in [
                "static_root",
                "Alias /static/",
                "ProxyPass /static/",
                "immutable",
            ] {
                assert!(!apache.contains(absent), "{absent}: {apache}");
            }
            assert!(
                apache.contains("SSLCertificateFile /etc/tls/site.pem"),
                "{apache}"
            );
            assert!(
                apache.contains("ProxyPass / unix:/run/mysite/mysite.sock|http://localhost/"),
                "{apache}"
            );
            assert_eq!(
                static_elsewhere_note(&site, "nginx").unwrap(),
                format!(
                    "static_url = \"{url}\" is another host: the static files are served there, so \
                     this nginx configuration has no location for them (put collectstatic's files \
                     on that host)"
                )
            );
        }
        let settings = settings();
        assert_eq!(static_elsewhere_note(&site(&settings), "nginx"), None);
        let relative = Settings {
            static_url: "static/".into(),
            ..settings
        };
        let err = nginx(&site(&relative), &tls()).unwrap_err();
        assert!(
            err.to_string().contains("static_url is \"static/\""),
            "{err}"
        );
    }

    /// `-o` onto another project's generated file (two sites on one
    /// machine): left as it is, the error naming both projects and the way
    /// out; `--force` replaces it.
    #[test]
    fn another_projects_file_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blog.conf");
        let header = |project: &str| {
            format!(
                "# nginx configuration for {project}, written by `manage deployconfig` from /srv/{project}/settings.toml.\n"
            )
        };
        let blog = format!("{}blog's servers\n", header("blog"));
        std::fs::write(&path, &blog).unwrap();
        let mine = format!("{}mysite's servers\n", header("mysite"));
        let err = emit(Some(&path), &mine, false, "mysite").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.text().unwrap(),
            format!(
                "error: {} was written by deployconfig as the nginx configuration for the project \
                 blog, not for this project mysite: it is left as it is\n  hint: choose another \
                 path with -o for mysite's nginx configuration, or add --force to replace blog's \
                 file",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), blog);
        // The same project's file is its own to replace; --force replaces any.
        emit(Some(&path), &mine, true, "mysite").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), sealed(&mine));
        let again = format!("{}mysite's new servers\n", header("mysite"));
        emit(Some(&path), &again, false, "mysite").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), sealed(&again));
        // Changed by hand since: left as it is, unless --force.
        let edited = format!("{}    location /extra/ {{}}\n", sealed(&again));
        std::fs::write(&path, &edited).unwrap();
        let err = emit(Some(&path), &mine, false, "mysite").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.text().unwrap(),
            format!(
                "error: {} was written by deployconfig as this nginx configuration, then changed \
                 (its content no longer matches the digest on its last line): it is left as it \
                 is\n  hint: keep your changes in a file of your own that the web server also \
                 reads (nginx: an include; systemd: a drop-in, systemctl edit), then add --force \
                 to replace this one; or choose another path with -o",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
        let inside = sealed(&again).replace("new servers", "own servers");
        std::fs::write(&path, &inside).unwrap();
        assert!(emit(Some(&path), &mine, false, "mysite").is_err());
        emit(Some(&path), &mine, true, "mysite").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), sealed(&mine));
    }

    /// A replaced file keeps its permissions; a link planted at the
    /// temporary file's name is not written through.
    #[test]
    fn a_replaced_file_keeps_its_mode_and_nothing_is_written_through_the_temporary_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let header = "# nginx configuration for site, written by `manage deployconfig` from settings.toml.\n";
        let path = dir.path().join("site.conf");
        std::fs::write(&path, format!("{header}old\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        emit(Some(&path), &format!("{header}new\n"), false, "site").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            sealed(&format!("{header}new\n"))
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let temporary = dir
            .path()
            .join(format!("site.conf.tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &temporary).unwrap();
        let err = emit(Some(&path), &format!("{header}newer\n"), false, "site").unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            sealed(&format!("{header}new\n"))
        );
    }

    /// static_url and media_url are bare words of nginx's `location` and
    /// Apache's `Alias`: `/st atic/` wrote a file both refused, and what
    /// nginx reads as syntax could change the file's meaning.
    #[test]
    fn urls_the_web_servers_cannot_take_as_a_path_are_refused() {
        for (key, url) in [
            ("static_url", "/st atic/"),
            ("static_url", "/st{a}tic/"),
            ("static_url", "/st;atic/"),
            ("static_url", "/st$atic/"),
            ("media_url", "/me\"dia/"),
            ("media_url", "media/"),
        ] {
            let mut settings = settings();
            settings.media_root = Some("/srv/mysite/media".into());
            match key {
                "static_url" => settings.static_url = url.into(),
                _ => settings.media_url = url.into(),
            }
            for text in [
                nginx(&site(&settings), &tls()),
                apache(&site(&settings), &tls()),
            ] {
                let error = text.unwrap_err();
                let (message, hint) = (error.to_string(), format!("{error:?}"));
                assert!(
                    message.starts_with(&format!(
                        "{key} is {url:?}: the web server configuration takes it as a path"
                    )),
                    "{message}"
                );
                assert!(
                    hint.contains(&format!("set {key} to such a path")),
                    "{hint}"
                );
            }
        }
        let mut settings = settings();
        settings.static_url = "/assets/v-1.2_x~/".into();
        assert!(nginx(&site(&settings), &tls()).is_ok());
        // Letters of any script, as both servers take UTF-8 there.
        settings.static_url = "/stätic/(v2)/".into();
        assert!(nginx(&site(&settings), &tls()).is_ok());
        assert!(apache(&site(&settings), &tls()).is_ok());
    }

    /// nginx has no escape for `$`, which starts a variable: a path holding
    /// one is refused by name (`nginx -t` said "unknown variable"); systemd
    /// gets it as `$$`.
    #[test]
    fn a_dollar_in_a_path_is_refused_for_nginx_and_doubled_for_systemd() {
        let mut settings = settings();
        settings.static_root = Some("/srv/www$x/static".into());
        let error = nginx(&site(&settings), &tls()).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "static_root /srv/www$x/static holds a '$', which nginx reads as the start of a variable"
            ),
            "{error}"
        );
        let mut settings = self::settings();
        settings.media_root = Some("/srv/m$dia".into());
        assert!(
            nginx(&site(&settings), &tls())
                .unwrap_err()
                .to_string()
                .starts_with("media_root")
        );
        let front = Front::Tls {
            https: Listen::port(443),
            http: Listen::port(80),
            cert: "/etc/tls/$site.pem".into(),
            key: "/etc/tls/site.key".into(),
            acme_webroot: None,
        };
        assert!(
            nginx(&site(&self::settings()), &front)
                .unwrap_err()
                .to_string()
                .starts_with("--tls-cert")
        );
        let settings = self::settings();
        let (service, _) = units(&settings, "/srv/my$site/mysite");
        assert!(
            service.contains("\nExecStart=/srv/my$site/mysite serve\n"),
            "{service}"
        );
        // A quote or a backslash systemd refuses in an executable's name.
        for exec in ["/srv/it's/mysite", "/srv/a\"b/mysite", "/srv/a\\b/mysite"] {
            let error = runnable_by_systemd(Path::new(exec), true).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("--exec {exec} holds")),
                "{error}"
            );
        }
        assert!(runnable_by_systemd(Path::new("/srv/my site/$x/mysite"), true).is_ok());
    }

    /// An upstream nginx could never reach (port 0), or one given twice
    /// (twice the requests), is refused by name.
    #[test]
    fn upstreams_are_reachable_and_distinct() {
        let socket = || Bind::Unix("/run/mysite/a.sock".into());
        let tcp = |text: &str| Bind::Tcp(text.parse().unwrap());
        assert!(distinct_upstreams(vec![socket(), tcp("127.0.0.1:8001")]).is_ok());
        let error =
            distinct_upstreams(vec![socket(), tcp("127.0.0.1:8001"), socket()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--upstream unix:/run/mysite/a.sock is given twice"
        );
        let error = distinct_upstreams(vec![tcp("127.0.0.1:0")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--upstream 127.0.0.1:0 has port 0, which no serve listens on"
        );
    }

    #[test]
    fn a_missing_static_root_is_refused() {
        let settings = Settings {
            static_root: None,
            ..settings()
        };
        let err = nginx(&site(&settings), &tls()).unwrap_err();
        assert!(err.to_string().contains("static_root"));
    }

    #[test]
    fn systemd_units_run_serve_as_the_service_user_with_hardening() {
        let settings = settings();
        let (service, socket) = units(&settings, "/srv/mysite/bin/mysite");
        assert!(service.contains("\nUser=mysite\n"), "{service}");
        // No Group=: systemd runs the service in the account's primary group.
        assert!(!service.contains("Group="), "{service}");
        assert!(service.contains("ExecStart=/srv/mysite/bin/mysite serve"));
        assert!(service.contains("EnvironmentFile=/etc/mysite/env"));
        assert!(service.contains("NoNewPrivileges=true"));
        assert!(service.contains("ProtectSystem=strict"));
        assert!(
            service.contains("ReadWritePaths=/srv/mysite/db /srv/mysite/logs"),
            "{service}"
        );
        assert!(socket.contains("ListenStream=/run/mysite/mysite.sock"));
        assert!(socket.contains("SocketMode=0660"));
    }

    /// Uploads are written under media_root: ProtectSystem=strict would
    /// make every upload fail (read-only file system) unless the unit
    /// leaves that folder writable too.
    #[test]
    fn the_systemd_unit_lets_serve_write_uploads_in_media_root() {
        let settings = Settings {
            media_root: Some("/srv/mysite/www_dir/media".into()),
            ..settings()
        };
        let (service, _) = units(&settings, "/srv/mysite/bin/mysite");
        assert!(
            service.contains(
                "ReadWritePaths=/srv/mysite/db /srv/mysite/logs /srv/mysite/www_dir/media\n"
            ),
            "{service}"
        );
    }

    /// The file mail backend writes each mail (a password reset's) in
    /// email_file_path: ProtectSystem=strict would refuse the write unless
    /// the unit leaves that folder writable too; the command names it
    /// among the folders to create. Another backend writes nowhere.
    #[test]
    fn the_systemd_unit_lets_the_file_mail_backend_write_in_email_file_path() {
        let base = tempfile::tempdir().unwrap();
        let (db, logs, mail) = (
            base.path().join("db"),
            base.path().join("logs"),
            base.path().join("var/mail/mysite"),
        );
        std::fs::create_dir(&db).unwrap();
        std::fs::create_dir(&logs).unwrap();
        let settings = Settings {
            log_file: Some(logs.join("mysite.log")),
            email_backend: crate::conf::EmailBackend::File,
            email_file_path: Some(mail.clone()),
            ..Settings::defaults_in(base.path())
        };
        let (service, _) = units(&settings, "/srv/mysite/bin/mysite");
        assert!(
            service.contains(&format!(
                "ReadWritePaths={} {} {}\n",
                db.display(),
                logs.display(),
                mail.display()
            )),
            "{service}"
        );
        let note = missing_folders_note(&settings, "mysite", "mysite").expect("a note");
        assert!(
            note.contains(&format!(
                "(as root: install -d -o mysite -g mysite {})",
                mail.display()
            )),
            "{note}"
        );
        let smtp = Settings {
            email_backend: crate::conf::EmailBackend::Smtp,
            ..settings
        };
        let (service, _) = units(&smtp, "/srv/mysite/bin/mysite");
        assert!(
            service.contains(&format!(
                "ReadWritePaths={} {}\n",
                db.display(),
                logs.display()
            )),
            "{service}"
        );
        assert_eq!(missing_folders_note(&smtp, "mysite", "mysite"), None);
    }

    /// systemd refuses to start a unit whose ReadWritePaths folder is
    /// missing: the command names the folders to create, and how.
    #[test]
    fn missing_writable_folders_are_named_with_the_command_that_makes_them() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("db")).unwrap();
        let settings = Settings {
            log_file: Some(base.path().join("logs/mysite.log")),
            media_root: Some(base.path().join("www_dir/media")),
            ..Settings::defaults_in(base.path())
        };
        let note = missing_folders_note(&settings, "mysite", "mysite").expect("a note");
        let logs = base.path().join("logs");
        let media = base.path().join("www_dir/media");
        let missing = format!("{} {}", logs.display(), media.display());
        assert!(note.contains("226/NAMESPACE"), "{note}");
        assert!(
            note.contains(&format!("install -d -o mysite -g mysite {missing})")),
            "{note}"
        );
        assert!(!note.contains("/db"), "the database folder exists: {note}");
        std::fs::create_dir(&logs).unwrap();
        std::fs::create_dir_all(&media).unwrap();
        assert_eq!(missing_folders_note(&settings, "mysite", "mysite"), None);
    }

    /// The unit reads NUAGES_SETTINGS and SECRET_KEY from its
    /// EnvironmentFile, which nothing writes: the command says what to put
    /// there, with the settings file named as the unit's working folder
    /// finds it.
    #[test]
    fn the_environment_file_is_named_with_what_it_must_hold() {
        let settings = settings();
        let variables = [
            ("SECRET_KEY".to_string(), false),
            ("DB_PASSWORD".to_string(), false),
            ("EMAIL_HOST".to_string(), true),
        ];
        let note = env_file_note(&site(&settings), Path::new("/etc/mysite/env"), &variables);
        assert!(
            note.starts_with("the service reads its environment from /etc/mysite/env, which this command does not write"),
            "{note}"
        );
        assert!(
            note.contains("NUAGES_SETTINGS=settings.production.toml and"),
            "{note}"
        );
        assert!(
            note.contains(
                "the variables these settings read: SECRET_KEY=…, DB_PASSWORD=… (and, where their \
                 defaults do not fit, EMAIL_HOST=…)"
            ),
            "{note}"
        );
    }

    /// systemd makes a socket root's unless told otherwise: with mode 0660
    /// nginx's workers (www-data) could not connect. The socket is the
    /// service account's, as `serve` makes it, and the web server's account
    /// is told to join its group.
    #[test]
    fn the_socket_unit_gives_the_socket_to_the_service_account_and_says_who_must_join() {
        let settings = settings();
        let (_, socket) = units(&settings, "/srv/mysite/bin/mysite");
        assert!(socket.contains("\nSocketUser=mysite\n"), "{socket}");
        assert!(socket.contains("\nSocketGroup=mysite\n"), "{socket}");
        assert!(socket.contains("usermod -aG mysite www-data"), "{socket}");
        let note = socket_access_note(&site(&settings), "mysite", "mysite").expect("a note");
        assert!(
            note.starts_with(
                "/run/mysite/mysite.sock belongs to the account mysite and its group, mode 660"
            ),
            "{note}"
        );
        assert!(note.contains("usermod -aG mysite www-data"), "{note}");
        // A socket everyone may connect to, or TCP: nothing to say.
        let open = Settings {
            serve_socket_mode: "666".into(),
            ..settings.clone()
        };
        assert_eq!(socket_access_note(&site(&open), "mysite", "mysite"), None);
        let tcp = Site {
            upstreams: vec![Bind::Tcp("127.0.0.1:8000".parse().unwrap())],
            ..site(&settings)
        };
        assert_eq!(socket_access_note(&tcp, "mysite", "mysite"), None);
    }

    /// An account whose primary group has another name (Debian's `nobody`,
    /// in `nogroup`; no group `nobody` exists there): `Group=nobody` kept
    /// systemd from starting the service (216/GROUP), and `SocketGroup=`,
    /// `usermod -aG` and `install -g` named a group that is not there. The
    /// units and notes name the account's primary group as this machine
    /// has it (`id -gn`), and the service unit leaves the group to systemd.
    #[test]
    fn the_units_and_notes_name_the_primary_group_of_the_account() {
        let output = std::process::Command::new("id")
            .args(["-gn", "nobody"])
            .output()
            .unwrap();
        assert!(output.status.success(), "id -gn nobody: {output:?}");
        let expected = String::from_utf8(output.stdout).unwrap().trim().to_string();
        let group = primary_group_name("nobody");
        assert_eq!(group, expected);
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("db")).unwrap();
        let settings = Settings {
            log_file: Some(base.path().join("logs/mysite.log")),
            ..Settings::defaults_in(base.path())
        };
        let (service, socket) = systemd(
            &site(&settings),
            "nobody",
            &group,
            Path::new("/srv/mysite/bin/mysite"),
            Path::new("/etc/mysite/env"),
        );
        assert!(service.contains("\nUser=nobody\n"), "{service}");
        assert!(!service.contains("Group="), "{service}");
        assert!(
            socket.contains(&format!("\nSocketUser=nobody\nSocketGroup={expected}\n")),
            "{socket}"
        );
        assert!(
            socket.contains(&format!("usermod -aG {expected} www-data")),
            "{socket}"
        );
        let note = socket_access_note(&site(&settings), "nobody", &group).expect("a note");
        assert!(
            note.contains(&format!(
                "must be in the group {expected} to connect, or every page is a 502 (Debian and \
                 Ubuntu: usermod -aG {expected} www-data,"
            )),
            "{note}"
        );
        let note = missing_folders_note(&settings, "nobody", &group).expect("a note");
        assert!(
            note.contains(&format!(
                "install -d -o nobody -g {expected} {})",
                base.path().join("logs").display()
            )),
            "{note}"
        );
    }

    /// The configuration may be written for another machine: an account
    /// this one does not have is taken to have a group of the same name,
    /// as `useradd --system NAME` makes it.
    #[test]
    fn an_account_missing_here_is_taken_to_have_a_group_of_its_name() {
        assert_eq!(primary_group_name("no-such-user-here"), "no-such-user-here");
        let settings = settings();
        let group = primary_group_name("no-such-user-here");
        let (service, socket) = systemd(
            &site(&settings),
            "no-such-user-here",
            &group,
            Path::new("/srv/mysite/bin/mysite"),
            Path::new("/etc/mysite/env"),
        );
        assert!(!service.contains("Group="), "{service}");
        assert!(
            socket.contains("\nSocketUser=no-such-user-here\nSocketGroup=no-such-user-here\n"),
            "{socket}"
        );
    }

    #[test]
    fn systemd_waits_serve_graceful_timeout_and_five_seconds_before_killing() {
        let settings = Settings {
            serve_graceful_timeout: 12,
            ..settings()
        };
        let (service, _) = units(&settings, "/srv/mysite/bin/mysite");
        assert!(service.contains("\nTimeoutStopSec=17\n"), "{service}");
    }

    #[test]
    fn the_service_user_is_the_flag_else_serve_user_else_the_project() {
        let mut settings = settings();
        assert_eq!(service_user(None, &settings, "mysite").unwrap(), "mysite");
        settings.serve_user = Some("www-mysite".into());
        assert_eq!(
            service_user(None, &settings, "mysite").unwrap(),
            "www-mysite"
        );
        let flag = "deploy".to_string();
        assert_eq!(
            service_user(Some(&flag), &settings, "mysite").unwrap(),
            "deploy"
        );
    }

    #[test]
    fn apache_aliases_static_and_proxies_to_the_socket() {
        let settings = settings();
        let text = apache(&site(&settings), &tls()).unwrap();
        assert!(
            text.contains("Alias /static/ /srv/mysite/www_dir/static/"),
            "{text}"
        );
        assert!(text.contains("ProxyPass /static/ !"));
        assert!(text.contains("ProxyPass / unix:/run/mysite/mysite.sock|http://localhost/"));
        assert!(text.contains("ServerName example.com"));
    }

    fn matches(args: &[&str]) -> Result<ArgMatches, clap::Error> {
        DeployConfig
            .arguments(clap::Command::new("deployconfig"))
            .try_get_matches_from(std::iter::once("deployconfig").chain(args.iter().copied()))
    }

    /// A value with a line break would write directives of the caller's
    /// into the configuration (a second `User=root` in the unit): refused
    /// as a usage error naming the option, whatever the option.
    #[test]
    fn values_written_into_a_configuration_are_one_line() {
        for (option, kind) in [
            ("--env-file", "systemd"),
            ("--exec", "systemd"),
            ("--user", "systemd"),
            ("--upstream", "systemd"),
            ("--server-name", "nginx"),
            ("--acme-webroot", "nginx"),
            ("--output", "nginx"),
        ] {
            let error = matches(&[kind, option, "/etc/mysite/env\nUser=root"]).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{option}");
            let text = error.to_string();
            assert!(
                text.contains(option) && text.contains("the control character '\\n'"),
                "{option}: {text}"
            );
        }
        let error = matches(&["nginx", "--tls-cert", "a\r.pem", "--tls-key", "k"]).unwrap_err();
        assert!(error.to_string().contains("--tls-cert"), "{error}");
        assert!(matches(&["systemd", "--env-file", "/etc/my site/env"]).is_ok());
    }

    #[test]
    fn listen_takes_a_port_or_an_address_and_port() {
        assert_eq!(parse_listen("8443").unwrap(), Listen::port(8443));
        let v4 = parse_listen("127.0.0.1:8443").unwrap();
        assert_eq!(
            (v4.nginx(), v4.apache()),
            ("127.0.0.1:8443".into(), "127.0.0.1:8443".into())
        );
        assert_eq!(parse_listen("[::1]:8443").unwrap().nginx(), "[::1]:8443");
        assert_eq!(Listen::port(443).apache(), "*:443");
        let error = parse_listen("localhost:x").unwrap_err();
        assert!(error.contains("127.0.0.1:8443"), "{error}");
    }

    #[test]
    fn the_web_server_needs_a_certificate_unless_plain_http_is_asked_for() {
        let error = front(&matches(&["nginx"]).unwrap(), "nginx").unwrap_err();
        assert_eq!(error.exit_code(), 1);
        let CommandError::Failed(crate::Problem { message, hint }) = &error else {
            panic!("{error:?}")
        };
        assert!(
            message.contains("--tls-cert") && message.contains("--tls-key"),
            "{message}"
        );
        assert!(
            hint.as_deref().unwrap().contains("--plain-http"),
            "{hint:?}"
        );
        // One without the other is a usage error.
        assert!(matches(&["nginx", "--tls-cert", "a.pem"]).is_err());
        assert!(matches(&["nginx", "--plain-http", "--tls-cert", "a", "--tls-key", "b"]).is_err());
        assert_eq!(
            front(
                &matches(&["nginx", "--plain-http", "--listen", "127.0.0.1:8080"]).unwrap(),
                "nginx"
            )
            .unwrap(),
            Front::PlainHttp {
                listen: parse_listen("127.0.0.1:8080").unwrap()
            }
        );
        let Front::Tls {
            https, http, cert, ..
        } = front(
            &matches(&[
                "nginx",
                "--tls-cert",
                "tls/a.pem",
                "--tls-key",
                "tls/a.key",
                "--listen-http",
                "8080",
            ])
            .unwrap(),
            "nginx",
        )
        .unwrap()
        else {
            panic!("not TLS")
        };
        assert_eq!((https, http), (Listen::port(443), Listen::port(8080)));
        assert_eq!(cert, std::env::current_dir().unwrap().join("tls/a.pem"));
    }

    #[test]
    fn nginx_terminates_tls_and_redirects_plain_http() {
        let settings = settings();
        let front = Front::Tls {
            https: parse_listen("127.0.0.1:8443").unwrap(),
            http: parse_listen("127.0.0.1:8080").unwrap(),
            cert: "/etc/tls/site.pem".into(),
            key: "/etc/tls/site.key".into(),
            acme_webroot: None,
        };
        let text = nginx(&site(&settings), &front).unwrap();
        assert!(text.contains("listen 127.0.0.1:8443 ssl http2;"), "{text}");
        assert!(text.contains("ssl_certificate /etc/tls/site.pem;  # --tls-cert"));
        assert!(text.contains("ssl_certificate_key /etc/tls/site.key;  # --tls-key"));
        assert!(text.contains("listen 127.0.0.1:8080;  # --listen-http"));
        assert!(
            text.contains("return 301 https://$host:8443$request_uri;"),
            "{text}"
        );
        assert!(text.contains(
            "add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains; preload\" always;"
        ));
        // The plain HTTP server passes ACME's HTTP-01 challenges to the
        // application, saying they came over http; the rest is redirected.
        let (plain, secure) = text.split_at(text.find("# HTTPS:").unwrap());
        assert!(
            plain.contains(
                "    location ^~ /.well-known/acme-challenge/ {\n        \
                 location ~ ^/\\.well\\-known/acme\\-challenge/(.*/)?\\. {\n            \
                 return 404;\n        }\n        proxy_pass http://mysite_app;\n"
            ),
            "{plain}"
        );
        assert!(
            plain.contains("proxy_set_header X-Forwarded-Proto $scheme;  # http here"),
            "{plain}"
        );
        assert!(
            plain.contains(
                "    location / {\n        return 301 https://$host:8443$request_uri;\n    }"
            ),
            "{plain}"
        );
        // The HTTPS server passes all of /.well-known/ on, before the dotfile rule.
        assert!(
            secure.contains(
                "    location ~ /\\. {\n        return 404;\n    }\n\n    \
                 location ^~ /.well-known/ {\n        \
                 location ~ ^/\\.well\\-known/(.*/)?\\. {\n            return 404;\n        }\n        \
                 proxy_pass http://mysite_app;\n"
            ),
            "{secure}"
        );
        assert!(!secure.contains("acme-challenge/ {"), "{secure}");
        let standard = nginx(&site(&settings), &tls()).unwrap();
        assert!(
            standard.contains("return 301 https://$host$request_uri;"),
            "{standard}"
        );
        assert!(standard.contains("listen 443 ssl http2;"));
    }

    /// `--acme-webroot`: the plain HTTP server answers ACME's challenges
    /// from the files certbot writes there, nginx and Apache alike, and
    /// passes none to the application.
    #[test]
    fn acme_webroot_serves_the_challenges_from_certbots_files() {
        let settings = settings();
        let with_webroot = |dir: &str| {
            let Front::Tls {
                https,
                http,
                cert,
                key,
                ..
            } = tls()
            else {
                unreachable!()
            };
            Front::Tls {
                https,
                http,
                cert,
                key,
                acme_webroot: Some(dir.into()),
            }
        };
        let text = nginx(&site(&settings), &with_webroot("/var/www/acme")).unwrap();
        let (plain, secure) = text.split_at(text.find("# HTTPS:").unwrap());
        assert!(
            plain.contains(
                "    location ^~ /.well-known/acme-challenge/ {\n        \
                 location ~ ^/\\.well\\-known/acme\\-challenge/(.*/)?\\. {\n            \
                 return 404;\n        }\n        root /var/www/acme;  # --acme-webroot\n        \
                 default_type text/plain;\n    }\n"
            ),
            "{plain}"
        );
        assert!(
            plain.contains("the files certbot --webroot writes"),
            "{plain}"
        );
        assert!(!plain.contains("proxy_pass"), "{plain}");
        assert!(!secure.contains("acme-challenge/ {"), "{secure}");
        let text = apache(&site(&settings), &with_webroot("/var/www/acme")).unwrap();
        let (plain, _) = text.split_at(text.find("# HTTPS:").unwrap());
        assert!(
            plain.contains(
                "    # --acme-webroot\n    \
                 Alias /.well-known/acme-challenge/ /var/www/acme/.well-known/acme-challenge/\n    \
                 RedirectMatch 404 \"^/\\.well\\-known/acme\\-challenge(/.*)?/\\.\"\n    \
                 <Directory /var/www/acme/.well-known/acme-challenge/>\n"
            ),
            "{plain}"
        );
        assert!(!plain.contains("ProxyPass"), "{plain}");
        // Parsed: made absolute; with --plain-http it is refused.
        let args = matches(&[
            "nginx",
            "--tls-cert",
            "a.pem",
            "--tls-key",
            "a.key",
            "--acme-webroot",
            "acme",
        ])
        .unwrap();
        let Front::Tls { acme_webroot, .. } = front(&args, "nginx").unwrap() else {
            panic!("not TLS")
        };
        assert_eq!(
            acme_webroot,
            Some(std::env::current_dir().unwrap().join("acme"))
        );
        assert!(matches(&["nginx", "--plain-http", "--acme-webroot", "/a"]).is_err());
        // A `$` nginx would read as a variable is refused, as for the certificate.
        let error = nginx(&site(&settings), &with_webroot("/var/www/$acme"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("--acme-webroot /var/www/$acme"),
            "{error}"
        );
    }

    #[test]
    fn plain_http_passes_on_the_proxys_forwarded_proto() {
        let settings = settings();
        let front = Front::PlainHttp {
            listen: Listen::port(8080),
        };
        let text = nginx(&site(&settings), &front).unwrap();
        assert!(text.contains("listen 8080;  # --listen"), "{text}");
        assert!(text.contains("proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;"));
        assert!(
            !text.contains("ssl_certificate") && !text.contains("return 301"),
            "{text}"
        );
        // /.well-known/ goes to the application as any page does.
        assert!(text.contains("    location ^~ /.well-known/ {\n"), "{text}");
        assert!(!text.contains("acme-challenge/ {"), "{text}");
        let apache = apache(&site(&settings), &front).unwrap();
        assert!(apache.contains("<VirtualHost *:8080>"), "{apache}");
        assert!(
            !apache.contains("RequestHeader set X-Forwarded-Proto"),
            "{apache}"
        );
        let notes = https_detection(&site(&settings), &front).unwrap();
        assert!(
            notes.iter().any(|n| n.contains("secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]")),
            "{notes:?}"
        );
        // Only this machine trusted: the proxy in front would be every client.
        for trusted in [vec![], vec!["127.0.0.1", "::1", "unix"]] {
            let settings = Settings {
                trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
                ..settings.clone()
            };
            let notes = https_detection(&site(&settings), &front).unwrap();
            assert!(
                notes.iter().any(|n| n.contains(
                    "names only this machine: if the proxy in front runs on another machine"
                ) && n.contains("add the proxy's address to trusted_proxies")),
                "{trusted:?}: {notes:?}"
            );
        }
        let settings = Settings {
            trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.2".into()],
            ..settings
        };
        let notes = https_detection(&site(&settings), &front).unwrap();
        assert!(
            !notes.iter().any(|n| n.contains("trusted_proxies")),
            "{notes:?}"
        );
    }

    #[test]
    fn settings_that_would_redirect_every_page_to_itself_are_refused() {
        for pair in [
            None,
            Some(vec!["X-Forwarded-Protocol".to_string(), "ssl".to_string()]),
        ] {
            let settings = Settings {
                secure_proxy_ssl_header: pair,
                ..settings()
            };
            let error = https_detection(&site(&settings), &tls()).unwrap_err();
            assert!(error.to_string().contains("redirect to itself"), "{error}");
            let CommandError::Failed(crate::Problem { hint, .. }) = error else {
                panic!()
            };
            assert!(
                hint.unwrap()
                    .contains("secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]")
            );
        }
        // Without the redirect the site works, and the user is told what is missing.
        let settings = Settings {
            secure_proxy_ssl_header: None,
            secure_ssl_redirect: false,
            ..settings()
        };
        let notes = https_detection(&site(&settings), &tls()).unwrap();
        assert!(
            notes[0].contains("secure_proxy_ssl_header is not set"),
            "{notes:?}"
        );
        assert!(
            https_detection(&site(&self::settings()), &tls())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn apache_terminates_tls_and_redirects_plain_http() {
        let settings = settings();
        let front = Front::Tls {
            https: parse_listen("127.0.0.1:8443").unwrap(),
            http: Listen::port(80),
            cert: "/etc/tls/site.pem".into(),
            key: "/etc/tls/site.key".into(),
            acme_webroot: None,
        };
        let text = apache(&site(&settings), &front).unwrap();
        assert!(text.contains("<VirtualHost *:80>"), "{text}");
        // Only the site's names (example.com, .example.org) are redirected,
        // but ACME's HTTP-01 challenges, passed to the application over http.
        let names = "    RewriteCond %{HTTP_HOST} \
                     ^(example\\.com|example\\.org|([a-z0-9-]+\\.)+example\\.org)\\.?(:[0-9]+)?$ [NC]\n";
        assert!(
            text.contains(&format!(
                "    RewriteEngine On\n    # The site's names, in any case, with a port or not.\n\
                 {names}    RewriteRule ^/\\.well-known/acme-challenge/ - [L]\n\
                 {names}    RewriteRule ^ https://%{{SERVER_NAME}}:8443%{{REQUEST_URI}} [R=301,L]\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(
                "    RewriteRule ^ - [R=400,L]\n    ProxyPreserveHost On\n    \
                 # Read by the application through secure_proxy_ssl_header.\n    \
                 RequestHeader set X-Forwarded-Proto \"http\"\n    # serve_bind (or --upstream)\n    \
                 ProxyPass /.well-known/acme-challenge/ \
                 unix:/run/mysite/mysite.sock|http://localhost/.well-known/acme-challenge/\n\
                 </VirtualHost>\n"
            ),
            "{text}"
        );
        // No names (allowed_hosts = ["*"]): every Host is the site's.
        let any = Settings {
            allowed_hosts: vec!["*".into()],
            ..settings.clone()
        };
        let text_any = apache(&site(&any), &front).unwrap();
        assert!(
            text_any.contains(
                "    RewriteEngine On\n    RewriteRule ^/\\.well-known/acme-challenge/ - [L]\n    \
                 RewriteRule ^ https://%{SERVER_NAME}:8443%{REQUEST_URI} [R=301,L]\n    ProxyPreserveHost On\n"
            ),
            "{text_any}"
        );
        let ipv6 = Site {
            server_names: vec!["[::1]".into()],
            ..site(&settings)
        };
        assert_eq!(
            apache_host_pattern(&ipv6).unwrap(),
            "^(\\[::1\\])\\.?(:[0-9]+)?$"
        );
        assert!(text.contains("<VirtualHost 127.0.0.1:8443>"));
        assert!(text.contains("SSLCertificateFile /etc/tls/site.pem"));
        assert!(text.contains("SSLCertificateKeyFile /etc/tls/site.key"));
        assert!(text.contains("RequestHeader set X-Forwarded-Proto \"https\""));
    }

    #[test]
    fn services_run_the_release_build() {
        let target = tempfile::tempdir().unwrap();
        let debug = target.path().join("debug/mysite");
        let release = target.path().join("release/mysite");
        std::fs::create_dir_all(debug.parent().unwrap()).unwrap();
        std::fs::write(&debug, "").unwrap();
        let error = release_binary(&debug).unwrap_err();
        assert!(
            error.to_string().contains(&release.display().to_string()),
            "{error}"
        );
        assert!(
            format!("{error:?}").contains("cargo build --release"),
            "{error:?}"
        );
        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::fs::write(&release, "").unwrap();
        assert_eq!(release_binary(&debug).unwrap(), release);
        assert_eq!(release_binary(&release).unwrap(), release);
        // An installed copy is what runs.
        let installed = target.path().join("mysite");
        std::fs::write(&installed, "").unwrap();
        assert_eq!(release_binary(&installed).unwrap(), installed);
    }
}
