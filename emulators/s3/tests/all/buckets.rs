//! Bucket operations through boto3.

use crate::harness::Server;

#[test]
fn bucket_lifecycle() {
    let s = Server::start();
    s.python(
        r#"
r = s3.create_bucket(Bucket="alpha")
assert r["Location"] == "/alpha"
s3.create_bucket(Bucket="beta.dotted")
# us-east-1 keeps the legacy 200 for re-creating an owned bucket.
s3.create_bucket(Bucket="alpha")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert names == ["alpha", "beta.dotted"], names
r = s3.list_buckets()
assert r["Owner"]["ID"] and isinstance(r["Buckets"][0]["CreationDate"], datetime.datetime)
assert [b["Name"] for b in s3.list_buckets(Prefix="be")["Buckets"]] == ["beta.dotted"]
h = s3.head_bucket(Bucket="alpha")
assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
assert s3.get_bucket_location(Bucket="alpha")["LocationConstraint"] is None

# Another region: the location constraint is required and re-creating is a 409.
eu = client("eu-west-1")
eu.create_bucket(Bucket="gamma", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
assert eu.get_bucket_location(Bucket="gamma")["LocationConstraint"] == "eu-west-1"
assert eu.head_bucket(Bucket="gamma")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
e = expect_error("BucketAlreadyOwnedByYou", 409, eu.create_bucket, Bucket="gamma",
                 CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
assert e["Error"]["BucketName"] == "gamma"
expect_error("IllegalLocationConstraintException", 400, eu.create_bucket, Bucket="delta")
expect_error("IllegalLocationConstraintException", 400, s3.create_bucket, Bucket="delta",
             CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

s3.put_object(Bucket="alpha", Key="k", Body=b"x")
expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket="alpha")
s3.delete_object(Bucket="alpha", Key="k")
r = s3.delete_bucket(Bucket="alpha")
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
expect_error("NoSuchBucket", 404, s3.delete_bucket, Bucket="alpha")
expect_error("404", 404, s3.head_bucket, Bucket="alpha")
for bad in ["ab", "UPPER", "under_score", "-dash", "a..b", "127.0.1.1", "x" * 64]:
    expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket=bad)
"#,
    );
    let summary = s.service.summary();
    assert_eq!(
        summary.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        vec!["beta.dotted", "gamma"]
    );
}

#[test]
fn ensure_bucket_and_summary() {
    let s = Server::start();
    s.service.ensure_bucket("declared").unwrap();
    s.service.ensure_bucket("declared").unwrap();
    assert!(s.service.ensure_bucket("Bad_Name").is_err());
    s.python(
        r#"
s3.put_object(Bucket="declared", Key="a", Body=b"12345")
s3.put_object(Bucket="declared", Key="b", Body=b"678")
"#,
    );
    let summary = s.service.summary();
    assert_eq!(summary.len(), 1);
    assert_eq!((summary[0].objects, summary[0].bytes), (2, 8));
}
