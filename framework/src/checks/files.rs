//! Files the server writes: each SQLite database (with its folder, where
//! SQLite keeps its journal), the log file, and the unix socket `serve`
//! creates. The user the server runs as (`check --user NAME`, else the
//! `serve_user` setting, else the user running the check) must be able to
//! write them or create them (`nuages.E001`, `nuages.E002`, `nuages.W012`);
//! nobody else should (`nuages.W004`, `nuages.W005`), and for deployment
//! nobody else should read the database or the log either (`nuages.W042`,
//! `nuages.W043`). An account that does
//! not exist is `nuages.E012`, with the command that creates it; a
//! `check --deploy` run by root for no named account warns that root may
//! write anything (`nuages.W011`). `runserver` and `serve` judge for the
//! user they run as.
//!
//! Permissions are judged from mode bits and ownership, as the kernel does
//! without ACLs: the owner's bits for the owner, the group's for members,
//! the others' for the rest; folders on the way must be searchable; `root`
//! may write anything.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, CheckContext, CheckMessage, Level};
use crate::db::sqlite_file;
use crate::error::Problem;
use crate::management::output::shell_word;
use crate::server::{Bind, parse_bind};

/// The checks of this file.
pub(crate) fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "server_user_exists",
            tags: &["files"],
            deploy: false,
            run: check_server_user,
        },
        Check {
            name: "judged_for_root",
            tags: &["files"],
            deploy: true,
            run: check_judged_for_root,
        },
        Check {
            name: "database_files_writable",
            tags: &["files", "database"],
            deploy: false,
            run: check_database_files,
        },
        Check {
            name: "log_file_writable",
            tags: &["files"],
            deploy: false,
            run: check_log_file,
        },
        Check {
            name: "database_files_private",
            tags: &["files", "database", "security"],
            deploy: true,
            run: check_database_files_private,
        },
        Check {
            name: "log_file_private",
            tags: &["files", "security"],
            deploy: true,
            run: check_log_file_private,
        },
        Check {
            name: "media_root_writable",
            tags: &["files", "media"],
            deploy: false,
            run: check_media_root,
        },
        Check {
            name: "socket_creatable",
            tags: &["files"],
            deploy: true,
            run: check_socket,
        },
    ]
}

/// A user the server may run as, who cannot be looked up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum UserError {
    /// No account of this name.
    #[error("there is no user '{0}' on this system")]
    Unknown(String),
    /// The account database could not be read.
    #[error("cannot look up the user '{name}': {source}")]
    Lookup {
        /// The name asked for.
        name: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl UserError {
    /// The error, and how to fix it: for an unknown account, the command
    /// that creates it.
    pub fn problem(&self) -> Problem {
        let hint = match self {
            UserError::Unknown(name) => format!(
                "create the account: useradd --system --no-create-home {name} (or name the account \
                 the server runs as in serve_user or --user; `id -un` prints yours)"
            ),
            UserError::Lookup { .. } => {
                "check /etc/nsswitch.conf and the user database, then try again".into()
            }
        };
        Problem::new(self.to_string()).with_hint(hint)
    }
}

/// Who writes: a user id and every group the user is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account name, if it has one.
    pub name: Option<String>,
    /// The user id.
    pub uid: u32,
    /// The primary group and the supplementary ones.
    pub gids: Vec<u32>,
}

impl Identity {
    /// The user this process runs as (effective ids).
    pub fn current() -> Identity {
        // SAFETY: these calls only read the process's credentials.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let mut gids = vec![gid];
        // SAFETY: a null buffer with size 0 asks for the count only.
        let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        if count > 0 {
            let mut groups: Vec<libc::gid_t> = vec![0; count as usize];
            // SAFETY: the buffer holds `count` entries.
            let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
            if got > 0 {
                groups.truncate(got as usize);
                gids.extend(groups);
            }
        }
        gids.sort_unstable();
        gids.dedup();
        Identity {
            name: user_name(uid),
            uid,
            gids,
        }
    }

    /// The account `name`, with its groups as `initgroups` would set them.
    pub(crate) fn of_user(name: &str) -> Result<Identity, UserError> {
        let c_name = CString::new(name).map_err(|_| UserError::Unknown(name.to_string()))?;
        let (uid, gid) = lookup_user(&c_name, name)?;
        let mut capacity: libc::c_int = 32;
        let mut gids: Vec<u32> = loop {
            let mut groups: Vec<libc::gid_t> = vec![0; capacity as usize];
            let mut count = capacity;
            // SAFETY: `groups` holds `count` entries; getgrouplist writes at most that many
            // and sets `count` to the number it needs.
            let found = unsafe {
                libc::getgrouplist(
                    c_name.as_ptr(),
                    gid as _,
                    groups.as_mut_ptr() as *mut _,
                    &mut count,
                )
            };
            if found >= 0 {
                groups.truncate(count.max(0) as usize);
                break groups;
            }
            capacity = if count > capacity {
                count
            } else {
                capacity * 2
            };
            if capacity > 65_536 {
                break vec![gid];
            }
        };
        gids.push(gid);
        gids.sort_unstable();
        gids.dedup();
        Ok(Identity {
            name: Some(name.to_string()),
            uid,
            gids,
        })
    }

    /// [`of_user`](Identity::of_user) for `Some(name)`, else [`current`](Identity::current).
    pub(crate) fn resolve(user: Option<&str>) -> Result<Identity, UserError> {
        match user {
            Some(name) => Identity::of_user(name),
            None => Ok(Identity::current()),
        }
    }

    /// `the user 'www-data'`, or `the user with uid 1000` without a name.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("the user '{name}'"),
            None => format!("the user with uid {}", self.uid),
        }
    }

    /// The name for a `chown` command.
    fn owner_arg(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }

    /// The permission bits (`rwx` as 0..=7) that apply to this user for a
    /// file with this metadata.
    fn bits(&self, meta: &std::fs::Metadata) -> u32 {
        let mode = meta.mode();
        if meta.uid() == self.uid {
            (mode >> 6) & 7
        } else if self.gids.contains(&meta.gid()) {
            (mode >> 3) & 7
        } else {
            mode & 7
        }
    }

    /// Whether every folder above `path` lets this user through.
    fn can_reach(&self, path: &Path) -> io::Result<bool> {
        if self.uid == 0 {
            return Ok(true);
        }
        for ancestor in path.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                continue;
            }
            if self.bits(&std::fs::metadata(ancestor)?) & 1 == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether this user may write the existing file `path`, or create and
    /// delete files in the existing folder `path` (write and search).
    pub fn can_write(&self, path: &Path) -> io::Result<bool> {
        let meta = std::fs::metadata(path)?;
        if self.uid == 0 {
            return Ok(true);
        }
        let bits = self.bits(&meta);
        let allowed = if meta.is_dir() {
            bits & 3 == 3
        } else {
            bits & 2 == 2
        };
        Ok(allowed && self.can_reach(path)?)
    }
}

