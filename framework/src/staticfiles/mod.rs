//! Static files, as Django's `django.contrib.staticfiles`:
//!
//! - [`finders`]: the source folders (`staticfiles_dirs`, then each app's
//!   `static/`), the first file of a name winning, ignore patterns;
//! - [`serve`]: serving `static_url` from the application (from the sources
//!   in development, optionally from `static_root` in production);
//! - [`mod@collect`]: the engine of `manage collectstatic`;
//! - [`manifest`]: content-hashed names and `staticfiles.json`
//!   (`staticfiles_storage = "manifest"`), and the `static()` template
//!   function's URLs;
//! - [`compress`]: `.gz` and `.br` siblings of compressible files.

pub mod collect;
pub mod compress;
pub mod finders;
pub mod manifest;
pub mod serve;

use std::sync::Arc;

pub use collect::{CollectOptions, Summary, collect};
pub use finders::{Finder, IgnorePatterns};
pub use manifest::Manifest;
pub(crate) use serve::StaticHandler;
pub use serve::StaticServing;

use crate::conf::{Settings, StaticfilesStorage};
use crate::templates::StaticUrlFn;

/// What a URL made by `static()` percent-encodes in a file's name: all but
/// letters, digits and `-._~/!*()'`, as Django's `filepath_to_uri`.
const ENCODED_IN_URLS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')')
    .remove(b'\'');

/// `static_url` + `name`, the name percent-encoded (`a b.css` →
/// `a%20b.css`) up to a `?` or `#`, which start a query or a fragment
/// (`font.woff?#iefix`), as with manifest storage: the same template gives
/// working URLs with `debug` on and off.
fn url_of(static_url: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    let end = name.find(['?', '#']).unwrap_or(name.len());
    format!(
        "{static_url}{}{}",
        percent_encoding::utf8_percent_encode(&name[..end], ENCODED_IN_URLS),
        &name[end..]
    )
}

/// The `static(path=…)` function of the templates.
///
/// With `debug` on, or plain storage: `static_url` + path. With manifest
/// storage and `debug` off: `static_url` + the hashed name from
/// `static_root/staticfiles.json`, read once, here; a missing manifest or a
/// name it lacks is an error that says to run `collectstatic`, never a
/// silent fallback to the unhashed name. A folder (`path/`, `path/?query`)
/// is never hashed, as in Django: its URL is `static_url` + path.
pub(crate) fn static_url_fn(settings: &Settings) -> StaticUrlFn {
    let static_url = settings.static_url.clone();
    let plain = move |path: &str| url_of(&static_url, path);
    if settings.debug || settings.staticfiles_storage == StaticfilesStorage::Plain {
        return Arc::new(move |path: &str| Ok(plain(path)));
    }
    let loaded: Result<(Manifest, String), String> = match &settings.static_root {
        None => Err(
            "staticfiles_storage is \"manifest\" but static_root is not set: set static_root \
             in the settings file and run `manage collectstatic`"
                .to_string(),
        ),
        Some(root) => {
            let file = root.join(manifest::MANIFEST_NAME).display().to_string();
            Manifest::load(root)
                .map(|manifest| (manifest, file.clone()))
                .map_err(|error| {
                    let cause = std::error::Error::source(&error)
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    format!("{error}{cause}; run `manage collectstatic` to create it")
                })
        }
    };
    Arc::new(move |path: &str| match &loaded {
        _ if manifest::names_a_folder(path) => Ok(plain(path)),
        Err(message) => Err(message.clone()),
        Ok((manifest, file)) => manifest
            .stored_name(path)
            .map(|hashed| plain(&hashed))
            .ok_or_else(|| {
                format!(
                    "the static file '{path}' is not in the manifest {file}; \
                     run `manage collectstatic` (or fix the name)"
                )
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(root: &std::path::Path, debug: bool) -> Settings {
        Settings {
            debug,
            static_root: Some(root.to_path_buf()),
            staticfiles_storage: StaticfilesStorage::Manifest,
            ..Settings::default()
        }
    }

    #[test]
    fn manifest_urls_with_debug_off_plain_urls_with_debug_on() {
        let root = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::default();
        manifest
            .paths
            .insert("css/site.css".into(), "css/site.0123456789ab.css".into());
        std::fs::write(root.path().join("staticfiles.json"), manifest.to_json()).unwrap();

        let hashed = static_url_fn(&settings(root.path(), false));
        assert_eq!(
            hashed("css/site.css").unwrap(),
            "/static/css/site.0123456789ab.css"
        );
        let error = hashed("css/other.css").unwrap_err();
        assert!(error.contains("'css/other.css'"), "{error}");
        assert!(error.contains("collectstatic"), "{error}");

        let plain = static_url_fn(&settings(root.path(), true));
        assert_eq!(plain("css/site.css").unwrap(), "/static/css/site.css");
        assert_eq!(plain("css/other.css").unwrap(), "/static/css/other.css");
    }

    #[test]
    fn names_are_percent_encoded_up_to_a_query_or_fragment() {
        let url = |name: &str| url_of("/static/", name);
        assert_eq!(url("css/a b.css"), "/static/css/a%20b.css");
        assert_eq!(
            url("/img/café 100%.png"),
            "/static/img/caf%C3%A9%20100%25.png"
        );
        assert_eq!(url("x\"<y>.js"), "/static/x%22%3Cy%3E.js");
        assert_eq!(url("f.woff?#iefix"), "/static/f.woff?#iefix");
        assert_eq!(url("icons.svg#home"), "/static/icons.svg#home");
        assert_eq!(url("a-b_c.~(1)!*'.css"), "/static/a-b_c.~(1)!*'.css");
    }

    #[test]
    fn a_missing_manifest_says_to_run_collectstatic() {
        let root = tempfile::tempdir().unwrap();
        let url = static_url_fn(&settings(root.path(), false));
        let error = url("css/site.css").unwrap_err();
        assert!(error.contains("staticfiles.json"), "{error}");
        assert!(error.contains("collectstatic"), "{error}");
        let unset = static_url_fn(&Settings {
            static_root: None,
            ..settings(root.path(), false)
        });
        assert!(unset("a.css").unwrap_err().contains("static_root"));
    }

    #[test]
    fn static_urls_are_plain_by_default() {
        let settings = Settings::default();
        let url = static_url_fn(&settings);
        assert_eq!(url("css/site.css").unwrap(), "/static/css/site.css");
    }
}
