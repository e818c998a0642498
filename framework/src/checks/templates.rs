//! Templates and URLs: the templates must load (`nuages.E003`), every
//! `url(name="…")` written in them must name a route (`nuages.E004`), and
//! the URL configuration must build (`nuages.E005`); a form printed whole,
//! as Django's `{{ form }}`, is named with the Nuages spelling
//! (`nuages.W037`). These run with every `check` and before `runserver`,
//! so a typo shows before a page fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::{Check, CheckContext, CheckMessage};
use crate::error::Error;
use crate::templates::Engine;
use crate::urls::Resolver;

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "templates_load",
            tags: &["templates"],
            deploy: false,
            run: check_templates_load,
        },
        Check {
            name: "template_url_names",
            tags: &["templates", "urls"],
            deploy: false,
            run: check_template_url_names,
        },
        Check {
            name: "template_prints_form",
            tags: &["templates"],
            deploy: false,
            run: check_template_prints_form,
        },
        Check {
            name: "urlconf_builds",
            tags: &["urls"],
            deploy: false,
            run: check_urlconf,
        },
    ]
}

/// The template folders in search order: `template_dirs`, then each app's `templates/`.
fn template_dirs(ctx: &CheckContext) -> Vec<PathBuf> {
    let mut dirs = ctx.settings.template_dirs.clone();
    dirs.extend(
        ctx.project
            .installed_apps()
            .iter()
            .map(|app| app.templates_dir()),
    );
    dirs
}

/// `nuages.E005`: the URL configuration does not build (a pattern that
/// conflicts with another, an invalid converter, …).
pub fn check_urlconf(ctx: &CheckContext) -> Vec<CheckMessage> {
    match ctx.project.urlconf().resolver() {
        Ok(_) => vec![],
        Err(error) => vec![CheckMessage::error(
            "nuages.E005",
            format!(
                "The URL configuration cannot be built: {}.",
                error.chain().join(": ")
            ),
            error
                .hint()
                .unwrap_or_else(|| "fix the patterns in src/urls.rs and the apps' urls.rs".into()),
        )],
    }
}

/// `nuages.E003`: the templates cannot be loaded: a syntax error, an
/// unknown function or filter, a missing parent, an unreadable folder.
pub fn check_templates_load(ctx: &CheckContext) -> Vec<CheckMessage> {
    let resolver = ctx.project.urlconf().resolver().unwrap_or_default();
    let result = Engine::new(
        template_dirs(ctx),
        false,
        Arc::new(resolver),
        Arc::new(|path: &str| Ok(path.to_string())),
        ctx.project.template_libraries(),
    );
    match result {
        Ok(_) => vec![],
        Err(error) => {
            let error = Error::from(error);
            // The chain's first link is the error's own "cannot load the
            // templates", which the message already says.
            let chain = error.chain();
            let causes = chain.get(1..).filter(|c| !c.is_empty()).unwrap_or(&chain);
            vec![CheckMessage::error(
                "nuages.E003",
                format!("The templates cannot be loaded: {}", causes.join(": ")),
                error.hint().unwrap_or_else(|| {
                    "fix the template at the place shown; templates are read from template_dirs, then from \
                     each app's templates/ folder"
                        .into()
                }),
            )]
        }
    }
}

/// A literal `url(name="…", …)` call of a template.
struct UrlCall<'a> {
    /// Where the name starts.
    at: usize,
    name: &'a str,
    /// The names of the other arguments, when the call could be read to
    /// its closing parenthesis.
    arguments: Option<Vec<&'a str>>,
}

/// The literal `url(name="…")` and `url(name='…')` calls in a template's
/// source. A small scanner rather than a regular expression: every `check`
/// and every server start runs this, and a regex engine's code and tables
/// would stay in the process.
fn url_calls(source: &str) -> impl Iterator<Item = UrlCall<'_>> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    source.match_indices("url(").filter_map(move |(at, _)| {
        if source[..at].chars().next_back().is_some_and(is_word) {
            return None;
        }
        let rest = source[at + "url(".len()..].trim_start();
        let rest = rest.strip_prefix("name")?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
        let name = &rest[1..];
        let end = name.find(quote)?;
        Some(UrlCall {
            at: source.len() - rest.len() + 1,
            name: &name[..end],
            arguments: argument_names(&name[end + 1..]),
        })
    })
}

