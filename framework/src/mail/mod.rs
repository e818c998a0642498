//! Email, as Django's `django.core.mail`: a [`Mailer`] built once per
//! application from the `email_*` settings, reached from views with the
//! [`Mailer`] extractor and from commands with
//! [`Application::mailer`](crate::Application::mailer).
//!
//! `email_backend` says where mail goes: `smtp` (the default: a server at
//! `email_host`:`email_port`, through lettre), `console` (printed on
//! standard output), `file` (one `.eml` file per message in
//! `email_file_path`), `memory` (kept for tests: [`Mailer::outbox`]) or
//! `dummy` (thrown away).
//!
//! ```
//! use nuages::mail::Mailer;
//!
//! async fn contact(mailer: Mailer) -> nuages::Result<&'static str> {
//!     mailer
//!         .send_mail("Thanks", "We got your message.", None, &["visitor@example.com"])
//!         .await?;
//!     Ok("sent")
//! }
//! ```
//!
//! With `debug` off, a request that ends in a server error (5xx: a view's
//! `Err`, a panic, or a 5xx page the view renders itself) mails the `admins` a
//! report (made by the private `report` module) in the background: the
//! response is never delayed or changed by it, and a failing mail server is
//! logged.

mod console;
mod file;
mod memory;
pub(crate) mod report;
mod smtp;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use base64::Engine as _;
use http::request::Parts;
use lettre::message::Mailbox;

use crate::conf::{EmailBackend, Settings};
use crate::error::{Error, Problem, Result};
use crate::state::AppState;

/// One message to send, as Django's `EmailMessage`: plain text, to any
/// number of recipients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailMessage {
    /// The subject line, as given (the mailer adds no prefix to it).
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The sender; `None`: the `default_from_email` setting.
    pub from_email: Option<String>,
    /// The `To` recipients, `"name@example.com"` or `"Name <name@example.com>"`.
    pub to: Vec<String>,
    /// The `Cc` recipients.
    pub cc: Vec<String>,
    /// Recipients that no other recipient sees.
    pub bcc: Vec<String>,
    /// Where replies go.
    pub reply_to: Vec<String>,
}

impl EmailMessage {
    /// A message of `subject` and `body` to `to`.
    pub fn new<S: Into<String>>(
        subject: impl Into<String>,
        body: impl Into<String>,
        to: impl IntoIterator<Item = S>,
    ) -> Self {
        EmailMessage {
            subject: subject.into(),
            body: body.into(),
            to: to.into_iter().map(Into::into).collect(),
            ..EmailMessage::default()
        }
    }

    /// Send it from `from_email` instead of `default_from_email`.
    pub fn from_email(mut self, from_email: impl Into<String>) -> Self {
        self.from_email = Some(from_email.into());
        self
    }

    /// Copy it to `cc`.
    pub fn cc<S: Into<String>>(mut self, cc: impl IntoIterator<Item = S>) -> Self {
        self.cc.extend(cc.into_iter().map(Into::into));
        self
    }

    /// Send it to `bcc` too, unseen by the others.
    pub fn bcc<S: Into<String>>(mut self, bcc: impl IntoIterator<Item = S>) -> Self {
        self.bcc.extend(bcc.into_iter().map(Into::into));
        self
    }

    /// Ask for replies at `reply_to`.
    pub fn reply_to<S: Into<String>>(mut self, reply_to: impl IntoIterator<Item = S>) -> Self {
        self.reply_to.extend(reply_to.into_iter().map(Into::into));
        self
    }

