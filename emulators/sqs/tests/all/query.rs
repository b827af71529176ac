//! The query protocol: form posts (signed, as older SDKs send them), posts to a
//! queue's own URL, unsigned `?Action=` GETs, XML answers and `<ErrorResponse>`s.

use crate::harness::Server;

#[test]
fn query_protocol_round_trip_and_errors() {
    let s = Server::start();
    s.python(
        r#"
status, h, root = query({"Action": "CreateQueue", "Version": "2012-11-05", "QueueName": "qp",
                         "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40",
                         "Tag.1.Key": "env", "Tag.1.Value": "dev"})
assert status == 200 and root.tag == NS + "CreateQueueResponse", (status, root)
assert h["content-type"].startswith("text/xml")
q = root.find(f"{NS}CreateQueueResult/{NS}QueueUrl").text
assert q == url("qp"), q
assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text

status, _, root = query({"Action": "SendMessage", "QueueUrl": q, "MessageBody": "hello & <xml> ✓",
                         "DelaySeconds": "0",
                         "MessageAttribute.1.Name": "color", "MessageAttribute.1.Value.DataType": "String",
                         "MessageAttribute.1.Value.StringValue": "red",
                         "MessageAttribute.2.Name": "bin", "MessageAttribute.2.Value.DataType": "Binary",
                         "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x01\x02").decode()})
assert status == 200, root
r = root.find(f"{NS}SendMessageResult")
assert r.find(f"{NS}MD5OfMessageBody").text == md5("hello & <xml> ✓".encode())
assert r.find(f"{NS}MD5OfMessageAttributes").text == attrs_md5({
    "color": {"DataType": "String", "StringValue": "red"}, "bin": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}})

# Posting to the queue's own URL path, without QueueUrl.
status, _, root = query({"Action": "SendMessage", "MessageBody": "second"}, path=f"/{ACCOUNT}/qp")
assert status == 200, root

status, _, root = query({"Action": "ReceiveMessage", "QueueUrl": q, "MaxNumberOfMessages": "10",
                         "AttributeName.1": "All", "MessageAttributeName.1": "All"})
msgs = root.findall(f"{NS}ReceiveMessageResult/{NS}Message")
assert [m.find(f"{NS}Body").text for m in msgs] == ["hello & <xml> ✓", "second"], ET.tostring(root)
m0 = msgs[0]
at = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in m0.findall(f"{NS}Attribute")}
assert at["ApproximateReceiveCount"] == "1" and "SentTimestamp" in at
ma = {a.find(f"{NS}Name").text: a.find(f"{NS}Value") for a in m0.findall(f"{NS}MessageAttribute")}
assert ma["color"].find(f"{NS}StringValue").text == "red"
assert base64.b64decode(ma["bin"].find(f"{NS}BinaryValue").text) == b"\x01\x02"
handles = [m.find(f"{NS}ReceiptHandle").text for m in msgs]

