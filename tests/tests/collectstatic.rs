//! Static files in a generated project, as a user meets them: the real
//! `manage collectstatic` (summary, files on disk, re-run, the question on a
//! closed stdin, manifest storage with the production settings), its
//! refusal of a `static_root` among the project's own files, and `manage
//! runserver` serving `/static/` straight from the sources.

use std::process::Stdio;
use std::time::Duration;

use nuages_e2e::{GeneratedProject, Server, free_port, get, manage, run, wait_for};

const APP_JS: &str = "document.documentElement.classList.add('js');\n";

#[test]
fn collectstatic_and_runserver_in_a_generated_project() {
    let project = GeneratedProject::new("static_site");
    project.write("static/js/app.js", APP_JS);
    let root = project.dir.join("www_dir/static");
    let site_css = std::fs::read_to_string(project.dir.join("static/css/site.css")).unwrap();

    // First run: everything copied.
    let (output, stdout, stderr) = project.manage(&["collectstatic", "--noinput"]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.lines().last(),
        Some(
            format!(
                "2 static files copied to '{}', 0 unmodified.",
                root.display()
            )
            .as_str()
        ),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("css/site.css")).unwrap(),
        site_css
    );
    assert_eq!(
        std::fs::read_to_string(root.join("js/app.js")).unwrap(),
        APP_JS
    );

    // Nothing changed: nothing copied.
    let (output, stdout, _) = project.manage(&["collectstatic", "--noinput"]);
    assert!(output.status.success());
    assert_eq!(
        stdout.lines().last(),
        Some(
            format!(
                "0 static files copied to '{}', 2 unmodified.",
                root.display()
            )
            .as_str()
        ),
        "{stdout}"
    );

    // Without --noinput, on a non-empty static_root, a closed stdin cancels.
    project.write("static/js/app.js", "changed();\n");
    let (output, stdout, stderr) = run(manage(&project.dir)
        .args(["collectstatic"])
        .stdin(Stdio::null()));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Type 'yes' to continue, or 'no' to cancel:"),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: collecting static files cancelled"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("js/app.js")).unwrap(),
        APP_JS
    );

    // An unset static_root is refused, naming the key.
    project.write(
        "settings.noroot.toml",
        "debug = true\nsecret_key = \"e2e-insecure-key\"\nstaticfiles_dirs = [\"static\"]\n",
    );
    let (output, _, stderr) = project.manage(&[
        "collectstatic",
        "--noinput",
        "--settings",
        "settings.noroot.toml",
    ]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: static_root is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  hint: set static_root in the settings file"),
        "{stderr}"
    );

    // runserver serves the sources, no collectstatic needed.
    let logs = project.temp.path();
    let port = free_port();
    let server = Server::start(
        manage(&project.dir).args(["runserver", "--noreload", &port.to_string()]),
        logs,
        "runserver",
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let response = wait_for(Duration::from_secs(180), || {
        get(addr, "/static/css/site.css").ok()
    })
    .unwrap_or_else(|| panic!("runserver did not answer: {}", server.output()));
    assert_eq!(response.status, 200, "{}", server.output());
    assert_eq!(
        response.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert!(response.header("etag").is_some());
    assert_eq!(response.body, site_css);
    // The edited source, not the stale collected copy.
    assert_eq!(get(addr, "/static/js/app.js").unwrap().body, "changed();\n");
    for path in [
        "/static/../settings.toml",
        "/static/%2e%2e/settings.toml",
        "/static/..%2fsettings.toml",
    ] {
        assert_eq!(get(addr, path).unwrap().status, 404, "{path}");
    }
    drop(server);

    // --nostatic: not served.
    let port = free_port();
    let server = Server::start(
        manage(&project.dir).args(["runserver", "--noreload", "--nostatic", &port.to_string()]),
        logs,
        "nostatic",
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let response = wait_for(Duration::from_secs(60), || {
        get(addr, "/static/css/site.css").ok()
    })
    .unwrap_or_else(|| panic!("runserver --nostatic did not answer: {}", server.output()));
    assert_eq!(response.status, 404);
    drop(server);

    // Production settings: manifest storage, hashed names, compressed siblings.
    project.write(
        "static/css/site.css",
        &format!("{site_css}\n{}", ".pad { margin: 0; }\n".repeat(20)),
    );
    let (output, stdout, stderr) = run(manage(&project.dir)
        .args([
            "collectstatic",
            "--noinput",
            "--settings",
            "settings.production.toml",
        ])
        .env(
            "SECRET_KEY",
            "e2e-secret-key-that-is-long-enough-to-pass-the-deploy-check-0123456789",
        ));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "2 static files copied to '{}', 0 unmodified, ",
            root.display()
        )) && last.ends_with(" post-processed."),
        "{stdout}"
    );
    let manifest: String = std::fs::read_to_string(root.join("staticfiles.json")).unwrap();
    assert!(manifest.contains("\"version\":\"1.1\""), "{manifest}");
    let start = manifest.find("\"css/site.css\":\"").unwrap() + "\"css/site.css\":\"".len();
    let hashed = &manifest[start..start + manifest[start..].find('"').unwrap()];
    assert!(root.join(hashed).is_file(), "{hashed}");
    assert!(root.join(format!("{hashed}.gz")).is_file());
    assert!(root.join(format!("{hashed}.br")).is_file());
    assert!(root.join("css/site.css.gz").is_file());
}

