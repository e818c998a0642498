//! The URL patterns of the polls app. Included by the project's src/urls.rs
//! as `.include("polls/", crate::polls::urls::urlpatterns())`.

use nuages::prelude::*;

use super::views;

/// The app's URL patterns, reversed as `polls:<name>`.
pub fn urlpatterns() -> UrlConf {
    UrlConf::app("polls")
        .path("", views::index, "index")
        .path("add/", get(views::add_form).post(views::add_submit), "add")
        .path("<int:question_id>/", views::detail, "detail")
        .path("<int:question_id>/results/", views::results, "results")
        .path("<int:question_id>/vote/", post(views::vote), "vote")
}
