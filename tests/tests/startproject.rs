//! `manage startproject` and `manage startapp` as a user types them: refused
//! names, folders left untouched, the generated tree, the keys.

use nuages_e2e::{example_path, manage, run, workspace_root};

/// Each `(name, rule, suggestion)`: `startproject name` exits 1 naming the
/// rule and suggesting a name, and creates nothing.
fn assert_refused(cases: &[(&str, &str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, rule, suggestion) in cases {
        let (output, stdout, stderr) = run(manage(dir.path()).args(["startproject", name]));
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout}{stderr}");
        assert!(
            stderr.starts_with(&format!("error: '{name}' is not a valid project name")),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(rule), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("  hint: try '{suggestion}'")),
            "{name}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing may be created"
    );
}

#[test]
fn each_refused_name_says_which_rule_and_creates_nothing() {
    assert_refused(&[
        ("1abc", "must not start with a digit", "project_1abc"),
        ("my-site", "'-' is not allowed", "my_site"),
        ("fn", "Rust keyword", "my_fn"),
        ("crate", "Rust keyword", "my_crate"),
        ("self", "Rust keyword", "my_self"),
        ("Self", "lowercase", "my_self"),
        ("super", "Rust keyword", "my_super"),
        ("async", "Rust keyword", "my_async"),
        ("std", "standard crate", "my_std"),
        ("core", "standard crate", "my_core"),
        ("alloc", "standard crate", "my_alloc"),
        ("proc_macro", "standard crate", "my_proc_macro"),
        ("test", "standard crate", "my_test"),
        ("nuages", "depends on", "my_nuages"),
        ("axum", "depends on", "my_axum"),
        ("tokio", "depends on", "my_tokio"),
        ("serde", "depends on", "my_serde"),
        ("tera", "depends on", "my_tera"),
        ("sqlx", "depends on", "my_sqlx"),
    ]);
}

