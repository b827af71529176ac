//! What each Lambda operation does.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};
use slcl_core::{
    body, AwsError, BoxFuture, Request, RequestContext, Response, Service, StepKind, TraceContext,
    TraceStep,
};
use slcl_runtime::{Invocation, InvocationResult, Outcome};
use tracing::Instrument;

use crate::protocol::{self, Operation};
use crate::state::{FunctionEntry, InvocationRecord};
use crate::{LambdaError, LambdaService};

/// Largest synchronous invocation payload (6 MB), as Lambda's quota.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest asynchronous invocation payload (256 KB), as Lambda's quota.
pub const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;
/// Largest CreateFunction / UpdateFunctionCode request: a 50 MB ZIP, base64-encoded
/// in JSON (Lambda's quota for direct uploads).
const MAX_CODE_REQUEST: usize = 70_167_211;
/// Largest request body of the other control-plane operations.
const MAX_CONTROL_REQUEST: usize = 1024 * 1024;
/// `LogType=Tail` returns at most this much of the end of the log.
const LOG_TAIL_BYTES: usize = 4 * 1024;

/// The result of a synchronous invocation.
#[derive(Debug, Clone)]
pub struct InvokeOutput {
    /// What the runtime reported.
    pub result: InvocationResult,
    /// The version that ran (`$LATEST` today).
    pub executed_version: String,
    /// Request id of the invocation.
    pub request_id: String,
}

impl InvokeOutput {
    /// The response payload (the result, or the error document of a function error).
    pub fn payload(&self) -> &Bytes {
        match &self.result.outcome {
            Outcome::Success(p) => p,
            Outcome::FunctionError { payload, .. } => payload,
        }
    }

    /// Whether the function failed.
    pub fn is_error(&self) -> bool {
        matches!(self.result.outcome, Outcome::FunctionError { .. })
    }
}

