//! Users from the command line, on the example site's real SQLite file:
//! `migrate` creates the auth tables and the polls app's permissions,
//! `createsuperuser` (scripted, and typed on a real terminal through
//! `script`'s pseudo-terminal) and `changepassword` write the rows, and
//! `check --deploy` judges the password hasher; Ctrl-C at a password, on a
//! pseudo-terminal of its own, leaves the echo on.

use std::io::{Read as _, Write as _};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nuages::auth::{PasswordHashers, User, authenticate};
use nuages::sqlx::{self, AnyPool};
use nuages_e2e::{Example, require, run, run_with_input, wait_for};

/// The example's default database, and its password hashers.
fn accounts(example: &Example) -> (tokio::runtime::Runtime, AnyPool, PasswordHashers) {
    let settings = mysite::wsgi::project()
        .settings_loader(&example.settings)
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pool = runtime
        .block_on(nuages::db::Databases::new(&settings).get("default"))
        .unwrap();
    (
        runtime,
        pool,
        PasswordHashers::from_settings(&settings).unwrap(),
    )
}

fn user(example: &Example, username: &str) -> Option<User> {
    let (runtime, pool, _) = accounts(example);
    runtime
        .block_on(User::get_by_username(&pool, username))
        .unwrap()
}

fn logs_in(example: &Example, username: &str, password: &str) -> bool {
    let (runtime, pool, hashers) = accounts(example);
    runtime
        .block_on(authenticate(&pool, &hashers, username, password))
        .unwrap()
        .is_some()
}

/// Run the example's `args` on a pseudo-terminal (`script`), answering each
/// question when it appears: `(question, answer)` in order, a question
/// counted from where the previous one was seen. Returns the exit status and
/// everything the terminal showed.
fn on_terminal(
    example: &Example,
    args: &[&str],
    dialogue: &[(&str, &str)],
) -> (ExitStatus, String) {
    let mut line = format!(
        "{} --settings {}",
        example.bin.display(),
        example.settings.display()
    );
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    let mut child = Command::new("/usr/bin/script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_remove("NUAGES_SETTINGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (question, answer) in dialogue {
        let found = wait_for(Duration::from_secs(30), || {
            let text = screen.lock().unwrap();
            text[seen..]
                .find(question)
                .map(|at| seen + at + question.len())
        });
        let Some(end) = found else {
            let _ = child.kill();
            panic!(
                "no {question:?} on the terminal:\n{}",
                screen.lock().unwrap()
            );
        };
        seen = end;
        // Let the command turn the echo off before the answer arrives.
        std::thread::sleep(Duration::from_millis(150));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = screen.lock().unwrap().replace("\r\n", "\n");
    (status, text)
}

#[test]
fn migrate_creates_the_user_tables_and_the_apps_permissions() {
    let example = Example::new();
    let (runtime, pool, _) = accounts(&example);
    let permissions: Vec<(String, String, String)> = runtime
        .block_on(
            sqlx::query_as(
                "SELECT app_label, codename, name FROM auth_permission ORDER BY codename",
            )
            .fetch_all(&pool),
        )
        .unwrap();
    let names: Vec<String> = permissions
        .iter()
        .map(|(app, codename, _)| format!("{app}.{codename}"))
        .collect();
    assert_eq!(
        names,
        [
            "polls.add_question",
            "polls.change_question",
            "polls.delete_question",
            "polls.vote"
        ]
    );
    assert_eq!(permissions[3].2, "Can vote");
    // Running migrate again adds nothing twice.
    let (output, stdout, _) = run(example.command().arg("migrate"));
    assert!(output.status.success());
    assert!(stdout.contains("No migrations to apply."), "{stdout}");
    let (count,): (i64,) = runtime
        .block_on(sqlx::query_as("SELECT COUNT(*) FROM auth_permission").fetch_one(&pool))
        .unwrap();
    assert_eq!(count, 4);
}

/// Several `createsuperuser` at once for one name (containers provisioning
/// the same admin at start): one makes it, the others say the name is
/// taken, never a database error.
#[test]
fn createsuperuser_at_once_for_one_name_makes_one_user() {
    let example = Example::new();
    let args = [
        "createsuperuser",
        "--noinput",
        "--username",
        "racer",
        "--password-stdin",
    ];
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let mut command = example.command();
            command
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = command.spawn().unwrap();
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"plum-violin-orbit-42\n")
                .unwrap();
            child
        })
        .collect();
    let mut made = 0;
    for racer in racers {
        let output = racer.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => made += 1,
            _ => assert!(
                stderr.contains("error: That username is already taken.")
                    || stderr.contains("error: a user named \"racer\" already exists"),
                "{stderr}"
            ),
        }
    }
    assert_eq!(made, 1);
    assert!(user(&example, "racer").is_some());
}

