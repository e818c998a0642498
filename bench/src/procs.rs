//! Server processes: start (the harness re-executes itself), wait for the
//! first good answer, read the memory, stop.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// This executable, to re-execute with a subcommand.
pub fn me() -> PathBuf {
    std::env::current_exe().expect("the harness knows its path")
}

/// The cargo that runs the harness (`$CARGO`), or the one on PATH: the peers
/// and `manage` are built with it.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Why `cargo` could not be started, and the fix.
pub fn cargo_did_not_run(cargo: &OsStr, error: &std::io::Error) -> String {
    format!(
        "cargo did not run ({}: {error}); put cargo on PATH, or set CARGO to its path",
        cargo.to_string_lossy()
    )
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    /// What it is, for messages.
    pub name: String,
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stderr (logs).
    pub log: PathBuf,
}

impl Server {
    /// Start `command` (listening on `addr`), its stdout and stderr to `logs/<name>.log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        addr: SocketAddr,
        logs: &Path,
    ) -> Result<Server, String> {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("{name} did not start: {e}"))?;
        Ok(Server {
            name: name.to_string(),
            child,
            addr,
            log,
        })
    }

    /// Wait until GET `path` answers `status`; the time since `started`.
    pub fn wait_ready(
        &mut self,
        path: &str,
        status: u16,
        started: Instant,
        limit: Duration,
    ) -> Result<Duration, String> {
        loop {
            if let Ok(response) = get(self.addr, path)
                && response.status == status
            {
                return Ok(started.elapsed());
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({exit}) before answering:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ));
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "{} did not answer {path} with {status} in {limit:?}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// Resident memory (VmRSS) in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.status_mib("VmRSS:")
    }

    /// The private part of the resident memory (RssAnon: heap, stacks),
    /// without the pages of the executable and libraries (RssFile), which
    /// are shared and can be dropped and read again.
    pub fn rss_anon_mib(&self) -> Option<f64> {
        self.status_mib("RssAnon:")
    }

    /// A size line of `/proc/PID/status`, in MiB.
    fn status_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// CPU time (user + system) used so far by the server and every process
    /// under it (gunicorn's workers), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        // (pid, parent pid, ticks) of every process; the tree is read from
        // the parent links.
        let mut processes = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((parent, ticks)) = stat_ticks(pid) {
                processes.push((pid, parent, ticks));
            }
        }
        let mut tree = vec![self.child.id()];
        let mut ticks = 0;
        let mut i = 0;
        while i < tree.len() {
            for (pid, parent, used) in &processes {
                if *pid == tree[i] {
                    ticks += used;
                } else if *parent == tree[i] {
                    tree.push(*pid);
                }
            }
            i += 1;
        }
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
        ticks as f64 / per_second as f64
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// (parent pid, utime + stime in clock ticks) from `/proc/PID/stat`.
fn stat_ticks(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields
    // are counted after its closing one (state is field 3, ppid 4,
    // utime 14, stime 15).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((parent, utime + stime))
}

/// A response read off the wire (HTTP/1.1, `Connection: close`).
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Head and body as text.
    pub text: String,
}

/// One GET on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:?}")))?;
    Ok(Response { status, text })
}

/// Run `command` to its end; its wall time, or its output when it failed.
pub fn time_command(command: &mut Command) -> Result<Duration, String> {
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(elapsed)
}
