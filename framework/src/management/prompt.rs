//! Questions on the terminal for interactive commands (`createsuperuser`,
//! `changepassword`): questions go to stdout, answers come from stdin, and
//! passwords are read with the terminal's echo off. Ctrl-D stops the
//! command ("Operation cancelled.", exit 1, as Django on `EOFError`);
//! Ctrl-C at any question says so too (at a password, it turns the echo
//! back on first, as Python's `getpass` does), then ends the process (exit
//! 130, as a shell reports an interrupted command).

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
    let _interrupt = CancelOnInterrupt::new();
    show(question);
    read_answer()
}

/// Ask for a secret: as [`ask`], with the terminal's echo off while it is
/// typed (restored when reading fails, and on Ctrl-C). The echo is off
/// before the question shows, so nothing typed after it is echoed.
pub(crate) fn ask_secret(question: &str) -> Result<String, CommandError> {
    let answer = {
        let _echo_off = EchoOff::new();
        show(question);
        read_answer()
    };
    // The Enter key was not echoed either.
    show("\n");
    answer
}

/// Print an error line as Django's interactive commands do: `Error: …` on
/// stderr, then carry on asking.
pub(crate) fn complain(message: &str) {
    crate::management::output::eprintln(format_args!("Error: {message}"));
}

/// A password given on stdin by a script (`--password-stdin`): everything
/// read, without one final newline; a line break left in it is refused (a
/// browser's password field sends none, so it could never be typed in).
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
    if text.contains(['\n', '\r']) {
        return Err(CommandError::failed(
            "the password read from stdin holds a line break",
            Some(
                "give the password alone, on one line (a password field sends no line break, \
                 so such a password could never be typed in); nothing was changed",
            ),
        ));
    }
    Ok(text.to_string())
}

/// What Ctrl-C at a question prints on stderr before the process ends: the
/// words of Ctrl-D's [`cancelled`], on a line of their own (the Enter key
/// that would have ended the question's line was not typed).
const INTERRUPTED: &[u8] = b"\nerror: Operation cancelled.\n";

/// The exit status of a command ended by Ctrl-C: 128 + SIGINT, what a
/// shell reports for a command SIGINT killed.
const INTERRUPTED_STATUS: libc::c_int = 128 + libc::SIGINT;

/// While it is held, Ctrl-C ends the command saying so ([`INTERRUPTED`])
/// with the terminal's echo on, rather than silently.
///
/// SIGINT's default action ends the process without running `Drop`, which
/// would leave the user's shell with no echo after a password. Rust has no
/// `KeyboardInterrupt` to unwind with, and the signal goes to any thread
/// of the process (the runtime's, sqlx's), so the read cannot count on
/// being interrupted: a process-wide handler is the one place that runs. It
/// is installed only while a question waits (restored in `Drop`), and it
/// needs no state of its own: the echo is the one flag a question turns
/// off, and it was on before, so it turns ECHO on, says why the command
/// stops, and ends the process.
struct CancelOnInterrupt {
    /// SIGINT's action before ours, put back in `Drop`.
    previous: Option<libc::sigaction>,
}

impl CancelOnInterrupt {
    fn new() -> CancelOnInterrupt {
        CancelOnInterrupt {
            previous: restore_echo_on_sigint(),
        }
    }
}

impl Drop for CancelOnInterrupt {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: puts back the action sigaction gave in `new`.
            unsafe { libc::sigaction(libc::SIGINT, previous, std::ptr::null_mut()) };
        }
    }
}

/// Turns the terminal's echo off on stdin, and back on when dropped or on
/// Ctrl-C ([`CancelOnInterrupt`]).
struct EchoOff {
    saved: Option<libc::termios>,
    /// Dropped after the echo is back on: SIGINT can then have its own
    /// action again.
    _interrupt: Option<CancelOnInterrupt>,
}

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr fills the termios it is given; on failure (stdin
        // is not a terminal) nothing is changed and echo stays as it is.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0
            || saved.c_lflag & libc::ECHO == 0
        {
            return EchoOff {
                saved: None,
                _interrupt: None,
            };
        }
        // The handler first: a Ctrl-C once the echo is off finds it there.
        let interrupt = CancelOnInterrupt::new();
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // TCSANOW, not TCSAFLUSH: keep what was already typed ahead.
        // SAFETY: `quiet` is a valid termios read from this terminal.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
        EchoOff {
            saved: Some(saved),
            _interrupt: Some(interrupt),
        }
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

/// Install [`echo_on_and_exit`] for SIGINT; the action it replaces, to put
/// back. `None` (nothing installed) when SIGINT is ignored, as under
/// `nohup`: Ctrl-C then stops nothing, and must not start to.
fn restore_echo_on_sigint() -> Option<libc::sigaction> {
    // SAFETY: sigaction reads `action` and fills `previous`, both valid
    // sigaction structs; the handler only makes async-signal-safe calls.
    unsafe {
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut previous) != 0
            || previous.sa_sigaction == libc::SIG_IGN
        {
            return None;
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = echo_on_and_exit as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        (libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) == 0).then_some(previous)
    }
}

/// SIGINT while a question waits: the echo back on, [`INTERRUPTED`] on
/// stderr, exit [`INTERRUPTED_STATUS`]. Only async-signal-safe calls
/// (tcgetattr, tcsetattr, write, _exit): the signal may have stopped any
/// code, an allocation or a lock included.
extern "C" fn echo_on_and_exit(_signal: libc::c_int) {
    // SAFETY: plain system calls on the process's own descriptors.
    unsafe {
        let mut terminal: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut terminal) == 0 {
            terminal.c_lflag |= libc::ECHO;
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &terminal);
        }
        libc::write(
            libc::STDERR_FILENO,
            INTERRUPTED.as_ptr().cast(),
            INTERRUPTED.len(),
        );
        libc::_exit(INTERRUPTED_STATUS);
    }
}