#[test]
fn createsuperuser_without_input_reads_the_password_from_stdin() {
    let example = Example::new();
    let args = [
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        "--password-stdin",
    ];
    let (status, stdout, stderr) = example.piped(&args, "plum-violin-orbit-42\n");
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Superuser created successfully.\n");
    let admin = user(&example, "admin").expect("a row for admin");
    assert!(admin.is_superuser && admin.is_staff && admin.is_active);
    assert_eq!(admin.email, "admin@example.com");
    assert!(
        admin
            .password
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        admin.password
    );
    assert!(logs_in(&example, "admin", "plum-violin-orbit-42"));
    assert!(!logs_in(&example, "admin", "plum-violin-orbit-42\n"));

    let (status, _, stderr) = example.piped(&args, "another-long-passphrase\n");
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains(
            "error: That username is already taken.\n  hint: choose another --username, or set \
             this user's password with `manage changepassword admin`; nothing was changed\n"
        ),
        "{stderr}"
    );
    // An empty stdin (a variable that was not set): refused, saying how to
    // give the password; no user is created.
    let blank = args.map(|arg| if arg == "admin" { "blank" } else { arg });
    let (status, _, stderr) = example.piped(&blank, "\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("error: Blank passwords aren't allowed.\n  hint: put the password on stdin"),
        "{stderr}"
    );
    assert!(user(&example, "blank").is_none());
    // Spaces only are as blank, as on a terminal and for changepassword
    // (ten of them pass every validator).
    let (status, _, stderr) = example.piped(&blank, "          \n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: Blank passwords aren't allowed."),
        "{stderr}"
    );
    assert!(user(&example, "blank").is_none());
    // A NUL, which the login form refuses ("Null characters are not
    // allowed."): the password could never be typed in, so no user.
    let (status, stdout, stderr) = example.piped(&blank, "plum-violin\0orbit-42\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(
            "error: Null characters are not allowed.\n  hint: give the password without its \
             NUL character"
        ),
        "{stderr}"
    );
    assert!(user(&example, "blank").is_none());
    // A line break left after the one line ending taken off (a second line,
    // an extra empty line): no password field sends one, so no user.
    for input in [
        "plum-violin-orbit-42\n\n",
        "plum-violin-orbit-42\nsecond-line\n",
    ] {
        let (status, stdout, stderr) = example.piped(&blank, input);
        assert_eq!(status.code(), Some(1), "{input:?}: {stderr}");
        assert_eq!(stdout, "");
        assert!(
            stderr.contains(
                "error: the password read from stdin holds a line break\n  hint: give the \
                 password alone, on one line"
            ),
            "{stderr}"
        );
        assert!(user(&example, "blank").is_none());
    }

    // A look-alike in full-width letters is the same name once NFKC'd (Django's
    // normalize_username): taken too, and it logs in as admin.
    let look_alike = args.map(|arg| {
        if arg == "admin" {
            "ａｄｍｉｎ"
        } else {
            arg
        }
    });
    let (status, _, stderr) = example.piped(&look_alike, "another-long-passphrase\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: That username is already taken."),
        "{stderr}"
    );

    // A mistyped --email or --username names the flag and the fix.
    let bad_email = args.map(|arg| match arg {
        "admin" => "erin",
        "admin@example.com" => "erin.example.com",
        other => other,
    });
    let (status, _, stderr) = example.piped(&bad_email, "another-long-passphrase\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: --email \"erin.example.com\": Enter a valid email address.\n  \
             hint: give --email an address such as name@example.com, or leave --email out; \
             nothing was changed\n"
        ),
        "{stderr}"
    );
    assert!(user(&example, "erin").is_none());
    // An address longer than the column (254 characters), valid as one.
    let long_email = format!(
        "{}@{}example.com",
        "e".repeat(64),
        format!("{}.", "d".repeat(63)).repeat(3)
    );
    let too_long = args.map(|arg| match arg {
        "admin" => "erin",
        "admin@example.com" => long_email.as_str(),
        other => other,
    });
    let (status, _, stderr) = example.piped(&too_long, "another-long-passphrase\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(": Ensure this value has at most 254 characters (it has 268).\n"),
        "{stderr}"
    );
    assert!(user(&example, "erin").is_none());
    let bad_name = args.map(|arg| if arg == "admin" { "erin smith" } else { arg });
    let (status, _, stderr) = example.piped(&bad_name, "another-long-passphrase\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: --username \"erin smith\": Enter a valid username.")
            && stderr.contains("hint: give --username a name of letters, digits and @/./+/-/_"),
        "{stderr}"
    );

    let (status, _, stderr) = example.piped(&["createsuperuser", "--noinput"], "");
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("You must use --username with --noinput."),
        "{stderr}"
    );

    let weak = [
        "createsuperuser",
        "--noinput",
        "--username",
        "weak",
        "--password-stdin",
    ];
    let (status, _, stderr) = example.piped(&weak, "password\n");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("This password is too common."), "{stderr}");
    assert!(
        stderr.contains("hint: choose a stronger password"),
        "{stderr}"
    );
    assert!(
        user(&example, "weak").is_none(),
        "no row for a refused password"
    );

    let (status, _, stderr) = example.piped(&["createsuperuser", "--password-stdin"], "x\n");
    assert_eq!(
        status.code(),
        Some(2),
        "--password-stdin needs --noinput: {stderr}"
    );

    // A password piped without --password-stdin, or in Django's variable,
    // is not read: the user cannot log in, and stderr says so.
    let (status, stdout, stderr) = run_with_input(
        example
            .command()
            .args(["createsuperuser", "--noinput", "--username", "keyless"])
            .env("DJANGO_SUPERUSER_PASSWORD", "plum-violin-orbit"),
        "plum-violin-orbit\n",
    );
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Superuser created successfully.\n");
    assert_eq!(
        stderr,
        "warning: keyless has no usable password and cannot log in \
         (DJANGO_SUPERUSER_PASSWORD is not read)\n  \
         hint: set one with `manage changepassword keyless`, or create the user \
         with the password on stdin and --password-stdin\n"
    );
    let keyless = user(&example, "keyless").unwrap();
    assert!(keyless.password.starts_with('!') && !keyless.has_usable_password());
}

