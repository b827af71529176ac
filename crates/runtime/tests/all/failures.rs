//! Functions that fail: error responses, traps, timeouts, memory, capacity.

use std::time::Duration;

use serde_json::json;
use slcl_runtime::RuntimeError;

use crate::support::*;
use slcl_fixtures::{ECHO, ERROR, HOG, LOOP, PANIC, SLOW};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_status_is_a_function_error() {
    let h = harness(|_| {});
    let f = h.load(fixture("errors", ERROR)).await;
    let result = invoke(&f, json!({"message": "boom"})).await;
    let (error_type, doc) = function_error(&result);
    assert!(error_type.contains("CustomError"), "{error_type}");
    assert_eq!(doc["errorType"], error_type.as_str());
    assert_eq!(doc["errorMessage"], "boom");
    let again = invoke(&f, json!({"message": "boom"})).await;
    assert!(
        again.init_duration.is_none(),
        "a handled error keeps the instance warm"
    );

    let f = h.load(spec("raw-errors")).await;
    invoke(&f, json!({"action": "echo"})).await;

    let result = invoke(&f, json!({"action": "raw-error"})).await;
    let (error_type, doc) = function_error(&result);
    assert_eq!(error_type, "Runtime.InvalidResponse");
    assert_eq!(doc["errorType"], "Runtime.InvalidResponse");
    assert_eq!(doc["errorMessage"], "not json at all");
    assert!(
        result.init_duration.is_none(),
        "a handled error keeps the instance warm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_is_an_exit_error_with_backtrace_in_the_logs() {
    let h = harness(|_| {});
    let f = h.load(fixture("panics", PANIC)).await;
    let inv = invocation(json!({"message": "kaboom"}));
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let (error_type, doc) = function_error(&result);
    assert_eq!(error_type, "Runtime.ExitError");
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "RequestId: {id} Error: Runtime exited with error: "
        )),
        "{message}"
    );
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        result.logs.contains("kaboom"),
        "panic message on stderr:\n{}",
        result.logs
    );
    assert!(result.logs.contains("wasm backtrace"), "{}", result.logs);
    let lines: Vec<&str> = result.logs.lines().collect();
    assert_eq!(lines[lines.len() - 1], "Runtime.ExitError");
    assert!(lines[lines.len() - 3].starts_with("REPORT RequestId: "));
    assert_eq!(f.idle_instances(), 0, "a trapped instance is discarded");

    let next = invoke(&f, json!({"message": "again"})).await;
    assert!(
        next.init_duration.is_some(),
        "the next invocation is a cold start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_bound_guest_times_out() {
    let h = harness(|_| {});
    let mut spec = fixture("spins", LOOP);
    spec.timeout = Duration::from_millis(300);
    let f = h.load(spec).await;
    let inv = invocation(json!({}));
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let (error_type, doc) = function_error(&result);
    assert_eq!(error_type, "Sandbox.Timedout");
    let message = doc["errorMessage"].as_str().unwrap();
    // "2024-05-01T12:34:56.789Z <id> Task timed out after 0.30 seconds"
    let (date, rest) = message.split_once(' ').unwrap();
    assert!(date.ends_with('Z') && date.contains('T'), "{message}");
    assert!(
        rest.starts_with(&format!("{id} Task timed out after 0.3")) && rest.ends_with(" seconds"),
        "{message}"
    );
    assert!(result.duration >= Duration::from_millis(300));
    assert!(
        result.duration < Duration::from_secs(2),
        "{:?}",
        result.duration
    );
    assert_eq!(result.billed_duration_ms, 300);
    assert!(result
        .logs
        .lines()
        .last()
        .unwrap()
        .contains("Task timed out after"));
    assert_eq!(f.idle_instances(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_waiting_on_the_host_times_out() {
    let h = harness(|_| {});
    let mut spec = fixture("sleeps", SLOW);
    spec.timeout = Duration::from_millis(200);
    let f = h.load(spec).await;
    let result = invoke(&f, json!({"ms": 5000})).await;
    assert_eq!(function_error(&result).0, "Sandbox.Timedout");
    assert!(result.duration < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_size_is_enforced_and_reported() {
    let h = harness(|_| {});
    let mut spec = fixture("hog", HOG);
    spec.memory_mb = 64;
    let f = h.load(spec).await;

    let ok = invoke(&f, json!({"mb": 20})).await;
    assert_eq!(json_result(&ok)["mb"], 20);
    assert!(ok.max_memory_used_mb >= 20, "{}", ok.max_memory_used_mb);
    assert!(ok.max_memory_used_mb <= 64);

    let inv = invocation(json!({"mb": 100}));
    let id = inv.request_id.clone();
    let oom = f.invoke(inv).await.unwrap();
    let (error_type, doc) = function_error(&oom);
    assert_eq!(error_type, "Runtime.ExitError");
    assert_eq!(
        doc["errorMessage"],
        format!("RequestId: {id} Error: Runtime exited with error: signal: killed")
    );
    assert!(oom.logs.contains("Memory Size: 64 MB\tMax Memory Used: "));
    assert!(oom.max_memory_used_mb <= 64);
    assert_eq!(f.idle_instances(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_slots_are_a_capacity_error_and_idle_ones_are_evicted() {
    let h = harness(|c| {
        c.max_instances = 1;
        c.slot_wait = Duration::ZERO;
    });
    let a = h.load(fixture("slot-a", SLOW)).await;
    let b = h.load(fixture("slot-b", ECHO)).await;

    invoke(&a, json!({"ms": 1})).await;
    assert_eq!(a.idle_instances(), 1);
    // b needs the only slot: a's idle instance makes room.
    let r = invoke(&b, json!({})).await;
    assert!(r.init_duration.is_some());
    assert_eq!(a.idle_instances(), 0);

    h.runtime.drop_idle_instances();
    let (busy, second) = tokio::join!(invoke(&a, json!({"ms": 500})), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.invoke(invocation(json!({}))).await
    });
    json_result(&busy);
    match second {
        Err(RuntimeError::Capacity {
            function,
            max_instances,
        }) => {
            assert_eq!(function, "slot-b");
            assert_eq!(max_instances, 1);
        }
        other => panic!("expected a capacity error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_waits_for_a_busy_slot() {
    let h = harness(|c| c.max_instances = 1);
    let a = h.load(fixture("wait-a", SLOW)).await;
    let b = h.load(fixture("wait-b", ECHO)).await;
    let started = std::time::Instant::now();
    let (busy, second) = tokio::join!(invoke(&a, json!({"ms": 300})), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.invoke(invocation(json!({"after": "a"}))).await
    });
    json_result(&busy);
    let second = second.expect("the second invocation runs once the slot is free");
    assert_eq!(json_result(&second)["after"], "a");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_errors_name_the_function_and_file() {
    let h = harness(|_| {});
    let mut missing = spec("missing");
    missing.wasm = "/nonexistent/fn.wasm".into();
    let err = h.runtime.load(missing).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Read { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`missing`") && text.contains("/nonexistent/fn.wasm"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let mut module = spec("core");
    module.wasm = core;
    let err = h.runtime.load(module).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Compile { .. }));
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}
