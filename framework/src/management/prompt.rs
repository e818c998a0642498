//! Questions on the terminal for interactive commands (`createsuperuser`,
//! `changepassword`): questions go to stdout, answers come from stdin, and
//! passwords are read with the terminal's echo off.

use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write as _};

use super::CommandError;

/// Whether stdin is a terminal someone can answer on.
pub(crate) fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// The user pressed Ctrl-D: stop as Django does on `EOFError`.
fn cancelled() -> CommandError {
    CommandError::failed("Operation cancelled.", None)
}

fn read_answer() -> Result<String, CommandError> {
    let mut line = String::new();
    let read = io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| CommandError::failed(format!("cannot read the answer: {error}"), None))?;
    if read == 0 {
        return Err(cancelled());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn show(question: &str) {
    let mut out = io::stdout().lock();
    // A question that cannot be shown still gets its answer read.
    let _ = out.write_all(question.as_bytes());
    let _ = out.flush();
}

/// Ask `question` and return the line typed (without its newline).
pub(crate) fn ask(question: &str) -> Result<String, CommandError> {
    show(question);
    read_answer()
}

/// Ask for a secret: as [`ask`], with the terminal's echo off while it is
/// typed (restored even when reading fails).
pub(crate) fn ask_secret(question: &str) -> Result<String, CommandError> {
    show(question);
    let answer = {
        let _echo_off = EchoOff::new();
        read_answer()
    };
    // The Enter key was not echoed either.
    show("\n");
    answer
}

/// Print an error line as Django's interactive commands do: `Error: …` on
/// stderr, then carry on asking.
pub(crate) fn complain(message: &str) {
    eprintln!("Error: {message}");
}

/// A password given on stdin by a script (`--password-stdin`): everything
/// read, without one final newline.
pub(crate) fn password_from_stdin() -> Result<String, CommandError> {
    let mut text = String::new();
    io::stdin().read_to_string(&mut text).map_err(|error| {
        CommandError::failed(
            format!("cannot read the password from stdin: {error}"),
            Some("pipe the password as UTF-8 text, e.g. `printf '%s' \"$PASSWORD\" | manage …`"),
        )
    })?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    Ok(text.to_string())
}

/// Turns the terminal's echo off on stdin, and back on when dropped.
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr fills the termios it is given; on failure (stdin
        // is not a terminal) nothing is changed and echo stays as it is.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return EchoOff { saved: None };
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // TCSANOW, not TCSAFLUSH: keep what was already typed ahead.
        // SAFETY: `quiet` is a valid termios read from this terminal.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
        EchoOff { saved: Some(saved) }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new`.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved) };
        }
    }
}
