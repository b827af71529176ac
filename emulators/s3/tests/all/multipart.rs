//! Multipart uploads through boto3.

use crate::harness::Server;

#[test]
fn multipart_upload_lifecycle_and_errors() {
    let s = Server::start();
    s.python(
        r#"
MiB = 1024 * 1024
s3.create_bucket(Bucket="mp-bucket")
up = s3.create_multipart_upload(Bucket="mp-bucket", Key="big file", ContentType="video/mp4", Metadata={"k": "v"})
uid = up["UploadId"]
assert up["Bucket"] == "mp-bucket" and up["Key"] == "big file"
p1 = os.urandom(5 * MiB)
p2 = os.urandom(5 * MiB + 3)
p3 = b"tail"
e1 = s3.upload_part(Bucket="mp-bucket", Key="big file", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
e2 = s3.upload_part(Bucket="mp-bucket", Key="big file", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
e3 = s3.upload_part(Bucket="mp-bucket", Key="big file", UploadId=uid, PartNumber=3, Body=p3)["ETag"]
assert e1 == '"' + hashlib.md5(p1).hexdigest() + '"'

parts = s3.list_parts(Bucket="mp-bucket", Key="big file", UploadId=uid)
assert [p["PartNumber"] for p in parts["Parts"]] == [1, 2, 3]
assert [p["Size"] for p in parts["Parts"]] == [len(p1), len(p2), 4]
page = s3.list_parts(Bucket="mp-bucket", Key="big file", UploadId=uid, MaxParts=2)
assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
page = s3.list_parts(Bucket="mp-bucket", Key="big file", UploadId=uid, PartNumberMarker=2)
assert [p["PartNumber"] for p in page["Parts"]] == [3] and not page["IsTruncated"]
ups = s3.list_multipart_uploads(Bucket="mp-bucket")["Uploads"]
assert [(u["Key"], u["UploadId"]) for u in ups] == [("big file", uid)]

def complete(parts):
    return s3.complete_multipart_upload(Bucket="mp-bucket", Key="big file", UploadId=uid,
                                        MultipartUpload={"Parts": parts})
expect_error("InvalidPartOrder", 400, complete, [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}])
expect_error("InvalidPart", 400, complete, [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"0000"'}])
expect_error("InvalidPart", 400, complete, [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 7, "ETag": e2}])
# Part 3 (4 bytes) followed by another part is too small.
small = s3.create_multipart_upload(Bucket="mp-bucket", Key="small")["UploadId"]
s1 = s3.upload_part(Bucket="mp-bucket", Key="small", UploadId=small, PartNumber=1, Body=b"a")["ETag"]
s2 = s3.upload_part(Bucket="mp-bucket", Key="small", UploadId=small, PartNumber=2, Body=b"b")["ETag"]
expect_error("EntityTooSmall", 400, s3.complete_multipart_upload, Bucket="mp-bucket", Key="small", UploadId=small,
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": s1}, {"PartNumber": 2, "ETag": s2}]})
# A single small part is fine.
r = s3.complete_multipart_upload(Bucket="mp-bucket", Key="small", UploadId=small,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": s1}]})
assert r["ETag"].endswith('-1"')
assert s3.get_object(Bucket="mp-bucket", Key="small")["Body"].read() == b"a"

r = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}])
digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in [p1, p2, p3])).hexdigest()
assert r["ETag"] == f'"{digest}-3"', r["ETag"]
assert r["Key"] == "big file" and r["Bucket"] == "mp-bucket"
g = s3.get_object(Bucket="mp-bucket", Key="big file")
assert g["Body"].read() == p1 + p2 + p3
assert g["ETag"] == f'"{digest}-3"' and g["ContentType"] == "video/mp4" and g["Metadata"] == {"k": "v"}
g = s3.get_object(Bucket="mp-bucket", Key="big file", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
assert g["Body"].read() == (p1 + p2)[5 * MiB - 2: 5 * MiB + 2]
# The upload is gone once completed.
expect_error("NoSuchUpload", 404, s3.list_parts, Bucket="mp-bucket", Key="big file", UploadId=uid)
expect_error("NoSuchUpload", 404, complete, [{"PartNumber": 1, "ETag": e1}])

# Abort.
a = s3.create_multipart_upload(Bucket="mp-bucket", Key="aborted")["UploadId"]
s3.upload_part(Bucket="mp-bucket", Key="aborted", UploadId=a, PartNumber=1, Body=os.urandom(100 * 1024))
r = s3.abort_multipart_upload(Bucket="mp-bucket", Key="aborted", UploadId=a)
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
expect_error("NoSuchUpload", 404, s3.abort_multipart_upload, Bucket="mp-bucket", Key="aborted", UploadId=a)
expect_error("NoSuchUpload", 404, s3.upload_part, Bucket="mp-bucket", Key="aborted", UploadId=a, PartNumber=1, Body=b"x")
b = s3.create_multipart_upload(Bucket="mp-bucket", Key="numbers")["UploadId"]
expect_error("InvalidArgument", 400, s3.upload_part, Bucket="mp-bucket", Key="numbers", UploadId=b, PartNumber=10001, Body=b"x")
expect_error("NoSuchUpload", 404, s3.upload_part, Bucket="mp-bucket", Key="other-key", UploadId=b, PartNumber=1, Body=b"x")
assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="mp-bucket")["Uploads"]] == ["numbers"]
expect_error("MalformedXML", 400, s3.complete_multipart_upload, Bucket="mp-bucket", Key="numbers", UploadId=b,
             MultipartUpload={"Parts": []})
"#,
    );
    // Only the completed objects' bodies remain (the aborted part's file is gone).
    let blobs = std::fs::read_dir(s.store.blob_dir()).unwrap().count();
    assert_eq!(blobs, 1, "only `big file` is stored as a file");
}

#[test]
fn multipart_with_checksums() {
    let s = Server::start();
    s.python(
        r#"
import zlib
MiB = 1024 * 1024
s3.create_bucket(Bucket="mpc")
uid = s3.create_multipart_upload(Bucket="mpc", Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
p1, p2 = os.urandom(5 * MiB), b"end"
r1 = s3.upload_part(Bucket="mpc", Key="k", UploadId=uid, PartNumber=1, Body=p1, ChecksumAlgorithm="CRC32")
r2 = s3.upload_part(Bucket="mpc", Key="k", UploadId=uid, PartNumber=2, Body=p2, ChecksumAlgorithm="CRC32")
crc = lambda d: zlib.crc32(d).to_bytes(4, "big")
assert r1["ChecksumCRC32"] == base64.b64encode(crc(p1)).decode()
r = s3.complete_multipart_upload(Bucket="mpc", Key="k", UploadId=uid, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": r1["ETag"], "ChecksumCRC32": r1["ChecksumCRC32"]},
    {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32": r2["ChecksumCRC32"]}]})
composite = base64.b64encode(crc(crc(p1) + crc(p2))).decode() + "-2"
assert r["ChecksumCRC32"] == composite, (r, composite)
g = s3.get_object(Bucket="mpc", Key="k", ChecksumMode="ENABLED")
assert g["Body"].read() == p1 + p2
"#,
    );
}