#[test]
fn createsuperuser_asks_on_a_terminal_and_refuses_a_pipe() {
    let example = Example::new();
    let (status, _, stderr) = example.piped(&["createsuperuser"], "jane\n");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("not running in a terminal"), "{stderr}");
    assert!(
        stderr.contains("--noinput --username NAME --email EMAIL --password-stdin"),
        "{stderr}"
    );
    assert!(user(&example, "jane").is_none());

    if !require("/usr/bin/script") {
        return;
    }
    let (status, screen) = on_terminal(
        &example,
        &["createsuperuser"],
        &[
            ("Username", "jane doe"),
            ("Username", "jane"),
            ("Email address: ", "not-an-email"),
            ("Email address: ", "jane@example.com"),
            ("Password: ", "first-try-secret"),
            ("Password (again): ", "first-try-secreT"),
            ("Password: ", "first-try\0secret"),
            ("Password (again): ", "first-try\0secret"),
            ("Password: ", "password"),
            ("Password (again): ", "password"),
            (
                "Bypass password validation and create user anyway? [y/N]: ",
                "n",
            ),
            ("Password: ", "plum-violin-orbit-42"),
            ("Password (again): ", "plum-violin-orbit-42"),
        ],
    );
    assert!(status.success(), "{screen}");
    for error in [
        "Error: Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        "Error: Enter a valid email address.",
        "Error: Your passwords didn't match.",
        "Error: Null characters are not allowed.",
        "This password is too common.",
    ] {
        assert!(screen.contains(error), "{error}: {screen}");
    }
    assert!(
        screen.ends_with("Superuser created successfully.\n"),
        "{screen}"
    );
    for secret in ["first-try-secret", "plum-violin-orbit-42"] {
        assert!(
            !screen.contains(secret),
            "the password was echoed: {screen}"
        );
    }
    let jane = user(&example, "jane").expect("a row for jane");
    assert!(jane.is_superuser && jane.is_staff);
    assert_eq!(jane.email, "jane@example.com");
    assert!(logs_in(&example, "jane", "plum-violin-orbit-42"));

    // Bypassing the validators keeps the weak password, as Django allows.
    let (status, screen) = on_terminal(
        &example,
        &["createsuperuser", "--username", "jane"],
        &[
            ("Username", "bob"),
            ("Email address: ", ""),
            ("Password: ", "bob12345"),
            ("Password (again): ", "bob12345"),
            (
                "Bypass password validation and create user anyway? [y/N]: ",
                "y",
            ),
        ],
    );
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains("Error: That username is already taken."),
        "{screen}"
    );
    assert!(screen.contains("This password is too common."), "{screen}");
    assert!(logs_in(&example, "bob", "bob12345"));
}

