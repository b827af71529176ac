//! The test harness, measured: stack start time, memory per idle stack, and a
//! 100-test suite with a fresh stack per test beside the same suite against one
//! shared `moto_server`, in the same run. Prints one table.
//!
//! ```text
//! cargo bench -p slcl --bench harness
//! ```
//!
//! Environment: `BENCH_STARTS` (stack starts per row, default 200), `BENCH_STACKS`
//! (idle stacks for the memory row, default 50), `BENCH_TESTS` (tests in the suite,
//! default 100), `BENCH_JOBS` (tests run at once, default 2, as `cargo test` on a
//! 2-core machine). The moto row needs `moto_server` on the PATH
//! (`pip install 'moto[server]'`); without it the row says so.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use slcl::Stack;

mod common;
use common::{env, percentile};

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|v| v.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&slcl::sdk_config(endpoint, "us-east-1"))
            .force_path_style(true)
            .build(),
    )
}

/// Start times of `n` stacks, each dropped before the next starts.
async fn start_times(n: usize, with_function: bool) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut builder = Stack::harness().bucket("bench");
        if with_function {
            builder = builder.function("echo", slcl_fixtures::ECHO);
        }
        let stack = builder.start().await.expect("stack starts");
        times.push(started.elapsed());
        drop(stack);
    }
    times.sort();
    times
}

/// One test of the suite: create a bucket, put and get an object, list the bucket.
async fn one_test(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("CreateBucket");
    let body = format!("body of {bucket}");
    s3.put_object()
        .bucket(bucket)
        .key("k")
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .expect("PutObject");
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("k")
        .send()
        .await
        .expect("GetObject");
    let data = got.body.collect().await.expect("body").into_bytes();
    assert_eq!(&data[..], body.as_bytes());
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("List");
    assert_eq!(listed.key_count(), Some(1));
}

/// Runs `tests` tests, `jobs` at a time; each calls `case(i)`.
async fn suite<F, Fut>(tests: usize, jobs: usize, case: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let case = Arc::new(case);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let case = Arc::clone(&case);
        let next = Arc::clone(&next);
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= tests {
                    return;
                }
                case(i).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a test panicked");
    }
    started.elapsed()
}

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Option<(Moto, Duration)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let started = Instant::now();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let s3 = s3_client(&moto.endpoint);
    for _ in 0..600 {
        if s3.list_buckets().send().await.is_ok() {
            return Some((moto, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let starts = env("BENCH_STARTS", 200);
    let stacks = env("BENCH_STACKS", 50);
    let tests = env("BENCH_TESTS", 100);
    let jobs = env("BENCH_JOBS", 2).max(1);
    let mut rows: Vec<[String; 3]> = Vec::new();

    // Warm-up: the first start compiles `echo` into the per-user cache.
    drop(start_times(3, true).await);
    // Memory per idle stack, each with one function that has run once (a warm
    // instance waiting). Measured first, while the heap holds no memory freed by
    // earlier stacks (which later stacks would reuse without growing the RSS).
    let before = rss_kib();
    let mut alive = Vec::new();
    for _ in 0..stacks {
        let stack = Stack::harness()
            .function("echo", slcl_fixtures::ECHO)
            .bucket("bench")
            .start()
            .await
            .expect("stack starts");
        stack
            .invoke("echo", &serde_json::json!({}))
            .await
            .expect("invoke");
        alive.push(stack);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib();
    let per_stack = after.saturating_sub(before) as f64 / stacks as f64 / 1024.0;
    rows.push([
        "memory per idle stack (one warm function)".into(),
        format!("{per_stack:.2} MiB"),
        format!(
            "RSS growth / {stacks} stacks (process RSS {:.0} -> {:.0} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        ),
    ]);
    drop(alive);

    for (label, with_function) in [
        ("stack start, no function", false),
        ("stack start, one function (cached)", true),
    ] {
        let times = start_times(starts, with_function).await;
        rows.push([
            label.into(),
            format!(
                "p50 {}  p99 {}",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            ),
            format!("{starts} starts"),
        ]);
    }

    // The suite: a fresh stack per test.
    let fresh = suite(tests, jobs, |i| async move {
        let stack = Stack::harness().start().await.expect("stack starts");
        one_test(&s3_client(stack.endpoint_url()), &format!("bucket-{i}")).await;
    })
    .await;
    rows.push([
        format!("{tests}-test suite, fresh slcl stack per test"),
        ms(fresh),
        format!("{jobs} at a time"),
    ]);

    match start_moto().await {
        Some((moto, moto_start)) => {
            let endpoint = moto.endpoint.clone();
            let shared = suite(tests, jobs, move |i| {
                let s3 = s3_client(&endpoint);
                async move { one_test(&s3, &format!("bucket-{i}")).await }
            })
            .await;
            rows.push([
                format!("{tests}-test suite, one shared moto_server"),
                ms(shared),
                format!(
                    "{jobs} at a time; + {} to start moto_server",
                    ms(moto_start)
                ),
            ]);
            rows.push([
                "suite: moto_server time / slcl time".into(),
                format!("{:.1}x", shared.as_secs_f64() / fresh.as_secs_f64()),
                "higher is better for slcl".into(),
            ]);
        }
        None => rows.push([
            "shared moto_server suite".into(),
            "skipped".into(),
            "moto_server not found (pip install 'moto[server]')".into(),
        ]),
    }

    rows.insert(0, ["MEASURE".into(), "VALUE".into(), "NOTES".into()]);
    let width = |c: usize| rows.iter().map(|r| r[c].len()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for r in &rows {
        println!("{:w0$}  {:w1$}  {}", r[0], r[1], r[2]);
    }
}
