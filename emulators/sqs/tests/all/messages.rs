//! Sending, receiving, deleting and visibility through boto3: digests checked against
//! AWS's documented algorithm computed in Python, receipt-handle rules, batch rules,
//! message content rules and attribute filters.

use crate::harness::Server;

#[test]
fn send_receive_digests_and_attribute_filters() {
    let s = Server::start();
    s.python(
        r#"
q = sqs.create_queue(QueueName="m")["QueueUrl"]
body = "héllo wörld ✓ 𝄞 \t\n\r end"
mattrs = {"color": {"DataType": "String", "StringValue": "red"},
          "count": {"DataType": "Number", "StringValue": "42.5"},
          "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
          "app.kind": {"DataType": "String.custom", "StringValue": "k"},
          "app.size": {"DataType": "Number.int", "StringValue": "7"}}
sattrs = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}}
r = sqs.send_message(QueueUrl=q, MessageBody=body, MessageAttributes=mattrs, MessageSystemAttributes=sattrs)
assert r["MD5OfMessageBody"] == md5(body.encode()), r
assert r["MD5OfMessageAttributes"] == attrs_md5(mattrs), r
assert r["MD5OfMessageSystemAttributes"] == attrs_md5(sattrs), r
assert "SequenceNumber" not in r
mid = r["MessageId"]

m = recv(q, AttributeNames=["All"], MessageAttributeNames=["All"])[0]
assert m["MessageId"] == mid and m["Body"] == body and m["MD5OfBody"] == md5(body.encode())
assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xff"
assert m["MessageAttributes"]["count"] == {"DataType": "Number", "StringValue": "42.5"}
assert m["MD5OfMessageAttributes"] == attrs_md5(mattrs)
a = m["Attributes"]
assert a["ApproximateReceiveCount"] == "1" and a["SenderId"] == ACCOUNT
assert a["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
now_ms = time.time() * 1000
assert abs(int(a["SentTimestamp"]) - now_ms) < 60000 and int(a["ApproximateFirstReceiveTimestamp"]) >= int(a["SentTimestamp"])
assert "MessageGroupId" not in a

# Filters: only what was asked for; the attributes digest covers what is returned.
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
m = recv(q, MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
         MessageAttributeNames=["app.*", "color"])[0]
assert set(m["Attributes"]) == {"ApproximateReceiveCount", "SentTimestamp"}, m
assert m["Attributes"]["ApproximateReceiveCount"] == "2"
assert set(m["MessageAttributes"]) == {"app.kind", "app.size", "color"}
assert m["MD5OfMessageAttributes"] == attrs_md5({k: mattrs[k] for k in ["app.kind", "app.size", "color"]})
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
m = recv(q)[0]
assert "Attributes" not in m and "MessageAttributes" not in m and "MD5OfMessageAttributes" not in m
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
m = recv(q, MessageAttributeNames=[".*"], AttributeNames=["SenderId"])[0]
assert len(m["MessageAttributes"]) == 5 and list(m["Attributes"]) == ["SenderId"]
expect_error("InvalidAttributeName", 400, sqs.receive_message, QueueUrl=q, AttributeNames=["Nope"])

# Receipt handles: a new one per receive; an older one still deletes in a standard queue.
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
old = m["ReceiptHandle"]
newer = recv(q)[0]["ReceiptHandle"]
assert newer != old
sqs.delete_message(QueueUrl=q, ReceiptHandle=old)
assert recv(q) == [] and attrs(q, "ApproximateNumberOfMessagesNotVisible")["ApproximateNumberOfMessagesNotVisible"] == "0"
sqs.delete_message(QueueUrl=q, ReceiptHandle=newer)  # already gone: still success
expect_error("ReceiptHandleIsInvalid", 404, sqs.delete_message, QueueUrl=q, ReceiptHandle="garbage",
             exception="ReceiptHandleIsInvalid")
other = sqs.create_queue(QueueName="other")["QueueUrl"]
sqs.send_message(QueueUrl=other, MessageBody="o")
oh = recv(other)[0]["ReceiptHandle"]
expect_error("ReceiptHandleIsInvalid", 404, sqs.delete_message, QueueUrl=q, ReceiptHandle=oh)
expect_error("MissingParameter", 400, sqs.delete_message, QueueUrl=q, ReceiptHandle="")

# Visibility changes.
sqs.send_message(QueueUrl=q, MessageBody="v")
h = recv(q)[0]["ReceiptHandle"]
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=h, VisibilityTimeout=0)
expect_error("AWS.SimpleQueueService.MessageNotInflight", 400, sqs.change_message_visibility, QueueUrl=q,
             ReceiptHandle=h, VisibilityTimeout=10, exception="MessageNotInflight")
h = recv(q)[0]["ReceiptHandle"]
expect_error("InvalidParameterValue", 400, sqs.change_message_visibility, QueueUrl=q, ReceiptHandle=h,
             VisibilityTimeout=43201)
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=h, VisibilityTimeout=43200)
expect_error("ReceiptHandleIsInvalid", 404, sqs.change_message_visibility, QueueUrl=q, ReceiptHandle="x!",
             VisibilityTimeout=1)
sqs.delete_message(QueueUrl=q, ReceiptHandle=h)
expect_error("InvalidParameterValue", 400, sqs.change_message_visibility, QueueUrl=q, ReceiptHandle=h,
             VisibilityTimeout=1)

