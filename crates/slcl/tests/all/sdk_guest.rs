//! A function that calls SQS and S3 with the official AWS SDK for Rust from inside its
//! sandbox (`fixtures/guests/sdk_calls`): the calls reach the stack's fakes, their
//! effects are visible to boto3 outside, and the trace lists them under the invocation.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};
use slcl::{Stack, StepKind, TraceStep};

const WAIT: Duration = Duration::from_secs(30);

/// Invokes `sdk` through the Lambda API with `event` and returns its result document.
async fn invoke(lambda: &aws_sdk_lambda::Client, event: &Value) -> Value {
    let out = lambda
        .invoke()
        .function_name("sdk")
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .expect("Invoke");
    let doc: Value = serde_json::from_slice(out.payload().expect("a payload").as_ref()).unwrap();
    assert_eq!(out.function_error(), None, "{doc}");
    doc
}

/// Reads the queue and the object with boto3 in a subprocess: `{"messages": [[id,
/// body]...], "object": body, "etag": etag}`.
async fn read_with_boto3(endpoint: &str, queue: &str, bucket: &str, key: &str) -> Value {
    let script = r#"
import boto3, json, os, sys
def client(name):
    return boto3.client(name, endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
queue, bucket, key = sys.argv[1:4]
sqs, s3 = client("sqs"), client("s3")
url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
obj = s3.get_object(Bucket=bucket, Key=key)
print(json.dumps({
    "messages": [[m["MessageId"], m["Body"]] for m in got.get("Messages", [])],
    "object": obj["Body"].read().decode(),
    "etag": obj["ETag"],
}))
"#;
    let out = crate::common::python_async(endpoint, script, &[queue, bucket, key]).await;
    serde_json::from_str(&out).unwrap()
}

/// The requests whose parent is `parent`, as `(service, name)`. (An invocation by
/// `Invoke` has the request id of its `Invoke` request, as on AWS, and that request as
/// its parent, so the invocation is not its own child.)
fn children(steps: &[TraceStep], parent: &str) -> Vec<(String, String)> {
    steps
        .iter()
        .filter(|s| s.kind == StepKind::Request && s.parent_id.as_deref() == Some(parent))
        .map(|s| (s.service.clone(), s.name.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_calls_sqs_and_s3_through_the_aws_sdk() {
    let stack = Stack::harness()
        .function("sdk", slcl_fixtures::SDK_CALLS)
        .bucket("notes")
        .queue("outbox")
        .start()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk_config());

    // By queue name: GetQueueUrl, SendMessage, PutObject, GetObject.
    let body = "written from inside the sandbox";
    let event = json!({ "queue": "outbox", "bucket": "notes", "key": "a/note.txt", "body": body });
    let doc = invoke(&lambda, &event).await;
    assert_eq!(doc["read_back"], body, "{doc}");
    let message_id = doc["message_id"].as_str().expect("message_id").to_owned();
    let etag = doc["etag"].as_str().expect("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 2, "{doc}");

    let seen = read_with_boto3(stack.endpoint_url(), "outbox", "notes", "a/note.txt").await;
    assert_eq!(seen["messages"], json!([[message_id, body]]), "{seen}");
    assert_eq!(seen["object"], body, "{seen}");
    assert_eq!(seen["etag"], etag.as_str(), "{seen}");

    let run = stack.next_invocation("sdk", WAIT).await.unwrap();
    assert!(run.succeeded(), "{:?}\n{}", run.outcome, run.logs);
    let steps = stack.trace(&run.trace_id);
    let invocation = steps
        .iter()
        .find(|s| s.kind == StepKind::Invocation && s.id == run.request_id)
        .unwrap_or_else(|| panic!("no invocation step: {steps:?}"));
    let invoke_request = steps
        .iter()
        .find(|s| s.kind == StepKind::Request && Some(&s.id) == invocation.parent_id.as_ref())
        .unwrap_or_else(|| panic!("the invocation has no parent request: {steps:?}"));
    assert_eq!(
        invoke_request.name, "POST /2015-03-31/functions/sdk/invocations",
        "{steps:?}"
    );
    let calls = children(&steps, &invocation.id);
    let s = |service: &str, name: &str| (service.to_owned(), name.to_owned());
    // SQS's JSON protocol posts every operation to `/`.
    assert_eq!(
        calls,
        [
            s("sqs", "POST /"),
            s("sqs", "POST /"),
            s("s3", "PUT /notes/a/note.txt"),
            s("s3", "GET /notes/a/note.txt"),
        ],
        "{steps:?}"
    );
    assert!(steps
        .iter()
        .filter(|s| s.kind == StepKind::Request && s.parent_id.as_ref() == Some(&invocation.id))
        .all(|s| s.outcome == "200"));

    // By queue URL: no GetQueueUrl.
    let url = stack.sqs().queue_info("outbox").unwrap().url;
    let event = json!({ "queue": url, "bucket": "notes", "key": "b.txt", "body": "second" });
    let doc = invoke(&lambda, &event).await;
    assert_eq!(doc["read_back"], "second", "{doc}");
    let run = stack.next_invocation("sdk", WAIT).await.unwrap();
    let steps = stack.trace(&run.trace_id);
    let services: Vec<String> = children(&steps, &run.request_id)
        .into_iter()
        .map(|(service, _)| service)
        .collect();
    assert_eq!(services, ["sqs", "s3", "s3"], "{steps:?}");
    // The first message is still in flight after boto3's receive; the second follows it.
    let first = stack.next_message("outbox", WAIT).await.unwrap();
    let second = stack.next_message("outbox", WAIT).await.unwrap();
    assert_eq!(
        (first.body.as_str(), second.body.as_str()),
        (body, "second")
    );
}
