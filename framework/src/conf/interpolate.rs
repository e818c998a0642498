//! `${VAR}` and `${VAR:-default}` inside setting strings.

/// Why a string could not be interpolated.
#[derive(Debug, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${VAR}` with VAR unset and no default.
    Unset(String),
    /// `${` without a closing brace, or an empty or invalid name.
    Malformed(String),
}

/// Replace every `${VAR}` / `${VAR:-default}` in `input`, looking variables up
/// with `lookup`. `$$` stands for a literal `$`.
pub fn interpolate(
    input: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    expand(input, |name, default| match (lookup(name), default) {
        // As in a shell: `:-` takes the default for an empty variable too
        // (an environment file's `LOG_FILE=` line).
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(InterpolationError::Unset(name.to_string())),
    })
}

/// The variables `input` reads, in order, each with whether it has a
/// default (`${VAR:-default}`), so that it may be left unset.
pub fn references(input: &str) -> Result<Vec<(String, bool)>, InterpolationError> {
    let mut found = Vec::new();
    expand(input, |name, default| {
        found.push((name.to_string(), default.is_some()));
        Ok(String::new())
    })?;
    Ok(found)
}

/// `input` with each `${VAR}` / `${VAR:-default}` replaced by what `value`
/// gives for its name and default.
fn expand(
    input: &str,
    mut value: impl FnMut(&str, Option<&str>) -> Result<String, InterpolationError>,
) -> Result<String, InterpolationError> {
    if !input.contains('$') {
        return Ok(input.to_string());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| {
                InterpolationError::Malformed(format!("`${{{body}` has no closing brace"))
            })?;
            let reference = &body[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(InterpolationError::Malformed(format!(
                    "`${{{reference}}}` is not a variable name (letters, digits and _)"
                )));
            }
            out.push_str(&value(name, default)?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SECRET_KEY" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variables() {
        assert_eq!(interpolate("${SECRET_KEY}", env).unwrap(), "s3cret");
        assert_eq!(interpolate("a-${SECRET_KEY}-b", env).unwrap(), "a-s3cret-b");
        assert_eq!(interpolate("${EMPTY}", env).unwrap(), "");
        // `:-` as in a shell: unset or empty.
        assert_eq!(interpolate("${EMPTY:-x.log}", env).unwrap(), "x.log");
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        assert_eq!(interpolate("${NOPE:-fallback}", env).unwrap(), "fallback");
        assert_eq!(interpolate("${NOPE:-}", env).unwrap(), "");
        assert_eq!(interpolate("${SECRET_KEY:-x}", env).unwrap(), "s3cret");
    }

    #[test]
    fn unset_without_default_names_the_variable() {
        assert_eq!(
            interpolate("${NOPE}", env),
            Err(InterpolationError::Unset("NOPE".into()))
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(
            interpolate("${OPEN", env),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${}", env),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${A B}", env),
            Err(InterpolationError::Malformed(_))
        ));
    }

    #[test]
    fn plain_dollars_and_escapes_stay() {
        assert_eq!(interpolate("cost $5", env).unwrap(), "cost $5");
        assert_eq!(interpolate("$${SECRET_KEY}", env).unwrap(), "${SECRET_KEY}");
    }

    #[test]
    fn references_name_each_variable_and_whether_it_has_a_default() {
        assert_eq!(
            references("postgres://u:${DB_PASSWORD}@${DB_HOST:-localhost}/x $${NOT}").unwrap(),
            [
                ("DB_PASSWORD".to_string(), false),
                ("DB_HOST".to_string(), true)
            ]
        );
        assert!(references("${BROKEN").is_err());
    }
}