#[test]
fn a_non_empty_folder_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mysite");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "mine").unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "mysite"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("already exists and is not empty"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    let entries: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "mine"
    );
    // An explicit DIR that is a file is refused too.
    let (output, _, stderr) =
        run(manage(dir.path()).args(["startproject", "other", "mysite/notes.txt"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "mine"
    );
    // A DIR that cannot be created (below a file): the error and a hint.
    let (output, _, stderr) =
        run(manage(dir.path()).args(["startproject", "other", "mysite/notes.txt/other"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: cannot write mysite/notes.txt/other: Not a directory (os error 20)\n  \
         hint: a part of that path is a file, not a folder: choose another folder\n"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// `startproject p mine` into an existing empty folder, stopped by a file
/// size limit at Cargo.lock: the error names the file and the hint the
/// cause, the folder is left empty (no src/, static/css/, … of the attempt),
/// and once the limit is gone the same command succeeds.
#[test]
fn a_failed_write_leaves_an_existing_folder_as_it_was() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    let mut command = manage(dir.path());
    command.args(["startproject", "p", "mine"]);
    // SAFETY: only signal and setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // Ignored, a write past the limit fails with EFBIG instead of
            // killing the process, as after `trap '' XFSZ; ulimit -f 4`.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (output, stdout, stderr) = run(&mut command);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        "error: cannot write mine/Cargo.lock: File too large (os error 27)\n  \
         hint: a file is larger than this process may write (ulimit -f): raise the limit, then \
         run it again\n"
    );
    let left: Vec<_> = std::fs::read_dir(&mine)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let (output, stdout, stderr) = run(manage(dir.path()).args(["startproject", "p", "mine"]));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(mine.join("Cargo.lock").is_file());
}

#[test]
fn the_generated_tree_matches_the_design() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stdout, stderr) =
        run(manage(dir.path()).args(["startproject", "mysite", "deep/new/site"]));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Next steps:"), "{stdout}");
    // `check --deploy` judges the production settings: with settings.toml's
    // debug = true it could only fail.
    assert!(
        stdout.ends_with(
            "\n  NUAGES_SETTINGS=settings.production.toml manage check --deploy   # before going live\n"
        ),
        "{stdout}"
    );
    let root = dir.path().join("deep/new/site");
    for file in [
        "Cargo.toml",
        "settings.toml",
        "settings.production.toml",
        "src/lib.rs",
        "src/main.rs",
        "src/wsgi.rs",
        "src/urls.rs",
        "templates/base.html",
        "static/css/site.css",
        ".gitignore",
        "tests/smoke.rs",
    ] {
        assert!(root.join(file).is_file(), "{file} is missing");
    }
    let mut leftovers = Vec::new();
    for entry in walk(&root) {
        let text = entry.to_string_lossy().to_string();
        if text.ends_with("-tpl") || text.contains("project_name") {
            leftovers.push(text.clone());
        }
        if let Ok(contents) = std::fs::read_to_string(&entry) {
            assert!(
                !contents.contains("{{ project_name }}"),
                "{text} was not rendered"
            );
            assert!(
                !contents.contains("{{ secret_key }}"),
                "{text} was not rendered"
            );
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("name = \"mysite\""));
    assert!(
        cargo.contains("[workspace]"),
        "the project is its own workspace"
    );
    let framework = nuages_e2e::workspace_root().join("framework");
    assert!(
        cargo.contains(&format!(
            "nuages = {{ path = \"{}\" }}",
            framework.display()
        )),
        "{cargo}"
    );
    // The versions the framework's checkout was tested with, for the first build.
    assert_eq!(
        std::fs::read(root.join("Cargo.lock")).unwrap(),
        std::fs::read(nuages_e2e::workspace_root().join("Cargo.lock")).unwrap(),
        "Cargo.lock is the checkout's"
    );
    let wsgi = std::fs::read_to_string(root.join("src/wsgi.rs")).unwrap();
    assert!(wsgi.contains("pub fn application()"));
    let settings = std::fs::read_to_string(root.join("settings.toml")).unwrap();
    assert!(settings.contains("debug = true"));
    assert!(settings.contains("static_root = \"www_dir/static\""));
    let production = std::fs::read_to_string(root.join("settings.production.toml")).unwrap();
    assert!(production.contains("extends = \"settings.toml\""));
    assert!(production.contains("secret_key = \"${SECRET_KEY}\""));
    assert!(production.contains("log_file = \"logs/mysite.log\""));
    assert!(production.contains("serve_user = \"mysite\""));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn secret_key_of(dir: &std::path::Path) -> String {
    let settings = std::fs::read_to_string(dir.join("settings.toml")).unwrap();
    let line = settings
        .lines()
        .find(|l| l.starts_with("secret_key = "))
        .unwrap();
    line.trim_start_matches("secret_key = ")
        .trim_matches('"')
        .to_string()
}

#[test]
fn two_projects_get_different_insecure_keys() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["one", "two"] {
        let (output, _, stderr) = run(manage(dir.path()).args(["startproject", name]));
        assert!(output.status.success(), "{stderr}");
    }
    let one = secret_key_of(&dir.path().join("one"));
    let two = secret_key_of(&dir.path().join("two"));
    assert_ne!(one, two);
    for key in [&one, &two] {
        assert!(key.starts_with("nuages-insecure-"), "{key}");
        assert_eq!(key.len(), "nuages-insecure-".len() + 50, "{key}");
    }
}

#[test]
fn nuages_version_and_path_override_the_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) =
        run(manage(dir.path()).args(["startproject", "a", "--nuages-version", "0.1.0"]));
    assert!(output.status.success(), "{stderr}");
    let cargo = std::fs::read_to_string(dir.path().join("a/Cargo.toml")).unwrap();
    assert!(cargo.contains("nuages = \"0.1.0\""), "{cargo}");
    // A published version's lock is not this checkout's to give.
    assert!(!dir.path().join("a/Cargo.lock").exists());
    let (output, _, stderr) =
        run(manage(dir.path()).args(["startproject", "b", "--nuages-path", "/nonexistent"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("--nuages-path"), "{stderr}");
    assert!(!dir.path().join("b").exists());
    // What Cargo would refuse at the first build is refused now, nothing written.
    for version in ["not a version", "1.x.3", "01.2", "0.1\" evil"] {
        let (output, _, stderr) =
            run(manage(dir.path()).args(["startproject", "c", "--nuages-version", version]));
        assert_eq!(output.status.code(), Some(1), "{version}: {stderr}");
        assert!(stderr.contains("is not a version requirement"), "{stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        assert!(!dir.path().join("c").exists(), "{version}");
    }
}

#[test]
fn commands_outside_a_project_exit_2_naming_startproject() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["runserver", "check", "migrate"] {
        let (output, _, stderr) = run(manage(dir.path()).arg(command));
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains("manage startproject"), "{stderr}");
    }
}

#[test]
fn version_names_manage_and_the_framework() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stdout, _) = run(manage(dir.path()).arg("--version"));
    assert!(output.status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
    assert!(stdout.contains("Nuages"), "{stdout}");
}

