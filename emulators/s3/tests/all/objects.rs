//! Object operations through boto3.

use crate::harness::Server;

#[test]
fn put_get_head_delete_with_metadata() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="objs")
r = s3.put_object(Bucket="objs", Key="hello.txt", Body=b"hello world",
                  ContentType="text/plain", Metadata={"color": "blue", "Mixed-Case": "v"},
                  ContentEncoding="identity", ContentDisposition="attachment; filename=x.txt",
                  CacheControl="max-age=60", ContentLanguage="en")
etag = '"' + hashlib.md5(b"hello world").hexdigest() + '"'
assert r["ETag"] == etag, r
assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-id-2"]
g = s3.get_object(Bucket="objs", Key="hello.txt")
assert g["Body"].read() == b"hello world"
assert g["ETag"] == etag
assert g["ContentType"] == "text/plain"
assert g["ContentLength"] == 11
assert g["Metadata"] == {"color": "blue", "mixed-case": "v"}, g["Metadata"]
assert g["ContentEncoding"] == "identity"
assert g["ContentDisposition"] == "attachment; filename=x.txt"
assert g["CacheControl"] == "max-age=60"
assert g["ContentLanguage"] == "en"
lm = g["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
assert lm.endswith(" GMT"), lm
h = s3.head_object(Bucket="objs", Key="hello.txt")
assert h["ContentLength"] == 11 and h["ETag"] == etag and h["Metadata"]["color"] == "blue"

# Default content type, empty body.
s3.put_object(Bucket="objs", Key="empty", Body=b"")
g = s3.get_object(Bucket="objs", Key="empty")
assert g["ContentType"] == "binary/octet-stream", g["ContentType"]
assert g["Body"].read() == b"" and g["ContentLength"] == 0
assert g["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'

# Overwrite, then delete (204 even when missing).
s3.put_object(Bucket="objs", Key="hello.txt", Body=b"second")
assert s3.get_object(Bucket="objs", Key="hello.txt")["Body"].read() == b"second"
r = s3.delete_object(Bucket="objs", Key="hello.txt")
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
r = s3.delete_object(Bucket="objs", Key="hello.txt")
assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
expect_error("NoSuchKey", 404, s3.get_object, Bucket="objs", Key="hello.txt")
expect_error("404", 404, s3.head_object, Bucket="objs", Key="hello.txt")

# Response header overrides.
s3.put_object(Bucket="objs", Key="o", Body=b"x")
g = s3.get_object(Bucket="objs", Key="o", ResponseContentType="image/png", ResponseCacheControl="no-cache")
assert g["ContentType"] == "image/png" and g["CacheControl"] == "no-cache"
"#,
    );
}

#[test]
fn large_bodies_stream_through_files() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="large")
data = os.urandom(3 * 1024 * 1024 + 17)
s3.put_object(Bucket="large", Key="blob", Body=data)
g = s3.get_object(Bucket="large", Key="blob")
assert g["Body"].read() == data
g = s3.get_object(Bucket="large", Key="blob", Range="bytes=1048570-1048580")
assert g["Body"].read() == data[1048570:1048581]
assert g["ContentRange"] == f"bytes 1048570-1048580/{len(data)}"
s3.put_object(Bucket="large", Key="blob", Body=b"small now")
assert s3.get_object(Bucket="large", Key="blob")["Body"].read() == b"small now"
s3.delete_object(Bucket="large", Key="blob")
"#,
    );
    // Overwrite and delete removed the body files; tmp is clean too.
    let blobs = std::fs::read_dir(s.store.blob_dir()).unwrap().count();
    let tmp = std::fs::read_dir(s.store.tmp_dir()).unwrap().count();
    assert_eq!((blobs, tmp), (0, 0));
}

#[test]
fn ranges_and_conditionals() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="rng")
s3.put_object(Bucket="rng", Key="k", Body=b"0123456789")
def rng(r):
    g = s3.get_object(Bucket="rng", Key="k", Range=r)
    return g["ResponseMetadata"]["HTTPStatusCode"], g.get("ContentRange"), g["Body"].read()
