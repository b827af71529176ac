//! State survives dropping the service and reopening the store.

use crate::harness::Server;

#[test]
fn restart_keeps_buckets_objects_uploads_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let upload_id;
    {
        let s = Server::start_with(slcl_store::Store::open(dir.path()).unwrap());
        let out = s.python(
            r#"
s3.create_bucket(Bucket="durable")
s3.put_object(Bucket="durable", Key="small", Body=b"tiny", Metadata={"a": "b"}, ContentType="text/x")
s3.put_object(Bucket="durable", Key="large", Body=bytes(range(256)) * 1024)
uid = s3.create_multipart_upload(Bucket="durable", Key="pending")["UploadId"]
s3.upload_part(Bucket="durable", Key="pending", UploadId=uid, PartNumber=1, Body=b"p" * (5 * 1024 * 1024))
s3.put_bucket_notification_configuration(Bucket="durable", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"Id": "n1", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                                      "Events": ["s3:ObjectCreated:*"]}]})
print(uid)
"#,
        );
        upload_id = out.trim().to_string();
    }
    let s = Server::start_with(slcl_store::Store::open(dir.path()).unwrap());
    s.python(&format!(
        r#"
uid = "{upload_id}"
g = s3.get_object(Bucket="durable", Key="small")
assert g["Body"].read() == b"tiny" and g["Metadata"] == {{"a": "b"}} and g["ContentType"] == "text/x"
assert s3.get_object(Bucket="durable", Key="large")["Body"].read() == bytes(range(256)) * 1024
parts = s3.list_parts(Bucket="durable", Key="pending", UploadId=uid)["Parts"]
assert [p["Size"] for p in parts] == [5 * 1024 * 1024]
e = parts[0]["ETag"]
s3.upload_part(Bucket="durable", Key="pending", UploadId=uid, PartNumber=2, Body=b"end")
e2 = s3.list_parts(Bucket="durable", Key="pending", UploadId=uid)["Parts"][1]["ETag"]
s3.complete_multipart_upload(Bucket="durable", Key="pending", UploadId=uid,
    MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": e}}, {{"PartNumber": 2, "ETag": e2}}]}})
assert s3.head_object(Bucket="durable", Key="pending")["ContentLength"] == 5 * 1024 * 1024 + 3
cfg = s3.get_bucket_notification_configuration(Bucket="durable")["LambdaFunctionConfigurations"]
assert cfg[0]["Id"] == "n1"
"#
    ));
    // The restored notification configuration still fires.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.sink.deliveries.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(s.sink.deliveries.lock().unwrap().len(), 1);
}
