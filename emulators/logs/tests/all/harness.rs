//! `LogsService` behind the real edge on an ephemeral port (`slcl_testing`), and a
//! boto3 prelude with helpers for raw JSON requests.
//!
//! Scripts started with [`Server::python`] may call `advance(seconds)`: the test
//! moves the server's `VirtualClock`, so one script can walk through days of
//! retention in milliseconds.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slcl_core::{Service, VirtualClock};
use slcl_logs::LogsService;
use slcl_store::Store;
use slcl_testing::EdgeServer;

/// The server: [`EdgeServer`]'s `port`, `clock`, `aws` and the service.
pub struct Server {
    edge: EdgeServer,
    pub service: Arc<LogsService>,
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
    /// A server on a virtual clock starting at [`epoch`].
    pub fn start_virtual() -> Server {
        Self::start_with(
            Store::temporary().unwrap(),
            Some(VirtualClock::new(epoch())),
        )
    }

    pub fn start_with(store: Store, clock: Option<Arc<VirtualClock>>) -> Server {
        let (edge, service) = EdgeServer::start(clock, |clock, stack| {
            let service = LogsService::new(&store, clock, stack).unwrap();
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
import os, sys, json, http.client
import boto3, botocore
from botocore.config import Config
ENDPOINT = os.environ["ENDPOINT"]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
ACCOUNT = "000000000000"
# The virtual clock's start (harness::epoch), in milliseconds.
NOW = 1767225600000
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
logs = boto3.client("logs", endpoint_url=ENDPOINT, region_name="us-east-1",
                    config=Config(retries={"max_attempts": 1}))

def advance(seconds):
    global NOW
    print(f"__ADVANCE__ {int(seconds * 1000)}", flush=True)
    assert sys.stdin.readline().strip() == "ok"
    NOW += int(seconds * 1000)

def expect_error(code, fn, *args, status=400, **kw):
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {e.response}"
        cls = getattr(logs.exceptions, code, None)
        if cls is not None:
            assert isinstance(e, cls), f"expected {code}, got {type(e).__name__}"
        return e.response["Error"]["Message"]
    raise AssertionError(f"expected {code}, call succeeded")

def raw(target, body, content_type="application/x-amz-json-1.1"):
    """A raw JSON 1.1 request; returns (status, headers, parsed body)."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = {"Content-Type": content_type, "X-Amz-Target": target,
         "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0"}
    c.request("POST", "/", body=body if isinstance(body, bytes) else json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data or b"{}")

def put(group, stream, *events):
    """Puts (timestamp, message) pairs; returns the response."""
    return logs.put_log_events(logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events])

def messages(events):
    return [e["message"] for e in events]
"#;
