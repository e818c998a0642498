//! A connection to a server, opened on first use, shared by everyone who
//! needs it (a circuit breaker): one attempt is under way at a time, and
//! whoever needs the connection meanwhile waits for that one and shares
//! its outcome, never starting an attempt of its own after it; after a
//! failure, the server is left alone for a while and every caller fails at
//! once with the same error, then one new attempt is made. Without it,
//! concurrent requests to a server that never answers queued behind each
//! other's attempts, each waiting its own timeout. The Redis cache and the
//! database pools use it.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
// Tokio's, which a test's paused clock moves.
use tokio::time::Instant;

/// A connection of type `T`, or the error `E` of the last attempt.
pub(crate) struct Breaker<T, E> {
    state: Arc<Mutex<State<T, E>>>,
    /// How long the server is left alone after a failure.
    backoff: Duration,
}

/// The outcome of an attempt, sent once to everyone waiting for it.
type Outcome<T, E> = watch::Receiver<Option<Result<T, E>>>;

enum State<T, E> {
    /// None yet: the next caller starts an attempt.
    Idle,
    /// An attempt under way.
    Connecting(Outcome<T, E>),
    /// Connected.
    Up(T),
    /// Failed at `since`: not tried again before the back-off has passed.
    Down { since: Instant, error: E },
}

/// Why [`Breaker::connect`] gives no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal<E> {
    /// The attempt this call started or joined failed with this error.
    Failed(E),
    /// Not tried: an attempt failed `since` (with `error`), and the server
    /// is left alone for the back-off.
    LeftAlone { since: Instant, error: E },
    /// The attempt ended without an outcome (its task panicked, or the
    /// runtime is shutting down).
    Abandoned,
}

impl<T, E> std::fmt::Debug for Breaker<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.state() {
            State::Idle => "idle",
            State::Connecting(_) => "connecting",
            State::Up(_) => "up",
            State::Down { .. } => "down",
        };
        f.debug_struct("Breaker")
            .field("state", &state)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl<T, E> Breaker<T, E> {
    /// Not connected yet; a failure leaves the server alone for `backoff`.
    pub(crate) fn new(backoff: Duration) -> Self {
        Breaker {
            state: Arc::new(Mutex::new(State::Idle)),
            backoff,
        }
    }

    fn state(&self) -> MutexGuard<'_, State<T, E>> {
        // The state is replaced whole under the lock: a panic leaves a
        // whole value behind.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Held by an attempt's task until it records its outcome: dropped before
/// that (the attempt panicked, or the runtime dropped the task), it puts
/// the breaker back to [`State::Idle`], so that the next caller makes a new
/// attempt instead of joining one that will never end.
struct Unfinished<T, E>(Option<Arc<Mutex<State<T, E>>>>);

impl<T, E> Drop for Unfinished<T, E> {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            if matches!(*state, State::Connecting(_)) {
                *state = State::Idle;
            }
        }
    }
}

