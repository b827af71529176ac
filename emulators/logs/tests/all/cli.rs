//! The aws CLI's `logs` commands.

use serde_json::Value;

use crate::harness::{epoch, Server};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn aws_cli() {
    let server = Server::start_virtual();
    let now = epoch()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    server.aws(&["logs", "create-log-group", "--log-group-name", "/cli/app"]);
    server.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        "/cli/app",
        "--log-stream-name",
        "main",
    ]);
    let events = format!(
        r#"[{{"timestamp": {}, "message": "ERROR boom"}}, {{"timestamp": {}, "message": "{{\"level\": \"info\", \"latency\": 120}}"}}, {{"timestamp": {}, "message": "all good"}}]"#,
        now - 3,
        now - 2,
        now - 1
    );
    let out = json(&server.aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        "/cli/app",
        "--log-stream-name",
        "main",
        "--log-events",
        &events,
    ]));
    assert!(out.get("rejectedLogEventsInfo").is_none(), "{out}");

    let out = json(&server.aws(&[
        "logs",
        "get-log-events",
        "--log-group-name",
        "/cli/app",
        "--log-stream-name",
        "main",
        "--start-from-head",
    ]));
    let messages: Vec<&str> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[0], "ERROR boom");
    assert_eq!(messages[2], "all good");

    let filtered = |pattern: &str| -> Vec<String> {
        let out = json(&server.aws(&[
            "logs",
            "filter-log-events",
            "--log-group-name",
            "/cli/app",
            "--filter-pattern",
            pattern,
        ]));
        out["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(filtered("ERROR"), vec!["ERROR boom"]);
    assert_eq!(filtered("{ $.latency > 100 }").len(), 1);
    assert_eq!(filtered("?boom ?good").len(), 2);

    let out = json(&server.aws(&[
        "logs",
        "describe-log-streams",
        "--log-group-name",
        "/cli/app",
        "--order-by",
        "LastEventTime",
        "--descending",
    ]));
    let stream = &out["logStreams"][0];
    assert_eq!(stream["logStreamName"], "main");
    assert_eq!(stream["lastEventTimestamp"], now - 1);

    // Errors reach the CLI with AWS's codes.
    let out = server.aws_raw(&["logs", "create-log-group", "--log-group-name", "/cli/app"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ResourceAlreadyExistsException"), "{err}");
    let out = server.aws_raw(&[
        "logs",
        "get-log-events",
        "--log-group-name",
        "/cli/app",
        "--log-stream-name",
        "nope",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}
