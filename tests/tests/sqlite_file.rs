//! A command's changes are in the SQLite database file itself when it
//! exits (its pools are closed, and SQLite copies its write-ahead log into
//! the file then): a copy of `db.sqlite3` alone, as a backup takes it,
//! holds them.

use std::path::{Path, PathBuf};
use std::process::Command;

use nuages_e2e::{Example, run};

/// The example with its database at `<name>/db.sqlite3` in its folder:
/// the settings file that says so, that folder and the database's path.
fn with_database_in(example: &Example, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let folder = example.dir.path().join(name);
    let database = folder.join("db.sqlite3");
    let settings = example.settings_extending(
        &example.settings,
        name,
        &format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            database.display()
        ),
    );
    (settings, folder, database)
}

/// [`with_database_in`], migrated.
fn migrated_in(example: &Example, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (settings, folder, database) = with_database_in(example, name);
    let migrated = example
        .command_with(&settings)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    (settings, folder, database)
}

/// `command` run as `nobody` (through `setpriv`, which root alone may do).
fn as_nobody(command: &Command) -> Command {
    let mut as_nobody = Command::new("setpriv");
    as_nobody
        .arg("--reuid=nobody")
        .arg(format!("--regid={}", nuages_e2e::group_of(Some("nobody"))))
        .arg("--clear-groups")
        .arg(command.get_program())
        .args(command.get_args());
    as_nobody
}

/// The names in `folder`, sorted.
fn listing(folder: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Give `path` the permission bits `mode`.
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether the tests run as root (as in CI).
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    (unsafe { libc::geteuid() }) == 0
}

#[test]
fn a_copy_of_the_database_file_alone_holds_what_the_commands_did() {
    let example = Example::new();
    let database = example.dir.path().join("fresh/db.sqlite3");
    let url = |path: &std::path::Path| {
        format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            path.display()
        )
    };
    let settings = example.settings_extending(&example.settings, "fresh", &url(&database));
    // After each command, nothing is left in the log beside the file.
    let log = database.with_extension("sqlite3-wal");
    let nothing_left_in_the_log = |after: &str| {
        let left = std::fs::metadata(&log).map_or(0, |log| log.len());
        assert_eq!(left, 0, "{} after {after}", log.display());
    };
    for command in ["migrate", "seed"] {
        let output = example
            .command_with(&settings)
            .arg(command)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        nothing_left_in_the_log(command);
    }
    example.create_superuser(
        &settings,
        "admin",
        "admin@example.com",
        "Corr3ct-Horse-Battery",
    );
    nothing_left_in_the_log("createsuperuser");

    let copy = example.dir.path().join("backup/db.sqlite3");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&database, &copy).unwrap();
    let restored = example.settings_extending(&example.settings, "restored", &url(&copy));
    let output = example
        .command_with(&restored)
        .arg("showmigrations")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains(" [X] ") && !shown.contains(" [ ] "),
        "{shown}"
    );
    // The superuser is in the copy: its password can be changed there.
    let (status, stdout, stderr) = nuages_e2e::run_with_input(
        example
            .command_with(&restored)
            .args(["changepassword", "admin", "--password-stdin"]),
        "An0ther-Horse-Battery\n",
    );
    assert!(status.success(), "{stdout}{stderr}");
}

