//! Asynchronous invocation configuration and destinations, end to end: the five
//! event-invoke-config operations through the aws CLI and the AWS SDK for Rust with
//! AWS's errors; the async worker honouring `MaximumRetryAttempts` and
//! `MaximumEventAgeInSeconds` on the virtual clock; invocation records delivered to an
//! SQS queue, another function and an S3 bucket, in AWS's shape and key order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{DestinationConfig, InvocationType, OnSuccess};
use serde::Deserialize;
use serde_json::{json, Value};
use slcl::{FunctionConfig, Stack};

use crate::common::aws_json as aws;
use crate::harness::s3_client;

const WAIT: Duration = Duration::from_secs(20);

/// 2020-01-02T03:04:05Z
fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_577_934_245)
}

const ACCOUNT: &str = "000000000000";

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}")
}

fn lambda(stack: &Stack) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&stack.sdk_config())
}

/// The invocation record, every field AWS documents and no other.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Record {
    version: String,
    timestamp: String,
    request_context: RequestContext,
    request_payload: Value,
    response_context: Option<ResponseContext>,
    response_payload: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestContext {
    request_id: String,
    function_arn: String,
    condition: String,
    approximate_invoke_count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResponseContext {
    status_code: u16,
    executed_version: String,
    function_error: Option<String>,
}

/// The top-level keys of a JSON object, in the order they are written.
fn key_order(json: &str) -> Vec<String> {
    // Walk the text, collecting keys at depth 1.
    let mut keys = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut current) = (0, false, false, String::new());
    let mut expecting_key = false;
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if depth == 1 && expecting_key {
                    keys.push(std::mem::take(&mut current));
                    expecting_key = false;
                }
                continue;
            }
            if depth == 1 && expecting_key {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                depth += 1;
                expecting_key = depth == 1;
            }
            '}' | ']' => depth -= 1,
            ',' => expecting_key = depth == 1,
            _ => {}
        }
    }
    keys
}

async fn put_config(endpoint: &str, function: &str, extra: &[&str]) -> Result<Value, String> {
    let mut args = vec![
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        function,
    ];
    args.extend_from_slice(extra);
    aws(endpoint, &args).await
}

fn assert_error(result: Result<Value, String>, code: &str, message: &str) {
    let err = result.expect_err("the call should fail");
    assert!(
        err.contains(&format!("({code})")) && err.contains(message),
        "expected {code}: {message}\ngot: {err}"
    );
}

/// Invokes `function` asynchronously with `payload` through the SDK.
async fn invoke_event(stack: &Stack, function: &str, payload: &str) {
    let out = lambda(stack)
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 202);
}

/// Waits until the async queue is empty.
async fn until_drained(stack: &Stack) {
    for _ in 0..500 {
        if stack.lambda().queued() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} async events still queued", stack.lambda().queued());
}