/// The files of a generated project (and a database and an upload) that a
/// `static_root` pointed at them must leave as they are.
const OWN_FILES: &[&str] = &[
    "templates/base.html",
    "db/db.sqlite3",
    "media/upload.txt",
    "src/urls.rs",
    "tests/smoke.rs",
];

#[test]
fn collectstatic_refuses_a_static_root_among_the_projects_files() {
    let project = GeneratedProject::new("own_files_site");
    project.write("db/db.sqlite3", "SQLite format 3\0the site's data");
    project.write("media/upload.txt", "a visitor's file\n");
    let contents = || {
        OWN_FILES
            .iter()
            .map(|file| std::fs::read(project.dir.join(file)).unwrap())
            .collect::<Vec<_>>()
    };
    let kept = contents();
    let dir = project.dir.display();
    let cases: [(&str, &[&str], String); 6] = [
        (
            "templates",
            &["--clear"],
            format!("is the folder '{dir}/templates' of template_dirs"),
        ),
        (
            "db",
            &["--clear"],
            format!("is the folder '{dir}/db' of the SQLite database of databases.default.url"),
        ),
        (
            "media",
            &["--clear"],
            format!("is media_root '{dir}/media'"),
        ),
        (
            "src",
            &["--clear", "--dry-run"],
            format!("is the project's source folder '{dir}/src'"),
        ),
        (
            "tests",
            &[],
            format!("is the project's source folder '{dir}/tests'"),
        ),
        (
            "templates/static",
            &["--clear"],
            format!("is inside the folder '{dir}/templates' of template_dirs"),
        ),
    ];
    for (root, flags, names) in cases {
        let (output, stdout, stderr) = run(manage(&project.dir)
            .args(["collectstatic", "--noinput"])
            .args(flags)
            .env("NUAGES_STATIC_ROOT", root)
            .env("NUAGES_MEDIA_ROOT", "media"));
        assert_eq!(output.status.code(), Some(1), "{root}: {stdout}\n{stderr}");
        // The last two lines (the first run builds the project before them).
        let report: Vec<&str> = stderr.lines().rev().take(2).collect();
        assert!(
            report[1].starts_with(&format!("error: static_root '{dir}/{root}' {names}: ")),
            "{root}: {stderr}"
        );
        assert_eq!(
            report[0],
            "  hint: static_root is where collectstatic copies the files to: set it to a folder \
             of its own, such as static_root = \"www_dir/static\"",
            "{root}: {stderr}"
        );
        assert!(!stdout.contains("delete"), "{root}: {stdout}");
        assert_eq!(contents(), kept, "{root}");
        assert!(!project.dir.join(root).join("css").exists(), "{root}");
    }

    // check reports it, as an error, with the same words.
    let (output, stdout, stderr) = run(manage(&project.dir)
        .args(["check"])
        .env("NUAGES_STATIC_ROOT", "templates"));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "?: (nuages.E035) static_root '{dir}/templates' is the folder '{dir}/templates' of \
             template_dirs: "
        )),
        "{stderr}"
    );
    // A static root of its own still collects.
    let (output, stdout, stderr) = project.manage(&["collectstatic", "--noinput", "--clear"]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(project.dir.join("www_dir/static/css/site.css").is_file());
    assert_eq!(contents(), kept);

    // A file where collectstatic needs a folder (a folder of static_root, or
    // static_root itself) is named, with the fix, and left as it was: not
    // "Not a directory" and a hint about a full disk.
    for file in ["www_dir/static/css", "www_dir/static"] {
        let path = project.dir.join(file);
        std::fs::remove_dir_all(&path).unwrap();
        project.write(file, "the user's notes\n");
        let (output, stdout, stderr) = project.manage(&["collectstatic", "--noinput"]);
        assert_eq!(output.status.code(), Some(1), "{file}: {stdout}\n{stderr}");
        assert!(
            stderr.ends_with(&format!(
                "error: '{dir}/{file}' is a file, where collectstatic needs a folder\n  hint: move or \
                 remove that file (static_root and the folders in it hold the collected files), then \
                 run collectstatic again\n"
            )),
            "{file}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "the user's notes\n",
            "{file}"
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(&path).unwrap();
    }
}

/// `static_root = "deep/lnk/.."`, `lnk` a link to `../static/css`, is
/// `static` as the system follows it (the link, then its target's parent).
/// `check` saw `deep` and passed, and `collectstatic --clear` deleted the
/// static sources; both now see the folder the system goes to, and nothing
/// is deleted. The same through a link into `templates` (nuages.E035).
#[test]
fn a_dotdot_after_a_link_is_the_folder_the_system_goes_to() {
    let project = GeneratedProject::new("linked_root_site");
    project.write("templates/partials/nav.html", "<nav></nav>\n");
    std::fs::create_dir_all(project.dir.join("deep")).unwrap();
    std::os::unix::fs::symlink("../static/css", project.dir.join("deep/lnk")).unwrap();
    std::os::unix::fs::symlink("../templates/partials", project.dir.join("deep/tpl")).unwrap();
    let files = [
        "static/css/site.css",
        "templates/base.html",
        "templates/partials/nav.html",
    ];
    let contents = || {
        files
            .iter()
            .map(|file| std::fs::read(project.dir.join(file)).unwrap())
            .collect::<Vec<_>>()
    };
    let kept = contents();
    let dir = project.dir.display();
    let hint = "  hint: static_root is where collectstatic copies the files to: set it to a folder \
                of its own, such as static_root = \"www_dir/static\"";
    for (root, names) in [
        (
            "deep/lnk/..",
            format!("is the static source folder '{dir}/static' (listed in staticfiles_dirs)"),
        ),
        (
            "deep/tpl/..",
            format!(
                "is the folder '{dir}/templates' of template_dirs: collectstatic --clear would \
                 delete those files, and collectstatic would write the static files among them"
            ),
        ),
    ] {
        let (output, stdout, stderr) = run(manage(&project.dir)
            .args(["collectstatic", "--noinput", "--clear", "-v", "2"])
            .env("NUAGES_STATIC_ROOT", root));
        assert_eq!(output.status.code(), Some(1), "{root}: {stdout}\n{stderr}");
        assert!(
            stderr.ends_with(&format!(
                "error: static_root '{dir}/{root}' {names}\n{hint}\n"
            )),
            "{root}: {stderr}"
        );
        assert!(!stdout.contains("Deleting"), "{root}: {stdout}");
        assert_eq!(contents(), kept, "{root}");
    }

    let (output, stdout, stderr) = run(manage(&project.dir)
        .args(["check"])
        .env("NUAGES_STATIC_ROOT", "deep/lnk/.."));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "?: (staticfiles.E002) The staticfiles_dirs setting should not contain the static_root \
             setting: static_root {dir}/deep/lnk/.. is the staticfiles_dirs entry {dir}/static."
        )),
        "{stderr}"
    );
    let (output, stdout, stderr) = run(manage(&project.dir)
        .args(["check"])
        .env("NUAGES_STATIC_ROOT", "deep/tpl/.."));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "?: (nuages.E035) static_root '{dir}/deep/tpl/..' is the folder '{dir}/templates' of \
             template_dirs: "
        )),
        "{stderr}"
    );
}

