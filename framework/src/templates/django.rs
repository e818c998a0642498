//! Django's template syntax that Tera does not know: the tags `{% url %}`,
//! `{% static %}`, `{% csrf_token %}`, `{% load %}`, `{% empty %}`,
//! `{% with %}` and `{% comment %}`, and a filter's argument after a colon
//! (`{{ name|default:"nobody" }}`). They are what a Django user writes
//! first, so a syntax error at one of them gets a hint with the Nuages
//! spelling (`{{ url(name="…", param=…) }}`, `{{ static(path="…") }}`,
//! `{{ csrf_input() }}`, `{% else %}`, `{% set … %}`, `{# … #}`,
//! `|default(value="nobody")`). So does a call with positional arguments,
//! as Jinja writes it (`{{ url('polls:index') }}`, `{{ static('x.css') }}`).

use crate::urls::Resolver;

/// The hint for a syntax error at byte `at` of `source`, when the tag
/// around it is one of Django's. `resolver` names the parameters of the
/// route a `{% url %}` reverses.
pub(super) fn hint(source: &str, at: usize, resolver: &Resolver) -> Option<String> {
    if let Some(hint) = positional_call(source, at, resolver) {
        return Some(hint);
    }
    if let Some(hint) = filter_argument(source, at) {
        return Some(hint);
    }
    let tag = enclosing_tag(source, at)?;
    let words = split_words(tag.trim_matches('-').trim());
    let (name, args) = words.split_first()?;
    let django = format!("{{% {} %}}", words.join(" "));
    let nuages = match name.as_str() {
        "url" => url_call(args, resolver)?,
        "static" => {
            let (args, target) = split_as(args);
            let [path] = args else { return None };
            let call = format!("static(path={})", expression(path));
            output(&call, target)
        }
        "csrf_token" => "{{ csrf_input() }}".to_string(),
        "load" => {
            return Some(format!(
                "`{django}` is Django's syntax and Nuages needs none: url(), static() and csrf_input() are always \
                 available in templates; delete the tag"
            ));
        }
        "empty" => {
            return Some(format!(
                "`{django}` is Django's syntax; in a for loop Nuages writes `{{% else %}}` before the part \
                 shown when there is nothing to loop over"
            ));
        }
        "with" => {
            let sets: Vec<String> = match split_as(args) {
                ([value], Some(name)) => vec![format!("{{% set {name} = {value} %}}")],
                (args, None) if !args.is_empty() => args
                    .iter()
                    .map(|arg| {
                        let (name, value) = arg.split_once('=')?;
                        Some(format!("{{% set {name} = {} %}}", expression(value)))
                    })
                    .collect::<Option<_>>()?,
                _ => return None,
            };
            return Some(format!(
                "`{django}` is Django's syntax; Nuages writes `{}` and no `{{% endwith %}}`",
                sets.join("")
            ));
        }
        "comment" => {
            return Some(format!(
                "`{django}` is Django's syntax; Nuages writes a comment as `{{# … #}}`"
            ));
        }
        "autoescape" => {
            return Some(format!(
                "`{django}` is Django's syntax and Tera has no such tag: every template is \
                 HTML-escaped; render a mail's plain text with `Templates::render_text` \
                 (nothing escaped), or mark one value `|safe`; delete the tag and its \
                 `{{% endautoescape %}}`"
            ));
        }
        _ => return None,
    };
    Some(format!(
        "`{django}` is Django's syntax; Nuages writes `{nuages}`"
    ))
}

/// The hint for a rendering error `message` of Tera's, when it comes from
/// one of Django's template variables: `forloop` and `block.super` parse
/// in Tera, and are undefined only when the template renders.
pub(super) fn render_hint(message: &str) -> Option<String> {
    if message.contains("Variable `forloop` is not defined") {
        return Some(
            "`forloop` is Django's loop variable; in Tera it is `loop`: `loop.index` for forloop.counter, \
             `loop.index0` for forloop.counter0, `loop.first`, `loop.last`, `loop.length`"
                .to_string(),
        );
    }
    if message.contains("Variable `block` is not defined") {
        return Some(
            "`{{ block.super }}` is Django's syntax; Nuages writes `{{ super() }}`".to_string(),
        );
    }
    None
}

