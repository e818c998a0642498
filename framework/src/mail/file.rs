//! The `file` backend: one `.eml` file per message in `email_file_path`,
//! written to a temporary name and renamed, so a reader never sees half a
//! message; a write that fails removes its temporary file.

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
        self.write_as(&name, &message.formatted())
            .await
            .map_err(failed)
    }

    /// Write `bytes` to `.NAME.tmp` in the folder, then rename it to
    /// `NAME.eml`; on failure the temporary file is removed, so the folder
    /// holds only whole messages.
    async fn write_as(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let temporary = self.path.join(format!(".{name}.tmp"));
        // Readable by the owner and its group only: a message may hold a
        // password reset link (as the log file and the database, 0640).
        let write = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o640)
                .open(&temporary)
                .await?;
            file.write_all(bytes).await?;
            file.flush().await
        };
        let written = match write.await {
            Ok(()) => tokio::fs::rename(&temporary, self.path.join(format!("{name}.eml"))).await,
            Err(error) => Err(error),
        };
        if written.is_err() {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message that cannot take its place (a folder is in the way, as a
    /// full disk or a vanished folder fails the write) leaves no
    /// temporary file behind, and nothing under its name.
    #[tokio::test]
    async fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("taken.eml/inside")).unwrap();
        let folder = Folder::new(dir.path().to_path_buf());
        let error = folder.write_as("taken", b"Subject: x\r\n\r\nbody").await;
        assert!(error.is_err());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["taken.eml"], "only the folder that was in the way");
        assert!(dir.path().join("taken.eml/inside").is_dir());

        folder
            .write_as("whole", b"Subject: y\r\n\r\nbody")
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("whole.eml")).unwrap(),
            b"Subject: y\r\n\r\nbody"
        );
        assert!(!dir.path().join(".whole.tmp").exists());
    }
}
