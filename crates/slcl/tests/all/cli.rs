//! The `slcl` client commands (`slcl invoke`, `slcl logs`, `slcl stats`) run as the
//! real binary against a running `slcl up`; the `[lambda]` knobs and the counters of
//! `/_slcl/stats` through the harness.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{json, Value};
use slcl::Stack;

use crate::common::{project, toml_path, Slcl};

/// A project declaring the `echo` and `error` fixtures (error at 512 MB).
fn echo_and_error_project() -> tempfile::TempDir {
    project(&format!(
        "[functions.echo]\nwasm = {}\n\n[functions.error]\nwasm = {}\nmemory = 512\n",
        toml_path(slcl_fixtures::ECHO),
        toml_path(slcl_fixtures::ERROR),
    ))
}

/// `slcl <args> --endpoint <endpoint>`, with `stdin` as its standard input.
fn slcl_cli(endpoint: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slcl"))
        .args(args)
        .args(["--endpoint", endpoint])
        .env_remove("SLCL_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to run slcl");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The request id of the START line in `logs`.
fn request_id(logs: &str) -> String {
    logs.lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no START line in {logs:?}"))
        .to_owned()
}

/// `GET <path>` over a plain socket; returns status and body.
fn http_get(endpoint: &str, path: &str) -> (u16, String) {
    let authority = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// The entry of `function` in a `/_slcl/stats` document.
fn stats_of<'a>(doc: &'a Value, function: &str) -> &'a Value {
    doc["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == function)
        .unwrap_or_else(|| panic!("no `{function}` in {doc}"))
}

#[test]
fn invoke_prints_the_result_on_stdout_and_the_log_tail_on_stderr() {
    let dir = echo_and_error_project();
    let slcl = Slcl::up(dir.path());
    let ep = slcl.endpoint.as_str();
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"hello":"cli"}"#).unwrap();

    let out = slcl_cli(
        ep,
        &["invoke", "echo", "--event", event.to_str().unwrap()],
        b"",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "{\"hello\":\"cli\"}\n");
    let id = request_id(&stderr);
    assert!(stderr.contains(&format!("END RequestId: {id}")), "{stderr}");
    assert!(
        stderr.contains(&format!("REPORT RequestId: {id}\tDuration: ")),
        "{stderr}"
    );

    // The event from stdin, the endpoint from SLCL_ENDPOINT, a qualifier.
    let mut child = Command::new(env!("CARGO_BIN_EXE_slcl"))
        .args(["invoke", "echo", "--event", "-", "--qualifier", "$LATEST"])
        .env("SLCL_ENDPOINT", ep)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"from":"stdin"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"from\":\"stdin\"}\n");

    // A function error: its error document on stdout, exit code 1.
    let out = slcl_cli(
        ep,
        &["invoke", "error", "--event", "-"],
        br#"{"message":"boom"}"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["errorMessage"], "boom");
    assert_eq!(doc["errorType"], "&alloc::boxed::Box<error::CustomError>");
    assert!(text(&out.stderr).contains("REPORT RequestId: "));

    // A function that does not exist: AWS's error, nothing on stdout.
    let out = slcl_cli(ep, &["invoke", "nope"], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(
            "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
        ),
        "{stderr}"
    );

    // Invalid JSON is refused by Lambda, with its message.
    let out = slcl_cli(ep, &["invoke", "echo", "--event", "-"], b"{not json");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("InvalidRequestContentException: Could not parse request body into json"),
        "{stderr}"
    );

    // Nothing listening.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let out = slcl_cli(&closed, &["invoke", "echo"], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no slcl at {closed}")) && stderr.contains("slcl up"),
        "{stderr}"
    );
}

