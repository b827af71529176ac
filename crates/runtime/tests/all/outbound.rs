//! Guests' outgoing HTTP: AWS hosts are dispatched in-process, others denied.

use serde_json::json;

use crate::support::*;
use slcl_fixtures::S3_RECORDER;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_sdk_inside_a_function_reaches_the_dispatcher() {
    let h = harness(|_| {});
    let f = h.load(fixture("recorder", S3_RECORDER)).await;
    // The shape S3 sends (docs: "Event message structure").
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": "photos", "arn": "arn:aws:s3:::photos",
                          "ownerIdentity": {"principalId": "A"}},
               "object": {"key": "cat.png", "size": 4, "eTag": "e", "sequencer": "1"}}
    }]});
    let inv = invocation(event);
    let id = inv.request_id.clone();
    let result = f.invoke(inv).await.unwrap();
    let got = json_result(&result);
    assert_eq!(got["key"], format!("events/{id}.json"));

    let seen = h.dispatcher.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let put = &seen[0];
    assert_eq!(put.method, "PUT");
    assert!(
        put.uri.contains(&format!("events/{id}.json")),
        "{}",
        put.uri
    );
    assert!(
        put.headers.contains_key("authorization"),
        "SigV4-signed by the SDK"
    );
    assert_eq!(put.trace.parent_id.as_deref(), Some(id.as_str()));
    let recorded: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(recorded["Records"][0]["s3"]["bucket"]["name"], "photos");
}
