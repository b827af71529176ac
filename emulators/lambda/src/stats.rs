//! Per-function counters: what CloudWatch's Lambda metrics would show for each
//! function (`Invocations`, `Errors`, `Throttles`, `Duration`,
//! `ConcurrentExecutions`), plus cold starts, the billed GB-seconds and what those
//! invocations would cost on AWS.
//!
//! [`LambdaService::stats`](crate::LambdaService::stats) reads them; the edge serves
//! them at `GET /_slcl/stats` and `slcl stats` prints them as a table. They are kept
//! in memory only: a restart or [`LambdaService::reset`](crate::LambdaService::reset)
//! starts them from zero.
//!
//! What counts, following "Types of metrics for Lambda functions"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html>):
//!
//! - An invocation is every time a function's code runs, whatever invoked it (the
//!   Invoke API, an async event and each of its retries, an event source mapping's
//!   batch, an S3 notification). A throttled request is not an invocation.
//! - An error is an invocation that ended in a function error: the handler's own
//!   error, or the runtime's (`Sandbox.Timedout`, `Runtime.ExitError` for an
//!   out-of-memory kill or a trap), and an invocation the runtime could not start
//!   (counted as `ServiceException`, the error the Invoke API answers then).
//! - A throttle is a request turned away by a concurrency limit (reserved or account
//!   concurrency, or no free instance slot). Each throttled attempt of an async event
//!   counts: the event waits and is tried again.
//! - Duration is the handler's run time, without the cold start's init; the
//!   percentiles come from a uniform sample of at most [`DURATION_SAMPLE`]
//!   invocations (exact below that), the maximum is exact.
//! - Billed duration is the `Billed Duration` of the invocation's `REPORT` line
//!   (handler plus init time, rounded up to the millisecond; the timeout for a
//!   timed-out invocation); GB-seconds are billed seconds × `MemorySize` / 1024.
//!
//! Cost is at AWS's published on-demand price for x86 functions in US East (N.
//! Virginia), [`PRICE_PER_REQUEST_USD`] and [`PRICE_PER_GB_SECOND_USD`], without the
//! free tier, the cheaper tiers above 6 billion GB-seconds a month, ephemeral storage
//! or data transfer: a rough figure of what the same invocations would cost there.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use slcl_runtime::{InvocationResult, Outcome, RuntimeError};

/// AWS Lambda's price per request, in US dollars: $0.20 per 1 million requests
/// (x86 and Arm, US East (N. Virginia)), from <https://aws.amazon.com/lambda/pricing/>.
pub const PRICE_PER_REQUEST_USD: f64 = 0.20 / 1_000_000.0;
/// AWS Lambda's price per GB-second of duration, in US dollars: $0.0000166667 for
/// x86 functions in US East (N. Virginia), first 6 billion GB-seconds a month, from
/// <https://aws.amazon.com/lambda/pricing/>.
pub const PRICE_PER_GB_SECOND_USD: f64 = 0.000_016_666_7;
/// Where [`PRICE_PER_REQUEST_USD`] and [`PRICE_PER_GB_SECOND_USD`] come from.
pub const PRICING_SOURCE: &str = "https://aws.amazon.com/lambda/pricing/";
/// Most durations kept per function for the percentiles.
pub const DURATION_SAMPLE: usize = 1024;

/// The counters of one function (all its versions and aliases together), as
/// [`LambdaService::stats`](crate::LambdaService::stats) returns them and
/// `GET /_slcl/stats` serves them (keys in camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStats {
    /// Function name.
    pub function: String,
    /// Invocations that ran (CloudWatch's `Invocations`), errors included.
    pub invocations: u64,
    /// Invocations that ended in an error (CloudWatch's `Errors`).
    pub errors: u64,
    /// Errors by `errorType` (`Sandbox.Timedout`, `Runtime.ExitError`, the
    /// handler's own types).
    pub error_types: BTreeMap<String, u64>,
    /// Requests turned away by a concurrency limit (CloudWatch's `Throttles`).
    pub throttles: u64,
    /// Invocations that needed a new instance (the ones whose `REPORT` line has an
    /// `Init Duration`).
    pub cold_starts: u64,
    /// Most invocations of this function running at once (the peak of CloudWatch's
    /// `ConcurrentExecutions`).
    pub max_concurrency: u64,
    /// Handler run time, in milliseconds; `None` before the first invocation.
    pub duration_ms: Option<DurationStats>,
    /// Sum of the billed durations, in milliseconds.
    pub billed_duration_ms: u64,
    /// Billed GB-seconds: billed seconds × `MemorySize` / 1024, summed.
    pub billed_gb_seconds: f64,
    /// What these invocations would cost on AWS, in US dollars: requests ×
    /// [`PRICE_PER_REQUEST_USD`] + GB-seconds × [`PRICE_PER_GB_SECOND_USD`].
    pub cost_usd: f64,
}

