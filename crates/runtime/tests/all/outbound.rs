//! Guests' outgoing HTTP: AWS hosts are dispatched in-process, others denied.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_requests_are_dispatched_in_process() {
    let h = harness(|_| {});
    let f = h.load(spec("caller")).await;
    let inv = invocation(json!({
        "action": "fetch",
        "method": "PUT",
        "url": "http://my-bucket.s3.us-east-1.amazonaws.com/photos/cat.png?x-id=PutObject",
        "body": "meow",
    }));
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let got = json_result(&result);
    assert_eq!(got["status"], 201);
    assert_eq!(
        got["body"],
        "pong PUT http://my-bucket.s3.us-east-1.amazonaws.com/photos/cat.png?x-id=PutObject"
    );

    let seen = h.dispatcher.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(
        req.uri,
        "http://my-bucket.s3.us-east-1.amazonaws.com/photos/cat.png?x-id=PutObject"
    );
    assert_eq!(
        req.host.as_deref(),
        Some("my-bucket.s3.us-east-1.amazonaws.com")
    );
    assert_eq!(req.headers.get("x-test").unwrap(), "1");
    assert_eq!(req.body.as_ref(), b"meow");
    assert_eq!(req.trace.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(req.trace.parent_id.as_deref(), Some(id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_endpoint_and_allowed_hosts_are_dispatched() {
    let h = harness(|c| {
        c.endpoint_url = "http://127.0.0.1:4566".into();
        c.allowed_hosts = vec!["api.internal:8080".into()];
    });
    let f = h.load(spec("caller2")).await;
    for url in [
        "http://localhost:4566/queue",
        "http://127.0.0.1:4566/",
        "http://s3.localhost.localstack.cloud:4566/b/k",
        "http://api.internal:8080/v1",
    ] {
        let got = json_result(&invoke(&f, json!({"action": "fetch", "url": url})).await);
        assert_eq!(got["status"], 201, "{url}: {got}");
    }
    assert_eq!(h.dispatcher.seen.lock().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_are_denied_with_a_hint() {
    let h = harness(|c| c.allowed_hosts = vec!["api.internal:8080".into()]);
    let f = h.load(spec("leaker")).await;
    for url in [
        "http://example.com/",
        "https://api.internal/v1",
        "http://localhost:9999/",
    ] {
        let result = invoke(&f, json!({"action": "fetch", "url": url})).await;
        let got = json_result(&result);
        // The guest sees `HTTP-request-denied` (wstd may report it as the request body
        // stream being reset, as it writes the body before reading the response).
        assert!(got["fetch_error"].is_string(), "{url}: {got}");
        assert!(
            result.logs.contains("slcl: denied outgoing request to")
                && result.logs.contains("allowed_hosts"),
            "{}",
            result.logs
        );
    }
    assert!(h.dispatcher.seen.lock().unwrap().is_empty());
}
