//! Mail: the email settings the application refuses to start with
//! (`nuages.E019`); and for deployment, a backend that sends nothing out
//! (`nuages.E018`, as Django's `mail.E001`), an SMTP password written in a
//! settings file (`nuages.W020`, as the database and cache ones), and error
//! mails whose senders are not real addresses of the site (`nuages.W008`).

use super::database::secret_written_in;
use super::{Check, CheckContext, CheckMessage, Level};
use crate::conf::{EmailBackend, Settings};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "email_settings",
            tags: &["email", "settings"],
            deploy: false,
            run: check_email_settings,
        },
        Check {
            name: "email_backend_in_production",
            tags: &["email"],
            deploy: true,
            run: check_email_backend_in_production,
        },
        Check {
            name: "email_password_in_file",
            tags: &["email", "security"],
            deploy: true,
            run: check_email_password_in_file,
        },
        Check {
            name: "email_senders",
            tags: &["email"],
            deploy: true,
            run: check_email_senders,
        },
    ]
}

/// `nuages.E019`: what [`Mailer::new`](crate::mail::Mailer::new) refuses,
/// with its words.
fn check_email_settings(ctx: &CheckContext) -> Vec<CheckMessage> {
    crate::mail::settings_problems(ctx.settings)
        .into_iter()
        .map(|problem| CheckMessage::of(Level::Error, "nuages.E019", problem))
        .collect()
}

/// `nuages.E018`: with `debug` off, a backend that never delivers mail.
fn check_email_backend_in_production(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if settings.debug || settings.email_backend == EmailBackend::Smtp {
        return vec![];
    }
    let backend = settings.email_backend.as_str();
    let fate = match settings.email_backend {
        EmailBackend::Console => "printed on the server's standard output",
        EmailBackend::File => "written to files on the server",
        EmailBackend::Memory => "kept in memory and lost",
        _ => "thrown away",
    };
    vec![CheckMessage::error(
        "nuages.E018",
        format!(
            "email_backend is \"{backend}\" while debug is off: mail is {fate}, never delivered, so no \
             error report reaches the admins and no user gets a mail."
        ),
        "set email_backend = \"smtp\" with email_host and email_port (or NUAGES_EMAIL_BACKEND=smtp in the \
         server's environment)",
    )]
}

/// `nuages.W020`: the SMTP password written in a settings file.
fn check_email_password_in_file(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(selected) = &ctx.settings.settings_file else {
        return vec![];
    };
    if ctx.settings.email_host_password.is_empty() {
        return vec![];
    }
    let key = ["email_host_password"];
    let Some(file) = secret_written_in(ctx, selected, &key, |raw| Some(raw.to_string())) else {
        return vec![];
    };
    vec![CheckMessage::warning(
        "nuages.W020",
        format!(
            "email_host_password is written in {}: anyone who reads the file, its backups or its version \
             history can send mail as the site.",
            file.display()
        ),
        "write email_host_password = \"${EMAIL_HOST_PASSWORD}\" and export EMAIL_HOST_PASSWORD in the \
         server's environment, or set NUAGES_EMAIL_HOST_PASSWORD there instead; then change the password",
    )]
}