impl LambdaService {
    /// Invokes function `name` (optionally `name:qualifier`, a version or alias)
    /// synchronously with `payload` (event JSON).
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
        trace: TraceContext,
    ) -> Result<InvokeOutput, LambdaError> {
        let target = self
            .target(name, None)
            .await
            .map_err(|_| LambdaError::NotFound(self.function_arn(name)))?;
        self.invoke_entry(&target.entry, payload, trace, slcl_core::ids::uuid(), None)
            .await
    }

    /// Runs one synchronous invocation of `entry` within the concurrency limits.
    pub(crate) async fn invoke_entry(
        &self,
        entry: &FunctionEntry,
        payload: Bytes,
        trace: TraceContext,
        request_id: String,
        client_context: Option<String>,
    ) -> Result<InvokeOutput, LambdaError> {
        let _slot = self
            .concurrency
            .acquire(&entry.decl.name)
            .map_err(|throttle| {
                self.stats.throttled(&entry.decl.name);
                LambdaError::Throttled(throttle)
            })?;
        let result = self
            .run_traced(
                entry,
                Invocation {
                    request_id: request_id.clone(),
                    payload,
                    trace,
                    client_context,
                },
            )
            .await?;
        Ok(InvokeOutput {
            result,
            executed_version: entry.version.clone(),
            request_id,
        })
    }

    /// Runs one invocation and records it as a trace step (its id is the request id,
    /// its parent the step that caused it) and in the invocation log.
    pub(crate) async fn run_traced(
        &self,
        entry: &FunctionEntry,
        inv: Invocation,
    ) -> Result<InvocationResult, slcl_runtime::RuntimeError> {
        self.run_recorded(entry, inv).await.0
    }

    /// [`LambdaService::run_traced`], also returning when it finished on the stack's
    /// clock, read before anyone could see the record: what follows from the
    /// invocation (a retry a minute later) is timed from then, however soon a test
    /// moves the clock after seeing it.
    pub(crate) async fn run_recorded(
        &self,
        entry: &FunctionEntry,
        inv: Invocation,
    ) -> (Result<InvocationResult, slcl_runtime::RuntimeError>, u64) {
        let mut step = TraceStep {
            trace_id: inv.trace.trace_id.clone(),
            id: inv.request_id.clone(),
            parent_id: inv.trace.parent_id.clone(),
            kind: StepKind::Invocation,
            service: "lambda".into(),
            name: entry.decl.name.clone(),
            started_ms: self.clock.now_millis(),
            duration_us: 0,
            outcome: String::new(),
        };
        let started = std::time::Instant::now();
        let event = inv.payload.clone();
        let running = self.stats.start(&entry.decl.name);
        let result = entry.function.invoke(inv).await;
        let duration = started.elapsed();
        let finished_ms = self.clock.now_millis();
        self.stats
            .finished(&entry.decl.name, entry.decl.memory_mb, &result);
        drop(running);
        step.duration_us = duration.as_micros() as u64;
        step.outcome = match &result {
            Ok(r) => match &r.outcome {
                Outcome::Success(_) => "ok".into(),
                Outcome::FunctionError { error_type, .. } => error_type.clone(),
            },
            Err(e) => e.to_string(),
        };
        let (request_id, trace_id) = (step.id.clone(), step.trace_id.clone());
        if let Ok(r) = &result {
            self.write_logs(&entry.decl.name, r, step.started_ms, finished_ms);
        }
        // The trace step first: whoever sees the record (a test's `next_invocation`)
        // must find the invocation in its trace too.
        self.traces.record(step.clone());
        self.invocations.record(InvocationRecord {
            seq: 0,
            function: entry.decl.name.clone(),
            request_id,
            trace_id,
            event,
            outcome: match &result {
                Ok(r) => Ok(r.outcome.clone()),
                Err(e) => Err(e.to_string()),
            },
            logs: result.as_ref().map(|r| r.logs.clone()).unwrap_or_default(),
            started_ms: step.started_ms,
            duration,
        });
        (result, finished_ms)
    }

    /// Hands an invocation's output to the log destination, if there is one. The
    /// runtime keeps no time per line: `START` and the function's lines carry the
    /// start of the invocation, `END` and `REPORT` its end.
    fn write_logs(&self, function: &str, r: &InvocationResult, started_ms: u64, finished_ms: u64) {
        let Some(logs) = self.logs.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            return;
        };
        let events: Vec<(i64, String)> = r
            .logs
            .lines()
            .map(|line| {
                let at = if line.starts_with("END RequestId:")
                    || line.starts_with("REPORT RequestId:")
                {
                    finished_ms
                } else {
                    started_ms
                };
                (at as i64, line.to_owned())
            })
            .collect();
        if !events.is_empty() {
            logs.write(
                &format!("/aws/lambda/{function}"),
                &r.log_stream_name,
                &events,
            );
        }
    }

    /// Finds the `$LATEST` of the function a `FunctionName` (name, ARN or partial
    /// ARN) refers to; a qualifier other than `$LATEST` is not found.
    pub(crate) fn resolve(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Arc<FunctionEntry>, AwsError> {
        let (name, inline_qualifier) = crate::functions::split_function(function);
        let arn = self.function_arn(name);
        let entry = self
            .registry
            .get(name)
            .ok_or_else(|| protocol::function_not_found(&arn))?;
        match qualifier.or(inline_qualifier) {
            None | Some("$LATEST") => Ok(entry),
            Some(q) => Err(protocol::function_not_found(&format!("{arn}:{q}"))),
        }
    }

    async fn operate(&self, req: Request, cx: &RequestContext) -> Result<Response, AwsError> {
        let op = protocol::decode(
            req.method(),
            req.uri().path(),
            req.uri().query(),
            req.headers(),
        )?;
        match op {
            Operation::Invoke {
                function,
                qualifier,
                invocation_type,
                log_type,
                client_context,
            } => {
                let target = self.target(&function, qualifier.as_deref()).await?;
                // The API takes ClientContext as base64 JSON; the runtime API hands the
                // function the decoded JSON.
                let client_context = client_context
                    .map(|b64| {
                        base64::engine::general_purpose::STANDARD
                            .decode(b64.trim())
                            .ok()
                            .and_then(|raw| String::from_utf8(raw).ok())
                            .filter(|json| serde_json::from_str::<Value>(json).is_ok())
                            .ok_or_else(|| {
                                AwsError::bad_request(
                                    "InvalidRequestContentException",
                                    "Client context must be a valid Base64-encoded JSON object.",
                                )
                            })
                    })
                    .transpose()?;
                let limit = if invocation_type == "Event" {
                    MAX_ASYNC_PAYLOAD
                } else {
                    MAX_SYNC_PAYLOAD
                };
                let payload = match body::collect(req.into_body(), limit).await {
                    Ok(p) => p,
                    Err(body::CollectError::TooLarge(_)) => {
                        return Err(AwsError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "RequestEntityTooLargeException",
                            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
                        ))
                    }
                    Err(e) => return Err(AwsError::bad_request("InvalidRequestContentException", e.to_string())),
                };
                let payload = if payload.iter().all(u8::is_ascii_whitespace) {
                    Bytes::from_static(b"{}")
                } else {
                    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
                        return Err(AwsError::bad_request(
                            "InvalidRequestContentException",
                            format!("Could not parse request body into json: {e}"),
                        ));
                    }
                    payload
                };
                self.invoke_api(
                    target.entry,
                    payload,
                    &invocation_type,
                    &log_type,
                    client_context,
                    cx,
                )
                .await
            }
            Operation::GetFunction {
                function,
                qualifier,
            } => {
                let target = self
                    .described_target(&function, qualifier.as_deref())
                    .await?;
                let entry = &target.entry;
                let location = if entry.function.is_native() {
                    format!("native://{}", entry.decl.name)
                } else {
                    let path = match &entry.decl.package {
                        Some(p) => p.zip.clone(),
                        None => entry.decl.wasm.clone(),
                    };
                    format!(
                        "file://{}",
                        std::fs::canonicalize(&path).unwrap_or(path).display()
                    )
                };
                let mut doc = json!({
                    "Configuration": self.target_configuration(&target),
                    "Code": {
                        "RepositoryType": "S3",
                        "Location": location,
                    },
                    "Tags": self.function_tags(&target.name),
                });
                if let Some(n) = self.concurrency.reserved(&target.name) {
                    doc["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
                }
                Ok(protocol::json_response(
                    StatusCode::OK,
                    &doc,
                    &cx.request_id,
                ))
            }
            Operation::GetFunctionConfiguration {
                function,
                qualifier,
            } => {
                let target = self
                    .described_target(&function, qualifier.as_deref())
                    .await?;
                Ok(protocol::json_response(
                    StatusCode::OK,
                    &self.target_configuration(&target),
                    &cx.request_id,
                ))
            }
            Operation::ListFunctions { marker, max_items } => {
                let all = self.registry.all();
                let start = match &marker {
                    None => 0,
                    Some(m) => all
                        .iter()
                        .position(|e| &e.decl.name > m)
                        .unwrap_or(all.len()),
                };
                let page: Vec<Value> = all[start..]
                    .iter()
                    .take(max_items)
                    .map(|e| self.configuration(e))
                    .collect();
                let mut doc = json!({ "Functions": page });
                if start + max_items < all.len() {
                    doc["NextMarker"] = all[start + max_items - 1].decl.name.clone().into();
                }
                Ok(protocol::json_response(
                    StatusCode::OK,
                    &doc,
                    &cx.request_id,
                ))
            }
            Operation::CreateEventSourceMapping => {
                let body = read_body(req).await?;
                let (status, doc) = self.create_event_source_mapping(&body)?;
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
            Operation::UpdateEventSourceMapping { uuid } => {
                let body = read_body(req).await?;
                let (status, doc) = self.update_event_source_mapping(&uuid, &body)?;
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
            Operation::GetEventSourceMapping { uuid } => {
                let (status, doc) = self.get_event_source_mapping(&uuid)?;
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
            Operation::DeleteEventSourceMapping { uuid } => {
                let (status, doc) = self.delete_event_source_mapping(&uuid)?;
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
            Operation::ListEventSourceMappings {
                event_source_arn,
                function,
                marker,
                max_items,
            } => {
                let (status, doc) = self.list_event_source_mappings(
                    event_source_arn.as_deref(),
                    function.as_deref(),
                    marker.as_deref(),
                    max_items,
                )?;
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
            Operation::Call(call) => {
                let limit = match call.name {
                    "CreateFunction" | "UpdateFunctionCode" => MAX_CODE_REQUEST,
                    _ => MAX_CONTROL_REQUEST,
                };
                let body = match body::collect(req.into_body(), limit).await {
                    Ok(b) => b,
                    Err(body::CollectError::TooLarge(_)) => {
                        return Err(AwsError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "RequestEntityTooLargeException",
                            format!(
                                "Request must be smaller than {limit} bytes for the {} operation",
                                call.name
                            ),
                        ))
                    }
                    Err(e) => {
                        return Err(AwsError::bad_request(
                            "InvalidRequestContentException",
                            e.to_string(),
                        ))
                    }
                };
                let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
                    json!({})
                } else {
                    serde_json::from_slice(&body).map_err(|e| {
                        AwsError::bad_request(
                            "InvalidRequestContentException",
                            format!("Could not parse request body into json: {e}"),
                        )
                    })?
                };
                // Each group of operations lives in its own module and answers `None`
                // for names that are not its own.
                let answer = match self.function_operation(&call, &body).await {
                    Some(a) => a,
                    None => match self.invoke_config_operation(&call, &body).await {
                        Some(a) => a,
                        None => Err(AwsError::not_implemented("Lambda", call.name)),
                    },
                };
                let (status, doc) = answer?;
                if status == StatusCode::NO_CONTENT {
                    let mut resp = protocol::bytes_response(status, Bytes::new(), &cx.request_id);
                    resp.headers_mut().remove(http::header::CONTENT_TYPE);
                    return Ok(resp);
                }
                Ok(protocol::json_response(status, &doc, &cx.request_id))
            }
        }
    }

    async fn invoke_api(
        &self,
        entry: Arc<FunctionEntry>,
        payload: Bytes,
        invocation_type: &str,
        log_type: &str,
        client_context: Option<String>,
        cx: &RequestContext,
    ) -> Result<Response, AwsError> {
        match invocation_type {
            "DryRun" => {
                let mut resp = protocol::bytes_response(StatusCode::NO_CONTENT, Bytes::new(), &cx.request_id);
                resp.headers_mut().remove(http::header::CONTENT_TYPE);
                Ok(resp)
            }
            "Event" => {
                let trace = TraceContext {
                    trace_id: cx.trace.trace_id.clone(),
                    parent_id: Some(cx.request_id.clone()),
                };
                let request_id = self
                    .enqueue(&entry.qualified_name(), &payload, &trace)
                    .map_err(|e| AwsError::internal(e.to_string()))?;
                let mut resp = protocol::bytes_response(StatusCode::ACCEPTED, Bytes::new(), &request_id);
                resp.headers_mut().remove(http::header::CONTENT_TYPE);
                Ok(resp)
            }
            "RequestResponse" => {
                let trace = TraceContext {
                    trace_id: cx.trace.trace_id.clone(),
                    parent_id: Some(cx.request_id.clone()),
                };
                let out = match self
                    .invoke_entry(&entry, payload, trace, cx.request_id.clone(), client_context)
                    .await
                {
                    Ok(out) => out,
                    Err(LambdaError::Throttled(t)) => return Ok(throttled(t, &cx.request_id)),
                    Err(e) => return Err(runtime_error(e)),
                };
                let mut resp = protocol::bytes_response(StatusCode::OK, out.payload().clone(), &out.request_id);
                let headers = resp.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&out.executed_version) {
                    headers.insert("x-amz-executed-version", v);
                }
                if out.is_error() {
                    headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
                }
                if log_type == "Tail" {
                    let logs = out.result.logs.as_bytes();
                    let mut start = logs.len().saturating_sub(LOG_TAIL_BYTES);
                    while start < logs.len() && (logs[start] & 0xC0) == 0x80 {
                        start += 1; // don't split a UTF-8 character
                    }
                    let tail = base64::engine::general_purpose::STANDARD.encode(&logs[start..]);
                    if let Ok(v) = HeaderValue::from_str(&tail) {
                        headers.insert("x-amz-log-result", v);
                    }
                }
                Ok(resp)
            }
            other => Err(protocol::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ))),
        }
    }

    /// The configuration of a resolved target: an alias reports its version's
    /// configuration under the alias's ARN.
    fn target_configuration(&self, target: &crate::functions::Target) -> Value {
        let mut doc = self.configuration(&target.entry);
        if let Some(alias) = &target.alias {
            doc["FunctionArn"] = format!("{}:{alias}", self.function_arn(&target.name)).into();
        }
        doc
    }

    /// Lambda's `FunctionConfiguration` document.
    pub(crate) fn configuration(&self, entry: &FunctionEntry) -> Value {
        let decl = &entry.decl;
        let handler = if entry.function.is_native() {
            "native".to_owned()
        } else if !decl.handler.is_empty() {
            decl.handler.clone()
        } else {
            decl.wasm
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut doc = json!({
            "FunctionName": decl.name,
            "FunctionArn": entry.arn,
            "Runtime": if decl.runtime.is_empty() { "provided.al2023" } else { decl.runtime.as_str() },
            "Role": if decl.role.is_empty() {
                format!("arn:aws:iam::{}:role/lambda-role", self.stack.account_id)
            } else {
                decl.role.clone()
            },
            "Handler": handler,
            "CodeSize": entry.code_size(),
            "Description": decl.description,
            "Timeout": decl.timeout_secs,
            "MemorySize": decl.memory_mb,
            "LastModified": crate::functions::lambda_time(entry.last_modified),
            "CodeSha256": entry.code_sha256(),
            "Version": entry.version,
            "Environment": { "Variables": decl.env },
            "TracingConfig": { "Mode": "PassThrough" },
            "RevisionId": entry.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": { "Size": 512 },
            "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
            "RuntimeVersionConfig": { "RuntimeVersionArn": format!("arn:aws:lambda:{}::runtime:slcl-wasm-component", self.stack.region) },
            "LoggingConfig": { "LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", decl.name) },
        });
        if let Some(target) = &decl.dead_letter_target {
            doc["DeadLetterConfig"] = json!({ "TargetArn": target });
        }
        doc
    }
}

