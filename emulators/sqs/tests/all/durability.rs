//! State survives dropping the service and reopening the store: queues, messages,
//! in-flight messages (they come back when their visibility timeout ends, on the
//! clock), FIFO sequence numbers and deduplication records.

use std::time::Duration;

use slcl_core::{Clock, VirtualClock};

use crate::harness::{epoch, Server};

#[test]
fn restart_keeps_queues_messages_and_in_flight_state() {
    let dir = tempfile::tempdir().unwrap();
    let handle;
    {
        let clock = VirtualClock::new(epoch());
        let s = Server::start_with(slcl_store::Store::open(dir.path()).unwrap(), Some(clock));
        let out = s.python(
            r#"
q = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "100"}, tags={"t": "1"})["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="waiting", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
sqs.send_message(QueueUrl=q, MessageBody="in flight")
sqs.send_message(QueueUrl=q, MessageBody="delayed", DelaySeconds=300)
got = recv(q, 2)
assert [m["Body"] for m in got] == ["waiting", "in flight"]
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
f = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
r = sqs.send_message(QueueUrl=f, MessageBody="f1", MessageGroupId="g", MessageDeduplicationId="d1")
print(json.dumps({"handle": got[1]["ReceiptHandle"], "seq": r["SequenceNumber"], "id": r["MessageId"]}))
"#,
        );
        handle = out.trim().to_string();
    }
    let clock = VirtualClock::new(epoch());
    let s = Server::start_with(
        slcl_store::Store::open(dir.path()).unwrap(),
        Some(clock.clone()),
    );
    s.python(&format!(
        r#"
before = json.loads('{handle}')
q = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
a = attrs(q)
assert (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"],
        a["ApproximateNumberOfMessagesDelayed"], a["VisibilityTimeout"]) == ("1", "1", "1", "100"), a
assert sqs.list_queue_tags(QueueUrl=q)["Tags"] == {{"t": "1"}}
m = recv(q, 10, MessageAttributeNames=["All"], AttributeNames=["ApproximateReceiveCount"])
assert [x["Body"] for x in m] == ["waiting"] and m[0]["MessageAttributes"]["k"]["StringValue"] == "v"
assert m[0]["Attributes"]["ApproximateReceiveCount"] == "2"
sqs.delete_message(QueueUrl=q, ReceiptHandle=m[0]["ReceiptHandle"])
# FIFO deduplication records and sequence numbers survive (within the 5-minute window).
f = sqs.get_queue_url(QueueName="durable.fifo")["QueueUrl"]
dup = sqs.send_message(QueueUrl=f, MessageBody="f1", MessageGroupId="g", MessageDeduplicationId="d1")
assert dup["MessageId"] == before["id"] and dup["SequenceNumber"] == before["seq"]
r = sqs.send_message(QueueUrl=f, MessageBody="f2", MessageGroupId="g", MessageDeduplicationId="d2")
assert int(r["SequenceNumber"]) > int(before["seq"])
advance(100)
back = recv(q, 10)
assert [x["Body"] for x in back] == ["in flight"], back
# The handle issued before the restart still deletes (standard queue).
sqs.delete_message(QueueUrl=q, ReceiptHandle=before["handle"])
advance(200)
assert [x["Body"] for x in recv(q, 10)] == ["delayed"]

"#
    ));
    // The virtual clock was only moved by the script.
    assert!(clock.now() >= epoch() + Duration::from_secs(300));
}
