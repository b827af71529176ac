//! The test harness as users use it: `Stack::harness()`, the AWS SDK for Rust from
//! `stack.sdk_config()`, real wasm functions from `fixtures/`, native closures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use slcl::native::{service_fn, LambdaEvent};
use slcl::Stack;

/// An S3 client for the stack: path-style, as for any emulator on localhost.
pub fn s3_client(stack: &Stack) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.sdk_config())
            .force_path_style(true)
            .build(),
    )
}

fn lambda_client(stack: &Stack) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&stack.sdk_config())
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {bucket}/{key}: {e:?}"));
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_clients_reach_a_stack_declared_in_code() {
    let stack = Stack::harness()
        .function("echo", slcl_fixtures::ECHO)
        .bucket("photos")
        .start()
        .await
        .unwrap();
    assert!(stack.endpoint_url().starts_with("http://127.0.0.1:"));
    let s3 = s3_client(&stack);
    put(&s3, "photos", "a.txt", "hello").await;
    let got = s3
        .get_object()
        .bucket("photos")
        .key("a.txt")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello");

    let lambda = lambda_client(&stack);
    let out = lambda
        .invoke()
        .function_name("echo")
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"n":1}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.payload().unwrap().as_ref(), br#"{"n":1}"#);
    let functions = lambda.list_functions().send().await.unwrap();
    let names: Vec<_> = functions
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    assert_eq!(names, ["echo"]);

    // The harness's own invoke, and the record of both invocations.
    let direct = stack.invoke("echo", &json!({"n": 2})).await.unwrap();
    assert!(!direct.is_error());
    assert_eq!(direct.payload().as_ref(), br#"{"n":2}"#);
    let seen = stack.invocations("echo");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].event.as_ref(), br#"{"n":1}"#);
    assert!(seen.iter().all(|r| r.succeeded()));
    assert!(
        seen[1].logs.contains("REPORT RequestId: "),
        "{}",
        seen[1].logs
    );
    stack.shutdown().await;
}