    /// The message as lettre builds it (headers, date, encoding); `from`
    /// is the sender to use when the message names none.
    fn build(&self, from: &str) -> Result<lettre::Message, MailError> {
        use lettre::message::header::{Bcc, Cc, ReplyTo, To};
        let from = sender(self.from_email.as_deref().unwrap_or(from))?;
        // Each list is written as one header, and the envelope is given
        // rather than read back from the headers: lettre's `to()` (and
        // `cc()`, ...) parses the header written so far to add to it, and
        // its parser knows no address literal (`ops@[127.0.0.1]`), so the
        // list was silently replaced by the last recipient, and an
        // envelope read from such a header had no recipient at all.
        let to = mailboxes(&self.to, "a recipient")?;
        let cc = mailboxes(&self.cc, "a Cc recipient")?;
        let bcc = mailboxes(&self.bcc, "a Bcc recipient")?;
        let reply_to = mailboxes(&self.reply_to, "a Reply-To address")?;
        let recipients: Vec<lettre::Address> = [&to, &cc, &bcc]
            .into_iter()
            .flat_map(|list| list.iter().map(|mailbox| mailbox.email.clone()))
            .collect();
        let envelope = lettre::address::Envelope::new(Some(from.email.clone()), recipients)
            .map_err(|e| {
                MailError::new(
                    Problem::new(format!(
                        "the message '{}' cannot be sent: {e}",
                        self.subject
                    ))
                    .with_hint("give it at least one recipient"),
                )
            })?;
        // A Message-ID of its own (`<random@this host>`), as Django's
        // `make_msgid`: lettre adds none unless asked, and a receiving
        // server may refuse a mail without one.
        let mut builder = lettre::Message::builder()
            .message_id(None)
            .from(from)
            .header(Subject(self.subject.clone()))
            .envelope(envelope);
        if !self.to.is_empty() {
            builder = builder.header(To::from(to));
        }
        if !self.cc.is_empty() {
            builder = builder.header(Cc::from(cc));
        }
        if !self.bcc.is_empty() {
            builder = builder.header(Bcc::from(bcc));
        }
        if !self.reply_to.is_empty() {
            builder = builder.header(ReplyTo::from(reply_to));
        }
        // `text/plain; charset=utf-8` and `MIME-Version: 1.0`, as Django's:
        // a mail that names no type is read as US-ASCII ("CafÃ©").
        use lettre::message::header::{ContentType, MIME_VERSION_1_0};
        builder = builder
            .header(MIME_VERSION_1_0)
            .header(ContentType::TEXT_PLAIN);
        builder.body(self.body.clone()).map_err(|e| {
            MailError::new(
                Problem::new(format!(
                    "the message '{}' cannot be built: {e}",
                    self.subject
                ))
                .with_hint("give it a sender and at least one recipient"),
            )
        })
    }
}

/// The `Subject` header, folded so that no line of it is over the 998
/// characters SMTP allows. lettre writes a word of plain ASCII (a URL in
/// the report of a server error) on one line whatever its length, and a
/// server refuses the whole mail ("500 Line too long"); a subject with a
/// word that long is written instead as RFC 2047 encoded words of at most
/// 75 characters, one a line, which mail clients join back into the
/// subject as given (Python's email, so Django, folds it the same way).
#[derive(Debug, Clone)]
struct Subject(String);

/// The longest word of a subject lettre is left to write as it is: with
/// `Subject: ` or a folding space before it, well within 998.
const LONGEST_SUBJECT_WORD: usize = 900;

/// Bytes of text in one encoded word: 60 characters of base64, 72 with
/// `=?utf-8?b?` and `?=`, within RFC 2047's 75.
const ENCODED_WORD_BYTES: usize = 45;

impl lettre::message::header::Header for Subject {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Subject")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Subject(text.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        use lettre::message::header::{self, HeaderValue};
        if self
            .0
            .split(' ')
            .all(|word| word.len() <= LONGEST_SUBJECT_WORD)
        {
            return header::Subject::from(self.0.clone()).display();
        }
        let mut words = Vec::new();
        let mut rest = self.0.as_str();
        while !rest.is_empty() {
            let mut end = rest.len().min(ENCODED_WORD_BYTES);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (chunk, after) = rest.split_at(end);
            words.push(format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(chunk)
            ));
            rest = after;
        }
        // Base64 and the folds only: nothing of the text can make a header.
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), words.join("\r\n "))
    }
}

/// `address` as a mailbox, or an error that says which address is wrong
/// ([`parse_mailbox`]).
fn mailbox(address: &str, role: &str) -> Result<Mailbox, MailError> {
    parse_mailbox(address).map_err(|reason| {
        MailError::new(
            Problem::new(format!(
                "'{}' ({role}) is not an email address: {reason}",
                crate::error::without_controls(address)
            ))
            .with_hint("write it as name@example.com or \"Name <name@example.com>\""),
        )
    })
}

