//! A loaded function: its pre-instantiated component, its warm instances, and the
//! invocation path.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::future::{select, Either};
use http_body_util::{BodyExt, Full};
use slcl_core::{SharedClock, TraceContext};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::MAX_MEMORY_BYTES;
use crate::logs::{CaptureStream, LogCapture};
use crate::native::{self, NativeHandler, NativeRequest};
use crate::outbound::OutboundHooks;
use crate::{RuntimeError, RuntimeInner};

/// The largest result a synchronous invocation may return, in bytes, as Lambda's
/// "Invocation payload (request and response)" quota: 6 MB.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Everything the runtime needs to know about one version of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Function name, such as `thumbnail`.
    pub name: String,
    /// The function's ARN, handed to the guest as `lambda-runtime-invoked-function-arn`.
    pub arn: String,
    /// Version, `$LATEST` for the unpublished one.
    pub version: String,
    /// The component (`.wasm`) to run.
    pub wasm: PathBuf,
    /// Lambda's `MemorySize`: the limit on the guest's linear memory, in MB. Values above
    /// 4096 are capped at 4096, all a wasm32 guest can address.
    pub memory_mb: u32,
    /// Lambda's `Timeout`: how long one invocation may run.
    pub timeout: Duration,
    /// The function's environment variables, added after (and so overriding) the ones
    /// the runtime sets.
    pub env: BTreeMap<String, String>,
}

/// One invocation to deliver.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Lambda request id (a UUID), sent as `lambda-runtime-aws-request-id`.
    pub request_id: String,
    /// The event JSON.
    pub payload: Bytes,
    /// Trace this invocation belongs to. An empty `trace_id` gets a fresh X-Ray id.
    pub trace: TraceContext,
    /// Base64 client context from the `X-Amz-Client-Context` header, if any.
    pub client_context: Option<String>,
}

/// What an invocation produced, as Lambda reports it.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    /// The result, or the function error.
    pub outcome: Outcome,
    /// Every line this invocation produced, each ending in `\n`: `START`, the guest's
    /// stdout and stderr, `END`, `REPORT` (and after it, for a timeout or crash, AWS's
    /// error line). This is what `LogType=Tail` returns, before truncation.
    pub logs: String,
    /// How long the handler ran (excludes instantiation).
    pub duration: Duration,
    /// `Billed Duration` of the REPORT line: duration plus init duration, rounded up to
    /// the millisecond (as Lambda bills custom runtimes; the timeout when timed out).
    pub billed_duration_ms: u64,
    /// Peak linear memory of the instance so far, in MB (rounded up).
    pub max_memory_used_mb: u64,
    /// Time to create the instance, on a cold start; `None` when a warm instance ran it.
    pub init_duration: Option<Duration>,
    /// CloudWatch log stream of the instance that ran it,
    /// such as `2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef`.
    pub log_stream_name: String,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler answered with a 2xx status; this is its response body.
    Success(Bytes),
    /// The function failed: Lambda's `X-Amz-Function-Error: Unhandled` case.
    FunctionError {
        /// `errorType`, such as `Runtime.ExitError`, `Sandbox.Timedout` or the
        /// handler's own type.
        error_type: String,
        /// The JSON returned to the caller, `{"errorMessage":..,"errorType":..}`.
        payload: Bytes,
    },
}

impl Outcome {
    /// The bytes returned to the caller, result or error document.
    pub fn payload(&self) -> &Bytes {
        match self {
            Outcome::Success(body) => body,
            Outcome::FunctionError { payload, .. } => payload,
        }
    }

    /// The error type, for a function error.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Outcome::Success(_) => None,
            Outcome::FunctionError { error_type, .. } => Some(error_type),
        }
    }

    fn error(error_type: &str, message: &str) -> Outcome {
        let payload = serde_json::json!({ "errorMessage": message, "errorType": error_type });
        Outcome::FunctionError {
            error_type: error_type.to_owned(),
            payload: Bytes::from(payload.to_string()),
        }
    }
}

/// A function loaded into the runtime: compiled, linked and ready to instantiate.
///
/// Holds the function's warm instances; dropping the last `Arc<Function>` (for example
/// when the function's code is updated) drops them.
pub struct Function {
    pub(crate) spec: FunctionSpec,
    pub(crate) code_sha256: String,
    pub(crate) code_size: u64,
    pub(crate) from_cache: bool,
    pub(crate) runtime: Arc<RuntimeInner>,
    pub(crate) code: Code,
}

