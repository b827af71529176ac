//! Starting `slcl up` as a child process and talking to it with real clients.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `slcl up` process; killed when dropped.
pub struct Slcl {
    child: Child,
    pub endpoint: String,
    #[allow(dead_code)]
    pub dir: PathBuf,
    output: Arc<Mutex<Vec<String>>>,
}

/// `slcl up <dir> --port 0`: the real binary, on a free port.
fn up_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slcl"));
    command.arg("up").arg(dir).args(["--port", "0"]);
    command
}

impl Slcl {
    /// Runs `slcl up <dir> --port 0` and waits until it prints its endpoint.
    pub fn up(dir: &Path) -> Slcl {
        let mut child = up_command(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("failed to start slcl");
        let stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("slcl> {line}");
                if let Some(url) = line
                    .split_whitespace()
                    .find(|w| w.starts_with("http://127.0.0.1:"))
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim_end_matches(':').to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("slcl did not print its endpoint");
        Slcl {
            child,
            endpoint,
            dir: dir.to_path_buf(),
            output,
        }
    }

    /// Runs `slcl up <dir> --port 0`, expects it to fail at startup, and returns what
    /// it printed on stderr.
    pub fn up_fails(dir: &Path) -> String {
        let mut child = up_command(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("RUST_BACKTRACE")
            .spawn()
            .expect("failed to start slcl");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!(
                    "slcl up {} should have failed but kept running",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!status.success(), "slcl up succeeded: {err}");
        err
    }

    /// Everything slcl printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Waits until slcl's output contains `needle`.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {needle:?} in slcl output:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops slcl with SIGINT (as Ctrl-C) and waits for it to exit cleanly.
    pub fn stop(mut self) {
        let pid = self.child.id() as i32;
        let status = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "slcl exited with {status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "slcl did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs the real `aws` CLI against this stack.
    pub fn aws(&self, args: &[&str]) -> Output {
        aws_cli(&self.endpoint, args)
    }

    /// Runs `aws` and returns stdout, failing the test if the command fails.
    pub fn aws_ok(&self, args: &[&str]) -> String {
        let out = self.aws(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `aws s3api put-object` of the file `body` to `bucket`/`key`; returns the CLI's
    /// JSON answer.
    pub fn put_object(&self, bucket: &str, key: &str, body: &Path) -> String {
        self.aws_ok(&[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            key,
            "--body",
            body.to_str().unwrap(),
        ])
    }

    /// Runs a Python script with boto3 available, `ENDPOINT` set to this stack.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("{}\n{script}", PY_PRELUDE))
            .args(args)
            .env("ENDPOINT", &self.endpoint)
            .envs(credentials())
            .output()
            .expect("failed to run python3");
        assert!(
            out.status.success(),
            "python failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sends a raw HTTP request and returns (status, body).
    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        let script = "import http.client,sys,os\nu=os.environ['ENDPOINT'].split('//')[1]\nc=http.client.HTTPConnection(u)\nc.request(sys.argv[1], sys.argv[2])\nr=c.getresponse()\nprint(r.status)\nprint(r.read().decode())";
        let out = self.python(script, &[method, path]);
        let (status, body) = out.split_once('\n').unwrap();
        (status.trim().parse().unwrap(), body.trim_end().to_string())
    }
}

impl Drop for Slcl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PY_PRELUDE: &str = "import boto3, os, sys, json\nfrom botocore.config import Config\ndef client(name, **kw):\n    return boto3.client(name, endpoint_url=os.environ['ENDPOINT'], region_name='us-east-1', **kw)\n";

fn credentials() -> [(&'static str, &'static str); 4] {
    [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_PAGER", ""),
    ]
}

/// Runs the `aws` CLI with test credentials against `endpoint`.
pub fn aws_cli(endpoint: &str, args: &[&str]) -> Output {
    Command::new("aws")
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(args)
        .envs(credentials())
        .env_remove("AWS_PROFILE")
        .output()
        .expect("failed to run the aws CLI")
}

/// A fresh project folder holding `slcl.toml` with `toml`.
pub fn project(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slcl.toml"), toml).unwrap();
    dir
}

/// Repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Polls `f` until it returns Some, or panics after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// TOML-quoted path.
pub fn toml_path(p: &str) -> String {
    format!("{p:?}")
}

/// [`aws_cli`] off the async runtime, for tests on a tokio runtime.
pub async fn aws_cli_async(endpoint: &str, args: &[&str]) -> Output {
    let endpoint = endpoint.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        aws_cli(&endpoint, &args)
    })
    .await
    .unwrap()
}

/// Runs the aws CLI off the async runtime and returns its JSON answer, or the error
/// output when it fails.
pub async fn aws_json(endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let out = aws_cli_async(endpoint, args).await;
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        })
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs a Python `script` with `args` off the async runtime, with `ENDPOINT` and test
/// credentials in its environment; its standard output, after checking it succeeded.
pub async fn python_async(endpoint: &str, script: &'static str, args: &[&str]) -> String {
    let endpoint = endpoint.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", script])
            .args(&args)
            .env("ENDPOINT", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