#[test]
fn the_project_binarys_startapp_writes_where_the_user_is_not_where_it_was_built() {
    // As Django's `manage.py startapp`: the app goes into the project the
    // current folder is in, as `manage startapp` puts it; the binary's own
    // source tree (the example project) is never written.
    let example_src = workspace_root().join("example_project/src");
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "site"]));
    assert!(output.status.success(), "{stderr}");
    let project = dir.path().join("site");
    let mysite = || {
        let mut command = std::process::Command::new(example_path());
        for (key, _) in std::env::vars() {
            if key.starts_with("NUAGES_") {
                command.env_remove(key);
            }
        }
        command
    };
    let (output, stdout, stderr) = run(mysite()
        .current_dir(project.join("src"))
        .args(["startapp", "blog"]));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "Created app 'blog' in {}.",
            project.join("src/blog").display()
        )),
        "{stdout}"
    );
    assert!(project.join("src/blog/mod.rs").is_file());
    assert!(
        !example_src.join("blog").exists(),
        "written into the example"
    );
    // Outside any project: refused, as `manage startapp`, and nothing written.
    let outside = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(mysite()
        .current_dir(outside.path())
        .args(["startapp", "news"]));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: there is no Nuages project in {} or above",
            outside.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: create one with `manage startproject NAME`"),
        "{stderr}"
    );
    assert!(
        !example_src.join("news").exists(),
        "written into the example"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn startapp_creates_the_app_and_prints_the_line_to_register_it() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "mysite"]));
    assert!(output.status.success(), "{stderr}");
    let project = dir.path().join("mysite");
    let (output, stdout, stderr) = run(manage(&project.join("src")).args(["startapp", "polls"]));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("pub mod polls;"), "{stdout}");
    assert!(stdout.contains("vec![polls::app()]"), "{stdout}");
    for file in ["mod.rs", "urls.rs", "views.rs", "models.rs"] {
        assert!(project.join("src/polls").join(file).is_file(), "{file}");
    }
    for folder in ["migrations", "templates/polls", "static/polls"] {
        assert!(project.join("src/polls").join(folder).is_dir(), "{folder}");
    }
    // Again: refused, nothing touched.
    std::fs::write(project.join("src/polls/views.rs"), "// mine").unwrap();
    let (output, _, stderr) = run(manage(&project).args(["startapp", "polls"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(project.join("src/polls/views.rs")).unwrap(),
        "// mine"
    );
    let (output, _, stderr) = run(manage(&project).args(["startapp", "my-app"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("hint: try 'my_app'"), "{stderr}");
    let (output, _, stderr) = run(manage(&project).args(["startapp", "urls"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("already has a module"), "{stderr}");
    // Labels taken by migrations (nuages.E049): the framework's and the project's.
    for (name, said) in [
        ("auth", "the framework's auth migrations use that label"),
        (
            "sessions",
            "the framework's sessions migrations use that label",
        ),
        ("mysite", "'mysite' is the project's own name"),
    ] {
        let (output, _, stderr) = run(manage(&project).args(["startapp", name]));
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(said), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("hint: try '{name}_app'")),
            "{name}: {stderr}"
        );
        assert!(!project.join("src").join(name).exists(), "{name}");
    }
}

#[test]
fn names_cargo_refuses_for_a_binary_are_refused_with_a_hint() {
    assert_refused(&[
        ("build", "build folders", "my_build"),
        ("deps", "build folders", "my_deps"),
        ("examples", "build folders", "my_examples"),
        ("incremental", "build folders", "my_incremental"),
        ("con", "Windows reserves", "my_con"),
        ("nul", "Windows reserves", "my_nul"),
        ("lpt9", "Windows reserves", "my_lpt9"),
    ]);
}

#[test]
fn a_typo_of_a_command_outside_a_project_gets_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    for (typed, meant) in [
        ("startprojcet", "startproject"),
        ("startproj", "startproject"),
        ("startap", "startapp"),
        ("hepl", "help"),
    ] {
        let (output, _, stderr) = run(manage(dir.path()).args([typed, "mysite"]));
        assert_eq!(output.status.code(), Some(2), "{typed}: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: unknown command '{typed}'\n  hint: did you mean '{meant}'? `manage --help` lists the commands\n"
            )
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_generated_manifest_shows_how_to_take_nuages_from_a_registry_or_git() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "mysite"]));
    assert!(output.status.success(), "{stderr}");
    let cargo = std::fs::read_to_string(dir.path().join("mysite/Cargo.toml")).unwrap();
    // Each commented form, uncommented, is a dependency cargo reads.
    let forms: Vec<toml::Value> = cargo
        .lines()
        .filter_map(|line| line.strip_prefix("#   nuages = "))
        .map(|form| {
            let form = form.split("  #").next().unwrap();
            let table: toml::Table = format!("nuages = {form}")
                .parse()
                .unwrap_or_else(|e| panic!("{form}: {e}"));
            table["nuages"].clone()
        })
        .collect();
    let version = nuages::VERSION;
    assert!(
        forms.contains(&toml::Value::String(version.into())),
        "a crates.io version: {cargo}"
    );
    let has = |key: &str| forms.iter().any(|f| f.get(key).is_some());
    assert!(has("registry") && has("git") && has("path"), "{cargo}");
    assert!(
        forms
            .iter()
            .filter_map(|f| f.get("version"))
            .all(|v| v.as_str() == Some(version)),
        "{cargo}"
    );
}