/// `{{ url('polls:index') }}` or `{{ static('x.css') }}`, as Jinja and
/// Django's Jinja2 backend write them: Tera's functions take named
/// arguments only, and says "expected identifier" at the first positional
/// one. The hint gives the call with its arguments named.
fn positional_call(source: &str, at: usize, resolver: &Resolver) -> Option<String> {
    let at = at.min(source.len());
    let before = source.get(..at)?;
    let open = before.rfind("{{")? + 2;
    if before[open..].contains("}}") {
        return None;
    }
    let close = open + source[open..].find("}}")?;
    let inside = &source[open..close];
    let paren = inside.find('(')?;
    // The error is in the arguments, not at the function's name.
    if at <= open + paren {
        return None;
    }
    let function = inside[..paren].trim_matches('-').trim();
    let (arguments, _) = inside[paren + 1..].rsplit_once(')')?;
    let args: Vec<String> = split_arguments(arguments)
        .into_iter()
        .map(|arg| match arg.split_once('=') {
            Some((key, value)) if !arg.starts_with(['\'', '"']) => {
                format!("{}={}", key.trim(), value.trim())
            }
            _ => arg,
        })
        .collect();
    if args.first()?.contains('=') && !args[0].starts_with(['\'', '"']) {
        return None;
    }
    let nuages = match function {
        "url" => url_call(&args, resolver)?,
        "static" => {
            let [path] = args.as_slice() else {
                return None;
            };
            output(&format!("static(path={})", expression(path)), None)
        }
        _ => return None,
    };
    Some(format!(
        "Tera's functions take named arguments, not positional ones; Nuages writes `{nuages}`"
    ))
}

/// `{{ name|default:"nobody" }}`: Django passes a filter's argument after a
/// colon, where Tera says "Found `:` but expected }}"; Tera names it in
/// parentheses. The hint gives the Tera call for the filters that have one
/// of the same meaning, and the rule for the others.
fn filter_argument(source: &str, at: usize) -> Option<String> {
    let after = source.get(at..)?.strip_prefix(':')?;
    let before = &source[..at];
    let name = &before[before.rfind('|')? + 1..];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let argument = match after.chars().next()? {
        quote @ ('"' | '\'') => {
            let end = after[1..].find(quote)? + 2;
            &after[..end]
        }
        _ => {
            let end = after
                .find(|c: char| c.is_whitespace() || matches!(c, '|' | '}' | '%'))
                .unwrap_or(after.len());
            &after[..end]
        }
    };
    if argument.is_empty() {
        return None;
    }
    let django = format!("|{name}:{argument}");
    let value = expression(argument);
    let tera = match name {
        "default" => format!("|default(value={value})"),
        "join" => format!("|join(sep={value})"),
        "truncatechars" => format!("|truncate(length={value})"),
        _ => {
            return Some(format!(
                "`{django}` is Django's way to pass a filter's argument; Tera names it in parentheses, \
                 as in `|default(value=\"none\")`: see Tera's list of filters for `{name}` and its arguments"
            ));
        }
    };
    Some(format!(
        "`{django}` is Django's syntax; Nuages writes `{tera}`"
    ))
}

/// The arguments of a call, split at the commas outside quotes and
/// brackets, each trimmed.
fn split_arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut arg = String::new();
    let (mut quote, mut depth) = (None, 0usize);
    for c in text.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                arg.push(c);
            }
            None => match c {
                '"' | '\'' => {
                    quote = Some(c);
                    arg.push(c);
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    arg.push(c);
                }
                ')' | ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    arg.push(c);
                }
                ',' if depth == 0 => args.push(std::mem::take(&mut arg).trim().to_string()),
                _ => arg.push(c),
            },
        }
    }
    if !arg.trim().is_empty() {
        args.push(arg.trim().to_string());
    }
    args
}

/// The text between `{%` and `%}` around byte `at`, if `at` is inside a tag.
fn enclosing_tag(source: &str, at: usize) -> Option<&str> {
    let at = at.min(source.len());
    let open = source.get(..at)?.rfind("{%")? + 2;
    let close = open + source[open..].find("%}")?;
    (close >= at).then(|| &source[open..close])
}

