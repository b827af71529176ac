//! `LogsService` behind the real edge on an ephemeral port, and helpers to drive it
//! with boto3 scripts, raw JSON requests and the aws CLI.
//!
//! Scripts started with [`Server::python`] may call `advance(seconds)`: the script
//! prints a request line, the test moves the server's `VirtualClock` and answers, so
//! one script can walk through days of retention in milliseconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slcl_core::{Clock, Service, SharedClock, StackContext, SystemClock, VirtualClock};
use slcl_logs::LogsService;
use slcl_store::Store;

pub struct Server {
    pub port: u16,
    pub service: Arc<LogsService>,
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
        let service = LogsService::new(&store, shared.clone(), stack.clone()).unwrap();
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
