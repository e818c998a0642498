//! `example_project/` is what `manage startproject mysite` makes, plus the
//! polls app: its scaffold files must match what the scaffolds render today,
//! apart from the registered app, the secret key and the workspace membership.

use std::path::Path;

use nuages_e2e::{manage, run, workspace_root};

fn read(root: &Path, file: &str) -> String {
    std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn the_example_matches_what_startproject_renders() {
    let temp = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(manage(temp.path()).args(["startproject", "mysite"]));
    assert!(output.status.success(), "{stderr}");
    let fresh = temp.path().join("mysite");
    let example = workspace_root().join("example_project");

    for file in [
        "settings.production.toml",
        ".gitignore",
        "build.rs",
        "src/main.rs",
        "templates/base.html",
        "static/css/site.css",
        "tests/smoke.rs",
    ] {
        assert_eq!(
            read(&example, file),
            read(&fresh, file),
            "{file} differs from the scaffold"
        );
    }

    // src/wsgi.rs: the example uses what the scaffold's comments show.
    let without_own = |text: String| -> Vec<String> {
        text.lines()
            .filter(|l| {
                !(l.starts_with("        .middleware(")
                    || l.starts_with("        .state(")
                    || l.starts_with("        // "))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        without_own(read(&example, "src/wsgi.rs")),
        without_own(read(&fresh, "src/wsgi.rs")),
        "src/wsgi.rs differs from the scaffold beyond the project's own additions"
    );

    // settings.toml: all but the generated key and the example's own
    // middleware and [polls] section.
    let without_key = |text: String| -> Vec<String> {
        let own = [
            "secret_key = ",
            "# The example's own middleware",
            "middleware = [",
            "# The polls app's own settings",
            "[polls]",
            "latest_count = ",
        ];
        text.lines()
            .filter(|l| !l.is_empty() && !own.iter().any(|prefix| l.starts_with(prefix)))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        without_key(read(&example, "settings.toml")),
        without_key(read(&fresh, "settings.toml")),
        "settings.toml differs from the scaffold"
    );

    // src/lib.rs: all but the installed app and the example's own middleware.
    let apps = |text: String| {
        text.replace("pub mod middleware;\n", "")
            .replace("pub mod polls;\n", "")
            .replace("vec![polls::app()]", "vec![]")
    };
    assert_eq!(
        apps(read(&example, "src/lib.rs")),
        read(&fresh, "src/lib.rs"),
        "src/lib.rs"
    );

    // src/urls.rs: the same up to the patterns, which route the app.
    let head = |text: String| text.split("pub fn urlpatterns").next().unwrap().to_string();
    assert_eq!(
        head(read(&example, "src/urls.rs")),
        head(read(&fresh, "src/urls.rs")),
        "src/urls.rs"
    );

    // Cargo.toml: the same package and dependencies; the example takes nuages
    // from the workspace and is a member of it instead of its own workspace.
    let manifest =
        |root: &Path| -> toml_like::Manifest { toml_like::parse(&read(root, "Cargo.toml")) };
    let (ours, theirs) = (manifest(&example), manifest(&fresh));
    assert_eq!(ours.package, theirs.package);
    assert_eq!(ours.dependencies_but_nuages, theirs.dependencies_but_nuages);
    assert!(ours.nuages.contains("../framework"), "{}", ours.nuages);
    assert!(theirs.has_workspace && !ours.has_workspace);
}

/// Just enough of Cargo.toml to compare sections line by line.
mod toml_like {
    pub struct Manifest {
        pub package: Vec<String>,
        pub dependencies_but_nuages: Vec<String>,
        pub nuages: String,
        pub has_workspace: bool,
    }

    pub fn parse(text: &str) -> Manifest {
        let mut manifest = Manifest {
            package: vec![],
            dependencies_but_nuages: vec![],
            nuages: String::new(),
            has_workspace: false,
        };
        let mut section = String::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if line.starts_with('[') {
                section = line.to_string();
                manifest.has_workspace |= line == "[workspace]";
                continue;
            }
            match section.as_str() {
                "[package]" => manifest.package.push(line.to_string()),
                "[dependencies]" if line.starts_with("nuages") => {
                    manifest.nuages = line.to_string()
                }
                "[dependencies]" => manifest.dependencies_but_nuages.push(line.to_string()),
                _ => {}
            }
        }
        manifest
    }
}
