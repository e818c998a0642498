//! The mailer with the backends that need no server; the SMTP backend is
//! tested against a real server in `tests/tests/email.rs`.

use super::*;

fn settings(backend: EmailBackend) -> Settings {
    Settings {
        email_backend: backend,
        admins: vec!["Ops <ops@example.com>".into()],
        managers: vec!["boss@example.com".into()],
        server_email: "errors@example.com".into(),
        default_from_email: "hello@example.com".into(),
        ..Settings::default()
    }
}

#[tokio::test]
async fn the_memory_backend_keeps_what_was_sent_with_its_sender() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    mailer
        .send_mail("Hi", "Body", None, &["a@example.com"])
        .await
        .unwrap();
    mailer
        .send_mail("From me", "B", Some("me@example.com"), &["b@example.com"])
        .await
        .unwrap();
    mailer.mail_admins("Broken", "details").await.unwrap();
    mailer.mail_managers("Report", "numbers").await.unwrap();
    let outbox = mailer.outbox();
    let summary: Vec<(&str, &str, Vec<&str>)> = outbox
        .iter()
        .map(|m| {
            (
                m.from_email.as_deref().unwrap(),
                m.subject.as_str(),
                m.to.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("hello@example.com", "Hi", vec!["a@example.com"]),
            ("me@example.com", "From me", vec!["b@example.com"]),
            (
                "errors@example.com",
                "[Nuages] Broken",
                vec!["Ops <ops@example.com>"]
            ),
            (
                "errors@example.com",
                "[Nuages] Report",
                vec!["boss@example.com"]
            ),
        ]
    );
}

#[tokio::test]
async fn no_admins_no_mail() {
    let mut settings = settings(EmailBackend::Memory);
    settings.admins.clear();
    let mailer = Mailer::new(&settings).unwrap();
    assert!(!mailer.has_admins());
    mailer.mail_admins("Broken", "details").await.unwrap();
    assert!(mailer.outbox().is_empty());
}

/// As Django's `send_mail` (which returns 0): a message to nobody sends
/// nothing, without an error. It failed ("missing destination address"),
/// so a view mailing a list that happened to be empty (the subscribers of
/// a thread) answered 500.
#[tokio::test]
async fn a_message_to_nobody_sends_nothing_and_is_no_error() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    mailer
        .send_mail("New comment", "Body", None, &[])
        .await
        .unwrap();
    mailer
        .send(&EmailMessage::new("Hi", "Body", Vec::<String>::new()))
        .await
        .unwrap();
    assert!(mailer.outbox().is_empty());
    // A bad sender is still named, recipients or not.
    let error = mailer
        .send_mail("Hi", "Body", Some("not an address"), &[])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("(the sender)"), "{error}");
}

/// What a form's `Email` field accepts, as Django's, can be mailed: an
/// address at an IP literal was "not an email address: Invalid input".
#[tokio::test]
async fn an_address_at_an_ip_literal_or_localhost_is_mailed() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    let to = ["ops@[127.0.0.1]", "ops@[::1]", "root@localhost"];
    mailer
        .send_mail("Hi", "Body", Some("root@localhost"), &to)
        .await
        .unwrap();
    assert_eq!(mailer.outbox()[0].to, to);
}

/// Every recipient is in the built message, its headers and its envelope,
/// an address literal among them. lettre's `to()` (and `cc()`, `bcc()`,
/// `reply_to()`) reads the header back to add to it and cannot read an
/// address literal: the list was replaced by the recipients after the last
/// literal (`To: second@example.com`), and a list ending in one had no
/// recipient left ("missing destination address, invalid envelope").
#[test]
fn every_recipient_is_kept_in_the_headers_and_the_envelope() {
    let message = EmailMessage::new(
        "Hi",
        "Body",
        ["ok@example.com", "ops@[127.0.0.1]", "second@example.com"],
    )
    .cc(["Six <v6@[IPv6:::1]>", "root@localhost"])
    .bcc(["hidden@example.com", "ops@[::1]"])
    .reply_to(["a@example.com", "b@[127.0.0.1]"]);
    let built = message.build("hello@example.com").unwrap();
    let text = String::from_utf8(built.formatted()).unwrap();
    for line in [
        "From: hello@example.com\r\n",
        "To: ok@example.com, ops@[127.0.0.1], second@example.com\r\n",
        "Cc: Six <v6@[IPv6:::1]>, root@localhost\r\n",
        "Reply-To: a@example.com, b@[127.0.0.1]\r\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    // Bcc recipients are in the envelope only.
    assert!(!text.contains("Bcc") && !text.contains("hidden@"), "{text}");
    let envelope: Vec<String> = built
        .envelope()
        .to()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        envelope,
        [
            "ok@example.com",
            "ops@[127.0.0.1]",
            "second@example.com",
            "v6@[IPv6:::1]",
            "root@localhost",
            "hidden@example.com",
            "ops@[::1]",
        ]
    );
    assert_eq!(
        built.envelope().from().map(|a| a.to_string()).as_deref(),
        Some("hello@example.com")
    );
    // A list that ends in an address literal keeps it too.
    let built = EmailMessage::new("Hi", "Body", ["ok@example.com", "ops@[127.0.0.1]"])
        .build("hello@example.com")
        .unwrap();
    assert_eq!(built.envelope().to().len(), 2);
}

/// lettre reads the `From` header back when it builds a message and cannot
/// read an address literal: a sender at one is refused by name, with the
/// fix, rather than "missing From header".
#[tokio::test]
async fn a_sender_at_an_address_literal_is_refused_by_name() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    let error = mailer
        .send_mail("Hi", "Body", Some("ops@[127.0.0.1]"), &["a@example.com"])
        .await
        .unwrap_err();
    assert_eq!(
        error.problem().message,
        "'ops@[127.0.0.1]' (the sender) is at an address literal: lettre cannot write one in the \
         From header of a mail"
    );
    assert!(mailer.outbox().is_empty());
}

