use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use slcl_config::{
    BucketConfig, Config, FunctionConfig, NotificationConfig, QueueConfig, SqsTriggerConfig,
};
use slcl_core::{
    LateDispatcher, Service, SharedClock, StackContext, SystemClock, TraceLog, VirtualClock,
};
use slcl_lambda::{EventInvokeConfigDecl, FunctionDecl, LambdaService, MappingDecl, NativeHandler};
use slcl_logs::LogsService;
use slcl_runtime::{ConsoleLogSink, LogSink, NullLogSink, Runtime, RuntimeConfig};
use slcl_s3::{LambdaNotification, S3Service};
use slcl_sqs::SqsService;
use slcl_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Default address `slcl up` listens on: loopback only.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default port, the one LocalStack uses, so existing tooling finds slcl.
pub const DEFAULT_PORT: u16 = 4566;

/// Where a stack keeps its state.
#[derive(Debug, Clone)]
pub enum StateLocation {
    /// `<project dir>/.slcl` (or the current folder's `.slcl` without a project dir).
    /// State survives restarts. The default.
    ProjectDir,
    /// This folder.
    Dir(PathBuf),
    /// A fresh temporary folder, deleted when the stack is dropped.
    Temporary,
}

/// Options for starting a [`Stack`]. Every option has a default; see each method.
///
/// [`Stack::builder`] starts from the defaults of `slcl up` (port 4566, state in the
/// project's `.slcl/`, output on the console); [`Stack::harness`] from the defaults
/// for tests (a free port, a temporary store, no output, no file watching).
pub struct StackBuilder {
    project_dir: Option<PathBuf>,
    config: ConfigSource,
    functions: Vec<(String, FunctionConfig)>,
    natives: Vec<(String, FunctionConfig, NativeHandler)>,
    buckets: Vec<(String, Option<NotificationConfig>)>,
    queues: Vec<(String, QueueConfig)>,
    /// (function, mapping) pairs declared in code.
    sqs_triggers: Vec<(String, SqsTriggerConfig)>,
    state: StateLocation,
    host: String,
    port: u16,
    debug: bool,
    build_missing: bool,
    watch: bool,
    quiet: bool,
    log_sink: Arc<dyn LogSink>,
    clock: SharedClock,
    virtual_clock: Option<Arc<VirtualClock>>,
    max_instances: u32,
    /// Overrides of `[lambda]` keys, set in code.
    account_concurrency: Option<u32>,
    keep_alive: Option<std::time::Duration>,
    cold_start_every_invoke: Option<bool>,
}

/// Where the configuration comes from.
enum ConfigSource {
    /// `slcl.toml` in the project folder.
    File,
    /// This configuration.
    Given(Config),
}

/// Default of [`StackBuilder::max_instances`] for [`Stack::harness`]: small, so many
/// stacks fit in one test process (each slot reserves address space, not RAM).
pub const HARNESS_MAX_INSTANCES: u32 = 8;

impl Default for StackBuilder {
    fn default() -> Self {
        StackBuilder {
            project_dir: None,
            config: ConfigSource::File,
            functions: Vec::new(),
            natives: Vec::new(),
            buckets: Vec::new(),
            queues: Vec::new(),
            sqs_triggers: Vec::new(),
            state: StateLocation::ProjectDir,
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            debug: debug_from_env(),
            build_missing: true,
            watch: true,
            quiet: false,
            log_sink: Arc::new(ConsoleLogSink),
            clock: SystemClock::shared(),
            virtual_clock: None,
            max_instances: slcl_runtime::DEFAULT_MAX_INSTANCES,
            account_concurrency: None,
            keep_alive: None,
            cold_start_every_invoke: None,
        }
    }
}