/// `address` as a mailbox, or why it is none; an address at an IP literal
/// (`ops@[127.0.0.1]`) too, as Django's. A domain beyond ASCII
/// (`bücher.de`, which a form's `Email` accepts) is written in punycode
/// (`xn--bcher-kva.de`), as Django's `sanitize_address` does: sent as
/// typed, it needs a server that speaks SMTPUTF8, and most relays do not.
fn parse_mailbox(address: &str) -> Result<Mailbox, String> {
    // An address at an IP literal (`ops@[127.0.0.1]`, which a form's
    // `Email` accepts, as Django's), bare or after a name, is an `Address`
    // to lettre but no `Mailbox` it parses.
    let mut mailbox: Mailbox = match address.trim().parse() {
        Ok(mailbox) => mailbox,
        Err(error) => {
            let trimmed = address.trim();
            let (name, bare) = match trimmed.strip_suffix('>').and_then(|s| s.rsplit_once('<')) {
                Some((name, bare)) => (name.trim().trim_matches('"').trim(), bare),
                None => ("", trimmed),
            };
            // A name lettre would have to write across lines (it cannot:
            // writing the header then fails) or that would end the header.
            if name.chars().any(char::is_control) {
                return Err("its name holds a line break or another control character".into());
            }
            match bare.parse::<lettre::Address>() {
                Ok(bare) => Mailbox::new((!name.is_empty()).then(|| name.to_string()), bare),
                Err(_) => return Err(error.to_string()),
            }
        }
    };
    if !mailbox.email.domain().is_ascii() {
        let domain = idna::domain_to_ascii(mailbox.email.domain()).map_err(|e| e.to_string())?;
        mailbox.email =
            lettre::Address::new(mailbox.email.user(), domain).map_err(|e| e.to_string())?;
    }
    Ok(mailbox)
}

/// `addresses` as one list of mailboxes, or an error naming the first that
/// is no address.
fn mailboxes(addresses: &[String], role: &str) -> Result<lettre::message::Mailboxes, MailError> {
    let mut list = lettre::message::Mailboxes::new();
    for address in addresses {
        list.push(mailbox(address, role)?);
    }
    Ok(list)
}

/// `address` as the sender, or why it cannot be one.
fn sender(address: &str) -> Result<Mailbox, MailError> {
    parse_sender(address).map_err(|fault| {
        MailError::new(
            Problem::new(format!(
                "'{}' (the sender) {}",
                crate::error::without_controls(address),
                fault.says()
            ))
            .with_hint(fault.fix("it")),
        )
    })
}

/// Why an address cannot be sent to or from.
enum AddressFault {
    /// It is no address ([`parse_mailbox`]'s reason).
    NotAnAddress(String),
    /// It is at an address literal (`ops@[127.0.0.1]`): lettre reads the
    /// `From` header back when it builds a message and cannot read one
    /// there (it then says "missing From header").
    AddressLiteral,
}

impl AddressFault {
    /// What is wrong with the address, after it and its role.
    fn says(&self) -> String {
        match self {
            AddressFault::NotAnAddress(reason) => format!("is not an email address: {reason}"),
            AddressFault::AddressLiteral => "is at an address literal: lettre cannot write one in \
                                            the From header of a mail"
                .to_string(),
        }
    }

    /// The fix, `what` naming where the address is written.
    fn fix(&self, what: &str) -> String {
        match self {
            AddressFault::NotAnAddress(_) => {
                format!("write {what} as name@example.com or \"Name <name@example.com>\"")
            }
            AddressFault::AddressLiteral => {
                format!("write {what} as an address at a domain name (name@example.com)")
            }
        }
    }
}

/// `address` as a sender: the run-time sends and the settings check
/// (`nuages.E019`) both read it here, so they refuse the same addresses
/// with the same words.
fn parse_sender(address: &str) -> Result<Mailbox, AddressFault> {
    let from = parse_mailbox(address).map_err(AddressFault::NotAnAddress)?;
    if from.to_string().parse::<Mailbox>().is_err() {
        return Err(AddressFault::AddressLiteral);
    }
    Ok(from)
}

/// Why a mail was not sent, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct MailError {
    problem: Problem,
}

impl MailError {
    fn new(problem: Problem) -> Self {
        MailError { problem }
    }