#[tokio::test]
async fn a_bad_recipient_is_named() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    let error = mailer
        .send_mail("Hi", "Body", None, &["not an address"])
        .await
        .unwrap_err();
    assert!(
        error
            .problem()
            .message
            .starts_with("'not an address' (a recipient) is not an email address"),
        "{error}"
    );
    assert!(
        error
            .problem()
            .hint
            .as_deref()
            .unwrap()
            .contains("name@example.com")
    );
    assert!(mailer.outbox().is_empty());
}

/// A name with a line break (a visitor's name in a contact form's
/// `Reply-To`) is refused by name, for every header that holds one: lettre
/// cannot write it, and writing the header would panic.
#[tokio::test]
async fn a_name_with_a_line_break_is_refused_never_written() {
    let mailer = Mailer::new(&settings(EmailBackend::Memory)).unwrap();
    for address in [
        "x\nBcc: evil@example.com <a@example.com>",
        "\"x\r\nBcc: evil@example.com\" <a@example.com>",
        "Evil\rX <a@example.com>",
    ] {
        for message in [
            EmailMessage::new("Hi", "Body", [address]),
            EmailMessage::new("Hi", "Body", ["a@example.com"]).cc([address]),
            EmailMessage::new("Hi", "Body", ["a@example.com"]).reply_to([address]),
        ] {
            let error = mailer.send(&message).await.unwrap_err();
            let said = &error.problem().message;
            assert!(
                said.ends_with(
                    "is not an email address: its name holds a line break or another control \
                     character"
                ),
                "{said}"
            );
            assert!(!said.contains(['\r', '\n']), "{said:?}");
        }
    }
    assert!(mailer.outbox().is_empty());
}

#[tokio::test]
async fn the_file_backend_writes_one_whole_eml_file_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("sent");
    let mut settings = settings(EmailBackend::File);
    settings.email_file_path = Some(folder.clone());
    let mailer = Mailer::new(&settings).unwrap();
    mailer
        .send_mail("First", "one", None, &["a@example.com"])
        .await
        .unwrap();
    mailer
        .send(&EmailMessage::new("Second", "two", ["b@example.com"]).cc(["c@example.com"]))
        .await
        .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().all(|f| f.ends_with(".eml")),
        "no temporary file left: {files:?}"
    );
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(folder.join(f)).unwrap())
        .collect();
    assert!(texts.iter().any(|t| t.contains("Subject: First\r\n")
        && t.contains("From: hello@example.com\r\n")
        && t.contains("To: a@example.com\r\n")
        && t.ends_with("one")));
    assert!(texts.iter().any(|t| t.contains("Cc: c@example.com\r\n")));
    // Readable by the owner and its group only: a reset link is a key.
    use std::os::unix::fs::PermissionsExt as _;
    for file in &files {
        let mode = std::fs::metadata(folder.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{file}");
    }
}

#[test]
fn settings_the_mailer_refuses_are_named_with_their_fix() {
    let mut both = settings(EmailBackend::Smtp);
    both.email_use_tls = true;
    both.email_use_ssl = true;
    let error = Mailer::new(&both).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("email_use_tls and email_use_ssl are both true"),
        "{error}"
    );
    assert!(error.hint().unwrap().contains("port 465"));

    let mut zero = settings(EmailBackend::Smtp);
    zero.email_timeout = Some(0);
    let error = Mailer::new(&zero).unwrap_err();
    assert!(
        error.to_string().starts_with("email_timeout is 0"),
        "{error}"
    );

    let file = settings(EmailBackend::File);
    let error = Mailer::new(&file).unwrap_err();
    assert!(
        error.to_string().contains("email_file_path is not set"),
        "{error}"
    );

    let mut bad = settings(EmailBackend::Dummy);
    bad.admins = vec!["Ops <ops at example.com>".into()];
    let error = Mailer::new(&bad).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("admins holds 'Ops <ops at example.com>', which is not an email address"),
        "{error}"
    );
    // Recipients are read as they are sent: an address literal is one.
    let mut literal = settings(EmailBackend::Dummy);
    literal.admins = vec!["ops@[127.0.0.1]".into(), "Ops <ops@[127.0.0.1]>".into()];
    assert!(Mailer::new(&literal).is_ok());

    let mut here = settings(EmailBackend::File);
    here.email_file_path = Some(here.base_dir.clone());
    let error = Mailer::new(&here).unwrap_err();
    assert!(
        error.to_string().starts_with("email_file_path is empty"),
        "{error}"
    );

    for (host, wrong) in [
        ("127.0.0.1:2525", "a port"),
        ("smtp://mail.example.com", "a URL"),
        ("[::1]", "an IPv6 address in brackets"),
        ("mail .example.com", "no host name"),
    ] {
        let mut smtp = settings(EmailBackend::Smtp);
        smtp.email_host = host.into();
        let error = Mailer::new(&smtp).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("email_host is '{host}', {wrong}")),
            "{error}"
        );
        assert!(error.hint().unwrap().contains("email_port"), "{error}");
    }
    for host in ["::1", "127.0.0.1", "smtp.example.com"] {
        let mut smtp = settings(EmailBackend::Smtp);
        smtp.email_host = host.into();
        assert!(Mailer::new(&smtp).is_ok(), "{host}");
    }
    assert!(Mailer::new(&settings(EmailBackend::Console)).is_ok());
    assert!(
        Mailer::new(&Settings::default()).is_ok(),
        "the defaults build"
    );
}
