//! Lambda, measured through the Invoke API of a real `slcl up` process, as a user's
//! client sees it. Prints one table.
//!
//! ```text
//! cargo bench -p slcl --bench lambda
//! ```
//!
//! The server is the `slcl` binary cargo builds for this bench (release profile), in
//! its own process, so its CPU time (`/proc/<pid>/stat`) and memory (`VmRSS`) are its
//! own. The client is this process: raw HTTP/1.1 over keep-alive connections (hyper,
//! one connection per caller, on one thread), posting to
//! `/2015-03-31/functions/<name>/invocations` with an `Authorization` header whose
//! credential scope names the `lambda` service, as the SDKs send it. The client is
//! light enough not to cap the server first; the table says how busy it was (in
//! cores: the machine's cores are shared by both).
//!
//! Rows:
//! - cold start: a fresh `slcl up` per round, with the compiled artifact already in
//!   the cache (a first start compiles it and is not counted); after one `ListFunctions`
//!   on the connection (so the edge is warm), the first `Invoke` of `echo` creates the
//!   instance: the client's round trip, and the `Init Duration` of its REPORT line;
//! - warm invoke: one caller, one invocation after another on a warm instance;
//! - invocations per second with 1, 16 and 256 concurrent callers, each on its own
//!   connection, for `BENCH_SECONDS`; server CPU per invocation; 429 throttles (all
//!   instance slots busy) are counted apart and not in the rate;
//! - memory per idle warm instance: the server's RSS after `BENCH_INSTANCES` concurrent
//!   invocations of `slow` (sleeps `event.ms`) have left as many warm instances, minus
//!   its RSS with one warm instance, divided by the difference in instances.
//!
//! Peers: moto's Lambda, LocalStack and AWS SAM local all run functions in Docker, which
//! this machine may not have; their published figures are printed as a reference and
//! marked as such, never as measured.
//!
//! Environment: `BENCH_ROUNDS` (cold-start rounds, default 20), `BENCH_WARM` (warm
//! invocations, default 2000), `BENCH_SECONDS` (per concurrency level, default 3),
//! `BENCH_INSTANCES` (warm instances for the memory row, default 32, at most 63).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

mod common;
use common::{env, percentile};

/// What the SDKs send, minus a real signature: slcl accepts any credentials, and the
/// edge identifies the service from the credential scope.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0";
const ECHO_EVENT: &[u8] = br#"{"a":1}"#;

// Published peer figures (not measured here): see docs/services/lambda.md#performance.
const LOCALSTACK_WARM_MS: (f64, f64) = (17.0, 77.0);
const LOCALSTACK_COLD_MS: f64 = 700.0;
const SAM_INVOKE_MS: (f64, f64) = (1300.0, 1900.0);

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One keep-alive HTTP/1.1 connection to the server.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(port: u16) -> Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: format!("127.0.0.1:{port}"),
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: &'static [u8],
        extra: &[(&str, &str)],
    ) -> Result<(StatusCode, HeaderMap, Bytes)> {
        self.sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", AUTHORIZATION)
            .header("content-type", "application/json");
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        let resp = self
            .sender
            .send_request(req.body(Full::new(Bytes::from_static(body)))?)
            .await?;
        let (parts, body) = resp.into_parts();
        Ok((
            parts.status,
            parts.headers,
            body.collect().await?.to_bytes(),
        ))
    }

    /// A synchronous `Invoke` of `function`.
    async fn invoke(
        &mut self,
        function: &str,
        event: &'static [u8],
        extra: &[(&str, &str)],
    ) -> Result<(StatusCode, HeaderMap, Bytes)> {
        let path = format!("/2015-03-31/functions/{function}/invocations");
        self.send(Method::POST, &path, event, extra).await
    }
}

/// A running `slcl up <project>`; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    async fn start(project: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_slcl"))
            .arg("up")
            .arg(project)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("slcl starts");
        let server = Server { child, port };
        let started = Instant::now();
        loop {
            if let Ok(mut conn) = Conn::open(port).await {
                if let Ok((StatusCode::OK, ..)) =
                    conn.send(Method::GET, "/_slcl/health", b"", &[]).await
                {
                    return server;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "slcl did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM, as Ctrl-C would, and waits for it.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Seconds of CPU (user + system) used by process `pid` (`self` for this one).
fn cpu_seconds(pid: &str) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / ticks
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `p50 … p99 …` of `times`, in milliseconds.
fn p50_p99(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "p50 {:.3} ms  p99 {:.3} ms",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.99))
    )
}