assert rng("bytes=0-4") == (206, "bytes 0-4/10", b"01234")
assert rng("bytes=5-") == (206, "bytes 5-9/10", b"56789")
assert rng("bytes=-3") == (206, "bytes 7-9/10", b"789")
assert rng("bytes=8-100") == (206, "bytes 8-9/10", b"89")
assert rng("bytes=5-2")[0] == 200
e = expect_error("InvalidRange", 416, s3.get_object, Bucket="rng", Key="k", Range="bytes=10-")
assert e["Error"]["Message"] == "The requested range is not satisfiable"
assert e["Error"]["ActualObjectSize"] == "10" and e["Error"]["RangeRequested"] == "bytes=10-"

etag = s3.head_object(Bucket="rng", Key="k")["ETag"]
assert s3.get_object(Bucket="rng", Key="k", IfMatch=etag)["Body"].read() == b"0123456789"
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="rng", Key="k", IfMatch='"nope"')
expect_error("304", 304, s3.get_object, Bucket="rng", Key="k", IfNoneMatch=etag)
future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
expect_error("304", 304, s3.get_object, Bucket="rng", Key="k", IfModifiedSince=future)
assert s3.get_object(Bucket="rng", Key="k", IfModifiedSince=past)["ContentLength"] == 10
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="rng", Key="k", IfUnmodifiedSince=past)
# Conditional write: If-None-Match: * refuses to overwrite.
expect_error("PreconditionFailed", 412, s3.put_object, Bucket="rng", Key="k", Body=b"x", IfNoneMatch="*")
s3.put_object(Bucket="rng", Key="new", Body=b"x", IfNoneMatch="*")
"#,
    );
}

#[test]
fn checksums_and_digests() {
    let s = Server::start();
    s.python(
        r#"
import zlib
s3.create_bucket(Bucket="sums")
data = b"hello world"
crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
# CRC32C needs botocore[crt] on the client; the unit tests cover it.
for alg in ["CRC32", "SHA1", "SHA256"]:
    r = s3.put_object(Bucket="sums", Key=alg, Body=data, ChecksumAlgorithm=alg)
    value = r["Checksum" + alg]
    g = s3.get_object(Bucket="sums", Key=alg, ChecksumMode="ENABLED")
    assert g["Body"].read() == data
    assert g["Checksum" + alg] == value, (alg, g)
    h = s3.head_object(Bucket="sums", Key=alg, ChecksumMode="ENABLED")
    assert h["Checksum" + alg] == value
assert s3.head_object(Bucket="sums", Key="CRC32", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc
sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
assert s3.head_object(Bucket="sums", Key="SHA256", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha
# Not returned without checksum mode.
assert "ChecksumCRC32" not in s3.head_object(Bucket="sums", Key="CRC32")

# A wrong checksum or Content-MD5 is refused.
expect_error("BadDigest", 400, s3.put_object, Bucket="sums", Key="bad", Body=data, ChecksumCRC32="AAAAAA==")
bad_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
expect_error("BadDigest", 400, s3.put_object, Bucket="sums", Key="bad", Body=data, ContentMD5=bad_md5)
expect_error("InvalidDigest", 400, s3.put_object, Bucket="sums", Key="bad", Body=data, ContentMD5="nope")
good_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
s3.put_object(Bucket="sums", Key="good", Body=data, ContentMD5=good_md5)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="sums", Key="bad")
"#,
    );
}

#[test]
fn copy_object() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="src")
s3.create_bucket(Bucket="dst")
s3.put_object(Bucket="src", Key="dir/a b+c.txt", Body=b"copy me", ContentType="text/plain", Metadata={"m": "1"})
r = s3.copy_object(Bucket="dst", Key="copied", CopySource={"Bucket": "src", "Key": "dir/a b+c.txt"})
etag = '"' + hashlib.md5(b"copy me").hexdigest() + '"'
assert r["CopyObjectResult"]["ETag"] == etag
assert isinstance(r["CopyObjectResult"]["LastModified"], datetime.datetime)
g = s3.get_object(Bucket="dst", Key="copied")
assert g["Body"].read() == b"copy me" and g["ContentType"] == "text/plain" and g["Metadata"] == {"m": "1"}
s3.copy_object(Bucket="dst", Key="replaced", CopySource="src/dir/a b+c.txt",
               MetadataDirective="REPLACE", ContentType="application/json", Metadata={"n": "2"})