    /// What is wrong, and what to change.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

/// Where mail goes.
#[derive(Debug)]
enum Backend {
    // Boxed: the transport is large, and the mailer is built once.
    Smtp(Box<smtp::Smtp>),
    Console,
    File(file::Folder),
    Memory(memory::Outbox),
    Dummy,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    default_from_email: String,
    server_email: String,
    subject_prefix: String,
    admins: Vec<String>,
    managers: Vec<String>,
    /// Room for the error reports being sent at once.
    reports: Arc<tokio::sync::Semaphore>,
    /// Room for the password reset mails being sent at once.
    resets: Arc<tokio::sync::Semaphore>,
    /// The addresses (in lower case) whose password reset is under way.
    resetting: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Room for the password resets under way.
    under_way: Arc<tokio::sync::Semaphore>,
}

/// How many error reports to the admins may be on their way at once (see
/// [`Mailer::report_in_background`]).
pub(crate) const REPORTS_IN_FLIGHT: usize = 4;

/// How many password reset mails may be sent at once (see
/// [`Mailer::reset_in_background`]); the others wait for a place.
pub(crate) const RESETS_IN_FLIGHT: usize = 4;

/// How many password resets, each for another address, may be looked up
/// at once (see [`Mailer::reset_in_background`]); a request beyond them
/// waits for one to end.
pub(crate) const RESETS_UNDER_WAY: usize = 16;

/// A password reset under way: its address, taken off the set when the
/// reset's task ends, however it ends.
struct UnderWay {
    mailer: Mailer,
    address: String,
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.mailer.resetting().remove(&self.address);
    }
}

fn log_not_sent(what: &str, error: &MailError) {
    let hint = match &error.problem().hint {
        Some(hint) => format!(" (hint: {hint})"),
        None => String::new(),
    };
    tracing::error!(target: "nuages::mail", "{what} was not sent: {error}{hint}");
}

/// Sends mail as the settings say: a cheap, cloneable handle, built once
/// per application.
#[derive(Debug, Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

impl Mailer {
    /// The mailer of `settings`; refuses the settings that
    /// `settings_problems` finds, with the same words.
    pub fn new(settings: &Settings) -> Result<Self> {
        if let Some(problem) = settings_problems(settings).into_iter().next() {
            return Err(Error::Config(problem));
        }
        let backend = match settings.email_backend {
            EmailBackend::Smtp => Backend::Smtp(Box::new(smtp::Smtp::new(settings)?)),
            EmailBackend::Console => Backend::Console,
            EmailBackend::File => Backend::File(file::Folder::new(
                settings
                    .email_file_path
                    .clone()
                    .expect("settings_problems refuses a file backend without a folder"),
            )),
            EmailBackend::Memory => Backend::Memory(memory::Outbox::default()),
            EmailBackend::Dummy => Backend::Dummy,
        };
        Ok(Mailer {
            inner: Arc::new(Inner {
                backend,
                default_from_email: settings.default_from_email.clone(),
                server_email: settings.server_email.clone(),
                subject_prefix: settings.email_subject_prefix.clone(),
                admins: settings.admins.clone(),
                managers: settings.managers.clone(),
                reports: Arc::new(tokio::sync::Semaphore::new(REPORTS_IN_FLIGHT)),
                resets: Arc::new(tokio::sync::Semaphore::new(RESETS_IN_FLIGHT)),
                resetting: Default::default(),
                under_way: Arc::new(tokio::sync::Semaphore::new(RESETS_UNDER_WAY)),
            }),
        })
    }

