//! Time-based behaviour on a virtual clock, driven by boto3 over HTTP while the
//! script moves the clock with `advance`: visibility timeouts, delays, retention,
//! dead-letter redrive, FIFO ordering, group locking and deduplication, long polls.

use crate::harness::Server;

#[test]
fn visibility_delay_retention_and_redrive() {
    let s = Server::start_virtual();
    s.python(
        r#"
q = sqs.create_queue(QueueName="t", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="one")
m = recv(q, AttributeNames=["All"])[0]
first = m["Attributes"]["ApproximateFirstReceiveTimestamp"]
assert recv(q) == []
a = attrs(q)
assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1"), a
advance(29.9)
assert recv(q) == []
advance(0.1)
m2 = recv(q, AttributeNames=["All"], VisibilityTimeout=100)[0]
assert m2["MessageId"] == m["MessageId"] and m2["Attributes"]["ApproximateReceiveCount"] == "2"
assert m2["Attributes"]["ApproximateFirstReceiveTimestamp"] == first
advance(99)
assert recv(q) == []
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=5)
advance(5)
m3 = recv(q)[0]
sqs.delete_message(QueueUrl=q, ReceiptHandle=m3["ReceiptHandle"])

# The 12-hour ceiling counts from the receive.
sqs.send_message(QueueUrl=q, MessageBody="long")
h = recv(q, VisibilityTimeout=43200)[0]["ReceiptHandle"]
advance(3600)
expect_error("InvalidParameterValue", 400, sqs.change_message_visibility, QueueUrl=q, ReceiptHandle=h,
             VisibilityTimeout=43200)
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=h, VisibilityTimeout=39600)
sqs.delete_message(QueueUrl=q, ReceiptHandle=h)

# Delays: per message and per queue.
sqs.send_message(QueueUrl=q, MessageBody="later", DelaySeconds=10)
a = attrs(q)
assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesDelayed"]) == ("0", "1"), a
assert recv(q) == []
advance(10)
assert [x["Body"] for x in recv(q, VisibilityTimeout=0)] == ["later"]
sqs.purge_queue(QueueUrl=q)
sqs.set_queue_attributes(QueueUrl=q, Attributes={"DelaySeconds": "60"})
sqs.send_message(QueueUrl=q, MessageBody="queue-delayed")
sqs.send_message(QueueUrl=q, MessageBody="not-delayed", DelaySeconds=0)
assert [x["Body"] for x in recv(q, VisibilityTimeout=0)] == ["not-delayed"]
advance(60)
assert sorted(x["Body"] for x in recv(q, VisibilityTimeout=0)) == ["not-delayed", "queue-delayed"]

