//! Function output in CloudWatch Logs: every invocation's START, output, END and
//! REPORT lines in `/aws/lambda/<name>`, read back with the real `aws logs` CLI.

use std::time::Duration;

use serde_json::{json, Value};
use slcl::Stack;

use crate::common::aws_cli_async;

async fn aws(endpoint: &str, args: &[&str]) -> String {
    let out = aws_cli_async(endpoint, args).await;
    assert!(
        out.status.success(),
        "aws failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_output_lands_in_its_log_group_and_aws_logs_reads_it() {
    let stack = Stack::harness()
        .function("counter", slcl_fixtures::COUNTER)
        .start()
        .await
        .unwrap();
    let first = stack.invoke("counter", &json!({})).await.unwrap();
    let second = stack.invoke("counter", &json!({})).await.unwrap();
    assert!(!first.is_error() && !second.is_error());
    let ep = stack.endpoint_url().to_owned();

    // One warm instance, one stream named as Lambda names them.
    let streams: Value = serde_json::from_str(
        &aws(
            &ep,
            &[
                "logs",
                "describe-log-streams",
                "--log-group-name",
                "/aws/lambda/counter",
            ],
        )
        .await,
    )
    .unwrap();
    let streams = streams["logStreams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{streams:?}");
    let stream = streams[0]["logStreamName"].as_str().unwrap();
    assert!(
        stream.len() > 20 && stream.contains("/[$LATEST]"),
        "{stream}"
    );

    let events: Value = serde_json::from_str(
        &aws(
            &ep,
            &[
                "logs",
                "get-log-events",
                "--log-group-name",
                "/aws/lambda/counter",
                "--log-stream-name",
                stream,
                "--start-from-head",
            ],
        )
        .await,
    )
    .unwrap();
    let lines: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let starts: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("START RequestId: "))
        .collect();
    assert_eq!(starts.len(), 2, "{lines:?}");
    assert!(starts[0].contains(&first.request_id), "{lines:?}");
    assert!(
        lines.last().unwrap().starts_with("REPORT RequestId: "),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("Init Duration")),
        "{lines:?}"
    );

    // The filter pattern syntax, through the CLI.
    let reports: Value = serde_json::from_str(
        &aws(
            &ep,
            &[
                "logs",
                "filter-log-events",
                "--log-group-name",
                "/aws/lambda/counter",
                "--filter-pattern",
                "REPORT",
            ],
        )
        .await,
    )
    .unwrap();
    assert_eq!(reports["events"].as_array().unwrap().len(), 2, "{reports}");

    // Reset empties the logs with everything else.
    stack.reset().unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(stack.logs().group_names().unwrap().is_empty());
}
