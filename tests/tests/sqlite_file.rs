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
