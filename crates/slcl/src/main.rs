//! The `slcl` command.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use slcl::{Stack, DEFAULT_HOST, DEFAULT_PORT};

/// slcl: the AWS serverless stack on your machine. S3 and Lambda (functions as
/// WebAssembly components) in one process, reachable by unmodified AWS clients.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the stack declared in DIR/slcl.toml and serve until Ctrl-C.
    ///
    /// Creates the declared queues, buckets, notifications and event source
    /// mappings, builds missing functions with their `build` command, loads them, and
    /// keeps state in DIR/.slcl so it survives restarts. Without a slcl.toml it serves
    /// an empty stack.
    Up {
        /// Project folder holding slcl.toml. Default: the current folder.
        dir: Option<PathBuf>,
        /// Port to listen on (0 = any free port).
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// Address to listen on. The default keeps the stack private to this machine.
        #[arg(long, default_value = DEFAULT_HOST)]
        host: String,
        /// Build and compile functions with debug info and no optimisation, so a native
        /// debugger attached to slcl can break in handler source (see
        /// docs/debugging.md). Also on when SLCL_DEBUG=1.
        #[arg(long)]
        debug: bool,
    },
    /// Invoke a function of a running stack and print its result.
    ///
    /// A synchronous (RequestResponse) Lambda Invoke with the log tail: the result, or
    /// the function's error document, goes to stdout; the end of the invocation's log
    /// (START, the function's output, END, REPORT) to stderr. Exits with 1 when the
    /// function fails.
    Invoke {
        /// Function name or ARN (`name:alias` or `name:version` work too).
        function: String,
        /// File holding the event JSON, or `-` to read it from stdin. Default: `{}`.
        #[arg(long, value_name = "FILE|-")]
        event: Option<PathBuf>,
        /// Version or alias to invoke. Default: `$LATEST`.
        #[arg(long)]
        qualifier: Option<String>,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print a function's log events from CloudWatch Logs (`/aws/lambda/<function>`).
    Logs {
        /// Function name.
        function: String,
        /// Keep printing new events as they arrive (polling every 500 ms) until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print per-function counters of a running stack: invocations, errors,
    /// throttles, cold starts, duration percentiles, billed GB-seconds and what they
    /// would cost on AWS (x86, us-east-1 prices).
    ///
    /// The counters are in memory: they start from zero when the stack starts.
    Stats {
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// Where the running stack is.
#[derive(Args)]
struct Endpoint {
    /// URL of the running stack.
    #[arg(long, env = "SLCL_ENDPOINT", default_value_t = format!("http://{DEFAULT_HOST}:{DEFAULT_PORT}"))]
    endpoint: String,
}

fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLCL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up {
                dir,
                port,
                host,
                debug,
            } => Ok(client_outcome(
                up(dir, host, port, debug).await.map(|()| ExitCode::SUCCESS),
            )),
            Command::Invoke {
                function,
                event,
                qualifier,
                endpoint,
            } => Ok(client_outcome(
                cli::invoke(
                    &endpoint.endpoint,
                    &function,
                    event.as_deref(),
                    qualifier.as_deref(),
                )
                .await,
            )),
            Command::Logs {
                function,
                follow,
                endpoint,
            } => Ok(client_outcome(
                cli::logs(&endpoint.endpoint, &function, follow)
                    .await
                    .map(|()| ExitCode::SUCCESS),
            )),
            Command::Stats { endpoint } => Ok(client_outcome(
                cli::stats(&endpoint.endpoint)
                    .await
                    .map(|()| ExitCode::SUCCESS),
            )),
        }
    })
}

/// A command's error is the user's to read: one line (with its causes) on stderr and
/// exit code 1, never a backtrace (even with `RUST_BACKTRACE` set).
fn client_outcome(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

async fn up(dir: Option<PathBuf>, host: String, port: u16, debug: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut builder = Stack::builder().host(host).port(port);
    if debug {
        // Without the flag, `SLCL_DEBUG` still decides (the builder's default).
        builder = builder.debug(true);
    }
    if let Some(dir) = dir {
        anyhow::ensure!(
            dir.is_dir(),
            "project folder `{}` does not exist",
            dir.display()
        );
        builder = builder.project_dir(dir);
    }
    let stack = builder.start().await?;
    print_banner(&stack, started.elapsed());
    wait_for_shutdown_signal().await;
    println!("shutting down");
    stack.shutdown().await;
    Ok(())
}

fn print_banner(stack: &Stack, took: std::time::Duration) {
    let ctx = stack.context();
    println!(
        "slcl {} ready in {} ms: {} (region {}, account {})",
        env!("CARGO_PKG_VERSION"),
        took.as_millis(),
        stack.endpoint_url(),
        ctx.region,
        ctx.account_id
    );
    println!("state: {}", stack.state_dir().display());
    let mut rows: Vec<[String; 3]> = Vec::new();
    for f in stack.lambda().functions() {
        rows.push([
            "lambda function".into(),
            f.decl.name.clone(),
            format!(
                "{} MB, {} s, {}",
                f.decl.memory_mb,
                f.decl.timeout_secs,
                f.decl.wasm.display()
            ),
        ]);
    }
    for b in stack.s3().summary() {
        rows.push([
            "s3 bucket".into(),
            b.name.clone(),
            format!("{} objects, {} bytes", b.objects, b.bytes),
        ]);
    }
    for name in stack.sqs().queue_names().unwrap_or_default() {
        let attrs = stack.sqs().queue_attributes(&name).unwrap_or_default();
        let count = |k: &str| attrs.get(k).map(String::as_str).unwrap_or("0").to_owned();
        rows.push([
            "sqs queue".into(),
            name,
            format!(
                "{} messages, {} in flight",
                count("ApproximateNumberOfMessages"),
                count("ApproximateNumberOfMessagesNotVisible")
            ),
        ]);
    }
    for m in stack.lambda().event_source_mappings().unwrap_or_default() {
        let source = m
            .event_source_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        rows.push([
            "sqs trigger".into(),
            format!("{source} -> {}", m.function),
            format!(
                "batch {}, window {} s{}",
                m.batch_size,
                m.maximum_batching_window_s,
                if m.enabled { "" } else { ", disabled" }
            ),
        ]);
    }
    if rows.is_empty() {
        println!(
            "no resources declared (declare them in slcl.toml, or create buckets, queues and functions with any AWS client)"
        );
        return;
    }
    rows.insert(0, ["RESOURCE".into(), "NAME".into(), "DETAILS".into()]);
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for r in &rows {
        println!("{:w0$}  {:w1$}  {}", r[0], r[1], r[2]);
    }
}

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("failed to listen for SIGTERM");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
