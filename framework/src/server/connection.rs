//! The life of one accepted connection: hyper serves it; a connection that
//! has not delivered a request head within the header timeout, from the
//! accept or from its last response, is closed (a client that sends
//! nothing, part of a head, or part of the HTTP/2 preface, included); and
//! at shutdown, requests already sent are read before hyper is told to
//! finish, so none that a client sent before the signal is dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;

use super::body_timeout::{BodyRules, BodyTimeout, Drain};
use super::header_timer::{Activity, Answering, Quiet, Sent};

/// What the server asks of its connections; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Serve requests as they come.
    Serving,
    /// Answer what clients have sent, then close.
    Draining,
    /// `serve_graceful_timeout` has passed: close now.
    Closing,
}

/// How often a draining connection looks again at its socket while the
/// bytes of a request sent before the signal are still unread.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// A hyper service that tells its connection's [`Activity`] when a request
/// comes and when its response has been sent, gives each request the
/// peer's address over TCP as axum's [`ConnectInfo`] (what Django calls
/// `REMOTE_ADDR`), and cuts off a body that goes silent ([`BodyTimeout`]).
#[derive(Clone)]
pub(crate) struct NoticeRequests<S> {
    inner: S,
    activity: Arc<Activity>,
    peer: Option<SocketAddr>,
    room: Arc<RoomForExtensions>,
    body_rules: BodyRules,
    /// The server's phase, which a body read after its answer follows.
    phase: watch::Receiver<Phase>,
}

impl<S> NoticeRequests<S> {
    /// `inner` for a connection from `peer`, accepted now while the server
    /// is in `phase`, and what its requests tell the connection's task.
    pub(crate) fn new(
        inner: S,
        peer: Option<SocketAddr>,
        room: Arc<RoomForExtensions>,
        body_rules: BodyRules,
        phase: watch::Receiver<Phase>,
    ) -> (Self, Arc<Activity>) {
        let activity = Activity::new();
        (
            NoticeRequests {
                inner,
                activity: activity.clone(),
                peer,
                room,
                body_rules,
                phase,
            },
            activity,
        )
    }
}

/// An empty [`Extensions`](http::Extensions) with room for what the
/// request path puts in a request (the state, the host, the session, the
/// user, the CSRF and messages state, the route's parameters…): a request
/// starts with a copy, and its map is not grown and rehashed three times
/// on the way.
pub(crate) struct RoomForExtensions(http::Extensions);

impl Default for RoomForExtensions {
    fn default() -> Self {
        #[derive(Clone)]
        struct Slot<const N: usize>;
        let mut extensions = http::Extensions::new();
        macro_rules! make_room {
            ($($n:literal)*) => {
                $(extensions.insert(Slot::<$n>);)*
                $(extensions.remove::<Slot<$n>>();)*
            };
        }
        // A map keeps its room when emptied; 14 values fit in 16 buckets.
        make_room!(0 1 2 3 4 5 6 7 8 9 10 11 12 13);
        RoomForExtensions(extensions)
    }
}

impl RoomForExtensions {
    /// The extensions `request` arrived with, moved into a roomy map.
    fn give<B>(&self, request: &mut http::Request<B>) {
        let mut extensions = self.0.clone();
        extensions.extend(std::mem::take(request.extensions_mut()));
        *request.extensions_mut() = extensions;
    }
}

impl<S, B, R> hyper::service::Service<http::Request<B>> for NoticeRequests<S>
where
    B: http_body::Body + Unpin + Send + 'static,
    S: hyper::service::Service<http::Request<BodyTimeout<B>>, Response = http::Response<R>>,
    S::Future: Unpin,
{
    type Response = http::Response<Sent<R>>;
    type Error = S::Error;
    type Future = Answer<S::Future>;

    fn call(&self, mut request: http::Request<B>) -> Self::Future {
        let answering = Some(self.activity.start(request.version()));
        self.room.give(&mut request);
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let rules = self.body_rules;
        let drain = Drain::of(request.version(), request.headers());
        let phase = &self.phase;
        Answer {
            response: self
                .inner
                .call(request.map(|body| BodyTimeout::new(body, rules, drain, phase))),
            answering,
        }
    }
}

/// The response of a request, whose body carries its [`Answering`].
pub(crate) struct Answer<F> {
    response: F,
    answering: Option<Answering>,
}

impl<F, R, E> Future for Answer<F>
where
    F: Future<Output = Result<http::Response<R>, E>> + Unpin,
{
    type Output = Result<http::Response<Sent<R>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(Pin::new(&mut self.response).poll(cx));
        let answering = self.answering.take();
        Poll::Ready(response.map(|response| response.map(|body| Sent::new(body, answering))))
    }
}

