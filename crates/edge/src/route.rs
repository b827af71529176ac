use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use http::{header, HeaderValue, Method, StatusCode};
use slcl_core::{
    body, ids, BoxFuture, Dispatcher, Request, RequestContext, Response, Service, SharedClock,
    StackContext, StepKind, TraceContext, TraceLog, TraceStep,
};
use tracing::Instrument;

use crate::TRACE_HEADER;

/// What the edge learned about a request before routing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// Signing name of the service, such as `s3` or `lambda`.
    pub service: String,
    /// Region from the credential scope, if the request was signed.
    pub region: Option<String>,
}

/// X-Amz-Target prefixes of JSON-protocol services, from the botocore models.
const TARGET_PREFIXES: &[(&str, &str)] = &[
    ("AmazonSQS", "sqs"),
    ("DynamoDB_", "dynamodb"),
    ("DynamoDBStreams_", "dynamodbstreams"),
    ("Logs_", "logs"),
    ("AWSEvents", "events"),
    ("Kinesis_", "kinesis"),
    ("AWSStepFunctions", "states"),
    ("AmazonSNS", "sns"),
];

/// Works out which service a request is for (see the crate docs for the order).
pub fn identify<B>(req: &http::Request<B>) -> Identified {
    if let Some(found) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| credential_scope(v.split("Credential=").nth(1)?))
    {
        return found;
    }
    if let Some(found) = req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let value = pair.strip_prefix("X-Amz-Credential=")?;
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .ok()?;
            credential_scope(&value)
        })
    }) {
        return found;
    }
    if let Some(target) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        if let Some((_, service)) = TARGET_PREFIXES.iter().find(|(p, _)| target.starts_with(p)) {
            return Identified {
                service: (*service).to_string(),
                region: None,
            };
        }
    }
    let service = if is_lambda_path(req.uri().path()) {
        "lambda"
    } else if is_sqs_unsigned(req) {
        "sqs"
    } else {
        "s3"
    };
    Identified {
        service: service.to_string(),
        region: None,
    }
}

/// Lambda's REST paths start with an API date and one of its resource collections,
/// such as `/2015-03-31/functions/...` or `/2019-09-25/functions/.../event-invoke-config`.
fn is_lambda_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    let date = segments.next().unwrap_or("");
    let collection = segments.next().unwrap_or("");
    let is_date = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    is_date
        && matches!(
            collection,
            "functions"
                | "event-source-mappings"
                | "layers"
                | "tags"
                | "account-settings"
                | "code-signing-configs"
        )
}

