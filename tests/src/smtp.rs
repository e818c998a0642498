//! A real SMTP server for the email tests: aiosmtpd (Debian's
//! `python3-aiosmtpd`, run by Debian's own `/usr/bin/python3`) on a free
//! loopback port, writing each message it receives to a folder as JSON,
//! stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Json, Server, parse_json, wait_for};

/// Debian's Python, which has aiosmtpd (a `python3` earlier on PATH may not).
pub const PYTHON: &str = "/usr/bin/python3";

const SCRIPT: &str = include_str!("smtp_server.py");

/// Whether aiosmtpd can run here. In CI (`CI` set) its absence fails the
/// test, as `.ci/run` installs it; elsewhere the test is skipped with a
/// message.
pub fn require_aiosmtpd() -> bool {
    if !crate::require(PYTHON) {
        return false;
    }
    let found = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("aiosmtpd is missing: .ci/run must install python3-aiosmtpd");
    }
    eprintln!("SKIPPED: aiosmtpd is not installed (apt-get install python3-aiosmtpd)");
    false
}

/// How the server is started.
#[derive(Debug, Default, Clone)]
pub struct SmtpOptions {
    /// Require `AUTH` with this user and password (allowed without TLS).
    pub login: Option<(String, String)>,
    /// Offer and require STARTTLS with this certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: TLS from the first byte instead of STARTTLS.
    pub implicit_tls: bool,
    /// Take this long over each message before accepting it, as a slow
    /// relay does.
    pub delay: Option<Duration>,
}

/// One message the server received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The record as written by the server.
    pub json: Json,
}

impl ReceivedMail {
    /// A header of the message (`Subject`, `From`, `To`…), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.json.get("headers")?.get(name)?.as_str()
    }

    /// The plain-text body, decoded.
    pub fn body(&self) -> &str {
        self.json.get("body").and_then(Json::as_str).unwrap_or("")
    }

    /// The message as it came over the wire.
    pub fn raw(&self) -> &str {
        self.json.get("raw").and_then(Json::as_str).unwrap_or("")
    }

    /// The envelope's recipients.
    pub fn recipients(&self) -> Vec<&str> {
        match self.json.get("rcpt_tos") {
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
            _ => vec![],
        }
    }

    /// The envelope's sender.
    pub fn envelope_from(&self) -> &str {
        self.json
            .get("mail_from")
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// The user the client logged in as, if it did.
    pub fn login(&self) -> Option<&str> {
        self.json.get("login").and_then(Json::as_str)
    }

    /// Whether the session was encrypted (STARTTLS or TLS from the start).
    pub fn over_tls(&self) -> bool {
        self.json.get("tls") == Some(&Json::Bool(true))
    }
}

/// An aiosmtpd server, stopped when dropped.
pub struct SmtpServer {
    /// The process.
    pub server: Server,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// Where it writes what it receives.
    pub mailbox: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Start a server without login or TLS.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(SmtpOptions::default())
    }

    /// Start a server as `options` say.
    pub fn start_with(options: SmtpOptions) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SCRIPT).unwrap();
        let mailbox = dir.path().join("mailbox");
        std::fs::create_dir(&mailbox).unwrap();
        let mut command = Command::new(PYTHON);
        command.arg(&script).arg(&mailbox);
        if let Some((user, password)) = &options.login {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        if let Some((cert, key)) = &options.tls {
            command.arg("--tls").arg(cert).arg(key);
            if options.implicit_tls {
                command.arg("--implicit");
            }
        }
        if let Some(delay) = options.delay {
            command.arg("--delay").arg(delay.as_secs_f64().to_string());
        }
        let server = Server::start(&mut command, dir.path(), "smtp");
        let port = wait_for(Duration::from_secs(20), || {
            let out = std::fs::read_to_string(&server.stdout).ok()?;
            out.lines()
                .find_map(|line| line.strip_prefix("listening on ")?.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("the SMTP server did not start: {}", server.output()));
        SmtpServer {
            server,
            port,
            mailbox,
            _dir: dir,
        }
    }

    /// The messages received so far, in no particular order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        read_mailbox(&self.mailbox)
    }

    /// Wait (up to `limit`) until at least `count` messages arrived; all of them.
    pub fn wait_for_mail(&self, count: usize, limit: Duration) -> Vec<ReceivedMail> {
        wait_for(limit, || {
            let mails = self.received();
            (mails.len() >= count).then_some(mails)
        })
        .unwrap_or_else(|| {
            panic!(
                "{count} mails expected, {} received; server: {}",
                self.received().len(),
                self.server.output()
            )
        })
    }
}

fn read_mailbox(folder: &Path) -> Vec<ReceivedMail> {
    let mut mails = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = parse_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            mails.push(ReceivedMail { json });
        }
    }
    mails
}
