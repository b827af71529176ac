//! The S3 event record a function receives, checked field by field against AWS's
//! documented example ("Event message structure", Amazon S3 user guide) and parsed with
//! `aws_lambda_events`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::common::{eventually, project, toml_path, Slcl};

fn recorder_project() -> tempfile::TempDir {
    project(&format!(
        r#"
[functions.recorder]
wasm = {}
timeout = 10

[buckets.inbox]

[[buckets.inbox.notifications]]
id = "created-config"
function = "recorder"
events = ["s3:ObjectCreated:*"]
prefix = "uploads/"

[[buckets.inbox.notifications]]
id = "removed-config"
function = "recorder"
events = ["s3:ObjectRemoved:*"]
prefix = "uploads/"
suffix = ".txt"
"#,
        toml_path(slcl_fixtures::S3_RECORDER)
    ))
}

/// Waits for the recorder to have written `n` events and returns them all.
fn recorded(slcl: &Slcl, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(60), "recorded events", || {
        let listing: Value = serde_json::from_str(&slcl.aws_ok(&[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "inbox",
            "--prefix",
            "events/",
        ]))
        .unwrap_or(Value::Null);
        let keys: Vec<String> = listing["Contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| o["Key"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        (keys.len() >= n).then_some(keys)
    })
    .iter()
    .map(|key| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        slcl.aws_ok(&[
            "s3",
            "cp",
            &format!("s3://inbox/{key}"),
            path.to_str().unwrap(),
        ]);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    })
    .collect()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

#[test]
fn object_created_record_matches_aws() {
    let dir = recorder_project();
    let slcl = Slcl::up(dir.path());
    let body = dir.path().join("hello.txt");
    std::fs::write(&body, "hello").unwrap();
    let put = slcl.put_object("inbox", "uploads/my photo+1 ü.txt", &body);
    assert!(put.contains("5d41402abc4b2a76b9719d911017c592"), "{put}");
    // Not under the prefix: no event.
    slcl.put_object("inbox", "other/x.txt", &body);

    let events = recorded(&slcl, 1);
    assert_eq!(
        events.len(),
        1,
        "only the upload under uploads/ notifies: {events:?}"
    );
    let event = &events[0];
    assert_eq!(keys(event), set(&["Records"]));
    let records = event["Records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        keys(r),
        set(&[
            "eventVersion",
            "eventSource",
            "awsRegion",
            "eventTime",
            "eventName",
            "userIdentity",
            "requestParameters",
            "responseElements",
            "s3"
        ])
    );
    assert_eq!(r["eventVersion"], "2.1");
    assert_eq!(r["eventSource"], "aws:s3");
    assert_eq!(r["awsRegion"], "us-east-1");
    assert_eq!(r["eventName"], "ObjectCreated:Put");
    let time = r["eventTime"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok()
            && time.ends_with('Z')
            && time.len() == "1970-01-01T00:00:00.000Z".len(),
        "eventTime {time}"
    );
    assert_eq!(keys(&r["userIdentity"]), set(&["principalId"]));
    assert_eq!(keys(&r["requestParameters"]), set(&["sourceIPAddress"]));
    assert_eq!(r["requestParameters"]["sourceIPAddress"], "127.0.0.1");
    assert_eq!(
        keys(&r["responseElements"]),
        set(&["x-amz-request-id", "x-amz-id-2"])
    );
    let s3 = &r["s3"];
    assert_eq!(
        keys(s3),
        set(&["s3SchemaVersion", "configurationId", "bucket", "object"])
    );
    assert_eq!(s3["s3SchemaVersion"], "1.0");
    assert_eq!(s3["configurationId"], "created-config");
    assert_eq!(keys(&s3["bucket"]), set(&["name", "ownerIdentity", "arn"]));
    assert_eq!(s3["bucket"]["name"], "inbox");
    assert_eq!(s3["bucket"]["arn"], "arn:aws:s3:::inbox");
    assert!(s3["bucket"]["ownerIdentity"]["principalId"].is_string());
    let object = &s3["object"];
    assert_eq!(keys(object), set(&["key", "size", "eTag", "sequencer"]));
    // Keys are form-encoded: spaces become `+`, `+` becomes %2B, UTF-8 percent-encoded.
    assert_eq!(object["key"], "uploads/my+photo%2B1+%C3%BC.txt");
    assert_eq!(object["size"], 5);
    assert_eq!(object["eTag"], "5d41402abc4b2a76b9719d911017c592");
    let sequencer = object["sequencer"].as_str().unwrap();
    assert!(sequencer.chars().all(|c| c.is_ascii_hexdigit()) && !sequencer.is_empty());

    let parsed: aws_lambda_events::event::s3::S3Event =
        serde_json::from_value(event.clone()).unwrap();
    let record = &parsed.records[0];
    assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(record.s3.object.size, Some(5));
    assert_eq!(record.s3.bucket.name.as_deref(), Some("inbox"));
}

