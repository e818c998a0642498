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
//! ([`Activity::quiet_past`]) that looks at them only when it goes off.
//! The timer is set again only when it goes off early, at most once per
//! timeout.
//!
//! An HTTP/2 connection is timed the same way: its keep-alive pings only
//! tell that the client is there, and one that answers them (every HTTP/2
//! library does) would otherwise hold the connection for good. Idle, it is
//! told to go away rather than cut off (see `connection::drive`).
//!
//! The same timer finds an HTTP/2 response that has stalled: hyper asks a
//! body for its next frame only when the client's flow-control window has
//! room, so a client that answers pings but never opens its window holds
//! the response (an open file, a database row stream) with a socket that
//! stays writable, out of reach of the send timeout. A body that gave a
//! frame and has not been asked for the next one for the send timeout
//! (one waiting for its own data, an event stream, is not stalled) ends
//! the connection ([`Quiet::Stalled`]).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
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
    /// Over HTTP/2: the clocks of the response bodies being sent.
    bodies: Mutex<Vec<Weak<BodyClock>>>,
}

/// What [`Activity::quiet_past`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quiet {
    /// No request head came for the header timeout.
    Idle,
    /// An HTTP/2 response body has not been asked for its next frame for
    /// the send timeout.
    Stalled,
}

/// When an HTTP/2 response body last gave a frame (or was made), in
/// nanoseconds from the connection's accept, and whether it is waiting for
/// its own data rather than for hyper.
#[derive(Debug, Default)]
struct BodyClock {
    gave: AtomicU64,
    waiting_on_itself: AtomicBool,
}

