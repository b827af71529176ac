//! Real-time behaviour and other clients: a long poll woken by another client's
//! send on the system clock, the aws CLI, and LocalStack's developer endpoint.

use std::time::{Duration, Instant};

use crate::harness::Server;

#[test]
fn long_poll_returns_as_soon_as_another_client_sends() {
    let s = Server::start();
    s.python(
        r#"
q = sqs.create_queue(QueueName="wake")["QueueUrl"]
out = {}
def poll():
    t0 = time.time()
    out["msgs"] = client().receive_message(QueueUrl=q, WaitTimeSeconds=20).get("Messages", [])
    out["took"] = time.time() - t0
t = threading.Thread(target=poll)
t.start()
time.sleep(0.5)
sent_at = time.time()
client().send_message(QueueUrl=q, MessageBody="ping")
t.join(10)
assert [m["Body"] for m in out["msgs"]] == ["ping"], out
assert time.time() - sent_at < 2.0 and out["took"] < 5, out

# With no message, a short wait ends empty after about the wait.
t0 = time.time()
assert recv(q, WaitTimeSeconds=1) == []
assert 0.9 <= time.time() - t0 < 3, time.time() - t0
"#,
    );
}

#[test]
fn aws_cli() {
    let s = Server::start();
    let out = s.aws(&[
        "sqs",
        "create-queue",
        "--queue-name",
        "cli",
        "--attributes",
        "VisibilityTimeout=60",
    ]);
    let url: serde_json::Value = serde_json::from_str(&out).unwrap();
    let url = url["QueueUrl"].as_str().unwrap().to_string();
    assert!(url.ends_with("/000000000000/cli"), "{url}");
    let sent = s.aws(&[
        "sqs",
        "send-message",
        "--queue-url",
        &url,
        "--message-body",
        "test",
        "--message-attributes",
        r#"{"k":{"DataType":"String","StringValue":"v"}}"#,
    ]);
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["MD5OfMessageBody"], "098f6bcd4621d373cade4e832627b4f6");
    let got = s.aws(&[
        "sqs",
        "receive-message",
        "--queue-url",
        &url,
        "--attribute-names",
        "All",
        "--message-attribute-names",
        "All",
    ]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    let m = &got["Messages"][0];
    assert_eq!(m["Body"], "test");
    assert_eq!(m["MessageAttributes"]["k"]["StringValue"], "v");
    assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1");
    let handle = m["ReceiptHandle"].as_str().unwrap();
    s.aws(&[
        "sqs",
        "delete-message",
        "--queue-url",
        &url,
        "--receipt-handle",
        handle,
    ]);
    let attrs = s.aws(&[
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        &url,
        "--attribute-names",
        "All",
    ]);
    let attrs: serde_json::Value = serde_json::from_str(&attrs).unwrap();
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "60");
    assert_eq!(attrs["Attributes"]["ApproximateNumberOfMessages"], "0");
    let list = s.aws(&["sqs", "list-queues"]);
    assert!(list.contains(&url), "{list}");
    let err = s.aws_raw(&["sqs", "get-queue-url", "--queue-name", "missing"]);
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        stderr.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{stderr}"
    );
    s.aws(&["sqs", "delete-queue", "--queue-url", &url]);
}

#[test]
fn developer_endpoint_peeks_without_receiving() {
    let s = Server::start_virtual();
    s.python(
        r#"
q = sqs.create_queue(QueueName="peek")["QueueUrl"]
sqs.send_message(QueueUrl=q, MessageBody="visible", MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}})
sqs.send_message(QueueUrl=q, MessageBody="delayed", DelaySeconds=60)
sqs.send_message(QueueUrl=q, MessageBody="inflight")
got = recv(q, 10)
assert [m["Body"] for m in got] == ["visible", "inflight"]
sqs.change_message_visibility(QueueUrl=q, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)

def peek(params="", accept=None, path="/_aws/sqs/messages"):
    headers = {"Accept": accept} if accept else {}
    status, h, body = raw("GET", path + params, headers=headers)
    assert status == 200, (status, body)
    return h, body

qs = "?" + urllib.parse.urlencode({"QueueUrl": q})
h, body = peek(qs)
root = ET.fromstring(body)
assert root.tag == NS + "ReceiveMessageResponse"
msgs = root.findall(f"{NS}ReceiveMessageResult/{NS}Message")
assert [m.find(f"{NS}Body").text for m in msgs] == ["visible"], body
at = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in msgs[0].findall(f"{NS}Attribute")}
assert at["ApproximateReceiveCount"] == "1"

h, body = peek(qs + "&ShowInvisible=true&ShowDelayed=true", accept="application/json")
doc = json.loads(body)
listed = doc["ReceiveMessageResponse"]["ReceiveMessageResult"]["Message"]
assert [m["Body"] for m in listed] == ["visible", "delayed", "inflight"], doc
assert listed[0]["MessageAttributes"]["a"]["StringValue"] == "b"
h, body = peek(qs + "&ShowDelayed=true", accept="application/json")
assert [m["Body"] for m in json.loads(body)["ReceiveMessageResponse"]["ReceiveMessageResult"]["Message"]] == ["visible", "delayed"]

# The path form.
h, body = peek("?ShowInvisible=true", path=f"/_aws/sqs/messages/us-east-1/{ACCOUNT}/peek")
assert len(ET.fromstring(body).findall(f"{NS}ReceiveMessageResult/{NS}Message")) == 2

# A boto3 client pointed at the endpoint peeks with ReceiveMessage.
dev = boto3.client("sqs", endpoint_url=ENDPOINT + "/_aws/sqs/messages", region_name="us-east-1")
assert [m["Body"] for m in dev.receive_message(QueueUrl=q).get("Messages", [])] == ["visible"]

# Nothing changed: receive counts and visibility are untouched.
m = recv(q, 10, AttributeNames=["ApproximateReceiveCount"])
assert [(x["Body"], x["Attributes"]["ApproximateReceiveCount"]) for x in m] == [("visible", "2")], m

status, _, body = raw("GET", "/_aws/sqs/messages?QueueUrl=" + urllib.parse.quote(url("missing")))
assert status == 400 and b"AWS.SimpleQueueService.NonExistentQueue" in body
"#,
    );
}

#[test]
fn many_messages_stay_quick() {
    let s = Server::start();
    let started = Instant::now();
    s.python(
        r#"
q = sqs.create_queue(QueueName="bulk")["QueueUrl"]
for b in range(20):
    sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": str(i), "MessageBody": f"{b}-{i}"} for i in range(10)])
seen = set()
while True:
    got = recv(q, 10)
    if not got:
        break
    seen.update(m["Body"] for m in got)
    sqs.delete_message_batch(QueueUrl=q, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
assert len(seen) == 200
"#,
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
