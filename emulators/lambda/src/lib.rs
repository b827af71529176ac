//! The Lambda emulator.
//!
//! Functions are WebAssembly components run by [`slcl_runtime`]. This crate owns the
//! function registry, the Lambda API (restJson, as botocore's `lambda` model) and the
//! asynchronous invocation queue that S3 notifications and `InvocationType=Event`
//! invokes feed. It has the shape of every emulator crate:
//!
//! - [`protocol`]: decodes `/2015-03-31/functions/...` requests into an [`protocol::Operation`]
//!   and encodes results and Lambda's JSON errors.
//! - `operations`: what each operation does.
//! - [`state`]: the registry of loaded functions and the durable async-invoke queue
//!   (SQLite table `lambda_async_queue`).
//! - `events`: the bus side: [`LambdaService`] is the [`slcl_core::Target`] for
//!   `arn:aws:lambda:…` ARNs, and runs the queued events with Lambda's retry policy.
//! - [`stats`]: per-function counters (invocations, errors, throttles, duration
//!   percentiles, cold starts, billed GB-seconds and their cost on AWS), read with
//!   [`LambdaService::stats`].
//!
//! Supported today: Invoke (RequestResponse, Event, DryRun; LogType=Tail),
//! GetFunction, GetFunctionConfiguration, ListFunctions. Functions are declared in
//! `slcl.toml`; every other operation answers a `NotImplemented` error naming it.
//!
//! ```no_run
//! # async fn demo(lambda: std::sync::Arc<slcl_lambda::LambdaService>) -> anyhow::Result<()> {
//! let result = lambda.invoke("thumbnail", bytes::Bytes::from_static(b"{}"), Default::default()).await?;
//! println!("{}", String::from_utf8_lossy(result.payload()));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod catalog;
mod concurrency;
pub mod esm;
mod events;
pub mod filter;
mod functions;
mod invoke_config;
mod operations;
pub mod protocol;
pub mod state;
pub mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};

use slcl_core::{EventSource, SharedClock, StackContext, TraceLog};
use slcl_runtime::Runtime;
use slcl_store::Store;
use tokio::sync::Notify;

pub use concurrency::Throttle;
pub use esm::{EventSourceMapping, MappingDecl};
pub use functions::DEFAULT_ACCOUNT_CONCURRENCY;
pub use invoke_config::EventInvokeConfigDecl;
pub use operations::InvokeOutput;
pub use slcl_runtime::native::NativeHandler;
pub use state::{FunctionDecl, FunctionEntry, InvocationRecord, Package};
pub use stats::{DurationStats, FunctionStats};

/// Errors at the Lambda emulator's boundary.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// No function has this name.
    #[error("Function not found: {0}")]
    NotFound(String),
    /// The function's code could not be loaded (the source names function and file).
    #[error("{source}")]
    Load {
        /// Function name.
        name: String,
        /// What went wrong.
        source: slcl_runtime::RuntimeError,
    },
    /// The runtime failed to run the function (not a function error).
    #[error(transparent)]
    Runtime(#[from] slcl_runtime::RuntimeError),
    /// The invocation was throttled by a concurrency limit.
    #[error("Rate Exceeded: {}", .0.reason())]
    Throttled(Throttle),
    /// The state database failed.
    #[error("lambda state: {0}")]
    State(String),
    /// A declared event source mapping is invalid (the message says which and why).
    #[error("event source mapping: {0}")]
    InvalidMapping(String),
    /// A declared asynchronous invocation configuration is invalid (the message says
    /// which and why).
    #[error("asynchronous invocation configuration: {0}")]
    InvalidEventInvokeConfig(String),
    /// A declared function's settings break a rule of Lambda's (the message is
    /// Lambda's).
    #[error("function `{name}`: {message}")]
    InvalidFunction {
        /// Function name.
        name: String,
        /// What Lambda would answer.
        message: String,
    },
}

