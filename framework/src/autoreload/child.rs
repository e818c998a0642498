//! The server children of the reloader, and how a child says whether it
//! started. A child gets the listening socket as fd 3 (`LISTEN_FDS=1`) and
//! the write end of a status pipe as fd 4 (named by [`STATUS_FD_VARIABLE`]).
//! It writes `ready` once it can serve, or `failed` and its error, then exits;
//! a pipe that closes with neither means it crashed. A child also exits when
//! the reloader dies, however it dies (Linux: `PR_SET_PDEATHSIG`), so no
//! orphan keeps the port.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use super::CHILD_VARIABLE;

/// Names the file descriptor a server child reports its start on (not
/// `NUAGES_…`: those are settings).
pub const STATUS_FD_VARIABLE: &str = "RUNSERVER_STATUS_FD";

/// Where a child finds the listening socket (`LISTEN_FDS` starts at 3).
const LISTEN_FD: RawFd = 3;
/// Where a child finds the status pipe.
const STATUS_FD: RawFd = 4;
/// Above the descriptors a child gets, so that moving one into place never
/// overwrites the other.
const SPARE_FD: RawFd = 10;

/// What a child said about its start.
#[derive(Debug)]
pub(super) enum Outcome {
    /// It serves.
    Ready,
    /// It did not start, and has exited.
    Failed {
        /// Its error, as it would have printed it.
        error: String,
        /// How it exited.
        status: String,
    },
}

/// A server child that has not yet said whether it started.
#[derive(Debug)]
pub(super) struct Starting {
    child: Child,
    status: pipe::Receiver,
    received: Vec<u8>,
}

impl Starting {
    /// Start the server binary `exe` (with this process's arguments) on the
    /// listening socket `listener`.
    ///
    /// Call it from the thread that lives as long as the reloader (the one
    /// running its future): the child's parent-death signal follows the
    /// thread that started it.
    pub(super) fn spawn(exe: &Path, listener: RawFd) -> std::io::Result<Starting> {
        let (status, status_writer) = status_pipe()?;
        let writer = status_writer.as_raw_fd();
        let reloader = std::process::id() as libc::pid_t;
        let mut command = Command::new(exe);
        command
            .args(std::env::args_os().skip(1))
            .env(CHILD_VARIABLE, "true")
            .env("LISTEN_FDS", "1")
            .env(STATUS_FD_VARIABLE, STATUS_FD.to_string())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe calls (fcntl, dup2, prctl, getppid)
        // between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let check = |result: libc::c_int| {
                    if result < 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(result)
                    }
                };
                let socket = check(libc::fcntl(listener, libc::F_DUPFD_CLOEXEC, SPARE_FD))?;
                let pipe = check(libc::fcntl(writer, libc::F_DUPFD_CLOEXEC, SPARE_FD))?;
                // dup2 onto another number clears close-on-exec on the copy.
                check(libc::dup2(socket, LISTEN_FD))?;
                check(libc::dup2(pipe, STATUS_FD))?;
                #[cfg(target_os = "linux")]
                {
                    check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM))?;
                    // The reloader may have died before the line above.
                    if libc::getppid() != reloader {
                        return Err(std::io::Error::other("the reloader has exited"));
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = reloader;
                Ok(())
            });
        }
        let child = command.spawn()?;
        // Only the child writes: our copy must close for its end to mean EOF.
        drop(status_writer);
        Ok(Starting {
            child,
            status,
            received: Vec::new(),
        })
    }

    /// Wait for the child's word: ready, or why it did not start (it has
    /// then exited). Cancel-safe: what was read so far is kept.
    pub(super) async fn outcome(&mut self) -> Outcome {
        loop {
            if self.received.starts_with(b"ready\n") {
                return Outcome::Ready;
            }
            let mut chunk = [0u8; 4096];
            match self.status.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(read) => self.received.extend_from_slice(&chunk[..read]),
            }
        }
        let status = describe(self.child.wait().await);
        let said = String::from_utf8_lossy(&self.received);
        let error = match said.strip_prefix("failed\n") {
            Some(error) => error.trim_end().to_string(),
            None => format!(
                "the server exited ({status}) before it could serve; what it printed is in the terminal"
            ),
        };
        Outcome::Failed { error, status }
    }

    /// The child, now that it serves.
    pub(super) fn into_child(self) -> Child {
        self.child
    }

    /// Stop a child whose start is no longer wanted.
    pub(super) async fn abandon(self) {
        terminate(self.child).await;
    }
}

/// A pipe whose ends close on exec: the read end for us, the write end for
/// the child (moved into place in `pre_exec`).
fn status_pipe() -> std::io::Result<(pipe::Receiver, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just created and are owned by nothing else.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((pipe::Receiver::from_owned_fd(reader)?, writer))
}

/// Ask a server to finish (SIGTERM), then wait for it.
pub(super) async fn terminate(mut child: Child) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// `exit status: 1`, `signal: 9 (SIGKILL)`, or why it is unknown.
pub(super) fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(error) => error.to_string(),
    }
}

/// The child's end of the status pipe: the server tells the reloader
/// whether it started.
#[derive(Debug)]
pub struct StartReport {
    pipe: std::fs::File,
}

impl StartReport {
    /// The pipe the reloader passed, if this process is its server child.
    pub fn from_env() -> Option<StartReport> {
        let fd: RawFd = std::env::var(STATUS_FD_VARIABLE).ok()?.parse().ok()?;
        // SAFETY: F_GETFD only asks whether the descriptor is open.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return None;
        }
        // SAFETY: the reloader opened this descriptor for us and nothing
        // else in this process owns it.
        let pipe = unsafe { std::fs::File::from_raw_fd(fd) };
        // Not for the server's own children.
        // SAFETY: setting a flag on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        Some(StartReport { pipe })
    }

    /// The server is about to accept connections.
    pub fn ready(mut self) {
        let _ = self.pipe.write_all(b"ready\n");
    }

    /// The server could not start: `error` is what it would print.
    pub fn failed(mut self, error: &str) {
        let _ = self.pipe.write_all(format!("failed\n{error}\n").as_bytes());
    }
}
