//! Error responses: code, status and S3's XML shape.

use crate::harness::Server;

#[test]
fn error_codes_and_shapes() {
    let s = Server::start();
    s.python(
        r#"
import xml.etree.ElementTree as ET
s3.create_bucket(Bucket="errs")
e = expect_error("NoSuchBucket", 404, s3.get_object, Bucket="nobucket", Key="k")
assert e["Error"]["BucketName"] == "nobucket"
assert e["ResponseMetadata"]["RequestId"]
expect_error("NoSuchBucket", 404, s3.put_object, Bucket="nobucket", Key="k", Body=b"x")
expect_error("NoSuchBucket", 404, s3.list_objects, Bucket="nobucket")
e = expect_error("NoSuchKey", 404, s3.get_object, Bucket="errs", Key="missing")
assert e["Error"]["Key"] == "missing"

# Raw error document: <Error><Code/><Message/><Resource/><RequestId/>...
status, headers, body = raw("GET", "/errs/missing%20key")
assert status == 404
root = ET.fromstring(body)
assert root.tag == "Error"
assert root.find("Code").text == "NoSuchKey"
assert root.find("Message").text == "The specified key does not exist."
assert root.find("Resource").text == "/errs/missing%20key"
assert root.find("RequestId").text == headers["x-amz-request-id"]
assert root.find("HostId").text == headers["x-amz-id-2"]
assert headers["content-type"] == "application/xml"
# HEAD errors have no body.
status, headers, body = raw("HEAD", "/errs/missing")
assert status == 404 and body == b"" and headers["x-amz-request-id"]

# Operations slcl does not implement yet name themselves with 501.
for fn, kw, op in [
    (s3.get_bucket_tagging, {"Bucket": "errs"}, "GetBucketTagging"),
    (s3.put_bucket_versioning, {"Bucket": "errs", "VersioningConfiguration": {"Status": "Enabled"}}, "PutBucketVersioning"),
    (s3.get_bucket_acl, {"Bucket": "errs"}, "GetBucketAcl"),
    (s3.get_bucket_cors, {"Bucket": "errs"}, "GetBucketCors"),
    (s3.get_bucket_policy, {"Bucket": "errs"}, "GetBucketPolicy"),
    (s3.get_bucket_lifecycle_configuration, {"Bucket": "errs"}, "GetBucketLifecycleConfiguration"),
    (s3.get_bucket_website, {"Bucket": "errs"}, "GetBucketWebsite"),
    (s3.get_bucket_encryption, {"Bucket": "errs"}, "GetBucketEncryption"),
    (s3.get_object_lock_configuration, {"Bucket": "errs"}, "GetObjectLockConfiguration"),
    (s3.get_object_tagging, {"Bucket": "errs", "Key": "k"}, "GetObjectTagging"),
    (s3.get_object_acl, {"Bucket": "errs", "Key": "k"}, "GetObjectAcl"),
    (s3.list_object_versions, {"Bucket": "errs"}, "ListObjectVersions"),
]:
    e = expect_error("NotImplemented", 501, fn, **kw)
    assert op in e["Error"]["Message"], (op, e["Error"]["Message"])

status, _, body = raw("POST", "/errs/k?select&select-type=2", body=b"<x/>")
assert status == 501 and b"SelectObjectContent" in body
status, _, body = raw("PATCH", "/errs/k")
assert status == 405 and b"<Code>MethodNotAllowed</Code>" in body
status, _, body = raw("DELETE", "/")
assert status == 405
status, _, body = raw("POST", "/errs?delete", body=b"<Delete><Object><Key>a</Key></Object>")
assert status == 400 and b"<Code>MalformedXML</Code>" in body
status, _, body = raw("POST", "/errs?delete", body=b"not xml at all")
assert status == 400 and b"MalformedXML" in body
status, _, body = raw("PUT", "/newbucket", body=b"<CreateBucketConfiguration><Location")
assert status == 400 and b"MalformedXML" in body
status, _, body = raw("PUT", "/errs?notification", body=b"<Wrong/>")
assert status == 400 and b"MalformedXML" in body
status, _, body = raw("GET", "/errs?list-type=2&max-keys=abc")
assert status == 400 and b"InvalidArgument" in body
status, _, body = raw("GET", "/errs/%FF%FE")
assert status == 400 and b"InvalidURI" in body
status, _, body = raw("PUT", "/errs/k", body=b"abc", headers={"Content-Length": "3", "x-amz-decoded-content-length": "9",
                                                             "Content-Encoding": "aws-chunked"})
assert status == 400, (status, body)
"#,
    );
}