/// What runs an invocation.
pub(crate) enum Code {
    /// A pre-instantiated component and its warm instances.
    Wasm {
        pre: ProxyPre<HostState>,
        idle: Arc<IdlePool>,
    },
    /// A Rust closure in slcl's own process.
    Native(NativeHandler),
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("spec", &self.spec)
            .field("code_sha256", &self.code_sha256)
            .field("code_size", &self.code_size)
            .field("from_cache", &self.from_cache)
            .field("native", &self.is_native())
            .finish_non_exhaustive()
    }
}

/// Idle (warm) instances of one function, most recently used at the back.
pub(crate) type IdlePool = Mutex<VecDeque<Instance>>;

/// One live instance: a store and the component instantiated in it.
pub(crate) struct Instance {
    store: Store<HostState>,
    proxy: Proxy,
    capture: Arc<LogCapture>,
    memory: Arc<MemoryStats>,
    log_stream_name: String,
    last_used: SystemTime,
    /// The runtime's [`crate::RuntimeInner::slot_freed`].
    slot_freed: Arc<tokio::sync::Notify>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // The store (and its slot) goes right after this; a waiter that tries too
        // early retries shortly (see `instantiate`).
        self.slot_freed.notify_one();
    }
}

impl Instance {
    pub(crate) fn last_used(&self) -> SystemTime {
        self.last_used
    }
}

/// The `T` of every `Store<T>`: WASI and wasi:http state of one instance.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHooks,
    limiter: MemoryLimiter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Linear-memory accounting of one instance, shared with the limiter so it survives
/// the instance being dropped mid-call.
#[derive(Default)]
pub(crate) struct MemoryStats {
    current: AtomicU64,
    peak: AtomicU64,
    exceeded: AtomicBool,
}

/// Enforces `memory_mb` across all linear memories of an instance and records the peak.
struct MemoryLimiter {
    limit: u64,
    stats: Arc<MemoryStats>,
}

