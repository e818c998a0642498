//! What the example's commands do when their standard output cannot be
//! written: a reader gone (`manage showurls | head -1`) ends them quietly
//! with the status a shell gives a process a closed pipe stopped (141), no
//! panic; a full disk is an error that says so; `migrate` stops before
//! its first migration (its first line is its plan), leaving the database
//! as it was, and a later `migrate` applies them. And what `showurls`
//! writes: each pattern, its name and its view with the view's methods;
//! and `migrate`'s line of each migration, begun before it runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nuages_e2e::{Example, run};

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

/// Help and version text go to standard output like every command's: a
/// full disk is the same error, exit 1, for the project's binary (`--help`,
/// `help`, `check --help`, `--version`) and for `manage`; they exited 0
/// having written nothing. Closing the pipe ends them quietly (141).
#[test]
fn help_and_version_that_cannot_be_written_are_an_error() {
    let example = Example::new();
    let dir = tempfile::tempdir().unwrap();
    let mut commands: Vec<Command> = [
        &["--help"][..],
        &["help"],
        &["check", "--help"],
        &["--version"],
    ]
    .iter()
    .map(|args| {
        let mut command = Command::new(&example.bin);
        command.args(*args);
        command
    })
    .collect();
    for args in [&["--help"][..], &["help"], &["--version"]] {
        let mut command = nuages_e2e::manage(dir.path());
        command.args(args);
        commands.push(command);
    }
    for mut command in commands {
        let (code, stderr) = into_a_full_disk(&mut command);
        assert_eq!(code, Some(1), "{command:?}: {stderr}");
        assert!(
            stderr
                .starts_with("error: could not write to standard output: No space left on device")
                && stderr.contains("\n  hint: "),
            "{command:?}: {stderr}"
        );
        let (code, stderr) = into_a_closed_pipe(&mut command);
        assert_eq!(code, Some(141), "{command:?}: {stderr}");
        assert_eq!(stderr, "", "{command:?}");
        let output = command.stdout(Stdio::piped()).output().unwrap();
        assert!(output.status.success(), "{command:?}: {output:?}");
    }
}

/// `startproject` and `startapp` whose report cannot be written have done
/// their work: the error says what was created and not to run the command
/// again; it said to run it again, which then refused with "already
/// exists".
#[test]
fn startproject_and_startapp_that_cannot_report_say_what_they_created() {
    let example = Example::new();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) =
        into_a_full_disk(nuages_e2e::manage(dir.path()).args(["startproject", "site"]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: created project 'site' in site, but could not write to standard output: \
             No space left on device"
        ) && stderr.contains("do not run it again")
            && !stderr.contains("run the command again"),
        "{stderr}"
    );
    let project = dir.path().join("site");
    assert!(project.join("src/main.rs").is_file());
    let mut startapps = [nuages_e2e::manage(&project), Command::new(&example.bin)];
    for (startapp, name) in startapps.iter_mut().zip(["blog", "news"]) {
        let (code, stderr) =
            into_a_full_disk(startapp.current_dir(&project).args(["startapp", name]));
        assert_eq!(code, Some(1), "{stderr}");
        let created = project.join("src").join(name);
        assert!(
            stderr.starts_with(&format!(
                "error: created app '{name}' in {}, but could not write to standard output",
                created.display()
            )) && stderr.contains("do not run it again"),
            "{stderr}"
        );
        assert!(created.join("mod.rs").is_file());
    }
}

/// `createsuperuser` whose report cannot be written says the user was
/// created and not to run it again, which would answer "already exists".
#[test]
fn createsuperuser_that_cannot_report_says_it_created_the_user() {
    let example = Example::new();
    let migrated = example.command().arg("migrate").output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let (code, stderr) = into_a_full_disk(example.command().args([
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
    ]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: created the superuser \"admin\", but could not write to standard output: \
             No space left on device"
        ) && stderr.contains("do not run it again")
            && !stderr.contains("run the command again"),
        "{stderr}"
    );
}

/// An error whose standard error cannot be written (`manage check 2>&1 |
/// true`) keeps the command's exit status: 1, not a panic's 101.
#[test]
fn an_error_with_its_reader_gone_keeps_its_exit_status() {
    let example = Example::new();
    let dir = tempfile::tempdir().unwrap();
    let mut check = example.command_with(&dir.path().join("nothere.toml"));
    check.arg("check");
    let mut manage = nuages_e2e::manage(dir.path());
    manage.args(["startproject", "fn"]);
    for command in [&mut check, &mut manage] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(writer))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{command:?}");
    }
    assert!(!dir.path().join("fn").exists());
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
        let (_, settings) = sqlite_database(&example, name);
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
    let (database, settings) = sqlite_database(&example, "taken");
    // The table polls.1_initial creates is there already: it fails.
    execute(
        &database,
        "CREATE TABLE polls_question (id INTEGER PRIMARY KEY)",
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

/// `migrate` with nothing to apply writes nothing, as Django's: it works on
/// a database it may only read (its permissions are read before any is
/// added). A command that must write says why it cannot, with the fix,
/// instead of SQLite's bare "(code: 8) attempt to write a readonly database".
#[test]
fn migrate_with_nothing_to_do_reads_only_and_a_refused_write_is_explained() {
    let example = Example::new();
    let (database, settings) = sqlite_database(&example, "readonly");
    let migrated = example
        .command_with(&settings)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let read_only = example.settings_extending(
        &example.settings,
        "readonly-url",
        &format!(
            "[databases.default]\nurl = \"sqlite://{}?mode=ro\"\n",
            database.display()
        ),
    );
    let output = example
        .command_with(&read_only)
        .arg("migrate")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("  No migrations to apply.\n"), "{stdout}");
    let output = example
        .command_with(&read_only)
        .args([
            "createsuperuser",
            "--noinput",
            "--username",
            "ro",
            "--email",
            "ro@example.com",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "  hint: the SQLite database of databases.default.url cannot be written: if its URL \
             opens it read-only (mode=ro, immutable=1), remove that"
        ),
        "{stderr}"
    );
}

