//! The `slcl` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
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
}

fn main() -> anyhow::Result<()> {
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
            } => up(dir, host, port, debug).await,
        }
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
            "no resources declared (declare them in slcl.toml, or create buckets and queues with any AWS client)"
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
