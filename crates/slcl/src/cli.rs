//! The client commands of the `slcl` binary: `slcl invoke`, `slcl logs` and
//! `slcl stats` talk to a running stack over HTTP, through the same APIs any AWS
//! client uses (Lambda's `Invoke`, CloudWatch Logs' `FilterLogEvents`) and slcl's own
//! `GET /_slcl/stats`.
//!
//! Requests carry an `Authorization` header with a SigV4 credential scope naming the
//! service (`…/us-east-1/lambda/aws4_request`), which is how the edge routes them; the
//! signature itself is not computed, since slcl accepts any credentials.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use slcl::FunctionStats;

/// How often `slcl logs --follow` asks for new events.
pub const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// Lambda's longest timeout: how far back `slcl logs --follow` looks for late events
/// when it cannot read the function's own timeout.
const MAX_TIMEOUT_SECS: u64 = 900;

/// A plain HTTP/1.1 client for one slcl endpoint.
pub struct Client {
    endpoint: String,
    /// `host:port` to connect to and send as `Host`.
    authority: String,
}

/// One HTTP answer, body read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The AWS error this answer carries: `<code>: <message>`, as AWS's clients
    /// print it.
    fn aws_error(&self) -> anyhow::Error {
        let doc: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let code = self
            .header("x-amzn-errortype")
            .map(|c| c.split(':').next().unwrap_or(c).to_owned())
            .or_else(|| {
                doc["__type"]
                    .as_str()
                    .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            })
            .unwrap_or_else(|| format!("HTTP {}", self.status));
        let message = doc["message"]
            .as_str()
            .or_else(|| doc["Message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_owned());
        anyhow!("{code}: {message}")
    }
}

impl Client {
    /// A client for `endpoint`, such as `http://127.0.0.1:4566`.
    pub fn new(endpoint: &str) -> anyhow::Result<Client> {
        let uri: Uri = endpoint
            .parse()
            .with_context(|| format!("`{endpoint}` is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!("`{endpoint}`: slcl serves http, not {other}"),
            None => bail!("`{endpoint}` is not a URL (such as http://127.0.0.1:4566)"),
        }
        let authority = uri
            .authority()
            .with_context(|| format!("`{endpoint}` names no host"))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{authority}:80"),
        };
        Ok(Client {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            authority,
        })
    }

    /// Sends one request on a fresh connection and reads the whole answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| {
                anyhow!(
                    "no slcl at {} ({e}): start one with `slcl up`",
                    self.endpoint
                )
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("cannot talk HTTP to {}", self.endpoint))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .context("cannot build the request")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{} did not answer", self.endpoint))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .with_context(|| format!("{} broke off its answer", self.endpoint))?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// An `Authorization` header the edge routes to `service`; slcl accepts any
/// credentials, so the signature is not computed.
fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

/// Percent-encodes a function name (or ARN) for a URL path; `:` stays, as Lambda's
/// clients leave it.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `slcl invoke`: a `RequestResponse` invocation with the log tail. The result (or
/// the function's error document) goes to stdout, the log tail to stderr; a function
/// error exits with 1.
pub async fn invoke(
    endpoint: &str,
    function: &str,
    event: Option<&Path>,
    qualifier: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let payload = match event {
        None => Bytes::from_static(b"{}"),
        Some(p) if p == Path::new("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the event from stdin")?;
            Bytes::from(buf)
        }
        Some(p) => Bytes::from(
            std::fs::read(p)
                .with_context(|| format!("cannot read the event file `{}`", p.display()))?,
        ),
    };
    let client = Client::new(endpoint)?;
    let mut path = format!(
        "/2015-03-31/functions/{}/invocations",
        path_segment(function)
    );
    if let Some(q) = qualifier {
        path.push_str(&format!("?Qualifier={}", path_segment(q)));
    }
    let auth = authorization("lambda");
    let reply = client
        .send(
            Method::POST,
            &path,
            &[
                (AUTHORIZATION.as_str(), auth.as_str()),
                (CONTENT_TYPE.as_str(), "application/json"),
                ("x-amz-invocation-type", "RequestResponse"),
                ("x-amz-log-type", "Tail"),
            ],
            payload,
        )
        .await?;
    if !reply.status.is_success() {
        return Err(reply.aws_error());
    }
    if let Some(tail) = reply.header("x-amz-log-result") {
        let logs = base64::engine::general_purpose::STANDARD
            .decode(tail)
            .context("the log tail is not base64")?;
        let mut err = std::io::stderr().lock();
        err.write_all(&logs)?;
        err.flush()?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&reply.body)?;
    if !reply.body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if reply.header("x-amz-function-error").is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One log event as FilterLogEvents lists it.
struct LogEvent {
    id: String,
    timestamp: i64,
    message: String,
}

/// Every event of `group` from `start_time` on (all pages), oldest first. `None`
/// when the group does not exist.
async fn filter_log_events(
    client: &Client,
    group: &str,
    start_time: Option<i64>,
) -> anyhow::Result<Option<Vec<LogEvent>>> {
    let auth = authorization("logs");
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "logGroupName": group });
        if let Some(t) = start_time {
            input["startTime"] = t.into();
        }
        if let Some(t) = &token {
            input["nextToken"] = t.clone().into();
        }
        let reply = client
            .send(
                Method::POST,
                "/",
                &[
                    (AUTHORIZATION.as_str(), auth.as_str()),
                    (CONTENT_TYPE.as_str(), "application/x-amz-json-1.1"),
                    ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                ],
                Bytes::from(input.to_string()),
            )
            .await?;
        if !reply.status.is_success() {
            let error = reply.aws_error();
            if error.to_string().starts_with("ResourceNotFoundException:") {
                return Ok(None);
            }
            return Err(error);
        }
        let doc: Value = serde_json::from_slice(&reply.body)
            .context("FilterLogEvents answered something that is not JSON")?;
        for e in doc["events"].as_array().into_iter().flatten() {
            events.push(LogEvent {
                id: e["eventId"].as_str().unwrap_or_default().to_owned(),
                timestamp: e["timestamp"].as_i64().unwrap_or_default(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        match doc["nextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(Some(events))
}

/// `2026-01-01T12:00:00.123Z` for a timestamp in Unix milliseconds.
fn iso_millis(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// The function's `Timeout` in seconds, or Lambda's longest when it cannot be read
/// (the function was deleted, say).
async fn function_timeout(client: &Client, function: &str) -> u64 {
    let auth = authorization("lambda");
    let path = format!(
        "/2015-03-31/functions/{}/configuration",
        path_segment(function)
    );
    let reply = client
        .send(
            Method::GET,
            &path,
            &[(AUTHORIZATION.as_str(), auth.as_str())],
            Bytes::new(),
        )
        .await;
    reply
        .ok()
        .filter(|r| r.status.is_success())
        .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .and_then(|doc| doc["Timeout"].as_u64())
        .unwrap_or(MAX_TIMEOUT_SECS)
}

/// `slcl logs`: the events of `/aws/lambda/<function>`, one line each, time first;
/// with `follow`, then every new event as it arrives, until Ctrl-C.
pub async fn logs(endpoint: &str, function: &str, follow: bool) -> anyhow::Result<()> {
    let client = Client::new(endpoint)?;
    let group = format!("/aws/lambda/{function}");
    if !follow {
        let Some(events) = filter_log_events(&client, &group, None).await? else {
            bail!(
                "ResourceNotFoundException: The specified log group does not exist. \
                 (`{group}` is created by the first invocation of `{function}`)"
            );
        };
        for e in events {
            println!("{} {}", iso_millis(e.timestamp), e.message);
        }
        return Ok(());
    }
    // An invocation's lines are written when it ends, stamped with its start: a long
    // one's lines can arrive after newer ones were printed, but never from longer
    // ago than the function's timeout. Look back that far and skip what was printed.
    let lookback_ms = (function_timeout(&client, function).await + 5) as i64 * 1000;
    let mut printed: HashSet<String> = HashSet::new();
    let mut printed_at: Vec<(i64, String)> = Vec::new();
    let mut newest: Option<i64> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let since = newest.map(|t| t - lookback_ms);
        for e in filter_log_events(&client, &group, since)
            .await?
            .unwrap_or_default()
        {
            if printed.insert(e.id.clone()) {
                println!("{} {}", iso_millis(e.timestamp), e.message);
                printed_at.push((e.timestamp, e.id));
                newest = Some(newest.map_or(e.timestamp, |n| n.max(e.timestamp)));
            }
        }
        // Forget what can no longer be listed again.
        if let Some(since) = newest.map(|t| t - lookback_ms) {
            printed_at.retain(|(ts, id)| {
                let keep = *ts >= since;
                if !keep {
                    printed.remove(id);
                }
                keep
            });
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

/// `slcl stats`: Lambda's per-function counters as a table.
pub async fn stats(endpoint: &str) -> anyhow::Result<()> {
    let client = Client::new(endpoint)?;
    let reply = client
        .send(Method::GET, "/_slcl/stats", &[], Bytes::new())
        .await?;
    if !reply.status.is_success() {
        bail!(
            "{endpoint}/_slcl/stats answered {}: is this an slcl stack?",
            reply.status
        );
    }
    let doc: Value = serde_json::from_slice(&reply.body)
        .context("/_slcl/stats answered something that is not JSON")?;
    let functions: Vec<FunctionStats> = serde_json::from_value(doc["functions"].clone())
        .context("/_slcl/stats answered an unexpected document")?;
    print!("{}", stats_table(&functions));
    Ok(())
}

/// The table `slcl stats` prints.
fn stats_table(functions: &[FunctionStats]) -> String {
    if functions.is_empty() {
        return "no functions\n".to_owned();
    }
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mut rows: Vec<[String; 9]> = vec![[
        "FUNCTION".into(),
        "INVOCATIONS".into(),
        "ERRORS".into(),
        "THROTTLES".into(),
        "COLD STARTS".into(),
        "P50 MS".into(),
        "P99 MS".into(),
        "GB-S".into(),
        "COST $".into(),
    ]];
    for f in functions {
        rows.push([
            f.function.clone(),
            f.invocations.to_string(),
            f.errors.to_string(),
            f.throttles.to_string(),
            f.cold_starts.to_string(),
            ms(f.duration_ms.map(|d| d.p50)),
            ms(f.duration_ms.map(|d| d.p99)),
            format!("{:.6}", f.billed_gb_seconds),
            format!("{:.8}", f.cost_usd),
        ]);
    }
    if functions.len() > 1 {
        let sum = |get: fn(&FunctionStats) -> u64| functions.iter().map(get).sum::<u64>();
        rows.push([
            "TOTAL".into(),
            sum(|f| f.invocations).to_string(),
            sum(|f| f.errors).to_string(),
            sum(|f| f.throttles).to_string(),
            sum(|f| f.cold_starts).to_string(),
            "-".into(),
            "-".into(),
            format!(
                "{:.6}",
                functions.iter().map(|f| f.billed_gb_seconds).sum::<f64>()
            ),
            format!("{:.8}", functions.iter().map(|f| f.cost_usd).sum::<f64>()),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = format!("{:w$}", r[0], w = widths[0]);
        for i in 1..9 {
            line.push_str(&format!("  {:>w$}", r[i], w = widths[i]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_paths() {
        assert_eq!(
            Client::new("http://127.0.0.1:4566/").unwrap().authority,
            "127.0.0.1:4566"
        );
        assert_eq!(
            Client::new("http://localhost").unwrap().authority,
            "localhost:80"
        );
        assert!(Client::new("https://127.0.0.1:4566").is_err());
        assert!(Client::new("127.0.0.1:4566").is_err());
        assert_eq!(
            path_segment("arn:aws:lambda:us-east-1:000000000000:function:f"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(iso_millis(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    }
}
