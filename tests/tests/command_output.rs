//! What the example's commands do when their standard output cannot be
//! written: a reader gone (`manage showurls | head -1`) ends them quietly
//! with the status a shell gives a process a closed pipe stopped (141), no
//! panic; a full disk is an error that says so; `migrate` stops before
//! its first migration (its first line is its plan), leaving the database
//! as it was, and a later `migrate` applies them. And what `showurls`
//! writes: each pattern, its name and its view with the view's methods;
//! and `migrate`'s line of each migration, begun before it runs.

use std::process::{Command, Stdio};

use nuages_e2e::Example;

/// `command` run with its standard output `stdout`: its exit code and
/// standard error.
fn with_stdout(command: &mut Command, stdout: Stdio) -> (Option<i32>, String) {
    let output = command
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `command` run with its standard output a pipe whose reader is already
/// closed.
fn into_a_closed_pipe(command: &mut Command) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    with_stdout(command, Stdio::from(writer))
}

/// `command` run with its standard output `/dev/full`.
fn into_a_full_disk(command: &mut Command) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    with_stdout(command, Stdio::from(full))
}

#[test]
fn a_reader_gone_ends_a_command_quietly_and_a_full_disk_is_an_error() {
    let example = Example::new();
    let commands: [&[&str]; 6] = [
        &["showurls"],
        &["diffsettings"],
        &["check"],
        &["check", "--format", "json"],
        &["showmigrations"],
        &["deployconfig", "nginx", "--plain-http"],
    ];
    for args in commands {
        let (code, stderr) = into_a_closed_pipe(example.command().args(args));
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");

        let (code, stderr) = into_a_full_disk(example.command().args(args));
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: could not write to standard output: No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("hint:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// The example's own command writes as the built-in ones do.
#[test]
fn the_example_seed_command_ends_quietly_when_its_reader_is_gone() {
    let example = Example::new();
    let migrated = example.command().arg("migrate").output().unwrap();
    assert!(migrated.status.success());
    let (code, stderr) = into_a_closed_pipe(example.command().arg("seed"));
    assert_eq!(code, Some(141), "{stderr}");
    assert_eq!(stderr, "");
    let (code, stderr) = into_a_full_disk(example.command().arg("seed"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: could not write to standard output: No space left on device"),
        "{stderr}"
    );
}

#[test]
fn migrate_whose_output_cannot_be_written_leaves_the_database_as_it_was() {
    let example = Example::new();
    for (name, unwritable) in [
        (
            "closed",
            into_a_closed_pipe as fn(&mut Command) -> (Option<i32>, String),
        ),
        ("full", into_a_full_disk),
    ] {
        let database = example.dir.path().join(format!("{name}.sqlite3"));
        let settings = example.settings_extending(
            &example.settings,
            name,
            &format!(
                "[databases.default]\nurl = \"sqlite://{}\"\n",
                database.display()
            ),
        );
        let (code, stderr) = unwritable(example.command_with(&settings).arg("migrate"));
        assert_ne!(code, Some(0), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let shown = |args: &[&str]| {
            let output = example.command_with(&settings).args(args).output().unwrap();
            assert!(output.status.success(), "{name} {args:?}");
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        let before = shown(&["showmigrations"]);
        assert!(before.contains(" [ ] "), "{name}: {before}");
        assert!(!before.contains(" [X] "), "{name}: {before}");
        shown(&["migrate"]);
        let after = shown(&["showmigrations"]);
        assert!(after.contains(" [X] "), "{name}: {after}");
        assert!(!after.contains(" [ ] "), "{name}: {after}");
    }
}

/// `migrate` writes each migration's line as Django's: `  Applying
/// polls.1_initial...` before the migration runs, completed with ` OK`
/// once it is applied, or ` FAILED` when the database refuses it (the error
/// follows on standard error). The line used to be written only once the
/// migration was done, so the one that failed was not shown at all.
#[test]
fn migrate_begins_each_line_before_its_migration_and_completes_it_after() {
    let example = Example::new();
    let database = example.dir.path().join("taken.sqlite3");
    // The table polls.1_initial creates is there already: it fails.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use nuages::sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", database.display());
        let mut connection = nuages::sqlx::SqliteConnection::connect(&url).await.unwrap();
        nuages::sqlx::query("CREATE TABLE polls_question (id INTEGER PRIMARY KEY)")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    });
    let settings = example.settings_extending(
        &example.settings,
        "taken",
        &format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            database.display()
        ),
    );
    let output = example
        .command_with(&settings)
        .arg("migrate")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.ends_with(
            "Running migrations:\n  Applying auth.1_initial... OK\n  Applying polls.1_initial... FAILED\n"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("migration polls.1_initial failed: ") && stderr.contains("already exists"),
        "{stderr}"
    );
}

/// `showurls` lists each pattern with its name and its view, the view named
/// with its methods.
#[test]
fn showurls_names_each_view_with_its_methods() {
    let example = Example::new();
    let output = example.command().arg("showurls").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = |pattern: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(pattern))
            .unwrap_or_else(|| panic!("no {pattern} in {stdout}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("/polls/<int:question_id>/vote/"),
        [
            "/polls/<int:question_id>/vote/",
            "polls:vote",
            "mysite::polls::views::vote",
            "[POST]"
        ]
    );
    assert_eq!(
        row("/polls/add/"),
        [
            "/polls/add/",
            "polls:add",
            "mysite::polls::views::add_form",
            "[GET],",
            "mysite::polls::views::add_submit",
            "[POST]"
        ]
    );
}
