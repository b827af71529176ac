//! Lambda's async retry policy, driven by a virtual clock: "failed, retried after one
//! minute, then after two more, then dropped" runs in well under a second of real time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slcl::{Stack, StateLocation};
use slcl_core::{TraceContext, VirtualClock};
use slcl_runtime::LogSink;

use crate::common::{project, toml_path};

/// Collects function output lines (instead of printing them).
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl LogSink for Lines {
    fn line(&self, _function: &str, _request_id: &str, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
}

impl Lines {
    fn reports(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("REPORT RequestId:"))
            .count()
    }
}

async fn wait_for_reports(lines: &Lines, n: usize) {
    for _ in 0..600 {
        if lines.reports() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} invocations, saw {}", lines.reports());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_async_event_is_retried_twice_then_dropped() {
    let dir = project(&format!(
        "[functions.fails]\nwasm = {}\n",
        toml_path(slcl_fixtures::ERROR)
    ));
    let clock = VirtualClock::starting_now();
    let lines = Arc::new(Lines::default());
    let stack = Stack::builder()
        .project_dir(dir.path())
        .state(StateLocation::Temporary)
        .port(0)
        .watch(false)
        .clock(clock.clone())
        .log_sink(lines.clone())
        .start()
        .await
        .unwrap();
    let lambda = stack.lambda();
    lambda
        .enqueue("fails", br#"{"message":"nope"}"#, &TraceContext::default())
        .unwrap();

    wait_for_reports(&lines, 1).await;
    assert_eq!(lambda.queued(), 1, "the failed event waits for its retry");

    // Nothing happens until a full minute has passed on the stack's clock.
    clock.advance(Duration::from_secs(59));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lines.reports(), 1);
    clock.advance(Duration::from_secs(1));
    wait_for_reports(&lines, 2).await;

    // The second retry comes two minutes after the first.
    clock.advance(Duration::from_secs(119));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lines.reports(), 2);
    clock.advance(Duration::from_secs(1));
    wait_for_reports(&lines, 3).await;

    // Retries exhausted: the event is dropped and never runs again.
    for _ in 0..100 {
        if lambda.queued() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lambda.queued(), 0);
    clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lines.reports(), 3);
    stack.shutdown().await;
}