/// Drive `connection` (over the socket `fd`) to its end, as `phase` says,
/// ending it once it has been idle for the header timeout (no request head
/// since the accept or since the last response), or once an HTTP/2
/// response has stalled for the send timeout (see [`Activity`]).
pub(crate) async fn drive<C>(
    connection: C,
    fd: RawFd,
    peer: Option<SocketAddr>,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    mut phase: watch::Receiver<Phase>,
) where
    C: GracefulConnection,
    C::Error: std::ops::Deref<Target = dyn std::error::Error + Send + Sync>,
{
    let mut connection = std::pin::pin!(connection);
    let quiet = activity.quiet_past(timeouts.header, timeouts.send);
    let mut quiet = std::pin::pin!(quiet);
    tokio::select! {
        biased;
        result = connection.as_mut() => return ended(result, peer),
        found = quiet.as_mut() => {
            return end_quiet(found, connection, peer, &activity, timeouts, &mut phase).await;
        }
        _ = past(&mut phase, Phase::Serving) => {}
    }
    // hyper closes a connection it thinks idle at once, even when the next
    // request already waits in the socket: let it read that request first.
    while unread_bytes(fd) > 0 {
        tokio::select! {
            biased;
            result = connection.as_mut() => return ended(result, peer),
            found = quiet.as_mut() => {
                return end_quiet(found, connection, peer, &activity, timeouts, &mut phase).await;
            }
            _ = tokio::time::sleep(DRAIN_POLL) => {}
            _ = past(&mut phase, Phase::Draining) => return,
        }
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        biased;
        result = connection.as_mut() => ended(result, peer),
        found = quiet.as_mut() => end_quiet(found, connection, peer, &activity, timeouts, &mut phase).await,
        _ = past(&mut phase, Phase::Draining) => {}
    }
}

/// The timeouts a connection's task keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// For a request's head, from the accept or the last response.
    pub(crate) header: Duration,
    /// For the client to take more of a response.
    pub(crate) send: Duration,
}

/// The end of a connection idle for the header timeout, or whose HTTP/2
/// response stalled. HTTP/1 is closed at once (its client may be midway
/// through a head). An HTTP/2 connection is told to go away (`GOAWAY`) and
/// ends once the requests it has are answered, or the send timeout after
/// (its last responses may wait for a window the client never opens, as
/// the stalled one does).
async fn end_quiet<C>(
    found: Quiet,
    mut connection: Pin<&mut C>,
    peer: Option<SocketAddr>,
    activity: &Activity,
    timeouts: Timeouts,
    phase: &mut watch::Receiver<Phase>,
) where
    C: GracefulConnection,
    C::Error: std::ops::Deref<Target = dyn std::error::Error + Send + Sync>,
{
    let seconds = timeouts.header.as_secs_f32();
    match found {
        Quiet::Stalled => tracing::debug!(
            target: "nuages::server",
            "an HTTP/2 client took nothing more of a response for {}s; closing the connection",
            timeouts.send.as_secs_f32()
        ),
        Quiet::Idle if !activity.is_http2() => {
            tracing::debug!(target: "nuages::server", "no request within {seconds}s; closing the connection");
            return;
        }
        Quiet::Idle => tracing::debug!(
            target: "nuages::server",
            "no HTTP/2 request for {seconds}s; closing the connection"
        ),
    }
    // GOAWAY first: the connection's other requests are answered (a POST
    // whose view runs is not cut off midway), within the send timeout.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        result = connection.as_mut() => ended(result, peer),
        _ = tokio::time::sleep(timeouts.send) => {}
        _ = past(phase, Phase::Draining) => {}
    }
}

/// Resolves once the server's phase is later than `phase` (or the server is gone).
async fn past(receiver: &mut watch::Receiver<Phase>, phase: Phase) {
    loop {
        let now = *receiver.borrow_and_update();
        if now > phase || receiver.changed().await.is_err() {
            return;
        }
    }
}

/// The end of a connection: a request hyper could not read (a malformed
/// head, one too large, an HTTP/1.2) is refused by hyper with a bare 400
/// or 431 that reaches no request line, so it is logged here with the
/// client's address, as nginx logs such requests; other ends (a client
/// gone, a reset) are routine.
fn ended<E>(result: Result<(), E>, peer: Option<SocketAddr>)
where
    E: std::ops::Deref<Target = dyn std::error::Error + Send + Sync>,
{
    let Err(error) = result else { return };
    let error: &(dyn std::error::Error + Send + Sync) = &*error;
    let unreadable = error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_parse);
    match (unreadable, peer) {
        (true, Some(peer)) => tracing::warn!(
            target: "nuages::server",
            "a request from {peer} that cannot be read was refused: {error}"
        ),
        (true, None) => tracing::warn!(
            target: "nuages::server",
            "a request that cannot be read was refused: {error}"
        ),
        (false, _) => tracing::debug!(target: "nuages::server", "connection ended: {error}"),
    }
}

/// Bytes the kernel holds for this socket that nobody has read yet.
fn unread_bytes(fd: RawFd) -> usize {
    let mut count: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; `fd` is the socket of the connection
    // the caller still owns, so it is open.
    let result = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut count) };
    if result < 0 { 0 } else { count.max(0) as usize }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request given room keeps what it came with and gains nothing else.
    #[test]
    fn room_for_extensions_keeps_the_request_s_own() {
        let room = RoomForExtensions::default();
        assert!(room.0.is_empty());
        let mut request = http::Request::new(());
        request.extensions_mut().insert(7_u32);
        request.extensions_mut().insert("from the server");
        room.give(&mut request);
        assert_eq!(request.extensions().len(), 2);
        assert_eq!(request.extensions().get::<u32>(), Some(&7));
        assert_eq!(request.extensions().get::<&str>(), Some(&"from the server"));
        let mut bare = http::Request::new(());
        room.give(&mut bare);
        assert!(bare.extensions().is_empty());
    }
}
