//! SQS as part of the whole stack: queues declared in `slcl.toml` and in code, the
//! aws CLI and boto3 against `slcl up`, the harness's `next_message`, reset, restart.

use std::time::Duration;

use slcl::{QueueConfig, Stack};

use crate::common::{aws_cli, project, Slcl};

const WAIT: Duration = Duration::from_secs(10);

fn stdout(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "aws failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_message_sees_what_a_client_sends_without_consuming_it() {
    let stack = Stack::harness()
        .queue("jobs")
        .queue_config(
            "orders.fifo",
            QueueConfig::default().attribute("ContentBasedDeduplication", true),
        )
        .start()
        .await
        .unwrap();
    let endpoint = stack.endpoint_url().to_owned();
    let url = stdout(
        tokio::task::spawn_blocking({
            let endpoint = endpoint.clone();
            move || aws_cli(&endpoint, &["sqs", "get-queue-url", "--queue-name", "jobs"])
        })
        .await
        .unwrap(),
    );
    let url: serde_json::Value = serde_json::from_str(&url).unwrap();
    let url = url["QueueUrl"].as_str().unwrap().to_owned();
    assert!(url.ends_with("/000000000000/jobs"), "{url}");

    // A message sent by the CLI while the harness waits for it.
    let waiting = {
        let url = url.clone();
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(200));
            aws_cli(
                &endpoint,
                &[
                    "sqs",
                    "send-message",
                    "--queue-url",
                    &url,
                    "--message-body",
                    "{\"id\":1}",
                ],
            )
        })
    };
    let seen = stack.next_message("jobs", WAIT).await.unwrap();
    assert_eq!(seen.body, "{\"id\":1}");
    let sent: serde_json::Value = serde_json::from_str(&stdout(waiting.await.unwrap())).unwrap();
    assert_eq!(sent["MessageId"].as_str(), Some(seen.message_id.as_str()));
    assert_eq!(seen.attributes["ApproximateReceiveCount"], "0");

    // Not consumed: a client still receives it, for the first time.
    let received = stdout(
        tokio::task::spawn_blocking({
            let endpoint = endpoint.clone();
            let url = url.clone();
            move || {
                aws_cli(
                    &endpoint,
                    &[
                        "sqs",
                        "receive-message",
                        "--queue-url",
                        &url,
                        "--attribute-names",
                        "All",
                    ],
                )
            }
        })
        .await
        .unwrap(),
    );
    let received: serde_json::Value = serde_json::from_str(&received).unwrap();
    let m = &received["Messages"][0];
    assert_eq!(m["MessageId"].as_str(), Some(seen.message_id.as_str()));
    assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1");

    // Each message once, however the queue is named: the next wait times out
    // instead of returning it again.
    for name in [
        "jobs",
        url.as_str(),
        "arn:aws:sqs:us-east-1:000000000000:jobs",
    ] {
        let err = stack
            .next_message(name, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no new message"), "{name}: {err}");
    }

    // The FIFO queue was declared with its attribute; reset empties and recreates.
    let attrs = stack.sqs().queue_attributes("orders.fifo").unwrap();
    assert_eq!(attrs["FifoQueue"], "true");
    assert_eq!(attrs["ContentBasedDeduplication"], "true");
    stack
        .sqs()
        .send(
            "orders.fifo",
            "o-1",
            slcl::SendOptions {
                message_group_id: Some("g".into()),
                ..Default::default()
            },
        )
        .unwrap();
    stack
        .sqs()
        .send("extra-queue-missing", "x", Default::default())
        .unwrap_err();
    stack.reset().unwrap();
    assert!(stack.sqs().peek("orders.fifo").unwrap().is_empty());
    assert!(stack.sqs().peek("jobs").unwrap().is_empty());
    let mut names = stack.sqs().queue_names().unwrap();
    names.sort();
    assert_eq!(names, ["jobs", "orders.fifo"]);
}

#[test]
fn queues_declared_in_slcl_toml_keep_their_messages_across_restart() {
    let dir = project(
        "[queues.jobs-dlq]\n\n\
         [queues.jobs]\n\
         attributes = { VisibilityTimeout = 45, RedrivePolicy = '{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:jobs-dlq\",\"maxReceiveCount\":2}' }\n",
    );
    let slcl = Slcl::up(dir.path());
    // The startup table lists the declared queues.
    slcl.wait_for_output("sqs queue  jobs-dlq", Duration::from_secs(10));
    let out = slcl.python(
        "sqs = client('sqs')\n\
         url = sqs.get_queue_url(QueueName='jobs')['QueueUrl']\n\
         a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['All'])['Attributes']\n\
         assert a['VisibilityTimeout'] == '45', a\n\
         assert json.loads(a['RedrivePolicy'])['maxReceiveCount'] == 2, a\n\
         for i in range(3):\n\
         \x20   sqs.send_message(QueueUrl=url, MessageBody=f'm{i}')\n\
         got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)['Messages']\n\
         print(got[0]['Body'])\n",
        &[],
    );
    assert_eq!(out.trim(), "m0");
    slcl.stop();

    let slcl = Slcl::up(dir.path());
    let out = slcl.python(
        "sqs = client('sqs')\n\
         url = sqs.get_queue_url(QueueName='jobs')['QueueUrl']\n\
         a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])['Attributes']\n\
         print(a['ApproximateNumberOfMessages'], a['ApproximateNumberOfMessagesNotVisible'])\n\
         bodies = sorted(m['Body'] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)['Messages'])\n\
         print(','.join(bodies))\n",
        &[],
    );
    // The in-flight message stays in flight across the restart; the others wait.
    assert_eq!(out, "2 1\nm1,m2\n");
}

