//! `startapp NAME`: a new app in `src/NAME/` of the project the current
//! folder is in, from the app scaffold. As Django's `manage.py startapp`,
//! which creates the app in the current directory, the project binary's
//! `startapp` and `manage startapp` both write where the user is, never
//! into the folder the binary was compiled from.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};

use crate::management::manifest::require_project;
use crate::management::names::{NameKind, validate};
use crate::management::scaffold::{self, APP_TEMPLATE};
use crate::management::{Command, CommandContext, CommandError, output};

/// `manage startapp NAME`.
pub(crate) struct StartApp;

impl Command for StartApp {
    fn name(&self) -> &'static str {
        "startapp"
    }

    fn about(&self) -> &'static str {
        "Create an app in src/NAME/ (urls, views, models, migrations, templates, static)"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command.arg(
            Arg::new("name")
                .required(true)
                .help("The app's name, a Rust identifier"),
        )
    }

    fn handle(&self, _: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        start_app_here(args.get_one::<String>("name").expect("required"))
    }
}

/// `startapp NAME` in the project at or above the current folder: create
/// the app and print how to install it.
pub fn start_app_here(name: &str) -> Result<(), CommandError> {
    let here = std::env::current_dir().map_err(|error| {
        CommandError::failed(
            format!("cannot read the current folder: {error}"),
            Some("cd into the project's folder and run the command again"),
        )
    })?;
    let project = require_project(&here)?;
    let created = start_app(&project, name)?;
    output::print_done(
        &format!("created app '{name}' in {}", created.display()),
        format_args!("{}", next_steps(name, &created)),
    )
}

/// Create `src/<name>/` in the project at `project_dir`; returns the app folder.
pub fn start_app(project_dir: &Path, name: &str) -> Result<PathBuf, CommandError> {
    validate(name, NameKind::App).map_err(|e| CommandError::Failed(e.problem()))?;
    if project_name(project_dir).as_deref() == Some(name) {
        return Err(CommandError::failed(
            format!("'{name}' is the project's own name, which labels its own migrations"),
            Some(&format!("try '{name}_app'; nothing was changed")),
        ));
    }
    let target = project_dir.join("src").join(name);
    // The module is src/NAME/ or src/NAME.rs: name the one that is there.
    let module_file = project_dir.join("src").join(format!("{name}.rs"));
    if let Some(existing) = [&target, &module_file].into_iter().find(|p| p.exists()) {
        return Err(CommandError::failed(
            format!(
                "the project already has a module '{name}' ({})",
                existing.display()
            ),
            Some("choose another name; nothing was changed"),
        ));
    }
    scaffold::render(&APP_TEMPLATE, &target, &[("app_name", name)])
        .map_err(|e| CommandError::Failed(e.problem()))?;
    Ok(target)
}

/// The package name in the project's `Cargo.toml`, if it can be read.
fn project_name(project_dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(project_dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = manifest.parse().ok()?;
    Some(manifest.get("package")?.get("name")?.as_str()?.to_string())
}

/// What to tell the user after creating an app.
pub fn next_steps(name: &str, created: &Path) -> String {
    format!(
        "Created app '{name}' in {}.\n\
         To install it, declare the module in src/lib.rs and list the app:\n\n    \
         pub mod {name};\n\n    \
         pub fn installed_apps() -> Vec<nuages::App> {{\n        \
         vec![{name}::app()]\n    \
         }}\n\n\
         and include its URLs in src/urls.rs: .include(\"{name}/\", crate::{name}::urls::urlpatterns())\n",
        created.display()
    )
}
