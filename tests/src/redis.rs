//! A real `redis-server` for the cache tests, started by the test as the
//! current user in a fresh folder: on a unix socket, or over TLS on a
//! loopback port with a certificate signed by a private authority made
//! with openssl.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, run, wait_for};

/// Where Debian installs the server.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";
/// Where Debian installs the command-line client.
pub const REDIS_CLI: &str = "/usr/bin/redis-cli";

/// How a test reaches the server, for `redis-cli`.
enum Listener {
    Socket(PathBuf),
    Tls { port: u16, ca: PathBuf },
}

/// A redis-server in its own folder, stopped when dropped.
pub struct RedisServer {
    child: Child,
    listener: Listener,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A server on a unix socket only.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// A server on a unix socket only, with more of `redis-server`'s
    /// options (`--requirepass PASSWORD`).
    pub fn start_with(options: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("redis.sock");
        let mut command = Command::new(REDIS_SERVER);
        command
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--unixsocketperm", "700"])
            .args(options);
        let child = spawn(&mut command, dir.path());
        wait_for(Duration::from_secs(10), || socket.exists().then_some(()))
            .expect("redis-server opens its socket");
        RedisServer {
            child,
            listener: Listener::Socket(socket),
            dir,
        }
    }

    /// A server that talks only TLS, on 127.0.0.1, with a certificate for
    /// 127.0.0.1 signed by a private authority ([`RedisServer::ca`]).
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().unwrap();
        let ca = certificate_authority(dir.path(), "ca");
        let (cert, key) = signed_certificate(dir.path(), &ca, "127.0.0.1");
        let port = free_port();
        let mut command = Command::new(REDIS_SERVER);
        command
            .args(["--bind", "127.0.0.1", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&ca.0)
            .args(["--tls-auth-clients", "no"]);
        let child = spawn(&mut command, dir.path());
        wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .expect("redis-server listens for TLS");
        RedisServer {
            child,
            listener: Listener::Tls { port, ca: ca.0 },
            dir,
        }
    }

    /// The folder the server runs in (removed when dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The cache `location` that reaches it.
    pub fn url(&self) -> String {
        match &self.listener {
            Listener::Socket(socket) => format!("redis+unix://{}", socket.display()),
            Listener::Tls { port, .. } => format!("rediss://127.0.0.1:{port}/0"),
        }
    }

    /// The PEM certificate of the authority that signed a TLS server's
    /// certificate.
    pub fn ca(&self) -> &Path {
        match &self.listener {
            Listener::Tls { ca, .. } => ca,
            Listener::Socket(_) => panic!("a unix socket server has no certificate"),
        }
    }

    /// What `redis-cli ARGS` prints: what another client of the same
    /// server sees.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new(REDIS_CLI);
        match &self.listener {
            Listener::Socket(socket) => command.arg("-s").arg(socket),
            Listener::Tls { port, ca } => command
                .args(["--tls", "-h", "127.0.0.1", "-p", &port.to_string()])
                .arg("--cacert")
                .arg(ca),
        };
        let output = command.args(args).output().unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// The server's process id: for a view that stalls it mid-request.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop (`SIGSTOP`) or continue (`SIGCONT`) the server: one that
    /// holds its connections and answers nothing (overloaded, swapping),
    /// then catches up.
    pub fn pause(&self, paused: bool) {
        let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: signalling the server this test started.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, signal) },
            0
        );
    }

    /// Starts a stopped unix socket server again on the same socket, empty:
    /// a Redis server restarted under the site.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// [`RedisServer::restart`] with more of `redis-server`'s options
    /// (`--requirepass PASSWORD`).
    pub fn restart_with(&mut self, options: &[&str]) {
        let Listener::Socket(socket) = &self.listener else {
            panic!("only a unix socket server is restarted");
        };
        let _ = std::fs::remove_file(socket);
        let mut command = Command::new(REDIS_SERVER);
        command
            .arg("--unixsocket")
            .arg(socket)
            .args(["--unixsocketperm", "700"])
            .args(options);
        self.child = spawn(&mut command, self.dir.path());
        wait_for(Duration::from_secs(10), || socket.exists().then_some(()))
            .expect("redis-server opens its socket again");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// redis-server with nothing saved, no TCP port unless `command` opens one,
/// running in `dir`.
fn spawn(command: &mut Command, dir: &Path) -> Child {
    command
        .args(["--port", "0", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

/// A certificate authority made by openssl in `dir`: (certificate, key).
pub fn certificate_authority(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    openssl(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-subj")
            .arg(format!("/CN=Nuages test authority {name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// A certificate for the IP address `ip` signed by `ca`: (certificate, key).
fn signed_certificate(dir: &Path, ca: &(PathBuf, PathBuf), ip: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    let request = dir.join("server.csr");
    let extensions = dir.join("server.ext");
    std::fs::write(&extensions, format!("subjectAltName=IP:{ip}\n")).unwrap();
    openssl(
        Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes"])
            .arg("-subj")
            .arg(format!("/CN={ip}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&request),
    );
    openssl(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(&request)
            .arg("-CA")
            .arg(&ca.0)
            .arg("-CAkey")
            .arg(&ca.1)
            .arg("-extfile")
            .arg(&extensions)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

fn openssl(command: &mut Command) {
    let (output, stdout, stderr) = run(command);
    assert!(output.status.success(), "openssl: {stdout}{stderr}");
}
