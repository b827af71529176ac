//! The poller of one event source mapping, as AWS's SQS poller behaves
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>):
//!
//! - It waits on the source's notification, never in a busy loop, then receives.
//! - A batch closes when it holds `BatchSize` records, when the batching window
//!   (`MaximumBatchingWindowInSeconds`, timed on the stack's clock from the first
//!   record) ends, or when it nears the 6 MB synchronous payload limit. With no window,
//!   one receive makes the batch.
//! - Up to `ScalingConfig.MaximumConcurrency` batches are in flight at once (without
//!   it, [`super::DEFAULT_CONCURRENT_BATCHES`]).
//! - Records that match no filter are deleted without invoking the function.
//! - The function is invoked synchronously through the ordinary path, so the
//!   invocation is recorded, traced, and seen by the harness. Its trace is the one the
//!   first record was sent in (SQS's `AWSTraceHeader`), or a new one.
//! - Success deletes the batch. A function error (or a failure to run it) deletes
//!   nothing: the records come back when their visibility timeout ends, and the queue's
//!   redrive policy moves them to the dead-letter queue after `maxReceiveCount`.
//! - With `ReportBatchItemFailures`, a success deletes every record except those in
//!   `batchItemFailures`; a malformed response, or an `itemIdentifier` that is empty,
//!   missing or not in the batch, fails the whole batch
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>).
//!   In an ordered (FIFO) source, a failed record also keeps every later record of its
//!   message group, so the group is redelivered in order.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use slcl_core::{Arn, Clock, EventSource, SourceRecord, TraceContext};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::{EventSourceMapping, DEFAULT_CONCURRENT_BATCHES};
use crate::filter::FilterSet;
use crate::operations::MAX_SYNC_PAYLOAD;
use crate::LambdaService;

/// Real-time pause after the source fails (a queue deleted and not yet recreated),
/// doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Most records one receive call asks for (SQS's limit).
const RECEIVE_MAX: usize = 10;

/// Starts the poller; it ends when `stopped`'s sender is dropped (the mapping is
/// disabled, updated or deleted, or the service is dropped).
pub(super) fn spawn(
    service: &Arc<LambdaService>,
    mapping: EventSourceMapping,
    source: Arc<dyn EventSource>,
    stopped: watch::Receiver<()>,
) {
    let Some(arn) = Arn::parse(&mapping.event_source_arn) else {
        return;
    };
    let span = tracing::info_span!(
        "lambda.esm",
        uuid = %mapping.uuid,
        function = %mapping.function,
        source = %mapping.event_source_arn,
    );
    let poller = Poller {
        service: Arc::downgrade(service),
        clock: Arc::clone(&service.clock),
        filters: FilterSet::parse(&mapping.filters).unwrap_or_default(),
        mapping,
        source,
        arn,
    };
    tokio::spawn(poller.run(stopped).instrument(span));
}

struct Poller {
    service: Weak<LambdaService>,
    clock: Arc<dyn Clock>,
    mapping: EventSourceMapping,
    filters: FilterSet,
    source: Arc<dyn EventSource>,
    arn: Arn,
}

/// Completes when the poller is told to stop.
async fn stop_signal(stopped: &mut watch::Receiver<()>) {
    // Only the sender being dropped stops a poller; nothing is ever sent.
    while stopped.changed().await.is_ok() {}
}

