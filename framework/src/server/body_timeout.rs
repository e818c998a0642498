//! A request body that must keep coming: a client that sends nothing of
//! its body for the timeout has its body end in an error (as nginx's
//! `client_body_timeout`), so that the view reading it answers and the
//! connection closes, instead of holding a task and a socket for as long
//! as the client likes.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use http_body::{Body, Frame, SizeHint};

/// `body`, cut off once it has been silent for `timeout`. The timer is
/// made only when the client keeps the reader waiting.
pub(crate) struct BodyTimeout<B> {
    body: B,
    timeout: Duration,
    silent: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> BodyTimeout<B> {
    pub(crate) fn new(body: B, timeout: Duration) -> BodyTimeout<B> {
        BodyTimeout {
            body,
            timeout,
            silent: None,
        }
    }
}

impl<B> Body for BodyTimeout<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.silent = None;
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let silent = this
                    .silent
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match silent.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Silent(timeout).into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

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
            let read = BodyTimeout::new(Drip(receiver), timeout).collect().await;
            assert_eq!(read.unwrap().to_bytes(), "xxxx");
            steady.await.unwrap();

            let (sender, receiver) = mpsc::channel(4);
            sender.send(Bytes::from("a")).await.unwrap();
            let started = tokio::time::Instant::now();
            let error = BodyTimeout::new(Drip(receiver), timeout)
                .collect()
                .await
                .unwrap_err();
            assert!(error.to_string().contains("sent nothing"), "{error}");
            assert!(started.elapsed() >= timeout);
            drop(sender);
        });
    }
}