/// The trap a guest gets when it grows past its memory size.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit_mb} MB exceeded (tried to grow linear memory to {wanted} bytes)")]
struct MemoryLimitExceeded {
    limit_mb: u64,
    wanted: u64,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .stats
            .current
            .load(Ordering::Relaxed)
            .saturating_sub(current as u64)
            + desired as u64;
        if total > self.limit {
            self.stats.exceeded.store(true, Ordering::Relaxed);
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_mb: self.limit >> 20,
                wanted: total,
            }));
        }
        self.stats.current.store(total, Ordering::Relaxed);
        self.stats.peak.fetch_max(total, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// The guest's wall clock reads the stack's [`slcl_core::Clock`], so a virtual clock
/// moves the time functions see too.
struct StackWallClock(SharedClock);

impl HostWallClock for StackWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// How the guest's `handle` call ended, before it is turned into an [`Outcome`].
enum Handled {
    Response {
        status: u16,
        body: Bytes,
        /// `lambda-runtime-function-error-type`, as the Runtime API's error header.
        error_type: Option<String>,
    },
    TooLarge,
    BodyFailed(String),
    ErrorCode(ErrorCode),
    NoResponse,
    Trap(wasmtime::Error),
}

impl Function {
    /// The spec this function was loaded from.
    pub fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    /// Base64 of the SHA-256 of the wasm file, as Lambda's `CodeSha256`.
    pub fn code_sha256(&self) -> &str {
        &self.code_sha256
    }

    /// Size of the wasm file in bytes, as Lambda's `CodeSize`.
    pub fn code_size(&self) -> u64 {
        self.code_size
    }

    /// Whether [`crate::Runtime::load`] found the compiled code in the disk cache
    /// instead of compiling it.
    pub fn compiled_from_cache(&self) -> bool {
        self.from_cache
    }

    /// How many warm instances are waiting for an invocation right now (always 0 for a
    /// native function).
    pub fn idle_instances(&self) -> usize {
        match &self.code {
            Code::Wasm { idle, .. } => idle.lock().map(|idle| idle.len()).unwrap_or(0),
            Code::Native(_) => 0,
        }
    }

    /// Whether this function is a native Rust handler rather than a component.
    pub fn is_native(&self) -> bool {
        matches!(self.code, Code::Native(_))
    }

    /// Drops this function's warm instances, so the next invocation starts cold (with
    /// fresh module-level state).
    pub fn drop_idle_instances(&self) {
        if let Code::Wasm { idle, .. } = &self.code {
            if let Ok(mut idle) = idle.lock() {
                idle.clear();
            }
        }
    }

    /// Runs one invocation: on a warm instance if one is idle, else on a fresh one.
    ///
    /// A function that fails is still `Ok`: see [`Outcome::FunctionError`]. `Err` means
    /// the runtime could not run it at all.
    #[tracing::instrument(name = "lambda.invoke", skip_all, fields(function = %self.spec.name, request_id = %inv.request_id))]
    pub async fn invoke(&self, inv: Invocation) -> Result<InvocationResult, RuntimeError> {
        let (pre, idle) = match &self.code {
            Code::Wasm { pre, idle } => (pre, idle),
            Code::Native(handler) => return Ok(self.invoke_native(handler, inv).await),
        };
        // Timeouts need the epoch to advance while the guest runs.
        let _ticking = self.runtime.ticker.enter();
        let (mut instance, init_duration) = match self.take_idle(idle) {
            Some(instance) => (instance, None),
            None => {
                let started = Instant::now();
                let instance = self.instantiate(pre).await?;
                (instance, Some(started.elapsed()))
            }
        };
        let clock = self.runtime.clock.clone();
        let capture = instance.capture.clone();
        let memory = instance.memory.clone();
        let log_stream_name = instance.log_stream_name.clone();
        let request_id = inv.request_id.clone();

        let trace_id = if inv.trace.trace_id.is_empty() {
            slcl_core::ids::trace_id(clock.now_millis() / 1000)
        } else {
            inv.trace.trace_id.clone()
        };
        instance.store.data_mut().hooks.trace = TraceContext {
            trace_id: trace_id.clone(),
            parent_id: Some(request_id.clone()),
        };
        capture.begin(&request_id);
        capture.host_line(&format!(
            "START RequestId: {request_id} Version: {}",
            self.spec.version
        ));

        let request = self.incoming_request(&inv, &trace_id, clock.now_millis());
        let started = Instant::now();
        let ran = within_timeout(&clock, self.spec.timeout, handle(instance, request)).await;
        let duration = started.elapsed();
        capture.flush_partial();

        let mut after_report = Vec::new();
        let (outcome, billed_ms) = match ran {
            None => {
                // The instance was dropped with the cancelled future: a timed-out
                // sandbox is not reused, as in Lambda.
                let outcome = self.timed_out(&request_id, duration, &mut after_report);
                (outcome, self.spec.timeout.as_millis() as u64)
            }
            Some((instance, handled)) => {
                let keep = matches!(handled, Handled::Response { .. } | Handled::TooLarge)
                    && !self.runtime.config.cold_start_every_invoke;
                let outcome =
                    self.outcome(handled, &request_id, &memory, &capture, &mut after_report);
                if keep {
                    self.put_idle(idle, instance);
                }
                let billed = duration + init_duration.unwrap_or_default();
                (outcome, billed.as_nanos().div_ceil(1_000_000) as u64)
            }
        };

        let max_memory_used_mb = memory.peak.load(Ordering::Relaxed).div_ceil(1 << 20).max(1);
        self.end_and_report(
            &capture,
            &request_id,
            duration,
            billed_ms,
            max_memory_used_mb,
            init_duration,
            &after_report,
        );

        Ok(InvocationResult {
            outcome,
            logs: capture.take_lines(),
            duration,
            billed_duration_ms: billed_ms,
            max_memory_used_mb,
            init_duration,
            log_stream_name,
        })
    }

    /// Runs a native handler, framed and timed exactly as a component invocation.
    async fn invoke_native(&self, handler: &NativeHandler, inv: Invocation) -> InvocationResult {
        let clock = self.runtime.clock.clone();
        let capture = LogCapture::new(&self.spec.name, self.runtime.config.log_sink.clone());
        let request_id = inv.request_id.clone();
        let trace_id = if inv.trace.trace_id.is_empty() {
            slcl_core::ids::trace_id(clock.now_millis() / 1000)
        } else {
            inv.trace.trace_id.clone()
        };
        let log_stream_name = log_stream_name(clock.now(), &self.spec.version);
        capture.begin(&request_id);
        capture.host_line(&format!(
            "START RequestId: {request_id} Version: {}",
            self.spec.version
        ));
        let parent: u64 = rand::random();
        let request = NativeRequest {
            payload: inv.payload.clone(),
            context: native::Context {
                request_id: request_id.clone(),
                deadline: clock.now_millis() + self.spec.timeout.as_millis() as u64,
                invoked_function_arn: self.spec.arn.clone(),
                xray_trace_id: format!("Root={trace_id};Parent={parent:016x};Sampled=0"),
                client_context: inv.client_context.clone(),
                env_config: native::Config {
                    function_name: self.spec.name.clone(),
                    memory: self.spec.memory_mb as i32,
                    version: self.spec.version.clone(),
                    log_stream: log_stream_name.clone(),
                    log_group: format!("/aws/lambda/{}", self.spec.name),
                },
                clock: clock.clone(),
            },
        };
        let started = Instant::now();
        // A panicking handler is a crashed runtime, not a crashed slcl.
        let call = std::panic::AssertUnwindSafe(handler(request));
        let ran = within_timeout(
            &clock,
            self.spec.timeout,
            futures::FutureExt::catch_unwind(call),
        )
        .await;
        let duration = started.elapsed();
        let mut after_report = Vec::new();
        let (outcome, billed_ms) = match ran {
            None => (
                self.timed_out(&request_id, duration, &mut after_report),
                self.spec.timeout.as_millis() as u64,
            ),
            Some(result) => {
                let outcome = match result {
                    Ok(Ok(body)) => Outcome::Success(body),
                    Ok(Err(e)) => {
                        capture.host_line(&format!(
                            "function error {}: {}",
                            e.error_type, e.error_message
                        ));
                        Outcome::error(&e.error_type, &e.error_message)
                    }
                    Err(panic) => {
                        let why = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "panic".to_owned());
                        capture.host_line(&format!("the handler panicked: {why}"));
                        let message = format!(
                            "RequestId: {request_id} Error: Runtime exited with error: {why}"
                        );
                        after_report.push(message.clone());
                        after_report.push("Runtime.ExitError".to_owned());
                        Outcome::error("Runtime.ExitError", &message)
                    }
                };
                (outcome, duration.as_nanos().div_ceil(1_000_000) as u64)
            }
        };
        self.end_and_report(
            &capture,
            &request_id,
            duration,
            billed_ms,
            1,
            None,
            &after_report,
        );
        InvocationResult {
            outcome,
            logs: capture.take_lines(),
            duration,
            billed_duration_ms: billed_ms,
            max_memory_used_mb: 1,
            init_duration: None,
            log_stream_name,
        }
    }

    /// Lambda's timeout error, and its log line for after the REPORT line.
    fn timed_out(
        &self,
        request_id: &str,
        ran: Duration,
        after_report: &mut Vec<String>,
    ) -> Outcome {
        // On a virtual clock the timeout fires when the clock passes the deadline, which
        // may be well before that much real time ran: report the configured timeout.
        let seconds = ran.max(self.spec.timeout).as_secs_f64();
        let message = format!(
            "{} {request_id} Task timed out after {seconds:.2} seconds",
            iso_timestamp(self.runtime.clock.now()),
        );
        after_report.push(message.clone());
        let payload = serde_json::json!({ "errorMessage": message }).to_string();
        Outcome::FunctionError {
            error_type: "Sandbox.Timedout".to_owned(),
            payload: Bytes::from(payload),
        }
    }

    /// The `END` and `REPORT` lines (and what AWS prints after them).
    #[allow(clippy::too_many_arguments)]
    fn end_and_report(
        &self,
        capture: &LogCapture,
        request_id: &str,
        duration: Duration,
        billed_ms: u64,
        max_memory_used_mb: u64,
        init_duration: Option<Duration>,
        after_report: &[String],
    ) {
        capture.host_line(&format!("END RequestId: {request_id}"));
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed_ms} ms\t\
             Memory Size: {} MB\tMax Memory Used: {max_memory_used_mb} MB",
            duration.as_secs_f64() * 1000.0,
            self.spec.memory_mb,
        );
        if let Some(init) = init_duration {
            report.push_str(&format!(
                "\tInit Duration: {:.2} ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        capture.host_line(&report);
        for line in after_report {
            capture.host_line(line);
        }
    }

    /// Turns how `handle` ended into Lambda's outcome, writing crash details to the log.
    fn outcome(
        &self,
        handled: Handled,
        request_id: &str,
        memory: &MemoryStats,
        capture: &LogCapture,
        after_report: &mut Vec<String>,
    ) -> Outcome {
        let mut exit = |reason: String| {
            let message = format!("RequestId: {request_id} Error: {reason}");
            after_report.push(message.clone());
            after_report.push("Runtime.ExitError".to_owned());
            Outcome::error("Runtime.ExitError", &message)
        };
        match handled {
            Handled::Response { status, body, .. } if (200..300).contains(&status) => {
                Outcome::Success(body)
            }
            Handled::Response {
                body, error_type, ..
            } => function_error(body, error_type),
            Handled::TooLarge => Outcome::error(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size exceeded maximum allowed payload size \
                     ({MAX_RESPONSE_BYTES} bytes)."
                ),
            ),
            Handled::BodyFailed(why) => exit(format!(
                "Runtime exited with error: failed to read the response body: {why}"
            )),
            Handled::ErrorCode(code) => exit(format!(
                "Runtime exited with error: handler answered with {code:?}"
            )),
            Handled::NoResponse => exit(
                "Runtime exited without providing a reason (the handler returned without \
                 setting a response)"
                    .to_owned(),
            ),
            Handled::Trap(error) => {
                if memory.exceeded.load(Ordering::Relaxed) {
                    capture.host_line(&format!(
                        "slcl: the function exceeded its memory size of {} MB",
                        self.spec.memory_mb
                    ));
                    exit("Runtime exited with error: signal: killed".to_owned())
                } else {
                    // The trap and its wasm backtrace, for the developer.
                    for line in format!("{error:?}").lines() {
                        capture.host_line(line);
                    }
                    let summary = error
                        .downcast_ref::<wasmtime::Trap>()
                        .map(|trap| trap.to_string())
                        .unwrap_or_else(|| error.to_string());
                    exit(format!("Runtime exited with error: {summary}"))
                }
            }
        }
    }

    /// The request as the Lambda Runtime Interface Emulator delivers it.
    fn incoming_request(
        &self,
        inv: &Invocation,
        trace_id: &str,
        now_ms: u64,
    ) -> hyper::Request<Full<Bytes>> {
        let deadline = now_ms + self.spec.timeout.as_millis() as u64;
        let parent: u64 = rand::random();
        let mut builder = hyper::Request::builder()
            .method("POST")
            .uri("http://localhost:8080/2015-03-31/functions/function/invocations")
            .header("host", "localhost:8080")
            .header("content-type", "application/json")
            .header("content-length", inv.payload.len())
            .header("lambda-runtime-aws-request-id", &inv.request_id)
            .header("lambda-runtime-deadline-ms", deadline)
            .header("lambda-runtime-invoked-function-arn", &self.spec.arn)
            .header(
                "lambda-runtime-trace-id",
                format!("Root={trace_id};Parent={parent:016x};Sampled=0"),
            );
        if let Some(cc) = &inv.client_context {
            builder = builder.header("lambda-runtime-client-context", cc);
        }
        builder
            .body(Full::new(inv.payload.clone()))
            .unwrap_or_else(|_| {
                // Only a header value with control characters can fail; drop them.
                hyper::Request::new(Full::new(inv.payload.clone()))
            })
    }

    fn take_idle(&self, idle: &IdlePool) -> Option<Instance> {
        let now = self.runtime.clock.now();
        let keep_alive = self.runtime.config.keep_alive;
        let mut idle = idle.lock().ok()?;
        // Expired instances are at the front: least recently used first.
        while let Some(first) = idle.front() {
            let age = now.duration_since(first.last_used).unwrap_or_default();
            if age < keep_alive {
                break;
            }
            idle.pop_front();
        }
        idle.pop_back()
    }

    fn put_idle(&self, idle: &IdlePool, mut instance: Instance) {
        instance.last_used = self.runtime.clock.now();
        if let Ok(mut idle) = idle.lock() {
            idle.push_back(instance);
        }
        // An idle instance can be evicted for an invocation waiting for a slot.
        self.runtime.slot_freed.notify_one();
    }

    /// A fresh instance; when the pool is full, makes room by dropping idle instances
    /// (of any function).
    async fn instantiate(&self, pre: &ProxyPre<HostState>) -> Result<Instance, RuntimeError> {
        let mut waiting_since: Option<std::time::Instant> = None;
        loop {
            let capture = LogCapture::new(&self.spec.name, self.runtime.config.log_sink.clone());
            let memory = Arc::new(MemoryStats::default());
            let log_stream_name = log_stream_name(self.runtime.clock.now(), &self.spec.version);
            let limit = (u64::from(self.spec.memory_mb) << 20).min(MAX_MEMORY_BYTES);
            let state = HostState {
                wasi: self.wasi_ctx(&capture, &log_stream_name),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                hooks: OutboundHooks {
                    shared: self.runtime.outbound.clone(),
                    capture: capture.clone(),
                    trace: TraceContext::default(),
                },
                limiter: MemoryLimiter {
                    limit,
                    stats: memory.clone(),
                },
            };
            let mut store = Store::new(pre.engine(), state);
            store.limiter(|state| &mut state.limiter);
            store.set_epoch_deadline(1);
            store.epoch_deadline_async_yield_and_update(1);
            match pre.instantiate_async(&mut store).await {
                Ok(proxy) => {
                    return Ok(Instance {
                        store,
                        proxy,
                        capture,
                        memory,
                        log_stream_name,
                        last_used: self.runtime.clock.now(),
                        slot_freed: self.runtime.slot_freed.clone(),
                    })
                }
                Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() => {
                    drop(store);
                    if self.runtime.evict_one_idle() {
                        continue;
                    }
                    // Every slot is busy: wait for an instance to end.
                    let now = std::time::Instant::now();
                    let deadline =
                        *waiting_since.get_or_insert(now) + self.runtime.config.slot_wait;
                    if now >= deadline {
                        return Err(RuntimeError::Capacity {
                            function: self.spec.name.clone(),
                            max_instances: self.runtime.config.max_instances,
                        });
                    }
                    let freed = self.runtime.slot_freed.notified();
                    let _ = tokio::time::timeout(SLOT_RETRY.min(deadline - now), freed).await;
                }
                Err(e) => {
                    return Err(RuntimeError::Instantiate {
                        function: self.spec.name.clone(),
                        path: self.spec.wasm.clone(),
                        message: format!("{e:?}"),
                    })
                }
            }
        }
    }

    /// The WASI environment of an instance: Lambda's variables, captured stdio, the
    /// stack's clock, and nothing else (no preopened directories, no sockets: the only
    /// way out is `wasi:http`, which reaches the in-process fakes).
    fn wasi_ctx(&self, capture: &Arc<LogCapture>, log_stream_name: &str) -> WasiCtx {
        let config = &self.runtime.config;
        let spec = &self.spec;
        let mut builder = WasiCtx::builder();
        builder
            .stdout(CaptureStream {
                capture: capture.clone(),
                which: 0,
            })
            .stderr(CaptureStream {
                capture: capture.clone(),
                which: 1,
            })
            .wall_clock(StackWallClock(self.runtime.clock.clone()))
            // The defaults already deny sockets; say so where it matters.
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .arg(&spec.name)
            .env("AWS_REGION", &config.region)
            .env("AWS_DEFAULT_REGION", &config.region)
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", &spec.version)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name)
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_ENDPOINT_URL", &config.endpoint_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_SESSION_TOKEN", "test")
            .env("AWS_EXECUTION_ENV", "slcl")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC");
        for (key, value) in &spec.env {
            builder.env(key, value);
        }
        builder.build()
    }
}

