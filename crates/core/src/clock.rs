use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::BoxFuture;

/// The one source of time in a stack.
///
/// Every timer (function timeouts as the guest sees them, retries, visibility
/// timeouts, schedules, event times) reads a `Clock`, so a test harness can swap in a
/// virtual clock and move all of them at once.
///
/// Contract: `now` never goes backwards for one clock; `sleep(d)` completes no earlier
/// than the moment `now()` has advanced by `d`. A virtual clock may complete sleeps
/// only when it is advanced, so code must not assume sleeps end in wall time.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// Completes once this clock reads `deadline` or later. Prefer it to
    /// `sleep(deadline - now())` when the deadline is known: a virtual clock moved
    /// between the two readings would shift the deadline.
    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'static, ()> {
        self.sleep(deadline.duration_since(self.now()).unwrap_or_default())
    }
    /// Milliseconds since the Unix epoch, as most AWS timestamps use.
    fn now_millis(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: system time and tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// A shared handle to the system clock.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
