//! Uploaded files: received into a temporary file under `media_root`
//! while the request streams in (never held in memory), and saved under a
//! name the framework makes: 32 random hex digits and the client's
//! extension when it is a short run of letters and digits. Nothing of the
//! client's file name is ever part of a path.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rand::TryRng;
use rand::rngs::SysRng;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::conf::Settings;
use crate::error::{Error, Problem, Result};

/// The folder of `media_root` where uploads wait until a view saves them;
/// its leading dot keeps it out of what the media URL serves.
pub(crate) const INCOMING: &str = ".incoming";

/// The longest extension kept from a client's file name.
const MAX_EXTENSION: usize = 10;

/// The mode of a saved upload, as Django's default `FILE_UPLOAD_PERMISSIONS`:
/// readable by the web server that serves `media_root` (another user than
/// the application's), writable by the application only. The temporary
/// file it was received into is 0600.
const SAVED_MODE: u32 = 0o644;

/// Where uploads go: `media_root` and `media_url`.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub root: PathBuf,
    pub url: String,
}

impl Media {
    /// The media settings, or `None` when `media_root` is unset.
    pub fn from_settings(settings: &Settings) -> Option<Media> {
        Some(Media {
            root: settings.media_root.clone()?,
            url: settings.media_url.clone(),
        })
    }
}

/// The error of binding a form with a file field while `media_root` is unset.
pub(crate) fn media_root_unset() -> Error {
    Error::Config(
        Problem::new("file uploads are refused: media_root is not set").with_hint(
            "set media_root = \"media\" in the settings file (a folder of its own, outside static_root and \
             the source folders); uploaded files are served under media_url",
        ),
    )
}

/// An upload that cannot be written under `media_root` (a folder the
/// server's user may not write, a file where a folder goes, a full disk):
/// the folder, the setting and the fix, not a bare "Permission denied".
fn media_write_error(folder: &std::path::Path, error: std::io::Error) -> Error {
    Error::Config(
        Problem::new(format!(
            "cannot store an upload in '{}' (under media_root): {error}",
            folder.display()
        ))
        .with_hint(
            "make media_root a folder the server's user can write (`manage check --deploy` names \
             the command, nuages.E034) on a disk with room, or change media_root",
        ),
    )
}

/// A file sent with a form, waiting in `media_root` until
/// [`UploadedFile::save`] gives it its place (it is deleted otherwise).
#[derive(Clone)]
pub struct UploadedFile {
    client_name: String,
    content_type: Option<String>,
    size: u64,
    extension: Option<String>,
    temp: Arc<Mutex<Option<TempPath>>>,
    media: Media,
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("client_name", &self.client_name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A saved upload: its name under `media_root` and its URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredFile {
    /// `folder/<32 hex>.ext`, relative to `media_root`.
    pub name: String,
    /// Where the file is on disk.
    pub path: PathBuf,
    /// `media_url` + name.
    pub url: String,
}

impl UploadedFile {
    /// Stream a multipart field into a new file of `media_root/.incoming`;
    /// `client_name` is the name the client gave it.
    pub(crate) async fn receive(
        mut field: multer::Field<'_>,
        client_name: String,
        media: &Media,
    ) -> Result<Self> {
        let content_type = field.content_type().map(|m| m.to_string());
        let incoming = media.root.join(INCOMING);
        let cannot_store = |e| media_write_error(&incoming, e);
        tokio::fs::create_dir_all(&incoming)
            .await
            .map_err(cannot_store)?;
        let temp = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&incoming)
            .map_err(cannot_store)?
            .into_temp_path();
        let mut out = tokio::fs::File::create(&temp).await.map_err(cannot_store)?;
        let mut size = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(super::data::multipart_error)? {
            size += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(cannot_store)?;
        }
        out.flush().await.map_err(cannot_store)?;
        Ok(UploadedFile {
            extension: safe_extension(&client_name),
            client_name,
            content_type,
            size,
            temp: Arc::new(Mutex::new(Some(temp))),
            media: media.clone(),
        })
    }

    /// The name the client gave the file: to show, never to build a path with.
    pub fn client_name(&self) -> &str {
        &self.client_name
    }

    /// The content type the client declared (unchecked).
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The extension kept for the stored name (lowercase letters and digits), if any.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// Move the file to `media_root/<folder>/<random>.<ext>`, by a rename
    /// (so a reader never sees half a file), with mode 0644 (so the web
    /// server can read it, as Django's `FILE_UPLOAD_PERMISSIONS`). `folder`
    /// is one or more plain names (letters, digits, `-`, `_`) separated by
    /// `/`. A file is saved once.
    pub fn save(&self, folder: &str) -> Result<StoredFile> {
        if folder.is_empty()
            || !folder.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
        {
            return Err(Error::Config(
                Problem::new(format!("cannot save an upload into the folder {folder:?}"))
                    .with_hint("name a folder of letters, digits, - and _, such as \"avatars\" or \"docs/2026\""),
            ));
        }
        let temp = self
            .temp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| {
                Error::Config(Problem::new(format!(
                    "the upload {:?} was already saved",
                    self.client_name
                )))
            })?;
        let dir = self.media.root.join(folder);
        std::fs::create_dir_all(&dir).map_err(|e| media_write_error(&dir, e))?;
        let file_name = match &self.extension {
            Some(ext) => format!("{}.{ext}", random_hex()?),
            None => random_hex()?,
        };
        let path = dir.join(&file_name);
        // Before the rename, so that the file never appears unreadable.
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(SAVED_MODE))
            .map_err(|e| media_write_error(&dir, e))?;
        temp.persist_noclobber(&path)
            .map_err(|e| media_write_error(&dir, e.error))?;
        let name = format!("{folder}/{file_name}");
        Ok(StoredFile {
            url: format!("{}{name}", self.media.url),
            name,
            path,
        })
    }

    /// Where the file waits before it is saved (`None` once saved).
    pub fn temporary_path(&self) -> Option<PathBuf> {
        self.temp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .map(|t| t.to_path_buf())
    }
}

/// 32 hex digits from the operating system's random generator.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 16];
    SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::other(format!("the random number generator failed: {e}")))?;
    Ok(crate::hex::encode(&bytes))
}

/// The extension of a client's file name, lowercased, when it is 1 to 10
/// ASCII letters and digits after the last `.` of the last path part
/// (`/` and `\` both count); otherwise none.
pub(crate) fn safe_extension(client_name: &str) -> Option<String> {
    let base = client_name.rsplit(['/', '\\']).next()?;
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty()
        && !ext.is_empty()
        && ext.len() <= MAX_EXTENSION
        && ext.chars().all(|c| c.is_ascii_alphanumeric()))
    .then(|| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_kept_only_when_plain() {
        assert_eq!(safe_extension("photo.JPG").as_deref(), Some("jpg"));
        assert_eq!(safe_extension("../../etc/passwd"), None);
        assert_eq!(safe_extension("..\\..\\boot.ini").as_deref(), Some("ini"));
        assert_eq!(safe_extension("x.php\0.png").as_deref(), Some("png"));
        assert_eq!(safe_extension("a.ph p"), None);
        assert_eq!(safe_extension(".bashrc"), None);
        assert_eq!(safe_extension("a.tar.gz").as_deref(), Some("gz"));
        assert_eq!(safe_extension("photo.jpé"), None);
        assert_eq!(safe_extension(&format!("a.{}", "x".repeat(11))), None);
        assert_eq!(safe_extension("/abs/dir/"), None);
    }
}