#[test]
fn changepassword_sets_a_validated_password() {
    let example = Example::new();
    let create = [
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--password-stdin",
    ];
    let (status, _, stderr) = example.piped(&create, "plum-violin-orbit-42");
    assert!(status.success(), "{stderr}");
    let before = user(&example, "admin").unwrap().password;

    let change = ["changepassword", "admin", "--password-stdin"];
    let (status, stdout, stderr) = example.piped(&change, "ochre-lantern-basin-7\n");
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Password changed successfully for user 'admin'\n");
    assert_ne!(user(&example, "admin").unwrap().password, before);
    assert!(logs_in(&example, "admin", "ochre-lantern-basin-7"));
    assert!(!logs_in(&example, "admin", "plum-violin-orbit-42"));

    // The name typed as the login form takes it (NFKC): full-width letters
    // are the user stored as `admin`, who is named as stored.
    let wide = ["changepassword", "ａｄｍｉｎ", "--password-stdin"];
    let (status, stdout, stderr) = example.piped(&wide, "amber-quarry-salt-3\n");
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Password changed successfully for user 'admin'\n");
    assert!(logs_in(&example, "admin", "amber-quarry-salt-3"));
    let (status, _, stderr) = example.piped(&change, "ochre-lantern-basin-7\n");
    assert!(status.success(), "{stderr}");

    let (status, _, stderr) = example.piped(&change, "12345\n");
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("This password is too short. It must contain at least 8 characters.\nThis password is too common.\nThis password is entirely numeric."),
        "{stderr}"
    );
    assert!(
        logs_in(&example, "admin", "ochre-lantern-basin-7"),
        "unchanged"
    );

    // A NUL, which the login form refuses: the password stays as it was.
    let (status, stdout, stderr) = example.piped(&change, "ochre-lantern\0basin-8\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(
            "error: Null characters are not allowed.\n  hint: give the password without its \
             NUL character"
        ),
        "{stderr}"
    );
    assert!(
        logs_in(&example, "admin", "ochre-lantern-basin-7"),
        "unchanged"
    );

    // An empty stdin: how to give the password, not "choose a stronger one".
    let (status, _, stderr) = example.piped(&change, "\n");
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr
            .contains("error: Blank passwords aren't allowed.\n  hint: put the password on stdin"),
        "{stderr}"
    );

    let (status, _, stderr) = example.piped(&["changepassword", "ghost", "--password-stdin"], "x");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("user 'ghost' does not exist"), "{stderr}");

    // Without a terminal, a user who does not exist is still what is
    // reported: that is the first thing to fix.
    let (status, stdout, stderr) = example.piped(&["changepassword", "ghost"], "");
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: user 'ghost' does not exist\n  hint: `manage createsuperuser` creates one\n"
    );

    let (status, _, stderr) = example.piped(&["changepassword", "admin"], "ochre\n");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("stdin is not one"), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");

    if !require("/usr/bin/script") {
        return;
    }
    let (status, screen) = on_terminal(
        &example,
        &["changepassword", "admin"],
        &[
            ("Password: ", "velvet-quarry-88"),
            ("Password (again): ", "velvet-quarry-89"),
            ("Password: ", "admin"),
            ("Password (again): ", "admin"),
            ("Password: ", "velvet-quarry-88"),
            ("Password (again): ", "velvet-quarry-88"),
        ],
    );
    assert!(status.success(), "{screen}");
    for said in [
        "Changing password for user 'admin'",
        "Passwords do not match. Please try again.",
        "This password is too short. It must contain at least 8 characters.",
        "The password is too similar to the username.",
    ] {
        assert!(screen.contains(said), "{said}: {screen}");
    }
    assert!(
        screen.ends_with("Password changed successfully for user 'admin'\n"),
        "{screen}"
    );
    assert!(!screen.contains("velvet-quarry"), "echoed: {screen}");
    assert!(logs_in(&example, "admin", "velvet-quarry-88"));

    let (status, screen) = on_terminal(
        &example,
        &["changepassword", "admin"],
        &[
            ("Password: ", "a"),
            ("Password (again): ", "b"),
            ("Password: ", "a"),
            ("Password (again): ", "b"),
            ("Password: ", "a"),
            ("Password (again): ", "b"),
        ],
    );
    assert_eq!(status.code(), Some(1), "{screen}");
    assert!(
        screen.contains("Aborting password change for user 'admin' after 3 attempts"),
        "{screen}"
    );
    assert!(logs_in(&example, "admin", "velvet-quarry-88"), "unchanged");
}

