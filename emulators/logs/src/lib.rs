//! slcl's Amazon CloudWatch Logs: log groups, log streams and log events, in-process,
//! durable in SQLite, spoken to by unmodified AWS clients over the AWS JSON 1.1
//! protocol (`X-Amz-Target: Logs_20140328.<Operation>`).
//!
//! # What is supported
//!
//! CreateLogGroup, DeleteLogGroup, DescribeLogGroups, CreateLogStream,
//! DeleteLogStream, DescribeLogStreams, PutLogEvents (AWS's batch rules, with
//! `rejectedLogEventsInfo` for too old, expired and too new events; sequence tokens
//! are accepted and ignored), GetLogEvents (forward/backward tokens), FilterLogEvents
//! (with [`filter`] patterns), Put/DeleteRetentionPolicy and the two tagging APIs
//! (TagLogGroup/UntagLogGroup/ListTagsLogGroup and TagResource/UntagResource/
//! ListTagsForResource). Every other operation answers `NotImplemented` naming it.
//! `docs/services/logs.md` has the coverage table and the differences from AWS.
//!
//! # How it is built
//!
//! The crate has the shape of every slcl emulator:
//!
//! - [`protocol`]: the JSON 1.1 request → operation name + JSON input; results and
//!   errors (`{"__type", "message"}`) back.
//! - `operations`: the behaviour of each operation (`groups`, `events`).
//! - `state`: the `logs_*` tables. Retention is enforced lazily: every read first
//!   deletes events older than their group's retention on the stack's clock, so no
//!   timer is needed and a [`slcl_core::VirtualClock`] moved forward expires events.
//! - [`filter`]: the filter pattern language of FilterLogEvents.
//!
//! CloudWatch Logs emits nothing to the bus yet (subscription filters would), so
//! there is no `events` module.
//!
//! # Rust API
//!
//! For in-process writers, first of all the Lambda runtime, which sends a function's
//! output to `/aws/lambda/<name>`:
//!
//! ```no_run
//! use slcl_core::{StackContext, SystemClock};
//! use slcl_logs::LogsService;
//!
//! # fn run() -> Result<(), slcl_logs::LogsError> {
//! let store = slcl_store::Store::temporary()?;
//! let logs = LogsService::new(&store, SystemClock::shared(), StackContext::default())?;
//! let now = 1_767_225_600_000;
//! logs.append("/aws/lambda/thumbnail", "2026/01/01/[$LATEST]abc", &[(now, "START RequestId: 1".into())])?;
//! for e in logs.events("/aws/lambda/thumbnail", "2026/01/01/[$LATEST]abc")? {
//!     println!("{} {}", e.timestamp, e.message);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
pub mod filter;
mod operations;
pub mod protocol;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use slcl_core::{BoxFuture, Request, RequestContext, Response, Service, SharedClock, StackContext};
use slcl_store::Store;
use tracing::Instrument;

pub use error::LogsError;
pub use operations::groups::RETENTION_DAYS;

use state::State;

/// Largest request body read (a PutLogEvents batch is at most 1 MiB of messages; the
/// slack covers JSON encoding).
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// A stored log event, as [`LogsService::events`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The message.
    pub message: String,
    /// When it was stored, milliseconds on the stack's clock.
    pub ingestion_time: i64,
}

/// The CloudWatch Logs emulator. Build it with [`LogsService::new`] and hand it to the
/// edge as a [`Service`] (its name is `logs`, the SigV4 signing name).
pub struct LogsService {
    state: State,
    clock: SharedClock,
    stack: StackContext,
}

impl LogsService {
    /// Opens CloudWatch Logs' tables in `store` (creating them) and returns the
    /// service.
    pub fn new(
        store: &Store,
        clock: SharedClock,
        stack: StackContext,
    ) -> Result<Arc<LogsService>, LogsError> {
        let state = State::open(store)?;
        Ok(Arc::new(LogsService {
            state,
            clock,
            stack,
        }))
    }