/// Runs `call`, one `get…_r` lookup of the account database, with a buffer
/// for the entry's strings, doubled (up to 1 MiB) each time the lookup
/// answers `ERANGE` (too small). `call` returns the lookup's error code, or
/// what it read from the entry (`None`: no such entry), copied out of the
/// buffer, which is dropped on return.
fn lookup_with_buffer<T>(
    mut call: impl FnMut(&mut [libc::c_char]) -> Result<Option<T>, libc::c_int>,
) -> Result<Option<T>, libc::c_int> {
    let mut buffer: Vec<libc::c_char> = vec![0; 4096];
    loop {
        match call(&mut buffer) {
            Err(libc::ERANGE) if buffer.len() < 1 << 20 => {
                let doubled = buffer.len() * 2;
                buffer.resize(doubled, 0);
            }
            answer => return answer,
        }
    }
}

fn lookup_user(c_name: &CStr, name: &str) -> Result<(libc::uid_t, libc::gid_t), UserError> {
    let found = lookup_with_buffer(|buffer| {
        // SAFETY: an all-zero passwd is a valid out-parameter; getpwnam_r fills it with
        // pointers into `buffer`, which outlives every use of them below.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let code = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        match code {
            0 => Ok((!result.is_null()).then_some((entry.pw_uid, entry.pw_gid))),
            code => Err(code),
        }
    });
    match found {
        Ok(Some(ids)) => Ok(ids),
        Ok(None) => Err(UserError::Unknown(name.to_string())),
        Err(code) => Err(UserError::Lookup {
            name: name.to_string(),
            source: io::Error::from_raw_os_error(code),
        }),
    }
}

/// The name of the user running this process, if it has one.
pub(crate) fn current_user_name() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    user_name(unsafe { libc::geteuid() })
}

fn user_name(uid: libc::uid_t) -> Option<String> {
    lookup_with_buffer(|buffer| {
        // SAFETY: as in lookup_user; the name is copied out before `buffer` is dropped.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let code = unsafe {
            libc::getpwuid_r(
                uid,
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        // SAFETY: pw_name of an entry found points to a NUL-terminated string inside `buffer`.
        unsafe { found_name(code, !result.is_null(), entry.pw_name) }
    })
    .ok()
    .flatten()
}

/// What a `get…_r` lookup by id answered: its error code, or the name of
/// the entry it `found` (`None`: no such entry, or one without a name),
/// copied out of the lookup's buffer.
///
/// # Safety
/// When `found`, `name` is null or points to a NUL-terminated string that
/// is still alive.
unsafe fn found_name(
    code: libc::c_int,
    found: bool,
    name: *const libc::c_char,
) -> Result<Option<String>, libc::c_int> {
    if code != 0 {
        return Err(code);
    }
    if !found || name.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise.
    let name = unsafe { CStr::from_ptr(name) };
    Ok(Some(name.to_string_lossy().into_owned()))
}

/// The name of the group `gid`, if the group database has it.
fn group_name(gid: libc::gid_t) -> Option<String> {
    lookup_with_buffer(|buffer| {
        // SAFETY: an all-zero group is a valid out-parameter; getgrgid_r fills it with
        // pointers into `buffer`, and the name is copied out before `buffer` is dropped.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let code = unsafe {
            libc::getgrgid_r(
                gid,
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut result,
            )
        };
        // SAFETY: gr_name of an entry found points to a NUL-terminated string inside `buffer`.
        unsafe { found_name(code, !result.is_null(), entry.gr_name) }
    })
    .ok()
    .flatten()
}

/// The name of the primary group of the account `user` on this machine
/// (`nogroup` for Debian's `nobody`, `users` for many human accounts), for
/// a `SocketGroup=`, a `usermod -aG` or an `install -g`. `user` itself when
/// this machine has no such account (a configuration written for another
/// machine, where `useradd --system NAME` makes a group of the same name)
/// or the account database cannot be read; the group id when the group has
/// no name here.
pub(crate) fn primary_group_name(user: &str) -> String {
    let Ok(c_name) = CString::new(user) else {
        return user.to_string();
    };
    match lookup_user(&c_name, user) {
        Ok((_, gid)) => group_name(gid).unwrap_or_else(|| gid.to_string()),
        Err(_) => user.to_string(),
    }
}

/// The name of the group this process runs as (effective group id), or
/// the id itself when the group has no name.
pub(crate) fn current_group_name() -> String {
    // SAFETY: getegid cannot fail.
    let gid = unsafe { libc::getegid() };
    group_name(gid).unwrap_or_else(|| gid.to_string())
}

/// What is being checked, for the messages.
struct Subject<'a> {
    /// `nuages.E001` / `nuages.E002` / `nuages.W012`: cannot be written.
    error_id: &'static str,
    /// `nuages.W004` / `nuages.W005` / `nuages.W012`: writable by everyone.
    warning_id: &'static str,
    /// How serious "cannot be written" is: a warning where the server may not
    /// need to write (a socket systemd creates).
    level: Level,
    /// `the SQLite database`.
    what: &'static str,
    /// The setting that names the file.
    setting: &'a str,
    /// Whether the server also creates files beside it (SQLite's journal).
    writes_folder: bool,
    /// Said after the hint of "cannot be written".
    note: Option<&'static str>,
}

impl Subject<'_> {
    fn problem(&self, message: String, hint: String) -> CheckMessage {
        let hint = match self.note {
            Some(note) => format!("{hint}; {note}"),
            None => hint,
        };
        CheckMessage::new(self.level, self.error_id, message, Some(&hint))
    }

    fn not_writable(&self, who: &Identity, file: &Path, path: &Path, kind: &str) -> CheckMessage {
        let bits = if path.is_dir() { "u+wx" } else { "u+w" };
        let on = match file == path {
            true => "it".to_string(),
            false => format!("{kind} {}", path.display()),
        };
        self.problem(
            format!(
                "{} cannot write {} {} ({}): no write permission on {on}.",
                capitalize(&who.describe()),
                self.what,
                file.display(),
                self.setting,
            ),
            format!(
                "give it to the server's user: chown {owner} {path} && chmod {bits} {path} (or change {})",
                self.setting,
                owner = who.owner_arg(),
                path = shell_word(path),
            ),
        )
    }

    fn world_writable(&self, file: &Path, path: &Path, mode: u32) -> CheckMessage {
        CheckMessage::warning(
            self.warning_id,
            format!(
                "{} {} is writable by every user of this machine (mode {:04o}): {} can be replaced or altered.",
                if path == file {
                    "The file"
                } else {
                    "The folder"
                },
                path.display(),
                mode & 0o7777,
                self.what
            ),
            format!(
                "remove the others' write permission: chmod o-w {}",
                shell_word(path)
            ),
        )
    }

    /// "The folder FOLDER of WHAT FILE (SETTING)", or "WHAT FILE (SETTING)"
    /// when `file` is that folder.
    fn folder_of(&self, file: &Path, folder: &Path) -> String {
        let subject = format!("{} {} ({})", self.what, file.display(), self.setting);
        match file == folder {
            true => capitalize(&subject),
            false => format!("The folder {} of {subject}", folder.display()),
        }
    }

    /// The folder of `file` cannot be created: `obstacle` stands there.
    fn cannot_create_folder(
        &self,
        file: &Path,
        folder: &Path,
        obstacle: &NotAFolder,
    ) -> CheckMessage {
        self.problem(
            format!(
                "{} cannot be created: {}.",
                self.folder_of(file, folder),
                obstacle.describe(),
            ),
            format!("{}, or change {}", obstacle.fix(), self.setting),
        )
    }
}