#[test]
fn project_commands_show_cargo_building_and_nothing_when_fresh() {
    let project = nuages_e2e::GeneratedProject::new("progress_site");
    // The first command builds the project: cargo says what it compiles.
    let (output, _, stderr) = project.manage(&["runserver", "abc:"]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Compiling progress_site v0.1.0"),
        "the build is shown: {stderr}"
    );
    assert!(stderr.contains("Finished"), "{stderr}");
    assert!(
        stderr.contains("error: 'abc:' is not a valid port number"),
        "{stderr}"
    );
    // Nothing to build: only the command's own words.
    let (output, _, stderr) = project.manage(&["runserver", "abc:"]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: 'abc:' is not a valid port number"),
        "{stderr}"
    );
    // Help and usage lines name `manage`, the command typed, not the
    // project's binary, which is not on the PATH.
    let (output, stdout, stderr) = project.manage(&["help"]);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("\nUsage: manage [OPTIONS] <COMMAND>\n"),
        "{stdout}"
    );
    let (output, _, stderr) = project.manage(&["deployconfig"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\nUsage: manage deployconfig <kind>\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("progress_site deployconfig"), "{stderr}");
}

/// `[dependencies` left unclosed, on line 8 of a generated Cargo.toml.
fn break_manifest(project: &std::path::Path) -> std::path::PathBuf {
    let manifest = project.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = text.replacen("[dependencies]", "[dependencies", 1);
    assert_ne!(broken, text, "{text}");
    std::fs::write(&manifest, broken).unwrap();
    manifest
}