impl<T, E> Breaker<T, E>
where
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// The connection, when there is one.
    pub(crate) fn get(&self) -> Option<T> {
        match &*self.state() {
            State::Up(connection) => Some(connection.clone()),
            _ => None,
        }
    }

    /// The connection: the one there is, the attempt under way joined, or
    /// a new attempt, `attempt()`; at once a [`Refusal::LeftAlone`] while
    /// the server is left alone after a failure. The attempt runs in a
    /// task of its own, so that a caller that gives up (a request whose
    /// client went away) does not abandon the attempt the others wait for.
    pub(crate) async fn connect<F, Fut>(&self, attempt: F) -> Result<T, Refusal<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut outcome = {
            let mut state = self.state();
            match &*state {
                State::Up(connection) => return Ok(connection.clone()),
                State::Down { since, error } if since.elapsed() < self.backoff => {
                    return Err(Refusal::LeftAlone {
                        since: *since,
                        error: error.clone(),
                    });
                }
                State::Connecting(outcome) => outcome.clone(),
                State::Idle | State::Down { .. } => {
                    let outcome = self.start(attempt());
                    *state = State::Connecting(outcome.clone());
                    outcome
                }
            }
        };
        match outcome.wait_for(Option::is_some).await {
            Ok(done) => match &*done {
                Some(Ok(connection)) => Ok(connection.clone()),
                Some(Err(error)) => Err(Refusal::Failed(error.clone())),
                None => unreachable!("waited for an outcome"),
            },
            Err(_) => Err(Refusal::Abandoned),
        }
    }

    /// Runs `attempt` in a task that records its outcome, then sends it.
    fn start(&self, attempt: impl Future<Output = Result<T, E>> + Send + 'static) -> Outcome<T, E> {
        let (sender, receiver) = watch::channel(None);
        let mut unfinished = Unfinished(Some(self.state.clone()));
        tokio::spawn(async move {
            let outcome = attempt.await;
            if let Some(state) = unfinished.0.take() {
                *state.lock().unwrap_or_else(|p| p.into_inner()) = match &outcome {
                    Ok(connection) => State::Up(connection.clone()),
                    Err(error) => State::Down {
                        since: Instant::now(),
                        error: error.clone(),
                    },
                };
            }
            let _ = sender.send(Some(outcome));
        });
        receiver
    }

    /// Leave a connected server alone for the back-off after `error` (a
    /// connection that stopped answering); the next attempt after it
    /// connects anew.
    pub(crate) fn trip(&self, error: E) {
        let mut state = self.state();
        if matches!(*state, State::Up(_)) {
            *state = State::Down {
                since: Instant::now(),
                error,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Concurrent callers share one attempt and its error; while the
    /// server is left alone they fail at once without an attempt; after
    /// the back-off, one new attempt is made and its connection kept.
    #[tokio::test(start_paused = true)]
    async fn one_attempt_is_shared_and_a_failure_is_left_alone_for_the_backoff() {
        let breaker: Breaker<u32, String> = Breaker::new(Duration::from_secs(3));
        let attempts = Arc::new(AtomicUsize::new(0));
        let failing = || {
            let attempts = attempts.clone();
            async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(5)).await;
                Err::<u32, _>("no answer".to_string())
            }
        };
        let started = tokio::time::Instant::now();
        let calls = (0..8).map(|_| breaker.connect(failing));
        let outcomes = futures_util::future::join_all(calls).await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        for outcome in outcomes {
            assert_eq!(outcome, Err(Refusal::Failed("no answer".to_string())));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        let left_alone = breaker.connect(failing).await;
        assert!(
            matches!(&left_alone, Err(Refusal::LeftAlone { error, .. }) if error == "no answer"),
            "{left_alone:?}"
        );
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        assert_eq!(breaker.get(), None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(breaker.connect(|| async { Ok(7) }).await, Ok(7));
        assert_eq!(breaker.get(), Some(7));
        assert_eq!(breaker.connect(failing).await, Ok(7));
        breaker.trip("gone".to_string());
        assert!(matches!(
            breaker.connect(failing).await,
            Err(Refusal::LeftAlone { .. })
        ));
    }

    /// An attempt whose task panics abandons the callers waiting for it,
    /// and the next call makes a new attempt instead of joining the dead one.
    #[tokio::test]
    async fn an_attempt_that_panicked_is_followed_by_a_new_one() {
        let breaker: Breaker<u32, String> = Breaker::new(Duration::from_secs(3));
        fn driver_bug() -> Result<u32, String> {
            panic!("a driver bug")
        }
        let panicking = || async {
            tokio::task::yield_now().await;
            driver_bug()
        };
        let waiting = (0..3).map(|_| breaker.connect(panicking));
        for outcome in futures_util::future::join_all(waiting).await {
            assert_eq!(outcome, Err(Refusal::Abandoned));
        }
        assert_eq!(breaker.connect(|| async { Ok(7) }).await, Ok(7));
        assert_eq!(breaker.get(), Some(7));
    }
}