/// `Init Duration` of the REPORT line in a `LogType=Tail` answer, in ms.
fn init_duration(headers: &HeaderMap) -> Option<f64> {
    let log = headers.get("x-amz-log-result")?.to_str().ok()?;
    let log = base64::engine::general_purpose::STANDARD.decode(log).ok()?;
    let log = String::from_utf8_lossy(&log);
    let (_, rest) = log.split_once("Init Duration: ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// What one concurrency level measured.
struct Load {
    callers: usize,
    ok: usize,
    throttled: usize,
    failed: usize,
    per_second: f64,
    latencies: Vec<Duration>,
    server_cpu_per_invoke_ms: f64,
    server_cores: f64,
    client_cores: f64,
}

/// `callers` connections invoking `echo` one after another until `window` has passed.
async fn load(port: u16, pid: u32, callers: usize, window: Duration) -> Load {
    let mut conns = Vec::with_capacity(callers);
    for _ in 0..callers {
        conns.push(Conn::open(port).await.expect("connect"));
    }
    // Warm up: as many instances as callers can use, each connection used once.
    let warmups = conns.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let _ = c.invoke("echo", ECHO_EVENT, &[]).await;
            c
        })
    });
    let mut conns = Vec::with_capacity(callers);
    for w in warmups.collect::<Vec<_>>() {
        conns.push(w.await.expect("warm-up task"));
    }

    let (server, client) = (pid.to_string(), "self");
    let (cpu0, own0, t0) = (cpu_seconds(&server), cpu_seconds(client), Instant::now());
    let deadline = t0 + window;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let (mut ok, mut throttled, mut failed, mut times) = (0, 0, 0, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match c.invoke("echo", ECHO_EVENT, &[]).await {
                        Ok((StatusCode::OK, headers, body))
                            if body.as_ref() == ECHO_EVENT
                                && !headers.contains_key("x-amz-function-error") =>
                        {
                            ok += 1;
                            times.push(t.elapsed());
                        }
                        Ok((StatusCode::TOO_MANY_REQUESTS, ..)) => throttled += 1,
                        _ => failed += 1,
                    }
                }
                (ok, throttled, failed, times)
            })
        })
        .collect();
    let mut out = Load {
        callers,
        ok: 0,
        throttled: 0,
        failed: 0,
        per_second: 0.0,
        latencies: Vec::new(),
        server_cpu_per_invoke_ms: 0.0,
        server_cores: 0.0,
        client_cores: 0.0,
    };
    for task in tasks {
        let (ok, throttled, failed, times) = task.await.expect("caller task");
        out.ok += ok;
        out.throttled += throttled;
        out.failed += failed;
        out.latencies.extend(times);
    }
    let wall = t0.elapsed().as_secs_f64();
    let (cpu, own) = (cpu_seconds(&server) - cpu0, cpu_seconds(client) - own0);
    out.per_second = out.ok as f64 / wall;
    out.server_cpu_per_invoke_ms = cpu / out.ok.max(1) as f64 * 1000.0;
    out.server_cores = cpu / wall;
    out.client_cores = own / wall;
    out
}

