//! slcl's Amazon SQS: standard and FIFO queues, in-process, durable in SQLite, spoken
//! to by unmodified AWS clients over SQS's JSON protocol (current SDKs, the aws CLI)
//! and its older query protocol (`Action=` forms, XML answers).
//!
//! # What is supported
//!
//! Every operation of the 2012-11-05 API: queues (CreateQueue, GetQueueUrl,
//! ListQueues, DeleteQueue, Get/SetQueueAttributes, PurgeQueue, tags, permissions,
//! ListDeadLetterSourceQueues), messages (SendMessage(Batch), ReceiveMessage with long
//! polling, DeleteMessage(Batch), ChangeMessageVisibility(Batch)) and dead-letter
//! redrives (Start/List/CancelMessageMoveTask). `docs/services/sqs.md` has the
//! coverage table, limits and the deliberate differences from AWS.
//!
//! Besides the API, the service answers LocalStack's developer endpoint
//! `GET /_aws/sqs/messages?QueueUrl=…` (also `/_aws/sqs/messages/<region>/<account>/<name>`),
//! which lists a queue's messages without receiving them (`ShowInvisible=true`,
//! `ShowDelayed=true` to include in-flight and delayed ones; XML by default, JSON
//! with `Accept: application/json`).
//!
//! # How it is built
//!
//! The crate has the shape of every slcl emulator:
//!
//! - [`protocol`]: either protocol → one [`protocol::Call`] (operation name + input in
//!   the JSON protocol's shape); results and errors back in the client's protocol.
//! - `operations`: the behaviour of each operation (`queues`, `messages`,
//!   `move_tasks`).
//! - `state`: the `sqs_*` tables. Visibility is stored as a time (`visible_at_ms`)
//!   and evaluated when read, so in-flight and delayed messages need no timers and
//!   come back after a restart exactly when they should.
//! - [`events`]: the bus [`slcl_core::Target`] for queue ARNs (a delivery becomes a
//!   SendMessage).
//!
//! Every time (visibility timeouts, delays, retention, the FIFO deduplication window,
//! the purge cooldown, `QueueDeletedRecently`, long-poll waits) is read from the
//! stack's [`slcl_core::Clock`]. A long poll waits for whichever comes first: a
//! notification that the queue changed (a per-queue [`tokio::sync::Notify`]), the
//! clock reaching the next time a message becomes visible, or the end of the wait.
//! With a [`slcl_core::VirtualClock`], `advance` therefore completes long polls and
//! makes delayed and in-flight messages visible.
//!
//! # Queue URLs
//!
//! URLs are generated in LocalStack's default form,
//! `http://sqs.<region>.localhost.localstack.cloud:<port>/<account>/<name>`, with the
//! port of the stack's endpoint. On input any host is accepted: only the
//! `/<account>/<name>` path counts, so `http://localhost:4566/000000000000/jobs` names
//! the same queue.
//!
//! # Rust API
//!
//! For in-process users (the Lambda event source mapping poller, destinations, other
//! emulators through the bus, the test harness). Queues are named by name, ARN or URL.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::time::Duration;
//! use slcl_core::{StackContext, SystemClock};
//! use slcl_sqs::{SendOptions, SqsService};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = slcl_store::Store::temporary()?;
//! let sqs = SqsService::new(&store, SystemClock::shared(), StackContext::default())?;
//! let queue = sqs.ensure_queue("jobs", BTreeMap::new())?;
//! sqs.send(&queue.arn, "hello", SendOptions::default())?;
//! let batch = sqs.receive(&queue.arn, 10, None, Duration::from_secs(20)).await?;
//! for m in &batch {
//!     sqs.delete(&queue.arn, &m.receipt_handle)?;
//! }
//! // Wait for more without polling in a loop:
//! sqs.notified(&queue.arn).await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod digest;
mod error;
pub mod events;
mod operations;
pub mod protocol;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value};
use slcl_core::{BoxFuture, Request, RequestContext, Response, Service, SharedClock, StackContext};
use slcl_store::Store;
use tokio::sync::Notify;
use tracing::Instrument;

