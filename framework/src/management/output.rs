//! What commands print on standard output and standard error.
//!
//! `println!` panics when standard output cannot be written: the reader of
//! a pipe gone (`manage showurls | head -1`), a full disk. Here the first
//! ends the command quietly, with the status a shell gives a process that
//! a closed pipe stopped (141, as `yes | head -1` has); the second is an
//! error that names it. `eprintln!` panics too (status 101) when standard
//! error cannot be written (`manage check 2>&1 | true`): [`eprintln()`]
//! loses the line instead, and the command keeps its own exit status.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use super::CommandError;

/// The exit status of a command whose reader closed the pipe: 128 + SIGPIPE.
const CLOSED_PIPE_STATUS: u8 = 141;

/// Write `text` on standard output, now (not when a buffer fills).
///
/// ```
/// use nuages::management::{CommandError, output};
///
/// fn greet(name: &str) -> Result<(), CommandError> {
///     output::print(format_args!("hello, {name}\n"))
/// }
/// ```
pub fn print(text: fmt::Arguments<'_>) -> Result<(), CommandError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_fmt(text)
        .and_then(|()| stdout.flush())
        .map_err(unwritable)
}

/// [`print`] for a command that has done its work before it reports it
/// (`startproject`, `startapp`: files created): output that cannot be
/// written is an error that says `done` ("created project 'x' in x"), so
/// the user does not run the command again into "already exists".
pub fn print_done(done: &str, text: fmt::Arguments<'_>) -> Result<(), CommandError> {
    print(text).map_err(|error| match error {
        CommandError::Failed(problem) => CommandError::failed(
            format!("{done}, but {}", problem.message),
            Some("check where the output goes (a full disk, a closed file); the command's work is done, do not run it again"),
        ),
        other => other,
    })
}

/// What [`print`] answers, for standard output written another way (clap's
/// help and version text, coloured for a terminal): `result`, then a flush
/// of standard output; a failure is the same error as [`print`]'s.
pub fn written(result: io::Result<()>) -> Result<(), CommandError> {
    result
        .and_then(|()| io::stdout().lock().flush())
        .map_err(unwritable)
}

/// Write `text` and a line end on standard error. One that cannot be
/// written (its reader gone, a full disk) is lost: there is nowhere left
/// to say so, and the command's exit status still tells what happened.
///
/// ```
/// nuages::management::output::eprintln("note: nothing to collect");
/// ```
pub fn eprintln(text: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// `path` as one word of a shell command line, for a line a user pastes
/// (`cd …`, `chown … …`): as it is when it holds only characters no shell
/// reads specially, else in single quotes.
///
/// ```
/// use std::path::Path;
/// use nuages::management::output::shell_word;
///
/// assert_eq!(shell_word(Path::new("/srv/mysite")), "/srv/mysite");
/// assert_eq!(shell_word(Path::new("my site/it's $HOME")), "'my site/it'\\''s $HOME'");
/// ```
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@=".contains(c))
    {
        return text;
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// [`print`] with a newline, as `println!`: `outln!("Wrote {}", path.display())?`.
macro_rules! outln {
    () => {
        $crate::management::output::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::management::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

fn unwritable(error: io::Error) -> CommandError {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return CommandError::Exit(CLOSED_PIPE_STATUS);
    }
    CommandError::failed(
        format!("could not write to standard output: {error}"),
        Some("check where the output goes (a full disk, a closed file) and run the command again"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_ends_quietly_and_other_failures_say_so() {
        let closed = unwritable(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(closed.exit_code(), 141);
        assert_eq!(closed.text(), None);
        let full = unwritable(io::Error::from_raw_os_error(28));
        assert_eq!(full.exit_code(), 1);
        let text = full.text().unwrap();
        assert!(
            text.contains("could not write to standard output"),
            "{text}"
        );
        assert!(text.contains("hint:"), "{text}");
    }
}