impl Poller {
    async fn run(self, mut stopped: watch::Receiver<()>) {
        let this = Arc::new(self);
        let concurrency = this
            .mapping
            .maximum_concurrency
            .unwrap_or(DEFAULT_CONCURRENT_BATCHES) as usize;
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut backoff = FIRST_BACKOFF;
        tracing::debug!("poller started");
        loop {
            let permit = tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = stop_signal(&mut stopped) => return,
            };
            let batch = match this.gather(&mut stopped).await {
                Gathered::Stop => return,
                Gathered::Failed(e) => {
                    tracing::debug!(error = %e, "receive failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop_signal(&mut stopped) => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Gathered::Batch(batch) => batch,
            };
            backoff = FIRST_BACKOFF;
            if this.service.strong_count() == 0 {
                return;
            }
            let this = Arc::clone(&this);
            tokio::spawn(
                async move { this.process(batch, permit).await }
                    .instrument(tracing::Span::current()),
            );
        }
    }

    /// Waits for records and gathers one batch.
    async fn gather(&self, stopped: &mut watch::Receiver<()>) -> Gathered {
        let batch_size = self.mapping.batch_size as usize;
        // Wait for the first records.
        let mut batch: Vec<SourceRecord> = loop {
            let notified = self.source.notified(&self.arn);
            match self
                .source
                .receive(&self.arn, batch_size.min(RECEIVE_MAX), Duration::ZERO)
                .await
            {
                Ok(records) if !records.is_empty() => break records,
                Ok(_) => {}
                Err(e) => return Gathered::Failed(e.to_string()),
            }
            if self.service.strong_count() == 0 {
                return Gathered::Stop;
            }
            tokio::select! {
                _ = notified => {}
                _ = stop_signal(stopped) => return Gathered::Stop,
                // Notice a dropped service even when nothing arrives.
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        };
        let window = Duration::from_secs(self.mapping.maximum_batching_window_s.into());
        if window.is_zero() {
            return Gathered::Batch(batch);
        }
        let deadline: SystemTime = self.clock.now() + window;
        let mut size: usize = batch.iter().map(|r| r.record.len() + 1).sum();
        while batch.len() < batch_size && size < MAX_SYNC_PAYLOAD - 1024 * 1024 {
            let notified = self.source.notified(&self.arn);
            let want = (batch_size - batch.len()).min(RECEIVE_MAX);
            match self.source.receive(&self.arn, want, Duration::ZERO).await {
                Ok(more) if !more.is_empty() => {
                    size += more.iter().map(|r| r.record.len() + 1).sum::<usize>();
                    batch.extend(more);
                    continue;
                }
                Ok(_) => {}
                // Invoke with what we have; the next gather meets the error again.
                Err(_) => break,
            }
            if self.clock.now() >= deadline {
                break;
            }
            // Biased: records that arrived before the deadline join the batch even
            // when the deadline has also passed by the time this task runs.
            tokio::select! {
                biased;
                _ = notified => {}
                _ = self.clock.sleep_until(deadline) => break,
                _ = stop_signal(stopped) => {
                    let handles: Vec<String> = batch.iter().map(|r| r.handle.clone()).collect();
                    let _ = self.source.release(&self.arn, &handles);
                    return Gathered::Stop;
                }
            }
        }
        Gathered::Batch(batch)
    }

    /// Filters, invokes and settles one batch.
    async fn process(&self, batch: Vec<SourceRecord>, _permit: OwnedSemaphorePermit) {
        let Some(service) = self.service.upgrade() else {
            return;
        };
        let (records, dropped): (Vec<SourceRecord>, Vec<SourceRecord>) = batch
            .into_iter()
            .partition(|r| self.filters.matches(&r.filter_view));
        if !dropped.is_empty() {
            tracing::debug!(count = dropped.len(), "records matched no filter; deleted");
            self.delete(&dropped.iter().collect::<Vec<_>>());
        }
        if records.is_empty() {
            return;
        }
        let mut payload =
            String::with_capacity(16 + records.iter().map(|r| r.record.len() + 1).sum::<usize>());
        payload.push_str("{\"Records\":[");
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                payload.push(',');
            }
            payload.push_str(&r.record);
        }
        payload.push_str("]}");
        // The batch joins the trace of its first record that has one, under the
        // request that sent that record.
        let traced = records.iter().find(|r| r.trace_id.is_some());
        let trace = TraceContext {
            trace_id: traced
                .and_then(|r| r.trace_id.clone())
                .unwrap_or_else(|| slcl_core::ids::trace_id(self.clock.now_millis() / 1000)),
            parent_id: traced.and_then(|r| r.parent_id.clone()),
        };
        let out = service
            .invoke(&self.mapping.function, Bytes::from(payload), trace)
            .await;
        let keep: HashSet<String> = match out {
            Err(e) => {
                tracing::warn!(error = %e, records = records.len(), "could not invoke the function; records return after their visibility timeout");
                return;
            }
            Ok(out) if out.is_error() => {
                tracing::debug!(
                    records = records.len(),
                    "function error; records return after their visibility timeout"
                );
                return;
            }
            Ok(out) if self.mapping.reports_batch_item_failures() => {
                match batch_item_failures(out.payload(), &records) {
                    Some(failed) => failed,
                    None => {
                        tracing::warn!(payload = %String::from_utf8_lossy(out.payload()), "invalid batchItemFailures response; the whole batch failed");
                        return;
                    }
                }
            }
            Ok(_) => HashSet::new(),
        };
        // In an ordered source, a failed record holds back the rest of its group.
        let mut blocked: HashSet<&str> = HashSet::new();
        let mut done = Vec::new();
        for r in &records {
            let failed = keep.contains(&r.id);
            match &r.group {
                Some(g) if blocked.contains(g.as_str()) => continue,
                Some(g) if failed => {
                    blocked.insert(g);
                }
                _ if failed => {}
                _ => done.push(r),
            }
        }
        self.delete(&done);
    }