/// Unsigned SQS requests: LocalStack's developer endpoint (`/_aws/sqs/...`), the
/// `sqs.<region>.localhost.localstack.cloud` / `sqs.<region>.amazonaws.com` hosts of
/// queue URLs, and query-protocol calls on a queue URL path
/// (`/<12-digit account>/<queue>?Action=...`).
fn is_sqs_unsigned<B>(req: &http::Request<B>) -> bool {
    let path = req.uri().path();
    if path.starts_with("/_aws/sqs/") {
        return true;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or("");
    // Not `sqs.s3.…`: that is virtual-host S3 for a bucket named `sqs`.
    let s3_host = host.contains(".s3.") || host.contains(".s3-");
    if (host.starts_with("sqs.") && !s3_host) || host.starts_with("queue.amazonaws.com") {
        return true;
    }
    let mut segments = path.trim_start_matches('/').split('/');
    let account = segments.next().unwrap_or("");
    let queue_path = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && segments.next().is_some_and(|q| !q.is_empty())
        && segments.next().is_none();
    queue_path
        && req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")))
}

/// Parses `AKID/20260101/us-east-1/s3/aws4_request[, ...]`.
fn credential_scope(credential: &str) -> Option<Identified> {
    let scope = credential.split([',', ' ']).next()?;
    let mut parts = scope.split('/');
    let _akid = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    (parts.next()? == "aws4_request").then_some(Identified {
        service,
        region: Some(region),
    })
}

/// Answers one of slcl's own `GET /_slcl/<name>` endpoints with a JSON document;
/// see [`Router::add_json_endpoint`].
pub type JsonEndpoint = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Routes requests to services and answers slcl's own endpoints.
pub struct Router {
    stack: StackContext,
    services: Arc<BTreeMap<&'static str, Arc<dyn Service>>>,
    clock: SharedClock,
    traces: Arc<TraceLog>,
    /// Extra `/_slcl/<name>` endpoints, by name.
    endpoints: Arc<RwLock<BTreeMap<String, JsonEndpoint>>>,
}

impl Router {
    /// A router over `services`, keyed by their signing names. Every request it
    /// answers is recorded in `traces`, timed on `clock`.
    pub fn new(
        stack: StackContext,
        services: Vec<Arc<dyn Service>>,
        clock: SharedClock,
        traces: Arc<TraceLog>,
    ) -> Arc<Router> {
        let services = Arc::new(services.into_iter().map(|s| (s.name(), s)).collect());
        Arc::new(Router {
            stack,
            services,
            clock,
            traces,
            endpoints: Arc::default(),
        })
    }

    /// Serves `GET /_slcl/<name>` with the JSON document `endpoint` returns, read at
    /// each request. This is how the composition root exposes what only it can reach
    /// (such as Lambda's counters at `/_slcl/stats`) without the edge knowing any
    /// service. `health` and `traces` are the edge's own and cannot be replaced;
    /// registering a name again replaces the earlier endpoint.
    pub fn add_json_endpoint(
        &self,
        name: &str,
        endpoint: impl Fn() -> serde_json::Value + Send + Sync + 'static,
    ) {
        self.endpoints
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::new(endpoint));
    }

    /// The stack this router serves.
    pub fn stack(&self) -> &StackContext {
        &self.stack
    }

    /// Answers one request. Never fails: problems become error responses.
    pub async fn handle(&self, req: Request, trace: Option<TraceContext>) -> Response {
        let started = Instant::now();
        let path = req.uri().path();
        if req.method() == Method::GET && (path == "/_slcl/health" || path == "/_localstack/health")
        {
            return self.health();
        }
        if req.method() == Method::GET {
            if let Some(id) = path.strip_prefix("/_slcl/traces/") {
                return self.trace(id);
            }
            if let Some(name) = path.strip_prefix("/_slcl/") {
                let endpoint = self
                    .endpoints
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(name.trim_end_matches('/'))
                    .cloned();
                if let Some(endpoint) = endpoint {
                    return json_response(StatusCode::OK, &endpoint());
                }
            }
        }
        let found = identify(&req);
        let trace = trace.unwrap_or_else(|| incoming_trace(&req));
        let request_id = if found.service == "s3" {
            ids::upper_alnum(16)
        } else {
            ids::uuid()
        };
        let span = tracing::info_span!(
            "edge.request",
            service = %found.service,
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %request_id,
            trace_id = %trace.trace_id,
        );
        let trace_id = trace.trace_id.clone();
        let mut step = TraceStep {
            trace_id: trace.trace_id.clone(),
            id: request_id.clone(),
            parent_id: trace.parent_id.clone(),
            kind: StepKind::Request,
            service: found.service.clone(),
            name: format!("{} {}", req.method(), req.uri().path()),
            started_ms: self.clock.now_millis(),
            duration_us: 0,
            outcome: String::new(),
        };
        let mut resp = async {
            let Some(service) = self.services.get(found.service.as_str()) else {
                return not_emulated(&req, &found.service);
            };
            let cx = RequestContext {
                region: found.region.unwrap_or_else(|| self.stack.region.clone()),
                account_id: self.stack.account_id.clone(),
                request_id,
                trace,
            };
            let resp = service.call(req, cx).await;
            tracing::debug!(status = %resp.status(), elapsed_us = started.elapsed().as_micros() as u64, "answered");
            resp
        }
        .instrument(span)
        .await;
        step.duration_us = started.elapsed().as_micros() as u64;
        step.outcome = resp.status().as_u16().to_string();
        self.traces.record(step);
        if let Ok(v) = HeaderValue::from_str(&trace_id) {
            resp.headers_mut().insert(TRACE_HEADER, v);
        }
        resp
    }

    /// `GET /_slcl/traces/<id>`: every recorded step of one trace, in order.
    fn trace(&self, trace_id: &str) -> Response {
        let trace_id = percent_encoding::percent_decode_str(trace_id).decode_utf8_lossy();
        let steps = self.traces.trace(&trace_id);
        let status = if steps.is_empty() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        let doc = serde_json::json!({ "traceId": trace_id, "steps": steps });
        json_response(status, &doc)
    }

    fn health(&self) -> Response {
        let services: serde_json::Map<String, serde_json::Value> = self
            .services
            .iter()
            .map(|(name, s)| (name.to_string(), s.health().as_str().into()))
            .collect();
        let doc = serde_json::json!({
            "services": services,
            "edition": "slcl",
            "version": env!("CARGO_PKG_VERSION"),
        });
        json_response(StatusCode::OK, &doc)
    }
}

