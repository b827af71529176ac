//! Dead-letter queue redrives with Start/List/CancelMessageMoveTask.

use crate::harness::Server;

#[test]
fn redrive_back_to_source_and_to_a_destination() {
    let s = Server::start_virtual();
    s.python(
        r#"
dlq = sqs.create_queue(QueueName="mv-dlq")["QueueUrl"]
dlq_arn = attrs(dlq, "QueueArn")["QueueArn"]
src = sqs.create_queue(QueueName="mv-src", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(
    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
src_arn = attrs(src, "QueueArn")["QueueArn"]
other = sqs.create_queue(QueueName="mv-other")["QueueUrl"]
other_arn = attrs(other, "QueueArn")["QueueArn"]

def fill(n):
    for i in range(n):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    assert len(recv(src, 10)) == n
    advance(1)
    assert recv(src, 10) == []  # moved to the DLQ
    assert attrs(dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == str(n)

def wait_done(arn):
    for _ in range(200):
        t = sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]
        if t["Status"] != "RUNNING":
            return t
        time.sleep(0.02)
    raise AssertionError(t)

fill(3)
h = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
t = wait_done(dlq_arn)
assert t["Status"] == "COMPLETED" and t["ApproximateNumberOfMessagesMoved"] == 3, t
assert t["ApproximateNumberOfMessagesToMove"] == 3 and t["SourceArn"] == dlq_arn and "TaskHandle" not in t
back = recv(src, 10, AttributeNames=["All"])
assert sorted(m["Body"] for m in back) == ["m0", "m1", "m2"]
assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in back), back
advance(1)
assert recv(src, 10) == []

# To an explicit destination, rate-limited: one message per (virtual) second.
h = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
wait_for_sleepers()  # the task moved one message and waits a second
t = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
assert len(t) == 2 and t[0]["Status"] == "RUNNING" and t[0]["TaskHandle"] == h, t
assert t[0]["ApproximateNumberOfMessagesMoved"] == 1 and t[0]["DestinationArn"] == other_arn
assert t[0]["MaxNumberOfMessagesPerSecond"] == 1
expect_error("InvalidParameterValue", 400, sqs.start_message_move_task, SourceArn=dlq_arn)
advance(1)
wait_for_sleepers()
assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["ApproximateNumberOfMessagesMoved"] == 2
r = sqs.cancel_message_move_task(TaskHandle=h)
assert r["ApproximateNumberOfMessagesMoved"] == 2
advance(1)
t = wait_done(dlq_arn)
assert t["Status"] == "CANCELLED", t
assert sorted(m["Body"] for m in recv(other, 10)) == ["m0", "m1"]
assert attrs(dlq, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"

# Errors.
expect_error("ResourceNotFoundException", 404, sqs.start_message_move_task,
             SourceArn="arn:aws:sqs:us-east-1:000000000000:nope", exception="ResourceNotFoundException")
expect_error("ResourceNotFoundException", 404, sqs.start_message_move_task, SourceArn=dlq_arn,
             DestinationArn="arn:aws:sqs:us-east-1:000000000000:nope")
expect_error("InvalidParameterValue", 400, sqs.start_message_move_task, SourceArn=other_arn)
expect_error("InvalidParameterValue", 400, sqs.start_message_move_task, SourceArn=dlq_arn,
             MaxNumberOfMessagesPerSecond=501)
expect_error("ResourceNotFoundException", 404, sqs.cancel_message_move_task, TaskHandle=h)
expect_error("ResourceNotFoundException", 404, sqs.cancel_message_move_task, TaskHandle="bogus")
expect_error("ResourceNotFoundException", 404, sqs.list_message_move_tasks,
             SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")
expect_error("InvalidParameterValue", 400, sqs.list_message_move_tasks, SourceArn=dlq_arn, MaxResults=11)
"#,
    );
}