/// Each command `manage` runs in `dir` fails (exit 1) naming `manifest` and
/// where TOML stopped reading it, with a hint, and runs nothing.
fn assert_broken_manifest_reported(dir: &std::path::Path, manifest: &std::path::Path) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let line = text
        .lines()
        .position(|l| l == "[dependencies")
        .expect("the broken line")
        + 1;
    for args in [&["check"][..], &["help"], &["startapp", "blog"], &["chekc"]] {
        let (output, stdout, stderr) = run(manage(dir).args(args));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        let expected = format!(
            "error: {} is not valid TOML at line {line}, column ",
            manifest.display()
        );
        assert!(stderr.starts_with(&expected), "{args:?}: {stderr}");
        assert!(
            stderr.contains("\n  hint: fix it (cargo cannot build with it either)"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("Compiling"), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
    }
    assert!(!manifest.parent().unwrap().join("src/blog").exists());
}

#[test]
fn a_broken_cargo_toml_is_reported_not_taken_for_no_project() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "p"]));
    assert!(output.status.success(), "{stderr}");
    let project = dir.path().join("p");
    let manifest = break_manifest(&project);
    assert_broken_manifest_reported(&project.join("src"), &manifest);
}

#[test]
fn a_broken_cargo_toml_never_falls_through_to_an_outer_project() {
    let dir = tempfile::tempdir().unwrap();
    // The outer project cannot build: reaching it fails fast, and visibly.
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"outer\"\n[dependencies]\nnuages = { path = \"/nonexistent\" }\n",
    )
    .unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "inner"]));
    assert!(output.status.success(), "{stderr}");
    let inner = dir.path().join("inner");
    let manifest = break_manifest(&inner);
    assert_broken_manifest_reported(&inner, &manifest);
}

#[test]
fn nuages_path_must_be_the_framework_crate_not_a_checkout_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = nuages_e2e::workspace_root();
    let (output, stdout, stderr) = run(manage(dir.path()).args([
        "startproject",
        "vv",
        "--nuages-path",
        root.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: --nuages-path {} is not the nuages crate: its Cargo.toml is a workspace manifest, without [package] name = \"nuages\"\n  hint: give the folder of the framework crate: --nuages-path {}; nothing was created\n",
            root.display(),
            root.join("framework").display()
        )
    );
    // Another crate, and a manifest that is not TOML.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for (manifest, found) in [
        (
            "[package]\nname = \"serde\"\n",
            "its Cargo.toml is the package \"serde\", not \"nuages\"",
        ),
        ("[package\n", "Cargo.toml is not valid TOML at line 1"),
    ] {
        std::fs::write(other.join("Cargo.toml"), manifest).unwrap();
        let (output, _, stderr) =
            run(manage(dir.path()).args(["startproject", "vv", "--nuages-path", "other"]));
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: --nuages-path other is not the nuages crate: "),
            "{stderr}"
        );
        assert!(stderr.contains(found), "{stderr}");
        assert!(
            stderr.contains("\n  hint: give the folder of the framework crate, framework/ in a Nuages checkout; nothing was created\n"),
            "{stderr}"
        );
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["other"], "nothing may be created");
    // The framework crate itself is taken.
    let framework = root.join("framework");
    let (output, _, stderr) = run(manage(dir.path()).args([
        "startproject",
        "vv",
        "--nuages-path",
        framework.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{stderr}");
    assert!(dir.path().join("vv/Cargo.lock").is_file());
    let cargo = std::fs::read_to_string(dir.path().join("vv/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!(
            "nuages = {{ path = \"{}\" }}",
            framework.display()
        )),
        "{cargo}"
    );
}

#[test]
fn a_project_made_in_the_current_folder_is_not_told_to_cd_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = dir.path().join("absolute");
    for (folder, given) in [
        (dir.path().join("dot"), "."),
        (dir.path().join("slash"), "./"),
        (absolute.clone(), absolute.to_str().unwrap()),
    ] {
        std::fs::create_dir(&folder).unwrap();
        let (output, stdout, stderr) = run(manage(&folder).args(["startproject", "x", given]));
        assert!(output.status.success(), "{given}: {stderr}");
        assert!(
            stdout.starts_with(
                "Created project 'x' in the current folder.\n\nNext steps:\n  manage runserver "
            ),
            "{given}: {stdout}"
        );
        assert!(!stdout.contains("cd "), "{given}: {stdout}");
        assert!(folder.join("Cargo.toml").is_file(), "{given}");
    }
    // Elsewhere, the folder is named and cd'd into.
    let (output, stdout, stderr) = run(manage(dir.path()).args(["startproject", "y"]));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("Created project 'y' in y.\n\nNext steps:\n  cd y\n  manage runserver "),
        "{stdout}"
    );
    // A folder a shell would split or expand is quoted in the line to paste.
    let (output, stdout, stderr) =
        run(manage(dir.path()).args(["startproject", "z", "with space/and$dollar"]));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("\n  cd 'with space/and$dollar'\n  manage runserver "),
        "{stdout}"
    );
}