pub use error::{ApiError, SqsError};

use operations::Cx;
use state::State;

/// Largest request body read (a batch of ten 1 MiB messages is refused by size long
/// before this; the slack covers encoding overhead).
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// A queue's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Queue name.
    pub name: String,
    /// Queue URL as the API returns it.
    pub url: String,
    /// Queue ARN, `arn:aws:sqs:<region>:<account>:<name>`.
    pub arn: String,
}

/// A typed message attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttributeValue {
    /// `String`, `Number` or `Binary`, optionally with a `.custom` suffix.
    pub data_type: String,
    /// Value of `String` and `Number` attributes.
    pub string_value: Option<String>,
    /// Value of `Binary` attributes.
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("DataType".into(), self.data_type.clone().into());
        if let Some(s) = &self.string_value {
            m.insert("StringValue".into(), s.clone().into());
        }
        if let Some(b) = &self.binary_value {
            m.insert(
                "BinaryValue".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Self {
        MessageAttributeValue {
            data_type: v
                .get("DataType")
                .and_then(Value::as_str)
                .unwrap_or("String")
                .to_string(),
            string_value: v
                .get("StringValue")
                .and_then(Value::as_str)
                .map(str::to_string),
            binary_value: v.get("BinaryValue").and_then(digest::binary_value),
        }
    }
}

/// A message as a receive (or a peek) returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// MessageId.
    pub message_id: String,
    /// Receipt handle of this receive; empty for [`SqsService::peek`].
    pub receipt_handle: String,
    /// Body.
    pub body: String,
    /// MD5OfBody.
    pub md5_of_body: String,
    /// Every system attribute: `ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
    /// `ApproximateFirstReceiveTimestamp`, and where present `MessageGroupId`,
    /// `MessageDeduplicationId`, `SequenceNumber`, `AWSTraceHeader`,
    /// `DeadLetterQueueSourceArn`.
    pub attributes: BTreeMap<String, String>,
    /// Message attributes.
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// MD5OfMessageAttributes, when there are message attributes.
    pub md5_of_message_attributes: Option<String>,
    /// slcl's trace of the request (or bus delivery) that sent it, so that what
    /// processes the message (an event source mapping's invocation) joins that trace.
    /// Not an SQS attribute; `None` for messages sent without one.
    pub trace: Option<slcl_core::TraceContext>,
}

/// Options of [`SqsService::send`].
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// DelaySeconds (standard queues; whole seconds, up to 15 minutes).
    pub delay: Option<Duration>,
    /// Message attributes.
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// MessageGroupId (required for FIFO queues).
    pub message_group_id: Option<String>,
    /// MessageDeduplicationId (FIFO queues without content-based deduplication).
    pub message_deduplication_id: Option<String>,
    /// The `AWSTraceHeader` system attribute.
    pub aws_trace_header: Option<String>,
    /// slcl's trace of whatever sends it (see [`ReceivedMessage::trace`]). Default
    /// none.
    pub trace: Option<slcl_core::TraceContext>,
}

/// What [`SqsService::send`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// MessageId (for a FIFO duplicate, the id of the original).
    pub message_id: String,
    /// MD5OfMessageBody.
    pub md5_of_body: String,
    /// SequenceNumber (FIFO).
    pub sequence_number: Option<String>,
}

/// The SQS emulator. Build it with [`SqsService::new`] and hand it to the edge as a
/// [`Service`] and to the bus as the `sqs` [`slcl_core::Target`].
pub struct SqsService {
    state: State,
    clock: SharedClock,
    stack: StackContext,
    /// Port of the stack's endpoint, for queue URLs.
    port: Option<u16>,
    /// Queue name → wakes long polls when the queue changes.
    notifies: Mutex<HashMap<String, Arc<Notify>>>,
    /// Running message move tasks → their cancel flag.
    move_cancels: Mutex<HashMap<String, Arc<AtomicBool>>>,
    me: Weak<SqsService>,
}

