//! Queue lifecycle, attributes, tags, permissions and URLs through boto3 (JSON
//! protocol), with the errors and exception classes boto3 users see on AWS.

use crate::harness::Server;

#[test]
fn create_list_get_delete_and_attributes() {
    let s = Server::start_virtual();
    s.python(
        r#"
q = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "45", "DelaySeconds": "2"},
                     tags={"team": "core"})["QueueUrl"]
assert q == url("jobs"), q
# Idempotent with equal attributes (and with none given).
assert sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == q
assert sqs.create_queue(QueueName="jobs")["QueueUrl"] == q
err = expect_error("QueueAlreadyExists", 400, sqs.create_queue, QueueName="jobs",
                   Attributes={"VisibilityTimeout": "46"}, exception="QueueNameExists")
assert "VisibilityTimeout" in err["Message"], err

assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == q
expect_error("AWS.SimpleQueueService.NonExistentQueue", 400, sqs.get_queue_url, QueueName="nope",
             exception="QueueDoesNotExist")
expect_error("AWS.SimpleQueueService.NonExistentQueue", 400, sqs.get_queue_url, QueueName="jobs",
             QueueOwnerAWSAccountId="111111111111")

a = attrs(q)
expected = {"VisibilityTimeout": "45", "DelaySeconds": "2", "MaximumMessageSize": "1048576",
            "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0",
            "SqsManagedSseEnabled": "true", "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0",
            "QueueArn": "arn:aws:sqs:us-east-1:000000000000:jobs"}
for k, v in expected.items():
    assert a[k] == v, (k, a)
assert a["CreatedTimestamp"] == a["LastModifiedTimestamp"] == "1767225600", a
assert "FifoQueue" not in a and "RedrivePolicy" not in a
assert attrs(q, "QueueArn") == {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:jobs"}
assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=q)
expect_error("InvalidAttributeName", 400, sqs.get_queue_attributes, QueueUrl=q, AttributeNames=["Bogus"],
             exception="InvalidAttributeName")

advance(10)
sqs.set_queue_attributes(QueueUrl=q, Attributes={"MaximumMessageSize": "2048", "MessageRetentionPeriod": "60",
    "ReceiveMessageWaitTimeSeconds": "20", "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
    "KmsMasterKeyId": "alias/aws/sqs"})
a = attrs(q)
assert a["MaximumMessageSize"] == "2048" and a["MessageRetentionPeriod"] == "60"
assert a["LastModifiedTimestamp"] == "1767225610", a
assert a["KmsMasterKeyId"] == "alias/aws/sqs" and a["KmsDataKeyReusePeriodSeconds"] == "300"
assert a["SqsManagedSseEnabled"] == "false"
assert json.loads(a["Policy"])["Version"] == "2012-10-17"
sqs.set_queue_attributes(QueueUrl=q, Attributes={"Policy": ""})
assert "Policy" not in attrs(q)

for name, value in [("VisibilityTimeout", "43201"), ("DelaySeconds", "901"), ("MaximumMessageSize", "1023"),
                    ("MaximumMessageSize", "1048577"), ("MessageRetentionPeriod", "59"),
                    ("MessageRetentionPeriod", "1209601"), ("ReceiveMessageWaitTimeSeconds", "21"),
                    ("VisibilityTimeout", "abc"), ("Policy", "{not json"), ("SqsManagedSseEnabled", "maybe"),
                    ("KmsDataKeyReusePeriodSeconds", "59")]:
    err = expect_error("InvalidAttributeValue", 400, sqs.set_queue_attributes, QueueUrl=q,
                       Attributes={name: value}, exception="InvalidAttributeValue")
    assert name in err["Message"], err
for name in ["QueueArn", "ApproximateNumberOfMessages", "Bogus", "FifoQueue", "ContentBasedDeduplication"]:
    expect_error("InvalidAttributeName", 400, sqs.set_queue_attributes, QueueUrl=q, Attributes={name: "1"})
