//! The `memory` backend: messages kept in the mailer, for tests.

use std::sync::Mutex;

use super::EmailMessage;

#[derive(Debug, Default)]
pub(super) struct Outbox {
    messages: Mutex<Vec<EmailMessage>>,
}

impl Outbox {
    pub(super) fn keep(&self, message: EmailMessage) {
        self.lock().push(message);
    }

    pub(super) fn messages(&self) -> Vec<EmailMessage> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<EmailMessage>> {
        // A panic while holding the lock leaves a list that is still whole.
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }
}