/// Idle-warm memory per instance: RSS with `k` warm `slow` instances minus RSS with one,
/// over `k - 1`. Returns (KiB per instance, RSS with one in KiB, RSS with k in KiB).
async fn memory_per_instance(project: &Path, k: usize) -> (f64, u64, u64) {
    let server = Server::start(project).await;
    let mut conn = Conn::open(server.port).await.expect("connect");
    let (status, ..) = conn
        .invoke("slow", br#"{"ms":1}"#, &[])
        .await
        .expect("slow");
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let one = rss_kib(server.pid());
    let mut calls = Vec::new();
    for _ in 0..k {
        let mut conn = Conn::open(server.port).await.expect("connect");
        calls.push(tokio::spawn(async move {
            conn.invoke("slow", br#"{"ms":2000}"#, &[]).await
        }));
    }
    for call in calls {
        let (status, _, body) = call.await.expect("task").expect("slow");
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let many = rss_kib(server.pid());
    server.stop();
    let per = (many as f64 - one as f64) / (k - 1) as f64;
    (per, one, many)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds = env("BENCH_ROUNDS", 20).max(1);
    let warm = env("BENCH_WARM", 2000).max(1);
    let window = Duration::from_secs(env("BENCH_SECONDS", 3).max(1) as u64);
    let k = env("BENCH_INSTANCES", 32).clamp(2, 63);
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let project = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        project.path().join("slcl.toml"),
        format!(
            "[functions.echo]\nwasm = {:?}\n\n[functions.slow]\nwasm = {:?}\ntimeout = 30\n",
            slcl_fixtures::ECHO,
            slcl_fixtures::SLOW
        ),
    )
    .expect("slcl.toml written");

    // The first start compiles both functions into the cache, unless already there.
    Server::start(project.path()).await.stop();

    // Cold starts: a fresh process per round.
    let (mut cold, mut init, mut startup) = (Vec::new(), Vec::new(), Vec::new());
    let mut server = None;
    for round in 0..rounds {
        let t = Instant::now();
        let s = Server::start(project.path()).await;
        startup.push(t.elapsed());
        let mut conn = Conn::open(s.port).await.expect("connect");
        let (status, ..) = conn
            .send(Method::GET, "/2015-03-31/functions/", b"", &[])
            .await
            .expect("ListFunctions");
        assert_eq!(status, StatusCode::OK);
        let t = Instant::now();
        let (status, headers, body) = conn
            .invoke("echo", ECHO_EVENT, &[("x-amz-log-type", "Tail")])
            .await
            .expect("Invoke");
        cold.push(t.elapsed());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.as_ref(), ECHO_EVENT);
        let init_ms = init_duration(&headers).expect("a cold start reports its Init Duration");
        init.push(Duration::from_secs_f64(init_ms / 1000.0));
        if round + 1 == rounds {
            server = Some((s, conn));
        } else {
            s.stop();
        }
    }
    let (server, mut conn) = server.expect("at least one round");

    // Warm: one caller, one after another.
    let mut warm_times = Vec::with_capacity(warm);
    for _ in 0..warm {
        let t = Instant::now();
        let (status, headers, _) = conn.invoke("echo", ECHO_EVENT, &[]).await.expect("Invoke");
        warm_times.push(t.elapsed());
        assert_eq!(status, StatusCode::OK);
        assert!(!headers.contains_key("x-amz-function-error"));
        assert!(!headers.contains_key("x-amz-log-result"));
    }
    drop(conn);

    let mut loads = Vec::new();
    for callers in [1, 16, 256] {
        loads.push(load(server.port, server.pid(), callers, window).await);
    }
    server.stop();

    let (per_instance, rss_one, rss_many) = memory_per_instance(project.path(), k).await;

    // The table.
    cold.sort();
    warm_times.sort();
    let (cold_p50, warm_p50) = (ms(percentile(&cold, 0.5)), ms(percentile(&warm_times, 0.5)));
    let mut rows: Vec<[String; 3]> = vec![
        ["MEASURE".into(), "VALUE".into(), "NOTES".into()],
        [
            "slcl up, start to healthy".into(),
            p50_p99(&mut startup),
            format!("{rounds} rounds, compiled functions cached"),
        ],
        [
            "cold invoke (new instance), client round trip".into(),
            p50_p99(&mut cold),
            format!("{rounds} rounds, a fresh process each; p99 of {rounds} is about the max"),
        ],
        [
            "cold invoke, REPORT Init Duration".into(),
            p50_p99(&mut init),
            "instantiating the pre-compiled component".into(),
        ],
        [
            "warm invoke, client round trip".into(),
            p50_p99(&mut warm_times),
            format!("{warm} invocations, one caller"),
        ],
    ];
    for l in &mut loads {
        rows.push([
            format!("invocations/s, {} concurrent callers", l.callers),
            format!("{:.0}/s", l.per_second),
            format!(
                "{}; server CPU {:.3} ms/invoke ({:.2} cores), client {:.2} cores; \
                 {} ok, {} throttled (429), {} failed",
                p50_p99(&mut l.latencies),
                l.server_cpu_per_invoke_ms,
                l.server_cores,
                l.client_cores,
                l.ok,
                l.throttled,
                l.failed
            ),
        ]);
    }
    rows.push([
        "memory per idle warm instance".into(),
        format!("{:.0} KiB", per_instance),
        format!(
            "`slow`: RSS {:.1} MiB with 1 warm instance, {:.1} MiB with {k}",
            rss_one as f64 / 1024.0,
            rss_many as f64 / 1024.0
        ),
    ]);
    rows.push([
        "LocalStack (published, not measured)".into(),
        format!(
            "warm {:.0}-{:.0} ms, cold {:.1} s",
            LOCALSTACK_WARM_MS.0,
            LOCALSTACK_WARM_MS.1,
            LOCALSTACK_COLD_MS / 1000.0
        ),
        format!(
            "Docker on Linux; slcl's warm p50 is {:.0}-{:.0}x lower, cold p50 {:.0}x lower",
            LOCALSTACK_WARM_MS.0 / warm_p50,
            LOCALSTACK_WARM_MS.1 / warm_p50,
            LOCALSTACK_COLD_MS / cold_p50
        ),
    ]);
    rows.push([
        "AWS SAM local (published, not measured)".into(),
        format!(
            "{:.1}-{:.1} s per invoke",
            SAM_INVOKE_MS.0 / 1000.0,
            SAM_INVOKE_MS.1 / 1000.0
        ),
        format!(
            "a container per invoke; slcl's cold p50 is {:.0}-{:.0}x lower",
            SAM_INVOKE_MS.0 / cold_p50,
            SAM_INVOKE_MS.1 / cold_p50
        ),
    ]);
    let width = |c: usize| rows.iter().map(|r| r[c].len()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    println!(
        "\nslcl Lambda benchmark (echo function; load average before the run: {})",
        load_avg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for r in &rows {
        println!("{:w0$}  {:w1$}  {}", r[0], r[1], r[2]);
    }
    println!("Absolute numbers drift between machines and runs; compare ratios within one run.");
}
