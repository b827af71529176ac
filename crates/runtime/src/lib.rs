//! The wasmtime host that runs slcl's Lambda functions.
//!
//! A Lambda function in slcl is a WebAssembly component exporting the standard
//! `wasi:http/incoming-handler` (WASI 0.2), built for `wasm32-wasip2`. This crate
//! loads such components and invokes them the way the Lambda Runtime Interface
//! Emulator invokes a function: each invocation is an HTTP request
//!
//! ```text
//! POST /2015-03-31/functions/function/invocations
//! content-type: application/json
//! lambda-runtime-aws-request-id: <request id>
//! lambda-runtime-deadline-ms: <unix ms, from the stack's Clock, + timeout>
//! lambda-runtime-invoked-function-arn: <function ARN>
//! lambda-runtime-trace-id: Root=<trace id>;Parent=<16 hex>;Sampled=0
//! lambda-runtime-client-context: <base64, when given>
//!
//! <event JSON>
//! ```
//!
//! A 2xx response is the function's result; any other status is a function error
//! whose body is Lambda's `{"errorType": .., "errorMessage": ..}` document.
//!
//! # Main types
//!
//! - [`Runtime`]: one per stack. Owns the wasmtime engine (pooling allocator, epoch
//!   interruption), the compiled-artifact cache and the [`slcl_core::Dispatcher`]
//!   that answers guests' outgoing requests. Cheap to clone.
//! - [`FunctionSpec`] → [`Runtime::load`] → [`Function`]: one compiled,
//!   pre-instantiated component per function version, plus its warm instances.
//! - [`Invocation`] → [`Function::invoke`] → [`InvocationResult`]: the [`Outcome`]
//!   (result or function error), the invocation's log lines framed by AWS's
//!   `START` / `END` / `REPORT` lines, durations and memory used.
//! - [`LogSink`]: where every output line goes as it is written ([`ConsoleLogSink`]
//!   prints `[<function>] <line>`).
//!
//! # What a function sees
//!
//! - Lambda's environment variables (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`,
//!   `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_LOG_GROUP_NAME`, ...), dummy
//!   credentials (`test`), `AWS_ENDPOINT_URL` pointing at the stack, then the
//!   function's own variables.
//! - Its stdout and stderr, captured line by line.
//! - A wall clock that reads the stack's [`slcl_core::Clock`].
//! - No filesystem (no preopened directories) and no sockets. The only way out is
//!   `wasi:http/outgoing-handler`: requests to AWS endpoints (`*.amazonaws.com`,
//!   the stack's endpoint, `*.localhost.localstack.cloud`, `*.localhost`, and
//!   [`RuntimeConfig::allowed_hosts`]) are dispatched in-process to the emulators;
//!   every other host is denied with `HTTP-request-denied`, and a log line says how
//!   to allow it.
//!
//! # Lambda semantics
//!
//! - Warm reuse: an instance that finished an invocation waits for the next one, so
//!   module-level state survives between invocations, as in a Lambda execution
//!   environment. Concurrent invocations get separate instances. Idle instances are
//!   dropped after [`RuntimeConfig::keep_alive`] (or right away with
//!   [`RuntimeConfig::cold_start_every_invoke`]). [`InvocationResult::init_duration`]
//!   is `Some` on a cold start.
//! - Timeout: `Sandbox.Timedout`, with AWS's `Task timed out after N.NN seconds`
//!   message; the instance is discarded.
//! - Memory size: the guest's linear memory may not grow beyond `memory_mb`; a guest
//!   that tries is killed (`Runtime.ExitError`, `signal: killed`), as Lambda's OOM.
//! - Trap (panic, `unreachable`...): `Runtime.ExitError`; the trap and wasm backtrace
//!   go to the log; the instance is discarded.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use slcl_core::{LateDispatcher, SystemClock, TraceContext};
//! use slcl_runtime::{FunctionSpec, Invocation, Outcome, Runtime, RuntimeConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::new(
//!     RuntimeConfig { cache_dir: Some(".slcl/cache".into()), ..RuntimeConfig::default() },
//!     LateDispatcher::new(),
//!     SystemClock::shared(),
//! )?;
//! let function = runtime
//!     .load(FunctionSpec {
//!         name: "thumbnail".into(),
//!         arn: "arn:aws:lambda:us-east-1:000000000000:function:thumbnail".into(),
//!         version: "$LATEST".into(),
//!         wasm: "target/wasm32-wasip2/release/thumbnail.wasm".into(),
//!         memory_mb: 128,
//!         timeout: Duration::from_secs(3),
//!         env: BTreeMap::new(),
//!     })
//!     .await?;
//! let result = function
//!     .invoke(Invocation {
//!         request_id: slcl_core::ids::uuid(),
//!         payload: r#"{"key":"cat.png"}"#.into(),
//!         trace: TraceContext::default(),
//!         client_context: None,
//!     })
//!     .await?;
//! match result.outcome {
//!     Outcome::Success(body) => println!("result: {}", String::from_utf8_lossy(&body)),
//!     Outcome::FunctionError { error_type, .. } => println!("failed: {error_type}"),
//! }
//! print!("{}", result.logs);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod engine;
mod error;
mod function;
mod logs;
pub mod native;
mod outbound;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub use error::RuntimeError;
pub use function::{
    Function, FunctionSpec, Invocation, InvocationResult, Outcome, MAX_RESPONSE_BYTES,
};
pub use logs::{ConsoleLogSink, LogSink, NullLogSink};