impl StackBuilder {
    /// The project folder holding `slcl.toml`, which is read; relative paths in it
    /// resolve against this folder. Default: the current folder (whose `slcl.toml` is
    /// read by [`Stack::builder`], not by [`Stack::harness`]).
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = Some(dir.into());
        if let ConfigSource::Given(c) = &self.config {
            if *c == Config::default() {
                self.config = ConfigSource::File;
            }
        }
        self
    }

    /// Use this configuration instead of reading `slcl.toml`. Default: read the file
    /// ([`Stack::builder`]) or start empty ([`Stack::harness`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = ConfigSource::Given(config);
        self
    }

    /// Declares a function running the component `wasm` (memory 128 MB, timeout 3 s),
    /// on top of what `slcl.toml` declares. A relative path resolves against the
    /// project folder.
    pub fn function(self, name: &str, wasm: impl Into<PathBuf>) -> Self {
        self.function_config(name, FunctionConfig::new(wasm))
    }

    /// Declares a function with every `[functions.<name>]` key of `slcl.toml`.
    pub fn function_config(mut self, name: &str, config: FunctionConfig) -> Self {
        self.functions.push((name.to_owned(), config));
        self
    }

    /// Declares a function whose body is a native Rust async closure instead of a
    /// component (memory 128 MB, timeout 3 s), built with [`crate::native::service_fn`].
    /// It runs in this process, so an IDE breakpoint in the closure stops there, while
    /// the real triggers (S3 notifications, async invokes, the Lambda API) invoke it.
    ///
    /// ```no_run
    /// use slcl::native::{service_fn, LambdaEvent};
    /// # async fn demo() -> anyhow::Result<()> {
    /// let stack = slcl::Stack::harness()
    ///     .native_function("hello", service_fn(|event: LambdaEvent<serde_json::Value>| async move {
    ///         Ok::<_, std::io::Error>(serde_json::json!({ "got": event.payload }))
    ///     }))
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn native_function(self, name: &str, handler: NativeHandler) -> Self {
        self.native_function_config(name, FunctionConfig::new(""), handler)
    }

    /// Like [`StackBuilder::native_function`], with the memory size, timeout,
    /// environment and description of `config` (its `wasm` and `build` are ignored).
    pub fn native_function_config(
        mut self,
        name: &str,
        config: FunctionConfig,
        handler: NativeHandler,
    ) -> Self {
        self.natives.push((name.to_owned(), config, handler));
        self
    }

    /// Declares an S3 bucket, created at start (and again by [`Stack::reset`]).
    pub fn bucket(mut self, name: &str) -> Self {
        self.buckets.push((name.to_owned(), None));
        self
    }

    /// Declares that `bucket` (declared too, if it is not yet) invokes `function` (a
    /// declared or native function's name, or an ARN) for the S3 event types `events`,
    /// such as `["s3:ObjectCreated:*"]`, as a `[[buckets.<name>.notifications]]` entry.
    pub fn notification(mut self, bucket: &str, function: &str, events: &[&str]) -> Self {
        self.buckets.push((
            bucket.to_owned(),
            Some(NotificationConfig {
                function: function.to_owned(),
                events: events.iter().map(|e| e.to_string()).collect(),
                prefix: None,
                suffix: None,
                id: None,
            }),
        ));
        self
    }

    /// Like [`StackBuilder::notification`], with every key of a
    /// `[[buckets.<name>.notifications]]` entry (prefix and suffix filters, id).
    pub fn notification_config(mut self, bucket: &str, config: NotificationConfig) -> Self {
        self.buckets.push((bucket.to_owned(), Some(config)));
        self
    }

    /// Declares an SQS queue with SQS's default attributes (a FIFO queue if the name
    /// ends in `.fifo`), created at start (and again by [`Stack::reset`]), as a
    /// `[queues.<name>]` table.
    pub fn queue(self, name: &str) -> Self {
        self.queue_config(name, QueueConfig::default())
    }

    /// Declares an SQS queue with the attributes of a `[queues.<name>]` table.
    pub fn queue_config(mut self, name: &str, config: QueueConfig) -> Self {
        self.queues.push((name.to_owned(), config));
        self
    }

    /// Declares that messages on `queue` (declared too, if it is not yet) invoke
    /// `function` (a declared or native function), through an event source mapping
    /// with the defaults: batches of up to 10, no batching window, no filters.
    pub fn sqs_trigger(mut self, queue: &str, function: &str) -> Self {
        if !self.queues.iter().any(|(q, _)| q == queue) {
            self.queues.push((queue.to_owned(), QueueConfig::default()));
        }
        self.sqs_triggers
            .push((function.to_owned(), SqsTriggerConfig::new(queue)));
        self
    }

    /// Like [`StackBuilder::sqs_trigger`], with every key of a
    /// `[[functions.<name>.sqs]]` entry (batch size and window, filters,
    /// `ReportBatchItemFailures`, concurrency). The queue must be declared.
    pub fn sqs_trigger_config(mut self, function: &str, config: SqsTriggerConfig) -> Self {
        self.sqs_triggers.push((function.to_owned(), config));
        self
    }

    /// Where state lives. Default [`StateLocation::ProjectDir`].
    pub fn state(mut self, state: StateLocation) -> Self {
        self.state = state;
        self
    }

    /// Address to listen on. Default `127.0.0.1`: other machines cannot reach it.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Port to listen on; 0 picks a free one. Default 4566.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Debug functions natively (see `docs/debugging.md`): run each function's
    /// `build` command with debug info kept and without optimisation, and compile the
    /// components with native debug info and no optimisation, so LLDB/GDB attached to
    /// slcl can break in handler source and show its variables. Default: off, unless
    /// the environment variable `SLCL_DEBUG` is set to `1` or `true` (so an IDE launch
    /// configuration can turn it on without a code change); such builds compile
    /// slower and run slower.
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Run a function's `build` command when its wasm file is missing. Default on.
    pub fn build_missing(mut self, build: bool) -> Self {
        self.build_missing = build;
        self
    }

    /// Watch function wasm files and reload changed code. Default on.
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Where function output goes. Default: the console, prefixed with the function
    /// name ([`Stack::builder`]); nowhere ([`Stack::harness`]), since every
    /// invocation's log lines are kept in its [`crate::InvocationRecord`].
    pub fn log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log_sink = sink;
        self
    }

    /// Don't print the "loaded function" lines while starting. Default off for
    /// [`Stack::builder`], on for [`Stack::harness`].
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// The clock every timer in the stack reads (async retries and their delays, event
    /// times, function deadlines and timeouts, instance keep-alive). Default: the
    /// system clock. See also [`StackBuilder::virtual_clock`].
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self.virtual_clock = None;
        self
    }

    /// Runs the stack on a [`VirtualClock`] standing at `start`, which moves only when
    /// [`Stack::advance`] moves it: "retried after a minute, then sent on" runs in
    /// milliseconds, deterministically. Default: the system clock.
    pub fn virtual_clock(mut self, start: std::time::SystemTime) -> Self {
        let clock = VirtualClock::new(start);
        self.clock = clock.clone();
        self.virtual_clock = Some(clock);
        self
    }

    /// Most function instances alive at once in this stack (see
    /// [`slcl_runtime::RuntimeConfig::max_instances`]). Default 64 for
    /// [`Stack::builder`], [`HARNESS_MAX_INSTANCES`] (8) for [`Stack::harness`]. Each
    /// slot reserves about 8 GiB of address space (no RAM), so many stacks in one
    /// process want few slots each.
    pub fn max_instances(mut self, max: u32) -> Self {
        self.max_instances = max.max(1);
        self
    }

    /// The account's concurrency quota: most invocations running at once across all
    /// functions, above which Lambda throttles (429 `TooManyRequestsException`; async
    /// events wait). Overrides `[lambda] account_concurrency`. Default 1000
    /// ([`slcl_lambda::DEFAULT_ACCOUNT_CONCURRENCY`], Lambda's default quota); a small
    /// value lets a test see its function throttled. At least 1.
    pub fn account_concurrency(mut self, limit: u32) -> Self {
        self.account_concurrency = Some(limit.max(1));
        self
    }

    /// How long an idle instance stays warm, on the stack's clock. Overrides
    /// `[lambda] keep_alive`. Default 10 minutes ([`slcl_runtime::DEFAULT_KEEP_ALIVE`]);
    /// with [`StackBuilder::virtual_clock`], [`Stack::advance`] past it makes the next
    /// invocation a cold start.
    pub fn keep_alive(mut self, keep_alive: std::time::Duration) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }

    /// Give every invocation a fresh instance (a cold start, with fresh module-level
    /// state) instead of reusing warm ones. Overrides `[lambda]
    /// cold_start_every_invoke`. Default off (warm reuse, as Lambda). Costs an
    /// instantiation per invocation; native functions are not affected.
    pub fn cold_start_every_invoke(mut self, on: bool) -> Self {
        self.cold_start_every_invoke = Some(on);
        self
    }

    /// Builds every piece, creates the declared resources and starts serving.
    pub async fn start(self) -> anyhow::Result<Stack> {
        let dir = match &self.project_dir {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("cannot read the current folder")?,
        };
        let mut config = match &self.config {
            ConfigSource::Given(c) => c.clone(),
            ConfigSource::File => Config::load(&dir)?,
        };
        for (name, f) in &self.functions {
            Config::check_function(name, f).map_err(anyhow::Error::msg)?;
            config.functions.insert(name.clone(), f.clone());
        }
        for (name, f, _) in &self.natives {
            Config::check_function(name, f).map_err(anyhow::Error::msg)?;
        }
        for (bucket, notification) in &self.buckets {
            let entry = config.buckets.entry(bucket.clone()).or_default();
            if let Some(n) = notification {
                entry.notifications.push(n.clone());
            }
        }
        for (name, q) in &self.queues {
            config.queues.insert(name.clone(), q.clone());
        }
        if let Some(n) = self.account_concurrency {
            config.lambda.account_concurrency = n;
        }
        if let Some(d) = self.keep_alive {
            config.lambda.keep_alive = d.as_secs();
        }
        if let Some(on) = self.cold_start_every_invoke {
            config.lambda.cold_start_every_invoke = on;
        }
        let store = match &self.state {
            StateLocation::ProjectDir => Store::open(dir.join(".slcl"))?,
            StateLocation::Dir(d) => Store::open(d)?,
            StateLocation::Temporary => Store::temporary()?,
        };

        let listener = TcpListener::bind((self.host.as_str(), self.port))
            .await
            .with_context(|| {
                format!(
                    "failed to listen on {}:{} (is another slcl or LocalStack running? pick another port with --port)",
                    self.host, self.port
                )
            })?;
        let addr = listener.local_addr()?;
        let stack = StackContext {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            endpoint_url: endpoint_url(addr),
        };

        let clock = Arc::clone(&self.clock);
        let traces = TraceLog::new();
        let bus = slcl_bus::Bus::with_traces(Arc::clone(&traces), Arc::clone(&clock));
        let dispatcher = LateDispatcher::new();
        let runtime = Runtime::new(
            RuntimeConfig {
                cache_dir: Some(compile_cache_dir().unwrap_or_else(|| store.cache_dir())),
                debug: self.debug,
                endpoint_url: stack.endpoint_url.clone(),
                region: stack.region.clone(),
                log_sink: Arc::clone(&self.log_sink),
                max_instances: self.max_instances,
                // A sub-second keep-alive given in code is kept as given.
                keep_alive: self
                    .keep_alive
                    .unwrap_or(std::time::Duration::from_secs(config.lambda.keep_alive)),
                cold_start_every_invoke: config.lambda.cold_start_every_invoke,
                ..RuntimeConfig::default()
            },
            dispatcher.clone(),
            Arc::clone(&clock),
        )?;
        let s3 = S3Service::new(
            store.clone(),
            Arc::clone(&bus),
            Arc::clone(&clock),
            stack.clone(),
        )?;
        let lambda = LambdaService::new(
            store.clone(),
            runtime,
            Arc::clone(&clock),
            stack.clone(),
            Arc::clone(&traces),
        )?;
        lambda.set_account_concurrency(config.lambda.account_concurrency);
        bus.register("lambda", lambda.clone());
        bus.register("s3", s3.clone());
        lambda.set_bus(Arc::clone(&bus));
        let sqs = SqsService::new(&store, Arc::clone(&clock), stack.clone())?;
        bus.register("sqs", sqs.clone());
        let logs = LogsService::new(&store, Arc::clone(&clock), stack.clone())?;
        lambda.set_log_destination(logs.clone());
        lambda.set_dispatcher(dispatcher.clone());
        let services: Vec<Arc<dyn Service>> =
            vec![s3.clone(), lambda.clone(), sqs.clone(), logs.clone()];
        let router = slcl_edge::Router::new(
            stack.clone(),
            services,
            Arc::clone(&clock),
            Arc::clone(&traces),
        );
        dispatcher.set(&router);
        // `GET /_slcl/stats`: Lambda's per-function counters. Weak, so the endpoint
        // does not keep a stopped stack's Lambda service alive.
        let stats_source = Arc::downgrade(&lambda);
        router.add_json_endpoint("stats", move || match stats_source.upgrade() {
            Some(lambda) => stats_document(&lambda),
            None => serde_json::json!({ "functions": [] }),
        });

        for (name, f) in &config.functions {
            let wasm = dir.join(&f.wasm);
            // Debugging wants the guest's own DWARF: rebuild it with debug info.
            if let (true, Some(command)) = (self.debug, &f.build) {
                crate::build::run(name, command, &dir, &wasm, true).await?;
            }
            if !wasm.exists() {
                match (&f.build, self.build_missing) {
                    (Some(command), true) => {
                        crate::build::run(name, command, &dir, &wasm, false).await?
                    }
                    _ => anyhow::bail!(
                        "function `{name}`: `{}` does not exist{}",
                        wasm.display(),
                        if f.build.is_some() {
                            ""
                        } else {
                            " and no `build` command is declared"
                        }
                    ),
                }
            }
            let loading = std::time::Instant::now();
            let entry = lambda
                .declare(FunctionDecl {
                    name: name.clone(),
                    wasm,
                    memory_mb: f.memory,
                    timeout_secs: f.timeout,
                    env: f.env.clone(),
                    description: f.description.clone(),
                    ..FunctionDecl::default()
                })
                .await?;
            let how = if entry.function.compiled_from_cache() {
                "from the compile cache"
            } else {
                "compiled; cached for next time"
            };
            if !self.quiet {
                println!(
                    "loaded function `{name}` in {} ms ({how})",
                    loading.elapsed().as_millis()
                );
            }
        }
        for (name, f, handler) in &self.natives {
            lambda.declare_native(
                FunctionDecl {
                    name: name.clone(),
                    wasm: PathBuf::new(),
                    memory_mb: f.memory,
                    timeout_secs: f.timeout,
                    env: f.env.clone(),
                    description: f.description.clone(),
                    ..FunctionDecl::default()
                },
                Arc::clone(handler),
            );
        }
        // Functions created through the API by a previous run.
        lambda.restore().await?;
        create_queues(&config, &sqs)?;
        create_buckets(&config, &s3, &bus)?;
        lambda.register_source("sqs", sqs.clone());
        let triggers = config
            .functions
            .iter()
            .flat_map(|(name, f)| f.sqs.iter().map(move |t| (name, t)))
            .chain(self.sqs_triggers.iter().map(|(name, t)| (name, t)));
        let mut mappings = Vec::new();
        for (function, t) in triggers {
            let arn = sqs.queue_arn(&t.queue).map_err(|_| {
                anyhow::anyhow!(
                    "functions.{function}.sqs: queue `{}` does not exist (declare it under [queues])",
                    t.queue
                )
            })?;
            mappings.push(MappingDecl {
                function: function.clone(),
                event_source_arn: arn,
                batch_size: t.batch_size,
                maximum_batching_window_s: t.maximum_batching_window,
                filters: t.filters.clone(),
                report_batch_item_failures: t.report_batch_item_failures,
                maximum_concurrency: t.maximum_concurrency,
                enabled: t.enabled,
            });
        }
        lambda.declare_mappings(&mappings)?;
        let invoke_configs: Vec<EventInvokeConfigDecl> = config
            .functions
            .iter()
            .chain(self.natives.iter().map(|(name, f, _)| (name, f)))
            .filter(|(_, f)| f.has_event_invoke_config())
            .map(|(name, f)| EventInvokeConfigDecl {
                function: name.clone(),
                maximum_retry_attempts: f.maximum_retry_attempts,
                maximum_event_age: f.maximum_event_age,
                on_success: f.destinations.as_ref().and_then(|d| d.on_success.clone()),
                on_failure: f.destinations.as_ref().and_then(|d| d.on_failure.clone()),
            })
            .collect();
        lambda.declare_event_invoke_configs(&invoke_configs)?;
        lambda.start();

        let watcher = if self.watch {
            Some(crate::watch::watch_functions(&lambda)?)
        } else {
            None
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(slcl_edge::serve(listener, router, async {
            let _ = stopped.await;
        }));
        Ok(Stack {
            addr,
            context: stack,
            config,
            dir,
            store,
            s3,
            sqs,
            logs,
            lambda,
            bus,
            traces,
            clock,
            virtual_clock: self.virtual_clock,
            cursors: Default::default(),
            seen_messages: Default::default(),
            stop: Some(stop),
            server: Some(server),
            _watcher: watcher,
        })
    }
}