/// Runs `work` until it finishes or the invocation times out, whichever is first.
/// The timeout is `timeout` of real time or `timeout` on the stack's clock: with the
/// system clock these agree; with a virtual clock a test can time an invocation out by
/// advancing the clock past its deadline, and a guest that never returns still ends.
async fn within_timeout<F: std::future::Future>(
    clock: &SharedClock,
    timeout: Duration,
    work: F,
) -> Option<F::Output> {
    let virtual_deadline = clock.sleep(timeout);
    tokio::select! {
        ran = tokio::time::timeout(timeout, work) => ran.ok(),
        () = virtual_deadline => None,
    }
}

/// Calls the guest's `wasi:http/incoming-handler.handle` and collects the response,
/// handing the instance back for reuse.
async fn handle(
    mut instance: Instance,
    request: hyper::Request<Full<Bytes>>,
) -> (Instance, Handled) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let resources = {
        let mut http = instance.store.data_mut().http();
        http.new_incoming_request(Scheme::Http, request)
            .and_then(|req| Ok((req, http.new_response_outparam(sender)?)))
    };
    let (req, out) = match resources {
        Ok(resources) => resources,
        Err(e) => return (instance, Handled::Trap(e)),
    };

    let handled = {
        let call = pin!(instance.proxy.wasi_http_incoming_handler().call_handle(
            &mut instance.store,
            req,
            out
        ));
        let collect = pin!(async move {
            match receiver.await {
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    let error_type = response
                        .headers()
                        .get(ERROR_TYPE_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let limited =
                        http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES);
                    match limited.collect().await {
                        Ok(collected) => Handled::Response {
                            status,
                            body: collected.to_bytes(),
                            error_type,
                        },
                        Err(e) if e.is::<http_body_util::LengthLimitError>() => Handled::TooLarge,
                        Err(e) => Handled::BodyFailed(e.to_string()),
                    }
                }
                Ok(Err(code)) => Handled::ErrorCode(code),
                Err(_) => Handled::NoResponse,
            }
        });

        match select(call, collect).await {
            Either::Left((Err(trap), _)) => Handled::Trap(trap),
            // `handle` returned: the response (if any) is already buffered, unless the guest
            // leaked the response-outparam or body, which would otherwise wait forever.
            Either::Left((Ok(()), collect)) => {
                match tokio::time::timeout(Duration::from_secs(1), collect).await {
                    Ok(handled) => handled,
                    Err(_) => Handled::NoResponse,
                }
            }
            // The whole response is in; let `handle` finish whatever it does after.
            Either::Right((handled, call)) => match call.await {
                Ok(()) => handled,
                Err(trap) => Handled::Trap(trap),
            },
        }
    };
    (instance, handled)
}