status, _, root = query({"Action": "DeleteMessageBatch", "QueueUrl": q,
                         "DeleteMessageBatchRequestEntry.1.Id": "a", "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handles[0],
                         "DeleteMessageBatchRequestEntry.2.Id": "b", "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "junk"})
res = root.find(f"{NS}DeleteMessageBatchResult")
assert [e.find(f"{NS}Id").text for e in res.findall(f"{NS}DeleteMessageBatchResultEntry")] == ["a"], ET.tostring(root)
err = res.find(f"{NS}BatchResultErrorEntry")
assert err.find(f"{NS}Code").text == "ReceiptHandleIsInvalid" and err.find(f"{NS}SenderFault").text == "true"

status, _, root = query({"Action": "DeleteMessage", "QueueUrl": q, "ReceiptHandle": handles[1]})
assert status == 200 and root.tag == NS + "DeleteMessageResponse" and root.find(f"{NS}DeleteMessageResult") is None

status, _, root = query({"Action": "GetQueueAttributes", "QueueUrl": q, "AttributeName.1": "All"})
qa = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text
      for a in root.findall(f"{NS}GetQueueAttributesResult/{NS}Attribute")}
assert qa["VisibilityTimeout"] == "40" and qa["ApproximateNumberOfMessages"] == "0", qa

status, _, root = query({"Action": "ListQueueTags", "QueueUrl": q})
tags = {t.find(f"{NS}Key").text: t.find(f"{NS}Value").text for t in root.findall(f"{NS}ListQueueTagsResult/{NS}Tag")}
assert tags == {"env": "dev"}
status, _, root = query({"Action": "ListQueues"})
assert [u.text for u in root.findall(f"{NS}ListQueuesResult/{NS}QueueUrl")] == [q]

# Errors: <ErrorResponse> with the query code, type and status.
status, h, root = query({"Action": "GetQueueUrl", "QueueName": "missing"})
assert status == 400 and root.tag == NS + "ErrorResponse", (status, root)
e = root.find(f"{NS}Error")
assert e.find(f"{NS}Code").text == "AWS.SimpleQueueService.NonExistentQueue"
assert e.find(f"{NS}Type").text == "Sender" and e.find(f"{NS}Message").text
assert root.find(f"{NS}RequestId").text
status, _, root = query({"Action": "CreateQueue", "QueueName": "qp", "Attribute.1.Name": "VisibilityTimeout",
                         "Attribute.1.Value": "41"})
assert (status, root.find(f"{NS}Error/{NS}Code").text) == (400, "QueueAlreadyExists")
status, _, root = query({"Action": "DeleteMessage", "QueueUrl": q, "ReceiptHandle": "junk"})
assert (status, root.find(f"{NS}Error/{NS}Code").text) == (404, "ReceiptHandleIsInvalid")
status, _, root = query({"Action": "SendMessage", "QueueUrl": q})
assert (status, root.find(f"{NS}Error/{NS}Code").text) == (400, "MissingParameter")
status, _, root = query({"Action": "SendMessageBatch", "QueueUrl": q})
assert (status, root.find(f"{NS}Error/{NS}Code").text) == (400, "AWS.SimpleQueueService.EmptyBatchRequest")
status, _, root = query({"Action": "Frobnicate"})
assert (status, root.find(f"{NS}Error/{NS}Code").text) == (400, "InvalidAction")
assert "Frobnicate" in root.find(f"{NS}Error/{NS}Message").text

# Unsigned, as curl would: a GET with ?Action= on the queue URL path.
status, _, root = query({"Action": "SendMessage", "MessageBody": "from curl"}, path=f"/{ACCOUNT}/qp",
                        signed=False, method="GET")
assert status == 200 and root.find(f"{NS}SendMessageResult/{NS}MessageId").text, root
# Unsigned to the sqs.<region>.localhost.localstack.cloud host name.
status, _, root = query({"Action": "GetQueueUrl", "QueueName": "qp"}, signed=False,
                        headers={"Host": f"sqs.us-east-1.localhost.localstack.cloud:{PORT}"})
assert status == 200 and root.find(f"{NS}GetQueueUrlResult/{NS}QueueUrl").text == q

# JSON-protocol errors carry the query code in x-amzn-query-error.
status, h, body = raw("POST", "/", headers={"X-Amz-Target": "AmazonSQS.GetQueueUrl",
    "Content-Type": "application/x-amz-json-1.0", "Authorization": AUTH}, body=json.dumps({"QueueName": "missing"}))
doc = json.loads(body)
assert status == 400 and doc["__type"] == "com.amazonaws.sqs#QueueDoesNotExist" and doc["message"], doc
assert h["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender", h
status, h, body = raw("POST", "/", headers={"X-Amz-Target": "AmazonSQS.Frobnicate",
    "Content-Type": "application/x-amz-json-1.0", "Authorization": AUTH}, body="{}")
assert status == 400 and h["x-amzn-query-error"] == "InvalidAction;Sender"
status, h, body = raw("POST", "/", headers={"X-Amz-Target": "AmazonSQS.ListQueues",
    "Content-Type": "application/x-amz-json-1.0", "Authorization": AUTH}, body="{not json")
assert status == 400, body
"#,
    );
}
