//! `deployconfig nginx|apache|systemd`: the web server's and the service
//! manager's configuration, derived from the settings. Every line that comes
//! from a setting says which.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};

use crate::conf::Settings;
use crate::management::{Command, CommandContext, CommandError};
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
                Arg::new("listen")
                    .long("listen")
                    .value_name("PORT")
                    .value_parser(clap::value_parser!(u16))
                    .help("Port the web server listens on (default 80)"),
            )
            .arg(
                Arg::new("server-name")
                    .long("server-name")
                    .value_name("NAME")
                    .action(clap::ArgAction::Append)
                    .help("Host name(s) served (default: allowed_hosts)"),
            )
            .arg(
                Arg::new("upstream")
                    .long("upstream")
                    .value_name("unix:PATH|HOST:PORT")
                    .help("Where serve listens (default: serve_bind)"),
            )
            .arg(
                Arg::new("user").long("user").value_name("NAME").help(
                    "systemd: the service user (default: serve_user, else the project's name)",
                ),
            )
            .arg(
                Arg::new("exec")
                    .long("exec")
                    .value_name("PATH")
                    .help("systemd: the project's binary (default: this one)"),
            )
            .arg(
                Arg::new("env-file")
                    .long("env-file")
                    .value_name("PATH")
                    .help(
                        "systemd: the EnvironmentFile with SECRET_KEY (default /etc/<project>/env)",
                    ),
            )
            .arg(
                Arg::new("output")
                    .short('o')
                    .long("output")
                    .value_name("FILE")
                    .help(
                        "Write to FILE (for systemd: a folder for the two units) instead of stdout",
                    ),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let name = ctx.project().name();
        let upstream_text = args
            .get_one::<String>("upstream")
            .cloned()
            .unwrap_or_else(|| settings.serve_bind.clone());
        let upstream = server::parse_bind(&upstream_text, &settings.base_dir)
            .map_err(|e| CommandError::usage(format!("--upstream: {e}"), None))?;
        let site = Site {
            name,
            settings,
            settings_path: ctx.settings_path(),
            upstream,
            listen: args.get_one::<u16>("listen").copied().unwrap_or(80),
            server_names: args
                .get_many::<String>("server-name")
                .map(|names| names.cloned().collect())
                .unwrap_or_else(|| server_names(settings)),
        };
        let output = args.get_one::<String>("output").map(PathBuf::from);
        match args.get_one::<String>("kind").map(String::as_str) {
            Some("nginx") => emit(output.as_deref(), &nginx(&site)?),
            Some("apache") => emit(output.as_deref(), &apache(&site)?),
            _ => {
                let user = service_user(args.get_one::<String>("user"), settings, name);
                let exec = match args.get_one::<String>("exec") {
                    Some(path) => PathBuf::from(path),
                    None => std::env::current_exe().map_err(|e| {
                        CommandError::failed(
                            format!("cannot find this binary: {e}"),
                            Some("pass --exec PATH"),
                        )
                    })?,
                };
                let env_file = args
                    .get_one::<String>("env-file")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(format!("/etc/{name}/env")));
                let (service, socket) = systemd(&site, &user, &exec, &env_file);
                match output {
                    Some(dir) => {
                        write_atomically(&dir.join(format!("{name}.service")), &service)?;
                        write_atomically(&dir.join(format!("{name}.socket")), &socket)?;
                        println!(
                            "Wrote {name}.service and {name}.socket to {}",
                            dir.display()
                        );
                        Ok(())
                    }
                    None => {
                        print!(
                            "# ---- {name}.service ----\n{service}\n# ---- {name}.socket ----\n{socket}"
                        );
                        Ok(())
                    }
                }
            }
        }
    }
}

/// What the generators need.
struct Site<'a> {
    name: &'a str,
    settings: &'a Settings,
    settings_path: &'a Path,
    upstream: Bind,
    listen: u16,
    server_names: Vec<String>,
}

impl Site<'_> {
    fn static_root(&self) -> Result<String, CommandError> {
        let root = self.settings.static_root.as_ref().ok_or_else(|| {
            CommandError::failed(
                "static_root is not set, so the web server would not know where static files are",
                Some("set static_root in the settings file, run collectstatic, then deployconfig again"),
            )
        })?;
        let mut text = root.display().to_string();
        if !text.ends_with('/') {
            text.push('/');
        }
        Ok(text)
    }

    fn static_url(&self) -> Result<&str, CommandError> {
        let url = &self.settings.static_url;
        if url.contains("://") {
            return Err(CommandError::failed(
                format!("static_url is {url}: static files are served by another host"),
                Some(
                    "deployconfig serves static_url from static_root; use a path such as /static/",
                ),
            ));
        }
        Ok(url)
    }
}