    /// Appends events to `group`/`stream`, creating the group and the stream if they
    /// are missing (one transaction, committed before this returns).
    ///
    /// Unlike PutLogEvents this takes the events as they come: they need not be in
    /// chronological order, and no age or size rules apply (reads still order a
    /// stream by timestamp, and retention still expires old events). Names must be
    /// valid log group and stream names and timestamps non-negative. Meant for the Lambda runtime writing a
    /// function's output to `/aws/lambda/<name>`.
    pub fn append(
        &self,
        group: &str,
        stream: &str,
        events: &[(i64, String)],
    ) -> Result<(), LogsError> {
        operations::check_group_name(group)?;
        operations::check_stream_name(stream)?;
        if events.iter().any(|(t, _)| *t < 0) {
            return Err(error::invalid("Log event timestamps must not be negative.").into());
        }
        let now = self.now();
        let events: Vec<(i64, &str)> = events.iter().map(|(t, m)| (*t, m.as_str())).collect();
        self.state.write(|c| {
            if state::group(c, group)?.is_none() {
                state::insert_group(c, group, now, &BTreeMap::new())?;
            }
            if !state::stream_exists(c, group, stream)? {
                state::insert_stream(c, group, stream, now)?;
            }
            state::insert_events(c, group, stream, &events, now)
        })?;
        Ok(())
    }

    /// Every unexpired event of a stream, in stream order (timestamp, then ingestion).
    /// `ResourceNotFoundException` if the group or the stream does not exist.
    pub fn events(&self, group: &str, stream: &str) -> Result<Vec<LogEvent>, LogsError> {
        let now = self.now();
        let rows = self.state.write(|c| {
            state::expire(c, now)?;
            state::existing_group(c, group)?;
            if !state::stream_exists(c, group, stream)? {
                return Err(error::no_stream());
            }
            let all = state::Range {
                start: None,
                end: None,
                after: None,
                before: None,
            };
            state::stream_events(c, group, stream, all, true, usize::MAX >> 1)
        })?;
        Ok(rows
            .into_iter()
            .map(|e| LogEvent {
                timestamp: e.ts,
                message: e.message,
                ingestion_time: e.ingestion_ms,
            })
            .collect())
    }

    /// Names of every log group, sorted.
    pub fn group_names(&self) -> Result<Vec<String>, LogsError> {
        let groups = self.state.read(|c| state::groups(c, "", None))?;
        Ok(groups.into_iter().map(|g| g.name).collect())
    }

    /// Deletes every group, stream and event, as if the state folder were new.
    pub fn reset(&self) -> Result<(), LogsError> {
        self.state.write(state::reset)?;
        Ok(())
    }

    fn now(&self) -> i64 {
        self.clock.now_millis() as i64
    }

    /// `arn:aws:logs:<region>:<account>:log-group:<name>`.
    fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.stack.region, self.stack.account_id
        )
    }

    async fn answer(&self, req: Request, cx: RequestContext) -> Response {
        let (parts, body) = req.into_parts();
        let bytes = match slcl_core::body::collect(body, MAX_REQUEST_BYTES).await {
            Ok(b) => b,
            Err(e) => {
                let err = error::invalid(format!("Could not read the request: {e}"));
                return protocol::error_response(&err, &cx.request_id);
            }
        };
        let call = match protocol::decode(&parts.headers, &bytes) {
            Ok(call) => call,
            Err(e) => return protocol::error_response(&e, &cx.request_id),
        };
        let span = tracing::info_span!("logs.request", operation = %call.operation);
        let result = async { self.run(&call.operation, operations::Input(&call.input)) }
            .instrument(span)
            .await;
        match result {
            Ok(out) => protocol::respond(out, &cx.request_id),
            Err(e) => {
                if e.status.is_server_error() && e.code != "NotImplemented" {
                    tracing::error!(code = %e.code, message = %e.message, "CloudWatch Logs request failed");
                } else {
                    tracing::debug!(code = %e.code, message = %e.message, "CloudWatch Logs error response");
                }
                protocol::error_response(&e, &cx.request_id)
            }
        }
    }
}

impl slcl_core::LogDestination for LogsService {
    fn write(&self, group: &str, stream: &str, events: &[(i64, String)]) {
        if let Err(e) = self.append(group, stream, events) {
            tracing::warn!(group, stream, error = %e, "could not store function output in CloudWatch Logs");
        }
    }
}

impl Service for LogsService {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn call(&self, req: Request, cx: RequestContext) -> BoxFuture<'_, Response> {
        Box::pin(self.answer(req, cx))
    }
}
