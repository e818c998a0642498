//! The URL patterns of mysite, as Django's urls.py.
//!
//! Examples:
//!     .path("", home, "home")                          an async fn view of this file
//!     .include("polls/", crate::polls::urls::urlpatterns())   an app's patterns
//!
//! `accounts/` holds the login and logout pages (routes `login`, `logout`).

use nuages::prelude::*;

/// The project's URL patterns.
pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("", home, "home")
        .include("polls/", crate::polls::urls::urlpatterns())
        .include("accounts/", nuages::auth::urls())
}

/// The home page: the way to the polls.
async fn home(templates: Templates) -> Result<Html<String>> {
    templates.render("home.html", context! {})
}
