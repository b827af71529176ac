//! `SqsService` behind the real edge on an ephemeral port (`slcl_testing`), and a
//! boto3 prelude with helpers for raw query-protocol requests.
//!
//! Scripts started with [`Server::python`] may call `advance(seconds)` and
//! `wait_for_sleepers(n)` to drive the server's `VirtualClock`, so one script can walk
//! through minutes of queue time in milliseconds.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slcl_core::{Service, VirtualClock};
use slcl_sqs::SqsService;
use slcl_store::Store;
use slcl_testing::EdgeServer;

/// The server: [`EdgeServer`]'s `port`, `clock`, `aws`, `block_on` and the service.
pub struct Server {
    edge: EdgeServer,
    pub service: Arc<SqsService>,
}

impl std::ops::Deref for Server {
    type Target = EdgeServer;

    fn deref(&self) -> &EdgeServer {
        &self.edge
    }
}

/// A fixed start for virtual clocks, so restarts can resume from the same time.
pub fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

impl Server {
    /// A server on the system clock.
    pub fn start() -> Server {
        Self::start_with(Store::temporary().unwrap(), None)
    }

    /// A server on a virtual clock starting at [`epoch`].
    pub fn start_virtual() -> Server {
        Self::start_with(
            Store::temporary().unwrap(),
            Some(VirtualClock::new(epoch())),
        )
    }

    pub fn start_with(store: Store, clock: Option<Arc<VirtualClock>>) -> Server {
        let (edge, service) = EdgeServer::start(clock, |clock, stack| {
            let service = SqsService::new(&store, clock, stack).unwrap();
            (service.clone(), vec![service as Arc<dyn Service>])
        });
        Server { edge, service }
    }

    /// Runs a python script after the prelude below; returns its stdout (without the
    /// clock requests). Panics with the script's output if it fails.
    pub fn python(&self, script: &str) -> String {
        self.edge.python(PRELUDE, script, None)
    }
}

const PRELUDE: &str = r#"
import os, sys, json, time, threading, hashlib, base64, struct, urllib.parse, http.client
import xml.etree.ElementTree as ET
import boto3, botocore
from botocore.config import Config
ENDPOINT = os.environ["ENDPOINT"]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
ACCOUNT = "000000000000"
def client(region="us-east-1"):
    return boto3.client("sqs", endpoint_url=ENDPOINT, region_name=region,
                        config=Config(retries={"max_attempts": 1}, read_timeout=60))
sqs = client()

def advance(seconds):
    print(f"__ADVANCE__ {int(seconds * 1000)}", flush=True)
    assert sys.stdin.readline().strip() == "ok"

def wait_for_sleepers(n=1):
    """Blocks until n timers (long polls, move tasks) sleep on the virtual clock."""
    print(f"__SLEEPERS__ {n}", flush=True)
    assert sys.stdin.readline().strip() == "ok"

def expect_error(code, status, fn, *args, exception=None, **kw):
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {e.response}"
        if exception is not None:
            cls = getattr(sqs.exceptions, exception)
            assert isinstance(e, cls), f"expected {exception}, got {type(e).__name__}"
        return e.response["Error"]
    raise AssertionError(f"expected {code}, call succeeded")

def md5(data):
    return hashlib.md5(data).hexdigest()

def attrs_md5(attrs):
    # AWS's documented algorithm, independently of the server.
    buf = b""
    for name in sorted(attrs):
        v = attrs[name]
        t = v["DataType"]
        enc = lambda b: struct.pack(">I", len(b)) + b
        buf += enc(name.encode()) + enc(t.encode())
        if t.startswith("Binary"):
            buf += b"\x02" + enc(v["BinaryValue"])
        else:
            buf += b"\x01" + enc(v["StringValue"].encode())
    return hashlib.md5(buf).hexdigest()

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"

def query(params, path="/", signed=True, method="POST", headers=None):
    """A raw query-protocol request; returns (status, headers, parsed XML root or body)."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        h["Authorization"] = AUTH
    h.update(headers or {})
    body = urllib.parse.urlencode(params)
    if method == "GET":
        c.request("GET", path + "?" + body, headers=h)
    else:
        c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    try:
        return r.status, hdrs, ET.fromstring(data)
    except ET.ParseError:
        return r.status, hdrs, data

def raw(method, path, headers=None, body=b""):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data

def url(name):
    return f"http://sqs.us-east-1.localhost.localstack.cloud:{PORT}/{ACCOUNT}/{name}"

def attrs(q, *names):
    return sqs.get_queue_attributes(QueueUrl=q, AttributeNames=list(names) or ["All"])["Attributes"]

def recv(q, n=10, **kw):
    return sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=n, **kw).get("Messages", [])
"#;