/// The names of the keyword arguments in `, a=…, b=…)`, the rest of a
/// call; `None` where it reads as something else (then nothing is judged).
fn argument_names(mut rest: &str) -> Option<Vec<&str>> {
    let mut names = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.starts_with(')') {
            return Some(names);
        }
        rest = rest.strip_prefix(',')?.trim_start();
        if rest.starts_with(')') {
            return Some(names);
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        let (name, after) = rest.split_at(end);
        let after = after.trim_start().strip_prefix('=')?;
        if name.is_empty() || after.starts_with('=') {
            return None;
        }
        names.push(name);
        rest = past_value(after)?;
    }
}

/// `rest` after a value: at the `,` or `)` that ends it, outside brackets
/// and strings; `None` if the tag ends first.
fn past_value(rest: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut quote = None;
    for (at, c) in rest.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') if depth > 0 => depth -= 1,
            (None, ',' | ')') if depth == 0 => return Some(&rest[at..]),
            (None, '}') => return None,
            (None, '%') if rest[at..].starts_with("%}") => return None,
            _ => {}
        }
    }
    None
}

/// The template files that are used, each with its name, path and source:
/// for a name found in two folders, the earlier folder's (as the engine
/// picks). Unreadable folders and files are skipped: loading the engine
/// reports them.
fn template_sources(ctx: &CheckContext) -> impl Iterator<Item = (String, PathBuf, String)> {
    let files: BTreeMap<String, PathBuf> =
        crate::templates::template_files(&template_dirs(ctx)).unwrap_or_default();
    files.into_iter().filter_map(|(template, path)| {
        let source = std::fs::read_to_string(&path).ok()?;
        Some((template, path, source))
    })
}

/// The line of `source` that byte `offset` is on, counted from 1.
fn line_at(source: &str, offset: usize) -> usize {
    source[..offset].matches('\n').count() + 1
}

/// The route names `url()` can reverse.
fn route_names(resolver: &Resolver) -> BTreeSet<&str> {
    resolver
        .routes()
        .iter()
        .filter_map(|r| r.name.as_deref())
        .collect()
}

/// Whether the arguments `given` to `url(name=…)` fit none of the routes
/// of that name (as Django's `reverse`, exactly their parameters): the
/// arguments as written and what the routes take, if so. A map of them
/// (`kwargs=…`) is not judged.
fn wrong_arguments(resolver: &Resolver, name: &str, given: &[&str]) -> Option<(String, String)> {
    if given.contains(&"kwargs") {
        return None;
    }
    let mut wanted: Vec<&str> = given.to_vec();
    wanted.sort_unstable();
    let mut takes = Vec::new();
    for route in resolver
        .routes()
        .iter()
        .filter(|r| r.name.as_deref() == Some(name))
    {
        let mut params: Vec<&str> = route.params().collect();
        params.sort_unstable();
        if params == wanted {
            return None;
        }
        takes.push(match params.is_empty() {
            true => "no arguments".to_string(),
            false => params.join(", "),
        });
    }
    let given = given.iter().map(|g| format!(", {g}=…")).collect();
    Some((given, takes.join(" or ")))
}