impl SqsService {
    /// Opens SQS's tables in `store` (creating them) and returns the service.
    pub fn new(
        store: &Store,
        clock: SharedClock,
        stack: StackContext,
    ) -> Result<Arc<SqsService>, SqsError> {
        let state = State::open(store)?;
        let port = endpoint_port(&stack.endpoint_url);
        Ok(Arc::new_cyclic(|me| SqsService {
            state,
            clock,
            stack,
            port,
            notifies: Mutex::new(HashMap::new()),
            move_cancels: Mutex::new(HashMap::new()),
            me: me.clone(),
        }))
    }

    /// For queues declared in configuration: creates the queue with these attributes
    /// (as CreateQueue would, validating them) or, if it exists, applies them with
    /// SetQueueAttributes semantics. FIFO queues are recognised by the `.fifo` suffix
    /// (`FifoQueue=true` is implied).
    pub fn ensure_queue(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<QueueInfo, SqsError> {
        let cx = self.internal_cx();
        Ok(self.ensure_queue_inner(name, attributes, &cx)?)
    }

    /// Identity of an existing queue given by name, ARN or URL.
    pub fn queue_info(&self, queue: &str) -> Result<QueueInfo, SqsError> {
        let q = self.lookup(queue)?;
        Ok(QueueInfo {
            url: self.queue_url(&q),
            arn: q.arn(),
            name: q.name,
        })
    }

    /// ARN of an existing queue given by name, ARN or URL.
    pub fn queue_arn(&self, queue: &str) -> Result<String, SqsError> {
        Ok(self.queue_info(queue)?.arn)
    }

    /// Every attribute of the queue, as `GetQueueAttributes` with `All` returns them.
    pub fn queue_attributes(&self, queue: &str) -> Result<BTreeMap<String, String>, SqsError> {
        let q = self.lookup(queue)?;
        Ok(self.all_attributes(&q)?)
    }

    /// The queue's VisibilityTimeout.
    pub fn visibility_timeout(&self, queue: &str) -> Result<Duration, SqsError> {
        let q = self.lookup(queue)?;
        Ok(Duration::from_millis(q.visibility_ms() as u64))
    }

    /// Sends one message, as SendMessage does (same validation, FIFO deduplication,
    /// durability: committed before this returns).
    pub fn send(
        &self,
        queue: &str,
        body: &str,
        options: SendOptions,
    ) -> Result<SentMessage, SqsError> {
        let q = self.lookup(queue)?;
        let mut input = Map::new();
        input.insert("MessageBody".into(), body.into());
        if let Some(d) = options.delay {
            input.insert("DelaySeconds".into(), d.as_secs().into());
        }
        if !options.message_attributes.is_empty() {
            let attrs: Map<String, Value> = options
                .message_attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            input.insert("MessageAttributes".into(), Value::Object(attrs));
        }
        if let Some(g) = options.message_group_id {
            input.insert("MessageGroupId".into(), g.into());
        }
        if let Some(d) = options.message_deduplication_id {
            input.insert("MessageDeduplicationId".into(), d.into());
        }
        if let Some(t) = options.aws_trace_header {
            input.insert(
                "MessageSystemAttributes".into(),
                serde_json::json!({"AWSTraceHeader": {"DataType": "String", "StringValue": t}}),
            );
        }
        let mut cx = self.internal_cx();
        cx.trace = options
            .trace
            .filter(|t| !t.trace_id.is_empty())
            .map(|t| format!("{} {}", t.trace_id, t.parent_id.unwrap_or_default()));
        let out = self.send_message_to(&q.name, &input, &cx)?;
        Ok(SentMessage {
            message_id: out["MessageId"].as_str().unwrap_or_default().to_string(),
            md5_of_body: out["MD5OfMessageBody"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            sequence_number: out["SequenceNumber"].as_str().map(str::to_string),
        })
    }

    /// Receives up to `max` (1–10) messages with every system and message attribute,
    /// waiting up to `wait` (at most 20 s) for the first one as a long poll does.
    /// `visibility_timeout` overrides the queue's (capped at 12 hours). Messages over
    /// the redrive policy's `maxReceiveCount` move to the dead-letter queue instead,
    /// as in a ReceiveMessage. Errors: the queue does not exist (`code()` is
    /// `AWS.SimpleQueueService.NonExistentQueue`, also when it is deleted during the
    /// wait), or the queue has too many messages in flight (`OverLimit`).
    pub async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility_timeout: Option<Duration>,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let q = self.lookup(queue)?;
        let opts = operations::messages::ReceiveOptions {
            max: max.clamp(1, 10),
            visibility_ms: visibility_timeout
                .map(|d| d.min(Duration::from_secs(43_200)).as_millis() as i64),
            wait_ms: wait.min(Duration::from_secs(20)).as_millis() as i64,
            attempt_id: None,
        };
        Ok(self.receive_messages(&q.name, opts).await?)
    }

    /// Deletes a received message, as DeleteMessage does.
    pub fn delete(&self, queue: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let q = self.lookup(queue)?;
        Ok(self.delete_one(&q.name, receipt_handle)?)
    }

    /// Changes a received message's visibility timeout, as ChangeMessageVisibility
    /// does (zero makes it visible at once).
    pub fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), SqsError> {
        let q = self.lookup(queue)?;
        Ok(self.change_visibility_one(&q.name, receipt_handle, timeout.as_secs() as i64)?)
    }

