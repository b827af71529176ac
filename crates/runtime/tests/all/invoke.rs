//! The happy path: results, warm reuse, the request the guest sees, logs.

use std::time::Duration;

use serde_json::json;
use slcl_runtime::Outcome;

use crate::support::*;
use slcl_fixtures::{CONTEXT, COUNTER, ECHO, SLOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_returns_the_event() {
    let h = harness(|_| {});
    let f = h.load(fixture("echo", ECHO)).await;
    let event = json!({"hello": "world", "n": [1, 2]});
    let result = invoke(&f, event.clone()).await;
    assert_eq!(json_result(&result), event);
    assert!(
        result.init_duration.is_some(),
        "first invocation is a cold start"
    );
    assert!(result.max_memory_used_mb >= 1);
    assert!(result.log_stream_name.contains("[$LATEST]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instances_keep_module_state() {
    let h = harness(|_| {});
    let f = h.load(fixture("counter", COUNTER)).await;
    let first = invoke(&f, json!({})).await;
    let second = invoke(&f, json!({})).await;
    assert_eq!(json_result(&first)["count"], 1);
    assert_eq!(
        json_result(&second)["count"],
        2,
        "same instance, same statics"
    );
    assert!(first.init_duration.is_some());
    assert!(
        second.init_duration.is_none(),
        "warm start has no init duration"
    );
    assert!(!second.logs.contains("Init Duration"));
    assert!(first.logs.contains("\tInit Duration: "));
    assert_eq!(first.log_stream_name, second.log_stream_name);
    assert_eq!(f.idle_instances(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_use_separate_instances() {
    let h = harness(|_| {});
    let f = h.load(fixture("concurrent", SLOW)).await;
    let (a, b) = tokio::join!(
        invoke(&f, json!({"ms": 300})),
        invoke(&f, json!({"ms": 300})),
    );
    assert_eq!(json_result(&a)["slept_ms"], 300);
    assert!(a.init_duration.is_some() && b.init_duration.is_some());
    assert_ne!(a.log_stream_name, b.log_stream_name);
    assert_eq!(f.idle_instances(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_expire_after_keep_alive() {
    let clock = ManualClock::new();
    let h = harness_with_clock(|c| c.keep_alive = Duration::from_secs(600), clock.clone());
    let f = h.load(fixture("keepalive", COUNTER)).await;
    invoke(&f, json!({})).await;
    clock.advance(Duration::from_secs(599));
    let warm = invoke(&f, json!({})).await;
    assert_eq!(json_result(&warm)["count"], 2);
    clock.advance(Duration::from_secs(601));
    let cold = invoke(&f, json!({})).await;
    assert_eq!(
        json_result(&cold)["count"],
        1,
        "a fresh instance after keep-alive"
    );
    assert!(cold.init_duration.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_every_invoke_never_reuses_an_instance() {
    let h = harness(|c| c.cold_start_every_invoke = true);
    let f = h.load(fixture("always-cold", COUNTER)).await;
    for _ in 0..3 {
        let result = invoke(&f, json!({})).await;
        assert_eq!(
            json_result(&result)["count"],
            1,
            "a fresh instance every time"
        );
        assert!(result.init_duration.is_some());
        assert!(result.logs.contains("\tInit Duration: "));
    }
    assert_eq!(f.idle_instances(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_gets_the_runtime_interface_emulator_request() {
    let clock = ManualClock::new();
    let h = harness_with_clock(|_| {}, clock.clone());
    let mut spec = spec("headers");
    spec.timeout = Duration::from_secs(7);
    let f = h.load(spec).await;
    let mut inv = invocation(json!({"action": "headers"}));
    inv.client_context = Some("eyJjdXN0b20iOnt9fQ==".into());
    let request_id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let seen = json_result(&result);
    assert_eq!(seen["method"], "POST");
    assert!(
        seen["uri"]
            .as_str()
            .unwrap()
            .ends_with("/2015-03-31/functions/function/invocations"),
        "{seen}"
    );
    assert_eq!(seen["lambda-runtime-aws-request-id"], request_id.as_str());
    assert_eq!(
        seen["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:headers"
    );
    let deadline: u64 = seen["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(deadline, 1_700_000_000_000 + 7_000, "clock now + timeout");
    let trace = seen["lambda-runtime-trace-id"].as_str().unwrap();
    assert!(
        trace.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent="),
        "{trace}"
    );
    assert!(trace.ends_with(";Sampled=0"), "{trace}");
    assert_eq!(
        seen["lambda-runtime-client-context"],
        "eyJjdXN0b20iOnt9fQ=="
    );
    assert_eq!(seen["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_sdk_sees_its_context() {
    let clock = ManualClock::new();
    let h = harness_with_clock(|_| {}, clock.clone());
    let mut spec = fixture("ctx", CONTEXT);
    spec.memory_mb = 512;
    spec.timeout = Duration::from_secs(3);
    let f = h.load(spec).await;
    let mut inv = invocation(json!({}));
    inv.client_context = Some(r#"{"custom":{"k":"v"}}"#.into());
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let ctx = json_result(&result);
    assert_eq!(ctx["request_id"], id.as_str());
    assert_eq!(ctx["deadline_ms"], 1_700_000_000_000u64 + 3_000);
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    );
    assert!(ctx["xray_trace_id"]
        .as_str()
        .unwrap()
        .starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;"));
    assert_eq!(ctx["function_name"], "ctx");
    assert_eq!(ctx["memory"], 512);
    assert_eq!(ctx["version"], "$LATEST");
    assert_eq!(ctx["log_group"], "/aws/lambda/ctx");
    assert_eq!(ctx["log_stream"], result.log_stream_name.as_str());
    assert_eq!(ctx["env"]["AWS_REGION"], "us-east-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_gets_lambdas_environment() {
    let h = harness(|c| {
        c.region = "eu-west-1".into();
        c.endpoint_url = "http://127.0.0.1:4567".into();
    });
    let mut spec = spec("env-fn");
    spec.memory_mb = 256;
    spec.env.insert("TABLE".into(), "orders".into());
    spec.env
        .insert("AWS_ACCESS_KEY_ID".into(), "override".into());
    let f = h.load(spec).await;
    let env = json_result(&invoke(&f, json!({"action": "env"})).await);
    assert_eq!(env["AWS_REGION"], "eu-west-1");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "env-fn");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/env-fn");
    assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .unwrap()
        .contains("/[$LATEST]"));
    assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4567");
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], "test");
    assert_eq!(env["AWS_SESSION_TOKEN"], "test");
    assert_eq!(env["AWS_EXECUTION_ENV"], "slcl");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["TABLE"], "orders");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "override", "function env wins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_framed_like_aws() {
    let h = harness(|_| {});
    let f = h.load(spec("logger")).await;
    let inv = invocation(json!({"action": "log"}));
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let lines: Vec<&str> = result.logs.lines().collect();
    assert_eq!(lines[0], format!("START RequestId: {id} Version: $LATEST"));
    assert_eq!(lines[1], "hello from stdout");
    assert_eq!(lines[2], "partial line");
    assert_eq!(lines[3], "hello from stderr");
    assert_eq!(lines[4], format!("END RequestId: {id}"));
    let report = lines[5];
    let fields: Vec<&str> = report.split('\t').collect();
    assert_eq!(fields[0], format!("REPORT RequestId: {id}"));
    assert!(
        fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"),
        "{report}"
    );
    let billed: u64 = fields[2]
        .strip_prefix("Billed Duration: ")
        .and_then(|s| s.strip_suffix(" ms"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(billed, result.billed_duration_ms);
    let exact = result.duration + result.init_duration.unwrap();
    assert_eq!(billed, exact.as_nanos().div_ceil(1_000_000) as u64);
    assert_eq!(fields[3], "Memory Size: 128 MB");
    assert_eq!(
        fields[4],
        format!("Max Memory Used: {} MB", result.max_memory_used_mb)
    );
    assert!(fields[5].starts_with("Init Duration: ") && fields[5].ends_with(" ms"));
    assert_eq!(lines.len(), 6);

    let sunk = h.sink.lines.lock().unwrap().clone();
    assert_eq!(sunk.len(), 6, "the sink gets every line, framing included");
    assert!(sunk
        .iter()
        .all(|(func, req, _)| func == "logger" && req == &id));
    assert_eq!(sunk[1].2, "hello from stdout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_payload_helpers() {
    let h = harness(|_| {});
    let f = h.load(fixture("helpers", ECHO)).await;
    let result = invoke(&f, json!({"a": 1})).await;
    assert!(matches!(result.outcome, Outcome::Success(_)));
    assert_eq!(result.outcome.error_type(), None);
    assert_eq!(result.outcome.payload().as_ref(), br#"{"a":1}"#);
}

/// Cold instantiation vs warm invocation of a trivial function. Prints the numbers
/// (`cargo test -p slcl-runtime --release -- --nocapture measure`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_cold_and_warm_start() {
    let h = harness(|_| {});
    let f = h.load(fixture("measure", ECHO)).await;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..20 {
        h.runtime.drop_idle_instances();
        let r = invoke(&f, json!({})).await;
        cold.push(r.init_duration.unwrap() + r.duration);
        let r = invoke(&f, json!({})).await;
        assert!(r.init_duration.is_none());
        warm.push(r.duration);
    }
    cold.sort();
    warm.sort();
    eprintln!(
        "median cold (instantiate + invoke): {:?}, median warm invoke: {:?}",
        cold[cold.len() / 2],
        warm[warm.len() / 2]
    );
}
