//! `SqsService` behind the real edge on an ephemeral port, and helpers to drive it
//! with boto3 scripts, raw query-protocol requests and the aws CLI.
//!
//! Scripts started with [`Server::python`] may call `advance(seconds)`: the script
//! prints a request line, the test moves the server's `VirtualClock` and answers, so
//! one script can walk through minutes of queue time in milliseconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slcl_core::{Clock, Service, SharedClock, StackContext, SystemClock, VirtualClock};
use slcl_sqs::SqsService;
use slcl_store::Store;

pub struct Server {
    pub port: u16,
    pub service: Arc<SqsService>,
    pub clock: Option<Arc<VirtualClock>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Let the tasks (and the store handles they hold) go, so a restart can
            // open the same state folder.
            rt.shutdown_timeout(Duration::from_secs(5));
        }
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stack = StackContext {
            endpoint_url: format!("http://127.0.0.1:{port}"),
            ..StackContext::default()
        };
        let shared: SharedClock = match &clock {
            Some(c) => c.clone() as Arc<dyn Clock>,
            None => SystemClock::shared(),
        };
        let service = SqsService::new(&store, shared.clone(), stack.clone()).unwrap();
        let router = slcl_edge::Router::new(
            stack,
            vec![service.clone() as Arc<dyn Service>],
            shared,
            slcl_core::TraceLog::new(),
        );
        runtime.spawn(slcl_edge::serve(listener, router, std::future::pending()));
        Server {
            port,
            service,
            clock,
            runtime: Some(runtime),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(f)
    }

    /// Runs `aws --endpoint-url ... <args>`; returns stdout, panics with stderr on failure.
    pub fn aws(&self, args: &[&str]) -> String {
        let out = self.aws_raw(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn aws_raw(&self, args: &[&str]) -> std::process::Output {
        Command::new("aws")
            .arg("--endpoint-url")
            .arg(self.endpoint())
            .args(args)
            .envs(aws_env())
            .output()
            .expect("the aws CLI must be installed")
    }

    /// Runs a python script with the prelude below; returns its stdout (without the
    /// clock requests). Panics with the script's output if it fails.
    pub fn python(&self, script: &str) -> String {
        let full = format!("{PRELUDE}\n{script}");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(full)
            .env("ENDPOINT", self.endpoint())
            .envs(aws_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut stderr = child.stderr.take().unwrap();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut out = String::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some(ms) = line.strip_prefix("__ADVANCE__ ") {
                let ms: u64 = ms.trim().parse().unwrap();
                let clock = self
                    .clock
                    .as_ref()
                    .expect("advance() needs a server started with start_virtual");
                clock.advance(Duration::from_millis(ms));
                // Let woken long polls run before the script goes on.
                std::thread::sleep(Duration::from_millis(20));
                writeln!(stdin, "ok").unwrap();
                stdin.flush().unwrap();
            } else if let Some(n) = line.strip_prefix("__SLEEPERS__ ") {
                // Wait until that many timers (long polls, move tasks) sleep on the
                // clock, so an advance that follows reaches them.
                let n: usize = n.trim().parse().unwrap();
                let clock = self.clock.as_ref().expect("needs start_virtual");
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while clock.sleepers() < n && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                writeln!(stdin, "ok").unwrap();
                stdin.flush().unwrap();
            } else {
                out.push_str(&line);
                out.push('\n');
            }
        }
        let status = child.wait().unwrap();
        let err = err_reader.join().unwrap();
        assert!(status.success(), "python script failed:\n{out}\n{err}");
        out
    }
}

fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_RETRY_MODE", "standard"),
    ]
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