/// `nuages.E004`: a literal `url(name="…")` in a template names no route,
/// or gives it arguments that fit none of the routes of that name, so
/// rendering that template fails.
pub fn check_template_url_names(ctx: &CheckContext) -> Vec<CheckMessage> {
    // A configuration that does not build is nuages.E005's to report.
    let Ok(resolver) = ctx.project.urlconf().resolver() else {
        return vec![];
    };
    let names = route_names(&resolver);
    let mut messages = Vec::new();
    for (template, path, source) in template_sources(ctx) {
        for UrlCall {
            at: start,
            name,
            arguments,
        } in url_calls(&source)
        {
            if names.contains(name) {
                if let Some(message) = arguments
                    .and_then(|given| wrong_arguments(&resolver, name, &given))
                    .map(|(given, takes)| {
                        let line = line_at(&source, start);
                        CheckMessage::error(
                            "nuages.E004",
                            format!(
                                "The template '{template}' ({}, line {line}) calls url(name=\"{name}\"{given}), \
                                 but the route \"{name}\" takes {takes}.",
                                path.display()
                            ),
                            format!(
                                "give url() the route's parameters by name, e.g. url(name=\"{name}\"{}), in {}",
                                resolver
                                    .routes()
                                    .iter()
                                    .find(|r| r.name.as_deref() == Some(name))
                                    .map(|r| r.params().map(|p| format!(", {p}=…")).collect::<String>())
                                    .unwrap_or_default(),
                                path.display()
                            ),
                        )
                    })
                {
                    messages.push(message);
                }
                continue;
            }
            let line = line_at(&source, start);
            let hint = match crate::conf::closest_name(name, names.iter().copied()) {
                Some(close) => format!(
                    "did you mean \"{close}\"? Fix the name in {}",
                    path.display()
                ),
                None if names.is_empty() => format!(
                    "the project has no named routes: add one with .path(\"…\", view, \"{name}\") in src/urls.rs, \
                     or remove the url() call"
                ),
                None => format!(
                    "name a route \"{name}\" with .path(\"…\", view, \"{name}\") in src/urls.rs (an app's routes \
                     are \"<namespace>:<name>\"), or fix the name; the names are: {}",
                    names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            };
            messages.push(CheckMessage::error(
                "nuages.E004",
                format!(
                    "The template '{template}' ({}, line {line}) calls url(name=\"{name}\"), but no route is named \
                     \"{name}\".",
                    path.display()
                ),
                hint,
            ));
        }
    }
    messages
}

/// The variables a template prints whole that are named as forms are
/// (`form`, or ending in `_form`), as `{{ form }}` or `{{ form|safe }}`,
/// each with its byte offset. A small scanner, as [`url_calls`].
fn forms_printed(source: &str) -> impl Iterator<Item = (usize, &str)> {
    source.match_indices("{{").filter_map(move |(at, _)| {
        let inside = &source[at + 2..];
        let inside = inside.strip_prefix('-').unwrap_or(inside).trim_start();
        let end = inside
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(inside.len());
        let (name, rest) = inside.split_at(end);
        if name != "form" && !name.ends_with("_form") {
            return None;
        }
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("|safe").unwrap_or(rest).trim_start();
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        rest.starts_with("}}").then_some((at, name))
    })
}

/// `nuages.W037`: a template prints a form whole, `{{ form }}`, which in
/// Django renders its fields; Tera prints the form's data there (a map),
/// so the page would show that instead of the form.
pub fn check_template_prints_form(ctx: &CheckContext) -> Vec<CheckMessage> {
    let mut messages = Vec::new();
    for (template, path, source) in template_sources(ctx) {
        for (start, name) in forms_printed(&source) {
            let line = line_at(&source, start);
            messages.push(CheckMessage::warning(
                "nuages.W037",
                format!(
                    "The template '{template}' ({}, line {line}) prints {{{{ {name} }}}}: Django renders a \
                     form's fields there, Tera prints its data.",
                    path.display()
                ),
                format!(
                    "write {{{{ render_form(form={name}) }}}} (the CSRF input, then the fields) or \
                     {{{{ {name}.as_p }}}} in {}; if {name} is not a form, silence nuages.W037",
                    path.display()
                ),
            ));
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::project::App;
    use crate::project::Project;
    use crate::urls::UrlConf;
    use std::path::Path;

    async fn view() {}

    fn urls() -> UrlConf {
        UrlConf::new().path("", view, "home").include(
            "polls/",
            UrlConf::app("polls").path("<int:id>/", view, "detail"),
        )
    }

    fn invalid() -> UrlConf {
        UrlConf::new().path("a/<number:x>/", view, "one")
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(
        dir: &Path,
        project: &Project,
        check: fn(&CheckContext) -> Vec<CheckMessage>,
    ) -> Vec<CheckMessage> {
        let settings = settings_in(dir);
        check(&CheckContext::new(&settings, project))
    }

    #[test]
    fn e003_fires_for_a_template_that_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).urls(urls);
        write(
            &dir.path().join("templates/base.html"),
            "{% block content %}{% endblock content %}",
        );
        assert_eq!(run(dir.path(), &project, check_templates_load), vec![]);
        write(&dir.path().join("templates/broken.html"), "{% if %}");
        let messages = run(dir.path(), &project, check_templates_load);
        assert_eq!(ids(&messages), ["nuages.E003"]);
        assert!(
            messages[0].message.contains("broken.html"),
            "{}",
            messages[0].message
        );
        // Said once, not "cannot be loaded: cannot load the templates: …".
        assert!(
            messages[0]
                .message
                .starts_with("The templates cannot be loaded: ")
                && !messages[0].message.contains("cannot load the templates"),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn w037_names_a_form_printed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).urls(urls);
        write(
            &dir.path().join("templates/fine.html"),
            "{{ form.as_p }} {{ render_form(form=form) }} {{ platform }} {{ form.fields.a.widget }}",
        );
        assert_eq!(
            run(dir.path(), &project, check_template_prints_form),
            vec![]
        );
        write(
            &dir.path().join("templates/vote.html"),
            "<form method=\"post\">\n{{ form }}\n{{- login_form|safe -}}</form>",
        );
        let messages = run(dir.path(), &project, check_template_prints_form);
        assert_eq!(ids(&messages), ["nuages.W037", "nuages.W037"]);
        assert!(
            messages[0]
                .message
                .starts_with("The template 'vote.html' (")
                && messages[0].message.contains("line 2) prints {{ form }}"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[1]
                .message
                .contains("line 3) prints {{ login_form }}"),
            "{}",
            messages[1].message
        );
        let hint = messages[0].hint.as_deref().unwrap_or_default();
        assert!(
            hint.starts_with("write {{ render_form(form=form) }} (the CSRF input, then the fields) or {{ form.as_p }}"),
            "{hint}"
        );
        assert_eq!(messages[0].level, crate::checks::Level::Warning);
    }

    /// `manage check` without `--deploy` (and `runserver`) names a form
    /// printed whole, as the README says, and docs/checks.md says so too.
    #[test]
    fn w037_runs_without_deploy_as_docs_checks_md_says() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).urls(urls);
        write(&dir.path().join("templates/vote.html"), "{{ form }}");
        let settings = settings_in(dir.path());
        let report = crate::checks::run_checks(&CheckContext::new(&settings, &project), &[]);
        assert!(
            report.messages.iter().any(|m| m.id == "nuages.W037"),
            "{:?}",
            report.messages
        );
        let docs = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/checks.md"),
        )
        .unwrap();
        let row = docs
            .lines()
            .find(|line| line.starts_with("| `nuages.W037` |"))
            .unwrap();
        assert!(
            row.starts_with("| `nuages.W037` | warning | no |"),
            "docs/checks.md: {row}"
        );
    }

    #[test]
    fn e003_shows_the_nuages_spelling_of_a_django_tag() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).urls(urls);
        write(
            &dir.path().join("templates/page.html"),
            "<a href=\"{% url 'polls:detail' q.id %}\">",
        );
        let messages = run(dir.path(), &project, check_templates_load);
        assert_eq!(ids(&messages), ["nuages.E003"]);
        let hint = messages[0].hint.as_deref().unwrap_or_default();
        assert!(
            hint.contains("Nuages writes `{{ url(name=\"polls:detail\", id=q.id) }}`"),
            "{hint}"
        );
    }

    #[test]
    fn e003_covers_app_templates() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        write(
            &app.templates_dir().join("polls/index.html"),
            "{{ unknown_function() }}",
        );
        let project = project_in(dir.path()).urls(urls).apps(vec![app]);
        assert_eq!(
            ids(&run(dir.path(), &project, check_templates_load)),
            ["nuages.E003"]
        );
    }

    #[test]
    fn e004_fires_for_a_url_name_no_route_has() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        write(
            &dir.path().join("templates/base.html"),
            "<a href=\"{{ url(name=\"home\") }}\">{{ url( name = 'polls:detail', id=1) }}</a>",
        );
        let project = project_in(dir.path()).urls(urls).apps(vec![app.clone()]);
        assert_eq!(run(dir.path(), &project, check_template_url_names), vec![]);

        // A route named right, given arguments it does not take.
        write(
            &dir.path().join("templates/args.html"),
            "{{ url(name='home', foo=1) }}\n{{ url(name='polls:detail') }}\n\
             {{ url(name='polls:detail', kwargs=k) }}",
        );
        let messages = run(dir.path(), &project, check_template_url_names);
        let said: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said[0].contains("line 1) calls url(name=\"home\", foo=…), but the route \"home\" takes no arguments."),
            "{said:?}"
        );
        assert!(
            said[1].contains(
                "line 2) calls url(name=\"polls:detail\"), but the route \"polls:detail\" takes id."
            ),
            "{said:?}"
        );
        assert!(
            messages[1]
                .hint
                .as_deref()
                .unwrap()
                .contains("url(name=\"polls:detail\", id=…)"),
            "{:?}",
            messages[1].hint
        );
        std::fs::remove_file(dir.path().join("templates/args.html")).unwrap();

        write(
            &app.templates_dir().join("polls/detail.html"),
            "line one\n{{ url(name='polls:detial', id=2) }}\n{{ url(name=\"nowhere\") }}",
        );
        let messages = run(dir.path(), &project, check_template_url_names);
        assert_eq!(ids(&messages), ["nuages.E004", "nuages.E004"]);
        assert!(
            messages[0].message.contains("'polls/detail.html'"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0].message.contains("line 2"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean \"polls:detail\"?")
        );
        assert!(
            messages[1].message.contains("\"nowhere\""),
            "{}",
            messages[1].message
        );
    }

    #[test]
    fn e004_reads_only_the_template_the_engine_uses() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        // The project's copy shadows the app's.
        write(
            &dir.path().join("templates/polls/x.html"),
            "{{ url(name=\"home\") }}",
        );
        write(
            &app.templates_dir().join("polls/x.html"),
            "{{ url(name=\"gone\") }}",
        );
        let project = project_in(dir.path()).urls(urls).apps(vec![app]);
        assert_eq!(run(dir.path(), &project, check_template_url_names), vec![]);
    }

    #[test]
    fn e005_fires_for_an_invalid_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let messages = run(
            dir.path(),
            &project_in(dir.path()).urls(invalid),
            check_urlconf,
        );
        assert_eq!(ids(&messages), ["nuages.E005"]);
        assert!(
            messages[0].message.contains("a/<number:x>/"),
            "{}",
            messages[0].message
        );
        assert_eq!(
            run(
                dir.path(),
                &project_in(dir.path()).urls(urls),
                check_urlconf
            ),
            vec![]
        );
    }

    #[test]
    fn url_calls_finds_each_literal_name_where_it_starts_and_its_arguments() {
        let source = "{{ url(name=\"home\") }}\n{{ url( name = 'polls:detail', id=1) }}\n\
                      {{ myurl(name=\"not\") }} {{ url(name=variable) }} {{ url(id=1, name=\"later\") }} \
                      {{ url(name=\"open";
        let found: Vec<(usize, &str)> = url_calls(source).map(|c| (c.at, c.name)).collect();
        assert_eq!(found, [(13, "home"), (39, "polls:detail")]);
        let arguments: Vec<Option<Vec<&str>>> = url_calls(
            "{{ url(name='a') }}{{ url(name='b', id=q.id, slug=f(x, \"),\")[0],) }}\
             {{ url(name='c', kwargs={\"id\": 1}) }}{{ url(name='d', id == 1) }}{{ url(name='e', id=",
        )
        .map(|c| c.arguments)
        .collect();
        assert_eq!(
            arguments,
            [
                Some(vec![]),
                Some(vec!["id", "slug"]),
                Some(vec!["kwargs"]),
                None,
                None
            ]
        );
        for (start, name) in found {
            assert_eq!(&source[start..start + name.len()], name);
        }
    }
}
