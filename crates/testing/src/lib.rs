//! Test support for the emulator crates (a dev-dependency only): an emulator behind
//! the real edge on an ephemeral 127.0.0.1 port, on its own tokio runtime, and the
//! real `aws` CLI and boto3 scripts pointed at it.
//!
//! Each emulator's `tests/all/harness.rs` wraps [`EdgeServer`] with its own service
//! and its own Python prelude (the boto3 client and helpers of that service).
//!
//! Scripts run by [`EdgeServer::python`] may drive a virtual clock: a line
//! `__ADVANCE__ <ms>` on stdout moves it and `__SLEEPERS__ <n>` waits until `n`
//! timers sleep on it; each is answered with `ok` on the script's stdin.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use slcl_core::{Clock, Service, SharedClock, StackContext, SystemClock, TraceLog, VirtualClock};

/// Services behind the real edge, serving until dropped.
pub struct EdgeServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The virtual clock the services run on, if they were started with one.
    pub clock: Option<Arc<VirtualClock>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for EdgeServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Let the tasks (and the store handles they hold) go, so a restart can
            // open the same state folder.
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl EdgeServer {
    /// Binds a port, then calls `make` with the stack's clock (`clock`, or the system
    /// clock) and context (its endpoint URL knows the port) to build the services,
    /// and serves them through the real edge. Returns the server and what `make`
    /// returned beside the services.
    pub fn start<T>(
        clock: Option<Arc<VirtualClock>>,
        make: impl FnOnce(SharedClock, StackContext) -> (T, Vec<Arc<dyn Service>>),
    ) -> (EdgeServer, T) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stack = StackContext {
            endpoint_url: format!("http://127.0.0.1:{port}"),
            ..StackContext::default()
        };
        let shared: SharedClock = match &clock {
            Some(c) => c.clone() as Arc<dyn Clock>,
            None => SystemClock::shared(),
        };
        let (made, services) = make(shared.clone(), stack.clone());
        let router = slcl_edge::Router::new(stack, services, shared, TraceLog::new());
        runtime.spawn(slcl_edge::serve(listener, router, std::future::pending()));
        let server = EdgeServer {
            port,
            clock,
            runtime: Some(runtime),
        };
        (server, made)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(f)
    }

    /// Runs `aws --endpoint-url ... <args>`; returns stdout, panics with stderr on
    /// failure.
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

    /// Runs `aws --endpoint-url ... <args>` and returns what it did.
    pub fn aws_raw(&self, args: &[&str]) -> Output {
        Command::new("aws")
            .arg("--endpoint-url")
            .arg(self.endpoint())
            .args(args)
            .envs(aws_env())
            .output()
            .expect("the aws CLI must be installed")
    }

    /// Runs `prelude` then `script` with python3 (in `cwd`, if given), `ENDPOINT`
    /// set to this server and test credentials; answers the script's clock requests
    /// (see the crate docs) and returns the rest of its stdout. Panics with the
    /// script's output if it fails.
    pub fn python(&self, prelude: &str, script: &str, cwd: Option<&Path>) -> String {
        let mut command = Command::new("python3");
        command
            .arg("-c")
            .arg(format!("{prelude}\n{script}"))
            .env("ENDPOINT", self.endpoint())
            .envs(aws_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let mut child = command.spawn().expect("python3 must be installed");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut stderr = child.stderr.take().unwrap();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut out = String::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some(ms) = line.strip_prefix("__ADVANCE__ ") {
                let ms: u64 = ms.trim().parse().unwrap();
                self.virtual_clock().advance(Duration::from_millis(ms));
                // Let woken tasks (long polls) run before the script goes on.
                std::thread::sleep(Duration::from_millis(20));
                writeln!(stdin, "ok").unwrap();
                stdin.flush().unwrap();
            } else if let Some(n) = line.strip_prefix("__SLEEPERS__ ") {
                // Wait until that many timers sleep on the clock, so an advance that
                // follows reaches them.
                let n: usize = n.trim().parse().unwrap();
                let clock = self.virtual_clock();
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while clock.sleepers() < n && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                writeln!(stdin, "ok").unwrap();
                stdin.flush().unwrap();
            } else {
                out.push_str(&line);
                out.push('\n');
            }
        }
        let status = child.wait().unwrap();
        let err = err_reader.join().unwrap();
        assert!(status.success(), "python script failed:\n{out}\n{err}");
        out
    }

    fn virtual_clock(&self) -> &Arc<VirtualClock> {
        self.clock
            .as_ref()
            .expect("clock requests need a server started on a virtual clock")
    }
}

/// Test credentials and a quiet, single-attempt client configuration for the aws CLI
/// and boto3.
pub fn aws_env() -> Vec<(&'static str, &'static str)> {
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