/// A JSON answer of one of slcl's own endpoints.
fn json_response(status: StatusCode, doc: &serde_json::Value) -> Response {
    let mut resp = Response::new(body::full(doc.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl Dispatcher for Router {
    fn dispatch(&self, req: Request, trace: TraceContext) -> BoxFuture<'static, Response> {
        // The future must be 'static, so it gets its own (cheap) handle on the services.
        let router = Router {
            stack: self.stack.clone(),
            services: Arc::clone(&self.services),
            clock: Arc::clone(&self.clock),
            traces: Arc::clone(&self.traces),
            endpoints: Arc::clone(&self.endpoints),
        };
        Box::pin(async move { router.handle(req, Some(trace)).await })
    }
}

/// Takes the trace from an `X-Amzn-Trace-Id: Root=…;Parent=…` header, or starts one.
fn incoming_trace(req: &Request) -> TraceContext {
    let header = req
        .headers()
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut root = None;
    let mut parent = None;
    for part in header.split(';') {
        if let Some(v) = part.trim().strip_prefix("Root=") {
            root = Some(v.to_string());
        } else if let Some(v) = part.trim().strip_prefix("Parent=") {
            parent = Some(v.to_string());
        }
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    TraceContext {
        trace_id: root.unwrap_or_else(|| ids::trace_id(secs)),
        parent_id: parent,
    }
}

/// A request for a service slcl does not emulate: 501 NotImplemented in the shape of
/// the protocol the client used (JSON for `X-Amz-Target` / JSON bodies, XML otherwise).
fn not_emulated(req: &Request, service: &str) -> Response {
    let message = format!("slcl does not emulate the {service} service yet");
    let json = req.headers().contains_key("x-amz-target")
        || req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
    let (content_type, text) = if json {
        (
            "application/x-amz-json-1.0",
            serde_json::json!({"__type": "NotImplemented", "message": message}).to_string(),
        )
    } else {
        (
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                ids::uuid()
            ),
        )
    };
    let mut resp = Response::new(body::full(text));
    *resp.status_mut() = StatusCode::NOT_IMPLEMENTED;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("NotImplemented"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(f: impl FnOnce(http::request::Builder) -> http::request::Builder) -> http::Request<()> {
        f(http::Request::builder()).body(()).unwrap()
    }

    #[test]
    fn identifies_by_scope_target_path_and_default() {
        let signed = req(|b| {
            b.uri("/").header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261203/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=abc",
            )
        });
        assert_eq!(
            identify(&signed),
            Identified {
                service: "sqs".into(),
                region: Some("eu-west-1".into())
            }
        );
        let presigned = req(|b| {
            b.uri("/photos/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x")
        });
        assert_eq!(identify(&presigned).service, "s3");
        let target = req(|b| {
            b.uri("/")
                .header("x-amz-target", "Logs_20140328.PutLogEvents")
        });
        assert_eq!(identify(&target).service, "logs");
        let lambda = req(|b| b.uri("/2015-03-31/functions/f/invocations"));
        assert_eq!(identify(&lambda).service, "lambda");
        let config = req(|b| b.uri("/2019-09-25/functions/f/event-invoke-config"));
        assert_eq!(identify(&config).service, "lambda");
        // A bucket whose name looks like a date is still S3.
        assert_eq!(
            identify(&req(|b| b.uri("/2015-03-31/photo.jpg"))).service,
            "s3"
        );
        assert_eq!(identify(&req(|b| b.uri("/photos"))).service, "s3");
        assert_eq!(
            identify(&req(|b| b.uri("/_aws/sqs/messages?QueueUrl=x"))).service,
            "sqs"
        );
        let queue_host = req(|b| {
            b.uri("/000000000000/jobs")
                .header("host", "sqs.us-east-1.localhost.localstack.cloud:4566")
        });
        assert_eq!(identify(&queue_host).service, "sqs");
        let bucket_named_sqs = req(|b| {
            b.uri("/key")
                .header("host", "sqs.s3.localhost.localstack.cloud")
        });
        assert_eq!(identify(&bucket_named_sqs).service, "s3");
        assert_eq!(
            identify(&req(
                |b| b.uri("/000000000000/jobs?Action=SendMessage&MessageBody=x")
            ))
            .service,
            "sqs"
        );
        assert_eq!(
            identify(&req(|b| b.uri("/000000000000/jobs"))).service,
            "s3"
        );
    }
}