#[test]
fn object_removed_record_and_filters() {
    let dir = recorder_project();
    let slcl = Slcl::up(dir.path());
    let body = dir.path().join("a.txt");
    std::fs::write(&body, "abc").unwrap();
    slcl.put_object("inbox", "uploads/a.txt", &body);
    let first = recorded(&slcl, 1);
    slcl.aws_ok(&[
        "s3api",
        "delete-object",
        "--bucket",
        "inbox",
        "--key",
        "uploads/a.txt",
    ]);
    // Suffix filter: deleting a .jpg under uploads/ does not match `.txt`.
    slcl.aws_ok(&[
        "s3api",
        "delete-object",
        "--bucket",
        "inbox",
        "--key",
        "uploads/b.jpg",
    ]);
    let events = recorded(&slcl, 2);
    let removed: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["Records"][0]["eventName"]
                .as_str()
                .unwrap()
                .starts_with("ObjectRemoved")
        })
        .collect();
    assert_eq!(removed.len(), 1, "{events:?}");
    let r = &removed[0]["Records"][0];
    assert_eq!(r["eventName"], "ObjectRemoved:Delete");
    assert_eq!(r["s3"]["configurationId"], "removed-config");
    assert_eq!(keys(&r["s3"]["object"]), set(&["key", "sequencer"]));
    assert_eq!(r["s3"]["object"]["key"], "uploads/a.txt");
    // Sequencers of one key increase with each event.
    let created_seq = first[0]["Records"][0]["s3"]["object"]["sequencer"]
        .as_str()
        .unwrap()
        .to_string();
    let removed_seq = r["s3"]["object"]["sequencer"].as_str().unwrap();
    let pad = created_seq.len().max(removed_seq.len());
    assert!(format!("{removed_seq:0>pad$}") > format!("{created_seq:0>pad$}"));
    let _: aws_lambda_events::event::s3::S3Event =
        serde_json::from_value(removed[0].clone()).unwrap();
}

#[test]
fn notification_configuration_round_trips_and_validates_destination() {
    let dir = recorder_project();
    let slcl = Slcl::up(dir.path());
    let got: Value = serde_json::from_str(&slcl.aws_ok(&[
        "s3api",
        "get-bucket-notification-configuration",
        "--bucket",
        "inbox",
    ]))
    .unwrap();
    let configs = got["LambdaFunctionConfigurations"].as_array().unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(
        configs[0]["LambdaFunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:recorder"
    );
    // A destination function that does not exist is refused, as AWS does.
    let bad = r#"{"LambdaFunctionConfigurations":[{"LambdaFunctionArn":"arn:aws:lambda:us-east-1:000000000000:function:nope","Events":["s3:ObjectCreated:*"]}]}"#;
    let out = slcl.aws(&[
        "s3api",
        "put-bucket-notification-configuration",
        "--bucket",
        "inbox",
        "--notification-configuration",
        bad,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("InvalidArgument"), "{err}");
}