/// Two `migrate` processes at once on a database file not created yet, in
/// a folder that is there (two deploy scripts): both succeed. The second failed with "database is
/// locked" (exit 1), SQLite refusing its switch to the write-ahead log at
/// once, without the busy timeout, while the first set up the new file.
#[test]
fn two_migrate_processes_at_once_on_a_new_sqlite_file_both_succeed() {
    let example = Example::new();
    // A race: several fresh files.
    for round in 0..20 {
        let folder = format!("race{round}");
        let database = example.dir.path().join(&folder).join("db.sqlite3");
        std::fs::create_dir_all(database.parent().unwrap()).unwrap();
        let settings = example.settings_extending(
            &example.settings,
            &folder,
            &format!(
                "[databases.default]\nurl = \"sqlite://{}\"\n",
                database.display()
            ),
        );
        let spawn = || {
            example
                .command_with(&settings)
                .arg("migrate")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(), spawn());
        for child in [first, second] {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let output = example
            .command_with(&settings)
            .arg("showmigrations")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(
            shown.contains(" [X] ") && !shown.contains(" [ ] "),
            "{shown}"
        );
    }
}

/// A command that needs the database `migrate` makes (`createsuperuser`,
/// `changepassword`, `clearsessions`, the example's `seed`) refuses a SQLite
/// file not there yet, exit 1, saying to run `migrate`, and creates neither
/// the file nor its folder: each created an empty database, then said to
/// run `migrate` (or failed on a missing table). `showmigrations` lists
/// every migration as pending and creates nothing either; on an empty file
/// that is there it only reads: the file stays empty, in no journal mode
/// of Nuages' choosing, with nothing beside it (it was made a database in
/// WAL mode).
#[test]
fn commands_that_only_read_or_refuse_leave_a_missing_or_empty_sqlite_file_alone() {
    let example = Example::new();
    let folder = example.dir.path().join("notyet");
    let database = folder.join("db.sqlite3");
    let settings = example.settings_extending(
        &example.settings,
        "notyet",
        &format!(
            "session_engine = \"db\"\n[databases.default]\nurl = \"sqlite://{}\"\n",
            database.display()
        ),
    );
    let refusing: [&[&str]; 4] = [
        &["createsuperuser", "--noinput", "--username", "admin"],
        &["changepassword", "admin", "--password-stdin"],
        &["clearsessions"],
        &["seed"],
    ];
    for args in refusing {
        let (output, _, stderr) = run(example
            .command_with(&settings)
            .args(args)
            .stdin(std::process::Stdio::null()));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: the SQLite database {} of databases.default.url does not exist yet",
                database.display()
            )) && stderr.contains("hint: run `manage migrate` first"),
            "{args:?}: {stderr}"
        );
        assert!(!folder.exists(), "{args:?} created {}", folder.display());
    }
    let showmigrations = || {
        let output = example
            .command_with(&settings)
            .arg("showmigrations")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let all_pending = "sessions\n [ ] 1_initial\nauth\n [ ] 1_initial\npolls\n [ ] 1_initial\n";
    assert_eq!(showmigrations(), all_pending);
    assert!(
        !folder.exists(),
        "showmigrations created {}",
        folder.display()
    );

    std::fs::create_dir(&folder).unwrap();
    std::fs::write(&database, "").unwrap();
    assert_eq!(showmigrations(), all_pending);
    assert_eq!(std::fs::metadata(&database).unwrap().len(), 0);
    let beside: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["db.sqlite3"]);
    // The commands that need a migrated database refuse it, and leave it so.
    for args in &refusing[..2] {
        let (output, _, stderr) = run(example
            .command_with(&settings)
            .args(*args)
            .stdin(std::process::Stdio::null()));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: the database has not been migrated"),
            "{args:?}: {stderr}"
        );
        assert_eq!(std::fs::metadata(&database).unwrap().len(), 0, "{args:?}");
    }
    let output = example
        .command_with(&settings)
        .arg("seed")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(std::fs::metadata(&database).unwrap().len(), 0, "seed");
    let beside: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["db.sqlite3"]);
}

/// `showmigrations` reads a database in WAL mode in a folder its user
/// cannot write (a deploy user looking at the server's database, a
/// read-only mount): it failed with "attempt to write a readonly
/// database", told to make the file writable, as SQLite's reader must
/// create `-shm` beside the file. With no `-wal` nor `-shm` there (no
/// connection has the database open), the file holds everything and is
/// read as it is, nothing created beside it. A `-wal` that user cannot
/// open is an error naming those files and the fix. As root, the command
/// runs as `nobody`; otherwise the folder is made read-only.
#[test]
fn showmigrations_reads_a_wal_database_in_a_folder_it_cannot_write() {
    let example = Example::new();
    let (settings, folder, database) = migrated_in(&example, "readonly");
    let listing = || listing(&folder);
    let before = listing();
    let root = is_root();
    let showmigrations = || {
        let mut command = example.command_with(&settings);
        if root {
            command = as_nobody(&command);
        }
        command.arg("showmigrations").output().unwrap()
    };
    let mode = set_mode;
    if root {
        // nobody may go through the test's folder, and read, not write.
        mode(example.dir.path(), 0o755);
        // migrate made the file for its owner and group only.
        let output = showmigrations();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "error: cannot read the SQLite database {} of databases.default.url as the user \
                 'nobody': Permission denied",
                database.display()
            )) && stderr.contains("hint: run the command as the user that owns the database"),
            "{stderr}"
        );
        assert_eq!(listing(), before);
        // Readable by nobody from here on.
        mode(&database, 0o644);
    } else {
        mode(&folder, 0o555);
    }

    let output = showmigrations();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "auth\n [X] 1_initial\npolls\n [X] 1_initial\n");
    assert_eq!(listing(), before);

    // A log the reader cannot open.
    mode(&folder, 0o755);
    let log = folder.join("db.sqlite3-wal");
    std::fs::write(&log, "").unwrap();
    mode(&log, if root { 0o600 } else { 0o000 });
    if !root {
        mode(&folder, 0o555);
    }
    let output = showmigrations();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot read the SQLite database {} of databases.default.url as ",
            database.display()
        )) && stderr.contains("in WAL mode, a reader needs the files")
            && stderr.contains("hint: run the command as the user that owns the database"),
        "{stderr}"
    );
    mode(&folder, 0o755);
}