    fn delete(&self, records: &[&SourceRecord]) {
        if records.is_empty() {
            return;
        }
        let handles: Vec<String> = records.iter().map(|r| r.handle.clone()).collect();
        if let Err(e) = self.source.delete(&self.arn, &handles) {
            tracing::warn!(error = %e, "failed to delete processed records");
        }
    }
}

enum Gathered {
    Batch(Vec<SourceRecord>),
    Failed(String),
    Stop,
}

/// The ids a `ReportBatchItemFailures` response lists, or `None` when the response
/// makes the whole batch a failure. Success with nothing to retry: `null`, `{}`, a
/// document without `batchItemFailures`, or with it `null` or `[]`.
fn batch_item_failures(payload: &[u8], records: &[SourceRecord]) -> Option<HashSet<String>> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Some(HashSet::new());
    }
    let doc: Value = serde_json::from_slice(payload).ok()?;
    let list = match &doc {
        Value::Null => return Some(HashSet::new()),
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Some(HashSet::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return None,
        },
        // Anything but an object is not an event response.
        _ => return Some(HashSet::new()),
    };
    let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    list.iter()
        .map(|item| {
            let id = item.get("itemIdentifier")?.as_str()?;
            (!id.is_empty() && ids.contains(id)).then(|| id.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> SourceRecord {
        SourceRecord {
            id: id.into(),
            handle: format!("h-{id}"),
            group: None,
            record: "{}".into(),
            filter_view: Value::Null,
            trace_id: None,
            parent_id: None,
        }
    }

    #[test]
    fn batch_item_failure_responses() {
        let records = [rec("a"), rec("b")];
        let f = |s: &str| batch_item_failures(s.as_bytes(), &records);
        assert_eq!(f(""), Some(HashSet::new()));
        assert_eq!(f("null"), Some(HashSet::new()));
        assert_eq!(f("{}"), Some(HashSet::new()));
        assert_eq!(f(r#"{"batchItemFailures":[]}"#), Some(HashSet::new()));
        assert_eq!(f(r#"{"batchItemFailures":null}"#), Some(HashSet::new()));
        assert_eq!(
            f(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#),
            Some(HashSet::from(["b".to_string()]))
        );
        // Whole-batch failures.
        assert_eq!(f("{not json"), None);
        assert_eq!(f(r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#), None);
        assert_eq!(
            f(r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#),
            None
        );
        assert_eq!(f(r#"{"batchItemFailures":[{"itemId":"a"}]}"#), None);
        assert_eq!(
            f(r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#),
            None
        );
        assert_eq!(f(r#"{"batchItemFailures":"a"}"#), None);
    }
}
