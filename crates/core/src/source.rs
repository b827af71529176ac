//! Pollable event sources: what a Lambda event source mapping reads from.
//!
//! AWS Lambda's event source mappings *pull*: a poller inside Lambda receives records
//! from a queue or stream, invokes the function with a batch, and then tells the
//! source what became of each record. [`EventSource`] is that conversation, so the
//! poller (in the Lambda emulator) never imports the emulator that owns the records
//! (SQS today). The composition root hands each source to Lambda by its ARN's service
//! namespace (`sqs`).
//!
//! # What a source decides and what the poller decides
//!
//! The source owns everything about its records: their shape in the Lambda event
//! (SQS's `{messageId, receiptHandle, body, attributes, messageAttributes, …}` record
//! is built by the SQS crate, which knows it), what "in flight" means, redelivery and
//! dead-letter queues. The poller owns batching, filtering, concurrency and deciding,
//! after the invocation, which records are done.
//!
//! # How streams will fit
//!
//! The trait is shaped after what SQS needs: receive makes records invisible to other
//! receivers, [`EventSource::delete`] acknowledges them, and records that are neither
//! deleted nor [released](EventSource::release) come back by themselves. Kinesis and
//! DynamoDB Streams have no per-record acknowledgement: a shard is read in order from
//! a checkpoint. A stream source fits by keeping the checkpoint itself: `receive`
//! hands out the next records of a shard whose previous batch is settled (the
//! [`SourceRecord::group`] is the shard id, so ordering works as for FIFO groups),
//! `delete` advances the checkpoint past the record, and `release` rewinds to it so
//! the batch is read again. Stream-only knobs (starting position, bisecting, maximum
//! record age) will extend [`SourceInfo`] when they arrive.

use std::time::Duration;

use serde_json::Value;

use crate::{Arn, BoxFuture};

/// One record received from an event source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// The record's id as the function reports it back in `batchItemFailures`
    /// (`itemIdentifier`): SQS's `messageId`.
    pub id: String,
    /// What acknowledges or releases this receipt of the record: SQS's receipt handle.
    pub handle: String,
    /// Records with the same group are processed in order, one batch at a time (FIFO
    /// message groups; a stream's shard). `None` for unordered sources.
    pub group: Option<String>,
    /// The record exactly as it goes into the Lambda event's `Records` array, as JSON
    /// text, so its keys keep the order AWS sends them in.
    pub record: String,
    /// The record as event filtering sees it: [`SourceRecord::record`] parsed, with the
    /// payload field decoded where the source's filtering rules say so (SQS: `body` is
    /// parsed when it is a JSON object, otherwise kept as a string).
    pub filter_view: Value,
    /// The trace the record was sent in, if it carried one (SQS's `AWSTraceHeader`
    /// `Root=`), so its invocation can join that trace.
    pub trace_id: Option<String>,
    /// The step of that trace the record came from (the request that sent it), so
    /// its invocation is listed under it.
    pub parent_id: Option<String>,
}

/// Facts about an event source that decide which mapping settings are valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// Records of one [`SourceRecord::group`] must be processed in order (FIFO queues).
    pub ordered: bool,
    /// Largest `BatchSize` a mapping may ask for (SQS: 10 000, FIFO: 10).
    pub max_batch_size: u32,
    /// Whether a batching window may be set (SQS FIFO queues: no).
    pub batching_window: bool,
    /// How long a received record stays invisible before it is delivered again
    /// (the queue's visibility timeout).
    pub visibility_timeout: Duration,
}

/// Why an event source refused a call.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source (queue, stream) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Anything else (the source's store failed, a handle was refused).
    #[error("{0}")]
    Failed(String),
}

/// A queue or stream that a Lambda event source mapping polls. Implemented by the
/// emulator that owns the records (SQS), registered with Lambda by the composition
/// root under its ARN service namespace.
///
/// Contract: every method names the source by its ARN. Records returned by
/// [`EventSource::receive`] are withheld from other receivers until they are deleted,
/// released, or their invisibility ends (at which point the source may hand them out
/// again, possibly moving them to a dead-letter queue first: that is the source's
/// business). Nothing here blocks on real time except `receive`'s `wait`, and every
/// time the source reads is the stack's clock.
pub trait EventSource: Send + Sync + 'static {
    /// The source's facts, or `None` if no source with this ARN exists.
    fn info(&self, arn: &Arn) -> Option<SourceInfo>;

    /// Up to `max` records, waiting up to `wait` for the first one (zero: look once).
    /// Fewer than `max` may come back even when more are available (SQS returns at most
    /// ten per receive); an empty list means none was available.
    fn receive(
        &self,
        arn: &Arn,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'_, Result<Vec<SourceRecord>, SourceError>>;

    /// Acknowledges records: they are done and never delivered again. Handles that are
    /// already gone are not an error.
    fn delete(&self, arn: &Arn, handles: &[String]) -> Result<(), SourceError>;

    /// Gives records back without processing them: they may be received again at
    /// once (SQS: visibility timeout 0). Used when a mapping stops holding a batch.
    fn release(&self, arn: &Arn, handles: &[String]) -> Result<(), SourceError>;

    /// Completes when the source may have records to receive: one arrived, or a
    /// record's invisibility ends (on the stack's clock). Spurious completions are
    /// allowed; callers receive and wait again. The returned future is armed when this
    /// is called, so a record arriving between the call and the first poll is not
    /// missed. Completes at once if the source does not exist.
    fn notified(&self, arn: &Arn) -> BoxFuture<'static, ()>;
}