#[test]
fn check_deploy_judges_the_password_hasher() {
    let example = Example::new();
    let with = |extra: &str| {
        let settings = example.dir.path().join("hashers.toml");
        std::fs::write(
            &settings,
            format!(
                "extends = {:?}\n{extra}\n",
                example.settings.display().to_string()
            ),
        )
        .unwrap();
        example.command_with(&settings)
    };
    let (output, stdout, stderr) = run(with("password_hashers = [\"md5\", \"argon2\"]")
        .args(["check", "--deploy", "--tag", "auth"]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let report = format!("{stdout}{stderr}");
    assert!(
        report.contains("?: (nuages.E041) password_hashers starts with \"md5\""),
        "{report}"
    );
    assert!(report.contains("HINT: put \"argon2\" first"), "{report}");

    let (output, stdout, stderr) = run(with("password_hashers = [\"argon2id\"]").arg("check"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let report = format!("{stdout}{stderr}");
    assert!(
        report.contains("?: (nuages.E040) password_hashers names an unknown hasher \"argon2id\""),
        "{report}"
    );
    assert!(
        report.contains("HINT: did you mean \"argon2\"?"),
        "{report}"
    );

    // The application refuses to start with it, with the same words.
    let settings = mysite::wsgi::project()
        .settings_loader(example.dir.path().join("hashers.toml"))
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let error = nuages::Application::new(mysite::wsgi::project(), settings).unwrap_err();
    assert_eq!(
        error.to_string(),
        "password_hashers names an unknown hasher \"argon2id\""
    );

    let (output, stdout, stderr) = run(with("").args(["check", "--deploy", "--tag", "auth"]));
    assert!(output.status.success(), "{stdout}{stderr}");
}

/// A command of the example on a pseudo-terminal of its own, its
/// controlling terminal: a Ctrl-C typed there is SIGINT to it, as in a
/// shell. The terminal's slave side stays open here, to read its settings
/// after the command has exited.
struct Pty {
    master: std::fs::File,
    slave: std::os::fd::OwnedFd,
    child: std::process::Child,
    screen: Arc<Mutex<String>>,
    seen: usize,
}

impl Pty {
    fn spawn(example: &Example, args: &[&str]) -> Pty {
        use std::os::fd::{FromRawFd as _, OwnedFd};
        use std::os::unix::process::CommandExt as _;
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty fills the two descriptors it is given.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are new and owned here.
        let (master, slave) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                OwnedFd::from_raw_fd(slave),
            )
        };
        let mut command = example.command();
        command
            .args(args)
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap());
        // SAFETY: setsid and ioctl are async-signal-safe; stdin is the
        // terminal by now.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        // The child's copies of the slave close with the command.
        drop(command);
        let screen = Arc::new(Mutex::new(String::new()));
        let mut reader = master.try_clone().unwrap();
        let shown = screen.clone();
        // Reads until the slave closes (EIO), when the Pty is dropped.
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Pty {
            master,
            slave,
            child,
            screen,
            seen: 0,
        }
    }

    /// Wait for `text` to show after what was waited for before.
    fn wait_for(&mut self, text: &str) {
        let seen = self.seen;
        let found = wait_for(Duration::from_secs(30), || {
            let screen = self.screen.lock().unwrap();
            screen[seen..].find(text).map(|at| seen + at + text.len())
        });
        match found {
            Some(end) => self.seen = end,
            None => {
                let _ = self.child.kill();
                panic!("no {text:?} on the terminal:\n{}", self.screen());
            }
        }
    }

    /// Type `bytes`.
    fn type_in(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    /// Whether the terminal echoes what is typed.
    fn echoes(&self) -> bool {
        use std::os::fd::AsRawFd as _;
        // SAFETY: tcgetattr fills the termios of a terminal open here.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut settings) },
            0
        );
        settings.c_lflag & libc::ECHO != 0
    }

    /// The exit status, within 30 s.
    fn wait(&mut self) -> ExitStatus {
        wait_for(Duration::from_secs(30), || self.child.try_wait().unwrap()).unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!("still running:\n{}", self.screen())
        })
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().replace("\r\n", "\n")
    }
}

