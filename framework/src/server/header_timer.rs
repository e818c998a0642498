//! hyper's HTTP/1 header-read timeout, with one system timer per
//! connection instead of one per request.
//!
//! hyper times each request head (from the end of the previous response)
//! with a sleep from its [`Timer`], made when it starts waiting for the
//! head and dropped once the head is read: with tokio's timer, that is a
//! registration in the runtime's timer wheel and its removal, both under a
//! lock, for every request of a keep-alive connection. Here the sleep hyper
//! gets is a deadline ([`HeadDeadline`]), ready once the clock has passed
//! it, and the connection's task keeps one tokio timer ([`HeaderAlarm`])
//! that wakes it no later than the deadline hyper waits on. Deadlines only
//! move later, so that timer is set again only when it goes off early (at
//! most once per timeout per connection), and the connection then closes
//! exactly as with tokio's timer: hyper polls its deadline, which is past.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// The [`Timer`] for hyper's HTTP/1 connections, which [`HeaderAlarm`]
/// drives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderTimer;

/// Now, by tokio's clock (as `TokioTimer`'s: a paused test clock included).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(now() + duration)
    }

    fn now(&self) -> Instant {
        now()
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadDeadline {
            deadline,
            own_timer: None,
        })
    }
}

thread_local! {
    /// What the connection polled on this thread now waits on: `None` when
    /// no [`HeaderAlarm`] polls it, else the deadline it waits on, if any.
    static WATCH: Cell<Option<Option<Instant>>> = const { Cell::new(None) };
}

/// A poll of a connection under its alarm; what was watched before is put
/// back when it ends, a panic included.
struct Watching {
    outer: Option<Option<Instant>>,
}

impl Watching {
    fn start() -> Watching {
        Watching {
            outer: WATCH.replace(Some(None)),
        }
    }

    /// The deadline the connection now waits on, if any.
    fn end(self) -> Option<Instant> {
        WATCH.get().flatten()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        WATCH.set(self.outer);
    }
}

/// A deadline hyper waits on for a request head.
struct HeadDeadline {
    deadline: Instant,
    /// A timer of its own, only when polled outside a [`HeaderAlarm`].
    own_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for HeadDeadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if now() >= self.deadline {
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let watched = WATCH.with(|watch| match watch.get() {
            Some(_) => {
                watch.set(Some(Some(deadline)));
                true
            }
            None => false,
        });
        if watched {
            return Poll::Pending;
        }
        self.own_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())))
            .as_mut()
            .poll(cx)
    }
}

impl Sleep for HeadDeadline {}

/// The one timer of a connection's task, kept no later than the head
/// deadline its connection waits on.
#[derive(Default)]
pub(crate) struct HeaderAlarm {
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the timer goes off, while it is set.
    set_for: Option<Instant>,
}

impl HeaderAlarm {
    /// `connection`, polled under this alarm.
    pub(crate) fn watch<'a, F: Future>(
        &'a mut self,
        mut connection: Pin<&'a mut F>,
    ) -> impl Future<Output = F::Output> + 'a {
        std::future::poll_fn(move |cx| self.poll(connection.as_mut(), cx))
    }

    fn poll<F: Future>(
        &mut self,
        connection: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        let watching = Watching::start();
        let polled = connection.poll(cx);
        let waits_on = watching.end();
        if polled.is_ready() {
            return polled;
        }
        let Some(deadline) = waits_on else {
            return Poll::Pending;
        };
        if self.set_for.is_none_or(|set_for| set_for > deadline) {
            let at = tokio::time::Instant::from_std(deadline);
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.set_for = Some(deadline);
        }
        if let Some(timer) = &mut self.timer
            && timer.as_mut().poll(cx).is_ready()
        {
            // Gone off before the deadline hyper now waits on (an earlier
            // request's): poll again, which sets it for this one.
            self.set_for = None;
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// hyper's way: a deadline made and polled inside the connection; the
    /// alarm wakes the task for it, neither early nor much later.
    #[test]
    fn the_alarm_wakes_a_connection_at_its_deadline() {
        runtime().block_on(async {
            let start = Instant::now();
            let connection = async { HeaderTimer.sleep(Duration::from_millis(80)).await };
            let mut connection = std::pin::pin!(connection);
            let mut alarm = HeaderAlarm::default();
            // The timeout's own timer would wake the task at last: the
            // alarm must have woken it well before.
            tokio::time::timeout(Duration::from_secs(5), alarm.watch(connection.as_mut()))
                .await
                .expect("the alarm never woke the connection");
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(80), "{waited:?}");
            assert!(waited < Duration::from_secs(1), "woken late: {waited:?}");
        });
    }

    /// A deadline polled where no alarm watches keeps a timer of its own.
    #[test]
    fn a_deadline_without_an_alarm_keeps_its_own_timer() {
        runtime().block_on(async {
            let start = Instant::now();
            HeaderTimer.sleep(Duration::from_millis(50)).await;
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(50), "{waited:?}");
            assert!(waited < Duration::from_secs(2), "{waited:?}");
        });
    }

    /// A connection whose poll panics leaves nothing watched behind it.
    #[test]
    fn a_panic_in_a_watched_poll_leaves_nothing_watched() {
        let mut alarm = HeaderAlarm::default();
        let mut connection = std::pin::pin!(async { panic!("in the connection") });
        let waker = std::task::Waker::noop();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = alarm.poll(connection.as_mut(), &mut Context::from_waker(waker));
        }));
        assert!(panicked.is_err());
        assert_eq!(WATCH.get(), None);
    }
}