/// Creates the configuration's queues, or applies their declared attributes to the
/// ones that exist. Queues without a dead-letter queue first, so a redrive policy's
/// target exists when it is checked.
pub(crate) fn create_queues(config: &Config, sqs: &SqsService) -> anyhow::Result<()> {
    let mut queues: Vec<(&String, &QueueConfig)> = config.queues.iter().collect();
    queues.sort_by_key(|(_, q)| q.attributes.contains_key("RedrivePolicy"));
    for (name, q) in queues {
        let attributes = q
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        sqs.ensure_queue(name, attributes)
            .with_context(|| format!("queues.{name}"))?;
    }
    Ok(())
}

/// Creates the configuration's buckets (if missing) and sets their notifications,
/// checking that every event type is S3's and every function exists.
pub(crate) fn create_buckets(
    config: &Config,
    s3: &S3Service,
    bus: &slcl_bus::Bus,
) -> anyhow::Result<()> {
    for (bucket, b) in &config.buckets {
        create_bucket(config, s3, bus, bucket, b)?;
    }
    Ok(())
}

fn create_bucket(
    config: &Config,
    s3: &S3Service,
    bus: &slcl_bus::Bus,
    bucket: &str,
    b: &BucketConfig,
) -> anyhow::Result<()> {
    s3.ensure_bucket(bucket)?;
    let notifications = b
        .notifications
        .iter()
        .map(|n| LambdaNotification {
            id: Some(
                n.id.clone()
                    .unwrap_or_else(|| format!("slcl-{}", n.function)),
            ),
            function_arn: config.function_arn(&n.function),
            events: n.events.clone(),
            prefix: n.prefix.clone(),
            suffix: n.suffix.clone(),
        })
        .collect::<Vec<_>>();
    for n in &notifications {
        if let Some(bad) = n
            .events
            .iter()
            .find(|e| !slcl_s3::events::EVENT_TYPES.contains(&e.as_str()))
        {
            anyhow::bail!(
                "buckets.{bucket}.notifications: `{bad}` is not an S3 event type (such as s3:ObjectCreated:* or s3:ObjectRemoved:Delete)"
            );
        }
        let exists = slcl_core::Arn::parse(&n.function_arn).is_some_and(|arn| bus.exists(&arn));
        anyhow::ensure!(
            exists,
            "buckets.{bucket}.notifications: function `{}` does not exist in this stack",
            n.function_arn
        );
    }
    if !notifications.is_empty() {
        s3.set_lambda_notifications(bucket, notifications)?;
    }
    Ok(())
}

