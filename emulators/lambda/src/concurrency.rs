//! Lambda's concurrency limits
//! (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>): an account
//! runs at most `ConcurrentExecutions` invocations at once (default 1000). A function
//! with reserved concurrency runs at most that many, and no other function can use
//! them; the others share what is left unreserved. An invocation over a limit is
//! throttled: a synchronous caller gets 429 `TooManyRequestsException` with the
//! `Reason`, an asynchronous event waits and is retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why an invocation was throttled: Lambda's `Reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The function's reserved concurrency is in use (or is 0).
    Reserved,
    /// The account's unreserved concurrency is in use.
    Account,
}

impl Throttle {
    /// Lambda's `Reason` for this throttle.
    pub fn reason(self) -> &'static str {
        match self {
            Throttle::Reserved => "ReservedFunctionConcurrentInvocationLimitExceeded",
            Throttle::Account => "ConcurrentInvocationLimitExceeded",
        }
    }
}

#[derive(Default)]
struct Counts {
    limit: u32,
    reserved: HashMap<String, u32>,
    running: HashMap<String, u32>,
    /// Running invocations of functions without reserved concurrency.
    unreserved_running: u32,
}

/// The account's concurrency bookkeeping.
pub(crate) struct Concurrency {
    counts: Arc<Mutex<Counts>>,
}

/// One running invocation's place; dropping it frees the place.
pub(crate) struct Slot {
    counts: Arc<Mutex<Counts>>,
    function: String,
    reserved: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = c.running.get_mut(&self.function) {
            *n = n.saturating_sub(1);
        }
        if !self.reserved {
            c.unreserved_running = c.unreserved_running.saturating_sub(1);
        }
    }
}

impl Concurrency {
    pub(crate) fn new(limit: u32) -> Concurrency {
        Concurrency {
            counts: Arc::new(Mutex::new(Counts {
                limit,
                ..Counts::default()
            })),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The account limit.
    pub(crate) fn account_limit(&self) -> u32 {
        self.counts().limit
    }

    /// Sets the account limit.
    pub(crate) fn set_account_limit(&self, limit: u32) {
        self.counts().limit = limit;
    }

    /// Sets (`Some`) or removes a function's reserved concurrency.
    pub(crate) fn reserve(&self, function: &str, value: Option<u32>) {
        let mut c = self.counts();
        match value {
            Some(n) => c.reserved.insert(function.to_owned(), n),
            None => c.reserved.remove(function),
        };
    }

    /// A function's reserved concurrency.
    pub(crate) fn reserved(&self, function: &str) -> Option<u32> {
        self.counts().reserved.get(function).copied()
    }

    /// Concurrency reserved by every function but `function`.
    pub(crate) fn reserved_total_except(&self, function: &str) -> u32 {
        self.counts()
            .reserved
            .iter()
            .filter(|(f, _)| f.as_str() != function)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Takes a place for one invocation of `function`, or says why there is none.
    pub(crate) fn acquire(&self, function: &str) -> Result<Slot, Throttle> {
        let mut c = self.counts();
        let running = c.running.get(function).copied().unwrap_or(0);
        let reserved = match c.reserved.get(function).copied() {
            Some(r) => {
                if running >= r {
                    return Err(Throttle::Reserved);
                }
                true
            }
            None => {
                let total_reserved: u32 = c.reserved.values().sum();
                if c.unreserved_running >= c.limit.saturating_sub(total_reserved) {
                    return Err(Throttle::Account);
                }
                c.unreserved_running += 1;
                false
            }
        };
        *c.running.entry(function.to_owned()).or_default() += 1;
        Ok(Slot {
            counts: Arc::clone(&self.counts),
            function: function.to_owned(),
            reserved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_account_limits() {
        let c = Concurrency::new(3);
        c.reserve("r", Some(1));
        let a = c.acquire("r").unwrap();
        assert_eq!(c.acquire("r").err(), Some(Throttle::Reserved));
        let x = c.acquire("x").unwrap();
        let y = c.acquire("y").unwrap();
        // 3 - 1 reserved = 2 unreserved, both in use.
        assert_eq!(c.acquire("z").err(), Some(Throttle::Account));
        drop(x);
        let z = c.acquire("z").unwrap();
        drop((a, y, z));
        assert!(c.acquire("r").is_ok());
        c.reserve("zero", Some(0));
        assert_eq!(c.acquire("zero").err(), Some(Throttle::Reserved));
        assert_eq!(c.reserved_total_except("r"), 0);
        assert_eq!(c.reserved_total_except(""), 1);
    }
}
