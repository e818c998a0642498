//! The `file` backend: one `.eml` file per message in `email_file_path`,
//! written to a temporary name and renamed, so a reader never sees half a
//! message.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::MailError;
use crate::error::Problem;

#[derive(Debug)]
pub(super) struct Folder {
    path: PathBuf,
}

impl Folder {
    pub(super) fn new(path: PathBuf) -> Self {
        Folder { path }
    }

    pub(super) async fn write(&self, message: &lettre::Message) -> Result<(), MailError> {
        let failed = |e: std::io::Error| {
            MailError::new(
                Problem::new(format!(
                    "the mail cannot be written in {} (email_file_path): {e}",
                    self.path.display()
                ))
                .with_hint("point email_file_path at a folder the server's user can write in"),
            )
        };
        tokio::fs::create_dir_all(&self.path)
            .await
            .map_err(failed)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("{nanos}-{:016x}", rand::random::<u64>());
        let temporary = self.path.join(format!(".{name}.tmp"));
        tokio::fs::write(&temporary, message.formatted())
            .await
            .map_err(failed)?;
        tokio::fs::rename(&temporary, self.path.join(format!("{name}.eml")))
            .await
            .map_err(failed)
    }
}