/// The Lambda service: API, registry and async queue.
pub struct LambdaService {
    stack: StackContext,
    runtime: Runtime,
    clock: SharedClock,
    registry: state::Registry,
    queue: state::AsyncQueue,
    wake: Notify,
    traces: Arc<TraceLog>,
    invocations: state::InvocationLog,
    /// Event sources by ARN service namespace (`sqs`).
    sources: RwLock<HashMap<String, Arc<dyn EventSource>>>,
    /// Where each invocation's output goes as log events (`/aws/lambda/<name>`).
    logs: RwLock<Option<Arc<dyn slcl_core::LogDestination>>>,
    mappings: esm::MappingStore,
    pollers: esm::Pollers,
    /// Asynchronous invocation configurations (`lambda_event_invoke_configs`).
    invoke_configs: invoke_config::InvokeConfigStore,
    /// Where destination records and dead letters are delivered.
    bus: RwLock<Option<Arc<slcl_bus::Bus>>>,
    /// Functions, versions, aliases, policies, tags (durable).
    catalog: catalog::Catalog,
    /// Handlers of native functions, by name (their versions run the same handler).
    natives: RwLock<HashMap<String, NativeHandler>>,
    /// Reserved and account concurrency.
    concurrency: concurrency::Concurrency,
    /// Per-function counters (in memory).
    stats: stats::Stats,
    /// The stack's own request dispatcher, to read deployment packages from S3.
    dispatcher: RwLock<Option<Arc<dyn slcl_core::Dispatcher>>>,
    started: AtomicBool,
    me: Weak<LambdaService>,
}

impl LambdaService {
    /// A Lambda service running functions on `runtime`, keeping its queue in `store`
    /// and recording every invocation as a step in `traces`.
    ///
    /// Call [`LambdaService::start`] once to run queued async invocations (including
    /// ones left over from a previous run).
    pub fn new(
        store: Store,
        runtime: Runtime,
        clock: SharedClock,
        stack: StackContext,
        traces: Arc<TraceLog>,
    ) -> Result<Arc<LambdaService>, LambdaError> {
        let db = store.db().map_err(|e| LambdaError::State(e.to_string()))?;
        let queue =
            state::AsyncQueue::open(db.clone()).map_err(|e| LambdaError::State(e.to_string()))?;
        let invoke_configs = invoke_config::InvokeConfigStore::open(db.clone())
            .map_err(|e| LambdaError::State(format!("{e:#}")))?;
        let catalog = catalog::Catalog::open(db.clone(), &store.blob_dir())
            .map_err(|e| LambdaError::State(format!("{e:#}")))?;
        let mappings =
            esm::MappingStore::open(db).map_err(|e| LambdaError::State(format!("{e:#}")))?;
        Ok(Arc::new_cyclic(|me| LambdaService {
            stack,
            runtime,
            clock,
            registry: state::Registry::default(),
            queue,
            wake: Notify::new(),
            traces,
            invocations: state::InvocationLog::default(),
            sources: RwLock::default(),
            logs: RwLock::default(),
            mappings,
            pollers: esm::Pollers::default(),
            invoke_configs,
            bus: RwLock::default(),
            catalog,
            natives: RwLock::default(),
            concurrency: concurrency::Concurrency::new(functions::DEFAULT_ACCOUNT_CONCURRENCY),
            stats: stats::Stats::default(),
            dispatcher: RwLock::default(),
            started: AtomicBool::new(false),
            me: me.clone(),
        }))
    }

    /// Sends every invocation's output (START, the function's lines, END, REPORT) to
    /// `destination` as log group `/aws/lambda/<function>`, stream
    /// `YYYY/MM/DD/[<version>]<instance id>`, as Lambda does with CloudWatch Logs.
    pub fn set_log_destination(&self, destination: Arc<dyn slcl_core::LogDestination>) {
        *self.logs.write().unwrap_or_else(|p| p.into_inner()) = Some(destination);
    }

    /// The bus that carries asynchronous invocations' destination records (to SQS
    /// queues, SNS topics, functions, EventBridge buses, S3 buckets) and dead
    /// letters. Without one, records are not sent (a warning says so).
    pub fn set_bus(&self, bus: Arc<slcl_bus::Bus>) {
        *self.bus.write().unwrap_or_else(|p| p.into_inner()) = Some(bus);
    }

    /// Starts the background worker that runs async invocations, and the poller of
    /// every enabled event source mapping (including ones stored by a previous run).
    pub fn start(self: &Arc<Self>) {
        events::spawn_worker(Arc::clone(self));
        self.started.store(true, Ordering::SeqCst);
        self.start_pollers();
    }

