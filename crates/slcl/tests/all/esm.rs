//! Lambda event source mappings for SQS, end to end: the Lambda API through the aws
//! CLI, and the poller with the `sqs_batch` fixture: success deletes, failures come
//! back after the visibility timeout and end in the dead-letter queue, partial batch
//! responses, filters, FIFO order, the batching window, mappings declared in
//! `slcl.toml`, and mappings surviving a restart. Time moves on the virtual clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{json, Value};
use slcl::{
    FunctionConfig, InvocationRecord, QueueConfig, SendOptions, SqsTriggerConfig, Stack,
    StateLocation,
};

use crate::common::{aws_json as aws, project, toml_path};

const WAIT: Duration = Duration::from_secs(20);

/// 2020-01-02T03:04:05Z
fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_577_934_245)
}

fn worker(report_failures: bool) -> FunctionConfig {
    let mut f = FunctionConfig::new(slcl_fixtures::SQS_BATCH);
    if report_failures {
        f.env.insert("REPORT_FAILURES".into(), "1".into());
    }
    f
}

fn bodies(run: &InvocationRecord) -> Vec<String> {
    let event: SqsEvent = run.event_as().expect("an SqsEvent");
    event
        .records
        .into_iter()
        .map(|r| r.body.unwrap_or_default())
        .collect()
}

/// Messages still in the queue (visible, in flight or delayed).
fn left(stack: &Stack, queue: &str) -> usize {
    stack.sqs().peek(queue).unwrap().len()
}

/// Waits until `n` messages are left in `queue` (the poller deletes on its own
/// tasks).
async fn until_left(stack: &Stack, queue: &str, n: usize) {
    for _ in 0..400 {
        if left(stack, queue) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "queue `{queue}` has {} messages, not {n}",
        left(stack, queue)
    );
}

