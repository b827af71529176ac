//! Raw HTTP: virtual-hosted-style addressing and aws-chunked bodies.

use crate::harness::Server;

#[test]
fn virtual_host_addressing() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="photos")
for host in ["photos.s3.localhost.localstack.cloud", f"photos.s3.localhost.localstack.cloud:{PORT}",
             "photos.s3.us-east-1.localhost.localstack.cloud", "photos.s3.amazonaws.com",
             "photos.s3.us-east-1.amazonaws.com", "photos.s3-us-east-1.amazonaws.com", f"photos.localhost:{PORT}"]:
    status, h, _ = raw("PUT", "/dir/cat%20pic.jpg", body=host.encode(), host=host)
    assert status == 200, (host, status)
    assert h["etag"] == '"' + hashlib.md5(host.encode()).hexdigest() + '"'
    status, _, body = raw("GET", "/dir/cat%20pic.jpg", host=host)
    assert status == 200 and body == host.encode(), (host, status, body)
    assert s3.get_object(Bucket="photos", Key="dir/cat pic.jpg")["Body"].read() == host.encode()
    status, _, body = raw("GET", "/?list-type=2", host=host)
    assert status == 200 and b"<Name>photos</Name>" in body and b"<Key>dir/cat pic.jpg</Key>" in body, body
# Path-style hosts.
for host in ["localhost", f"127.0.0.1:{PORT}", "s3.localhost.localstack.cloud", f"localhost.localstack.cloud:{PORT}",
             "s3.amazonaws.com", "s3.eu-west-1.amazonaws.com"]:
    status, _, body = raw("GET", "/photos/dir/cat%20pic.jpg", host=host)
    assert status == 200, (host, status, body)
status, _, body = raw("GET", "/", host="s3.localhost.localstack.cloud")
assert status == 200 and b"<Name>photos</Name>" in body and b"ListAllMyBucketsResult" in body
# Virtual host for a bucket that does not exist.
status, _, body = raw("GET", "/k", host="nope.s3.localhost.localstack.cloud")
assert status == 404 and b"NoSuchBucket" in body
"#,
    );
}

#[test]
fn aws_chunked_bodies() {
    let s = Server::start();
    s.python(
        r#"
import zlib
s3.create_bucket(Bucket="chunks")
data = os.urandom(100 * 1024 + 5)
crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
def frame(data, sizes, signed):
    out, i = b"", 0
    for n in sizes:
        sig = b";chunk-signature=" + b"0" * 64 if signed else b""
        out += b"%x" % n + sig + b"\r\n" + data[i:i + n] + b"\r\n"
        i += n
    return out

# Signed streaming (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), no trailer.
body = frame(data, [65536, len(data) - 65536], True) + b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
status, h, resp = raw("PUT", "/chunks/signed", body=body, headers={
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding": "aws-chunked",
    "x-amz-decoded-content-length": str(len(data))})
assert status == 200, resp
assert h["etag"] == '"' + hashlib.md5(data).hexdigest() + '"'
g = s3.get_object(Bucket="chunks", Key="signed")
assert g["Body"].read() == data
assert "ContentEncoding" not in g, g.get("ContentEncoding")

# Unsigned with a trailing CRC32 (what SDKs send over HTTPS by default).
body = frame(data, [8192] * 12 + [len(data) - 8192 * 12], False) + b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n"
status, h, resp = raw("PUT", "/chunks/trailer", body=body, headers={
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
    "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(len(data))})
assert status == 200, resp
assert h["x-amz-checksum-crc32"] == crc, h
g = s3.get_object(Bucket="chunks", Key="trailer", ChecksumMode="ENABLED")
assert g["Body"].read() == data and g["ChecksumCRC32"] == crc

# A wrong trailer checksum is refused and nothing is stored.
bad = frame(b"abc", [3], False) + b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
status, _, resp = raw("PUT", "/chunks/bad", body=bad, headers={
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
    "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": "3"})
assert status == 400 and b"BadDigest" in resp, resp
expect_error("NoSuchKey", 404, s3.get_object, Bucket="chunks", Key="bad")
# Broken framing.
status, _, resp = raw("PUT", "/chunks/broken", body=b"zz\r\nabc", headers={
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "3"})
assert status == 400, resp
status, _, resp = raw("PUT", "/chunks/short", body=b"5\r\nab", headers={
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "5"})
assert status == 400 and b"IncompleteBody" in resp, resp
"#,
    );
}
