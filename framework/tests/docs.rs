//! The documents in `docs/` tell the truth about the code: every settings key
//! with its type and default, every check id with its level; and everything a
//! message, a hint or a generated file points to exists in the repository;
//! the README's settings examples load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nuages::conf::{
    CACHE_KEYS, CacheSettings, DATABASE_KEYS, DatabaseSettings, KNOWN_KEYS, Kind, Settings,
};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repository().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The rows of the markdown tables of `text` whose first cell is a `code`
/// name, by that name: the other cells, trimmed.
fn table_rows(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let mut cells = line
            .trim_matches('|')
            .split(" | ")
            .map(|cell| cell.trim().to_string());
        let name = cells.next().unwrap().trim_matches('`').to_string();
        let rest: Vec<String> = cells.collect();
        assert!(
            rows.insert(name.clone(), rest).is_none(),
            "{name} is documented twice"
        );
    }
    rows
}

/// How docs/settings.md names a kind in its Type column.
fn type_cell(kind: Kind) -> String {
    match kind {
        Kind::Bool => "boolean".into(),
        Kind::Integer => "number".into(),
        Kind::String => "string".into(),
        Kind::List => "list".into(),
        Kind::Choice(values) => format!(
            "choice: {}",
            values
                .iter()
                .map(|v| format!("`\"{v}\"`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::Tables(_) => unreachable!("documented as its nested keys"),
    }
}

/// The Default cell: the TOML of the default, or "none" for a setting
/// without one.
fn default_cell(defaults: &toml::Table, key: &str) -> String {
    match defaults.get(key) {
        Some(value) => format!("`{value}`"),
        None => "none".into(),
    }
}

#[test]
fn every_settings_key_is_documented_with_its_type_and_default() {
    let rows = table_rows(&read("docs/settings.md"));
    let defaults = toml::Table::try_from(Settings::default()).unwrap();
    let database_defaults = toml::Table::try_from(DatabaseSettings::default()).unwrap();
    let cache_defaults = toml::Table::try_from(CacheSettings::default()).unwrap();
    let mut expected = BTreeMap::new();
    for (key, kind) in KNOWN_KEYS {
        if !matches!(kind, Kind::Tables(_)) {
            expected.insert(
                key.to_string(),
                (type_cell(*kind), default_cell(&defaults, key)),
            );
        }
    }
    for (key, kind) in DATABASE_KEYS {
        expected.insert(
            format!("databases.<alias>.{key}"),
            (type_cell(*kind), default_cell(&database_defaults, key)),
        );
    }
    for (key, kind) in CACHE_KEYS {
        expected.insert(
            format!("caches.<alias>.{key}"),
            (type_cell(*kind), default_cell(&cache_defaults, key)),
        );
    }
    let documented: BTreeSet<&String> = rows.keys().collect();
    let known: BTreeSet<&String> = expected.keys().collect();
    assert_eq!(
        known.difference(&documented).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "keys missing from docs/settings.md"
    );
    assert_eq!(
        documented.difference(&known).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "docs/settings.md documents keys the settings do not have"
    );
    for (key, (kind, default)) in &expected {
        let row = &rows[key];
        assert_eq!(&row[0], kind, "the type of {key} in docs/settings.md");
        assert_eq!(&row[1], default, "the default of {key} in docs/settings.md");
    }
}

/// A built-in check id: Django's families (`security`, `staticfiles`, and
/// `4_0` for its CSRF origins check) and Nuages's own.
const ID: &str = r"(?:security|staticfiles|4_0|nuages)\.[DIWEC]\d{3}";

/// Every check id written in the checks' sources, but for the table of
/// them (`ids.rs`), which is compared with these.
fn check_ids_in_code() -> BTreeSet<String> {
    let id = regex::Regex::new(&format!(r#""({ID})""#)).unwrap();
    let folder = repository().join("framework/src/checks");
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|name| name == "ids.rs") {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        ids.extend(id.captures_iter(&source).map(|c| c[1].to_string()));
    }
    ids
}

/// The table `silenced_system_checks` is judged by (`nuages.W040`) holds
/// exactly the ids the checks return, each in a built-in family.
#[test]
fn the_table_of_builtin_ids_is_every_id_of_the_checks() {
    let table: BTreeSet<String> = nuages::checks::BUILTIN_IDS
        .iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(
        table.len(),
        nuages::checks::BUILTIN_IDS.len(),
        "no id twice"
    );
    assert_eq!(table, check_ids_in_code());
    for id in &table {
        let family = id.split('.').next().unwrap();
        assert!(nuages::checks::BUILTIN_FAMILIES.contains(&family), "{id}");
    }
}

#[test]
fn every_check_id_is_documented_with_its_level() {
    let rows = table_rows(&read("docs/checks.md"));
    let in_code = check_ids_in_code();
    assert!(in_code.len() > 30, "the id scan found {in_code:?}");
    let documented: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(
        in_code.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "check ids missing from docs/checks.md"
    );
    assert_eq!(
        documented.difference(&in_code).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "docs/checks.md lists ids no check has"
    );
    for (id, row) in &rows {
        let letter = id.split('.').nth(1).unwrap().chars().next().unwrap();
        let level = match letter {
            'D' => "debug",
            'I' => "info",
            'W' => "warning",
            'E' => "error",
            _ => "critical",
        };
        assert_eq!(row[0], level, "the level of {id} in docs/checks.md");
    }
    // The settings reference names only checks that exist.
    let named = regex::Regex::new(&format!("`({ID})`")).unwrap();
    for captures in named.captures_iter(&read("docs/settings.md")) {
        assert!(
            in_code.contains(&captures[1]),
            "docs/settings.md names {}, which no check has",
            &captures[1]
        );
    }
}

/// The text files under `relative`, skipping build output.
fn text_files(relative: &str) -> Vec<PathBuf> {
    let root = repository().join(relative);
    if root.is_file() {
        return vec![root];
    }
    let mut files = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "db" | "www_dir" | "logs") {
                    folders.push(path);
                }
            } else if std::fs::read_to_string(&path).is_ok() {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn what_users_are_pointed_to_exists_in_the_repository() {
    // The design document is not in the repository; public standards are.
    let design = regex::Regex::new(r"(?i)\bdesign\b").unwrap();
    let standard_section = regex::Regex::new(r"RFC \d+ §").unwrap();
    let document = regex::Regex::new(r"docs/[A-Za-z0-9_-]+\.md").unwrap();
    let mut problems = Vec::new();
    for place in [
        "framework/src",
        "framework/benches",
        "cli/src",
        "templates",
        "example_project",
        "docs",
        "README.md",
    ] {
        for file in text_files(place) {
            let text = std::fs::read_to_string(&file).unwrap();
            let shown = file
                .strip_prefix(repository())
                .unwrap()
                .display()
                .to_string();
            for (number, line) in text.lines().enumerate() {
                if design.is_match(line) || (line.contains('§') && !standard_section.is_match(line))
                {
                    problems.push(format!(
                        "{shown}:{}: refers to a document users do not have: {line}",
                        number + 1
                    ));
                }
                for found in document.find_iter(line) {
                    if !repository().join(found.as_str()).is_file() {
                        problems.push(format!(
                            "{shown}:{}: {} does not exist",
                            number + 1,
                            found.as_str()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_installs_the_cli_locked_and_links_the_references() {
    let readme = read("README.md");
    assert!(
        readme.contains("cargo install --locked --path cli"),
        "the README installs manage with the versions of Cargo.lock"
    );
    for document in ["docs/settings.md", "docs/checks.md"] {
        assert!(
            readme.contains(&format!("]({document})")),
            "the README links {document}"
        );
    }
}

/// Each ```toml block of the README and of docs/ is a settings file the
/// loader takes as it is (its `${VAR}`s set): no key lands in a table it
/// does not belong to.
#[test]
fn every_settings_example_of_the_documents_loads() {
    let mut documents = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(repository().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            documents.push(format!("docs/{name}"));
        }
    }
    let mut blocks: Vec<(String, String)> = Vec::new();
    for document in &documents {
        blocks.extend(
            toml_blocks(&read(document))
                .into_iter()
                .map(|(line, text)| (format!("{document}:{line}"), text)),
        );
    }
    assert!(blocks.len() >= 8, "{} blocks", blocks.len());
    let variable = regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    for (place, text) in blocks {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, &text).unwrap();
        let env: Vec<(String, String)> = variable
            .captures_iter(&text)
            .map(|captures| (captures[1].to_string(), "x".to_string()))
            .collect();
        let loaded = nuages::conf::SettingsLoader::new(&path).env(env).load();
        assert!(loaded.is_ok(), "{place}: {:?}\n{text}", loaded.err());
    }
}

/// The ```toml blocks of a document: the line each starts on, and its text
/// with the fence's indentation taken off.
fn toml_blocks(document: &str) -> Vec<(usize, String)> {
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut open: Option<(usize, usize, String)> = None;
    for (number, line) in document.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        match &mut open {
            None if line.trim_start() == "```toml" => {
                open = Some((number + 1, indent, String::new()))
            }
            None => {}
            Some((start, _, text)) if line.trim_start() == "```" => {
                blocks.push((*start, std::mem::take(text)));
                open = None;
            }
            Some((_, indent, text)) => {
                text.push_str(line.get(*indent..).unwrap_or(""));
                text.push('\n');
            }
        }
    }
    blocks
}

/// The README's `middleware` list, given as the example's, is the one
/// `example_project/settings.toml` has: copied into a project, it keeps the
/// built-ins a generated project relies on (`auth`, `messages`).
#[test]
fn the_readmes_middleware_list_is_the_examples() {
    let readme = read("README.md").replace("\n  ", " ");
    let list = regex::Regex::new(r"the example's: `(\[[^\]]*\])`")
        .unwrap()
        .captures(&readme)
        .expect("the README gives the example's middleware list")[1]
        .to_string();
    let documented: toml::Table = toml::from_str(&format!("middleware = {list}")).unwrap();
    let example: toml::Table = toml::from_str(&read("example_project/settings.toml")).unwrap();
    assert_eq!(documented["middleware"], example["middleware"]);
}