async fn next_record(stack: &Stack, queue: &str) -> (String, Record) {
    let message = stack.next_message(queue, WAIT).await.unwrap();
    let record: Record = serde_json::from_str(&message.body)
        .unwrap_or_else(|e| panic!("not an invocation record ({e}): {}", message.body));
    (message.body, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_puts_gets_updates_lists_and_deletes_with_aws_errors() {
    let stack = Stack::harness()
        .function("f", slcl_fixtures::ECHO)
        .function("other", slcl_fixtures::ECHO)
        .queue("records")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let url = stack.endpoint_url();
    let latest = format!("{}:$LATEST", function_arn("f"));
    let none = format!("The function {latest} doesn't have an EventInvokeConfig");

    // Nothing configured yet.
    let get = [
        "lambda",
        "get-function-event-invoke-config",
        "--function-name",
        "f",
    ];
    assert_error(aws(url, &get).await, "ResourceNotFoundException", &none);
    let update = [
        "lambda",
        "update-function-event-invoke-config",
        "--function-name",
        "f",
        "--maximum-retry-attempts",
        "1",
    ];
    assert_error(aws(url, &update).await, "ResourceNotFoundException", &none);
    let delete = [
        "lambda",
        "delete-function-event-invoke-config",
        "--function-name",
        "f",
    ];
    assert_error(aws(url, &delete).await, "ResourceNotFoundException", &none);

    // Every validation error.
    assert_error(
        put_config(url, "f", &[]).await,
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    );
    assert_error(
        put_config(url, "f", &["--maximum-retry-attempts", "3"]).await,
        "ValidationException",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2",
    );
    // The CLI checks minimums itself; the Rust SDK sends them.
    let err = lambda(&stack)
        .put_function_event_invoke_config()
        .function_name("f")
        .maximum_event_age_in_seconds(59)
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"));
    assert_eq!(
        err.meta().message(),
        Some("1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60")
    );
    assert_error(
        put_config(
            url,
            "f",
            &[
                "--maximum-event-age-in-seconds",
                "21601",
                "--maximum-retry-attempts",
                "5",
            ],
        )
        .await,
        "ValidationException",
        "2 validation errors detected: Value '5' at 'maximumRetryAttempts'",
    );
    assert_error(
        put_config(url, "f", &["--destination-config", "OnFailure={Destination=not-an-arn}"]).await,
        "ValidationException",
        "Value 'not-an-arn' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern",
    );
    assert_error(
        put_config(url, "f", &["--destination-config", "OnSuccess={Destination=arn:aws:s3:::bucket}"]).await,
        "InvalidParameterValueException",
        "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:s3:::bucket), onFailure=null) is invalid.",
    );
    let table = "arn:aws:dynamodb:us-east-1:000000000000:table/t";
    assert_error(
        put_config(url, "f", &["--destination-config", &format!("OnFailure={{Destination={table}}}")]).await,
        "InvalidParameterValueException",
        &format!("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={table})) is invalid."),
    );
    assert_error(
        put_config(
            url,
            "f",
            &[
                "--destination-config",
                &format!("OnSuccess={{Destination={}}}", function_arn("f")),
            ],
        )
        .await,
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
    );
    let missing = function_arn("missing");
    assert_error(
        put_config(
            url,
            "f",
            &[
                "--destination-config",
                &format!("OnSuccess={{Destination={missing}}}"),
            ],
        )
        .await,
        "InvalidParameterValueException",
        &format!("The destination ARN {missing} is invalid."),
    );
    assert_error(
        put_config(url, "missing", &["--maximum-retry-attempts", "1"]).await,
        "ResourceNotFoundException",
        "The function doesn't exist.",
    );

    // Put: only what was given, the qualified ARN, both destination keys.
    let records = queue_arn("records");
    let put = put_config(
        url,
        "f",
        &[
            "--maximum-retry-attempts",
            "1",
            "--destination-config",
            &format!("OnFailure={{Destination={records}}}"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(put["FunctionArn"], latest);
    assert_eq!(put["MaximumRetryAttempts"], 1);
    assert!(put.get("MaximumEventAgeInSeconds").is_none());
    assert_eq!(
        put["DestinationConfig"],
        json!({ "OnSuccess": {}, "OnFailure": { "Destination": records } })
    );
    assert_eq!(aws(url, &get).await.unwrap(), put);

    // LastModified is epoch seconds: the SDK reads it as the stack's clock time.
    let got = lambda(&stack)
        .get_function_event_invoke_config()
        .function_name(function_arn("f"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.last_modified().unwrap().secs(), 1_577_934_245);
    assert_eq!(got.function_arn(), Some(latest.as_str()));

    // Update changes only what it is given.
    stack.advance(Duration::from_secs(10));
    let updated = aws(
        url,
        &[
            "lambda",
            "update-function-event-invoke-config",
            "--function-name",
            "f",
            "--maximum-event-age-in-seconds",
            "120",
            "--destination-config",
            &format!("OnSuccess={{Destination={}}}", function_arn("other")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(updated["MaximumRetryAttempts"], 1);
    assert_eq!(updated["MaximumEventAgeInSeconds"], 120);
    assert_eq!(
        updated["DestinationConfig"],
        json!({
            "OnSuccess": { "Destination": function_arn("other") },
            "OnFailure": { "Destination": records },
        })
    );
    let got = lambda(&stack)
        .get_function_event_invoke_config()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert_eq!(got.last_modified().unwrap().secs(), 1_577_934_255);

    // Put replaces the whole configuration.
    let replaced = put_config(url, "f", &["--maximum-event-age-in-seconds", "3600"])
        .await
        .unwrap();
    assert!(replaced.get("MaximumRetryAttempts").is_none());
    assert_eq!(
        replaced["DestinationConfig"],
        json!({ "OnSuccess": {}, "OnFailure": {} })
    );

    // List.
    let list = [
        "lambda",
        "list-function-event-invoke-configs",
        "--function-name",
        "f",
    ];
    let listed = aws(url, &list).await.unwrap();
    assert_eq!(listed["FunctionEventInvokeConfigs"], json!([replaced]));
    let empty = aws(
        url,
        &[
            "lambda",
            "list-function-event-invoke-configs",
            "--function-name",
            "other",
        ],
    )
    .await
    .unwrap();
    assert_eq!(empty["FunctionEventInvokeConfigs"], json!([]));
    assert_error(
        aws(
            url,
            &["lambda", "list-function-event-invoke-configs", "--function-name", "f", "--max-items", "51", "--no-paginate"],
        )
        .await,
        "ValidationException",
        "Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50",
    );
    assert_error(
        aws(
            url,
            &[
                "lambda",
                "list-function-event-invoke-configs",
                "--function-name",
                "missing",
            ],
        )
        .await,
        "ResourceNotFoundException",
        "The function doesn't exist.",
    );
    assert_error(
        aws(
            url,
            &[
                "lambda",
                "get-function-event-invoke-config",
                "--function-name",
                "f",
                "--qualifier",
                "v9",
            ],
        )
        .await,
        "ResourceNotFoundException",
        &format!(
            "The function {}:v9 doesn't have an EventInvokeConfig",
            function_arn("f")
        ),
    );

    // Delete answers 204; then it is gone.
    assert_eq!(aws(url, &delete).await.unwrap(), Value::Null);
    assert_error(aws(url, &get).await, "ResourceNotFoundException", &none);
    assert_error(aws(url, &delete).await, "ResourceNotFoundException", &none);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_sends_the_record_to_the_sqs_destination() {
    let stack = Stack::harness()
        .function("ok", slcl_fixtures::ECHO)
        .queue("records")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    lambda(&stack)
        .put_function_event_invoke_config()
        .function_name("ok")
        .destination_config(
            DestinationConfig::builder()
                .on_success(
                    OnSuccess::builder()
                        .destination(queue_arn("records"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&stack, "ok", r#"{"zebra":1,"apple":[true]}"#).await;
    let run = stack.next_invocation("ok", WAIT).await.unwrap();

    let (body, record) = next_record(&stack, "records").await;
    assert_eq!(
        key_order(&body),
        [
            "version",
            "timestamp",
            "requestContext",
            "requestPayload",
            "responseContext",
            "responsePayload"
        ]
    );
    assert!(
        body.contains(r#""requestContext":{"requestId":"#)
            && body.contains(r#""condition":"Success","approximateInvokeCount":1}"#),
        "requestContext keys in AWS's order: {body}"
    );
    assert!(
        body.contains(r#""requestPayload":{"zebra":1,"apple":[true]}"#),
        "the event as sent: {body}"
    );
    assert_eq!(record.version, "1.0");
    assert_eq!(record.timestamp, "2020-01-02T03:04:05.000Z");
    assert_eq!(record.request_context.request_id, run.request_id);
    assert_eq!(
        record.request_context.function_arn,
        format!("{}:$LATEST", function_arn("ok"))
    );
    assert_eq!(record.request_context.condition, "Success");
    assert_eq!(record.request_context.approximate_invoke_count, 1);
    assert_eq!(record.request_payload, json!({"zebra": 1, "apple": [true]}));
    let response = record.response_context.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.executed_version, "$LATEST");
    assert_eq!(response.function_error, None);
    assert!(!body.contains("functionError"));
    assert_eq!(
        record.response_payload.unwrap(),
        json!({"zebra": 1, "apple": [true]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_retried_on_the_clock_then_recorded_on_failure() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .queue("failures")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    put_config(
        stack.endpoint_url(),
        "fails",
        &[
            "--destination-config",
            &format!("OnFailure={{Destination={}}}", queue_arn("failures")),
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "fails", r#"{"message":"nope"}"#).await;
    let first = stack.next_invocation("fails", WAIT).await.unwrap();
    stack.advance(Duration::from_secs(60));
    let second = stack.next_invocation("fails", WAIT).await.unwrap();
    assert_eq!(second.started_ms, first.started_ms + 60_000);
    stack.advance(Duration::from_secs(120));
    let third = stack.next_invocation("fails", WAIT).await.unwrap();
    assert_eq!(third.started_ms, second.started_ms + 120_000);

    let (body, record) = next_record(&stack, "failures").await;
    assert_eq!(record.request_context.condition, "RetriesExhausted");
    assert_eq!(record.request_context.approximate_invoke_count, 3);
    assert_eq!(record.request_context.request_id, first.request_id);
    assert_eq!(record.timestamp, "2020-01-02T03:07:05.000Z");
    assert_eq!(record.request_payload, json!({"message": "nope"}));
    let response = record.response_context.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.function_error.as_deref(), Some("Unhandled"));
    assert!(body.contains(
        r#""responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}"#
    ));
    let payload = record.response_payload.unwrap();
    assert_eq!(payload["errorMessage"], "nope");
    assert!(payload["errorType"]
        .as_str()
        .unwrap()
        .contains("CustomError"));
    until_drained(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_maximum_retry_attempts_zero_records_after_one_attempt() {
    let mut fails = FunctionConfig::new(slcl_fixtures::ERROR);
    fails.maximum_retry_attempts = Some(0);
    fails.destinations = Some(slcl_config::DestinationsConfig {
        on_success: None,
        on_failure: Some(queue_arn("failures")),
    });
    let stack = Stack::harness()
        .function_config("fails", fails)
        .queue("failures")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    // The declared configuration is what the API shows.
    let got = aws(
        stack.endpoint_url(),
        &[
            "lambda",
            "get-function-event-invoke-config",
            "--function-name",
            "fails",
        ],
    )
    .await
    .unwrap();
    assert_eq!(got["MaximumRetryAttempts"], 0);
    assert_eq!(
        got["DestinationConfig"]["OnFailure"]["Destination"],
        queue_arn("failures")
    );

    invoke_event(&stack, "fails", r#"{"message":"once"}"#).await;
    stack.next_invocation("fails", WAIT).await.unwrap();
    let (_, record) = next_record(&stack, "failures").await;
    assert_eq!(record.request_context.condition, "RetriesExhausted");
    assert_eq!(record.request_context.approximate_invoke_count, 1);
    until_drained(&stack).await;
    stack.advance(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stack.invocations("fails").len(), 1, "no retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_old_for_its_retry_is_recorded_as_event_age_exceeded() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .queue("failures")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    put_config(
        stack.endpoint_url(),
        "fails",
        &[
            "--maximum-event-age-in-seconds",
            "60",
            "--destination-config",
            &format!("OnFailure={{Destination={}}}", queue_arn("failures")),
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "fails", r#"{"message":"slow"}"#).await;
    stack.next_invocation("fails", WAIT).await.unwrap();
    // The retry falls due at 60 s; by the time it runs (61 s) the event is too old.
    stack.advance(Duration::from_secs(61));
    let (_, record) = next_record(&stack, "failures").await;
    assert_eq!(record.request_context.condition, "EventAgeExceeded");
    assert_eq!(record.request_context.approximate_invoke_count, 1);
    assert_eq!(record.timestamp, "2020-01-02T03:05:06.000Z");
    // The record carries the response of the last attempt.
    assert_eq!(
        record.response_context.unwrap().function_error.as_deref(),
        Some("Unhandled")
    );
    assert_eq!(record.response_payload.unwrap()["errorMessage"], "slow");
    until_drained(&stack).await;
    assert_eq!(stack.invocations("fails").len(), 1, "not run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_destination_is_invoked_with_the_record() {
    let stack = Stack::harness()
        .function("ok", slcl_fixtures::ECHO)
        .function("audit", slcl_fixtures::ECHO)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    put_config(
        stack.endpoint_url(),
        "ok",
        &[
            "--destination-config",
            &format!("OnSuccess={{Destination={}}}", function_arn("audit")),
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "ok", r#"{"n":7}"#).await;
    let run = stack.next_invocation("ok", WAIT).await.unwrap();
    let audit = stack.next_invocation("audit", WAIT).await.unwrap();
    let record: Record = audit.event_as().unwrap();
    assert_eq!(record.request_context.condition, "Success");
    assert_eq!(record.request_context.request_id, run.request_id);
    assert_eq!(record.request_payload, json!({"n": 7}));
    assert_eq!(record.response_payload, Some(json!({"n": 7})));
    assert_ne!(audit.request_id, run.request_id);
    // The destination's invocation hangs in the same trace.
    assert_eq!(audit.trace_id, run.trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_failure_destination_stores_the_record_as_an_object() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .bucket("failures")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    put_config(
        stack.endpoint_url(),
        "fails",
        &[
            "--maximum-retry-attempts",
            "0",
            "--destination-config",
            "OnFailure={Destination=arn:aws:s3:::failures}",
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "fails", r#"{"message":"to s3"}"#).await;
    let run = stack.next_invocation("fails", WAIT).await.unwrap();
    until_drained(&stack).await;

    let s3 = s3_client(&stack);
    let listed = s3
        .list_objects_v2()
        .bucket("failures")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let prefix = "aws/lambda/async/fails/2020/01/02/2020-01-02T03.04.05-";
    assert!(keys[0].starts_with(prefix), "{}", keys[0]);
    let uuid = &keys[0][prefix.len()..];
    assert_eq!(uuid.len(), 36, "a random UUID: {uuid}");
    let object = s3
        .get_object()
        .bucket("failures")
        .key(keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/json"));
    let body = object.body.collect().await.unwrap().into_bytes();
    let record: Record = serde_json::from_slice(&body).unwrap();
    assert_eq!(record.request_context.condition, "RetriesExhausted");
    assert_eq!(record.request_context.request_id, run.request_id);
    assert_eq!(record.request_payload, json!({"message": "to s3"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_destination_is_logged_and_the_event_still_finishes() {
    let stack = Stack::harness()
        .function("ok", slcl_fixtures::ECHO)
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    // No such queue and no SNS emulator: the records go nowhere, the queue empties.
    put_config(
        stack.endpoint_url(),
        "ok",
        &[
            "--destination-config",
            &format!("OnSuccess={{Destination={}}}", queue_arn("gone")),
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "ok", "{}").await;
    stack.next_invocation("ok", WAIT).await.unwrap();
    until_drained(&stack).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.invocations("ok").len(), 1, "run once, not retried");
}

/// Enable once `LambdaService::dead_letter_target` reads the function's stored
/// `DeadLetterConfig` (UpdateFunctionConfiguration). Lambda's dead letters carry the
/// message attributes `RequestID`, `ErrorCode` and `ErrorMessage`; slcl's bus
/// deliveries carry no attributes yet, so this checks the body only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_queue_gets_the_event_when_there_is_no_on_failure_destination() {
    let stack = Stack::harness()
        .function("fails", slcl_fixtures::ERROR)
        .queue("dlq")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    aws(
        stack.endpoint_url(),
        &[
            "lambda",
            "update-function-configuration",
            "--function-name",
            "fails",
            "--dead-letter-config",
            &format!("TargetArn={}", queue_arn("dlq")),
        ],
    )
    .await
    .unwrap();
    put_config(
        stack.endpoint_url(),
        "fails",
        &["--maximum-retry-attempts", "0"],
    )
    .await
    .unwrap();
    invoke_event(&stack, "fails", r#"{"message":"dead"}"#).await;
    stack.next_invocation("fails", WAIT).await.unwrap();
    let message = stack.next_message("dlq", WAIT).await.unwrap();
    assert_eq!(message.body, r#"{"message":"dead"}"#);
}

/// An async event throttled by reserved concurrency 0 waits, tried again every second
/// on the clock, without using up attempts; once the function may run, it runs and
/// its record counts one invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_event_waits_without_counting_attempts() {
    let stack = Stack::harness()
        .function("f", slcl_fixtures::ECHO)
        .queue("records")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let url = stack.endpoint_url();
    let reserve = [
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "f",
        "--reserved-concurrent-executions",
        "0",
    ];
    aws(url, &reserve).await.unwrap();
    let records = queue_arn("records");
    put_config(
        url,
        "f",
        &[
            "--maximum-retry-attempts",
            "0",
            "--destination-config",
            &format!("OnSuccess={{Destination={records}}}"),
        ],
    )
    .await
    .unwrap();
    invoke_event(&stack, "f", r#"{"throttled":true}"#).await;
    // Five minutes pass in steps: every retry is throttled again.
    for _ in 0..5 {
        stack.advance(Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(
        stack.lambda().invocations(Some("f"), 0).is_empty(),
        "a function with reserved concurrency 0 must not run"
    );
    assert_eq!(stack.lambda().queued(), 1, "the throttled event is kept");

    let release = [
        "lambda",
        "delete-function-concurrency",
        "--function-name",
        "f",
    ];
    aws(url, &release).await.unwrap();
    stack.advance(Duration::from_secs(1));
    let run = stack.next_invocation("f", WAIT).await.unwrap();
    assert_eq!(&run.event[..], &br#"{"throttled":true}"#[..]);
    let (_, record) = next_record(&stack, "records").await;
    assert_eq!(record.request_context.condition, "Success");
    assert_eq!(
        record.request_context.approximate_invoke_count, 1,
        "throttles are not attempts"
    );
    until_drained(&stack).await;
}

/// An async invoke of a published version runs that version under its own event
/// invoke configuration, and the record names the version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_has_its_own_configuration_and_record() {
    let stack = Stack::harness()
        .function("f", slcl_fixtures::ECHO)
        .queue("latest-records")
        .queue("v1-records")
        .virtual_clock(start())
        .start()
        .await
        .unwrap();
    let url = stack.endpoint_url();
    let published = aws(url, &["lambda", "publish-version", "--function-name", "f"])
        .await
        .unwrap();
    assert_eq!(published["Version"], "1");
    for (qualifier, queue) in [("$LATEST", "latest-records"), ("1", "v1-records")] {
        put_config(
            url,
            "f",
            &[
                "--qualifier",
                qualifier,
                "--destination-config",
                &format!("OnSuccess={{Destination={}}}", queue_arn(queue)),
            ],
        )
        .await
        .unwrap();
    }
    invoke_event(&stack, "f:1", r#"{"v":1}"#).await;
    let (_, record) = next_record(&stack, "v1-records").await;
    assert_eq!(
        record.request_context.function_arn,
        format!("{}:1", function_arn("f"))
    );
    let response = record.response_context.expect("a response");
    assert_eq!(response.executed_version, "1");
    assert_eq!(record.request_payload, json!({"v": 1}));

    invoke_event(&stack, "f", r#"{"v":"latest"}"#).await;
    let (_, record) = next_record(&stack, "latest-records").await;
    assert_eq!(
        record.request_context.function_arn,
        format!("{}:$LATEST", function_arn("f"))
    );
    assert_eq!(record.response_context.unwrap().executed_version, "$LATEST");
    until_drained(&stack).await;
}