g = s3.get_object(Bucket="dst", Key="replaced")
assert g["ContentType"] == "application/json" and g["Metadata"] == {"n": "2"}
# Copy onto itself needs REPLACE.
expect_error("InvalidRequest", 400, s3.copy_object, Bucket="src", Key="dir/a b+c.txt",
             CopySource={"Bucket": "src", "Key": "dir/a b+c.txt"})
s3.copy_object(Bucket="src", Key="dir/a b+c.txt", CopySource={"Bucket": "src", "Key": "dir/a b+c.txt"},
               MetadataDirective="REPLACE", Metadata={"x": "y"})
expect_error("NoSuchKey", 404, s3.copy_object, Bucket="dst", Key="x", CopySource={"Bucket": "src", "Key": "missing"})
expect_error("NoSuchBucket", 404, s3.copy_object, Bucket="dst", Key="x", CopySource={"Bucket": "nosuch", "Key": "k"})
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="dst", Key="x",
             CopySource={"Bucket": "src", "Key": "dir/a b+c.txt"}, CopySourceIfMatch='"nope"')
# A large copy goes file to file.
big = os.urandom(200 * 1024)
s3.put_object(Bucket="src", Key="big", Body=big)
s3.copy_object(Bucket="dst", Key="big", CopySource="src/big")
assert s3.get_object(Bucket="dst", Key="big")["Body"].read() == big
"#,
    );
}

#[test]
fn delete_objects() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="del")
for k in ["a", "b", "c d"]:
    s3.put_object(Bucket="del", Key=k, Body=b"x")
r = s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": "a"}, {"Key": "c d"}, {"Key": "never"}]})
assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "c d", "never"], r
assert "Errors" not in r
r = s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": "b"}], "Quiet": True})
assert "Deleted" not in r, r
assert s3.list_objects_v2(Bucket="del")["KeyCount"] == 0
"#,
    );
}

#[test]
fn awkward_keys_round_trip() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="keys")
keys = ["with space", "plus+sign", "ünïcödé/日本", "../../etc/passwd", "percent%20literal",
        "a/b//c", "?question#hash&amp", "x" * 1024, "trailing/", " lead", "tab\tkey", "quote\"'<>"]
for k in keys:
    s3.put_object(Bucket="keys", Key=k, Body=k.encode())
for k in keys:
    assert s3.get_object(Bucket="keys", Key=k)["Body"].read() == k.encode(), k
listed = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="keys"):
    listed += [o["Key"] for o in page.get("Contents", [])]
assert sorted(listed, key=lambda k: k.encode()) == listed
assert sorted(listed) == sorted(keys), listed
v1 = [o["Key"] for o in s3.list_objects(Bucket="keys")["Contents"]]
assert sorted(v1) == sorted(keys)
expect_error("KeyTooLongError", 400, s3.put_object, Bucket="keys", Key="y" * 1025, Body=b"")
"#,
    );
    // Nothing escaped the store: only generated names in blobs/ and the database.
    for entry in std::fs::read_dir(s.store.root()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            [
                "blobs",
                "tmp",
                "state.db",
                "state.db-wal",
                "state.db-shm",
                "cache"
            ]
            .contains(&name.as_str()),
            "unexpected {name}"
        );
    }
}