/// A SQLite database `NAME.sqlite3` for the example, not created yet, and
/// the settings file that uses it.
fn sqlite_database(example: &Example, name: &str) -> (PathBuf, PathBuf) {
    let database = example.dir.path().join(format!("{name}.sqlite3"));
    let settings = example.settings_extending(
        &example.settings,
        name,
        &format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            database.display()
        ),
    );
    (database, settings)
}

/// Run `sql` on the SQLite file `database`, creating it if need be.
fn execute(database: &Path, sql: &str) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use nuages::sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", database.display());
        let mut connection = nuages::sqlx::SqliteConnection::connect(&url).await.unwrap();
        nuages::sqlx::raw_sql(nuages::sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    });
}

/// `showmigrations` shows what `migrate` refuses, with its fix: a
/// migration left half-applied (`[-]`), one changed after it was applied
/// (`[X]` and a note), and one the database records that no file defines
/// (`[?]`, listed in order of version). The half-applied one was `[X]`, as
/// if applied, and the unknown one was not listed, while `migrate`
/// refused to run over them.
#[test]
fn showmigrations_shows_what_migrate_refuses() {
    let example = Example::new();
    let (database, settings) = sqlite_database(&example, "tampered");
    let manage = |args: &[&str]| {
        let output = example.command_with(&settings).args(args).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(manage(&["migrate"]).0, Some(0));
    execute(
        &database,
        "UPDATE _nuages_migrations_polls SET success = FALSE WHERE version = 1; \
         INSERT INTO _nuages_migrations_auth (version, description, success, checksum, execution_time) \
         VALUES (2, 'newer feature', TRUE, x'00', 1)",
    );
    let (code, stdout, stderr) = manage(&["showmigrations"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "auth\n [X] 1_initial\n [?] 2_newer_feature (applied, but no file defines it; migrate stops here: \
         run the version of the project that has that migration (or put its file back); to drop it, undo \
         what it did by hand, then delete its row (version 2) from _nuages_migrations_auth)\n\
         polls\n [-] 1_initial (half-applied; migrate stops here: repair the database by hand, then delete \
         its row (version 1) from _nuages_migrations_polls)\n"
    );
    let (code, _, stderr) = manage(&["migrate"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "error: migration auth.2_newer_feature is applied to the database, but no file"
        ),
        "{stderr}"
    );

    // The file of an applied migration edited since (its checksum differs).
    execute(
        &database,
        "DELETE FROM _nuages_migrations_auth WHERE version = 2; \
         UPDATE _nuages_migrations_polls SET success = TRUE, checksum = x'00' WHERE version = 1",
    );
    let (_, stdout, _) = manage(&["showmigrations"]);
    assert!(
        stdout.ends_with(
            "polls\n [X] 1_initial (changed after it was applied; migrate stops here: never edit an \
             applied migration: put its file back as it was applied and add a new migration instead)\n"
        ),
        "{stdout}"
    );
    let (code, _, stderr) = manage(&["migrate"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("error: migration polls.1_initial was changed after it was applied"),
        "{stderr}"
    );
}

/// The example's `seed` on a database never migrated (an empty SQLite file
/// made by hand) says so, naming the migrations to apply and `manage
/// migrate`, exit 1: it failed with sqlx's "no such table: polls_question".
/// On one `migrate` refuses to run over, it says what `migrate` says.
#[test]
fn seed_on_a_database_not_migrated_names_what_to_apply() {
    let example = Example::new();
    let (database, settings) = sqlite_database(&example, "handmade");
    std::fs::write(&database, "").unwrap();
    let seed = || {
        let output = example
            .command_with(&settings)
            .arg("seed")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = seed();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: the database has not been migrated: 2 unapplied migration(s): auth.1_initial, polls.1_initial\n  \
         hint: run `manage migrate` first: it applies them (`manage showmigrations` lists them)\n"
    );

    let output = example
        .command_with(&settings)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    execute(
        &database,
        "UPDATE _nuages_migrations_polls SET success = FALSE WHERE version = 1",
    );
    let (code, stderr) = seed();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: migration polls.1_initial was left half-applied\n  \
         hint: repair the database by hand, then delete its row (version 1) from _nuages_migrations_polls\n"
    );
}

/// `createsuperuser` and `changepassword` on a database whose auth
/// migration was left half-applied say what `migrate` and `showmigrations`
/// say, with the fix, exit 1: they said "the database has no user tables
/// yet" and to run `manage migrate`, which refuses to run over it.
#[test]
fn user_commands_on_a_half_applied_auth_migration_say_what_migrate_says() {
    let example = Example::new();
    let (database, settings) = sqlite_database(&example, "halfauth");
    let output = example
        .command_with(&settings)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    execute(
        &database,
        "UPDATE _nuages_migrations_auth SET success = FALSE WHERE version = 1",
    );
    for args in [
        &["createsuperuser", "--noinput", "--username", "admin"][..],
        &["changepassword", "admin", "--password-stdin"],
    ] {
        let (output, _, stderr) = run(example
            .command_with(&settings)
            .args(args)
            .stdin(std::process::Stdio::null()));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "error: migration auth.1_initial was left half-applied\n  \
             hint: repair the database by hand, then delete its row (version 1) from _nuages_migrations_auth\n",
            "{args:?}"
        );
    }
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