/// Percentiles of the handler's run time, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest (exact, not sampled).
    pub max: f64,
}

/// Counters of one function.
#[derive(Default)]
struct Counters {
    invocations: u64,
    errors: u64,
    error_types: BTreeMap<String, u64>,
    throttles: u64,
    cold_starts: u64,
    running: u64,
    max_concurrency: u64,
    /// Durations seen, for the sample.
    durations_seen: u64,
    /// A uniform sample of the durations (reservoir sampling), in ms.
    sample: Vec<f64>,
    max_duration_ms: f64,
    billed_duration_ms: u64,
    /// Sum of billed ms × memory MB: GB-seconds × 1024 × 1000, exact.
    billed_mb_ms: u128,
}

impl Counters {
    fn add_duration(&mut self, ms: f64) {
        self.durations_seen += 1;
        self.max_duration_ms = self.max_duration_ms.max(ms);
        if self.sample.len() < DURATION_SAMPLE {
            self.sample.push(ms);
        } else {
            // Algorithm R: the n-th value replaces a random one with chance k/n.
            let j = rand::random_range(0..self.durations_seen);
            if let Some(slot) = self.sample.get_mut(j as usize) {
                *slot = ms;
            }
        }
    }

    fn snapshot(&self, function: &str) -> FunctionStats {
        let billed_gb_seconds = self.billed_mb_ms as f64 / 1024.0 / 1000.0;
        let duration_ms = (!self.sample.is_empty()).then(|| {
            let mut sorted = self.sample.clone();
            sorted.sort_by(f64::total_cmp);
            DurationStats {
                p50: percentile(&sorted, 50.0),
                p90: percentile(&sorted, 90.0),
                p99: percentile(&sorted, 99.0),
                max: self.max_duration_ms,
            }
        });
        FunctionStats {
            function: function.to_owned(),
            invocations: self.invocations,
            errors: self.errors,
            error_types: self.error_types.clone(),
            throttles: self.throttles,
            cold_starts: self.cold_starts,
            max_concurrency: self.max_concurrency,
            duration_ms,
            billed_duration_ms: self.billed_duration_ms,
            billed_gb_seconds,
            cost_usd: cost_usd(self.invocations, billed_gb_seconds),
        }
    }
}

/// What `requests` invocations using `gb_seconds` would cost on AWS, in US dollars.
pub fn cost_usd(requests: u64, gb_seconds: f64) -> f64 {
    requests as f64 * PRICE_PER_REQUEST_USD + gb_seconds * PRICE_PER_GB_SECOND_USD
}

/// Nearest-rank percentile of sorted, non-empty values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Every function's counters.
#[derive(Default)]
pub(crate) struct Stats {
    by_function: Arc<Mutex<HashMap<String, Counters>>>,
}

/// One running invocation, counted in its function's concurrency until dropped.
pub(crate) struct Running {
    by_function: Arc<Mutex<HashMap<String, Counters>>>,
    function: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut all = self.by_function.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = all.get_mut(&self.function) {
            c.running = c.running.saturating_sub(1);
        }
    }
}

impl Stats {
    fn with<R>(&self, function: &str, f: impl FnOnce(&mut Counters) -> R) -> R {
        let mut all = self.by_function.lock().unwrap_or_else(|p| p.into_inner());
        f(all.entry(function.to_owned()).or_default())
    }

    /// An invocation of `function` starts; it runs until the guard is dropped.
    pub(crate) fn start(&self, function: &str) -> Running {
        self.with(function, |c| {
            c.running += 1;
            c.max_concurrency = c.max_concurrency.max(c.running);
        });
        Running {
            by_function: Arc::clone(&self.by_function),
            function: function.to_owned(),
        }
    }

    /// Counts a finished invocation of `function`, whose configured memory size is
    /// `memory_mb`. A runtime that had no instance slot free is a throttle.
    pub(crate) fn finished(
        &self,
        function: &str,
        memory_mb: u32,
        result: &Result<InvocationResult, RuntimeError>,
    ) {
        self.with(function, |c| match result {
            Ok(r) => {
                c.invocations += 1;
                if let Outcome::FunctionError { error_type, .. } = &r.outcome {
                    c.errors += 1;
                    *c.error_types.entry(error_type.clone()).or_default() += 1;
                }
                if r.init_duration.is_some() {
                    c.cold_starts += 1;
                }
                c.add_duration(r.duration.as_secs_f64() * 1000.0);
                c.billed_duration_ms += r.billed_duration_ms;
                c.billed_mb_ms += u128::from(r.billed_duration_ms) * u128::from(memory_mb);
            }
            Err(RuntimeError::Capacity { .. }) => c.throttles += 1,
            Err(_) => {
                c.invocations += 1;
                c.errors += 1;
                *c.error_types
                    .entry("ServiceException".to_owned())
                    .or_default() += 1;
            }
        });
    }

