//! Log groups, log streams, tags and the errors around them, through boto3.

use crate::harness::Server;

#[test]
fn log_groups() {
    let server = Server::start_virtual();
    server.python(
        r#"
for name in ["/aws/lambda/a", "/aws/lambda/b", "/app/web", "/app/worker", "plain"]:
    logs.create_log_group(logGroupName=name)
expect_error("ResourceAlreadyExistsException", logs.create_log_group, logGroupName="plain")
expect_error("InvalidParameterException", logs.create_log_group, logGroupName="bad name!")
expect_error("InvalidParameterException", logs.create_log_group, logGroupName="x" * 513)

groups = logs.describe_log_groups()["logGroups"]
assert [g["logGroupName"] for g in groups] == ["/app/web", "/app/worker", "/aws/lambda/a", "/aws/lambda/b", "plain"], groups
g = groups[0]
assert g["creationTime"] == NOW, g
assert g["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web:*", g
assert g["logGroupArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web", g
assert g["storedBytes"] == 0 and "retentionInDays" not in g, g

# Prefix, pattern, pagination.
names = lambda r: [g["logGroupName"] for g in r["logGroups"]]
assert names(logs.describe_log_groups(logGroupNamePrefix="/aws/")) == ["/aws/lambda/a", "/aws/lambda/b"]
assert names(logs.describe_log_groups(logGroupNamePattern="WORK")) == ["/app/worker"]
expect_error("InvalidParameterException", logs.describe_log_groups, logGroupNamePrefix="/a", logGroupNamePattern="b")
page = logs.describe_log_groups(limit=2)
assert names(page) == ["/app/web", "/app/worker"] and "nextToken" in page, page
page = logs.describe_log_groups(limit=2, nextToken=page["nextToken"])
assert names(page) == ["/aws/lambda/a", "/aws/lambda/b"], page
page = logs.describe_log_groups(limit=2, nextToken=page["nextToken"])
assert names(page) == ["plain"] and "nextToken" not in page, page
all_names = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 1}) for g in p["logGroups"]]
assert len(all_names) == 5, all_names
expect_error("InvalidParameterException", logs.describe_log_groups, limit=51)

# Delete.
logs.delete_log_group(logGroupName="plain")
expect_error("ResourceNotFoundException", logs.delete_log_group, logGroupName="plain")
assert "plain" not in names(logs.describe_log_groups())

# Retention.
logs.put_retention_policy(logGroupName="/app/web", retentionInDays=7)
assert logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]["retentionInDays"] == 7
msg = expect_error("InvalidParameterException", logs.put_retention_policy, logGroupName="/app/web", retentionInDays=4)
assert "retentionInDays" in msg, msg
expect_error("ResourceNotFoundException", logs.put_retention_policy, logGroupName="nope", retentionInDays=7)
logs.delete_retention_policy(logGroupName="/app/web")
assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix="/app/web")["logGroups"][0]
expect_error("ResourceNotFoundException", logs.delete_retention_policy, logGroupName="nope")
"#,
    );
}

#[test]
fn tags() {
    let server = Server::start_virtual();
    server.python(
        r#"
logs.create_log_group(logGroupName="tagged", tags={"team": "a"})
assert logs.list_tags_log_group(logGroupName="tagged")["tags"] == {"team": "a"}
logs.tag_log_group(logGroupName="tagged", tags={"env": "dev"})
logs.untag_log_group(logGroupName="tagged", tags=["team"])
assert logs.list_tags_log_group(logGroupName="tagged")["tags"] == {"env": "dev"}
arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
logs.tag_resource(resourceArn=arn, tags={"cost": "1"})
assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "cost": "1"}
assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"env": "dev", "cost": "1"}
logs.untag_resource(resourceArn=arn, tagKeys=["env"])
assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost": "1"}
expect_error("ResourceNotFoundException", logs.list_tags_log_group, logGroupName="nope")
expect_error("ResourceNotFoundException", logs.tag_resource, resourceArn=arn.replace("tagged", "nope"), tags={"a": "b"})
expect_error("TooManyTagsException", logs.tag_resource, resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
"#,
    );
}

