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
