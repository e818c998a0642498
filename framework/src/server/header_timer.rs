//! The header timeout of a connection: how long a client may take to send
//! a request's head, counted from the accept and then from the end of each
//! response, which also bounds how long an idle HTTP/1.1 keep-alive
//! connection is kept.
//!
//! hyper has this timeout (`header_read_timeout`), but with it set, its
//! HTTP/1 connection goes round its loop once more after every response,
//! to start the next head's timer, and reads the socket once more for
//! nothing: a system call and about 1,500 instructions per request. Here
//! the connection's requests tell its task when one starts and when its
//! response has been sent whole ([`Answering`], held by the response's
//! body until hyper drops it), and the task keeps one timer
//! ([`Activity::idle_past`]) that looks at them only when it goes off.
//! The timer is set again only when it goes off early, at most once per
//! timeout.
//!
//! An HTTP/2 connection is timed the same way: its keep-alive pings only
//! tell that the client is there, and one that answers them (every HTTP/2
//! library does) would otherwise hold the connection for good. Idle, it is
//! told to go away rather than cut off (see `connection::drive`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// What a connection's requests tell the task that drives it.
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the connection was accepted: where `idle_since` counts from.
    accepted: Instant,
    /// Requests whose response is not sent whole yet.
    answering: AtomicUsize,
    /// Nanoseconds from `accepted` to the end of the latest response.
    idle_since: AtomicU64,
    /// The connection's requests come over HTTP/2.
    http2: AtomicBool,
}

impl Activity {
    /// A connection accepted now.
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            accepted: Instant::now(),
            answering: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            http2: AtomicBool::new(false),
        })
    }

    /// A request of `version` has come (its head is read): until the
    /// [`Answering`] returned is dropped, the connection is not idle.
    pub(crate) fn start(self: &Arc<Self>, version: http::Version) -> Answering {
        if version == http::Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.answering.fetch_add(1, Ordering::Relaxed);
        Answering(self.clone())
    }

    /// Whether the connection's requests came over HTTP/2.
    pub(crate) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// Since when nothing has been answered, if nothing is being answered.
    fn idle_since(&self) -> Option<Instant> {
        if self.answering.load(Ordering::Acquire) > 0 {
            return None;
        }
        let nanos = self.idle_since.load(Ordering::Relaxed);
        Some(self.accepted + Duration::from_nanos(nanos))
    }

    /// Resolves once the connection has been idle for `timeout` (no
    /// request being answered, none started since): the client has not
    /// sent a whole request head in that time.
    pub(crate) async fn idle_past(&self, timeout: Duration) {
        let timer = tokio::time::sleep_until(self.accepted + timeout);
        let mut timer = std::pin::pin!(timer);
        loop {
            timer.as_mut().await;
            let now = Instant::now();
            let next = match self.idle_since() {
                // A response is on its way: look again a timeout later.
                None => now + timeout,
                Some(since) if since + timeout <= now => return,
                Some(since) => since + timeout,
            };
            timer.as_mut().reset(next);
        }
    }
}

/// A request being answered; dropped when its response has been sent
/// whole (or will never be).
#[derive(Debug)]
pub(crate) struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        let activity = &self.0;
        let nanos = u64::try_from(activity.accepted.elapsed().as_nanos()).unwrap_or(u64::MAX);
        activity.idle_since.fetch_max(nanos, Ordering::Relaxed);
        // After the time: the task that sees no request answered sees it.
        activity.answering.fetch_sub(1, Ordering::Release);
    }
}

/// A response's body, holding its request's [`Answering`] until hyper has
/// taken all of it and drops it.
pub(crate) struct Sent<B> {
    body: B,
    _answering: Option<Answering>,
}

impl<B> Sent<B> {
    /// `body`, holding `answering` (`None` in tests) until dropped.
    pub(crate) fn new(body: B, answering: Option<Answering>) -> Sent<B> {
        Sent {
            body,
            _answering: answering,
        }
    }
}

impl<B: Body + Unpin> Body for Sent<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paused_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    /// A connection that never sends a request is idle a timeout after
    /// its accept.
    #[test]
    fn a_connection_without_requests_is_idle_a_timeout_after_the_accept() {
        paused_runtime().block_on(async {
            let activity = Activity::new();
            let start = Instant::now();
            activity.idle_past(Duration::from_secs(30)).await;
            assert_eq!(start.elapsed(), Duration::from_secs(30));
        });
    }

    /// A response that takes longer than the timeout is not idleness; the
    /// timeout counts from when it has been sent, the timer set again once
    /// for it.
    #[test]
    fn the_timeout_counts_from_the_end_of_the_last_response() {
        paused_runtime().block_on(async {
            let activity = Activity::new();
            let start = Instant::now();
            let answering = activity.start(http::Version::HTTP_11);
            let idle = activity.idle_past(Duration::from_secs(30));
            let mut idle = std::pin::pin!(idle);
            // Answering for 45 s: the timer goes off at 30 s and is set again.
            assert!(
                tokio::time::timeout(Duration::from_secs(45), idle.as_mut())
                    .await
                    .is_err()
            );
            drop(answering);
            idle.await;
            assert_eq!(start.elapsed(), Duration::from_secs(75));
        });
    }

    /// An HTTP/2 connection is timed from its last response too, and
    /// known as one.
    #[test]
    fn http2_connections_are_timed_from_their_last_response_too() {
        paused_runtime().block_on(async {
            let activity = Activity::new();
            let start = Instant::now();
            let answering = activity.start(http::Version::HTTP_2);
            assert!(activity.is_http2());
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(answering);
            activity.idle_past(Duration::from_secs(1)).await;
            assert_eq!(start.elapsed(), Duration::from_secs(6));
        });
    }

    /// The body keeps what it carries: its frames, its end, its size.
    #[test]
    fn a_sent_body_is_the_body_it_wraps() {
        let body = Sent::new(axum::body::Body::from("four"), None);
        assert_eq!(body.size_hint().exact(), Some(4));
        assert!(!body.is_end_stream());
        let empty = Sent::new(axum::body::Body::empty(), None);
        assert!(empty.is_end_stream());
    }
}
