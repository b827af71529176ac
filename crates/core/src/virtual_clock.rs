use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use crate::{BoxFuture, Clock};

/// A clock that moves only when told to.
///
/// Tests start a stack with a `VirtualClock` and call [`VirtualClock::advance`] to
/// move every timer that reads the stack's [`Clock`] at once: "retried after one
/// minute" takes microseconds and no sleeping. Sleeps complete, in deadline order,
/// when an advance reaches their deadline.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::time::{Duration, UNIX_EPOCH};
/// use slcl_core::{Clock, VirtualClock};
/// let clock = VirtualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let sleep = clock.sleep(Duration::from_secs(60));
/// clock.advance(Duration::from_secs(60));
/// sleep.await; // completes at once: the clock has moved a minute
/// assert_eq!(clock.now_millis(), 1_700_000_060_000);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct VirtualClock {
    state: Mutex<State>,
}

struct State {
    now: SystemTime,
    next_id: u64,
    sleepers: BTreeMap<(SystemTime, u64), oneshot::Sender<()>>,
}

impl VirtualClock {
    /// A clock standing still at `start`.
    pub fn new(start: SystemTime) -> Arc<VirtualClock> {
        Arc::new(VirtualClock {
            state: Mutex::new(State {
                now: start,
                next_id: 0,
                sleepers: BTreeMap::new(),
            }),
        })
    }

    /// A clock standing still at the current wall-clock time.
    pub fn starting_now() -> Arc<VirtualClock> {
        Self::new(SystemTime::now())
    }

    /// Moves the clock forward by `by`, completing every sleep whose deadline it
    /// reaches.
    pub fn advance(&self, by: Duration) {
        let due = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.now += by;
            let now = state.now;
            let later = state.sleepers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut state.sleepers, later)
        };
        for (_, wake) in due {
            let _ = wake.send(());
        }
    }

    /// Number of sleeps waiting for the clock to move (sleeps whose future was
    /// dropped do not count).
    pub fn sleepers(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sleepers
            .values()
            .filter(|wake| !wake.is_closed())
            .count()
    }

    /// The earliest deadline any live sleep waits for, if any: how far a test must
    /// [`advance`](VirtualClock::advance) for the next timer to fire.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sleepers
            .iter()
            .find(|(_, wake)| !wake.is_closed())
            .map(|((at, _), _)| *at)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        if duration.is_zero() {
            return Box::pin(std::future::ready(()));
        }
        let deadline = self.now() + duration;
        self.sleep_until(deadline)
    }

    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'static, ()> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if deadline <= state.now {
                return Box::pin(std::future::ready(()));
            }
            let id = state.next_id;
            state.next_id += 1;
            // Forget sleeps nobody waits for any more (a timeout that lost its race).
            state.sleepers.retain(|_, wake| !wake.is_closed());
            state.sleepers.insert((deadline, id), tx);
        }
        Box::pin(async move {
            // A dropped clock never wakes its sleepers; treat that as forever.
            if rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_complete_only_when_advanced_past_their_deadline() {
        let clock = VirtualClock::new(SystemTime::UNIX_EPOCH);
        let mut short = clock.sleep(Duration::from_secs(10));
        let mut long = clock.sleep(Duration::from_secs(60));
        assert_eq!(clock.sleepers(), 2);
        clock.advance(Duration::from_secs(9));
        assert!(futures::poll!(&mut short).is_pending());
        clock.advance(Duration::from_secs(1));
        assert!(futures::poll!(&mut short).is_ready());
        assert!(futures::poll!(&mut long).is_pending());
        clock.advance(Duration::from_secs(3600));
        assert!(futures::poll!(&mut long).is_ready());
        assert_eq!(clock.now_millis(), 3_610_000);
        assert_eq!(clock.sleepers(), 0);
    }
}