impl Activity {
    /// A connection accepted now.
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            accepted: Instant::now(),
            answering: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            bodies: Mutex::default(),
        })
    }

    fn nanos_since_accepted(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn bodies(&self) -> std::sync::MutexGuard<'_, Vec<Weak<BodyClock>>> {
        // Nothing panics while it is held.
        self.bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A clock for a body of this connection, watched from now on.
    fn watch_body(&self) -> Arc<BodyClock> {
        let clock = Arc::new(BodyClock::default());
        clock
            .gave
            .store(self.nanos_since_accepted(), Ordering::Relaxed);
        let mut bodies = self.bodies();
        bodies.retain(|body| body.strong_count() > 0);
        bodies.push(Arc::downgrade(&clock));
        clock
    }

    /// Since when the longest stalled HTTP/2 body has waited for hyper.
    fn stalled_since(&self) -> Option<Instant> {
        let mut bodies = self.bodies();
        bodies.retain(|body| body.strong_count() > 0);
        let oldest = bodies
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|clock| !clock.waiting_on_itself.load(Ordering::Relaxed))
            .map(|clock| clock.gave.load(Ordering::Relaxed))
            .min()?;
        Some(self.accepted + Duration::from_nanos(oldest))
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
    /// sent a whole request head in that time; or, over HTTP/2, once a
    /// response body has stalled for `send_timeout`.
    pub(crate) async fn quiet_past(&self, timeout: Duration, send_timeout: Duration) -> Quiet {
        let timer = tokio::time::sleep_until(self.accepted + timeout);
        let mut timer = std::pin::pin!(timer);
        loop {
            timer.as_mut().await;
            let now = Instant::now();
            let next = match self.idle_since() {
                // A response is on its way: look again a timeout later, or
                // when a stalled body's time runs out.
                None => match self.stalled_since() {
                    Some(since) if since + send_timeout <= now => return Quiet::Stalled,
                    Some(since) => (now + timeout).min(since + send_timeout),
                    // Over HTTP/2 a body may stall from now on.
                    None if self.is_http2() => now + timeout.min(send_timeout),
                    None => now + timeout,
                },
                Some(since) if since + timeout <= now => return Quiet::Idle,
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
        activity
            .idle_since
            .fetch_max(activity.nanos_since_accepted(), Ordering::Relaxed);
        // After the time: the task that sees no request answered sees it.
        activity.answering.fetch_sub(1, Ordering::Release);
    }
}

/// A response's body, holding its request's [`Answering`] until hyper has
/// taken all of it and drops it; over HTTP/2, with the clock that tells
/// when it stalls.
pub(crate) struct Sent<B> {
    body: B,
    clock: Option<Arc<BodyClock>>,
    /// Over HTTP/2: what is left of a frame given in pieces.
    rest: Option<Bytes>,
    answering: Option<Answering>,
}

impl<B> Sent<B> {
    /// `body`, holding `answering` (`None` in tests) until dropped.
    pub(crate) fn new(body: B, answering: Option<Answering>) -> Sent<B> {
        let clock = answering
            .as_ref()
            .filter(|answering| answering.0.is_http2())
            .map(|answering| answering.0.watch_body());
        Sent {
            body,
            clock,
            rest: None,
            answering,
        }
    }
}

/// Over HTTP/2, the most of a body given to hyper at once: hyper asks for
/// the next frame only once it has sent the last, so a large one (a body
/// made whole in memory) would read as a stall to a slow client that takes
/// it steadily; in pieces, each one taken is progress.
const HTTP2_PIECE: usize = 16 * 1024;

impl<B: Body<Data = Bytes> + Unpin> Body for Sent<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let (Some(clock), Some(answering)) = (&this.clock, &this.answering) else {
            return Pin::new(&mut this.body).poll_frame(cx);
        };
        let poll = match this.rest.as_mut() {
            Some(rest) if rest.len() > HTTP2_PIECE => {
                Poll::Ready(Some(Ok(Frame::data(rest.split_to(HTTP2_PIECE)))))
            }
            Some(_) => Poll::Ready(this.rest.take().map(|rest| Ok(Frame::data(rest)))),
            None => match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_data() {
                    Ok(mut data) if data.len() > HTTP2_PIECE => {
                        let piece = data.split_to(HTTP2_PIECE);
                        this.rest = Some(data);
                        Frame::data(piece)
                    }
                    Ok(data) => Frame::data(data),
                    Err(frame) => frame,
                }))),
                other => other,
            },
        };
        let waiting = poll.is_pending();
        clock.waiting_on_itself.store(waiting, Ordering::Relaxed);
        if !waiting {
            let now = answering.0.nanos_since_accepted();
            clock.gave.store(now, Ordering::Relaxed);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.body.size_hint();
        if let Some(rest) = &self.rest {
            let rest = rest.len() as u64;
            hint.set_lower(hint.lower() + rest);
            if let Some(upper) = hint.upper() {
                hint.set_upper(upper + rest);
            }
        }
        hint
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
            assert_eq!(
                activity
                    .quiet_past(Duration::from_secs(30), Duration::from_secs(30))
                    .await,
                Quiet::Idle
            );
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
            let idle = activity.quiet_past(Duration::from_secs(30), Duration::from_secs(30));
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
            activity
                .quiet_past(Duration::from_secs(1), Duration::from_secs(1))
                .await;
            assert_eq!(start.elapsed(), Duration::from_secs(6));
        });
    }

    /// A body that always has a frame, or never has one.
    struct Frames(bool);

    impl Body for Frames {
        type Data = axum::body::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            match self.0 {
                true => Poll::Ready(Some(Ok(Frame::data("x".into())))),
                false => Poll::Pending,
            }
        }
    }

    /// Over HTTP/2, a body that gave a frame and is not asked for the next
    /// (the client's window stays shut) has stalled once the send timeout
    /// has passed; one waiting for its own data (an event stream between
    /// two events) has not, however long it waits.
    #[test]
    fn an_http2_body_stalls_only_while_nobody_asks_it_for_a_frame() {
        paused_runtime().block_on(async {
            let (header, send) = (Duration::from_secs(30), Duration::from_secs(5));
            for (gives, stalls) in [(true, true), (false, false)] {
                let activity = Activity::new();
                let start = Instant::now();
                let mut body =
                    Sent::new(Frames(gives), Some(activity.start(http::Version::HTTP_2)));
                let polled =
                    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx)));
                assert_eq!(polled.await.is_ready(), gives);
                let quiet = tokio::time::timeout(header * 10, activity.quiet_past(header, send));
                match stalls {
                    true => {
                        assert_eq!(quiet.await.ok(), Some(Quiet::Stalled));
                        assert_eq!(start.elapsed(), header);
                    }
                    false => assert!(quiet.await.is_err(), "a body waiting for its data stalled"),
                }
            }
        });
    }

    /// Over HTTP/2 a large frame is given in pieces, each one progress;
    /// over HTTP/1 it is given whole.
    #[test]
    fn an_http2_body_gives_a_large_frame_in_pieces() {
        paused_runtime().block_on(async {
            for (version, sizes) in [
                (http::Version::HTTP_2, vec![16384, 16384, 7232]),
                (http::Version::HTTP_11, vec![40000]),
            ] {
                let activity = Activity::new();
                let body = axum::body::Body::from(vec![b'x'; 40000]);
                let mut body = Sent::new(body, Some(activity.start(version)));
                assert_eq!(body.size_hint().exact(), Some(40000));
                let mut given = Vec::new();
                while let Some(frame) =
                    std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                {
                    given.push(frame.unwrap().into_data().unwrap().len());
                }
                assert_eq!(given, sizes, "{version:?}");
                assert!(body.is_end_stream());
            }
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