/// `aws lambda create-event-source-mapping` for `function` and `source`, with `extra`
/// arguments.
async fn create_mapping(
    endpoint: &str,
    function: &str,
    source: &str,
    extra: &[&str],
) -> Result<Value, String> {
    let mut args = vec![
        "lambda",
        "create-event-source-mapping",
        "--function-name",
        function,
        "--event-source-arn",
        source,
    ];
    args.extend_from_slice(extra);
    aws(endpoint, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_creates_gets_updates_lists_and_deletes_mappings_with_aws_errors() {
    let stack = Stack::harness()
        .function_config("worker", worker(false))
        .queue("jobs")
        .queue("other")
        .start()
        .await
        .unwrap();
    let ep = stack.endpoint_url().to_owned();
    let arn = stack.sqs().queue_arn("jobs").unwrap();

    let created = create_mapping(
        &ep,
        "worker",
        &arn,
        &[
            "--batch-size",
            "5",
            "--function-response-types",
            "ReportBatchItemFailures",
            "--filter-criteria",
            r#"{"Filters":[{"Pattern":"{\"body\":{\"kind\":[\"order\"]}}"}]}"#,
            "--scaling-config",
            "MaximumConcurrency=3",
        ],
    )
    .await
    .unwrap();
    assert_eq!(created["State"], "Creating");
    assert_eq!(created["StateTransitionReason"], "USER_INITIATED");
    assert_eq!(created["BatchSize"], 5);
    assert_eq!(created["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(created["EventSourceArn"], arn.as_str());
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:worker"
    );
    assert_eq!(
        created["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(created["ScalingConfig"], json!({"MaximumConcurrency": 3}));
    assert_eq!(
        created["FilterCriteria"]["Filters"][0]["Pattern"],
        r#"{"body":{"kind":["order"]}}"#
    );
    assert!(created["LastModified"].is_number(), "{created}");
    let uuid = created["UUID"].as_str().unwrap().to_owned();
    assert_eq!(
        created["EventSourceMappingArn"],
        format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}")
    );

    let got = aws(
        &ep,
        &["lambda", "get-event-source-mapping", "--uuid", &uuid],
    )
    .await
    .unwrap();
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["UUID"], uuid.as_str());

    // Errors.
    let conflict = create_mapping(&ep, "worker", &arn, &[]).await.unwrap_err();
    assert!(
        conflict.contains("ResourceConflictException") && conflict.contains(&uuid),
        "{conflict}"
    );
    let missing_queue = create_mapping(
        &ep,
        "worker",
        "arn:aws:sqs:us-east-1:000000000000:nope",
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        missing_queue.contains("InvalidParameterValueException"),
        "{missing_queue}"
    );
    let other = stack.sqs().queue_arn("other").unwrap();
    let missing_function = create_mapping(&ep, "nope", &other, &[]).await.unwrap_err();
    assert!(
        missing_function.contains("ResourceNotFoundException"),
        "{missing_function}"
    );
    let big_batch = create_mapping(&ep, "worker", &other, &["--batch-size", "100"])
        .await
        .unwrap_err();
    assert!(
        big_batch.contains("InvalidParameterValueException") && big_batch.contains("batch window"),
        "{big_batch}"
    );
    let bad_filter = create_mapping(
        &ep,
        "worker",
        &other,
        &[
            "--filter-criteria",
            r#"{"Filters":[{"Pattern":"{\"body\":[{\"nope\":1}]}"}]}"#,
        ],
    )
    .await
    .unwrap_err();
    assert!(
        bad_filter.contains("InvalidParameterValueException"),
        "{bad_filter}"
    );

    // A second mapping, then list with filters and pages.
    let second = create_mapping(
        &ep,
        "worker",
        &other,
        &[
            "--batch-size",
            "100",
            "--maximum-batching-window-in-seconds",
            "2",
            "--no-enabled",
        ],
    )
    .await
    .unwrap();
    let second_uuid = second["UUID"].as_str().unwrap().to_owned();
    let listed = aws(
        &ep,
        &[
            "lambda",
            "list-event-source-mappings",
            "--event-source-arn",
            &arn,
        ],
    )
    .await
    .unwrap();
    let listed = listed["EventSourceMappings"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["UUID"], uuid.as_str());
    let page = aws(
        &ep,
        &[
            "lambda",
            "list-event-source-mappings",
            "--function-name",
            "worker",
            "--max-items",
            "1",
            "--no-paginate",
        ],
    )
    .await
    .unwrap();
    assert_eq!(page["EventSourceMappings"].as_array().unwrap().len(), 1);
    assert!(page["NextMarker"].is_string(), "{page}");
    let all = aws(
        &ep,
        &[
            "lambda",
            "list-event-source-mappings",
            "--function-name",
            "worker",
        ],
    )
    .await
    .unwrap();
    let states: Vec<&str> = all["EventSourceMappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["State"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["Enabled", "Disabled"]);

    // Update, then delete.
    let updated = aws(
        &ep,
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--batch-size",
            "7",
            "--no-enabled",
        ],
    )
    .await
    .unwrap();
    assert_eq!(updated["State"], "Updating");
    assert_eq!(updated["BatchSize"], 7);
    let got = aws(
        &ep,
        &["lambda", "get-event-source-mapping", "--uuid", &uuid],
    )
    .await
    .unwrap();
    assert_eq!(got["State"], "Disabled");
    let bad_update = aws(
        &ep,
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--batch-size",
            "11",
        ],
    )
    .await
    .unwrap_err();
    assert!(
        bad_update.contains("InvalidParameterValueException"),
        "{bad_update}"
    );
    let deleted = aws(
        &ep,
        &["lambda", "delete-event-source-mapping", "--uuid", &uuid],
    )
    .await
    .unwrap();
    assert_eq!(deleted["State"], "Deleting");
    let gone = aws(
        &ep,
        &["lambda", "get-event-source-mapping", "--uuid", &uuid],
    )
    .await
    .unwrap_err();
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    let gone = aws(
        &ep,
        &["lambda", "delete-event-source-mapping", "--uuid", &uuid],
    )
    .await
    .unwrap_err();
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    aws(
        &ep,
        &[
            "lambda",
            "delete-event-source-mapping",
            "--uuid",
            &second_uuid,
        ],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_deletes_the_batch_and_the_event_has_aws_shape() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(false))
        .queue("jobs")
        .sqs_trigger("jobs", "worker")
        .start()
        .await
        .unwrap();
    let url = stack.sqs().queue_info("jobs").unwrap().url;
    // A real client sends, with message attributes (the bytes 0, 1, 2 as a binary one).
    use aws_sdk_sqs::types::MessageAttributeValue;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config());
    sqs.send_message()
        .queue_url(&url)
        .message_body("hello")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("greeting")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "blob",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(aws_sdk_sqs::primitives::Blob::new(vec![0u8, 1, 2]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert!(run.succeeded(), "{}", run.logs);
    let event: SqsEvent = run
        .event_as()
        .expect("deserializes as aws_lambda_events' SqsEvent");
    let record = &event.records[0];
    assert_eq!(record.body.as_deref(), Some("hello"));
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    assert_eq!(
        record.message_attributes["kind"].string_value.as_deref(),
        Some("greeting")
    );
    assert!(run.logs.contains("message "), "{}", run.logs);

    // Key for key and in order, as AWS's documented example.
    let raw = String::from_utf8(run.event.to_vec()).unwrap();
    let keys = [
        "\"messageId\"",
        "\"receiptHandle\"",
        "\"body\"",
        "\"attributes\"",
        "\"ApproximateReceiveCount\"",
        "\"SentTimestamp\"",
        "\"SenderId\"",
        "\"ApproximateFirstReceiveTimestamp\"",
        "\"messageAttributes\"",
        "\"md5OfBody\"",
        "\"eventSource\"",
        "\"eventSourceARN\"",
        "\"awsRegion\"",
    ];
    let mut at = 0;
    for k in keys {
        let found = raw[at..]
            .find(k)
            .unwrap_or_else(|| panic!("{k} after byte {at} in {raw}"));
        at += found;
    }
    let v: Value = serde_json::from_str(&raw).unwrap();
    let r = &v["Records"][0];
    assert_eq!(
        r["messageAttributes"]["kind"],
        json!({"stringValue": "greeting", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
    );
    assert_eq!(r["messageAttributes"]["blob"]["binaryValue"], "AAEC");
    assert_eq!(r["attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(r["attributes"]["SentTimestamp"], "1577934245000");
    assert_eq!(
        r["eventSourceARN"],
        stack.sqs().queue_arn("jobs").unwrap().as_str()
    );
    assert_eq!(r["awsRegion"], "us-east-1");
    assert_eq!(r["md5OfBody"], "5d41402abc4b2a76b9719d911017c592");
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 10, "{keys:?}");

    until_left(&stack, "jobs", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_returns_after_the_visibility_timeout_then_dead_letters() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(false))
        .queue("dlq")
        .queue_config(
            "jobs",
            QueueConfig::default()
                .attribute("VisibilityTimeout", 30)
                .attribute(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":2}"#,
                ),
        )
        .sqs_trigger("jobs", "worker")
        .start()
        .await
        .unwrap();
    let sent = stack
        .sqs()
        .send("jobs", "please fail", SendOptions::default())
        .unwrap();
    let first = stack.next_invocation("worker", WAIT).await.unwrap();
    assert!(!first.succeeded());
    // Nothing is deleted; nothing comes back before the visibility timeout.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.invocations("worker").len(), 1);
    assert_eq!(left(&stack, "jobs"), 1);

    stack.advance(Duration::from_secs(30));
    let second = stack.next_invocation("worker", WAIT).await.unwrap();
    assert!(!second.succeeded());
    let event: SqsEvent = second.event_as().unwrap();
    assert_eq!(
        event.records[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );

    // maxReceiveCount reached: the next receive moves it to the dead-letter queue.
    stack.advance(Duration::from_secs(30));
    let dead = stack.next_message("dlq", WAIT).await.unwrap();
    assert_eq!(dead.message_id, sent.message_id);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.invocations("worker").len(), 2, "no third invocation");
    assert_eq!(left(&stack, "jobs"), 0);
}

/// Advances the virtual clock by `step` until `function` is next invoked. The poller
/// reacts on its own tasks, so one advance could come before it starts its batching
/// window, which would then never end.
async fn advance_until_invoked(
    stack: &Stack,
    function: &str,
    step: Duration,
) -> std::sync::Arc<InvocationRecord> {
    for _ in 0..100 {
        stack.advance(step);
        if let Ok(run) = stack
            .next_invocation(function, Duration::from_millis(100))
            .await
        {
            return run;
        }
    }
    panic!("`{function}` was not invoked within 100 steps of {step:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_failures_redeliver_only_the_listed_messages() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(true))
        .queue_config(
            "jobs",
            QueueConfig::default().attribute("VisibilityTimeout", 10),
        )
        .sqs_trigger_config(
            "worker",
            SqsTriggerConfig {
                maximum_batching_window: Some(1),
                report_batch_item_failures: true,
                ..SqsTriggerConfig::new("jobs")
            },
        )
        .start()
        .await
        .unwrap();
    for body in ["ok 1", "fail 2", "ok 3"] {
        stack
            .sqs()
            .send("jobs", body, SendOptions::default())
            .unwrap();
    }
    let first = advance_until_invoked(&stack, "worker", Duration::from_secs(1)).await;
    assert!(first.succeeded(), "{}", first.logs);
    assert_eq!(bodies(&first), ["ok 1", "fail 2", "ok 3"]);
    until_left(&stack, "jobs", 1).await;
    let rest = stack.sqs().peek("jobs").unwrap();
    assert_eq!(
        rest.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fail 2"]
    );

    stack.advance(Duration::from_secs(10));
    let second = advance_until_invoked(&stack, "worker", Duration::from_secs(1)).await;
    assert_eq!(bodies(&second), ["fail 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_delete_non_matching_messages_without_invoking() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(false))
        .queue("jobs")
        .sqs_trigger_config(
            "worker",
            SqsTriggerConfig {
                filters: vec![
                    r#"{"body":{"kind":["order"]}}"#.into(),
                    r#"{"body":[{"prefix":"urgent:"}]}"#.into(),
                ],
                ..SqsTriggerConfig::new("jobs")
            },
        )
        .start()
        .await
        .unwrap();
    stack
        .sqs()
        .send("jobs", r#"{"kind":"refund"}"#, SendOptions::default())
        .unwrap();
    stack
        .sqs()
        .send("jobs", "plain text", SendOptions::default())
        .unwrap();
    until_left(&stack, "jobs", 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        stack.invocations("worker").is_empty(),
        "dropped without invoking"
    );

    stack
        .sqs()
        .send("jobs", r#"{"kind":"order"}"#, SendOptions::default())
        .unwrap();
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run), [r#"{"kind":"order"}"#]);
    stack
        .sqs()
        .send("jobs", "urgent: now", SendOptions::default())
        .unwrap();
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run), ["urgent: now"]);
    until_left(&stack, "jobs", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_groups_are_redelivered_in_order_after_a_failure() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(true))
        .queue_config(
            "orders.fifo",
            QueueConfig::default()
                .attribute("ContentBasedDeduplication", true)
                .attribute("VisibilityTimeout", 10),
        )
        .sqs_trigger_config(
            "worker",
            SqsTriggerConfig {
                report_batch_item_failures: true,
                enabled: false,
                ..SqsTriggerConfig::new("orders.fifo")
            },
        )
        .start()
        .await
        .unwrap();
    for body in ["a1", "fail a2", "a3"] {
        stack
            .sqs()
            .send(
                "orders.fifo",
                body,
                SendOptions {
                    message_group_id: Some("a".into()),
                    ..SendOptions::default()
                },
            )
            .unwrap();
    }
    // Enable once all three are queued, so they come in one batch.
    let uuid = stack.lambda().event_source_mappings().unwrap()[0]
        .uuid
        .clone();
    aws(
        stack.endpoint_url(),
        &[
            "lambda",
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--enabled",
        ],
    )
    .await
    .unwrap();
    let first = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&first), ["a1", "fail a2", "a3"]);
    // a1 is done; a2 failed, so a3 (after it in the group) is kept too.
    until_left(&stack, "orders.fifo", 2).await;
    let rest: Vec<String> = stack
        .sqs()
        .peek("orders.fifo")
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(rest, ["fail a2", "a3"]);
    stack.advance(Duration::from_secs(10));
    let second = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&second), ["fail a2", "a3"], "in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batching_window_gathers_on_the_virtual_clock() {
    let stack = Stack::harness()
        .virtual_clock(start())
        .function_config("worker", worker(false))
        .queue("jobs")
        .sqs_trigger_config(
            "worker",
            SqsTriggerConfig {
                batch_size: Some(3),
                maximum_batching_window: Some(5),
                ..SqsTriggerConfig::new("jobs")
            },
        )
        .start()
        .await
        .unwrap();
    stack
        .sqs()
        .send("jobs", "one", SendOptions::default())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        stack.invocations("worker").is_empty(),
        "waits for the window"
    );
    stack
        .sqs()
        .send("jobs", "two", SendOptions::default())
        .unwrap();
    // The poller takes "two" into the batch it is gathering (both in flight) before
    // the window ends.
    for _ in 0..500 {
        let attrs = stack.sqs().queue_attributes("jobs").unwrap();
        if attrs["ApproximateNumberOfMessagesNotVisible"] == "2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stack.advance(Duration::from_secs(5));
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run), ["one", "two"]);

    // A full batch goes at once, without the window.
    for body in ["3", "4", "5"] {
        stack
            .sqs()
            .send("jobs", body, SendOptions::default())
            .unwrap();
    }
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_declared_in_slcl_toml_and_created_by_api_survive_a_restart() {
    let toml = format!(
        r#"
[functions.worker]
wasm = {wasm}

[queues.jobs]
attributes = {{ VisibilityTimeout = 30 }}

[queues.audit]

[[functions.worker.sqs]]
queue = "jobs"
batch_size = 5
report_batch_item_failures = true
"#,
        wasm = toml_path(slcl_fixtures::SQS_BATCH)
    );
    let dir = project(&toml);
    let state = dir.path().join("state");
    let declared_uuid;
    let api_uuid;
    {
        let stack = Stack::harness()
            .project_dir(dir.path())
            .state(StateLocation::Dir(state.clone()))
            .start()
            .await
            .unwrap();
        let listed = aws(
            stack.endpoint_url(),
            &["lambda", "list-event-source-mappings"],
        )
        .await
        .unwrap();
        let m = &listed["EventSourceMappings"][0];
        assert_eq!(m["BatchSize"], 5);
        assert_eq!(
            m["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        declared_uuid = m["UUID"].as_str().unwrap().to_owned();
        let audit = stack.sqs().queue_arn("audit").unwrap();
        let created = create_mapping(stack.endpoint_url(), "worker", &audit, &[])
            .await
            .unwrap();
        api_uuid = created["UUID"].as_str().unwrap().to_owned();
        stack
            .sqs()
            .send("jobs", "before restart", SendOptions::default())
            .unwrap();
        let run = stack.next_invocation("worker", WAIT).await.unwrap();
        assert_eq!(bodies(&run), ["before restart"]);
        until_left(&stack, "jobs", 0).await;
        stack.shutdown().await;
    }
    let stack = Stack::harness()
        .project_dir(dir.path())
        .state(StateLocation::Dir(state))
        .start()
        .await
        .unwrap();
    let uuids: Vec<String> = stack
        .lambda()
        .event_source_mappings()
        .unwrap()
        .into_iter()
        .map(|m| m.uuid)
        .collect();
    assert_eq!(
        uuids,
        [declared_uuid, api_uuid],
        "same mappings, no duplicates"
    );
    stack
        .sqs()
        .send("jobs", "after restart", SendOptions::default())
        .unwrap();
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run), ["after restart"]);
    stack
        .sqs()
        .send("audit", "audited", SendOptions::default())
        .unwrap();
    let run = stack.next_invocation("worker", WAIT).await.unwrap();
    assert_eq!(bodies(&run), ["audited"]);
}