/// Words separated by spaces; a quoted string is one word.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                word.push(c);
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Django's `… as name` ending: the arguments before it and the variable.
fn split_as(args: &[String]) -> (&[String], Option<&str>) {
    match args {
        [rest @ .., keyword, target] if keyword == "as" => (rest, Some(target.as_str())),
        _ => (args, None),
    }
}

/// A Django literal or variable as a Tera expression: `'x'` becomes `"x"`.
fn expression(word: &str) -> String {
    match literal(word) {
        Some(text) => format!("{text:?}"),
        None => word.to_string(),
    }
}

/// The text of a quoted word.
fn literal(word: &str) -> Option<&str> {
    ["'", "\""].iter().find_map(|quote| {
        word.strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
    })
}

/// `{{ call }}`, or `{% set name = call %}` for Django's `as name`.
fn output(call: &str, target: Option<&str>) -> String {
    match target {
        Some(name) => format!("{{% set {name} = {call} %}}"),
        None => format!("{{{{ {call} }}}}"),
    }
}

/// `{% url 'name' a b %}` → `{{ url(name="name", p1=a, p2=b) }}`, the
/// positional arguments named after the route's parameters.
fn url_call(args: &[String], resolver: &Resolver) -> Option<String> {
    let (args, target) = split_as(args);
    let (name, args) = args.split_first()?;
    let params: Vec<&str> = literal(name)
        .and_then(|name| {
            resolver
                .routes()
                .iter()
                .find(|route| route.name.as_deref() == Some(name))
        })
        .map(|route| route.params().collect())
        .unwrap_or_default();
    let positional = args.iter().filter(|a| !a.contains('=')).count();
    let mut index = 0;
    let named: Vec<(String, String)> = args
        .iter()
        .map(|arg| match arg.split_once('=') {
            Some((key, value)) => (key.to_string(), expression(value)),
            None => {
                let key = match params.get(index) {
                    Some(param) => param.to_string(),
                    None if positional == 1 => "id".to_string(),
                    None => format!("arg{}", index + 1),
                };
                index += 1;
                (key, expression(arg))
            }
        })
        .collect();
    let mut call = format!("url(name={}", expression(name));
    // A parameter called `name` (or `kwargs`) can only be given in the map.
    if named
        .iter()
        .any(|(key, _)| key == "name" || key == crate::templates::URL_KWARGS)
    {
        let entries: Vec<String> = named
            .iter()
            .map(|(key, value)| format!("\"{key}\": {value}"))
            .collect();
        call.push_str(&format!(
            ", {}={{{}}}",
            crate::templates::URL_KWARGS,
            entries.join(", ")
        ));
    } else {
        for (key, value) in &named {
            call.push_str(&format!(", {key}={value}"));
        }
    }
    call.push(')');
    Some(output(&call, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::UrlConf;

    async fn view() {}

    fn resolver() -> Resolver {
        UrlConf::new()
            .path("users/<name>/", view, "user")
            .include(
                "polls/",
                UrlConf::app("polls").path("<int:question_id>/", view, "detail"),
            )
            .resolver()
            .unwrap()
    }

    fn hint_at(source: &str, word: &str) -> Option<String> {
        hint(source, source.find(word).unwrap(), &resolver())
    }

    #[test]
    fn django_tags_get_the_nuages_spelling() {
        assert_eq!(
            hint_at("<a href=\"{% url 'polls:detail' q.id %}\">", "url").unwrap(),
            "`{% url 'polls:detail' q.id %}` is Django's syntax; Nuages writes \
             `{{ url(name=\"polls:detail\", question_id=q.id) }}`"
        );
        assert!(
            hint_at("{% url 'other' q.id %}", "url")
                .unwrap()
                .ends_with("`{{ url(name=\"other\", id=q.id) }}`")
        );
        assert!(
            hint_at("{% url \"polls:detail\" question_id=7 as link %}", "url")
                .unwrap()
                .ends_with("`{% set link = url(name=\"polls:detail\", question_id=7) %}`")
        );
        assert!(
            hint_at("<link href=\"{% static 'x.css' %}\">", "static")
                .unwrap()
                .ends_with("`{{ static(path=\"x.css\") }}`")
        );
        assert!(
            hint_at("<form>{%- csrf_token -%}</form>", "csrf_token")
                .unwrap()
                .ends_with("`{{ csrf_input() }}`")
        );
        // A parameter called `name`: in the map, `name=` is the route's.
        assert!(
            hint_at("{% url 'user' u.username %}", "url")
                .unwrap()
                .ends_with("`{{ url(name=\"user\", kwargs={\"name\": u.username}) }}`")
        );
        assert!(
            hint_at("{% load static %}", "load")
                .unwrap()
                .contains("delete the tag")
        );
    }

    #[test]
    fn positional_arguments_get_the_named_spelling() {
        assert_eq!(
            hint_at("<a href=\"{{ url('polls:detail', q.id) }}\">", "'polls").unwrap(),
            "Tera's functions take named arguments, not positional ones; Nuages writes \
             `{{ url(name=\"polls:detail\", question_id=q.id) }}`"
        );
        assert!(
            hint_at("{{ url(\"polls:index\") }}", "\"polls")
                .unwrap()
                .ends_with("`{{ url(name=\"polls:index\") }}`")
        );
        assert!(
            hint_at("{{- static('css/site.css') -}}", "'css")
                .unwrap()
                .ends_with("`{{ static(path=\"css/site.css\") }}`")
        );
        // Named already, or another function: no hint.
        assert_eq!(hint_at("{{ url(name='a', 'b') }}", "'b'"), None);
        assert_eq!(hint_at("{{ other('a') }}", "'a'"), None);
    }

    #[test]
    fn django_filter_arguments_and_tags_get_the_tera_spelling() {
        assert_eq!(
            hint_at("<p>{{ user.name|default:\"nobody\" }}</p>", ":").unwrap(),
            "`|default:\"nobody\"` is Django's syntax; Nuages writes `|default(value=\"nobody\")`"
        );
        assert!(
            hint_at("{{ tags|join:', ' }}", ":")
                .unwrap()
                .ends_with("`|join(sep=\", \")`")
        );
        assert!(
            hint_at("{{ text|truncatechars:30|upper }}", ":")
                .unwrap()
                .ends_with("`|truncate(length=30)`")
        );
        let other = hint_at("{{ when|date:\"Y-m-d\" }}", ":").unwrap();
        assert!(
            other.starts_with("`|date:\"Y-m-d\"` is Django's way to pass a filter's argument"),
            "{other}"
        );
        assert!(
            hint_at(
                "{% for q in questions %}{{ q }}{% empty %}None{% endfor %}",
                "empty"
            )
            .unwrap()
            .contains("Nuages writes `{% else %}`")
        );
        assert!(
            hint_at(
                "{% with total=business.employees|length %}{{ total }}{% endwith %}",
                "with"
            )
            .unwrap()
            .contains(
                "Nuages writes `{% set total = business.employees|length %}` and no `{% endwith %}`"
            )
        );
        assert!(
            hint_at("{% with a=1 b='x' %}", "with")
                .unwrap()
                .contains("`{% set a = 1 %}{% set b = \"x\" %}`")
        );
        assert!(
            hint_at("{% comment %}draft{% endcomment %}", "comment")
                .unwrap()
                .ends_with("`{# … #}`")
        );
    }

    #[test]
    fn djangos_autoescape_tag_names_render_text_and_safe() {
        let hint = hint_at(
            "{% autoescape off %}Hi {{ name }}{% endautoescape %}",
            "autoescape",
        )
        .unwrap();
        assert!(
            hint.starts_with("`{% autoescape off %}` is Django's syntax"),
            "{hint}"
        );
        assert!(
            hint.contains("Templates::render_text") && hint.contains("|safe"),
            "{hint}"
        );
    }

    #[test]
    fn other_errors_get_no_hint() {
        assert_eq!(hint_at("{% if %}", "if"), None);
        assert_eq!(hint_at("{{ url('a') }} {% if x %}", "url"), None);
        assert_eq!(hint("{% url %}", 100, &resolver()), None);
        // A colon that is not a filter's argument, or an empty one.
        assert_eq!(hint_at("{{ a:b }}", ":"), None);
        assert_eq!(hint_at("{{ a|lower: }}", ":"), None);
    }
}
