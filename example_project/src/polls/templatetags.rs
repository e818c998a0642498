//! The polls app's template filters, as a Django app's `templatetags/`.

use nuages::tera::{Kwargs, State, Tera, TeraResult};

/// Register the filters; runs again whenever templates reload in debug.
pub fn register(tera: &mut Tera) {
    tera.register_filter("pluralize", pluralize);
}

/// Django's `pluralize`: `vote{{ n | pluralize }}` is "vote" for 1 and
/// "votes" otherwise; `pluralize(suffix="y,ies")` gives both endings.
fn pluralize(count: i64, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let suffix: &str = kwargs.get("suffix")?.unwrap_or("s");
    let (singular, plural) = suffix.split_once(',').unwrap_or(("", suffix));
    Ok(if count == 1 { singular } else { plural }.to_string())
}