use function::{Code, HostState, IdlePool};

/// Default of [`RuntimeConfig::max_instances`].
pub const DEFAULT_MAX_INSTANCES: u32 = 64;
/// Default of [`RuntimeConfig::slot_wait`]: 30 seconds.
pub const DEFAULT_SLOT_WAIT: Duration = Duration::from_secs(30);
/// Default of [`RuntimeConfig::keep_alive`]: 10 minutes.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(600);
/// Default of [`RuntimeConfig::endpoint_url`].
pub const DEFAULT_ENDPOINT_URL: &str = "http://127.0.0.1:4566";
/// Default of [`RuntimeConfig::region`].
pub const DEFAULT_REGION: &str = "us-east-1";

/// How the runtime runs functions. `RuntimeConfig::default()` gives every default.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Folder for compiled artifacts keyed by content hash (`<sha256>-wasmtime<version>-
    /// <release|debug>-<engine hash>.cwasm`), so an unchanged function loads in
    /// milliseconds instead of being recompiled. `None` (the default) compiles on every
    /// load. The folder is created if missing; entries are never cleaned up.
    pub cache_dir: Option<PathBuf>,
    /// Compile guests with native debug info and without Cranelift optimizations, so
    /// LLDB/GDB attached to slcl can step through guest source. Default `false`.
    /// Costs compile time and guest speed.
    pub debug: bool,
    /// Most instances alive at once, across all functions, busy or warm (the pooling
    /// allocator's size). Default [`DEFAULT_MAX_INSTANCES`] (64). When all are in use,
    /// warm instances are evicted to make room; when all are busy, an invocation
    /// waits up to [`RuntimeConfig::slot_wait`] for one to end, then fails with
    /// [`RuntimeError::Capacity`]. Each slot reserves address space (about 8 GiB, no
    /// RAM) for up to two 4 GiB memories.
    pub max_instances: u32,
    /// Where function output lines go. Default [`ConsoleLogSink`].
    pub log_sink: Arc<dyn LogSink>,
    /// Endpoint URL handed to guests as `AWS_ENDPOINT_URL`; requests to its host and
    /// port are dispatched in-process. Default [`DEFAULT_ENDPOINT_URL`].
    pub endpoint_url: String,
    /// Region handed to guests as `AWS_REGION` and `AWS_DEFAULT_REGION`. Default
    /// [`DEFAULT_REGION`].
    pub region: String,
    /// Extra hosts (`host` for any port, or `host:port`) whose requests are also
    /// dispatched in-process rather than denied. Default empty.
    pub allowed_hosts: Vec<String>,
    /// How long a warm instance waits for its next invocation before it is dropped,
    /// measured on the stack's clock. Default [`DEFAULT_KEEP_ALIVE`] (10 minutes);
    /// Lambda keeps idle environments for a comparable, unspecified time.
    pub keep_alive: Duration,
    /// Give every invocation a fresh instance: an instance is dropped when its
    /// invocation ends instead of waiting for the next one. Default `false` (warm
    /// reuse, as Lambda). Turn it on to test that a function does not depend on state
    /// surviving between invocations, or to measure cold starts; it costs an
    /// instantiation (and the function's init work) per invocation. Native functions
    /// have no instance and are not affected.
    pub cold_start_every_invoke: bool,
    /// How long an invocation waits for an instance slot when all
    /// [`RuntimeConfig::max_instances`] are busy, before it fails with
    /// [`RuntimeError::Capacity`]. Default [`DEFAULT_SLOT_WAIT`] (30 seconds). Lambda
    /// scales out instead; slcl's slots are bounded by address space, so beyond them
    /// invocations queue (real time, not the stack's clock).
    pub slot_wait: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            debug: false,
            max_instances: DEFAULT_MAX_INSTANCES,
            log_sink: Arc::new(ConsoleLogSink),
            endpoint_url: DEFAULT_ENDPOINT_URL.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            allowed_hosts: Vec::new(),
            keep_alive: DEFAULT_KEEP_ALIVE,
            cold_start_every_invoke: false,
            slot_wait: DEFAULT_SLOT_WAIT,
        }
    }
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("cache_dir", &self.cache_dir)
            .field("debug", &self.debug)
            .field("max_instances", &self.max_instances)
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("keep_alive", &self.keep_alive)
            .field("cold_start_every_invoke", &self.cold_start_every_invoke)
            .field("slot_wait", &self.slot_wait)
            .finish_non_exhaustive()
    }
}

