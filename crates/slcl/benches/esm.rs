//! The SQS → Lambda event source mapping, measured: latency from SendMessage to the
//! function starting, with batching window 0 (the default), one message at a time.
//! Prints one table.
//!
//! ```text
//! cargo bench -p slcl --bench esm
//! ```
//!
//! Rows:
//! - a native function (a Rust closure) that reads `Instant::now()` when it is called:
//!   the exact start, so the row measures the edge, SQS and the poller alone;
//! - the `echo` wasm component, whose start is taken as the moment its invocation
//!   record appears minus the invocation's duration (the record is written when the
//!   invocation ends; the duration is timed around the whole invoke, instance included),
//!   and the time until that record appears;
//! - the native function again, sent in-process (`stack.sqs().send`, no HTTP), to
//!   separate the poller from the SDK and the edge;
//! - the SendMessage round trip alone, for reference.
//!
//! Each send waits for its invocation to finish before the next, so every message
//! finds the poller idle, waiting on the queue's notification. The clock starts just
//! before the SDK's `send()` is awaited.
//!
//! Environment: `BENCH_SENDS` (messages per row, default 200; 10 more warm up first).

use std::time::{Duration, Instant};

use serde_json::Value;
use slcl::native::{service_fn, LambdaEvent};
use slcl::{SendOptions, SqsTriggerConfig, Stack};
use tokio::sync::mpsc;

const WARMUP: usize = 10;
const WAIT: Duration = Duration::from_secs(10);

mod common;
use common::{env, percentile};

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "p50 {}  p99 {}  max {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times[times.len() - 1])
    )
}

fn trigger(queue: &str) -> SqsTriggerConfig {
    let mut config = SqsTriggerConfig::new(queue);
    config.batch_size = Some(10);
    config.maximum_batching_window = Some(0);
    config
}

/// A native function that reports when it was called and the body it got.
fn recording_function(
    started: mpsc::UnboundedSender<(Instant, String)>,
) -> slcl::native::NativeHandler {
    service_fn(move |event: LambdaEvent<Value>| {
        let now = Instant::now();
        let started = started.clone();
        async move {
            let body = event.payload["Records"][0]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let _ = started.send((now, body));
            Ok::<_, std::io::Error>(Value::Null)
        }
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sends = env("BENCH_SENDS", 200).max(1);
    let (tx, mut started) = mpsc::unbounded_channel();
    let stack = Stack::harness()
        .native_function("native", recording_function(tx))
        .function("echo", slcl_fixtures::ECHO)
        .queue("native-jobs")
        .queue("wasm-jobs")
        .sqs_trigger_config("native", trigger("native-jobs"))
        .sqs_trigger_config("echo", trigger("wasm-jobs"))
        .start()
        .await
        .expect("stack starts");
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config());
    let url = |name: &str| {
        let sqs = sqs.clone();
        let name = name.to_owned();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .expect("GetQueueUrl")
                .queue_url
                .expect("a queue URL")
        }
    };
    let (native_url, wasm_url) = (url("native-jobs").await, url("wasm-jobs").await);

    // Native function, over HTTP.
    let (mut to_start, mut round_trip) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + sends {
        let body = format!("native-{i}");
        let t0 = Instant::now();
        sqs.send_message()
            .queue_url(&native_url)
            .message_body(&body)
            .send()
            .await
            .expect("SendMessage");
        let answered = t0.elapsed();
        let (at, got) = tokio::time::timeout(WAIT, started.recv())
            .await
            .expect("the function starts")
            .expect("the stack is alive");
        assert_eq!(got, body, "the function got another message");
        let run = stack
            .next_invocation("native", WAIT)
            .await
            .expect("recorded");
        assert!(run.succeeded(), "{:?}", run.outcome);
        if i >= WARMUP {
            to_start.push(at - t0);
            round_trip.push(answered);
        }
    }

    // The wasm function, over HTTP.
    let (mut wasm_start, mut wasm_done) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + sends {
        let body = format!("wasm-{i}");
        let t0 = Instant::now();
        sqs.send_message()
            .queue_url(&wasm_url)
            .message_body(&body)
            .send()
            .await
            .expect("SendMessage");
        let run = stack.next_invocation("echo", WAIT).await.expect("recorded");
        let seen = t0.elapsed();
        assert!(run.succeeded(), "{:?}\n{}", run.outcome, run.logs);
        let event: Value = serde_json::from_slice(&run.event).expect("event JSON");
        assert_eq!(event["Records"][0]["body"], body.as_str());
        if i >= WARMUP {
            wasm_start.push(seen.saturating_sub(run.duration));
            wasm_done.push(seen);
        }
    }

    // Native function, sent in-process.
    let (mut in_process, mut send_call) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + sends {
        let body = format!("in-process-{i}");
        let t0 = Instant::now();
        stack
            .sqs()
            .send("native-jobs", &body, SendOptions::default())
            .expect("send");
        let returned = t0.elapsed();
        let (at, got) = tokio::time::timeout(WAIT, started.recv())
            .await
            .expect("the function starts")
            .expect("the stack is alive");
        assert_eq!(got, body, "the function got another message");
        stack
            .next_invocation("native", WAIT)
            .await
            .expect("recorded");
        if i >= WARMUP {
            in_process.push(at - t0);
            send_call.push(returned);
        }
    }

    // The poller deletes a message just after its invocation is recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stray: usize = ["native-jobs", "wasm-jobs"]
        .iter()
        .map(|q| stack.sqs().peek(q).map(|m| m.len()).unwrap_or(0))
        .sum();
    let batches = stack
        .invocations("native")
        .iter()
        .chain(stack.invocations("echo").iter())
        .filter(|r| {
            serde_json::from_slice::<Value>(&r.event)
                .ok()
                .and_then(|e| e["Records"].as_array().map(|a| a.len()))
                != Some(1)
        })
        .count();

    let mut rows: Vec<[String; 3]> = vec![
        ["MEASURE".into(), "VALUE".into(), "NOTES".into()],
        [
            "SendMessage -> native function starts".into(),
            summary(to_start),
            "AWS SDK for Rust over HTTP; Instant::now() in the closure".into(),
        ],
        [
            "SendMessage -> echo.wasm starts".into(),
            summary(wasm_start),
            "record seen minus its duration".into(),
        ],
        [
            "SendMessage -> echo.wasm finished, recorded".into(),
            summary(wasm_done),
            "next_invocation returns".into(),
        ],
        [
            "in-process send -> native function starts".into(),
            summary(in_process),
            "stack.sqs().send: no HTTP, no SDK".into(),
        ],
        [
            "SendMessage round trip (reference)".into(),
            summary(round_trip),
            "SDK send() until its answer".into(),
        ],
        [
            "in-process send() call (reference)".into(),
            summary(send_call),
            "the SQLite commit of one message, and the wake-up".into(),
        ],
    ];
    rows.push([
        "sends per row".into(),
        sends.to_string(),
        format!(
            "one at a time, after {WARMUP} warm-up sends; batching window 0; \
             {batches} batches of more than one record; {stray} messages left"
        ),
    ]);
    let width = |c: usize| rows.iter().map(|r| r[c].len()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for r in &rows {
        println!("{:w0$}  {:w1$}  {}", r[0], r[1], r[2]);
    }
}
