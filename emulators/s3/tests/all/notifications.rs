//! S3 event notifications delivered on the bus to Lambda ARNs.

use std::time::{Duration, Instant};

use aws_lambda_events::event::s3::S3Event;
use slcl_core::InvocationType;
use slcl_s3::LambdaNotification;

use crate::harness::Server;

const FN_IMAGES: &str = "arn:aws:lambda:us-east-1:000000000000:function:images";
const FN_ALL: &str = "arn:aws:lambda:us-east-1:000000000000:function:everything";

fn wait_for(s: &Server, n: usize) -> Vec<slcl_core::Delivery> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = s.sink.deliveries.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            // Give stray extra deliveries a moment to show up, then return.
            std::thread::sleep(Duration::from_millis(50));
            return s.sink.deliveries.lock().unwrap().clone();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn put_configuration_validates_and_round_trips() {
    let s = Server::start();
    s.python(&format!(
        r#"
s3.create_bucket(Bucket="cfg")
assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket="cfg")
cfg = {{
    "LambdaFunctionConfigurations": [{{
        "Id": "imgs", "LambdaFunctionArn": "{FN_IMAGES}", "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
        "Filter": {{"Key": {{"FilterRules": [{{"Name": "prefix", "Value": "uploads/"}}, {{"Name": "suffix", "Value": ".jpg"}}]}}}}}},
        {{"LambdaFunctionArn": "{FN_ALL}", "Events": ["s3:ObjectCreated:Put"]}}],
    "QueueConfigurations": [{{"Id": "q", "QueueArn": "arn:aws:sqs:us-east-1:000000000000:queue", "Events": ["s3:ObjectCreated:*"]}}],
}}
s3.put_bucket_notification_configuration(Bucket="cfg", NotificationConfiguration=cfg)
got = s3.get_bucket_notification_configuration(Bucket="cfg")
l = got["LambdaFunctionConfigurations"]
assert l[0]["Id"] == "imgs" and l[0]["LambdaFunctionArn"] == "{FN_IMAGES}"
assert l[0]["Events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
rules = sorted((r["Name"].lower(), r["Value"]) for r in l[0]["Filter"]["Key"]["FilterRules"])
assert rules == [("prefix", "uploads/"), ("suffix", ".jpg")], rules
assert l[1]["Id"], "an id is generated"
assert got["QueueConfigurations"] == cfg["QueueConfigurations"], got["QueueConfigurations"]

bad = {{"LambdaFunctionConfigurations": [{{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:missing",
                                          "Events": ["s3:ObjectCreated:*"]}}]}}
e = expect_error("InvalidArgument", 400, s3.put_bucket_notification_configuration, Bucket="cfg", NotificationConfiguration=bad)
assert e["Error"]["Message"] == "Unable to validate the following destination configurations", e
# The earlier configuration is untouched.
assert len(s3.get_bucket_notification_configuration(Bucket="cfg")["LambdaFunctionConfigurations"]) == 2
s3.put_bucket_notification_configuration(Bucket="cfg", NotificationConfiguration={{}})
assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket="cfg")
expect_error("NoSuchBucket", 404, s3.get_bucket_notification_configuration, Bucket="nope")
"#
    ));
}

