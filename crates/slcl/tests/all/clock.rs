//! Every timer in the stack, driven by the virtual clock: async retries and the
//! maximum event age, function timeouts and the deadline a function sees, instance
//! keep-alive, event times. Each runs in well under a second of real time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::S3Event;
use serde_json::{json, Value};
use slcl::native::{service_fn, LambdaEvent};
use slcl::{FunctionConfig, Stack};
use slcl_core::TraceContext;

use crate::harness::s3_client;

const WAIT: Duration = Duration::from_secs(30);

/// 2020-01-02T03:04:05Z
fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_577_934_245)
}

/// Lets the stack's tasks run, then checks nothing new happened.
async fn assert_quiet(stack: &Stack, name: &str, seen: usize) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stack.invocations(name).len(), seen, "no invocation yet");
}

/// Waits until some timer of the stack is pending on the virtual clock (an invocation
/// has started and armed its timeout), so an advance hits it.
async fn until_a_timer_waits(stack: &Stack) {
    let clock = stack.virtual_clock().unwrap();
    for _ in 0..1000 {
        if clock.sleepers() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no timer started on the virtual clock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_async_event_is_retried_twice_then_dropped() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let lambda = stack.lambda();
    lambda
        .enqueue("fails", br#"{"message":"nope"}"#, &TraceContext::default())
        .unwrap();

    let first = stack.next_invocation("fails", WAIT).await.unwrap();
    assert!(first.error().is_some());
    assert_eq!(first.started_ms, 1_577_934_245_000);
    assert_eq!(lambda.queued(), 1, "the failed event waits for its retry");

    // Nothing happens until a full minute has passed on the stack's clock.
    stack.advance(Duration::from_secs(59));
    assert_quiet(&stack, "fails", 1).await;
    stack.advance(Duration::from_secs(1));
    let second = stack.next_invocation("fails", WAIT).await.unwrap();
    assert_eq!(
        second.request_id, first.request_id,
        "a retry keeps its request id"
    );
    assert_eq!(second.started_ms, first.started_ms + 60_000);

    // The second retry comes two minutes after the first.
    stack.advance(Duration::from_secs(119));
    assert_quiet(&stack, "fails", 2).await;
    stack.advance(Duration::from_secs(1));
    let third = stack.next_invocation("fails", WAIT).await.unwrap();
    assert_eq!(third.started_ms, second.started_ms + 120_000);

    // Retries exhausted: the event is dropped and never runs again.
    for _ in 0..100 {
        if lambda.queued() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lambda.queued(), 0);
    stack.advance(Duration::from_secs(3600));
    assert_quiet(&stack, "fails", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_older_than_six_hours_is_discarded_not_retried() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    stack
        .lambda()
        .enqueue("fails", br#"{"message":"late"}"#, &TraceContext::default())
        .unwrap();
    stack.next_invocation("fails", WAIT).await.unwrap();
    // The retry falls due a minute later, but by the time it runs the event is past
    // Lambda's MaximumEventAgeInSeconds (6 h).
    stack.advance(Duration::from_secs(6 * 3600 + 1));
    for _ in 0..200 {
        if stack.lambda().queued() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stack.lambda().queued(), 0, "the stale event is discarded");
    assert_quiet(&stack, "fails", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_times_out_when_the_clock_passes_its_deadline() {
    let mut config = FunctionConfig::new(slcl_fixtures::LOOP);
    config.timeout = 900;
    let stack = Stack::harness()
        .function_config("spins", config)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let stack = std::sync::Arc::new(stack);
    let running = {
        let stack = std::sync::Arc::clone(&stack);
        tokio::spawn(async move { stack.invoke("spins", &json!({})).await.unwrap() })
    };
    until_a_timer_waits(&stack).await;
    stack.advance(Duration::from_secs(899));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !running.is_finished(),
        "one second before the deadline it still runs"
    );
    stack.advance(Duration::from_secs(1));
    let out = tokio::time::timeout(WAIT, running).await.unwrap().unwrap();
    assert_eq!(out.result.outcome.error_type(), Some("Sandbox.Timedout"));
    let doc: Value = serde_json::from_slice(out.payload()).unwrap();
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("2020-01-02T03:19:05.000Z ")
            && message.ends_with("Task timed out after 900.00 seconds"),
        "{message}"
    );
    assert_eq!(out.result.billed_duration_ms, 900_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_function_times_out_on_the_virtual_clock_too() {
    let stack = Stack::harness()
        .native_function(
            "waits",
            service_fn(|_: LambdaEvent<Value>| async {
                std::future::pending::<()>().await;
                Ok::<Value, std::io::Error>(Value::Null)
            }),
        )
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let stack = std::sync::Arc::new(stack);
    let running = {
        let stack = std::sync::Arc::clone(&stack);
        tokio::spawn(async move { stack.invoke("waits", &json!({})).await.unwrap() })
    };
    until_a_timer_waits(&stack).await;
    stack.advance(Duration::from_secs(3));
    let out = tokio::time::timeout(WAIT, running).await.unwrap().unwrap();
    assert_eq!(out.result.outcome.error_type(), Some("Sandbox.Timedout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_a_function_sees_is_on_the_stack_clock() {
    let mut config = FunctionConfig::new(slcl_fixtures::CONTEXT);
    config.timeout = 30;
    let stack = Stack::harness()
        .function_config("context", config)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let out = stack.invoke("context", &json!({})).await.unwrap();
    let doc: Value = serde_json::from_slice(out.payload()).unwrap();
    assert_eq!(doc["deadline_ms"], 1_577_934_245_000u64 + 30_000);
    assert_eq!(
        doc["remaining_ms"], 30_000,
        "the guest's wall clock stands still with the virtual clock"
    );
    stack.advance(Duration::from_secs(86_400));
    let out = stack.invoke("context", &json!({})).await.unwrap();
    let doc: Value = serde_json::from_slice(out.payload()).unwrap();
    assert_eq!(
        doc["deadline_ms"],
        1_577_934_245_000u64 + 86_400_000 + 30_000
    );
    assert!(
        doc["log_stream"].as_str().unwrap().starts_with("2020/01/0"),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instances_expire_after_the_keep_alive() {
    let stack = Stack::harness()
        .function("counter", slcl_fixtures::COUNTER)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let count = |out: slcl::InvokeOutput| {
        serde_json::from_slice::<Value>(out.payload()).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(stack.invoke("counter", &json!({})).await.unwrap()), 1);
    stack.advance(Duration::from_secs(9 * 60));
    assert_eq!(
        count(stack.invoke("counter", &json!({})).await.unwrap()),
        2,
        "idle for 9 minutes: still warm"
    );
    stack.advance(slcl_runtime::DEFAULT_KEEP_ALIVE);
    let out = stack.invoke("counter", &json!({})).await.unwrap();
    assert!(out.result.init_duration.is_some(), "a cold start");
    assert_eq!(count(out), 1, "idle for the keep-alive: a fresh instance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_and_object_times_follow_the_stack_clock() {
    let stack = Stack::harness()
        .native_function(
            "times",
            service_fn(|e: LambdaEvent<S3Event>| async move {
                Ok::<_, std::io::Error>(e.payload.records[0].event_time)
            }),
        )
        .notification("stamped", "times", &["s3:ObjectCreated:*"])
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let s3 = s3_client(&stack);
    for (hours, expected) in [
        (0, "2020-01-02T03:04:05.000Z"),
        (1, "2020-01-02T04:04:05.000Z"),
    ] {
        stack.advance(Duration::from_secs(hours * 3600));
        s3.put_object()
            .bucket("stamped")
            .key("k")
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
        let inv = stack.next_invocation("times", WAIT).await.unwrap();
        let raw: Value = inv.event_as().unwrap();
        assert_eq!(raw["Records"][0]["eventTime"], expected);
        let head = s3
            .head_object()
            .bucket("stamped")
            .key("k")
            .send()
            .await
            .unwrap();
        let modified = head.last_modified().unwrap();
        assert_eq!(
            modified.secs(),
            1_577_934_245 + hours as i64 * 3600,
            "LastModified reads the stack clock"
        );
    }
}
