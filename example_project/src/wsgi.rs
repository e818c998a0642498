//! The entry point for servers: `application()` is what `serve`,
//! `runserver`, or any hyper/axum server hosts.

use nuages::{Application, Project};

/// The project: its name, its folder, its URLs and its installed apps,
/// and what it adds of its own.
pub fn project() -> Project {
    Project::new(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"))
        .urls(crate::urls::urlpatterns)
        .apps(crate::installed_apps())
        // A middleware of its own, placed by the `middleware` setting.
        .middleware("timing", crate::middleware::timing)
        // A value every view may take as Data<VotesSinceStart>.
        .state(crate::polls::views::VotesSinceStart::default())
    // What a project adds of its own goes here (apps have the same methods):
    //  .middleware("timing", crate::middleware::timing)
    //      an async fn(Request, Next) -> Response, placed among the built-in
    //      ones by the `middleware` setting;
    //  .settings_section::<MySettings>("mysection")
    //      the [mysection] table of the settings files, read into MySettings
    //      (derive serde's Serialize and Deserialize, and Default); views
    //      take Config<MySettings>;
    //  .state(ApiClient::new())
    //      a value every view may take as Data<ApiClient>;
    //  .template_library(crate::templatetags::register)
    //      a fn(&mut nuages::tera::Tera) that registers filters, functions
    //      and tests for every template.
}

/// The application, built with the selected settings file (`--settings`,
/// else NUAGES_SETTINGS, else settings.toml).
pub fn application() -> nuages::Result<Application> {
    nuages::get_wsgi_application(project())
}