    /// Send `message` (from `default_from_email` unless it names a sender).
    /// A message without a recipient sends nothing, as Django's.
    pub async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        self.send_from(message, &self.inner.default_from_email)
            .await
    }

    async fn send_from(&self, message: &EmailMessage, from: &str) -> Result<(), MailError> {
        // As Django's `send()`, which returns 0: a message to nobody (a
        // list that happened to be empty) sends nothing, and is no error.
        if message.to.is_empty() && message.cc.is_empty() && message.bcc.is_empty() {
            sender(message.from_email.as_deref().unwrap_or(from))?;
            return Ok(());
        }
        let built = message.build(from)?;
        match &self.inner.backend {
            Backend::Smtp(server) => server.send(&built).await,
            Backend::Console => console::print(&built),
            Backend::File(folder) => folder.write(&built).await,
            Backend::Memory(outbox) => {
                let mut kept = message.clone();
                kept.from_email.get_or_insert_with(|| from.to_string());
                outbox.keep(kept);
                Ok(())
            }
            Backend::Dummy => Ok(()),
        }
    }

    /// Django's `send_mail`: `subject` and `body` to `recipients`, from
    /// `from_email` or else `default_from_email`.
    pub async fn send_mail(
        &self,
        subject: &str,
        body: &str,
        from_email: Option<&str>,
        recipients: &[&str],
    ) -> Result<(), MailError> {
        let mut message = EmailMessage::new(subject, body, recipients.iter().copied());
        message.from_email = from_email.map(str::to_string);
        self.send(&message).await
    }

    /// Django's `mail_admins`: to the `admins`, from `server_email`, the
    /// subject after `email_subject_prefix`. Nothing when `admins` is empty.
    pub async fn mail_admins(&self, subject: &str, body: &str) -> Result<(), MailError> {
        self.mail_staff(&self.inner.admins, subject, body).await
    }

    /// Django's `mail_managers`: the same to the `managers`.
    pub async fn mail_managers(&self, subject: &str, body: &str) -> Result<(), MailError> {
        self.mail_staff(&self.inner.managers, subject, body).await
    }

    async fn mail_staff(
        &self,
        staff: &[String],
        subject: &str,
        body: &str,
    ) -> Result<(), MailError> {
        if staff.is_empty() {
            return Ok(());
        }
        let subject = format!("{}{subject}", self.inner.subject_prefix);
        let message = EmailMessage::new(subject, body, staff.iter().cloned());
        self.send_from(&message, &self.inner.server_email).await
    }

    /// Send, in a task of its own, the error report `send` sends with this
    /// mailer, when one of the REPORTS_IN_FLIGHT places is free (held until
    /// the send ends); `what` names the mail in the log: a warning when
    /// every place is taken (the report is then not sent: in a burst of
    /// errors, a database down and a client hitting a broken view in a
    /// loop, a connection to the mail server per request, each held up to
    /// `email_timeout`, would flood the inboxes), an error when the send
    /// fails.
    pub(crate) fn report_in_background<F, Fut>(&self, what: String, send: F)
    where
        F: FnOnce(Mailer) -> Fut,
        Fut: std::future::Future<Output = Result<(), MailError>> + Send + 'static,
    {
        let Ok(place) = self.inner.reports.clone().try_acquire_owned() else {
            tracing::warn!(
                target: "nuages::mail",
                "{what} was not sent: {REPORTS_IN_FLIGHT} mails of its kind are on their way \
                 already (the mail server is slow, or they come faster than it takes them)"
            );
            return;
        };
        let sending = send(self.clone());
        tokio::spawn(async move {
            let _place = place;
            if let Err(error) = sending.await {
                log_not_sent(&what, &error);
            }
        });
    }

    /// Serve a password reset request for `address` in a task of its own,
    /// after the response, so that its time never tells whether the
    /// address has an account: `reset` finds the accounts and makes their
    /// mails, which are then sent, RESETS_IN_FLIGHT at most at once (the
    /// others wait for a place). A request for an address whose reset is
    /// under way is merged into it (the mail on its way holds a valid
    /// link): a client posting one address in a loop holds one place,
    /// never another visitor's. At most RESETS_UNDER_WAY resets are being
    /// looked up at once: a request beyond them waits here for one to end,
    /// so a flood of addresses slows the flood, and no visitor's reset is
    /// dropped. A failure is logged.
    pub(crate) async fn reset_in_background<Fut>(&self, address: &str, reset: Fut)
    where
        Fut: std::future::Future<Output = std::result::Result<Vec<EmailMessage>, Problem>>
            + Send
            + 'static,
    {
        let address = address.to_lowercase();
        if !self.resetting().insert(address.clone()) {
            tracing::info!(
                target: "nuages::mail",
                "a password reset asked again while the last one for that address is under \
                 way: merged with it"
            );
            return;
        }
        // Taken off the set however this ends: the request dropped while it
        // waits, or the task done.
        let under_way = UnderWay {
            mailer: self.clone(),
            address,
        };
        let Ok(room) = self.inner.under_way.clone().acquire_owned().await else {
            return;
        };
        let mailer = self.clone();
        tokio::spawn(async move {
            let _under_way = under_way;
            let looked_up = reset.await;
            // The room bounds the lookups; the sends wait for their own
            // places, one address at most once.
            drop(room);
            let messages = match looked_up {
                Ok(messages) => messages,
                Err(problem) => {
                    tracing::error!(
                        target: "nuages::mail",
                        "a password reset was not served: {}",
                        problem.in_one_line()
                    );
                    return;
                }
            };
            if messages.is_empty() {
                return;
            }
            let Ok(_place) = mailer.inner.resets.clone().acquire_owned().await else {
                return;
            };
            for message in &messages {
                if let Err(error) = mailer.send(message).await {
                    log_not_sent(
                        &format!("the password reset mail to {:?}", message.to),
                        &error,
                    );
                }
            }
        });
    }

    fn resetting(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // Nothing panics while it is held: a poisoned lock holds a whole set.
        self.inner
            .resetting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `mail_admins` sends anything (`admins` is set).
    pub fn has_admins(&self) -> bool {
        !self.inner.admins.is_empty()
    }

    /// The messages the `memory` backend kept, oldest first, each with its
    /// sender filled in; empty with the other backends.
    pub fn outbox(&self) -> Vec<EmailMessage> {
        match &self.inner.backend {
            Backend::Memory(outbox) => outbox.messages(),
            _ => vec![],
        }
    }
}