#[test]
fn log_streams() {
    let server = Server::start_virtual();
    server.python(
        r#"
expect_error("ResourceNotFoundException", logs.create_log_stream, logGroupName="g", logStreamName="s")
logs.create_log_group(logGroupName="g")
for s in ["b", "a", "c"]:
    logs.create_log_stream(logGroupName="g", logStreamName=s)
    advance(1)
expect_error("ResourceAlreadyExistsException", logs.create_log_stream, logGroupName="g", logStreamName="a")
expect_error("InvalidParameterException", logs.create_log_stream, logGroupName="g", logStreamName="a:b")
names = lambda r: [s["logStreamName"] for s in r["logStreams"]]
streams = logs.describe_log_streams(logGroupName="g")
assert names(streams) == ["a", "b", "c"], streams
a = streams["logStreams"][0]
assert a["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:g:log-stream:a", a
assert "firstEventTimestamp" not in a and a["storedBytes"] == 0, a

# Events make LastEventTime ordering differ from names: c oldest, a newest.
put("g", "c", (NOW - 3 * MINUTE, "c1"))
put("g", "b", (NOW - 2 * MINUTE, "b1"))
put("g", "a", (NOW - 1 * MINUTE, "a1"), (NOW - 30_000, "a2"))
assert names(logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime")) == ["c", "b", "a"]
assert names(logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)) == ["a", "b", "c"]
assert names(logs.describe_log_streams(logGroupName="g", descending=True)) == ["c", "b", "a"]
assert names(logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="b")) == ["b"]
expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="a")
expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName="g", orderBy="Size")
a = logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="a")["logStreams"][0]
assert a["firstEventTimestamp"] == NOW - MINUTE and a["lastEventTimestamp"] == NOW - 30_000, a
assert a["lastIngestionTime"] == NOW and a["storedBytes"] == 4, a

page = logs.describe_log_streams(logGroupName="g", limit=2)
assert names(page) == ["a", "b"] and "nextToken" in page
page = logs.describe_log_streams(logGroupName="g", limit=2, nextToken=page["nextToken"])
assert names(page) == ["c"] and "nextToken" not in page

# The group by ARN (logGroupIdentifier).
arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
assert names(logs.describe_log_streams(logGroupIdentifier=arn)) == ["a", "b", "c"]
expect_error("ResourceNotFoundException", logs.describe_log_streams, logGroupName="nope")

logs.delete_log_stream(logGroupName="g", logStreamName="a")
expect_error("ResourceNotFoundException", logs.delete_log_stream, logGroupName="g", logStreamName="a")
expect_error("ResourceNotFoundException", logs.delete_log_stream, logGroupName="nope", logStreamName="a")
assert names(logs.describe_log_streams(logGroupName="g")) == ["b", "c"]
# Deleting the group deletes its streams and events.
logs.delete_log_group(logGroupName="g")
logs.create_log_group(logGroupName="g")
assert logs.describe_log_streams(logGroupName="g")["logStreams"] == []
"#,
    );
}

#[test]
fn protocol_errors() {
    let server = Server::start_virtual();
    server.python(
        r#"
# Operations slcl does not implement say so, naming the operation.
status, headers, body = raw("Logs_20140328.StartQuery", {"logGroupName": "g", "startTime": 0, "endTime": 1, "queryString": "x"})
assert status == 501 and body["__type"] == "NotImplemented" and "StartQuery" in body["message"], (status, body)
assert headers["content-type"] == "application/x-amz-json-1.1", headers
try:
    logs.start_query(logGroupName="g", startTime=0, endTime=1, queryString="fields @message")
    raise AssertionError("expected NotImplemented")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "NotImplemented", e.response
# Modeled errors: 400 with the shape name as __type.
status, headers, body = raw("Logs_20140328.DeleteLogGroup", {"logGroupName": "nope"})
assert status == 400 and body["__type"] == "ResourceNotFoundException", body
assert body["message"] == "The specified log group does not exist.", body
assert "x-amzn-requestid" in headers
status, _, body = raw("Logs_20140328.CreateLogGroup", {})
assert status == 400 and body["__type"] == "InvalidParameterException", body
status, _, body = raw("Logs_20140328.CreateLogGroup", b"{not json")
assert status == 400 and body["__type"] == "SerializationException", body
"#,
    );
}
