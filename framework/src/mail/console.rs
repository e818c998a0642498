//! The `console` backend: each message printed on standard output, as the
//! server would receive it, between dashed lines (as Django's).

use std::io::Write;

use super::MailError;
use crate::error::Problem;

pub(super) fn print(message: &lettre::Message) -> Result<(), MailError> {
    let text = String::from_utf8_lossy(&message.formatted()).replace("\r\n", "\n");
    let mut stdout = std::io::stdout().lock();
    // A failed write is the send's error, not a panic in the view that sent it.
    writeln!(stdout, "{text}\n{}", "-".repeat(79))
        .and_then(|()| stdout.flush())
        .map_err(|error| {
            MailError::new(
                Problem::new(format!(
                    "the console email backend could not write to standard output: {error}"
                ))
                .with_hint(
                    "check where the output goes, or set email_backend to \"file\" or \"smtp\"",
                ),
            )
        })
}