/// Runs Lambda functions as wasm components. Cheap to clone: clones share the engine,
/// the cache and the instance pool.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) config: RuntimeConfig,
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) clock: slcl_core::SharedClock,
    pub(crate) outbound: Arc<outbound::Outbound>,
    /// Idle pools of every loaded function, for eviction when the allocator is full.
    idle_pools: Mutex<Vec<Weak<IdlePool>>>,
    pub(crate) ticker: engine::EpochTicker,
    /// Signalled when an instance is dropped, for invocations waiting for a slot.
    pub(crate) slot_freed: Arc<tokio::sync::Notify>,
}

impl RuntimeInner {
    /// Drops the least recently used idle instance of any function. Returns whether
    /// there was one.
    pub(crate) fn evict_one_idle(&self) -> bool {
        let Ok(mut pools) = self.idle_pools.lock() else {
            return false;
        };
        pools.retain(|pool| pool.strong_count() > 0);
        let mut oldest: Option<(Arc<IdlePool>, std::time::SystemTime)> = None;
        for pool in pools.iter().filter_map(Weak::upgrade) {
            let front = pool
                .lock()
                .ok()
                .and_then(|idle| idle.front().map(|i| i.last_used()));
            if let Some(at) = front {
                if oldest.as_ref().is_none_or(|(_, t)| at < *t) {
                    oldest = Some((pool, at));
                }
            }
        }
        match oldest {
            Some((pool, _)) => {
                let evicted = pool.lock().ok().and_then(|mut idle| idle.pop_front());
                evicted.is_some()
            }
            None => false,
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine and starts its epoch ticker thread (stopped when the last
    /// clone is dropped). `dispatcher` answers guests' outgoing AWS requests; `clock`
    /// gives deadlines, the guests' wall clock and keep-alive ages.
    pub fn new(
        config: RuntimeConfig,
        dispatcher: Arc<dyn slcl_core::Dispatcher>,
        clock: slcl_core::SharedClock,
    ) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .map_err(|e| RuntimeError::Engine(format!("failed to link WASI: {e:?}")))?;
        let outbound = Arc::new(outbound::Outbound {
            dispatcher,
            rules: outbound::HostRules::new(&config.endpoint_url, &config.allowed_hosts),
        });
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                config,
                engine,
                linker,
                clock,
                outbound,
                idle_pools: Mutex::new(Vec::new()),
                ticker,
                slot_freed: Arc::default(),
            }),
        })
    }

    /// The configuration this runtime was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Compiles the function's component (or loads it from the content-hash cache) and
    /// pre-instantiates it. Compilation runs on a blocking thread.
    ///
    /// Fails if the file cannot be read, is not a component, imports something beyond
    /// WASI 0.2 and `wasi:http`, or does not export `wasi:http/incoming-handler`.
    #[tracing::instrument(name = "lambda.load", skip_all, fields(function = %spec.name))]
    pub async fn load(&self, spec: FunctionSpec) -> Result<Arc<Function>, RuntimeError> {
        let inner = self.inner.clone();
        let name = spec.name.clone();
        let wasm = spec.wasm.clone();
        let compiled = tokio::task::spawn_blocking(move || {
            engine::compile(
                &inner.engine,
                inner.config.cache_dir.as_deref(),
                inner.config.debug,
                &name,
                &wasm,
            )
        })
        .await
        .map_err(|e| RuntimeError::Internal {
            function: spec.name.clone(),
            message: format!("compilation task failed: {e}"),
        })??;

        let compile_error = |e: wasmtime::Error| RuntimeError::Compile {
            function: spec.name.clone(),
            path: spec.wasm.clone(),
            message: format!("{e:?}"),
        };
        let pre = self
            .inner
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(compile_error)?;
        let pre = ProxyPre::new(pre).map_err(compile_error)?;

        let idle: Arc<IdlePool> = Arc::new(Mutex::new(VecDeque::new()));
        if let Ok(mut pools) = self.inner.idle_pools.lock() {
            pools.retain(|pool| pool.strong_count() > 0);
            pools.push(Arc::downgrade(&idle));
        }
        tracing::info!(
            function = %spec.name,
            from_cache = compiled.from_cache,
            "loaded function"
        );
        Ok(Arc::new(Function {
            spec,
            code_sha256: compiled.code_sha256,
            code_size: compiled.code_size,
            from_cache: compiled.from_cache,
            runtime: self.inner.clone(),
            code: Code::Wasm { pre, idle },
        }))
    }

    /// A function whose body is a native Rust handler (see [`native`]) instead of a
    /// component. `spec.wasm` is ignored. Its `CodeSha256` is the hash of its name and
    /// its `CodeSize` 0: there is no code package.
    pub fn load_native(&self, spec: FunctionSpec, handler: native::NativeHandler) -> Arc<Function> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("native:{}", spec.name));
        Arc::new(Function {
            spec,
            code_sha256: base64::engine::general_purpose::STANDARD.encode(digest),
            code_size: 0,
            from_cache: true,
            runtime: self.inner.clone(),
            code: Code::Native(handler),
        })
    }

    /// Drops every warm instance of every function (they are recreated on demand).
    pub fn drop_idle_instances(&self) {
        while self.inner.evict_one_idle() {}
    }
}