/// Compiled functions are cached per user, keyed by the wasm's content hash and the
/// wasmtime version, so every project and every test stack shares one compilation:
/// `$SLCL_CACHE_DIR`, else `$XDG_CACHE_HOME/slcl`, else `~/.cache/slcl`. When none of
/// those can be found, the project's `.slcl/cache` is used.
fn compile_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("SLCL_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("slcl")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("slcl")))
}

/// The document `GET /_slcl/stats` answers: every function's counters and the prices
/// the costs are worked out with.
pub(crate) fn stats_document(lambda: &LambdaService) -> serde_json::Value {
    use slcl_lambda::stats;
    serde_json::json!({
        "functions": lambda.stats(),
        "pricing": {
            "architecture": "x86_64",
            "region": "us-east-1",
            "usdPerRequest": stats::PRICE_PER_REQUEST_USD,
            "usdPerGbSecond": stats::PRICE_PER_GB_SECOND_USD,
            "source": stats::PRICING_SOURCE,
        },
    })
}

fn endpoint_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// A running stack: every emulator behind one HTTP endpoint.
///
/// Dropping it stops the listener; [`Stack::shutdown`] also waits for in-flight
/// requests to finish.
pub struct Stack {
    addr: SocketAddr,
    context: StackContext,
    config: Config,
    dir: PathBuf,
    store: Store,
    s3: Arc<S3Service>,
    sqs: Arc<SqsService>,
    logs: Arc<LogsService>,
    lambda: Arc<LambdaService>,
    pub(crate) bus: Arc<slcl_bus::Bus>,
    pub(crate) traces: Arc<TraceLog>,
    pub(crate) clock: SharedClock,
    pub(crate) virtual_clock: Option<Arc<VirtualClock>>,
    /// Per function, the `seq` of the last invocation [`Stack::next_invocation`]
    /// returned.
    pub(crate) cursors: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Per queue, the ids of the messages [`Stack::next_message`] returned.
    pub(crate) seen_messages:
        std::sync::Mutex<std::collections::HashMap<String, std::collections::HashSet<String>>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _watcher: Option<crate::watch::Watcher>,
}