#[test]
fn logs_prints_an_invocations_lines_and_follows_new_ones() {
    let dir = echo_and_error_project();
    let slcl = Slcl::up(dir.path());
    let ep = slcl.endpoint.as_str();

    // No invocation yet: the log group does not exist, as on AWS.
    let out = slcl_cli(ep, &["logs", "echo"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("ResourceNotFoundException: The specified log group does not exist."),
        "{}",
        text(&out.stderr)
    );

    let out = slcl_cli(ep, &["invoke", "echo", "--event", "-"], br#"{"n":1}"#);
    assert!(out.status.success());
    let first = request_id(&text(&out.stderr));
    let out = slcl_cli(ep, &["logs", "echo"], b"");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for prefix in ["START", "END", "REPORT"] {
        let line = format!("{prefix} RequestId: {first}");
        let found: Vec<&str> = stdout.lines().filter(|l| l.contains(&line)).collect();
        assert_eq!(found.len(), 1, "{line} in {stdout}");
        // Each line starts with its time.
        assert!(
            found[0].starts_with("20") && found[0].contains("Z "),
            "{}",
            found[0]
        );
    }

    // --follow prints what is there, then new invocations' lines as they come.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_slcl"))
        .args(["logs", "echo", "--follow", "--endpoint", ep])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = Arc::clone(&lines);
        let stdout = follow.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        })
    };
    let wait_for = |needle: &str| {
        let start = Instant::now();
        loop {
            if lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "`slcl logs --follow` never printed {needle:?}: {:?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for(&format!("REPORT RequestId: {first}"));
    let out = slcl_cli(ep, &["invoke", "echo", "--event", "-"], br#"{"n":2}"#);
    assert!(out.status.success());
    let second = request_id(&text(&out.stderr));
    wait_for(&format!("REPORT RequestId: {second}"));
    // Let a few more polls pass: nothing is printed twice.
    std::thread::sleep(Duration::from_millis(1200));
    let status = Command::new("kill")
        .args(["-INT", &follow.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = follow.wait().unwrap();
    assert!(
        exited.success(),
        "slcl logs --follow exited with {exited} on Ctrl-C"
    );
    reader.join().unwrap();
    let lines = lines.lock().unwrap();
    for id in [&first, &second] {
        let starts = lines
            .iter()
            .filter(|l| l.contains(&format!("START RequestId: {id}")))
            .count();
        assert_eq!(starts, 1, "{lines:?}");
    }
}

#[test]
fn stats_shows_invocations_errors_cold_starts_and_cost() {
    let dir = echo_and_error_project();
    let slcl = Slcl::up(dir.path());
    let ep = slcl.endpoint.as_str();
    for n in 0..3 {
        let event = format!(r#"{{"n":{n}}}"#);
        let out = slcl_cli(ep, &["invoke", "echo", "--event", "-"], event.as_bytes());
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = slcl_cli(ep, &["invoke", "error"], b"");
    assert_eq!(out.status.code(), Some(1));

    let out = slcl_cli(ep, &["stats"], b"");
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "FUNCTION",
            "INVOCATIONS",
            "ERRORS",
            "THROTTLES",
            "COLD STARTS",
            "P50 MS",
            "P99 MS",
            "GB-S",
            "COST $"
        ],
        "{table}"
    );
    // function, invocations, errors, throttles, cold starts, p50, p99, GB-s, cost
    let echo = row("echo");
    assert_eq!(echo[1..5], ["3", "0", "0", "1"], "{table}");
    let error = row("error");
    assert_eq!(error[1..5], ["1", "1", "0", "1"], "{table}");
    let total = row("TOTAL");
    assert_eq!(total[1..5], ["4", "1", "0", "2"], "{table}");
    for r in [&echo, &error] {
        let p50: f64 = r[5].parse().unwrap();
        let p99: f64 = r[6].parse().unwrap();
        assert!(p50 >= 0.0 && p99 >= p50, "{table}");
        let gb_s: f64 = r[7].parse().unwrap();
        assert!(gb_s > 0.0, "{table}");
        let cost: f64 = r[8].parse().unwrap();
        assert!(cost > 0.0, "{table}");
    }

    // The same counters as JSON.
    let (status, body) = http_get(ep, "/_slcl/stats");
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    let echo = stats_of(&doc, "echo");
    assert_eq!(echo["invocations"], 3);
    assert_eq!(echo["coldStarts"], 1);
    let error = stats_of(&doc, "error");
    assert_eq!(error["errors"], 1);
    assert_eq!(
        error["errorTypes"],
        json!({"&alloc::boxed::Box<error::CustomError>": 1})
    );
    // GB-seconds: billed milliseconds at 512 MB.
    let billed_ms = error["billedDurationMs"].as_f64().unwrap();
    assert!(billed_ms >= 1.0);
    let gb_s = error["billedGbSeconds"].as_f64().unwrap();
    assert!((gb_s - billed_ms / 1000.0 * 0.5).abs() < 1e-9, "{error}");
    let cost = error["costUsd"].as_f64().unwrap();
    assert!(
        (cost - (0.0000002 + gb_s * 0.0000166667)).abs() < 1e-12,
        "{error}"
    );
    assert_eq!(
        doc["pricing"]["source"],
        "https://aws.amazon.com/lambda/pricing/"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_every_invoke_gives_each_invocation_a_fresh_instance() {
    let stack = Stack::harness()
        .function("counter", slcl_fixtures::COUNTER)
        .cold_start_every_invoke(true)
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        let out = stack.invoke("counter", &json!({})).await.unwrap();
        let doc: Value = serde_json::from_slice(out.payload()).unwrap();
        assert_eq!(doc["count"], 1, "a fresh instance every time");
        assert!(out.result.init_duration.is_some());
    }
    let stats = stack.lambda().stats();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].invocations, stats[0].cold_starts), (3, 3));

    // Without it, the instance stays warm; reset zeroes the counters.
    stack.reset().unwrap();
    let warm = Stack::harness()
        .function("counter", slcl_fixtures::COUNTER)
        .start()
        .await
        .unwrap();
    for n in 1..=3 {
        let out = warm.invoke("counter", &json!({})).await.unwrap();
        let doc: Value = serde_json::from_slice(out.payload()).unwrap();
        assert_eq!(doc["count"], n);
    }
    assert_eq!(warm.lambda().stats()[0].cold_starts, 1);
    assert_eq!(stack.lambda().stats()[0].invocations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_from_slcl_toml_ends_idle_instances() {
    let config = slcl::Config::parse("[lambda]\nkeep_alive = 60\n").unwrap();
    let stack = Stack::harness()
        .config(config)
        .function("counter", slcl_fixtures::COUNTER)
        .virtual_clock(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .start()
        .await
        .unwrap();
    let count = |out: slcl::InvokeOutput| -> u64 {
        serde_json::from_slice::<Value>(out.payload()).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(stack.invoke("counter", &json!({})).await.unwrap()), 1);
    stack.advance(Duration::from_secs(59));
    assert_eq!(count(stack.invoke("counter", &json!({})).await.unwrap()), 2);
    stack.advance(Duration::from_secs(61));
    assert_eq!(
        count(stack.invoke("counter", &json!({})).await.unwrap()),
        1,
        "idle for longer than keep_alive: a cold start"
    );
    assert_eq!(stack.lambda().stats()[0].cold_starts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_concurrency_from_slcl_toml_throttles_and_stats_count_it() {
    // The knobs' defaults are the services' own.
    let defaults = slcl::Config::default().lambda;
    assert_eq!(
        defaults.account_concurrency,
        slcl_lambda::DEFAULT_ACCOUNT_CONCURRENCY
    );
    assert_eq!(
        Duration::from_secs(defaults.keep_alive),
        slcl_runtime::DEFAULT_KEEP_ALIVE
    );
    assert!(!defaults.cold_start_every_invoke);

    let config = slcl::Config::parse("[lambda]\naccount_concurrency = 1\n").unwrap();
    let stack = Stack::harness()
        .config(config)
        .function_config("slow", {
            let mut f = slcl::FunctionConfig::new(slcl_fixtures::SLOW);
            f.timeout = 10;
            f
        })
        .start()
        .await
        .unwrap();
    // No retries: the SDK would otherwise retry a throttle by itself.
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&stack.sdk_config())
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build(),
    );
    let invoke = |ms: u64| {
        lambda
            .invoke()
            .function_name("slow")
            .payload(aws_sdk_lambda::primitives::Blob::new(
                json!({ "ms": ms }).to_string(),
            ))
            .send()
    };
    let running = tokio::spawn(invoke(1500));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let throttled = invoke(1).await.expect_err("over the account's concurrency");
    let service_error = throttled.as_service_error().expect("a service error");
    assert!(
        service_error.is_too_many_requests_exception(),
        "{service_error:?}"
    );
    let raw = throttled.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    let first = running.await.unwrap().unwrap();
    assert_eq!(first.status_code(), 200);
    assert_eq!(
        first.payload().unwrap().as_ref(),
        json!({ "slept_ms": 1500 }).to_string().as_bytes()
    );

    let endpoint = stack.endpoint_url().to_owned();
    let (status, body) = tokio::task::spawn_blocking(move || http_get(&endpoint, "/_slcl/stats"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let slow = stats_of(&doc, "slow");
    assert_eq!(slow["invocations"], 1, "{slow}");
    assert_eq!(slow["throttles"], 1, "{slow}");
    assert_eq!(slow["maxConcurrency"], 1, "{slow}");
    assert!(
        slow["durationMs"]["max"].as_f64().unwrap() >= 1500.0,
        "{slow}"
    );
}