/// Response header a guest may name its error type in, as with the Lambda Runtime API.
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
/// Longest wait between two tries for a slot, should a freed slot's signal come
/// before the slot itself is free.
const SLOT_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// A non-2xx response: the body should be Lambda's error document. Its `errorType`
/// wins; else the error-type header; a body that is no error document is wrapped.
fn function_error(body: Bytes, header_type: Option<String>) -> Outcome {
    if let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice::<serde_json::Value>(&body) {
        if doc.contains_key("errorType") || doc.contains_key("errorMessage") {
            let error_type = doc
                .get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
                .or(header_type)
                .unwrap_or_else(|| "Unhandled".to_owned());
            return Outcome::FunctionError {
                error_type,
                payload: body,
            };
        }
    }
    let error_type = header_type.unwrap_or_else(|| "Runtime.InvalidResponse".to_owned());
    Outcome::error(&error_type, &String::from_utf8_lossy(&body))
}

/// `2024-05-01T12:34:56.789Z`
fn iso_timestamp(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// `2024/05/01/[$LATEST]<32 hex>`, as Lambda names an execution environment's stream.
fn log_stream_name(now: SystemTime, version: &str) -> String {
    let at = time::OffsetDateTime::from(now);
    let id: u128 = rand::random();
    format!(
        "{:04}/{:02}/{:02}/[{version}]{id:032x}",
        at.year(),
        at.month() as u8,
        at.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents() {
        let ok = function_error(
            Bytes::from(r#"{"errorType":"E","errorMessage":"m"}"#),
            Some("H".into()),
        );
        assert_eq!(ok.error_type(), Some("E"));
        assert_eq!(
            ok.payload().as_ref(),
            br#"{"errorType":"E","errorMessage":"m"}"#
        );

        let typed = function_error(Bytes::from(r#"{"errorMessage":"m"}"#), Some("H".into()));
        assert_eq!(typed.error_type(), Some("H"));

        let raw = function_error(Bytes::from("oops"), None);
        assert_eq!(raw.error_type(), Some("Runtime.InvalidResponse"));
        let doc: serde_json::Value = serde_json::from_slice(raw.payload()).unwrap();
        assert_eq!(doc["errorMessage"], "oops");
    }

    #[test]
    fn names() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso_timestamp(at), "2023-11-14T22:13:20.123Z");
        let stream = log_stream_name(at, "$LATEST");
        assert!(stream.starts_with("2023/11/14/[$LATEST]"), "{stream}");
        assert_eq!(stream.len(), "2023/11/14/[$LATEST]".len() + 32);
    }
}
