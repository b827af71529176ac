//! ListObjects and ListObjectsV2 as AWS documents them.

use crate::harness::Server;

#[test]
fn list_objects_v2_paging_delimiters_start_after() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="list")
keys = ["a.txt", "photos/2023/jan.jpg", "photos/2023/feb.jpg", "photos/2024/mar.jpg",
        "photos/top.jpg", "videos/v.mp4", "z.txt", "sp ace/x"]
for k in keys:
    s3.put_object(Bucket="list", Key=k, Body=b"12")
r = s3.list_objects_v2(Bucket="list")
assert r["KeyCount"] == 8 and not r["IsTruncated"] and r["MaxKeys"] == 1000
assert [o["Key"] for o in r["Contents"]] == sorted(keys)
o = r["Contents"][0]
assert o["Size"] == 2 and o["ETag"] == '"' + hashlib.md5(b"12").hexdigest() + '"'
assert o["StorageClass"] == "STANDARD" and isinstance(o["LastModified"], datetime.datetime)
assert "Owner" not in o
assert "Owner" in s3.list_objects_v2(Bucket="list", FetchOwner=True)["Contents"][0]

# Pagination: continuation tokens walk every key exactly once.
seen, token, pages = [], None, 0
while True:
    kw = {"ContinuationToken": token} if token else {}
    r = s3.list_objects_v2(Bucket="list", MaxKeys=3, **kw)
    pages += 1
    seen += [o["Key"] for o in r.get("Contents", [])]
    assert r["KeyCount"] == len(r.get("Contents", []))
    if not r["IsTruncated"]:
        assert "NextContinuationToken" not in r
        break
    token = r["NextContinuationToken"]
assert seen == sorted(keys) and pages == 3, (seen, pages)

# Delimiter: common prefixes count against MaxKeys once each.
r = s3.list_objects_v2(Bucket="list", Delimiter="/")
assert [o["Key"] for o in r["Contents"]] == ["a.txt", "z.txt"]
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/", "sp ace/", "videos/"]
assert r["KeyCount"] == 5
r = s3.list_objects_v2(Bucket="list", Prefix="photos/", Delimiter="/")
assert [o["Key"] for o in r["Contents"]] == ["photos/top.jpg"]
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2023/", "photos/2024/"]
# Paging through prefixes with a delimiter.
entries, token = [], None
while True:
    kw = {"ContinuationToken": token} if token else {}
    r = s3.list_objects_v2(Bucket="list", Delimiter="/", MaxKeys=2, **kw)
    entries += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
    if not r["IsTruncated"]:
        break
    token = r["NextContinuationToken"]
assert sorted(entries) == ["a.txt", "photos/", "sp ace/", "videos/", "z.txt"], entries

r = s3.list_objects_v2(Bucket="list", StartAfter="photos/2024/mar.jpg")
assert [o["Key"] for o in r["Contents"]] == ["photos/top.jpg", "sp ace/x", "videos/v.mp4", "z.txt"]
assert r["StartAfter"] == "photos/2024/mar.jpg"
r = s3.list_objects_v2(Bucket="list", Prefix="nothing")
assert r["KeyCount"] == 0 and "Contents" not in r
r = s3.list_objects_v2(Bucket="list", MaxKeys=0)
assert r["KeyCount"] == 0 and not r["IsTruncated"]

# botocore sends encoding-type=url by default and decodes the answer; asked for
# explicitly, it hands back S3's form-encoded values.
r = s3.list_objects_v2(Bucket="list", Prefix="sp ace/")
assert [o["Key"] for o in r["Contents"]] == ["sp ace/x"] and r["Prefix"] == "sp ace/"
r = s3.list_objects_v2(Bucket="list", EncodingType="url", Prefix="sp ace/")
assert [o["Key"] for o in r["Contents"]] == ["sp+ace/x"] and r["Prefix"] == "sp+ace/", r
status, _, body = raw("GET", "/list?list-type=2&encoding-type=url&prefix=sp%20ace")
assert status == 200 and b"<Key>sp+ace/x</Key>" in body, body
expect_error("InvalidArgument", 400, s3.list_objects_v2, Bucket="list", ContinuationToken="%%%")
expect_error("NoSuchBucket", 404, s3.list_objects_v2, Bucket="nope")
"#,
    );
}

#[test]
fn list_objects_v1_markers() {
    let s = Server::start();
    s.python(
        r#"
s3.create_bucket(Bucket="v1-bucket")
keys = ["a/1", "a/2", "b", "c/1", "d"]
for k in keys:
    s3.put_object(Bucket="v1-bucket", Key=k, Body=b"x")
r = s3.list_objects(Bucket="v1-bucket", MaxKeys=2)
assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"] and r["IsTruncated"]
assert "NextMarker" not in r  # only with a delimiter
assert "Owner" in r["Contents"][0]
r = s3.list_objects(Bucket="v1-bucket", Marker="a/2")
assert [o["Key"] for o in r["Contents"]] == ["b", "c/1", "d"] and not r["IsTruncated"]
assert r["Marker"] == "a/2"
r = s3.list_objects(Bucket="v1-bucket", Delimiter="/", MaxKeys=2)
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"] and [o["Key"] for o in r["Contents"]] == ["b"]
assert r["IsTruncated"] and r["NextMarker"] == "b"
r = s3.list_objects(Bucket="v1-bucket", Delimiter="/", MaxKeys=2, Marker=r["NextMarker"])
assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/"] and [o["Key"] for o in r["Contents"]] == ["d"]
assert not r["IsTruncated"]
# A common prefix as marker is not repeated.
r = s3.list_objects(Bucket="v1-bucket", Delimiter="/", Marker="a/")
assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["c/"], r
all_keys = []
for page in s3.get_paginator("list_objects").paginate(Bucket="v1-bucket", PaginationConfig={"PageSize": 2}):
    all_keys += [o["Key"] for o in page["Contents"]]
assert all_keys == keys
"#,
    );
}