#[test]
fn a_bad_queue_attribute_in_slcl_toml_stops_slcl_up_with_sqs_words() {
    let dir = project("[queues.jobs]\nattributes = { VisibilityTimeout = 99999 }\n");
    let err = Slcl::up_fails(dir.path());
    assert!(
        err.contains("queues.jobs") && err.contains("VisibilityTimeout"),
        "{err}"
    );
}

/// A JSON-protocol SendMessage by raw HTTP, so its headers are exactly these: with
/// `X-Amzn-Trace-Id: <header>` when `header` is not empty, as an X-Ray-instrumented
/// SDK sends it. Returns the response's `x-slcl-trace-id`.
async fn send_raw(endpoint: &str, url: &str, body: &str, header: &str) -> String {
    let script = r#"
import json, os, sys, urllib.request
url, body, header = sys.argv[1:4]
headers = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "AmazonSQS.SendMessage",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
}
if header:
    headers["X-Amzn-Trace-Id"] = header
req = urllib.request.Request(os.environ["ENDPOINT"] + "/", data=json.dumps({"QueueUrl": url, "MessageBody": body}).encode(), headers=headers, method="POST")
with urllib.request.urlopen(req) as r:
    print(r.headers["x-slcl-trace-id"])
"#;
    crate::common::python_async(endpoint, script, &[url, body, header])
        .await
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_and_the_invocation_it_triggers_share_one_trace() {
    let stack = Stack::harness()
        .native_function(
            "worker",
            slcl::native::service_fn(|_: slcl::native::LambdaEvent<serde_json::Value>| async {
                Ok::<_, slcl::native::Error>(())
            }),
        )
        .sqs_trigger("jobs", "worker")
        .start()
        .await
        .unwrap();
    let url = stack.sqs().queue_info("jobs").unwrap().url;
    let xray = "Root=1-6b127c15-aaaabbbbccccddddeeee2222;Parent=53995c3f42cd8ad8;Sampled=1";
    for (body, header) in [("plain", ""), ("traced", xray)] {
        let trace_id = send_raw(stack.endpoint_url(), &url, body, header).await;
        let run = stack.next_invocation("worker", WAIT).await.unwrap();
        let event: serde_json::Value = run.event_as().unwrap();
        let attributes = &event["Records"][0]["attributes"];
        assert_eq!(event["Records"][0]["body"], body);
        if header.is_empty() {
            // No header, no AWSTraceHeader: slcl's own trace still links them.
            assert!(attributes.get("AWSTraceHeader").is_none(), "{event}");
        } else {
            // The header became the message's AWSTraceHeader, as on AWS, and its
            // root is the trace.
            assert_eq!(attributes["AWSTraceHeader"], header);
            assert_eq!(trace_id, "1-6b127c15-aaaabbbbccccddddeeee2222");
        }
        // The invocation joined the sender's trace, under the SendMessage request.
        assert_eq!(run.trace_id, trace_id);
        let steps = stack.trace(&trace_id);
        let send = steps
            .iter()
            .find(|s| s.kind == slcl::StepKind::Request)
            .unwrap_or_else(|| panic!("{steps:?}"));
        let invocation = steps
            .iter()
            .find(|s| s.kind == slcl::StepKind::Invocation)
            .unwrap_or_else(|| panic!("{steps:?}"));
        assert_eq!(invocation.parent_id.as_deref(), Some(send.id.as_str()));
    }
}

/// The example of docs/testing.md ("A queue, a trigger and a dead-letter queue"),
/// as written there.
mod docs_example {
    use aws_lambda_events::event::sqs::SqsEvent;
    use slcl::native::{service_fn, Error, LambdaEvent};
    use slcl::{QueueConfig, SendOptions, Stack};
    use std::time::{Duration, UNIX_EPOCH};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_orders_end_in_the_dead_letter_queue() -> anyhow::Result<()> {
        let redrive = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":2}"#;
        let stack = Stack::harness()
            .queue("orders-dlq")
            .queue_config(
                "orders",
                QueueConfig::default()
                    .attribute("VisibilityTimeout", 30)
                    .attribute("RedrivePolicy", redrive),
            )
            .native_function(
                "worker",
                service_fn(|_: LambdaEvent<SqsEvent>| async {
                    Err::<(), Error>("the order service is down".into())
                }),
            )
            .sqs_trigger("orders", "worker")
            .virtual_clock(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .start()
            .await?;
        stack
            .sqs()
            .send("orders", r#"{"id":1}"#, SendOptions::default())?;

        let first = stack
            .next_invocation("worker", Duration::from_secs(5))
            .await?;
        assert!(!first.succeeded());
        stack.advance(Duration::from_secs(30)); // visible again: received a second time
        stack
            .next_invocation("worker", Duration::from_secs(5))
            .await?;
        stack.advance(Duration::from_secs(30)); // maxReceiveCount reached: moved to the DLQ
        let dead = stack
            .next_message("orders-dlq", Duration::from_secs(5))
            .await?;
        assert_eq!(dead.body, r#"{"id":1}"#);
        Ok(())
    }
}
