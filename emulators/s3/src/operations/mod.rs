//! S3's behaviour: one function per operation, grouped by what they act on.
//!
//! - [`buckets`]: CreateBucket, HeadBucket, DeleteBucket, ListBuckets,
//!   GetBucketLocation, Get/PutBucketNotificationConfiguration.
//! - [`objects`]: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects,
//!   CopyObject, and the upload path shared with UploadPart ([`S3Service::ingest`]).
//! - [`listing`]: ListObjects and ListObjectsV2.
//! - [`multipart`]: Create/UploadPart/Complete/Abort, ListParts, ListMultipartUploads.
//!
//! Every operation returns `Result<Response, ApiError>`; [`crate::S3Service`]'s
//! `call` renders errors and adds the request-id headers.

mod buckets;
pub(crate) use buckets::valid_bucket_name;
mod listing;
mod multipart;
mod objects;

use http::HeaderMap;
use slcl_core::{Arn, Body, Delivery, InvocationType, Response, TraceContext};

use crate::error::ApiResult;
use crate::events::{self, EventFacts, EventName};
use crate::protocol::Operation;
use crate::S3Service;

/// Per-request facts the operations need.
pub(crate) struct Cx {
    /// `x-amz-request-id`.
    pub request_id: String,
    /// `x-amz-id-2`.
    pub host_id: String,
    /// Region the request was sent to.
    pub region: String,
    /// Caller's account.
    pub account_id: String,
    /// Caller's IP address.
    pub source_ip: String,
    /// Trace of the request.
    pub trace: TraceContext,
}

impl S3Service {
    /// Performs one decoded operation.
    pub(crate) async fn handle(
        &self,
        op: Operation,
        headers: HeaderMap,
        body: Body,
        cx: &Cx,
    ) -> ApiResult<Response> {
        match op {
            Operation::ListBuckets { prefix } => self.list_buckets(prefix),
            Operation::CreateBucket { bucket } => self.create_bucket(&bucket, body, cx).await,
            Operation::HeadBucket { bucket } => self.head_bucket(&bucket),
            Operation::DeleteBucket { bucket } => self.delete_bucket(&bucket),
            Operation::GetBucketLocation { bucket } => self.get_bucket_location(&bucket),
            Operation::GetBucketNotificationConfiguration { bucket } => {
                self.get_bucket_notification(&bucket)
            }
            Operation::PutBucketNotificationConfiguration { bucket } => {
                self.put_bucket_notification(&bucket, body).await
            }
            Operation::ListObjects { bucket, input } => self.list_objects(&bucket, input, false),
            Operation::ListObjectsV2 { bucket, input } => self.list_objects(&bucket, input, true),
            Operation::ListMultipartUploads { bucket, input } => {
                self.list_multipart_uploads(&bucket, input)
            }
            Operation::DeleteObjects { bucket } => self.delete_objects(&bucket, body, cx).await,
            Operation::PutObject(o) => self.put_object(&o, &headers, body, cx).await,
            Operation::GetObject(o, overrides) => self.get_object(&o, &headers, overrides, false),
            Operation::HeadObject(o) => self.get_object(&o, &headers, Vec::new(), true),
            Operation::DeleteObject(o) => self.delete_object(&o, cx).await,
            Operation::CopyObject(o) => self.copy_object(&o, &headers, cx).await,
            Operation::CreateMultipartUpload(o) => self.create_multipart_upload(&o, &headers),
            Operation::UploadPart {
                object,
                upload_id,
                part_number,
            } => {
                self.upload_part(&object, &upload_id, &part_number, &headers, body)
                    .await
            }
            Operation::CompleteMultipartUpload { object, upload_id } => {
                self.complete_multipart_upload(&object, &upload_id, body, cx)
                    .await
            }
            Operation::AbortMultipartUpload { object, upload_id } => {
                self.abort_multipart_upload(&object, &upload_id)
            }
            Operation::ListParts {
                object,
                upload_id,
                input,
            } => self.list_parts(&object, &upload_id, input),
            Operation::NotImplemented(name) => Err(crate::error::ApiError::not_implemented(name)),
        }
    }

    /// Sends the event to every Lambda configuration of `bucket` it matches. Called
    /// after the change is committed and before the request is answered: the
    /// deliveries are asynchronous invocations, which the bus hands back once they are
    /// durably queued, so an acknowledged write never loses its notification to a
    /// crash (S3 delivers notifications at least once).
    pub(crate) async fn notify(
        &self,
        cx: &Cx,
        event: EventName,
        bucket: &str,
        key: &str,
        size_etag: Option<(u64, &str)>,
    ) {
        let Some(entry) = self.notification_entry(bucket) else {
            return;
        };
        let targets: Vec<_> = events::matching(&entry.config, event, key).collect();
        if targets.is_empty() {
            return;
        }
        let sequencer = match self.state.next_sequencer() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not reserve an S3 event sequencer");
                return;
            }
        };
        let principal = format!("AWS:{}", cx.account_id);
        let facts = EventFacts {
            region: &entry.region,
            time_ms: self.clock.now_millis() as i64,
            event,
            principal_id: &principal,
            source_ip: &cx.source_ip,
            request_id: &cx.request_id,
            host_id: &cx.host_id,
            bucket,
            key,
            size_etag,
            sequencer,
        };
        for target in targets {
            let Some(arn) = Arn::parse(&target.function_arn) else {
                tracing::warn!(arn = %target.function_arn, "S3 notification target is not an ARN");
                continue;
            };
            let payload = events::record(&facts, target.id.as_deref().unwrap_or_default());
            tracing::debug!(%arn, event = event.as_str(), bucket, key, "S3 notification");
            let delivery = Delivery {
                target: arn,
                source: Arn::parse(&format!("arn:aws:s3:::{bucket}")),
                payload: payload.to_string().into(),
                invocation_type: InvocationType::Event,
                // The notification hangs under the request that caused it.
                trace: TraceContext {
                    trace_id: cx.trace.trace_id.clone(),
                    parent_id: Some(cx.request_id.clone()),
                },
            };
            let target = delivery.target.to_string();
            if let Err(e) = self.bus.deliver(delivery).await {
                tracing::warn!(%target, error = %e, "S3 event notification not delivered");
            }
        }
    }
}
