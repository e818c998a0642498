//! hyper's HTTP/1 header-read timeout, with one system timer per
//! connection instead of one per request.
//!
//! hyper times each request head (from the end of the previous response)
//! with a sleep from its [`Timer`], made when it starts waiting for the
//! head and dropped once the head is read: with tokio's timer, that is a
//! registration in the runtime's timer wheel and its removal, both under a
//! lock, and a boxed sleep, for every request of a keep-alive connection.
//! Here the connection's task keeps the deadline and one tokio timer
//! ([`HeaderAlarm`]), which wakes it no later than the deadline hyper waits
//! on; the sleep hyper gets ([`AlarmDeadline`]) has no size (its box
//! allocates nothing) and reads the deadline from the alarm polling it,
//! ready once the clock has passed it. Deadlines only move later, so the
//! timer is set again only when it goes off early (at most once per
//! timeout per connection), and the connection then closes exactly as with
//! tokio's timer: hyper polls its deadline, which is past.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;

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
        let watched = WATCH.with(|watch| match watch.get() {
            Some(alarm) => {
                watch.set(Some(Watch {
                    deadline: Some(deadline),
                    fresh: true,
                    ..alarm
                }));
                true
            }
            None => false,
        });
        match watched {
            true => Box::pin(AlarmDeadline),
            // Made outside a connection's alarm: tokio's own sleep.
            false => TokioTimer::new().sleep_until(deadline),
        }
    }
}

/// What the connection being polled on this thread waits on, kept by its
/// [`HeaderAlarm`] between polls.
#[derive(Clone, Copy)]
struct Watch {
    /// The deadline of hyper's latest sleep.
    deadline: Option<Instant>,
    /// Whether that sleep was made in this poll: its deadline is a timeout
    /// away, not past (no clock to read).
    fresh: bool,
    /// Whether hyper waited on it in this poll.
    waiting: bool,
}

thread_local! {
    /// `None` when no [`HeaderAlarm`] polls a connection on this thread.
    static WATCH: Cell<Option<Watch>> = const { Cell::new(None) };
}

/// A poll of a connection under its alarm; what was watched before is put
/// back when it ends, a panic included.
struct Watching {
    outer: Option<Watch>,
}

impl Watching {
    fn start(deadline: Option<Instant>) -> Watching {
        Watching {
            outer: WATCH.replace(Some(Watch {
                deadline,
                fresh: false,
                waiting: false,
            })),
        }
    }

    /// What the connection waits on now.
    fn end(self) -> Watch {
        WATCH.get().expect("set by start")
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        WATCH.set(self.outer);
    }
}

/// The deadline hyper waits on for a request head: the one its
/// connection's alarm keeps.
struct AlarmDeadline;

impl Future for AlarmDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        WATCH.with(|watch| match watch.get() {
            Some(
                alarm @ Watch {
                    deadline: Some(deadline),
                    fresh,
                    ..
                },
            ) if fresh || now() < deadline => {
                watch.set(Some(Watch {
                    waiting: true,
                    ..alarm
                }));
                Poll::Pending
            }
            // Past, or (never, as hyper polls it inside its connection)
            // polled where its deadline cannot be read: ended rather
            // than waited on forever.
            _ => Poll::Ready(()),
        })
    }
}

impl Sleep for AlarmDeadline {}

/// The one timer of a connection's task, kept no later than the head
/// deadline its connection waits on.
#[derive(Default)]
pub(crate) struct HeaderAlarm {
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the timer goes off, while it is set.
    set_for: Option<Instant>,
    /// The deadline of hyper's latest sleep on this connection.
    deadline: Option<Instant>,
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
        let watching = Watching::start(self.deadline);
        let polled = connection.poll(cx);
        let watch = watching.end();
        self.deadline = watch.deadline;
        if polled.is_ready() {
            return polled;
        }
        let (true, Some(deadline)) = (watch.waiting, watch.deadline) else {
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

    /// Under an alarm, the sleep hyper gets has no size: its box is no
    /// allocation; outside one, it is tokio's.
    #[test]
    fn a_deadline_under_an_alarm_is_no_allocation() {
        runtime().block_on(async {
            let connection = async {
                let sleep = HeaderTimer.sleep(Duration::from_secs(5));
                std::mem::size_of_val(&*sleep)
            };
            let mut connection = std::pin::pin!(connection);
            let mut alarm = HeaderAlarm::default();
            assert_eq!(alarm.watch(connection.as_mut()).await, 0);
            let outside = HeaderTimer.sleep(Duration::from_secs(5));
            assert!(std::mem::size_of_val(&*outside) > 0);
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
        assert!(WATCH.get().is_none());
    }
}
