//! The mysite project.

pub mod polls;
pub mod urls;
pub mod wsgi;

// The project's apps are modules, as Django's INSTALLED_APPS: `manage
// startapp NAME` creates src/NAME/; declare it here (`pub mod NAME;`) and
// list `NAME::app()` below.

/// The project's installed apps, in order.
pub fn installed_apps() -> Vec<nuages::apps::App> {
    vec![polls::app()]
}
