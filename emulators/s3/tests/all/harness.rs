//! `S3Service` behind the real edge on an ephemeral port (`slcl_testing`), a test
//! sink for bus deliveries, and a boto3 prelude for scripts against it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, Service, Target};
use slcl_s3::S3Service;
use slcl_store::Store;
use slcl_testing::EdgeServer;

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

/// The server: [`EdgeServer`]'s `port` and `aws`, the service, its store and the bus
/// sink.
pub struct Server {
    edge: EdgeServer,
    pub store: Store,
    pub sink: Arc<Sink>,
    pub service: Arc<S3Service>,
}

impl std::ops::Deref for Server {
    type Target = EdgeServer;

    fn deref(&self) -> &EdgeServer {
        &self.edge
    }
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(Store::temporary().unwrap())
    }

    pub fn start_with(store: Store) -> Server {
        let bus = slcl_bus::Bus::new();
        let sink = Arc::new(Sink::default());
        bus.register("lambda", sink.clone());
        // The real edge in front of S3 alone: routing, regions from the SigV4 scope,
        // the client address for event records, connection handling.
        let (edge, service) = EdgeServer::start(None, |clock, stack| {
            let service = S3Service::new(store.clone(), bus, clock, stack).unwrap();
            (service.clone(), vec![service as Arc<dyn Service>])
        });
        Server {
            edge,
            store,
            sink,
            service,
        }
    }

    /// Runs a python script with `ENDPOINT` set and a prelude that defines `s3`
    /// (a boto3 client), `expect_error(code, status, fn, *args, **kw)` and `raw(...)`.
    pub fn python(&self, script: &str) -> String {
        self.python_in(script, None)
    }

    pub fn python_in(&self, script: &str, cwd: Option<&Path>) -> String {
        self.edge.python(PRELUDE, script, cwd)
    }
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