fn io_problem(subject: &Subject, path: &Path, error: &io::Error) -> CheckMessage {
    subject.problem(
        format!(
            "Cannot inspect {} at {} ({}): {error}.",
            subject.what,
            path.display(),
            subject.setting
        ),
        format!(
            "make {} readable, or change {}",
            path.display(),
            subject.setting
        ),
    )
}

/// The messages about `file` for `who`.
fn check_file(who: &Identity, file: &Path, subject: &Subject) -> Vec<CheckMessage> {
    let folder = file.parent().unwrap_or(Path::new("/"));
    let meta = match std::fs::metadata(file) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return check_creatable(who, file, subject);
        }
        // "Not a directory": a file where a folder above it goes.
        Err(error) => {
            return vec![match not_a_folder(folder) {
                Some(obstacle) => subject.cannot_create_folder(file, folder, &obstacle),
                None => io_problem(subject, file, &error),
            }];
        }
    };
    let mut messages = Vec::new();
    if meta.is_dir() {
        messages.push(subject.problem(
            format!(
                "{} {} ({}) is a folder, not a file.",
                capitalize(subject.what),
                file.display(),
                subject.setting
            ),
            format!(
                "point {} to a file inside it, or remove the folder",
                subject.setting
            ),
        ));
        return messages;
    }
    match who.can_write(file) {
        Ok(false) => messages.push(subject.not_writable(who, file, file, "the file")),
        Ok(true) => {}
        Err(error) => messages.push(io_problem(subject, file, &error)),
    }
    if meta.mode() & 0o002 != 0 {
        messages.push(subject.world_writable(file, file, meta.mode()));
    }
    if subject.writes_folder {
        match who.can_write(folder) {
            Ok(false) => messages.push(subject.not_writable(who, file, folder, "its folder")),
            Ok(true) => {}
            Err(error) => messages.push(io_problem(subject, folder, &error)),
        }
    }
    if let Ok(folder_meta) = std::fs::metadata(folder)
        && folder_meta.mode() & 0o002 != 0
    {
        messages.push(subject.world_writable(file, folder, folder_meta.mode()));
    }
    messages
}

/// The messages about creating `file` (which may exist: it is replaced)
/// for `who`: its folder must be writable, or creatable when missing.
fn check_creatable(who: &Identity, file: &Path, subject: &Subject) -> Vec<CheckMessage> {
    check_files_creatable_in(who, file.parent().unwrap_or(Path::new("/")), file, subject)
}

/// The messages about creating files in `folder` for `who`, said of
/// `file` (one of them, or the folder itself): `folder` must be writable,
/// or creatable when missing.
fn check_files_creatable_in(
    who: &Identity,
    folder: &Path,
    file: &Path,
    subject: &Subject,
) -> Vec<CheckMessage> {
    let mut messages = Vec::new();
    match std::fs::metadata(folder) {
        Ok(folder_meta) => {
            match who.can_write(folder) {
                Ok(false) => messages.push(subject.not_writable(who, file, folder, "its folder")),
                Ok(true) => {}
                Err(error) => messages.push(io_problem(subject, folder, &error)),
            }
            if folder_meta.mode() & 0o002 != 0 {
                messages.push(subject.world_writable(file, folder, folder_meta.mode()));
            }
        }
        Err(_) => {
            if let Some(obstacle) = not_a_folder(folder) {
                messages.push(subject.cannot_create_folder(file, folder, &obstacle));
                return messages;
            }
            let ancestor = folder
                .ancestors()
                .skip(1)
                .find(|a| a.exists())
                .unwrap_or(Path::new("/"));
            match who.can_write(ancestor) {
                Ok(true) => {}
                Ok(false) => messages.push(subject.problem(
                    format!(
                        "{} does not exist and {} cannot create it: no write permission on {}.",
                        subject.folder_of(file, folder),
                        who.describe(),
                        ancestor.display(),
                    ),
                    format!(
                        "create it for the server's user: mkdir -p {folder} && chown {} {folder} (or change {})",
                        who.owner_arg(),
                        subject.setting,
                        folder = shell_word(folder),
                    ),
                )),
                Err(error) => messages.push(io_problem(subject, ancestor, &error)),
            }
        }
    }
    messages
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The user the server runs as; `None` when the named account cannot be
/// looked up, which `nuages.E012` reports (once, not per file).
fn server_identity(ctx: &CheckContext) -> Option<Identity> {
    Identity::resolve(ctx.user.as_deref()).ok()
}

/// `nuages.E012`: `serve_user` (or `check --user`) names no account.
pub(crate) fn check_server_user(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(name) = ctx.user.as_deref() else {
        return vec![];
    };
    match Identity::of_user(name) {
        Ok(_) => vec![],
        Err(error) => {
            let problem = error.problem();
            let message = format!(
                "{}{problem}: file permissions cannot be judged for the user the server runs as.",
                if ctx.settings.serve_user.as_deref() == Some(name) {
                    "serve_user: "
                } else {
                    ""
                }
            );
            vec![CheckMessage::of(
                Level::Error,
                "nuages.E012",
                Problem { message, ..problem },
            )]
        }
    }
}

/// `nuages.W011`: with `--deploy`, run as root and told of no other user
/// (no `serve_user`, no `--user`), the permissions were judged for root,
/// who may write anything: the server's own account may still be refused.
pub(crate) fn check_judged_for_root(ctx: &CheckContext) -> Vec<CheckMessage> {
    // SAFETY: reads the process's effective user id.
    let root = unsafe { libc::geteuid() } == 0;
    if ctx.user.is_some() || !root {
        return vec![];
    }
    let name = ctx.project.name();
    vec![CheckMessage::warning(
        "nuages.W011",
        "File permissions were judged for root, who runs this check and may write anything: the \
         database, log and socket paths were not judged for the account the server will run as.",
        format!(
            "set serve_user = \"{name}\" in the production settings (the User= of the systemd unit; \
             create it with useradd --system --no-create-home {name}), or pass --user NAME"
        ),
    )]
}

/// `nuages.W012`: `serve_bind` is a unix socket whose folder the server's
/// user cannot write (or create). A warning: `serve` creates the socket only
/// when systemd does not pass it one (the `.socket` unit of `deployconfig
/// systemd` creates it as root), and then it fails to start.
pub(crate) fn check_socket(ctx: &CheckContext) -> Vec<CheckMessage> {
    if ctx.env.contains_key("LISTEN_FDS") {
        // systemd passed the sockets: serve creates none.
        return vec![];
    }
    let Ok(Bind::Unix(socket)) = parse_bind(&ctx.settings.serve_bind, &ctx.settings.base_dir)
    else {
        return vec![];
    };
    let Some(who) = server_identity(ctx) else {
        return vec![];
    };
    let subject = Subject {
        error_id: "nuages.W012",
        warning_id: "nuages.W012",
        level: Level::Warning,
        what: "the unix socket",
        setting: "serve_bind",
        writes_folder: true,
        note: Some(
            "serve creates it at start-up unless systemd passes it (deployconfig systemd's .socket unit)",
        ),
    };
    check_creatable(&who, &socket, &subject)
}

/// `nuages.E001` / `nuages.W004` for every SQLite database with a file.
pub(crate) fn check_database_files(ctx: &CheckContext) -> Vec<CheckMessage> {
    let files = database_files(ctx);
    let Some(who) = server_identity(ctx) else {
        return vec![];
    };
    files
        .into_iter()
        .flat_map(|(setting, file)| {
            let subject = database_subject(&setting);
            if let Some(special) = special_file(&file) {
                return vec![special_database_file(&subject, &file, special)];
            }
            let mut messages = check_file(&who, &file, &subject);
            messages.extend(check_journal_files(&who, &file, &subject));
            messages
        })
        .collect()
}

/// The `-wal` and `-shm` files beside a SQLite database in WAL mode, where
/// they are: the server writes them too. Left by a process of another
/// user (the `sqlite3` shell, a command run as root), they made every
/// write of the site fail as "a readonly database".
fn check_journal_files(who: &Identity, file: &Path, subject: &Subject) -> Vec<CheckMessage> {
    ["-wal", "-shm"]
        .into_iter()
        .filter_map(|suffix| {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            let journal = PathBuf::from(name);
            if std::fs::symlink_metadata(&journal).is_err() {
                return None;
            }
            match who.can_write(&journal) {
                Ok(false) => Some(subject.not_writable(who, file, &journal, "its journal file")),
                Ok(true) => None,
                Err(error) => Some(io_problem(subject, &journal, &error)),
            }
        })
        .collect()
}

/// The SQLite database named by `setting` (`databases.<alias>.url`).
fn database_subject(setting: &str) -> Subject<'_> {
    Subject {
        error_id: "nuages.E001",
        warning_id: "nuages.W004",
        level: Level::Error,
        what: "the SQLite database",
        setting,
        writes_folder: true,
        note: None,
    }
}