/// `allowed_hosts` as server names (`.example.com` → the domain and its subdomains).
fn server_names(settings: &Settings) -> Vec<String> {
    let names: Vec<String> = settings
        .allowed_hosts
        .iter()
        .filter(|h| *h != "*")
        .map(|h| match h.strip_prefix('.') {
            Some(domain) => format!("{domain} *.{domain}"),
            None => h.clone(),
        })
        .collect();
    if names.is_empty() {
        vec!["_".into()]
    } else {
        names
    }
}

fn header(site: &Site, what: &str) -> String {
    format!(
        "# {what} for {}, written by `manage deployconfig` from {}.\n# Regenerate it after changing the settings; lines name the setting they come from.\n",
        site.name,
        site.settings_path.display()
    )
}

/// The nginx `server { … }` block (with the `map` it uses, at http level).
fn nginx(site: &Site) -> Result<String, CommandError> {
    let upstream = match &site.upstream {
        Bind::Unix(path) => format!("unix:{}", path.display()),
        Bind::Tcp(addr) => addr.to_string(),
    };
    let static_url = site.static_url()?;
    let static_root = site.static_root()?;
    let id = site.name;
    Ok(format!(
        r#"{header}
# Long caching for content-hashed names (collectstatic with manifest storage).
map $uri ${id}_static_cache {{
    "~\.[0-9a-f]{{12}}\.[A-Za-z0-9]+$" "public, max-age=31536000, immutable";
    default "no-cache";
}}

upstream {id}_app {{
    server {upstream};  # serve_bind (or --upstream)
    keepalive 16;
}}

server {{
    listen {listen};  # --listen
    server_name {server_names};  # allowed_hosts (or --server-name)
    client_max_body_size {max_body};  # data_upload_max_memory_size
    server_tokens off;

    # No dotfiles, anywhere.
    location ~ /\. {{
        return 404;
    }}

    # Static files straight from disk, never reaching the application.
    location {static_url} {{  # static_url
        alias {static_root};  # static_root
        gzip_static on;  # the .gz files collectstatic writes
        autoindex off;
        add_header Cache-Control ${id}_static_cache always;
        add_header X-Content-Type-Options nosniff always;
    }}

    location / {{
        proxy_pass http://{id}_app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;  # read through secure_proxy_ssl_header
        proxy_redirect off;
    }}
}}
"#,
        header = header(site, "nginx configuration"),
        listen = site.listen,
        server_names = site.server_names.join(" "),
        max_body = site.settings.data_upload_max_memory_size,
    ))
}

/// The Apache httpd `<VirtualHost>`; needs mod_proxy, mod_proxy_http and mod_headers.
fn apache(site: &Site) -> Result<String, CommandError> {
    let static_url = site.static_url()?;
    let static_root = site.static_root()?;
    let backend = match &site.upstream {
        Bind::Unix(path) => format!("unix:{}|http://localhost/", path.display()),
        Bind::Tcp(addr) => format!("http://{addr}/"),
    };
    let mut names = site
        .server_names
        .iter()
        .flat_map(|n| n.split(' '))
        .filter(|n| *n != "_");
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
    Ok(format!(
        r#"{header}# Needs: a2enmod proxy proxy_http headers
<VirtualHost *:{listen}>
{server_name}{server_alias}    # data_upload_max_memory_size
    LimitRequestBody {max_body}
    ProxyPreserveHost On
    # Read by the application through secure_proxy_ssl_header.
    RequestHeader set X-Forwarded-Proto "%{{REQUEST_SCHEME}}s"

    # Static files straight from disk, never reaching the application.
    # static_url, static_root
    Alias {static_url} {static_root}
    <Directory {static_root}>
        Require all granted
        Options -Indexes
        <FilesMatch "^\.">
            Require all denied
        </FilesMatch>
        Header always set X-Content-Type-Options nosniff
        Header set Cache-Control "no-cache"
        <FilesMatch "\.[0-9a-f]{{12}}\.[A-Za-z0-9]+$">
            Header set Cache-Control "public, max-age=31536000, immutable"
        </FilesMatch>
    </Directory>
    ProxyPass {static_url} !

    # serve_bind (or --upstream)
    ProxyPass / {backend}
    ProxyPassReverse / {backend}
</VirtualHost>
"#,
        header = header(site, "Apache httpd configuration"),
        listen = site.listen,
        max_body = site.settings.data_upload_max_memory_size,
    ))
}