/// A command that only reads, run by a user who may not write the database
/// file (a deploy account in the server's group) though it may write its
/// folder, leaves nothing beside the file: SQLite made `-wal` and `-shm`
/// there, that user's, with the database's mode, which the database's
/// owner could then not write, and every later write of the site failed
/// as "a readonly database".
#[test]
fn a_command_that_only_reads_leaves_no_journal_the_owner_cannot_write() {
    let example = Example::new();
    let (settings, folder, database) = migrated_in(&example, "shared");
    let before = listing(&folder);
    let mode = set_mode;
    let mut reader = example.command_with(&settings);
    if is_root() {
        // Another account, which may write the folder and read the file.
        mode(example.dir.path(), 0o755);
        mode(&folder, 0o777);
        mode(&database, 0o644);
        reader = as_nobody(&reader);
    } else {
        // This account, which may write the folder but not the file.
        mode(&database, 0o444);
    }
    let output = reader.arg("showmigrations").output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "auth\n [X] 1_initial\npolls\n [X] 1_initial\n");
    assert_eq!(listing(&folder), before);

    // The owner writes as before.
    mode(&database, 0o640);
    let (status, _, stderr) = nuages_e2e::run_with_input(
        example.command_with(&settings).args([
            "createsuperuser",
            "--noinput",
            "--username",
            "owner",
            "--email",
            "owner@example.com",
        ]),
        "",
    );
    assert!(status.success(), "{stderr}");
}

/// `migrate` as the server's account after `migrate` ran as root (or as
/// another account): the lock file it left beside the database is opened
/// read-only (flock needs no more), so `migrate` succeeds; it failed with
/// "cannot take migrate's lock file …: Permission denied" and a hint
/// blaming the folder. A missing lock file is made with the database
/// file's permission bits, whatever the umask; one that cannot be read is
/// named with the commands that fix it. As root, `migrate` runs as
/// `nobody` after the first; otherwise the lock file is made read-only.
#[test]
fn migrate_opens_a_lock_file_another_account_left() {
    use std::os::unix::fs::PermissionsExt;
    let example = Example::new();
    let (settings, folder, database) = with_database_in(&example, "locked");
    let lock = folder.join("db.sqlite3-migrate.lock");
    let root = is_root();
    let migrate = |as_other: bool| {
        let mut command = example.command_with(&settings);
        if as_other {
            command = as_nobody(&command);
        }
        command.arg("migrate").output().unwrap()
    };
    let mode = set_mode;
    let mode_of =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    // The first migrate, as the test's account (root in CI), makes the
    // lock file readable by every account, whatever the umask and the
    // database's bits: it holds nothing, and `flock` needs only reading.
    std::fs::create_dir_all(&folder).unwrap();
    let output = migrate(false);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(mode_of(&lock), 0o644);
    std::fs::remove_file(&lock).unwrap();
    mode(&database, 0o640);
    let output = migrate(false);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        mode_of(&lock),
        0o644,
        "readable by all, past the database's bits"
    );

    // The server's account: the database and its folder are its own, the
    // lock file is root's as root made it (or read-only to its owner).
    if !root {
        mode(&lock, 0o444);
    }
    if root {
        mode(example.dir.path(), 0o755);
        let group = nuages_e2e::group_of(Some("nobody"));
        for path in std::fs::read_dir(&folder).unwrap() {
            let path = path.unwrap().path();
            if path != lock {
                let status = std::process::Command::new("chown")
                    .arg(format!("nobody:{group}"))
                    .arg(&path)
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
        let status = std::process::Command::new("chown")
            .arg(format!("nobody:{group}"))
            .arg(&folder)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let output = migrate(root);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("No migrations to apply."), "{stdout}");

    // A lock file the account cannot read: named, with the fix.
    mode(&lock, 0o000);
    let output = migrate(root);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot open migrate's lock file {}, beside the SQLite database: Permission denied",
            lock.display()
        )) && stderr.contains(&format!(
            "hint: make it readable by the user this command runs as (`chmod a+r {}`), or remove it while no migrate runs (`rm {}`)",
            lock.display(),
            lock.display()
        )),
        "{stderr}"
    );
}
