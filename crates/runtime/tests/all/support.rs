//! Test doubles and helpers shared by the test modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use slcl_core::{BoxFuture, Clock, Dispatcher, Request, Response, SharedClock, TraceContext};
use slcl_runtime::{
    Function, FunctionSpec, Invocation, InvocationResult, LogSink, Runtime, RuntimeConfig,
};

/// The test guest, built once per test run.
pub fn guest_wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest/Cargo.toml");
        // target/debug/deps/all-<hash> → target/
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().join("runtime-test-guest");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("failed to run cargo to build the test guest");
        assert!(status.success(), "building the test guest failed");
        target.join("wasm32-wasip2/release/slcl-runtime-test-guest.wasm")
    })
    .clone()
}

/// Compiled artifacts shared by all tests, so the guest is compiled once per build.
pub fn shared_cache() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("runtime-test-cache")
}

/// Records every line, with its request id.
#[derive(Default)]
pub struct MemorySink {
    pub lines: Mutex<Vec<(String, String, String)>>,
}

impl LogSink for MemorySink {
    fn line(&self, function: &str, request_id: &str, line: &str) {
        self.lines
            .lock()
            .unwrap()
            .push((function.into(), request_id.into(), line.into()));
    }
}

/// A stand-in for the network behind the edge: answers every request with
/// `pong <method> <uri>` and records what it got.
#[derive(Default)]
pub struct EchoDispatcher {
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// A request the dispatcher received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub host: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub trace: TraceContext,
}

impl Dispatcher for EchoDispatcher {
    fn dispatch(&self, req: Request, trace: TraceContext) -> BoxFuture<'static, Response> {
        let (parts, body) = req.into_parts();
        let seen = self.seen.clone();
        Box::pin(async move {
            let body = match http_body_util::BodyExt::collect(body).await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => panic!("request body failed: {e}"),
            };
            let reply = format!("pong {} {}", parts.method, parts.uri);
            seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                host: parts
                    .headers
                    .get("host")
                    .map(|h| h.to_str().unwrap().to_owned()),
                headers: parts.headers.clone(),
                body,
                trace,
            });
            let mut resp = Response::new(slcl_core::body::full(reply));
            *resp.status_mut() = http::StatusCode::CREATED;
            resp
        })
    }
}

/// A clock the test moves by hand.
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: Mutex::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        })
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A runtime with the shared cache, a recording sink and an echo dispatcher.
pub struct Harness {
    pub runtime: Runtime,
    pub sink: Arc<MemorySink>,
    pub dispatcher: Arc<EchoDispatcher>,
}

pub fn harness(tweak: impl FnOnce(&mut RuntimeConfig)) -> Harness {
    harness_with_clock(tweak, slcl_core::SystemClock::shared())
}

pub fn harness_with_clock(tweak: impl FnOnce(&mut RuntimeConfig), clock: SharedClock) -> Harness {
    let sink = Arc::new(MemorySink::default());
    let dispatcher = Arc::new(EchoDispatcher::default());
    let mut config = RuntimeConfig {
        cache_dir: Some(shared_cache()),
        log_sink: sink.clone(),
        max_instances: 8,
        ..RuntimeConfig::default()
    };
    tweak(&mut config);
    let runtime = Runtime::new(config, dispatcher.clone(), clock).unwrap();
    Harness {
        runtime,
        sink,
        dispatcher,
    }
}

/// A function running one of the `slcl-fixtures` guests.
pub fn fixture(name: &str, wasm: &str) -> FunctionSpec {
    FunctionSpec {
        wasm: wasm.into(),
        ..spec(name)
    }
}

/// A function running this crate's own test guest (`tests/guest`).
pub fn spec(name: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        version: "$LATEST".into(),
        wasm: guest_wasm(),
        memory_mb: 128,
        timeout: Duration::from_secs(10),
        env: BTreeMap::new(),
    }
}

impl Harness {
    pub async fn load(&self, spec: FunctionSpec) -> Arc<Function> {
        self.runtime.load(spec).await.unwrap()
    }
}

pub fn invocation(payload: serde_json::Value) -> Invocation {
    Invocation {
        request_id: slcl_core::ids::uuid(),
        payload: Bytes::from(payload.to_string()),
        trace: TraceContext {
            trace_id: "1-5759e988-bd862e3fe1be46a994272793".into(),
            parent_id: None,
        },
        client_context: None,
    }
}

pub async fn invoke(function: &Function, payload: serde_json::Value) -> InvocationResult {
    function.invoke(invocation(payload)).await.unwrap()
}

/// The successful result as JSON; panics with the logs otherwise.
pub fn json_result(result: &InvocationResult) -> serde_json::Value {
    match &result.outcome {
        slcl_runtime::Outcome::Success(body) => serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("result is not JSON ({e}): {body:?}")),
        other => panic!("expected success, got {other:?}\nlogs:\n{}", result.logs),
    }
}

/// The function error's type and JSON document; panics otherwise.
pub fn function_error(result: &InvocationResult) -> (String, serde_json::Value) {
    match &result.outcome {
        slcl_runtime::Outcome::FunctionError {
            error_type,
            payload,
        } => (error_type.clone(), serde_json::from_slice(payload).unwrap()),
        other => panic!(
            "expected a function error, got {other:?}\nlogs:\n{}",
            result.logs
        ),
    }
}