/// What `file` is when it is there and is neither a regular file nor a
/// folder (at the end of its links): a FIFO, a device (`/dev/null`) or a
/// socket, where SQLite cannot keep a database.
fn special_file(file: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(file).ok()?.file_type();
    Some(if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        return None;
    })
}

/// `nuages.E001` for a database `file` that is `special` ([`special_file`]).
fn special_database_file(subject: &Subject, file: &Path, special: &str) -> CheckMessage {
    subject.problem(
        format!(
            "{} {} ({}) is {special}, not a file: SQLite cannot keep a database in it.",
            capitalize(subject.what),
            file.display(),
            subject.setting,
        ),
        format!(
            "point {} to a database file (a new path is created by `manage migrate`); {} was \
             left as it is",
            subject.setting,
            file.display()
        ),
    )
}

/// Why the SQLite database `file` of `databases.<alias>.url` cannot be
/// opened before SQLite tries, in the words of `check` (`nuages.E001`): it
/// is a FIFO, a device or a socket (opening a FIFO would wait for a
/// writer; a device gave "disk I/O error").
pub(crate) fn special_database_file_problem(alias: &str, file: &Path) -> Option<Problem> {
    let setting = format!("databases.{alias}.url");
    let special = special_file(file)?;
    Some(special_database_file(&database_subject(&setting), file, special).problem)
}

/// Why the user this process runs as cannot open the SQLite database
/// `file` of `databases.<alias>.url`, in the words of `check`
/// (`nuages.E001`): a folder at its path, or no write permission on the
/// file or on its folder (where SQLite creates the file and its journal).
/// `None` when neither is the cause. The first reason only, as an error
/// line: `check` lists them all.
pub(crate) fn database_file_problem(alias: &str, file: &Path) -> Option<Problem> {
    let setting = format!("databases.{alias}.url");
    check_file(&Identity::current(), file, &database_subject(&setting))
        .into_iter()
        .find(|message| message.level == Level::Error)
        .map(|message| message.problem)
}

/// What stands where a folder must be, at `folder` or above it: what makes
/// creating or writing in `folder` fail with "File exists" or "Not a
/// directory". `None` when every one of them that exists is a folder.
pub(crate) fn not_a_folder(folder: &Path) -> Option<NotAFolder<'_>> {
    folder
        .ancestors()
        .find_map(|path| match std::fs::metadata(path) {
            Ok(meta) => (!meta.is_dir()).then_some(NotAFolder::File(path)),
            // The link itself is there: the system follows it to nothing, and
            // cannot make a folder in its place either.
            Err(error) if error.kind() == io::ErrorKind::NotFound => std::fs::read_link(path)
                .ok()
                .map(|target| NotAFolder::LinkToNothing { link: path, target }),
            Err(_) => None,
        })
}

/// See [`not_a_folder`].
#[derive(Debug)]
pub(crate) enum NotAFolder<'a> {
    /// A file (not a folder).
    File(&'a Path),
    /// A symbolic link whose target does not exist.
    LinkToNothing {
        /// The link.
        link: &'a Path,
        /// What it points to, as it holds it.
        target: PathBuf,
    },
}

impl NotAFolder<'_> {
    /// What is there: "`…/db` is a link to `/nonexistent/x`, which does not
    /// exist".
    pub(crate) fn describe(&self) -> String {
        match self {
            NotAFolder::File(file) => format!("{} is a file", file.display()),
            NotAFolder::LinkToNothing { link, target } => format!(
                "{} is a link to {}, which does not exist",
                link.display(),
                target.display()
            ),
        }
    }

    /// How to make way for the folder.
    pub(crate) fn fix(&self) -> &'static str {
        match self {
            NotAFolder::File(_) => "move or remove that file",
            NotAFolder::LinkToNothing { .. } => "create the link's target or remove the link",
        }
    }
}

/// `nuages.E002` / `nuages.W005` for `log_file`.
pub(crate) fn check_log_file(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(file) = &ctx.settings.log_file else {
        return vec![];
    };
    let Some(who) = server_identity(ctx) else {
        return vec![];
    };
    let subject = Subject {
        error_id: "nuages.E002",
        warning_id: "nuages.W005",
        level: Level::Error,
        what: "the log file",
        setting: "log_file",
        // An existing file is enough: logrotate's `create` makes the next
        // one (README), so a folder the server cannot write is fine.
        writes_folder: false,
        note: None,
    };
    check_file(&who, file, &subject)
}

/// The SQLite database files of the settings, with the setting that
/// names each (`databases.<alias>.url`).
fn database_files(ctx: &CheckContext) -> Vec<(String, PathBuf)> {
    ctx.settings
        .databases
        .iter()
        .filter_map(|(alias, db)| {
            sqlite_file(&db.url).map(|file| (format!("databases.{alias}.url"), file))
        })
        .collect()
}