#[test]
fn a_name_longer_than_64_characters_is_refused_with_a_shorter_one() {
    let long = "a".repeat(300);
    let longest = "a".repeat(64);
    assert_refused(&[
        (
            &long,
            "it is 300 characters long; at most 64 are allowed",
            &longest,
        ),
        (&"b".repeat(65), "at most 64 are allowed", &"b".repeat(64)),
    ]);
    // 64 are allowed; an app's name follows the same rule.
    let dir = tempfile::tempdir().unwrap();
    let project_name = "b".repeat(64);
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", &project_name]));
    assert!(
        output.status.success(),
        "64 characters are allowed: {stderr}"
    );
    let project = dir.path().join(&project_name);
    let sources = || std::fs::read_dir(project.join("src")).unwrap().count();
    let before = sources();
    let (output, _, stderr) = run(manage(&project).args(["startapp", &long]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: '{long}' is not a valid app name: it is 300 characters long; at most 64 are allowed, as on crates.io (the name becomes names of files and folders, which have limits)\n  hint: try '{longest}'\n"
        )
    );
    assert_eq!(sources(), before, "nothing may be created");
}

#[test]
fn startapp_names_the_module_file_that_is_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(dir.path()).args(["startproject", "mysite"]));
    assert!(output.status.success(), "{stderr}");
    let project = dir.path().join("mysite");
    std::fs::write(project.join("src/blog.rs"), "// mine").unwrap();
    let (output, stdout, stderr) = run(manage(&project).args(["startapp", "blog"]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: the project already has a module 'blog' ({})\n  hint: choose another name; nothing was changed\n",
            project.join("src/blog.rs").display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(project.join("src/blog.rs")).unwrap(),
        "// mine"
    );
    assert!(!project.join("src/blog").exists());
    // A folder is named as a folder.
    std::fs::create_dir(project.join("src/news")).unwrap();
    let (output, _, stderr) = run(manage(&project).args(["startapp", "news"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: the project already has a module 'news' ({})\n",
            project.join("src/news").display()
        )),
        "{stderr}"
    );
}

