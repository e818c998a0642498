//! A generated project's `[databases]` edited into something no database
//! can work with: `check` reports it (with its id, message and hint) and
//! `migrate` refuses with the same words, `error:` then `hint:` and exit 1,
//! never a panic, and without pretending to apply migrations.

use nuages_e2e::GeneratedProject;

/// The generated settings file with its `[databases.default]` table
/// replaced by `table`.
fn with_databases(project: &GeneratedProject, original: &str, table: &str) {
    let default_table = "[databases.default]\nurl = \"sqlite://db/db.sqlite3\"\n";
    assert!(original.contains(default_table), "{original}");
    project.write("settings.toml", &original.replace(default_table, table));
}

#[test]
fn check_and_migrate_refuse_databases_that_cannot_work() {
    let project = GeneratedProject::new("database_site");
    let original = std::fs::read_to_string(project.dir.join("settings.toml")).unwrap();
    let cases = [
        (
            "[databases.default]\nurl = \"sqlite://db/db.sqlite3\"\nmax_connections = 0\n",
            "nuages.E050",
            "databases.default.max_connections is 0: the pool of the database 'default' could never open a connection",
            "set databases.default.max_connections to at least 1 (the default is 8), or remove the key",
        ),
        (
            "[databases.defualt]\nurl = \"sqlite://db/db.sqlite3\"\n",
            "nuages.E051",
            "there is no [databases.default]: the databases setting has only [databases.defualt]",
            "did you mean [databases.defualt]? rename that table [databases.default]",
        ),
        (
            "[databases.default]\nurl = \"sqlite://\"\n",
            "nuages.E011",
            "databases.default.url \"sqlite://\" names no database file: SQLite would open a temporary database, \
             deleted when its connection closes, so the tables `migrate` creates and the site's data would not be kept",
            "write the path of the database file in databases.default.url, such as \"sqlite://db/db.sqlite3\" \
             (relative to the settings file; the folder is created)",
        ),
        (
            "[databases.default]\nurl = \"sqlite::memory:\"\n",
            "nuages.E011",
            "databases.default.url \"sqlite::memory:\" is an in-memory database: each connection of the pool, \
             and each command, would get an empty database of its own, so the tables `migrate` creates and \
             the site's data would not be kept",
            "write the path of the database file in databases.default.url, such as \"sqlite://db/db.sqlite3\" \
             (relative to the settings file; the folder is created)",
        ),
        (
            // A port that is no number: the server would start, and every
            // request that needs the database would fail.
            "[databases.default]\nurl = \"postgres://site:s3cret-pw@127.0.0.1:notaport/site\"\n",
            "nuages.E011",
            "databases.default.url is not a PostgreSQL URL that can be read: the part after the \
             host's ':' is not a port number (if it is USER:PASSWORD, the @HOST after it is missing)",
            "write databases.default.url as postgres://USER:${DB_PASSWORD}@HOST:PORT/NAME",
        ),
    ];
    for (table, id, message, hint) in cases {
        with_databases(&project, &original, table);
        for args in [&["check"][..], &["check", "--deploy"][..]] {
            let (output, stdout, stderr) = project.manage(args);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{args:?} {table}: {stdout}{stderr}"
            );
            assert!(
                stderr.contains(&format!("?: ({id}) {message}\n\tHINT: {hint}\n")),
                "{args:?} {table}: {stderr}"
            );
        }
        let (output, stdout, stderr) = project.manage(&["migrate"]);
        assert_eq!(output.status.code(), Some(1), "{table}: {stdout}{stderr}");
        assert!(
            stderr.ends_with(&format!("error: {message}\n  hint: {hint}\n")),
            "{table}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
        assert!(!stdout.contains("Applying"), "{table}: {stdout}");
        assert!(
            !project.dir.join("db").exists(),
            "{table}: no database was created"
        );
    }

    // A database SQLite cannot open (here a folder at the file's path: the
    // tests run as root, whom permissions never stop) names the file, the
    // cause and the fix, as check's nuages.E001 does, and is not
    // `database error: … (code: 14) unable to open database file`.
    project.write("settings.toml", &original);
    std::fs::create_dir_all(project.dir.join("db/db.sqlite3")).unwrap();
    let (output, stdout, stderr) = project.manage(&["migrate"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let file = project.dir.join("db/db.sqlite3");
    assert!(
        stderr.ends_with(&format!(
            "error: the SQLite database {} (databases.default.url) is a folder, not a file \
             (SQLite: unable to open database file)\n  hint: point databases.default.url to a file \
             inside it, or remove the folder\n",
            file.display()
        )),
        "{stderr}"
    );
    assert_eq!(stdout, "", "nothing said to run before the database opens");
    // The commands that open it read-only, where SQLite says "disk I/O
    // error" (code 266): the same words and fix; it was the bare error.
    for command in [
        &["showmigrations"][..],
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "a",
            "--email",
            "a@example.com",
        ],
        &["changepassword", "a"],
    ] {
        let (output, stdout, stderr) = project.manage(command);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{command:?}: {stdout}{stderr}"
        );
        assert!(
            stderr.ends_with(&format!(
                "error: the SQLite database {} (databases.default.url) is a folder, not a file \
                 (SQLite: disk I/O error)\n  hint: point databases.default.url to a file inside \
                 it, or remove the folder\n",
                file.display()
            )),
            "{command:?}: {stderr}"
        );
    }
    // A file where the database's folder goes: named, and left alone.
    std::fs::remove_dir_all(project.dir.join("db")).unwrap();
    project.write("db", "notes\n");
    let (output, stdout, stderr) = project.manage(&["migrate"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let db = project.dir.join("db");
    assert!(
        stderr.ends_with(&format!(
            "error: cannot create the database folder {db} of databases.default.url: {db} is a file\n  \
             hint: move or remove that file, or change databases.default.url to a path whose folders \
             are folders\n",
            db = db.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "notes\n");
    std::fs::remove_file(&db).unwrap();

    // A FIFO or a device at the database's path: named before SQLite
    // waits on it or fails with "disk I/O error", and left as it is; check
    // says so too, with no `chmod` of /dev/null.
    std::fs::create_dir_all(&db).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let device = std::path::Path::new("/dev/null");
    for (path, kind) in [
        (file.as_path(), "a FIFO (named pipe)"),
        (device, "a device"),
    ] {
        if path == device {
            project.write(
                "settings.toml",
                &original.replace("sqlite://db/db.sqlite3", "sqlite:///dev/null"),
            );
        }
        let said = format!(
            "the SQLite database {} (databases.default.url) is {kind}, not a file: SQLite cannot \
             keep a database in it",
            path.display()
        );
        let hint = format!(
            "point databases.default.url to a database file (a new path is created by `manage \
             migrate`); {} was left as it is",
            path.display()
        );
        let (output, stdout, stderr) = project.manage(&["migrate"]);
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.ends_with(&format!("error: {said}\n  hint: {hint}\n")),
            "{stderr}"
        );
        let (output, stdout, stderr) = project.manage(&["check"]);
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "(nuages.E001) The{}.\n\tHINT: {hint}\n",
                &said[3..]
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("chmod"), "{stderr}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&file).unwrap().file_type().is_fifo());
    std::fs::remove_dir_all(&db).unwrap();

    // The generated settings again: check passes and migrate keeps its tables.
    project.write("settings.toml", &original);
    let (output, stdout, stderr) = project.manage(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let (output, stdout, stderr) = project.manage(&["migrate"]);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("Applying auth.1_initial... OK"), "{stdout}");
    assert!(project.dir.join("db/db.sqlite3").is_file());
    let (_, stdout, _) = project.manage(&["migrate"]);
    assert!(stdout.contains("No migrations to apply."), "{stdout}");
}

/// What stands where the database's folder goes, `ln -s /nonexistent/x db`
/// or a file: `migrate` and `check` name it with the fix, not "File
/// exists" and a hint to make a writable parent writable (`migrate`), nor
/// nothing (`check`, for the link) or "Cannot inspect … Not a directory"
/// (`check`, for the file). Left as it was.
#[test]
fn a_link_to_nothing_where_the_database_folder_goes_is_named() {
    let project = GeneratedProject::new("database_link_site");
    let db = project.dir.join("db");
    let file = db.join("db.sqlite3");
    let check_says = |what: &str, fix: &str| {
        let (output, stdout, stderr) = project.manage(&["check"]);
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "?: (nuages.E001) The folder {db} of the SQLite database {file} \
                 (databases.default.url) cannot be created: {what}.\n\tHINT: {fix}, or change \
                 databases.default.url\n",
                db = db.display(),
                file = file.display()
            )),
            "{stderr}"
        );
    };

    std::os::unix::fs::symlink("/nonexistent/x", &db).unwrap();
    let (output, stdout, stderr) = project.manage(&["migrate"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "error: cannot create the database folder {db} of databases.default.url: {db} is a link \
             to /nonexistent/x, which does not exist\n  hint: create the link's target or remove the \
             link, or change databases.default.url to a path whose folders are folders\n",
            db = db.display()
        )),
        "{stderr}"
    );
    let link_to_nothing = format!(
        "{} is a link to /nonexistent/x, which does not exist",
        db.display()
    );
    check_says(
        &link_to_nothing,
        "create the link's target or remove the link",
    );
    assert_eq!(
        std::fs::read_link(&db).unwrap(),
        std::path::Path::new("/nonexistent/x")
    );

    // A file there: check names it as migrate does.
    std::fs::remove_file(&db).unwrap();
    project.write("db", "notes\n");
    check_says(
        &format!("{} is a file", db.display()),
        "move or remove that file",
    );
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "notes\n");
}