/// Hidden files under `dir`, at any depth: the temporary names of
/// collectstatic's unfinished copies.
fn hidden_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            found.push(path);
        } else if path.is_dir() {
            found.extend(hidden_files(&path));
        }
    }
    found
}

/// Ctrl-C (or SIGTERM) in the middle of a copy: the file being written
/// under its hidden temporary name is removed, the command says it was
/// interrupted and how to finish, and exits 130; the next run finishes the
/// job. Before, the signal's default action left each unfinished copy in
/// `static_root` as a hidden half-written file no later run knew of.
#[test]
fn an_interrupted_collectstatic_leaves_no_half_written_file() {
    let example = nuages_e2e::Example::new();
    let dir = example.dir.path();
    let sources = dir.join("big_static");
    std::fs::create_dir_all(sources.join("video")).unwrap();
    // Large enough that a copy is under way when the signal comes.
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    for n in 0..6 {
        let mut content = Vec::with_capacity(64 * chunk.len());
        for _ in 0..64 {
            content.extend_from_slice(&chunk);
        }
        std::fs::write(sources.join(format!("video/clip{n}.bin")), content).unwrap();
    }
    let root = dir.join("collected");
    let settings = dir.join("big.toml");
    std::fs::write(
        &settings,
        format!(
            "extends = {:?}\nstaticfiles_dirs = [{:?}]\nstatic_root = {:?}\n",
            example.settings.display().to_string(),
            sources.display().to_string(),
            root.display().to_string()
        ),
    )
    .unwrap();
    let collect = || {
        let mut command = std::process::Command::new(&example.bin);
        command
            .args(["collectstatic", "--noinput", "--settings"])
            .arg(&settings)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let _ = std::fs::remove_dir_all(&root);
        let child = collect().spawn().unwrap();
        // Looked for often: a copy lasts a fraction of a second.
        let start = std::time::Instant::now();
        while hidden_files(&root).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no copy was seen under way"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: a signal to the child this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(128 + signal), "{stderr}");
        assert!(
            stderr.contains("error: collectstatic was interrupted"),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint: run collectstatic again to finish"),
            "{stderr}"
        );
        assert_eq!(hidden_files(&root), Vec::<std::path::PathBuf>::new());
    }
    let output = collect().output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.ends_with("unmodified.\n"), "{stdout}");
    assert_eq!(hidden_files(&root), Vec::<std::path::PathBuf>::new());
    assert_eq!(std::fs::read_dir(root.join("video")).unwrap().count(), 6);
}