/// `nuages.W008`: `server_email` or `default_from_email` at its default
/// while `admins` is set, one message per setting.
pub fn check_email_senders(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if settings.admins.is_empty() {
        return vec![];
    }
    let defaults = Settings::default();
    [
        ("server_email", &settings.server_email, &defaults.server_email, "errors"),
        (
            "default_from_email",
            &settings.default_from_email,
            &defaults.default_from_email,
            "webmaster",
        ),
    ]
    .into_iter()
    .filter(|(_, value, default, _)| value == default)
    .map(|(key, value, _, local)| {
        CheckMessage::warning(
            "nuages.W008",
            format!(
                "{key} is still '{value}' while admins are set: mail servers reject or mark as spam the mails \
                 sent from it."
            ),
            format!("set {key} = \"{local}@example.com\" (an address of the site's domain) in the settings file"),
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn all(ctx: &CheckContext) -> Vec<CheckMessage> {
        checks().iter().flat_map(|check| (check.run)(ctx)).collect()
    }

    #[test]
    fn a_backend_that_never_delivers_is_an_error_in_production() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        let run = |s: &Settings| check_email_backend_in_production(&CheckContext::new(s, &project));
        assert!(run(&settings).is_empty(), "smtp is the default");
        for (backend, fate) in [
            (EmailBackend::Console, "standard output"),
            (EmailBackend::File, "files"),
            (EmailBackend::Memory, "memory"),
            (EmailBackend::Dummy, "thrown away"),
        ] {
            settings.email_backend = backend;
            settings.debug = false;
            let messages = run(&settings);
            assert_eq!(ids(&messages), ["nuages.E018"]);
            assert!(
                messages[0].message.starts_with(&format!(
                    "email_backend is \"{}\" while debug is off",
                    backend.as_str()
                )),
                "{}",
                messages[0].message
            );
            assert!(messages[0].message.contains(fate));
            assert!(
                messages[0]
                    .hint
                    .as_deref()
                    .unwrap()
                    .contains("email_backend = \"smtp\"")
            );
            settings.debug = true;
            assert!(run(&settings).is_empty(), "development may print mail");
        }
    }

    #[test]
    fn refused_email_settings_are_errors_with_the_mailers_words() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        assert!(check_email_settings(&CheckContext::new(&settings, &project)).is_empty());
        settings.email_use_tls = true;
        settings.email_use_ssl = true;
        settings.email_backend = EmailBackend::File;
        let messages = check_email_settings(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&messages), ["nuages.E019", "nuages.E019"]);
        let refused = crate::mail::Mailer::new(&settings).unwrap_err();
        assert_eq!(messages[0].message, refused.to_string());
        assert_eq!(messages[0].hint, refused.hint());
        assert!(messages[1].message.contains("email_file_path"));
    }

    /// A sender at an address literal is refused as a send refuses it,
    /// saying why (lettre cannot write one in a `From` header): it was "not
    /// an email address: Invalid input".
    #[test]
    fn a_sender_at_an_address_literal_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        settings.server_email = "ops@[127.0.0.1]".into();
        settings.default_from_email = "Ops <ops@[::1]>".into();
        let messages = check_email_settings(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&messages), ["nuages.E019", "nuages.E019"]);
        assert_eq!(
            messages[0].message,
            "server_email holds 'ops@[127.0.0.1]', which is at an address literal: lettre cannot \
             write one in the From header of a mail"
        );
        assert_eq!(
            messages[0].hint.as_deref(),
            Some("write server_email as an address at a domain name (name@example.com)")
        );
        assert!(
            messages[1].message.starts_with(
                "default_from_email holds 'Ops <ops@[::1]>', which is at an address literal"
            ),
            "{}",
            messages[1].message
        );
        let refused = crate::mail::Mailer::new(&settings).unwrap_err();
        assert_eq!(messages[0].message, refused.to_string());
    }

    #[test]
    fn an_smtp_password_written_in_the_file_or_in_a_default_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let path = dir.path().join("settings.toml");
        let mut settings = settings_in(dir.path());
        settings.settings_file = Some(path.clone());
        settings.email_host_password = "hunter2".into();
        let run = |s: &Settings, env: &[(&str, &str)]| {
            all(&CheckContext::new(s, &project).with_env(env.iter().copied()))
        };
        std::fs::write(&path, "email_host_password = \"hunter2\"\n").unwrap();
        assert_password_in_file_warning(&run(&settings, &[]), "nuages.W020", "EMAIL_HOST_PASSWORD");
        assert!(run(&settings, &[("NUAGES_EMAIL_HOST_PASSWORD", "hunter2")]).is_empty());
        std::fs::write(&path, "email_host_password = \"${SMTP_PASSWORD}\"\n").unwrap();
        assert!(run(&settings, &[]).is_empty());

        // `${SMTP_PASSWORD:-hunter2}` with SMTP_PASSWORD unset uses the
        // password written in the file: reported; set, it is the environment's.
        std::fs::write(
            &path,
            "email_host_password = \"${SMTP_PASSWORD:-hunter2}\"\n",
        )
        .unwrap();
        assert_password_in_file_warning(&run(&settings, &[]), "nuages.W020", "EMAIL_HOST_PASSWORD");
        settings.email_host_password = "from-the-environment".into();
        assert!(run(&settings, &[("SMTP_PASSWORD", "from-the-environment")]).is_empty());
        // An empty default is no password written anywhere.
        std::fs::write(&path, "email_host_password = \"${SMTP_PASSWORD:-}\"\n").unwrap();
        assert!(run(&settings, &[]).is_empty());
    }

    #[test]
    fn default_senders_with_admins_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        let run = |s: &Settings| check_email_senders(&CheckContext::new(s, &project));
        assert!(run(&settings).is_empty(), "no admins, no error mails");
        settings.admins = vec!["Ops <ops@example.com>".into()];
        let messages = run(&settings);
        assert_eq!(ids(&messages), ["nuages.W008", "nuages.W008"]);
        assert!(
            messages[0]
                .message
                .starts_with("server_email is still 'root@localhost'")
        );
        assert!(messages[1].message.starts_with("default_from_email"));
        settings.server_email = "errors@example.com".into();
        assert_eq!(run(&settings).len(), 1);
        settings.default_from_email = "hello@example.com".into();
        assert!(run(&settings).is_empty());
    }
}