#[test]
fn matching_events_are_delivered_with_aws_shape() {
    let s = Server::start();
    s.service.ensure_bucket("photos").unwrap();
    s.service
        .set_lambda_notifications(
            "photos",
            vec![
                LambdaNotification {
                    id: Some("thumbs".into()),
                    function_arn: FN_IMAGES.into(),
                    events: vec!["s3:ObjectCreated:*".into(), "s3:ObjectRemoved:*".into()],
                    prefix: Some("uploads/".into()),
                    suffix: Some(".jpg".into()),
                },
                LambdaNotification {
                    id: Some("copies".into()),
                    function_arn: FN_ALL.into(),
                    events: vec!["s3:ObjectCreated:Copy".into()],
                    prefix: None,
                    suffix: None,
                },
            ],
        )
        .unwrap();
    assert!(s.service.set_lambda_notifications("nope", vec![]).is_err());
    let out = s.python(
        r#"
r = s3.put_object(Bucket="photos", Key="uploads/my cat+1.jpg", Body=b"meow!")
s3.put_object(Bucket="photos", Key="uploads/notes.txt", Body=b"no")     # suffix mismatch
s3.put_object(Bucket="photos", Key="other/x.jpg", Body=b"no")            # prefix mismatch
print(r["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])
print(r["ResponseMetadata"]["HTTPHeaders"]["x-amz-id-2"])
"#,
    );
    let mut lines = out.lines();
    let (request_id, host_id) = (lines.next().unwrap(), lines.next().unwrap());
    let got = wait_for(&s, 1);
    assert_eq!(got.len(), 1, "only the matching key fires");
    let d = &got[0];
    assert_eq!(d.target.to_string(), FN_IMAGES);
    assert_eq!(
        d.source.as_ref().unwrap().to_string(),
        "arn:aws:s3:::photos"
    );
    assert_eq!(d.invocation_type, InvocationType::Event);
    assert!(!d.trace.trace_id.is_empty());

    let v: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
    let r = &v["Records"][0];
    assert_eq!(v["Records"].as_array().unwrap().len(), 1);
    assert_eq!(r["eventVersion"], "2.1");
    assert_eq!(r["eventSource"], "aws:s3");
    assert_eq!(r["awsRegion"], "us-east-1");
    let time = r["eventTime"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "{time}"
    );
    assert_eq!(r["eventName"], "ObjectCreated:Put");
    assert_eq!(r["userIdentity"]["principalId"], "AWS:000000000000");
    assert_eq!(r["requestParameters"]["sourceIPAddress"], "127.0.0.1");
    assert_eq!(r["responseElements"]["x-amz-request-id"], request_id);
    assert_eq!(r["responseElements"]["x-amz-id-2"], host_id);
    let s3v = &r["s3"];
    assert_eq!(s3v["s3SchemaVersion"], "1.0");
    assert_eq!(s3v["configurationId"], "thumbs");
    assert_eq!(s3v["bucket"]["name"], "photos");
    assert_eq!(s3v["bucket"]["arn"], "arn:aws:s3:::photos");
    assert!(s3v["bucket"]["ownerIdentity"]["principalId"].is_string());
    assert_eq!(s3v["object"]["key"], "uploads/my+cat%2B1.jpg");
    assert_eq!(s3v["object"]["size"], 5);
    assert_eq!(
        s3v["object"]["eTag"],
        hex::encode(<md5::Md5 as md5::Digest>::digest(b"meow!"))
    );
    let seq1 = s3v["object"]["sequencer"].as_str().unwrap().to_string();
    let event: S3Event = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        event.records[0].s3.object.key.as_deref(),
        Some("uploads/my+cat%2B1.jpg")
    );
    assert_eq!(event.records[0].s3.object.size, Some(5));

    // Copy fires both configurations (Copy is ObjectCreated:*), delete fires the removal.
    s.sink.deliveries.lock().unwrap().clear();
    s.python(
        r#"
s3.copy_object(Bucket="photos", Key="uploads/copy.jpg", CopySource="photos/uploads/my cat+1.jpg")
"#,
    );
    let got = wait_for(&s, 2);
    let mut names: Vec<(String, String)> = got
        .iter()
        .map(|d| {
            let v: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
            (
                d.target.to_string(),
                v["Records"][0]["s3"]["configurationId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            (FN_ALL.to_string(), "copies".to_string()),
            (FN_IMAGES.to_string(), "thumbs".to_string())
        ]
    );
    for d in &got {
        let v: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
        assert_eq!(v["Records"][0]["eventName"], "ObjectCreated:Copy");
    }

    s.sink.deliveries.lock().unwrap().clear();
    s.python(
        r#"
s3.delete_object(Bucket="photos", Key="uploads/my cat+1.jpg")
uid = s3.create_multipart_upload(Bucket="photos", Key="uploads/mp.jpg")["UploadId"]
e = s3.upload_part(Bucket="photos", Key="uploads/mp.jpg", UploadId=uid, PartNumber=1, Body=b"mp")["ETag"]
s3.complete_multipart_upload(Bucket="photos", Key="uploads/mp.jpg", UploadId=uid,
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
s3.delete_objects(Bucket="photos", Delete={"Objects": [{"Key": "uploads/mp.jpg"}, {"Key": "uploads/never.jpg"}]})
"#,
    );
    let got = wait_for(&s, 3);
    let records: Vec<serde_json::Value> = got
        .iter()
        .map(|d| {
            serde_json::from_slice::<serde_json::Value>(&d.payload).unwrap()["Records"][0].clone()
        })
        .collect();
    let mut events: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["eventName"].as_str().unwrap().to_string(),
                r["s3"]["object"]["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        vec![
            (
                "ObjectCreated:CompleteMultipartUpload".into(),
                "uploads/mp.jpg".into()
            ),
            ("ObjectRemoved:Delete".into(), "uploads/mp.jpg".into()),
            (
                "ObjectRemoved:Delete".into(),
                "uploads/my+cat%2B1.jpg".into()
            ),
        ]
    );
    for r in &records {
        let obj = &r["s3"]["object"];
        if r["eventName"]
            .as_str()
            .unwrap()
            .starts_with("ObjectRemoved")
        {
            assert!(
                obj.get("size").is_none() && obj.get("eTag").is_none(),
                "{obj}"
            );
        } else {
            assert_eq!(obj["size"], 2);
            assert!(obj["eTag"].as_str().unwrap().ends_with("-1"));
        }
        assert!(
            obj["sequencer"].as_str().unwrap() > seq1.as_str(),
            "sequencers increase"
        );
        let _: S3Event = serde_json::from_value(serde_json::json!({ "Records": [r] })).unwrap();
    }
}