/// One case of a suite: its own stack, its own bucket contents and function.
async fn isolated_case(i: usize) -> (String, Duration) {
    let started = std::time::Instant::now();
    let stack = Stack::harness()
        .function("echo", slcl_fixtures::ECHO)
        .bucket("shared-name")
        .start()
        .await
        .unwrap_or_else(|e| panic!("stack {i}: {e:#}"));
    let took = started.elapsed();
    let s3 = s3_client(&stack);
    put(
        &s3,
        "shared-name",
        &format!("case-{i}"),
        &format!("body {i}"),
    )
    .await;
    let listed = s3
        .list_objects_v2()
        .bucket("shared-name")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [format!("case-{i}")],
        "stack {i} sees only its own object"
    );
    let out = stack.invoke("echo", &json!({ "case": i })).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(out.payload()).unwrap(),
        json!({ "case": i })
    );
    assert_eq!(stack.invocations("echo").len(), 1);
    let endpoint = stack.endpoint_url().to_owned();
    drop(stack);
    (endpoint, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_stacks_run_in_parallel_without_interfering() {
    // Warm the compile cache so every stack loads `echo` from it.
    drop(
        Stack::harness()
            .function("echo", slcl_fixtures::ECHO)
            .start()
            .await
            .unwrap(),
    );
    let mut cases = tokio::task::JoinSet::new();
    for i in 0..100 {
        cases.spawn(isolated_case(i));
    }
    let mut endpoints = std::collections::BTreeSet::new();
    while let Some(done) = cases.join_next().await {
        let (endpoint, _took) = done.unwrap();
        assert!(endpoints.insert(endpoint), "two stacks shared a port");
    }
    assert_eq!(endpoints.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stack_closes_its_port_and_deletes_its_state() {
    let stack = Stack::harness().bucket("scratch").start().await.unwrap();
    let addr = stack.local_addr();
    let state = stack.state_dir().to_path_buf();
    assert!(state.join("state.db").exists());
    drop(stack);
    for _ in 0..200 {
        let closed = tokio::net::TcpStream::connect(addr).await.is_err();
        if closed && !state.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("after drop the port {addr} should refuse connections and {state:?} be gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_closure_runs_under_a_real_s3_trigger() {
    let keys = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&keys);
    let stack = Stack::harness()
        .native_function(
            "on-upload",
            service_fn(move |event: LambdaEvent<S3Event>| {
                let seen = Arc::clone(&seen);
                async move {
                    let record = &event.payload.records[0];
                    let key = record.s3.object.key.clone().unwrap_or_default();
                    seen.lock().unwrap().push(key.clone());
                    assert!(event.context.request_id.len() >= 32);
                    Ok::<_, std::io::Error>(json!({
                        "key": key,
                        "function": event.context.env_config.function_name,
                        "arn": event.context.invoked_function_arn,
                    }))
                }
            }),
        )
        .notification("uploads", "on-upload", &["s3:ObjectCreated:*"])
        .start()
        .await
        .unwrap();
    let s3 = s3_client(&stack);
    put(&s3, "uploads", "cats/tom.jpg", "meow").await;
    let inv = stack.next_invocation("on-upload", WAIT).await.unwrap();
    assert!(inv.succeeded(), "{:?}\n{}", inv.outcome, inv.logs);
    let result: Value = inv.payload_as().unwrap();
    assert_eq!(result["key"], "cats/tom.jpg");
    assert_eq!(result["function"], "on-upload");
    assert_eq!(
        result["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:on-upload"
    );
    let event: S3Event = inv.event_as().unwrap();
    assert_eq!(
        event.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );
    assert_eq!(*keys.lock().unwrap(), ["cats/tom.jpg"]);
    assert!(inv.logs.starts_with("START RequestId: "), "{}", inv.logs);

    // The Lambda API sees it like any function.
    let conf = lambda_client(&stack)
        .get_function_configuration()
        .function_name("on-upload")
        .send()
        .await
        .unwrap();
    assert_eq!(conf.handler(), Some("native"));
    assert_eq!(conf.timeout(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_errors_and_panics_are_function_errors() {
    #[derive(Debug)]
    struct NotToday;
    impl std::fmt::Display for NotToday {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("not today")
        }
    }
    let stack = Stack::harness()
        .native_function(
            "fails",
            service_fn(|_: LambdaEvent<Value>| async { Err::<Value, _>(NotToday) }),
        )
        .native_function(
            "panics",
            service_fn(|_: LambdaEvent<Value>| async {
                if true {
                    panic!("boom");
                }
                Ok::<Value, std::io::Error>(Value::Null)
            }),
        )
        .native_function(
            "typed",
            service_fn(|e: LambdaEvent<S3Event>| async move {
                Ok::<_, std::io::Error>(e.payload.records.len())
            }),
        )
        .start()
        .await
        .unwrap();
    let lambda = lambda_client(&stack);
    let out = lambda.invoke().function_name("fails").send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let doc: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(doc["errorMessage"], "not today");
    assert!(
        doc["errorType"].as_str().unwrap().ends_with("NotToday"),
        "{doc}"
    );

    let out = stack.invoke("panics", &json!({})).await.unwrap();
    assert!(out.is_error());
    assert!(out.result.logs.contains("the handler panicked: boom"));
    // The stack survives the panic.
    let out = stack
        .invoke("typed", &json!({"Records": []}))
        .await
        .unwrap();
    assert_eq!(out.payload().as_ref(), b"0");
    let out = stack.invoke("typed", &json!({"Records": 7})).await.unwrap();
    assert_eq!(
        out.result.outcome.error_type(),
        Some("Runtime.DeserializationError")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_returns_the_stack_to_its_declared_state() {
    let stack = Stack::harness()
        .function("counter", slcl_fixtures::COUNTER)
        .bucket("kept")
        .start()
        .await
        .unwrap();
    let s3 = s3_client(&stack);
    put(&s3, "kept", "a", "1").await;
    s3.create_bucket().bucket("extra").send().await.unwrap();
    for n in 1..=2 {
        let out = stack.invoke("counter", &json!({})).await.unwrap();
        assert_eq!(
            out.payload().as_ref(),
            format!(r#"{{"count":{n}}}"#).as_bytes()
        );
    }
    stack.reset().unwrap();

    let buckets = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["kept"], "declared buckets come back, others go");
    let listed = s3.list_objects_v2().bucket("kept").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    assert!(stack.invocations("counter").is_empty());
    let out = stack.invoke("counter", &json!({})).await.unwrap();
    assert_eq!(
        out.payload().as_ref(),
        br#"{"count":1}"#,
        "warm instances were dropped: module state starts fresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_invocation_returns_each_invocation_once_in_order() {
    let stack = Stack::harness()
        .function("echo", slcl_fixtures::ECHO)
        .start()
        .await
        .unwrap();
    let lambda = stack.lambda();
    for n in 0..3 {
        lambda
            .enqueue(
                "echo",
                json!({ "n": n }).to_string().as_bytes(),
                &Default::default(),
            )
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let inv = stack.next_invocation("echo", WAIT).await.unwrap();
        got.push(inv.event_as::<Value>().unwrap()["n"].as_u64().unwrap());
    }
    got.sort();
    assert_eq!(got, [0, 1, 2]);
    let none = stack
        .next_invocation("echo", Duration::from_millis(200))
        .await;
    let err = none.unwrap_err().to_string();
    assert!(err.contains("no invocation of function `echo`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_of_an_upload_are_listed_through_the_harness() {
    let stack = Stack::harness()
        .function("recorder", slcl_fixtures::S3_RECORDER)
        // The recorder writes under events/: only in/ notifies it.
        .notification_config(
            "inbox",
            slcl::NotificationConfig {
                function: "recorder".into(),
                events: vec!["s3:ObjectCreated:*".into()],
                prefix: Some("in/".into()),
                suffix: None,
                id: None,
            },
        )
        .start()
        .await
        .unwrap();
    let s3 = s3_client(&stack);
    put(&s3, "inbox", "in/letter.txt", "dear slcl").await;
    let inv = stack.next_invocation("recorder", WAIT).await.unwrap();
    assert!(inv.succeeded(), "{:?}\n{}", inv.outcome, inv.logs);
    let steps = stack.trace(&inv.trace_id);
    let names: Vec<(String, String)> = steps
        .iter()
        .map(|s| (format!("{:?}", s.kind), s.name.clone()))
        .collect();
    let upload = steps
        .iter()
        .find(|s| s.name == "PUT /inbox/in/letter.txt")
        .unwrap_or_else(|| panic!("{names:?}"));
    let delivery = steps
        .iter()
        .find(|s| s.kind == slcl::StepKind::Delivery && s.parent_id.as_ref() == Some(&upload.id))
        .unwrap_or_else(|| panic!("{names:?}"));
    let invocation = steps
        .iter()
        .find(|s| s.kind == slcl::StepKind::Invocation)
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(invocation.id, inv.request_id);
    assert_eq!(invocation.parent_id.as_ref(), Some(&delivery.id));
    let record_put = steps
        .iter()
        .find(|s| s.name == format!("PUT /inbox/events/{}.json", inv.request_id))
        .unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(record_put.parent_id.as_ref(), Some(&invocation.id));
    // In order of start, each step after the one that caused it.
    let position = |id: &str| steps.iter().position(|s| s.id == id).unwrap();
    assert!(position(&upload.id) < position(&delivery.id));
    assert!(position(&delivery.id) <= position(&invocation.id));
    assert!(position(&invocation.id) <= position(&record_put.id));
    assert!(invocation.duration_us > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_folder_loads_through_the_harness() {
    let project = crate::thumbnail::thumbnail_project();
    let stack = Stack::harness()
        .project_dir(project.path())
        .start()
        .await
        .unwrap();
    let s3 = s3_client(&stack);
    let photo = crate::common::repo_root().join("examples/thumbnail/images/coffee.png");
    s3.put_object()
        .bucket("photos")
        .key("uploads/coffee.png")
        .body(ByteStream::from_path(&photo).await.unwrap())
        .send()
        .await
        .unwrap();
    let inv = stack.next_invocation("thumbnail", WAIT).await.unwrap();
    assert!(inv.succeeded(), "{:?}\n{}", inv.outcome, inv.logs);
    let thumb = s3
        .get_object()
        .bucket("photos")
        .key("thumbnails/coffee.png")
        .send()
        .await
        .unwrap();
    let bytes = thumb.body.collect().await.unwrap().into_bytes();
    let img = image::load_from_memory(&bytes).unwrap();
    assert!(img.width() <= 128 && img.height() <= 128);
}