    /// Completes when the queue may have a message to receive: one was sent or made
    /// visible, or the clock reached the time a delayed or in-flight message becomes
    /// visible. Spurious completions are possible; callers receive and wait again.
    /// Completes at once if the queue does not exist.
    pub fn notified(&self, queue: &str) -> BoxFuture<'static, ()> {
        let Ok(q) = self.lookup(queue) else {
            return Box::pin(std::future::ready(()));
        };
        let mut notified = Box::pin(self.notify(&q.name).notified_owned());
        notified.as_mut().enable();
        let now = self.now();
        let next = self
            .state
            .read(|c| state::next_visible_at(c, &q.name, now))
            .ok()
            .flatten();
        let wake = next.map(|at| self.clock.sleep_until(to_time(at)));
        Box::pin(async move {
            match wake {
                Some(wake) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = wake => {}
                    }
                }
                None => notified.await,
            }
        })
    }

    /// Every message in the queue (visible, in flight and delayed), in order, without
    /// changing visibility or receive counts. Receipt handles are empty.
    pub fn peek(&self, queue: &str) -> Result<Vec<ReceivedMessage>, SqsError> {
        let q = self.lookup(queue)?;
        Ok(self.peek_messages(&q.name, true, true)?)
    }

    /// Deletes every queue, message and move task, as if the state folder were new
    /// (also forgets recently deleted names, so they can be created again at once).
    pub fn reset(&self) -> Result<(), SqsError> {
        for cancel in self
            .move_cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.state.reset()?;
        let notifies: Vec<Arc<Notify>> = self
            .notifies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, n)| n)
            .collect();
        for n in notifies {
            n.notify_waiters();
        }
        Ok(())
    }

    /// Names of every queue.
    pub fn queue_names(&self) -> Result<Vec<String>, SqsError> {
        Ok(self
            .state
            .read(state::queues)?
            .into_iter()
            .map(|q| q.name)
            .collect())
    }

    // Internals shared by the operations.

    fn now(&self) -> i64 {
        self.clock.now_millis() as i64
    }

    fn internal_cx(&self) -> Cx {
        Cx {
            region: self.stack.region.clone(),
            account: self.stack.account_id.clone(),
            request_id: slcl_core::ids::uuid(),
            trace: None,
            xray_header: None,
        }
    }

    fn notify(&self, queue: &str) -> Arc<Notify> {
        self.notifies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(queue.to_string())
            .or_default()
            .clone()
    }

    /// Wakes whoever waits on the queue.
    fn wake(&self, queue: &str) {
        let n = self
            .notifies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
            .cloned();
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    fn queue_url(&self, q: &state::QueueRow) -> String {
        match self.port {
            Some(port) => format!(
                "http://sqs.{}.localhost.localstack.cloud:{port}/{}/{}",
                q.region, q.account, q.name
            ),
            None => format!(
                "http://sqs.{}.localhost.localstack.cloud/{}/{}",
                q.region, q.account, q.name
            ),
        }
    }

    /// A queue given by name, ARN or URL.
    fn lookup(&self, queue: &str) -> Result<state::QueueRow, ApiError> {
        let name = queue_name_of(queue);
        self.state.read(|c| state::existing(c, name))
    }

    async fn answer(&self, req: Request, cx: RequestContext) -> Response {
        let (parts, body) = req.into_parts();
        let protocol = protocol::protocol_of(&parts.headers);
        let bytes = match slcl_core::body::collect(body, MAX_REQUEST_BYTES).await {
            Ok(b) => b,
            Err(e) => {
                let err =
                    ApiError::invalid_parameter_value(format!("Could not read the request: {e}"));
                return protocol::error_response(protocol, &err, &cx.request_id);
            }
        };
        let ocx = Cx {
            region: cx.region.clone(),
            account: cx.account_id.clone(),
            request_id: cx.request_id.clone(),
            trace: (!cx.trace.trace_id.is_empty())
                .then(|| format!("{} {}", cx.trace.trace_id, cx.request_id)),
            xray_header: parts
                .headers
                .get("x-amzn-trace-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let path = parts.uri.path();
        if path == "/_aws/sqs/messages" || path.starts_with("/_aws/sqs/messages/") {
            return self.developer_endpoint(&parts, &bytes, &ocx);
        }
        // The query protocol may post to the queue's own URL.
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let path_queue = (segments.len() == 2).then(|| format!("http://localhost{path}"));
        let call = match protocol::decode(&parts.headers, &parts.uri, &bytes, path_queue) {
            Ok(call) => call,
            Err(e) => return protocol::error_response(protocol, &e, &cx.request_id),
        };
        let span = tracing::info_span!("sqs.request", operation = %call.action);
        let result = self.run(&call, &ocx).instrument(span).await;
        match result {
            Ok(out) => protocol::respond(call.protocol, &call.action, out, &cx.request_id),
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::error!(code = e.query_code, message = %e.message, "SQS request failed");
                } else {
                    tracing::debug!(code = e.query_code, message = %e.message, "SQS error response");
                }
                protocol::error_response(call.protocol, &e, &cx.request_id)
            }
        }
    }
}

impl Service for SqsService {
    fn name(&self) -> &'static str {
        "sqs"
    }

    fn call(&self, req: Request, cx: RequestContext) -> BoxFuture<'_, Response> {
        Box::pin(self.answer(req, cx))
    }
}

/// The queue name in a name, an ARN (`arn:aws:sqs:<region>:<account>:<name>`) or a
/// URL (`…/<account>/<name>`).
fn queue_name_of(queue: &str) -> &str {
    if let Some(rest) = queue.strip_prefix("arn:") {
        return rest.rsplit(':').next().unwrap_or(rest);
    }
    queue
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(queue)
}

fn endpoint_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn to_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports() {
        assert_eq!(queue_name_of("jobs"), "jobs");
        assert_eq!(
            queue_name_of("arn:aws:sqs:us-east-1:000000000000:jobs"),
            "jobs"
        );
        assert_eq!(
            queue_name_of("http://localhost:4566/000000000000/jobs"),
            "jobs"
        );
        assert_eq!(endpoint_port("http://127.0.0.1:4566"), Some(4566));
        assert_eq!(endpoint_port("http://localhost"), None);
    }
}
