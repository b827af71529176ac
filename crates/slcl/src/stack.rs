use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use slcl_config::Config;
use slcl_core::{LateDispatcher, Service, SharedClock, StackContext, SystemClock, TraceLog};
use slcl_lambda::{FunctionDecl, LambdaService};
use slcl_runtime::{ConsoleLogSink, LogSink, Runtime, RuntimeConfig};
use slcl_s3::{LambdaNotification, S3Service};
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
pub struct StackBuilder {
    project_dir: Option<PathBuf>,
    config: Option<Config>,
    state: StateLocation,
    host: String,
    port: u16,
    debug: bool,
    build_missing: bool,
    watch: bool,
    log_sink: Arc<dyn LogSink>,
    clock: SharedClock,
}

impl Default for StackBuilder {
    fn default() -> Self {
        StackBuilder {
            project_dir: None,
            config: None,
            state: StateLocation::ProjectDir,
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            debug: false,
            build_missing: true,
            watch: true,
            log_sink: Arc::new(ConsoleLogSink),
            clock: SystemClock::shared(),
        }
    }
}

impl StackBuilder {
    /// The project folder holding `slcl.toml`; relative paths in it resolve against
    /// this folder. Default: the current folder.
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = Some(dir.into());
        self
    }

    /// Use this configuration instead of reading `slcl.toml`. Default: read the file.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
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

    /// Compile functions for native debugging (see `docs/debugging.md`). Default off:
    /// debug builds of guests compile slower and run slower.
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
    /// name.
    pub fn log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log_sink = sink;
        self
    }

    /// The clock every timer in the stack reads (async retries and their delays, event
    /// times, the deadline a function sees). Default: the system clock. Pass a
    /// [`slcl_core::VirtualClock`] to move time by hand in tests.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds every piece, creates the declared resources and starts serving.
    pub async fn start(self) -> anyhow::Result<Stack> {
        let dir = match &self.project_dir {
            Some(d) => d.clone(),
            None => std::env::current_dir().context("cannot read the current folder")?,
        };
        let config = match self.config.clone() {
            Some(c) => c,
            None => Config::load(&dir)?,
        };
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
        bus.register("lambda", lambda.clone());
        let services: Vec<Arc<dyn Service>> = vec![s3.clone(), lambda.clone()];
        let router = slcl_edge::Router::new(stack.clone(), services, Arc::clone(&clock), traces);
        dispatcher.set(router.clone());

        for (name, f) in &config.functions {
            let wasm = dir.join(&f.wasm);
            if !wasm.exists() {
                match (&f.build, self.build_missing) {
                    (Some(command), true) => crate::build::run(name, command, &dir, &wasm).await?,
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
                })
                .await?;
            let how = if entry.function.compiled_from_cache() {
                "from the compile cache"
            } else {
                "compiled; cached for next time"
            };
            println!(
                "loaded function `{name}` in {} ms ({how})",
                loading.elapsed().as_millis()
            );
        }
        for (bucket, b) in &config.buckets {
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
                let exists =
                    slcl_core::Arn::parse(&n.function_arn).is_some_and(|arn| bus.exists(&arn));
                anyhow::ensure!(
                    exists,
                    "buckets.{bucket}.notifications: function `{}` does not exist in this stack",
                    n.function_arn
                );
            }
            if !notifications.is_empty() {
                s3.set_lambda_notifications(bucket, notifications)?;
            }
        }
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
            lambda,
            stop: Some(stop),
            server: Some(server),
            _watcher: watcher,
        })
    }
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
    lambda: Arc<LambdaService>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _watcher: Option<crate::watch::Watcher>,
}

impl Stack {
    /// Options for a new stack.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
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
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
