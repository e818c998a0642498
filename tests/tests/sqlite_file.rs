//! A command's changes are in the SQLite database file itself when it
//! exits (its pools are closed, and SQLite copies its write-ahead log into
//! the file then): a copy of `db.sqlite3` alone, as a backup takes it,
//! holds them.

use nuages_e2e::Example;

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
        let output = example
            .command_with(&settings)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
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
}