    /// The ARN of function `name` in this stack.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.stack.region, self.stack.account_id
        )
    }

    /// Loads (or reloads) a declared function. A reload swaps the code atomically: the
    /// next invocation runs the new code, running ones finish on the old. The function
    /// is recorded like one created through the API (its versions, aliases, tags and
    /// concurrency persist), but only its declarer brings it back after a restart.
    pub async fn declare(&self, decl: FunctionDecl) -> Result<Arc<FunctionEntry>, LambdaError> {
        functions::check_declared(&decl)?;
        self.install(decl, catalog::Origin::Declared).await
    }

    /// Declares a function whose body is a native Rust handler (see
    /// [`slcl_runtime::native`]) instead of a component; `decl.wasm` is ignored. It is
    /// invoked exactly as a component would be: by the Lambda API, by S3
    /// notifications, through the async queue.
    pub fn declare_native(&self, decl: FunctionDecl, handler: NativeHandler) -> Arc<FunctionEntry> {
        let spec = decl.spec(&self.function_arn(&decl.name), "$LATEST");
        self.natives
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(decl.name.clone(), Arc::clone(&handler));
        let function = self.runtime.load_native(spec, handler);
        self.keep(decl, function, catalog::Origin::Declared)
    }

    /// Wires the stack's request dispatcher, through which CreateFunction and
    /// UpdateFunctionCode read `S3Bucket`/`S3Key` packages. Without it those fail.
    pub fn set_dispatcher(&self, dispatcher: Arc<dyn slcl_core::Dispatcher>) {
        *self.dispatcher.write().unwrap_or_else(|p| p.into_inner()) = Some(dispatcher);
    }

    /// Sets the account's concurrency limit (Lambda's `ConcurrentExecutions`;
    /// default [`DEFAULT_ACCOUNT_CONCURRENCY`]).
    pub fn set_account_concurrency(&self, limit: u32) {
        self.concurrency.set_account_limit(limit);
    }

    /// Reloads function `name` from its wasm file (a native function stays as it is).
    pub async fn reload(&self, name: &str) -> Result<Arc<FunctionEntry>, LambdaError> {
        let entry = self
            .registry
            .get(name)
            .ok_or_else(|| LambdaError::NotFound(self.function_arn(name)))?;
        if entry.function.is_native() {
            return Ok(entry);
        }
        self.declare(entry.decl.clone()).await
    }

    /// Finished invocations of `function` (of every function for `None`) after the
    /// one numbered `after` (0 for all kept), oldest first. The last
    /// [`InvocationRecord`]s are kept in memory, up to 10 000.
    pub fn invocations(&self, function: Option<&str>, after: u64) -> Vec<Arc<InvocationRecord>> {
        self.invocations.since(function, after)
    }

    /// The `seq` of the latest finished invocation (0 before the first).
    pub fn last_invocation_seq(&self) -> u64 {
        self.invocations.last_seq()
    }

    /// Waits up to `timeout` of real time for an invocation of `function` numbered
    /// after `after` to finish, and returns the first such one.
    pub async fn wait_for_invocation(
        &self,
        function: &str,
        after: u64,
        timeout: std::time::Duration,
    ) -> Option<Arc<InvocationRecord>> {
        self.invocations.wait(function, after, timeout).await
    }

    /// Forgets queued async invocations, recorded invocations, the counters of
    /// [`LambdaService::stats`] and event source mappings created through the API
    /// (declared ones stay), and drops warm instances, so the next invocation of every
    /// function starts cold. Functions stay loaded. For resetting a test stack between
    /// cases.
    pub fn reset(&self) -> Result<(), LambdaError> {
        self.reset_mappings()?;
        self.reset_invoke_configs()?;
        self.queue
            .clear()
            .map_err(|e| LambdaError::State(e.to_string()))?;
        self.invocations.clear();
        self.stats.clear();
        for entry in self.registry.every_instance_holder() {
            entry.function.drop_idle_instances();
        }
        Ok(())
    }

    /// Every function's counters, by name: each loaded function (zeros if it never
    /// ran) and any other that ran or was throttled since the stack started or was
    /// last [`reset`](LambdaService::reset). Versions and aliases count under their
    /// function's name. See [`stats`] for what each counter counts and how the cost is
    /// worked out.
    ///
    /// The counters live in memory only: they start from zero when the stack starts
    /// and when it is reset, whatever state the store keeps.
    pub fn stats(&self) -> Vec<FunctionStats> {
        self.stats
            .snapshot(self.registry.all().iter().map(|e| e.decl.name.clone()))
    }

    /// The functions currently loaded, by name.
    pub fn functions(&self) -> Vec<Arc<FunctionEntry>> {
        self.registry.all()
    }

    /// Number of async invocations waiting to run (or to be retried).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}
