//! A request body that must keep coming: a client that sends nothing of
//! its body for the timeout has its body end in an error (as nginx's
//! `client_body_timeout`), so that the view reading it answers and the
//! connection closes, instead of holding a task and a socket for as long
//! as the client likes.
//!
//! And a body the request path answered without reading whole (a CSRF
//! refusal of an upload, a view that reads nothing) is read to its end
//! after the answer, over HTTP/1, when it is within
//! `data_upload_max_memory_size`: hyper closes a connection whose body is
//! left unread, and a socket closed with bytes still arriving is reset, so
//! a proxy still writing the body (nginx) saw an error and answered its
//! client 502 in place of the page. Read, the connection stays open for
//! the next request, as gunicorn's reads past the body of the last one.
//! Once the server is shutting down, that reading waits no longer than
//! [`SILENCE_AT_SHUTDOWN`] for the next bytes (a body still coming from a
//! proxy is read whole; a client trickling one does not hold the shutdown
//! for a body timeout), and ends with the connection at
//! `serve_graceful_timeout`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::watch;

use super::connection::Phase;

/// How long a body read after its answer may be silent once the server is
/// shutting down.
const SILENCE_AT_SHUTDOWN: Duration = Duration::from_secs(1);

/// How a connection's request bodies are read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyRules {
    /// How long a body may send nothing.
    pub(crate) timeout: Duration,
    /// The most bytes of a body read after the answer, to keep the
    /// connection (`data_upload_max_memory_size`); a larger one closes it.
    pub(crate) drain_limit: u64,
}

/// `body`, cut off once it has been silent for `rules.timeout` (the timer
/// is made only when the client keeps the reader waiting), and read to its
/// end when dropped unread (see the module's words).
pub(crate) struct BodyTimeout<B>
where
    B: Body + Unpin + Send + 'static,
{
    /// Taken when dropped unread, to be read to its end.
    body: Option<B>,
    rules: BodyRules,
    silent: Option<Pin<Box<tokio::time::Sleep>>>,
    /// What is left to read may be read after the answer: an HTTP/1 body
    /// whose client does not wait for `100 Continue` before sending it.
    drain: Drain,
    /// The server's phase, for reading after the answer; only for a body
    /// that may be read then (none for a GET without one).
    phase: Option<watch::Receiver<Phase>>,
    /// Bytes given to the reader so far.
    read: u64,
    /// The body has ended, whole or in an error: nothing is left to read.
    ended: bool,
}

/// Whether a body dropped unread is read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// Over HTTP/2 a stream's body is refused on its own (`RST_STREAM`),
    /// without closing the connection: nothing to do.
    Never,
    /// HTTP/1 with `Expect: 100-continue`: only once read from (hyper then
    /// sent `100 Continue`); unread, the client was told nothing and must
    /// not be asked for the body now that the answer is out.
    OnceRead,
    /// HTTP/1, the body on its way.
    Always,
}