impl Stack {
    /// Options for a new stack, starting from the defaults of `slcl up`.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// Options for a stack in a test: a free port on 127.0.0.1, a temporary store
    /// deleted with the stack, no `slcl.toml` unless [`StackBuilder::project_dir`]
    /// names a folder, no file watching, no console output, and
    /// [`HARNESS_MAX_INSTANCES`] instance slots. See the crate docs for an example.
    pub fn harness() -> StackBuilder {
        StackBuilder {
            config: ConfigSource::Given(Config::default()),
            state: StateLocation::Temporary,
            port: 0,
            watch: false,
            quiet: true,
            log_sink: Arc::new(NullLogSink),
            max_instances: HARNESS_MAX_INSTANCES,
            ..StackBuilder::default()
        }
    }

    /// Base URL for AWS clients, such as `http://127.0.0.1:4566`.
    pub fn endpoint_url(&self) -> &str {
        &self.context.endpoint_url
    }

    /// The address the edge listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Region, account and endpoint of this stack.
    pub fn context(&self) -> &StackContext {
        &self.context
    }

    /// The configuration the stack was started from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The project folder.
    pub fn project_dir(&self) -> &Path {
        &self.dir
    }

    /// The state folder.
    pub fn state_dir(&self) -> &Path {
        self.store.root()
    }

    /// The S3 emulator.
    pub fn s3(&self) -> &Arc<S3Service> {
        &self.s3
    }

    /// The SQS emulator.
    pub fn sqs(&self) -> &Arc<SqsService> {
        &self.sqs
    }

    /// The CloudWatch Logs emulator; function output is in `/aws/lambda/<name>`.
    pub fn logs(&self) -> &Arc<LogsService> {
        &self.logs
    }

    /// The Lambda emulator.
    pub fn lambda(&self) -> &Arc<LambdaService> {
        &self.lambda
    }

    /// Stops accepting requests and waits for in-flight ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "server stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "server task failed"),
                Ok(Ok(())) => {}
            }
        }
        self.bus.clear();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The emulators registered on the bus hold it too: break the cycle.
        self.bus.clear();
    }
}

/// `SLCL_DEBUG=1` (or `true`) turns [`StackBuilder::debug`] on by default.
fn debug_from_env() -> bool {
    std::env::var("SLCL_DEBUG").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}