    /// Counts a request for `function` turned away by a concurrency limit.
    pub(crate) fn throttled(&self, function: &str) {
        self.with(function, |c| c.throttles += 1);
    }

    /// The counters of `functions` (zeros for one never invoked) and of every other
    /// function counted, by name.
    pub(crate) fn snapshot(
        &self,
        functions: impl IntoIterator<Item = String>,
    ) -> Vec<FunctionStats> {
        let all = self.by_function.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: std::collections::BTreeSet<String> = functions.into_iter().collect();
        names.extend(all.keys().cloned());
        let none = Counters::default();
        names
            .iter()
            .map(|name| all.get(name).unwrap_or(&none).snapshot(name))
            .collect()
    }

    /// Forgets every counter (running invocations still leave when they end).
    pub(crate) fn clear(&self) {
        let mut all = self.by_function.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, c| c.running > 0);
        for c in all.values_mut() {
            let running = c.running;
            *c = Counters {
                running,
                ..Counters::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    fn result(ms: u64, billed_ms: u64, cold: bool, error: Option<&str>) -> InvocationResult {
        InvocationResult {
            outcome: match error {
                None => Outcome::Success(Bytes::from_static(b"{}")),
                Some(t) => Outcome::FunctionError {
                    error_type: t.to_owned(),
                    payload: Bytes::from_static(b"{}"),
                },
            },
            logs: String::new(),
            duration: Duration::from_millis(ms),
            billed_duration_ms: billed_ms,
            max_memory_used_mb: 1,
            init_duration: cold.then(|| Duration::from_millis(1)),
            log_stream_name: String::new(),
        }
    }

    #[test]
    fn counts_errors_cold_starts_and_cost() {
        let stats = Stats::default();
        let run = stats.start("f");
        stats.finished("f", 1024, &Ok(result(10, 12, true, None)));
        drop(run);
        stats.finished("f", 1024, &Ok(result(20, 20, false, None)));
        stats.finished(
            "f",
            1024,
            &Ok(result(3000, 3000, false, Some("Sandbox.Timedout"))),
        );
        stats.throttled("f");
        stats.finished(
            "f",
            1024,
            &Err(RuntimeError::Capacity {
                function: "f".into(),
                max_instances: 1,
            }),
        );
        let all = stats.snapshot(["g".to_owned()]);
        assert_eq!(all.len(), 2);
        let f = &all[0];
        assert_eq!(f.function, "f");
        assert_eq!(
            (
                f.invocations,
                f.errors,
                f.throttles,
                f.cold_starts,
                f.max_concurrency
            ),
            (3, 1, 2, 1, 1)
        );
        assert_eq!(f.error_types["Sandbox.Timedout"], 1);
        let d = f.duration_ms.unwrap();
        assert_eq!((d.p50, d.p90, d.p99, d.max), (20.0, 3000.0, 3000.0, 3000.0));
        assert_eq!(f.billed_duration_ms, 3032);
        // 1024 MB: one GB-second per billed second.
        assert!((f.billed_gb_seconds - 3.032).abs() < 1e-9);
        let expected = 3.0 * 0.0000002 + 3.032 * 0.0000166667;
        assert!((f.cost_usd - expected).abs() < 1e-12, "{}", f.cost_usd);
        assert_eq!(all[1].function, "g");
        assert_eq!(all[1].invocations, 0);
        assert!(all[1].duration_ms.is_none());
        stats.clear();
        assert!(stats.snapshot([]).is_empty());
    }

    #[test]
    fn percentiles_and_a_bounded_sample() {
        let stats = Stats::default();
        for ms in 1..=100 {
            stats.finished("f", 128, &Ok(result(ms, ms, false, None)));
        }
        let d = stats.snapshot([])[0].duration_ms.unwrap();
        assert_eq!((d.p50, d.p90, d.p99, d.max), (50.0, 90.0, 99.0, 100.0));
        for ms in 0..5000 {
            stats.finished("f", 128, &Ok(result(ms % 7, 1, false, None)));
        }
        let all = stats.by_function.lock().unwrap();
        assert_eq!(all["f"].sample.len(), DURATION_SAMPLE);
        assert_eq!(all["f"].durations_seen, 5100);
        assert_eq!(all["f"].max_duration_ms, 100.0);
    }
}