/// The account the service runs as: `--user`, else `serve_user` (the
/// account `check --deploy` judged the files for), else the project's name.
fn service_user(flag: Option<&String>, settings: &Settings, name: &str) -> String {
    flag.or(settings.serve_user.as_ref())
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// The service unit and the socket unit.
fn systemd(site: &Site, user: &str, exec: &Path, env_file: &Path) -> (String, String) {
    let name = site.name;
    let base = &site.settings.base_dir;
    let mut writable: Vec<PathBuf> = site
        .settings
        .databases
        .values()
        .filter_map(|db| crate::db::sqlite_file(&db.url))
        .filter_map(|file| file.parent().map(Path::to_path_buf))
        .collect();
    if let Some(log) = &site.settings.log_file
        && let Some(dir) = log.parent()
    {
        writable.push(dir.to_path_buf());
    }
    writable.sort();
    writable.dedup();
    let read_write = if writable.is_empty() {
        String::new()
    } else {
        format!(
            "# The database and log folders.\nReadWritePaths={}\n",
            writable
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let (listen_stream, socket_extra) = match &site.upstream {
        Bind::Unix(path) => (
            path.display().to_string(),
            format!(
                "# serve_socket_mode\nSocketMode=0{}\n",
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
Group={user}
WorkingDirectory={base}
# NUAGES_SETTINGS and SECRET_KEY (and NUAGES_ALLOWED_HOSTS) live here, readable by root only.
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
        base = base.display(),
        env_file = env_file.display(),
        exec = exec.display(),
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

fn emit(output: Option<&Path>, text: &str) -> Result<(), CommandError> {
    match output {
        Some(path) => {
            write_atomically(path, text)?;
            println!("Wrote {}", path.display());
            Ok(())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Write through a temporary file and a rename: a server never reads half a config.
fn write_atomically(path: &Path, text: &str) -> Result<(), CommandError> {
    let failed = |e: std::io::Error| {
        CommandError::failed(format!("cannot write {}: {e}", path.display()), None)
    };
    let temporary = path.with_extension(format!(
        "{}.tmp{}",
        path.extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&temporary, text).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        failed(e)
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
            upstream: Bind::Unix("/run/mysite/mysite.sock".into()),
            listen: 8080,
            server_names: server_names(settings),
        }
    }

    fn settings() -> Settings {
        Settings {
            static_root: Some("/srv/mysite/www_dir/static".into()),
            allowed_hosts: vec!["example.com".into(), ".example.org".into()],
            log_file: Some("/srv/mysite/logs/mysite.log".into()),
            ..Settings::defaults_in(Path::new("/srv/mysite"))
        }
    }

    #[test]
    fn nginx_serves_static_root_and_proxies_the_rest() {
        let settings = settings();
        let text = nginx(&site(&settings)).unwrap();
        assert!(text.contains("location /static/ {  # static_url"), "{text}");
        assert!(
            text.contains("alias /srv/mysite/www_dir/static/;  # static_root"),
            "{text}"
        );
        assert!(text.contains("gzip_static on;"));
        assert!(text.contains("server unix:/run/mysite/mysite.sock;"));
        assert!(
            text.contains("server_name example.com example.org *.example.org;"),
            "{text}"
        );
        assert!(text.contains("client_max_body_size 2621440;"));
        assert!(text.contains("proxy_set_header X-Forwarded-Proto $scheme;"));
        assert!(text.contains("immutable"));
    }

    #[test]
    fn a_missing_static_root_is_refused() {
        let settings = Settings {
            static_root: None,
            ..settings()
        };
        let err = nginx(&site(&settings)).unwrap_err();
        assert!(err.to_string().contains("static_root"));
    }

    #[test]
    fn systemd_units_run_serve_as_the_service_user_with_hardening() {
        let settings = settings();
        let (service, socket) = systemd(
            &site(&settings),
            "mysite",
            Path::new("/srv/mysite/bin/mysite"),
            Path::new("/etc/mysite/env"),
        );
        assert!(service.contains("User=mysite"));
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

    #[test]
    fn the_service_user_is_the_flag_else_serve_user_else_the_project() {
        let mut settings = settings();
        assert_eq!(service_user(None, &settings, "mysite"), "mysite");
        settings.serve_user = Some("www-mysite".into());
        assert_eq!(service_user(None, &settings, "mysite"), "www-mysite");
        let flag = "deploy".to_string();
        assert_eq!(service_user(Some(&flag), &settings, "mysite"), "deploy");
    }

    #[test]
    fn apache_aliases_static_and_proxies_to_the_socket() {
        let settings = settings();
        let text = apache(&site(&settings)).unwrap();
        assert!(
            text.contains("Alias /static/ /srv/mysite/www_dir/static/"),
            "{text}"
        );
        assert!(text.contains("ProxyPass /static/ !"));
        assert!(text.contains("ProxyPass / unix:/run/mysite/mysite.sock|http://localhost/"));
        assert!(text.contains("ServerName example.com"));
    }
}