/// Ctrl-C at a password prompt turns the terminal's echo back on (as
/// Python's getpass does) and ends the command as interrupted: exit 130,
/// "Operation cancelled.", no row written. At any other question too, the
/// command says so rather than vanishing.
#[test]
fn ctrl_c_at_a_password_restores_the_echo() {
    let example = Example::new();
    let mut pty = Pty::spawn(&example, &["createsuperuser"]);
    pty.wait_for("Username");
    pty.type_in(b"\x03");
    assert_eq!(pty.wait().code(), Some(130), "{}", pty.screen());
    pty.wait_for("\nerror: Operation cancelled.");
    let mut pty = Pty::spawn(&example, &["createsuperuser"]);
    pty.wait_for("Username");
    pty.type_in(b"ctrlc\n");
    pty.wait_for("Email address: ");
    pty.type_in(b"half\x03");
    assert_eq!(pty.wait().code(), Some(130), "{}", pty.screen());
    pty.wait_for("\nerror: Operation cancelled.");
    assert!(user(&example, "ctrlc").is_none());

    let mut pty = Pty::spawn(&example, &["createsuperuser"]);
    assert!(pty.echoes());
    pty.wait_for("Username");
    pty.type_in(b"ctrlc\n");
    pty.wait_for("Email address: ");
    pty.type_in(b"\n");
    pty.wait_for("Password: ");
    assert!(!pty.echoes(), "the echo is off while the password is typed");
    pty.type_in(b"half-typed\x03");
    let status = pty.wait();
    assert_eq!(status.code(), Some(130), "{status:?}: {}", pty.screen());
    assert!(pty.echoes(), "the echo is back on: {}", pty.screen());
    // The message shows once the reader has drained the terminal.
    pty.wait_for("\nerror: Operation cancelled.");
    assert!(!pty.screen().contains("half-typed"), "{}", pty.screen());
    assert!(user(&example, "ctrlc").is_none());

    example.create_superuser(
        &example.settings,
        "admin",
        "admin@example.com",
        "plum-violin-orbit-42",
    );
    let mut pty = Pty::spawn(&example, &["changepassword", "admin"]);
    pty.wait_for("Password: ");
    pty.type_in(b"\x03");
    assert_eq!(pty.wait().code(), Some(130), "{}", pty.screen());
    assert!(pty.echoes(), "{}", pty.screen());
    assert!(logs_in(&example, "admin", "plum-violin-orbit-42"));
}