/// `nuages.W042`: a SQLite database every user of the machine can read.
/// Its tables hold the password hashes and, with `session_engine = "db"`,
/// the keys of the sessions, which log in whoever sends one.
/// The journal files SQLite keeps beside a database (write-ahead log,
/// its index, the rollback journal) hold the same data: each is judged.
fn check_database_files_private(ctx: &CheckContext) -> Vec<CheckMessage> {
    database_files(ctx)
        .into_iter()
        .flat_map(|(setting, file)| {
            // The glob outside the quotes, so the shell still expands it.
            let fix = format!("chmod o-r {}*", shell_word(&file));
            let journals = ["-wal", "-shm", "-journal"].map(|suffix| {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                (PathBuf::from(name), "the SQLite journal file")
            });
            std::iter::once((file.clone(), "the SQLite database"))
                .chain(journals)
                .filter_map(|(path, what)| {
                    world_readable(
                        "nuages.W042",
                        &path,
                        &setting,
                        what,
                        "the database's tables hold the users' password hashes and the sessions",
                        &fix,
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `nuages.W043`: a log file every user of the machine can read. Its
/// request lines hold the paths of password-reset links, each of which
/// sets a new password for its user until it is used or expires.
fn check_log_file_private(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(file) = &ctx.settings.log_file else {
        return vec![];
    };
    world_readable(
        "nuages.W043",
        file,
        "log_file",
        "the log file",
        "its request lines hold the paths of password-reset links, which set a new password for \
         whoever opens them first",
        &format!("chmod o-r {}", shell_word(file)),
    )
    .into_iter()
    .collect()
}

/// The warning `id` when `file` exists and its mode lets every user read
/// it. A missing file is quiet: the server creates it without the others'
/// read permission.
fn world_readable(
    id: &str,
    file: &Path,
    setting: &str,
    what: &str,
    why: &str,
    fix: &str,
) -> Option<CheckMessage> {
    let mode = std::fs::metadata(file).ok()?.mode();
    (mode & 0o004 != 0).then(|| {
        CheckMessage::warning(
            id,
            format!(
                "{} {} ({setting}) can be read by every user of this machine (mode {:04o}): {why}.",
                capitalize(what),
                file.display(),
                mode & 0o7777,
            ),
            format!("remove the others' read permission: {fix}"),
        )
    })
}

/// `nuages.E034`: the server's user cannot write `media_root` (or create
/// it), so every upload would fail.
pub(crate) fn check_media_root(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(root) = &ctx.settings.media_root else {
        return vec![];
    };
    let Some(who) = server_identity(ctx) else {
        return vec![];
    };
    let subject = Subject {
        error_id: "nuages.E034",
        warning_id: "nuages.E034",
        level: Level::Error,
        what: "the uploads folder",
        setting: "media_root",
        writes_folder: true,
        note: None,
    };
    // Uploads are files created in media_root.
    check_files_creatable_in(&who, root, root, &subject)
        .into_iter()
        .filter(CheckMessage::is_serious)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::test_support::*;
    use super::*;
    use crate::conf::{DatabaseSettings, Settings};

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A temporary folder `nobody` can reach (tempdir makes it 0700).
    fn reachable_tempdir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        dir
    }

    fn with_database(dir: &Path, file: &Path) -> Settings {
        let mut settings = settings_in(dir);
        settings.databases.insert(
            "default".into(),
            DatabaseSettings {
                url: format!("sqlite://{}", file.display()),
                ..DatabaseSettings::default()
            },
        );
        settings
    }

    fn run(
        settings: &Settings,
        dir: &Path,
        user: Option<&str>,
        check: fn(&CheckContext) -> Vec<CheckMessage>,
    ) -> Vec<CheckMessage> {
        let project = project_in(dir);
        check(&CheckContext::new(settings, &project).for_user(user.map(str::to_string)))
    }

    #[test]
    fn users_resolve_with_their_groups() {
        let root = Identity::of_user("root").unwrap();
        assert_eq!(root.uid, 0);
        assert!(root.gids.contains(&0));
        let nobody = Identity::of_user("nobody").unwrap();
        assert_ne!(nobody.uid, 0);
        assert_eq!(nobody.describe(), "the user 'nobody'");
        let err = Identity::of_user("no-such-user-here").unwrap_err();
        assert!(matches!(err, UserError::Unknown(_)));
        assert!(err.to_string().contains("no-such-user-here"));
        let me = Identity::current();
        assert_eq!(me.uid, unsafe { libc::geteuid() });
    }

    /// The primary group by its name on this machine (`id -gn`): Debian's
    /// `nobody` is in `nogroup`, not in a group `nobody`; an account this
    /// machine does not have is taken to have a group of its own name.
    #[test]
    fn primary_groups_are_named_as_this_machine_has_them() {
        // `id -gn [USER]`: the user's primary group, or (no user) the
        // effective group of `id`, which it inherits from this process.
        let id_gn = |user: Option<&str>| {
            let output = std::process::Command::new("id")
                .arg("-gn")
                .args(user)
                .output()
                .unwrap();
            assert!(output.status.success(), "id -gn {user:?}: {output:?}");
            String::from_utf8(output.stdout).unwrap().trim().to_string()
        };
        assert_eq!(primary_group_name("root"), "root");
        assert_eq!(primary_group_name("nobody"), id_gn(Some("nobody")));
        assert_eq!(primary_group_name("no-such-user-here"), "no-such-user-here");
        assert_eq!(current_group_name(), id_gn(None));
    }

    #[test]
    fn mode_bits_decide_for_owner_group_and_others() {
        let dir = reachable_tempdir();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let meta_uid = std::fs::metadata(&file).unwrap().uid();
        let owner = Identity {
            name: None,
            uid: meta_uid,
            gids: vec![],
        };
        let stranger = Identity {
            name: None,
            uid: 4_000_000,
            gids: vec![4_000_000],
        };
        chmod(&file, 0o644);
        assert!(owner.can_write(&file).unwrap());
        assert!(!stranger.can_write(&file).unwrap());
        chmod(&file, 0o646);
        assert!(stranger.can_write(&file).unwrap());
        // A member of the file's group gets the group's bits.
        let member = Identity {
            name: None,
            uid: 4_000_001,
            gids: vec![7, std::fs::metadata(&file).unwrap().gid()],
        };
        chmod(&file, 0o664);
        assert!(member.can_write(&file).unwrap());
        assert!(!stranger.can_write(&file).unwrap());
        chmod(&file, 0o646);
        assert!(
            !member.can_write(&file).unwrap(),
            "the group's bits apply, not the others'"
        );
        // A folder needs write and search.
        chmod(dir.path(), 0o753);
        assert!(stranger.can_write(dir.path()).unwrap());
        chmod(dir.path(), 0o752);
        assert!(!stranger.can_write(dir.path()).unwrap());
        // Unreachable behind a folder without search permission.
        chmod(dir.path(), 0o750);
        assert!(!stranger.can_write(&file).unwrap());
        chmod(dir.path(), 0o755);
        let root = Identity {
            name: Some("root".into()),
            uid: 0,
            gids: vec![0],
        };
        chmod(&file, 0o400);
        assert!(root.can_write(&file).unwrap());
    }

    #[test]
    fn a_database_the_server_user_cannot_write_is_an_error() {
        let dir = reachable_tempdir();
        let db_dir = dir.path().join("db");
        std::fs::create_dir(&db_dir).unwrap();
        let file = db_dir.join("db.sqlite3");
        std::fs::write(&file, "").unwrap();
        chmod(&db_dir, 0o755);
        chmod(&file, 0o644);
        let settings = with_database(dir.path(), &file);

        let messages = run(&settings, dir.path(), Some("nobody"), check_database_files);
        assert_eq!(
            ids(&messages),
            ["nuages.E001", "nuages.E001"],
            "{messages:#?}"
        );
        assert!(
            messages[0]
                .message
                .starts_with("The user 'nobody' cannot write the SQLite database"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("give it to the server's user: chown nobody")
        );
        assert!(
            messages[1]
                .message
                .contains("no write permission on its folder"),
            "{}",
            messages[1].message
        );
        assert!(messages[1].hint.as_deref().unwrap().contains("chmod u+wx"));

        // The journal files another user left beside it (WAL mode).
        for suffix in ["-wal", "-shm"] {
            let journal = db_dir.join(format!("db.sqlite3{suffix}"));
            std::fs::write(&journal, "").unwrap();
            chmod(&journal, 0o640);
        }
        let messages = run(&settings, dir.path(), Some("nobody"), check_database_files);
        assert_eq!(ids(&messages), ["nuages.E001"; 4], "{messages:#?}");
        assert!(
            messages[2].message.contains(&format!(
                "no write permission on its journal file {}-wal",
                file.display()
            )),
            "{}",
            messages[2].message
        );
        assert!(
            messages[3].hint.as_deref().unwrap().ends_with(&format!(
                "chown nobody {0}-shm && chmod u+w {0}-shm (or change databases.default.url)",
                file.display()
            )),
            "{:?}",
            messages[3].hint
        );

        // Given to nobody: quiet.
        let nobody = Identity::of_user("nobody").unwrap();
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&db_dir, Some(nobody.uid), None).unwrap();
            std::os::unix::fs::chown(&file, Some(nobody.uid), None).unwrap();
            for suffix in ["-wal", "-shm"] {
                let journal = db_dir.join(format!("db.sqlite3{suffix}"));
                std::os::unix::fs::chown(&journal, Some(nobody.uid), None).unwrap();
            }
            assert_eq!(
                run(&settings, dir.path(), Some("nobody"), check_database_files),
                vec![]
            );
        }
        // The current user owns what it created.
        std::os::unix::fs::chown(&db_dir, Some(unsafe { libc::geteuid() }), None).ok();
        std::os::unix::fs::chown(&file, Some(unsafe { libc::geteuid() }), None).ok();
        for suffix in ["-wal", "-shm"] {
            let journal = db_dir.join(format!("db.sqlite3{suffix}"));
            std::os::unix::fs::chown(&journal, Some(unsafe { libc::geteuid() }), None).ok();
        }
        assert_eq!(
            run(&settings, dir.path(), None, check_database_files),
            vec![]
        );
    }

    #[test]
    fn a_world_writable_database_is_a_warning() {
        let dir = reachable_tempdir();
        let file = dir.path().join("db.sqlite3");
        std::fs::write(&file, "").unwrap();
        let settings = with_database(dir.path(), &file);
        chmod(&file, 0o666);
        let messages = run(&settings, dir.path(), None, check_database_files);
        assert_eq!(ids(&messages), ["nuages.W004"]);
        assert!(
            messages[0].message.contains("mode 0666"),
            "{}",
            messages[0].message
        );
        chmod(&file, 0o644);
        chmod(dir.path(), 0o777);
        let messages = run(&settings, dir.path(), None, check_database_files);
        assert_eq!(ids(&messages), ["nuages.W004"]);
        assert!(
            messages[0].message.starts_with("The folder"),
            "{}",
            messages[0].message
        );
        chmod(dir.path(), 0o755);
        assert_eq!(
            run(&settings, dir.path(), None, check_database_files),
            vec![]
        );
    }

    #[test]
    fn a_database_or_log_every_user_can_read_is_a_deployment_warning() {
        let dir = reachable_tempdir();
        let file = dir.path().join("db.sqlite3");
        std::fs::write(&file, "").unwrap();
        let mut settings = with_database(dir.path(), &file);
        let log = dir.path().join("site.log");
        settings.log_file = Some(log.clone());
        // Missing log: the server creates it private.
        assert_eq!(
            run(&settings, dir.path(), None, check_log_file_private),
            vec![]
        );
        std::fs::write(&log, "").unwrap();
        chmod(&file, 0o644);
        chmod(&log, 0o644);
        let messages = run(&settings, dir.path(), None, check_database_files_private);
        assert_eq!(ids(&messages), ["nuages.W042"]);
        assert!(
            messages[0].message.contains(&format!(
                "{} (databases.default.url) can be read by every user of this machine (mode 0644)",
                file.display()
            )),
            "{}",
            messages[0].message
        );
        assert_eq!(
            messages[0].hint.as_deref(),
            Some(
                format!(
                    "remove the others' read permission: chmod o-r {}*",
                    file.display()
                )
                .as_str()
            )
        );
        let messages = run(&settings, dir.path(), None, check_log_file_private);
        assert_eq!(ids(&messages), ["nuages.W043"]);
        assert!(
            messages[0].message.contains("password-reset links"),
            "{}",
            messages[0].message
        );
        chmod(&file, 0o640);
        chmod(&log, 0o640);
        assert_eq!(
            run(&settings, dir.path(), None, check_database_files_private),
            vec![]
        );
        assert_eq!(
            run(&settings, dir.path(), None, check_log_file_private),
            vec![]
        );
        // Its write-ahead log and index hold the same rows: judged too.
        let wal = dir.path().join("db.sqlite3-wal");
        let shm = dir.path().join("db.sqlite3-shm");
        for journal in [&wal, &shm] {
            std::fs::write(journal, "").unwrap();
        }
        chmod(&wal, 0o644);
        chmod(&shm, 0o640);
        let messages = run(&settings, dir.path(), None, check_database_files_private);
        assert_eq!(ids(&messages), ["nuages.W042"]);
        assert!(
            messages[0].message.starts_with(&format!(
                "The SQLite journal file {} (databases.default.url) can be read by every user",
                wal.display()
            )),
            "{}",
            messages[0].message
        );
    }

    /// The shell commands of the hints quote a path with a space (a glob
    /// stays outside the quotes): pasted, they fix the file named; they
    /// read `chmod o-r /x/sp ace/db.sqlite3*`, which changes `/x/sp` and
    /// whatever `ace/db.sqlite3*` matches in the current folder.
    #[test]
    fn the_commands_of_the_hints_quote_a_path_with_a_space() {
        let dir = reachable_tempdir();
        let folder = dir.path().join("sp ace");
        std::fs::create_dir(&folder).unwrap();
        chmod(&folder, 0o755);
        let file = folder.join("db.sqlite3");
        let journal = folder.join("db.sqlite3-wal");
        let log = folder.join("site.log");
        for path in [&file, &journal, &log] {
            std::fs::write(path, "").unwrap();
            chmod(path, 0o644);
        }
        let mut settings = with_database(dir.path(), &file);
        settings.log_file = Some(log.clone());
        let quoted = |path: &Path| format!("'{}'", path.display());
        // W042 and W043: the command, run in another folder, fixes them.
        let command_of = |messages: &[CheckMessage]| {
            let hint = messages[0].hint.clone().unwrap();
            hint.strip_prefix("remove the others' read permission: ")
                .unwrap_or_else(|| panic!("{hint}"))
                .to_string()
        };
        let database = run(&settings, dir.path(), None, check_database_files_private);
        assert_eq!(ids(&database), ["nuages.W042", "nuages.W042"]);
        assert_eq!(
            command_of(&database),
            format!("chmod o-r {}*", quoted(&file))
        );
        let logged = run(&settings, dir.path(), None, check_log_file_private);
        assert_eq!(command_of(&logged), format!("chmod o-r {}", quoted(&log)));
        for command in [command_of(&database), command_of(&logged)] {
            let status = std::process::Command::new("sh")
                .args(["-c", &command])
                .current_dir(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "{command}");
        }
        assert_eq!(
            run(&settings, dir.path(), None, check_database_files_private),
            vec![]
        );
        assert_eq!(
            run(&settings, dir.path(), None, check_log_file_private),
            vec![]
        );

        // E001 for another user: chown and chmod, mkdir and chown.
        let messages = run(&settings, dir.path(), Some("nobody"), check_database_files);
        let hint = messages[0].hint.as_deref().unwrap();
        assert!(
            hint.contains(&format!("chown nobody {} && chmod u+w", quoted(&file)))
                || hint.contains(&format!("chown nobody {} && chmod u+wx", quoted(&folder))),
            "{hint}"
        );
        let settings = with_database(dir.path(), &folder.join("data/db.sqlite3"));
        let messages = run(&settings, dir.path(), Some("nobody"), check_database_files);
        let folder = quoted(&folder.join("data"));
        assert!(
            messages[0].hint.as_deref().unwrap().starts_with(&format!(
                "create it for the server's user: mkdir -p {folder} && chown nobody {folder}"
            )),
            "{messages:?}"
        );
    }

    #[test]
    fn a_missing_folder_must_be_creatable() {
        let dir = reachable_tempdir();
        let parent = dir.path().join("srv");
        std::fs::create_dir(&parent).unwrap();
        chmod(&parent, 0o755);
        let file = parent.join("data/db/db.sqlite3");
        let settings = with_database(dir.path(), &file);
        // The current user owns srv/: it can create the folders.
        assert_eq!(
            run(&settings, dir.path(), None, check_database_files),
            vec![]
        );
        // nobody cannot.
        let messages = run(&settings, dir.path(), Some("nobody"), check_database_files);
        assert_eq!(ids(&messages), ["nuages.E001"]);
        assert!(
            messages[0].message.contains("does not exist"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0].message.contains(&parent.display().to_string()),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("create it for the server's user: mkdir -p")
        );
    }

    /// What stands where the database's folder goes is named in the words
    /// `migrate` uses (one helper): a link to nothing, at the folder or
    /// above it, and a file; before, a link to nothing passed, and a file
    /// was "Cannot inspect … Not a directory".
    #[test]
    fn a_link_to_nothing_or_a_file_where_the_folder_goes_is_named() {
        let dir = reachable_tempdir();
        let db = dir.path().join("db");
        let target = dir.path().join("nonexistent/x");
        std::os::unix::fs::symlink(&target, &db).unwrap();
        let named = |file: &Path, what: String, hint: &str| {
            let settings = with_database(dir.path(), file);
            let messages = run(&settings, dir.path(), None, check_database_files);
            assert_eq!(ids(&messages), ["nuages.E001"], "{messages:?}");
            assert_eq!(
                messages[0].message,
                format!(
                    "The folder {} of the SQLite database {} (databases.default.url) cannot be \
                     created: {what}.",
                    file.parent().unwrap().display(),
                    file.display(),
                )
            );
            assert_eq!(messages[0].hint.as_deref(), Some(hint));
        };
        for file in [db.join("db.sqlite3"), db.join("sub/db.sqlite3")] {
            named(
                &file,
                format!(
                    "{} is a link to {}, which does not exist",
                    db.display(),
                    target.display()
                ),
                "create the link's target or remove the link, or change databases.default.url",
            );
        }
        std::fs::remove_file(&db).unwrap();
        std::fs::write(&db, "notes").unwrap();
        for file in [db.join("db.sqlite3"), db.join("sub/db.sqlite3")] {
            named(
                &file,
                format!("{} is a file", db.display()),
                "move or remove that file, or change databases.default.url",
            );
        }
    }

    #[test]
    fn in_memory_and_server_databases_have_no_files() {
        let dir = reachable_tempdir();
        let mut settings = settings_in(dir.path());
        settings.databases.get_mut("default").unwrap().url = "sqlite::memory:".into();
        settings.databases.insert(
            "other".into(),
            DatabaseSettings {
                url: "postgres://localhost/site".into(),
                ..DatabaseSettings::default()
            },
        );
        assert_eq!(
            run(&settings, dir.path(), Some("nobody"), check_database_files),
            vec![]
        );
    }

    #[test]
    fn the_log_file_and_its_folder() {
        let dir = reachable_tempdir();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        chmod(&logs, 0o755);
        let mut settings = settings_in(dir.path());
        settings.log_file = Some(logs.join("site.log"));
        // Missing file in a folder nobody cannot write.
        let messages = run(&settings, dir.path(), Some("nobody"), check_log_file);
        assert_eq!(ids(&messages), ["nuages.E002"]);
        assert_eq!(run(&settings, dir.path(), None, check_log_file), vec![]);
        // An existing file only needs to be writable itself (logrotate's
        // `create` makes the next one: the folder may be root's).
        std::fs::write(logs.join("site.log"), "").unwrap();
        chmod(&logs.join("site.log"), 0o646);
        let messages = run(&settings, dir.path(), Some("nobody"), check_log_file);
        assert_eq!(ids(&messages), ["nuages.W005"], "{messages:#?}");
        chmod(&logs.join("site.log"), 0o644);
        assert_eq!(
            ids(&run(&settings, dir.path(), Some("nobody"), check_log_file)),
            ["nuages.E002"]
        );
        // A missing folder whose parent cannot be written.
        settings.log_file = Some(logs.join("deeper/site.log"));
        let messages = run(&settings, dir.path(), Some("nobody"), check_log_file);
        assert_eq!(ids(&messages), ["nuages.E002"]);
        assert!(
            messages[0].message.contains("does not exist"),
            "{}",
            messages[0].message
        );
        settings.log_file = None;
        assert_eq!(
            run(&settings, dir.path(), Some("nobody"), check_log_file),
            vec![]
        );
    }

    /// Every check of this file, in `ctx`.
    fn all(ctx: &CheckContext) -> Vec<CheckMessage> {
        checks().iter().flat_map(|check| (check.run)(ctx)).collect()
    }

    /// A database file, a log folder to create and a socket folder to
    /// create, all in `dir`.
    fn server_paths(dir: &Path) -> Settings {
        let db = dir.join("db/db.sqlite3");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        std::fs::write(&db, "").unwrap();
        // Private, as SQLite files the server creates (nuages.W042).
        chmod(&db, 0o640);
        let mut settings = with_database(dir, &db);
        settings.log_file = Some(dir.join("logs/site.log"));
        settings.serve_bind = format!("unix:{}", dir.join("run/site.sock").display());
        settings
    }

    #[test]
    fn an_unknown_user_is_reported_once_with_the_command_that_creates_it() {
        let dir = reachable_tempdir();
        let mut settings = server_paths(dir.path());
        settings.serve_user = Some("no-such-user-here".into());
        let project = project_in(dir.path());
        let ctx = CheckContext::new(&settings, &project)
            .with_deploy(true)
            .with_env([("PATH", "/bin")]);
        let messages = all(&ctx);
        assert_eq!(ids(&messages), ["nuages.E012"], "{messages:#?}");
        assert_eq!(
            messages[0].message,
            "serve_user: there is no user 'no-such-user-here' on this system: file permissions \
             cannot be judged for the user the server runs as."
        );
        assert!(
            messages[0].hint.as_deref().unwrap().starts_with(
                "create the account: useradd --system --no-create-home no-such-user-here"
            ),
            "{:?}",
            messages[0].hint
        );
        // The same for `check --user`, without the setting's name.
        settings.serve_user = None;
        let messages = run(
            &settings,
            dir.path(),
            Some("no-such-user-here"),
            check_server_user,
        );
        assert!(
            messages[0]
                .message
                .starts_with("there is no user 'no-such-user-here'"),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn paths_only_root_can_reach_are_errors_for_the_serve_user() {
        // tempdir is 0700: owned by the user running the tests (root in CI).
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o700);
        let mut settings = server_paths(dir.path());
        settings.serve_user = Some("nobody".into());
        let project = project_in(dir.path());
        let ctx = CheckContext::new(&settings, &project)
            .with_deploy(true)
            .with_env([("PATH", "/bin")]);
        assert_eq!(
            ctx.user.as_deref(),
            Some("nobody"),
            "serve_user is the default"
        );
        let messages = all(&ctx);
        assert_eq!(
            ids(&messages),
            ["nuages.E001", "nuages.E001", "nuages.E002", "nuages.W012"],
            "{messages:#?}"
        );
        for message in &messages {
            assert!(message.message.contains("'nobody'"), "{}", message.message);
        }
        let socket = &messages[3];
        assert_eq!(socket.level, Level::Warning);
        assert!(
            socket.message.contains("the unix socket") && socket.message.contains("(serve_bind)"),
            "{}",
            socket.message
        );
        assert!(
            socket
                .hint
                .as_deref()
                .unwrap()
                .ends_with("serve creates it at start-up unless systemd passes it (deployconfig systemd's .socket unit)"),
            "{:?}",
            socket.hint
        );

        // Under systemd's socket activation serve creates no socket.
        let ctx = CheckContext::new(&settings, &project)
            .with_deploy(true)
            .with_env([("LISTEN_FDS", "1")]);
        assert_eq!(
            ids(&all(&ctx)),
            ["nuages.E001", "nuages.E001", "nuages.E002"]
        );

        // Given to nobody, with the folders created: quiet.
        if unsafe { libc::geteuid() } == 0 {
            let nobody = Identity::of_user("nobody").unwrap();
            chmod(dir.path(), 0o755);
            for folder in ["db", "db/db.sqlite3", "logs", "run"] {
                let path = dir.path().join(folder);
                if !path.exists() {
                    std::fs::create_dir(&path).unwrap();
                }
                std::os::unix::fs::chown(&path, Some(nobody.uid), None).unwrap();
            }
            let ctx = CheckContext::new(&settings, &project)
                .with_deploy(true)
                .with_env([("PATH", "/bin")]);
            assert_eq!(all(&ctx), vec![]);
        }
    }

    #[test]
    fn root_judging_for_nobody_in_particular_is_warned() {
        let dir = reachable_tempdir();
        let mut settings = server_paths(dir.path());
        let project = project_in(dir.path());
        let root = unsafe { libc::geteuid() } == 0;
        let ctx = CheckContext::new(&settings, &project).with_deploy(true);
        let messages = check_judged_for_root(&ctx);
        if root {
            assert_eq!(ids(&messages), ["nuages.W011"]);
            assert!(
                messages[0]
                    .message
                    .starts_with("File permissions were judged for root"),
                "{}",
                messages[0].message
            );
            assert!(
                messages[0]
                    .hint
                    .as_deref()
                    .unwrap()
                    .starts_with("set serve_user = \"site\" in the production settings"),
                "{:?}",
                messages[0].hint
            );
        } else {
            assert_eq!(messages, vec![]);
        }
        // A deployment check only.
        let report = super::super::run_checks(&CheckContext::new(&settings, &project), &[]);
        assert!(!report.messages.iter().any(|m| m.id == "nuages.W011"));
        // Naming the account, even root, is enough.
        settings.serve_user = Some("root".into());
        assert_eq!(
            check_judged_for_root(&CheckContext::new(&settings, &project).with_deploy(true)),
            vec![]
        );
        settings.serve_user = None;
        let ctx = CheckContext::new(&settings, &project)
            .with_deploy(true)
            .for_user(Some("nobody".into()));
        assert_eq!(check_judged_for_root(&ctx), vec![]);
    }

    #[test]
    fn a_tcp_serve_bind_has_no_socket_to_judge() {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o700);
        let mut settings = settings_in(dir.path());
        settings.serve_user = Some("nobody".into());
        let project = project_in(dir.path());
        let ctx = CheckContext::new(&settings, &project).with_env([("PATH", "/bin")]);
        assert_eq!(check_socket(&ctx), vec![]);
        settings.serve_bind = "unix:run/site.sock".into();
        let ctx = CheckContext::new(&settings, &project).with_env([("PATH", "/bin")]);
        let messages = check_socket(&ctx);
        assert_eq!(ids(&messages), ["nuages.W012"], "relative to base_dir");
        assert!(
            messages[0]
                .message
                .contains(&dir.path().join("run").display().to_string()),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn media_root_must_be_writable_by_the_server_user() {
        let dir = reachable_tempdir();
        let media = dir.path().join("media");
        std::fs::create_dir(&media).unwrap();
        chmod(&media, 0o755);
        let mut settings = settings_in(dir.path());
        settings.media_root = Some(media.clone());
        let messages = run(&settings, dir.path(), Some("nobody"), check_media_root);
        assert_eq!(ids(&messages), ["nuages.E034"], "{messages:?}");
        // The folder as the setting names it, not a file of Nuages' own.
        assert_eq!(
            messages[0].message,
            format!(
                "The user 'nobody' cannot write the uploads folder {} (media_root): no write \
                 permission on it.",
                media.display()
            )
        );
        let hint = messages[0].hint.as_deref().unwrap();
        assert!(
            hint.contains("chown nobody") && hint.contains(&media.display().to_string()),
            "{hint}"
        );
        assert!(run(&settings, dir.path(), Some("root"), check_media_root).is_empty());
        // Missing, in a folder nobody may write: cannot be created either.
        settings.media_root = Some(media.join("uploads"));
        let messages = run(&settings, dir.path(), Some("nobody"), check_media_root);
        assert_eq!(ids(&messages), ["nuages.E034"]);
        assert_eq!(
            messages[0].message,
            format!(
                "The uploads folder {}/uploads (media_root) does not exist and the user 'nobody' \
                 cannot create it: no write permission on {}.",
                media.display(),
                media.display()
            )
        );
        settings.media_root = None;
        assert!(run(&settings, dir.path(), Some("nobody"), check_media_root).is_empty());
    }
}
