//! `S3Service` behind the real edge on an ephemeral port, a test sink
//! for bus deliveries, and helpers to run the aws CLI and boto3 scripts against it.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use slcl_core::{
    Arn, BoxFuture, Delivery, DeliveryError, Service, StackContext, SystemClock, Target,
};
use slcl_s3::S3Service;
use slcl_store::Store;

/// Records deliveries; every `lambda` ARN exists except functions named `missing*`.
#[derive(Default)]
pub struct Sink {
    pub deliveries: Mutex<Vec<Delivery>>,
}

impl Target for Sink {
    fn exists(&self, arn: &Arn) -> bool {
        arn.resource.starts_with("function:") && !arn.resource.starts_with("function:missing")
    }

    fn deliver(&self, d: Delivery) -> BoxFuture<'_, Result<bytes::Bytes, DeliveryError>> {
        self.deliveries.lock().unwrap().push(d);
        Box::pin(async { Ok(bytes::Bytes::new()) })
    }
}

pub struct Server {
    pub port: u16,
    pub store: Store,
    pub sink: Arc<Sink>,
    pub service: Arc<S3Service>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Wait for the tasks (and the store handles they hold) to be dropped, so a
            // restart can open the same state folder.
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(Store::temporary().unwrap())
    }

    pub fn start_with(store: Store) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let bus = slcl_bus::Bus::new();
        let sink = Arc::new(Sink::default());
        bus.register("lambda", sink.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stack = StackContext {
            endpoint_url: format!("http://127.0.0.1:{port}"),
            ..StackContext::default()
        };
        let service =
            S3Service::new(store.clone(), bus, SystemClock::shared(), stack.clone()).unwrap();
        // The real edge in front of S3 alone: routing, regions from the SigV4 scope,
        // the client address for event records, connection handling.
        let router = slcl_edge::Router::new(
            stack,
            vec![service.clone() as Arc<dyn Service>],
            SystemClock::shared(),
            slcl_core::TraceLog::new(),
        );
        runtime.spawn(slcl_edge::serve(listener, router, std::future::pending()));
        Server {
            port,
            store,
            sink,
            service,
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

    /// Runs a python script with `ENDPOINT` set and a prelude that defines `s3`
    /// (a boto3 client), `expect_error(code, status, fn, *args, **kw)` and `raw(...)`.
    pub fn python(&self, script: &str) -> String {
        self.python_in(script, None)
    }

    pub fn python_in(&self, script: &str, cwd: Option<&Path>) -> String {
        let full = format!("{PRELUDE}\n{script}");
        let mut cmd = Command::new("python3");
        cmd.arg("-c")
            .arg(full)
            .env("ENDPOINT", self.endpoint())
            .envs(aws_env());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let out = cmd.output().expect("python3 must be installed");
        assert!(
            out.status.success(),
            "python script failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
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
import os, sys, json, http.client, hashlib, base64, datetime
import boto3, botocore
from botocore.config import Config
ENDPOINT = os.environ["ENDPOINT"]
PORT = int(ENDPOINT.rsplit(":", 1)[1])
def client(region="us-east-1", **cfg):
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name=region,
                        config=Config(retries={"max_attempts": 1}, **cfg))
s3 = client()
def expect_error(code, status, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {e.response}"
        return e.response
    raise AssertionError(f"expected {code}, call succeeded")
def raw(method, path, body=b"", headers=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data
"#;