impl Drain {
    /// The rule for a request of `version` with `headers`.
    pub(crate) fn of(version: http::Version, headers: &http::HeaderMap) -> Drain {
        if version >= http::Version::HTTP_2 {
            return Drain::Never;
        }
        let expects_continue = headers
            .get(http::header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        match expects_continue {
            true => Drain::OnceRead,
            false => Drain::Always,
        }
    }
}

impl<B> BodyTimeout<B>
where
    B: Body + Unpin + Send + 'static,
{
    /// `body`, read by `rules`, with `drain`'s rule after the answer and
    /// the server's `phase`.
    pub(crate) fn new(
        body: B,
        rules: BodyRules,
        drain: Drain,
        phase: &watch::Receiver<Phase>,
    ) -> BodyTimeout<B> {
        let phase = (drain != Drain::Never && !body.is_end_stream()).then(|| phase.clone());
        BodyTimeout {
            body: Some(body),
            rules,
            silent: None,
            drain,
            phase,
            read: 0,
            ended: false,
        }
    }
}

impl<B> Body for BodyTimeout<B>
where
    B: Body + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, BoxError>>> {
        let this = &mut *self;
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        if this.drain == Drain::OnceRead {
            this.drain = Drain::Always;
        }
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.silent = None;
                match &frame {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            this.read += bytes::Buf::remaining(data) as u64;
                        }
                    }
                    Some(Err(_)) | None => this.ended = true,
                }
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.rules.timeout;
                let silent = this
                    .silent
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match silent.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.ended = true;
                        Poll::Ready(Some(Err(Silent(timeout).into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B> Drop for BodyTimeout<B>
where
    B: Body + Unpin + Send + 'static,
{
    fn drop(&mut self) {
        if self.ended || self.drain != Drain::Always {
            return;
        }
        let (Some(body), Some(phase)) = (self.body.take(), self.phase.take()) else {
            return;
        };
        let left = self.rules.drain_limit.saturating_sub(self.read);
        // Nothing left, or more than the limit: no task.
        if body.is_end_stream() || body.size_hint().lower() > left {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(read_to_end(body, left, self.rules.timeout, phase));
    }
}

/// Read `body` to its end and let its bytes go: `left` of them at most,
/// none silent for longer than `timeout`, or [`SILENCE_AT_SHUTDOWN`] once
/// `phase` has left [`Phase::Serving`] (dropped, the body closes the
/// connection as it would have).
async fn read_to_end<B: Body + Unpin>(
    mut body: B,
    mut left: u64,
    timeout: Duration,
    mut phase: watch::Receiver<Phase>,
) {
    loop {
        let serving = *phase.borrow_and_update() == Phase::Serving;
        let silence = match serving {
            true => timeout,
            false => timeout.min(SILENCE_AT_SHUTDOWN),
        };
        let frame = tokio::select! {
            frame = tokio::time::timeout(silence, body.frame()) => match frame {
                Ok(Some(Ok(frame))) => frame,
                // The end, an error, or silence.
                _ => return,
            },
            // Shutting down (or the server gone): wait as long as that allows.
            changed = phase.changed(), if serving => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        if let Some(data) = frame.data_ref() {
            let size = bytes::Buf::remaining(data) as u64;
            if size > left {
                return;
            }
            left -= size;
        }
    }
}

/// Why a body ended early.
#[derive(Debug)]
struct Silent(Duration);

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the client sent nothing of the request body for {} s",
            self.0.as_secs_f32()
        )
    }
}

impl std::error::Error for Silent {}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::sync::mpsc;

    fn rules(timeout: Duration) -> BodyRules {
        BodyRules {
            timeout,
            drain_limit: 1 << 20,
        }
    }

    /// The phase of a server that serves.
    fn serving() -> watch::Receiver<Phase> {
        watch::channel(Phase::Serving).1
    }

    /// A body sent in chunks over a channel, ended when the sender is dropped.
    struct Drip(mpsc::Receiver<Bytes>);

    impl Body for Drip {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
        }
    }

    /// A body that keeps coming is read whole however long it takes; one
    /// that goes silent for the timeout ends in an error naming it.
    #[test]
    fn a_silent_body_ends_in_an_error_and_a_steady_one_is_read() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let timeout = Duration::from_millis(100);
            let (sender, receiver) = mpsc::channel(4);
            let steady = tokio::spawn(async move {
                for _ in 0..4 {
                    tokio::time::sleep(timeout / 2).await;
                    sender.send(Bytes::from("x")).await.unwrap();
                }
            });
            let read = BodyTimeout::new(Drip(receiver), rules(timeout), Drain::Always, &serving())
                .collect()
                .await;
            assert_eq!(read.unwrap().to_bytes(), "xxxx");
            steady.await.unwrap();

            let (sender, receiver) = mpsc::channel(4);
            sender.send(Bytes::from("a")).await.unwrap();
            let started = tokio::time::Instant::now();
            let error = BodyTimeout::new(Drip(receiver), rules(timeout), Drain::Always, &serving())
                .collect()
                .await
                .unwrap_err();
            assert!(error.to_string().contains("sent nothing"), "{error}");
            assert!(started.elapsed() >= timeout);
            drop(sender);
        });
    }

    /// A body dropped unread is read after the answer for as long as its
    /// client keeps within the body timeout while the server serves; once
    /// it shuts down, a body still coming is read on, and one that goes
    /// silent is let go after [`SILENCE_AT_SHUTDOWN`], not the body timeout.
    #[tokio::test(start_paused = true)]
    async fn at_shutdown_a_body_read_after_its_answer_waits_no_longer_for_silence() {
        let (phase, receiver) = watch::channel(Phase::Serving);
        let (sender, chunks) = mpsc::channel(4);
        let body = BodyTimeout::new(
            Drip(chunks),
            rules(Duration::from_secs(30)),
            Drain::Always,
            &receiver,
        );
        drop(receiver);
        drop(body);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(!sender.is_closed(), "still read while serving");
        phase.send_replace(Phase::Draining);
        for _ in 0..5 {
            tokio::time::sleep(SILENCE_AT_SHUTDOWN / 2).await;
            sender.send(Bytes::from("x")).await.unwrap();
        }
        let silent_from = tokio::time::Instant::now();
        phase.closed().await;
        assert!(sender.is_closed());
        let waited = silent_from.elapsed();
        assert!(
            waited >= SILENCE_AT_SHUTDOWN && waited < SILENCE_AT_SHUTDOWN * 2,
            "let go {waited:?} after the body went silent"
        );
    }

    /// A body without bytes (a GET) keeps no hold on the server's phase.
    #[test]
    fn a_body_without_bytes_holds_no_phase() {
        let (phase, receiver) = watch::channel(Phase::Serving);
        let body = BodyTimeout::new(
            http_body_util::Empty::<Bytes>::new(),
            rules(Duration::from_secs(30)),
            Drain::Always,
            &receiver,
        );
        drop(receiver);
        assert!(phase.is_closed());
        drop(body);
    }
}