# Receive parameter ranges.
for kw in [{"MaxNumberOfMessages": 0}, {"MaxNumberOfMessages": 11}, {"WaitTimeSeconds": 21},
           {"VisibilityTimeout": 43201}, {"VisibilityTimeout": -1}]:
    expect_error("InvalidParameterValue", 400, sqs.receive_message, QueueUrl=q, **kw)

# Message contents and sizes.
for bad in ["a\x00b", "bell\x07", "\ufffe", "\uffff"]:
    expect_error("InvalidMessageContents", 400, sqs.send_message, QueueUrl=q, MessageBody=bad,
                 exception="InvalidMessageContents")
expect_error("MissingParameter", 400, sqs.send_message, QueueUrl=q, MessageBody="")
big = "x" * 1048576
sqs.send_message(QueueUrl=q, MessageBody=big)
err = expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody=big + "x")
assert "1048576" in err["Message"], err
sqs.set_queue_attributes(QueueUrl=q, Attributes={"MaximumMessageSize": "1024"})
# The limit counts the body and the attributes' names, types and values.
sqs.send_message(QueueUrl=q, MessageBody="x" * 1016, MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}})
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody="x" * 1016,
             MessageAttributes={"ab": {"DataType": "String", "StringValue": "cd"}})
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody="x", DelaySeconds=901)
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody="x", MessageDeduplicationId="d")

# Message attribute rules.
def bad_attrs(a):
    expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody="x", MessageAttributes=a)
bad_attrs({f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
bad_attrs({"AWS.x": {"DataType": "String", "StringValue": "v"}})
bad_attrs({"a..b": {"DataType": "String", "StringValue": "v"}})
bad_attrs({".a": {"DataType": "String", "StringValue": "v"}})
bad_attrs({"a": {"DataType": "Float", "StringValue": "1"}})
bad_attrs({"a": {"DataType": "Number", "StringValue": "one"}})
bad_attrs({"a": {"DataType": "String"}})
bad_attrs({"a": {"DataType": "Binary", "StringValue": "x"}})
bad_attrs({"a": {"DataType": "String", "StringListValues": ["x"]}})
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=q, MessageBody="x",
             MessageSystemAttributes={"AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}})
"#,
    );
}

#[test]
fn batches() {
    let s = Server::start();
    s.python(
        r#"
q = sqs.create_queue(QueueName="b")["QueueUrl"]
entries = [{"Id": f"m{i}", "MessageBody": f"body {i}",
            "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}}} for i in range(9)]
entries.append({"Id": "bad", "MessageBody": "nul\x00"})
r = sqs.send_message_batch(QueueUrl=q, Entries=entries)
ok = {e["Id"]: e for e in r["Successful"]}
assert len(ok) == 9, r
for e in entries[:9]:
    assert ok[e["Id"]]["MD5OfMessageBody"] == md5(e["MessageBody"].encode())
    assert ok[e["Id"]]["MD5OfMessageAttributes"] == attrs_md5(e["MessageAttributes"])
assert r["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents",
                        "Message": r["Failed"][0]["Message"]}], r

expect_error("AWS.SimpleQueueService.EmptyBatchRequest", 400, sqs.send_message_batch, QueueUrl=q, Entries=[],
             exception="EmptyBatchRequest")
expect_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, sqs.send_message_batch, QueueUrl=q,
             Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)], exception="TooManyEntriesInBatchRequest")
expect_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, sqs.send_message_batch, QueueUrl=q,
             Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}], exception="BatchEntryIdsNotDistinct")
expect_error("AWS.SimpleQueueService.InvalidBatchEntryId", 400, sqs.send_message_batch, QueueUrl=q,
             Entries=[{"Id": "no spaces", "MessageBody": "x"}], exception="InvalidBatchEntryId")
expect_error("AWS.SimpleQueueService.InvalidBatchEntryId", 400, sqs.send_message_batch, QueueUrl=q,
             Entries=[{"Id": "x" * 81, "MessageBody": "x"}])
expect_error("AWS.SimpleQueueService.BatchRequestTooLong", 400, sqs.send_message_batch, QueueUrl=q,
             Entries=[{"Id": str(i), "MessageBody": "x" * 300000} for i in range(4)], exception="BatchRequestTooLong")

got = recv(q, 10, VisibilityTimeout=60)
assert len(got) == 9
r = sqs.change_message_visibility_batch(QueueUrl=q, Entries=
    [{"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
     {"Id": "b", "ReceiptHandle": "junk", "VisibilityTimeout": 0},
     {"Id": "c", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 50000}])
assert [e["Id"] for e in r["Successful"]] == ["a"]
failed = {e["Id"]: e["Code"] for e in r["Failed"]}
assert failed == {"b": "ReceiptHandleIsInvalid", "c": "InvalidParameterValue"}, r
expect_error("AWS.SimpleQueueService.EmptyBatchRequest", 400, sqs.change_message_visibility_batch, QueueUrl=q, Entries=[])

r = sqs.delete_message_batch(QueueUrl=q, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]}
                                                   for i, m in enumerate(got[1:])] + [{"Id": "junk", "ReceiptHandle": "junk"}])
assert len(r["Successful"]) == 8 and r["Failed"][0]["Id"] == "junk" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
expect_error("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, sqs.delete_message_batch, QueueUrl=q,
             Entries=[{"Id": "a", "ReceiptHandle": "x"}, {"Id": "a", "ReceiptHandle": "y"}])
expect_error("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, sqs.delete_message_batch, QueueUrl=q,
             Entries=[{"Id": str(i), "ReceiptHandle": "x"} for i in range(11)])
left = recv(q, 10)
assert [m["Body"] for m in left] == ["body 0"], left
"#,
    );
}