/// A folder whose path is not UTF-8 (a name from a Latin-1 file system)
/// cannot hold a project that builds: the generated src/wsgi.rs reads
/// `env!("CARGO_MANIFEST_DIR")`, a compile error there. `startproject`
/// refuses it before writing anything, whether DIR or the current folder
/// is at fault, and so a `--nuages-path` that Cargo.toml cannot name.
#[test]
fn a_folder_whose_path_is_not_utf8_is_refused_before_anything_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let latin1 = std::ffi::OsStr::from_bytes(b"t\xe9l\xe9chargements");
    let refused_folder = |folder: &std::path::Path, stderr: &str| {
        assert_eq!(
            stderr,
            format!(
                "error: the project's folder {} is not UTF-8: its crate would not build: the \
                 generated src/wsgi.rs reads its folder with env!(\"CARGO_MANIFEST_DIR\"), which \
                 takes only UTF-8\n  hint: choose a folder whose path is UTF-8 all along (rename \
                 the folders above it, or give another DIR); nothing was created\n",
                folder.display()
            )
        );
    };
    let (output, stdout, stderr) =
        run(manage(dir.path()).args(["startproject".as_ref(), "mysite".as_ref(), latin1]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    refused_folder(&dir.path().join(latin1), &stderr);
    assert!(!dir.path().join(latin1).exists(), "nothing may be created");
    // In such a folder, the default DIR is refused too.
    let inside = dir.path().join(latin1);
    std::fs::create_dir(&inside).unwrap();
    let (output, _, stderr) = run(manage(&inside).args(["startproject", "mysite"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    refused_folder(&inside.join("mysite"), &stderr);
    assert_eq!(std::fs::read_dir(&inside).unwrap().count(), 0);
    // The framework through a link whose name is not UTF-8.
    let link = dir.path().join(std::ffi::OsStr::from_bytes(b"nuages-\xff"));
    std::os::unix::fs::symlink(nuages_e2e::workspace_root().join("framework"), &link).unwrap();
    let (output, _, stderr) = run(manage(dir.path())
        .args(["startproject", "vv", "--nuages-path"])
        .arg(&link));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: --nuages-path {} is not UTF-8: Cargo.toml, whose strings are UTF-8, cannot \
             name it\n  hint: give a path to the framework crate that is UTF-8 all along (a link \
             made elsewhere to it will do); nothing was created\n",
            link.display()
        )
    );
    assert!(!dir.path().join("vv").exists(), "nothing may be created");
}

#[test]
fn settings_and_verbosity_before_the_command_reach_the_projects_binary() {
    // `manage help` inside a project shows `Usage: manage [OPTIONS] <COMMAND>`
    // with --settings and -v among the options: typed there, before the
    // command, they reach the project's binary.
    let project = nuages_e2e::GeneratedProject::new("options_site");
    project.write(
        "settings.other.toml",
        "extends = \"settings.toml\"\nlog_level = \"warn\"\n",
    );
    let (output, stdout, stderr) =
        project.manage(&["--settings", "settings.other.toml", "diffsettings"]);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.starts_with("# settings.other.toml\n"), "{stdout}");
    assert!(stdout.contains("\nlog_level = \"warn\"\n"), "{stdout}");
    let (output, _, stderr) = project.manage(&["-v", "2", "check"]);
    assert!(output.status.success(), "{stderr}");
    // A value the project's binary refuses is its own error.
    let (output, _, stderr) = project.manage(&["--verbosity", "9", "check"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value '9' for '--verbosity <N>'"),
        "{stderr}"
    );
    // startproject loads no settings: the option is refused, nothing made.
    let (output, _, stderr) = nuages_e2e::run(nuages_e2e::manage(project.temp.path()).args([
        "--settings",
        "settings.toml",
        "startproject",
        "other_site",
    ]));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: --settings is an option of a project's commands (runserver, check, migrate, …); startproject takes none\n"
        ),
        "{stderr}"
    );
    assert!(!project.temp.path().join("other_site").exists());
    // It builds nothing either: --release is refused too.
    let (output, _, stderr) = nuages_e2e::run(nuages_e2e::manage(project.temp.path()).args([
        "--release",
        "startproject",
        "other_site",
    ]));
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --release is an option of a project's commands"),
        "{stderr}"
    );
    assert!(!project.temp.path().join("other_site").exists());

    // A CARGO variable naming no program, or one that fails without a
    // word, is named: not "install Rust", not a silent exit 1.
    for (cargo, said, hint) in [
        (
            "/nonexistent/cargo",
            "error: cannot run cargo (CARGO=/nonexistent/cargo): No such file or directory",
            "hint: point CARGO to cargo's path, or unset it",
        ),
        (
            "/bin/false",
            "error: `cargo build` failed (exit status: 1) without saying why (CARGO=/bin/false)",
            "or unset CARGO, which names the cargo used",
        ),
    ] {
        let (output, _, stderr) = nuages_e2e::run(
            nuages_e2e::manage(&project.dir)
                .arg("check")
                .env("CARGO", cargo),
        );
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with(said) && stderr.contains(hint),
            "{stderr}"
        );
    }
}
