//! The `smtp` backend: a server at `email_host`:`email_port`, through
//! lettre, one connection per message.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::MailError;
use crate::conf::Settings;
use crate::error::{Error, Problem};

/// How long one send may take when `email_timeout` is unset: lettre's
/// default for its commands. lettre bounds only the connection itself, so
/// the whole send is bounded here, else a server that accepts and never
/// answers would hold the send for ever.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, for messages.
    server: String,
    timeout: Duration,
    authenticates: bool,
    uses_tls: bool,
    tls: &'static str,
}

impl Smtp {
    pub(super) fn new(settings: &Settings) -> Result<Smtp, Error> {
        let host = settings.email_host.clone();
        let timeout = settings
            .email_timeout
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(settings.email_port)
            .timeout(Some(timeout));
        let tls = if settings.email_use_tls || settings.email_use_ssl {
            let parameters = TlsParameters::new(host.clone()).map_err(|e| {
                Error::Config(
                    Problem::new(format!(
                        "TLS to the SMTP server {host} cannot be set up: {e}"
                    ))
                    .with_hint("install the system's CA certificates (ca-certificates)"),
                )
            })?;
            if settings.email_use_tls {
                builder = builder.tls(Tls::Required(parameters));
                "STARTTLS (email_use_tls)"
            } else {
                builder = builder.tls(Tls::Wrapper(parameters));
                "TLS (email_use_ssl)"
            }
        } else {
            "no TLS"
        };
        let authenticates = !settings.email_host_user.is_empty();
        if authenticates {
            builder = builder.credentials(Credentials::new(
                settings.email_host_user.clone(),
                settings.email_host_password.clone(),
            ));
        }
        Ok(Smtp {
            transport: builder.build(),
            server: format!("{host}:{}", settings.email_port),
            timeout,
            authenticates,
            uses_tls: settings.email_use_tls || settings.email_use_ssl,
            tls,
        })
    }

    pub(super) async fn send(&self, message: &lettre::Message) -> Result<(), MailError> {
        let sent = tokio::time::timeout(self.timeout, self.transport.send(message.clone())).await;
        let error = match sent {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(MailError::new(
                    Problem::new(format!(
                        "the SMTP server {} (email_host, email_port) did not finish the send within {} s \
                         (email_timeout)",
                        self.server,
                        self.timeout.as_secs_f64()
                    ))
                    .with_hint(
                        "check that email_host and email_port name an SMTP server that answers (with \
                         email_use_ssl for a server that expects TLS at once), or raise email_timeout",
                    ),
                ));
            }
        };
        let hint = if error.is_permanent() && self.authenticates {
            "check the address and email_host_user / email_host_password (the server refused one of them)"
        } else if error.is_permanent() || error.is_transient() {
            "the server refused the message: check the sender and recipient addresses, and whether it \
             wants a login (email_host_user, email_host_password)"
        } else if error.is_client() && self.authenticates && !self.uses_tls {
            // lettre's "No compatible authentication mechanism was found":
            // the server offered no AUTH, as most do before STARTTLS.
            "the server offers no login on this plain connection (most offer AUTH only after STARTTLS): \
             set email_use_tls = true (STARTTLS, port 587) or email_use_ssl = true (TLS at once, port 465), \
             or leave email_host_user empty for a server that takes mail without a login"
        } else if self.uses_tls {
            // lettre files a failed handshake or an untrusted certificate
            // under its connection errors: the hint covers both.
            "check email_use_tls (STARTTLS, port 587) and email_use_ssl (TLS at once, port 465) against what \
             the server offers, that its certificate is trusted by this machine, and that it listens at \
             email_host and email_port"
        } else {
            "check that an SMTP server listens at email_host and email_port and that this machine reaches it"
        };
        Err(MailError::new(
            Problem::new(format!(
                "sending mail through the SMTP server {} (email_host, email_port; {}) failed: {error}",
                self.server, self.tls
            ))
            .with_hint(hint),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `email_timeout` bounds a send; unset, 60 seconds do (a hung server
    /// is tested with a short timeout in tests/tests/email.rs).
    #[test]
    fn a_send_is_bounded_by_email_timeout_or_60_seconds() {
        let timeout_of = |email_timeout| {
            Smtp::new(&Settings {
                email_timeout,
                ..Settings::default()
            })
            .unwrap()
            .timeout
        };
        assert_eq!(timeout_of(None), Duration::from_secs(60));
        assert_eq!(timeout_of(Some(7)), Duration::from_secs(7));
    }
}