expect_error("InvalidAttributeName", 400, sqs.create_queue, QueueName="bad-attr", Attributes={"Foo": "1"})
expect_error("InvalidParameterValue", 400, sqs.create_queue, QueueName="bad name")
expect_error("InvalidParameterValue", 400, sqs.create_queue, QueueName="x" * 81)
expect_error("InvalidParameterValue", 400, sqs.create_queue, QueueName="nofifo.fifo")
expect_error("InvalidParameterValue", 400, sqs.create_queue, QueueName="plain", Attributes={"FifoQueue": "true"})
expect_error("MissingParameter", 400, sqs.create_queue, QueueName="")

# Listing, prefixes and pagination.
for n in ["a1", "a2", "a3", "b1"]:
    sqs.create_queue(QueueName=n)
assert sqs.list_queues(QueueNamePrefix="a")["QueueUrls"] == [url("a1"), url("a2"), url("a3")]
assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
page = sqs.list_queues(QueueNamePrefix="a", MaxResults=2)
assert page["QueueUrls"] == [url("a1"), url("a2")] and page["NextToken"]
page2 = sqs.list_queues(QueueNamePrefix="a", MaxResults=2, NextToken=page["NextToken"])
assert page2["QueueUrls"] == [url("a3")] and "NextToken" not in page2
assert len(sqs.list_queues()["QueueUrls"]) == 5
expect_error("InvalidParameterValue", 400, sqs.list_queues, MaxResults=1001)
pages = sqs.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 2})
assert sum(len(p.get("QueueUrls", [])) for p in pages) == 5

# Deleting; the name is unavailable for 60 seconds.
sqs.delete_queue(QueueUrl=url("b1"))
expect_error("AWS.SimpleQueueService.NonExistentQueue", 400, sqs.delete_queue, QueueUrl=url("b1"),
             exception="QueueDoesNotExist")
expect_error("AWS.SimpleQueueService.NonExistentQueue", 400, sqs.send_message, QueueUrl=url("b1"), MessageBody="x")
expect_error("AWS.SimpleQueueService.QueueDeletedRecently", 400, sqs.create_queue, QueueName="b1",
             exception="QueueDeletedRecently")
advance(61)
sqs.create_queue(QueueName="b1")

# Purge: at most once a minute.
sqs.send_message(QueueUrl=q, MessageBody="gone")
sqs.purge_queue(QueueUrl=q)
assert attrs(q, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "0"
expect_error("AWS.SimpleQueueService.PurgeQueueInProgress", 403, sqs.purge_queue, QueueUrl=q,
             exception="PurgeQueueInProgress")
advance(60)
sqs.purge_queue(QueueUrl=q)
"#,
    );
}

#[test]
fn tags_permissions_dead_letter_sources_and_url_forms() {
    let s = Server::start();
    s.python(
        r#"
q = sqs.create_queue(QueueName="tagged", tags={"a": "1"})["QueueUrl"]
assert sqs.list_queue_tags(QueueUrl=q)["Tags"] == {"a": "1"}
sqs.tag_queue(QueueUrl=q, Tags={"b": "2", "a": "3"})
assert sqs.list_queue_tags(QueueUrl=q)["Tags"] == {"a": "3", "b": "2"}
sqs.untag_queue(QueueUrl=q, TagKeys=["a", "zzz"])
assert sqs.list_queue_tags(QueueUrl=q)["Tags"] == {"b": "2"}
sqs.untag_queue(QueueUrl=q, TagKeys=["b"])
assert "Tags" not in sqs.list_queue_tags(QueueUrl=q)

sqs.add_permission(QueueUrl=q, Label="senders", AWSAccountIds=["111111111111", "222222222222"],
                   Actions=["SendMessage", "ReceiveMessage"])
sqs.add_permission(QueueUrl=q, Label="one", AWSAccountIds=["333333333333"], Actions=["*"])
policy = json.loads(attrs(q, "Policy")["Policy"])
st = {s["Sid"]: s for s in policy["Statement"]}
assert st["senders"]["Principal"]["AWS"] == ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"]
assert st["senders"]["Action"] == ["SQS:SendMessage", "SQS:ReceiveMessage"]
assert st["senders"]["Resource"] == "arn:aws:sqs:us-east-1:000000000000:tagged"
assert st["one"]["Action"] == "SQS:*" and st["one"]["Effect"] == "Allow"
expect_error("InvalidParameterValue", 400, sqs.add_permission, QueueUrl=q, Label="one",
             AWSAccountIds=["333333333333"], Actions=["SendMessage"])
expect_error("InvalidParameterValue", 400, sqs.add_permission, QueueUrl=q, Label="x",
             AWSAccountIds=["333333333333"], Actions=["CreateQueue"])
expect_error("OverLimit", 403, sqs.add_permission, QueueUrl=q, Label="many", AWSAccountIds=["333333333333"],
             Actions=["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                      "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue"],
             exception="OverLimit")
sqs.remove_permission(QueueUrl=q, Label="senders")
assert [s["Sid"] for s in json.loads(attrs(q, "Policy")["Policy"])["Statement"]] == ["one"]
sqs.remove_permission(QueueUrl=q, Label="one")
assert "Policy" not in attrs(q)
expect_error("InvalidParameterValue", 400, sqs.remove_permission, QueueUrl=q, Label="one")

dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
dlq_arn = attrs(dlq, "QueueArn")["QueueArn"]
for n in ["src1", "src2"]:
    sqs.create_queue(QueueName=n, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})
assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == [url("src1"), url("src2")]
p = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=1)
assert p["queueUrls"] == [url("src1")] and p["NextToken"]
assert sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=1, NextToken=p["NextToken"])["queueUrls"] == [url("src2")]
assert sqs.list_dead_letter_source_queues(QueueUrl=q)["queueUrls"] == []
for bad in [{"deadLetterTargetArn": dlq_arn}, {"maxReceiveCount": 3},
            {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:missing", "maxReceiveCount": 3},
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0}]:
    expect_error("InvalidParameterValue", 400, sqs.set_queue_attributes, QueueUrl=q,
                 Attributes={"RedrivePolicy": json.dumps(bad)})
sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
    {"redrivePermission": "byQueue", "sourceQueueArns": [dlq_arn.replace("dead", "src1")]})})
assert json.loads(attrs(dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"])["redrivePermission"] == "byQueue"
expect_error("InvalidParameterValue", 400, sqs.set_queue_attributes, QueueUrl=dlq,
             Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue"})})

# Any host is fine in a queue URL; the path names the queue.
for u in [f"http://localhost:{PORT}/{ACCOUNT}/tagged", f"http://127.0.0.1:{PORT}/{ACCOUNT}/tagged",
          "https://sqs.eu-west-1.amazonaws.com/000000000000/tagged", f"/{ACCOUNT}/tagged"]:
    sqs.send_message(QueueUrl=u, MessageBody="via " + u)
assert attrs(q, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "4"
expect_error("AWS.SimpleQueueService.NonExistentQueue", 400, sqs.send_message,
             QueueUrl=f"http://localhost:{PORT}/123456789012/tagged", MessageBody="x")
expect_error("InvalidAddress", 404, sqs.send_message, QueueUrl="tagged", MessageBody="x", exception="InvalidAddress")
expect_error("MissingParameter", 400, sqs.send_message, QueueUrl="", MessageBody="x")

# FIFO queues: name and attribute rules.
f = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true",
    "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})["QueueUrl"]
a = attrs(f)
assert a["FifoQueue"] == "true" and a["ContentBasedDeduplication"] == "true"
assert a["DeduplicationScope"] == "messageGroup" and a["FifoThroughputLimit"] == "perMessageGroupId"
expect_error("InvalidAttributeValue", 400, sqs.set_queue_attributes, QueueUrl=f,
             Attributes={"DeduplicationScope": "queue"})
expect_error("InvalidAttributeValue", 400, sqs.set_queue_attributes, QueueUrl=f,
             Attributes={"FifoThroughputLimit": "fast"})
expect_error("InvalidParameterValue", 400, sqs.set_queue_attributes, QueueUrl=f,
             Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
d = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
a = attrs(d)
assert a["ContentBasedDeduplication"] == "false" and a["DeduplicationScope"] == "queue" and a["FifoThroughputLimit"] == "perQueue"

# Another region in the signing scope shows in the ARN and URL.
west = client("eu-west-1")
w = west.create_queue(QueueName="west")["QueueUrl"]
assert w == f"http://sqs.eu-west-1.localhost.localstack.cloud:{PORT}/{ACCOUNT}/west", w
assert attrs(w, "QueueArn")["QueueArn"] == "arn:aws:sqs:eu-west-1:000000000000:west"
"#,
    );
}