/// What `Mailer::new` refuses in the email settings (`nuages.E019` reports
/// the same): both TLS flags, a zero `email_timeout`, a `file` backend
/// without a folder, an address setting that is no address.
pub(crate) fn settings_problems(settings: &Settings) -> Vec<Problem> {
    let mut problems = Vec::new();
    if settings.email_use_tls && settings.email_use_ssl {
        problems.push(
            Problem::new(
                "email_use_tls and email_use_ssl are both true: the SMTP connection either starts plain and \
                 switches to TLS (email_use_tls, STARTTLS) or is TLS from the first byte (email_use_ssl), \
                 not both",
            )
            .with_hint(
                "keep email_use_tls = true for a server on port 587, or email_use_ssl = true for port 465, \
                 and set the other to false",
            ),
        );
    }
    if settings.email_timeout == Some(0) {
        problems.push(
            Problem::new("email_timeout is 0: every SMTP send would fail before it starts")
                .with_hint(
                    "set email_timeout to a number of seconds (10 is plenty), or remove it for 60",
                ),
        );
    }
    if settings.email_backend == EmailBackend::File && settings.email_file_path.is_none() {
        problems.push(
            Problem::new(
                "email_backend is \"file\" and email_file_path is not set: the file backend needs a folder \
                 to write one .eml file per message in",
            )
            .with_hint("set email_file_path = \"sent_mail\" (relative to the settings file's folder)"),
        );
    }
    if let Some(folder) = &settings.email_file_path
        && *folder == settings.base_dir
    {
        problems.push(
            Problem::new(
                "email_file_path is empty: the file backend would write its .eml files, password \
                 reset links included, among the project's files",
            )
            .with_hint(
                "set email_file_path = \"sent_mail\" (relative to the settings file's folder)",
            ),
        );
    }
    if settings.email_backend == EmailBackend::Smtp
        && let Some(problem) = email_host_problem(&settings.email_host)
    {
        problems.push(problem);
    }
    // The senders as a send reads them (no address literal); the
    // recipients as they are sent.
    let addresses = [
        (
            "server_email",
            std::slice::from_ref(&settings.server_email),
            true,
        ),
        (
            "default_from_email",
            std::slice::from_ref(&settings.default_from_email),
            true,
        ),
        ("admins", settings.admins.as_slice(), false),
        ("managers", settings.managers.as_slice(), false),
    ];
    for (key, values, sends) in addresses {
        for value in values {
            let parsed = match sends {
                true => parse_sender(value).map(drop),
                false => parse_mailbox(value)
                    .map(drop)
                    .map_err(AddressFault::NotAnAddress),
            };
            if let Err(fault) = parsed {
                problems.push(
                    Problem::new(format!(
                        "{key} holds '{}', which {}",
                        crate::error::without_controls(value),
                        fault.says()
                    ))
                    .with_hint(fault.fix(key)),
                );
            }
        }
    }
    problems
}

/// Why `email_host` is no host name or address to connect to: a URL, a
/// port (`email_port` holds it), brackets, spaces.
fn email_host_problem(host: &str) -> Option<Problem> {
    let wrong = if host.contains("://") {
        "a URL: it is the server's name alone"
    } else if host.starts_with('[') || host.ends_with(']') {
        "an IPv6 address in brackets: write it without them (::1)"
    } else if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        "a port: the port goes in email_port"
    } else if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "no host name"
    } else {
        return None;
    };
    Some(
        Problem::new(format!(
            "email_host is '{}', {wrong}",
            crate::error::without_controls(host)
        ))
        .with_hint(
            "set email_host to the SMTP server's name or address (smtp.example.com, 127.0.0.1) \
             and email_port to its port",
        ),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Mailer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Ok(AppState::from_parts(parts)?.mailer.clone())
    }
}

#[cfg(test)]
mod tests;