/// Lambda's throttle answer: 429 `TooManyRequestsException` with the `Reason`.
fn throttled(t: crate::Throttle, request_id: &str) -> Response {
    let doc = json!({
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": t.reason(),
    });
    let mut resp = protocol::json_response(StatusCode::TOO_MANY_REQUESTS, &doc, request_id);
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("TooManyRequestsException"),
    );
    resp
}

/// Reads a small JSON request body (the control-plane operations').
async fn read_body(req: Request) -> Result<Bytes, AwsError> {
    body::collect(req.into_body(), 1024 * 1024)
        .await
        .map_err(|e| AwsError::bad_request("InvalidRequestContentException", e.to_string()))
}

/// Maps a failure to run a function at all (not a function error) to Lambda's API
/// error: no free instance is Lambda's throttle (429), anything else a service error.
fn runtime_error(e: LambdaError) -> AwsError {
    match e {
        LambdaError::Runtime(slcl_runtime::RuntimeError::Capacity { .. }) => AwsError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            format!("Rate Exceeded. Reason: ConcurrentInvocationLimitExceeded ({e})"),
        ),
        LambdaError::NotFound(arn) => protocol::function_not_found(&arn),
        other => AwsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            other.to_string(),
        ),
    }
}

impl Service for LambdaService {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn call(&self, req: Request, cx: RequestContext) -> BoxFuture<'_, Response> {
        let span = tracing::info_span!("lambda.request", request_id = %cx.request_id);
        Box::pin(
            async move {
                match self.operate(req, &cx).await {
                    Ok(resp) => resp,
                    Err(e) => protocol::error_response(&e, &cx.request_id),
                }
            }
            .instrument(span),
        )
    }
}