# Retention.
r = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
sqs.send_message(QueueUrl=r, MessageBody="expiring")
advance(59)
assert attrs(r, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"
advance(1)
assert attrs(r, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
assert recv(r) == []

# Dead-letter queue after maxReceiveCount receives.
dlq = sqs.create_queue(QueueName="t-dlq")["QueueUrl"]
dlq_arn = attrs(dlq, "QueueArn")["QueueArn"]
src = sqs.create_queue(QueueName="t-src", Attributes={"VisibilityTimeout": "5", "RedrivePolicy": json.dumps(
    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
src_arn = attrs(src, "QueueArn")["QueueArn"]
mid = sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})["MessageId"]
for expected in ["1", "2"]:
    got = recv(src, AttributeNames=["ApproximateReceiveCount"])
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == expected, got
    advance(5)
assert recv(src) == []  # the third receive moves it instead
d = recv(dlq, AttributeNames=["All"], MessageAttributeNames=["All"])
assert len(d) == 1 and d[0]["MessageId"] == mid and d[0]["Body"] == "poison", d
assert d[0]["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
assert d[0]["MessageAttributes"]["k"]["StringValue"] == "v"
assert attrs(src, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
"#,
    );
}

#[test]
fn fifo_order_group_locking_and_deduplication() {
    let s = Server::start_virtual();
    s.python(
        r#"
f = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
expect_error("MissingParameter", 400, sqs.send_message, QueueUrl=f, MessageBody="x", MessageDeduplicationId="d")
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=f, MessageBody="x", MessageGroupId="g")
expect_error("InvalidParameterValue", 400, sqs.send_message, QueueUrl=f, MessageBody="x", MessageGroupId="g",
             MessageDeduplicationId="d", DelaySeconds=5)
seqs = []
for i in range(3):
    for g in ["A", "B"]:
        r = sqs.send_message(QueueUrl=f, MessageBody=f"{g}{i}", MessageGroupId=g, MessageDeduplicationId=f"{g}{i}")
        seqs.append(int(r["SequenceNumber"]))
        assert len(r["SequenceNumber"]) == 20
assert seqs == sorted(seqs) and len(set(seqs)) == 6

# A duplicate within five minutes is acknowledged with the original id, not enqueued.
dup = sqs.send_message(QueueUrl=f, MessageBody="A0-again", MessageGroupId="A", MessageDeduplicationId="A0")
assert attrs(f, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "6"

got = recv(f, 2, AttributeNames=["All"])
assert [m["Body"] for m in got] == ["A0", "A1"], [m["Body"] for m in got]
assert got[0]["Attributes"]["MessageGroupId"] == "A" and got[0]["Attributes"]["MessageDeduplicationId"] == "A0"
assert int(got[0]["Attributes"]["SequenceNumber"]) == seqs[0]
# Group A is locked while A0/A1 are in flight: only B comes out, in order.
assert [m["Body"] for m in recv(f, 10)] == ["B0", "B1", "B2"]
assert recv(f, 10) == []
sqs.delete_message(QueueUrl=f, ReceiptHandle=got[0]["ReceiptHandle"])
assert recv(f, 10) == []  # A1 is still in flight
advance(30)
# A1 (visible again) comes back before A2; B's are visible again too, in order.
again = [m["Body"] for m in recv(f, 10)]
assert [b for b in again if b[0] == "A"] == ["A1", "A2"], again
assert [b for b in again if b[0] == "B"] == ["B0", "B1", "B2"], again

# FIFO receipt handles expire with the visibility timeout.
advance(30)
m = recv(f, 1)[0]
advance(31)
expect_error("InvalidParameterValue", 400, sqs.delete_message, QueueUrl=f, ReceiptHandle=m["ReceiptHandle"])

# ReceiveRequestAttemptId: a retried receive gets the same messages and handles.
f2 = sqs.create_queue(QueueName="f2.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
sqs.send_message(QueueUrl=f2, MessageBody="x1", MessageGroupId="g")
sqs.send_message(QueueUrl=f2, MessageBody="x2", MessageGroupId="h")
first = recv(f2, 1, ReceiveRequestAttemptId="attempt-1")
retry = recv(f2, 1, ReceiveRequestAttemptId="attempt-1")
assert [m["ReceiptHandle"] for m in first] == [m["ReceiptHandle"] for m in retry]
assert [m["Body"] for m in recv(f2, 1, ReceiveRequestAttemptId="attempt-2")] == ["x2"]

# Content-based deduplication: SHA-256 of the body, 5-minute window.
f3 = sqs.create_queue(QueueName="f3.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
r1 = sqs.send_message(QueueUrl=f3, MessageBody="same", MessageGroupId="g")
r2 = sqs.send_message(QueueUrl=f3, MessageBody="same", MessageGroupId="other")
assert r1["MessageId"] == r2["MessageId"] and r1["SequenceNumber"] == r2["SequenceNumber"]
m = recv(f3, 10, AttributeNames=["MessageDeduplicationId"])
assert len(m) == 1 and m[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
sqs.delete_message(QueueUrl=f3, ReceiptHandle=m[0]["ReceiptHandle"])
advance(299)
sqs.send_message(QueueUrl=f3, MessageBody="same", MessageGroupId="g")
assert recv(f3) == []  # still deduplicated, even after the delete
advance(1)
r3 = sqs.send_message(QueueUrl=f3, MessageBody="same", MessageGroupId="g")
assert r3["MessageId"] != r1["MessageId"] and int(r3["SequenceNumber"]) > int(r1["SequenceNumber"])

# DeduplicationScope=messageGroup: the same id in two groups is two messages.
f4 = sqs.create_queue(QueueName="f4.fifo", Attributes={"FifoQueue": "true", "DeduplicationScope": "messageGroup"})["QueueUrl"]
a1 = sqs.send_message(QueueUrl=f4, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
a2 = sqs.send_message(QueueUrl=f4, MessageBody="x", MessageGroupId="g2", MessageDeduplicationId="d")
assert a1["MessageId"] != a2["MessageId"]
"#,
    );
}

#[test]
fn long_polls_complete_when_the_virtual_clock_moves() {
    let s = Server::start_virtual();
    s.python(
        r#"
q = sqs.create_queue(QueueName="lp")["QueueUrl"]
results = {}
def poll(key, **kw):
    results[key] = recv(q, WaitTimeSeconds=20, **kw)
t = threading.Thread(target=poll, args=("empty",))
t.start()
wait_for_sleepers()
assert t.is_alive()
advance(20)
t.join(5)
assert not t.is_alive() and results["empty"] == []

# A delayed message wakes a waiting poll when its delay elapses.
t = threading.Thread(target=poll, args=("delayed",))
t.start()
wait_for_sleepers()
sqs.send_message(QueueUrl=q, MessageBody="soon", DelaySeconds=5)
time.sleep(0.1)
assert t.is_alive()
advance(5)
t.join(5)
assert [m["Body"] for m in results["delayed"]] == ["soon"]

# An in-flight message coming back wakes a poll too.
t = threading.Thread(target=poll, args=("returned",))
t.start()
wait_for_sleepers()
assert t.is_alive()
advance(30)
t.join(5)
assert [m["Body"] for m in results["returned"]] == ["soon"]

# The queue's ReceiveMessageWaitTimeSeconds applies when the request has none.
sqs.set_queue_attributes(QueueUrl=q, Attributes={"ReceiveMessageWaitTimeSeconds": "10"})
t = threading.Thread(target=lambda: results.__setitem__("default", recv(q)))
t.start()
wait_for_sleepers()
assert t.is_alive()
advance(9)
time.sleep(0.1)
assert t.is_alive()
advance(1)
t.join(5)
assert results["default"] == []
"#,
    );
}
