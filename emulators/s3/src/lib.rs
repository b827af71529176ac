//! slcl's Amazon S3: buckets, objects, multipart uploads and Lambda notifications,
//! in-process, spoken to by unmodified AWS clients over S3's REST/XML protocol.
//!
//! # What is supported
//!
//! CreateBucket, HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation,
//! Get/PutBucketNotificationConfiguration, PutObject, GetObject (ranges, conditional
//! headers, response-header overrides), HeadObject, DeleteObject, DeleteObjects,
//! CopyObject, ListObjects, ListObjectsV2, CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//! Request bodies may be `aws-chunked` (SigV4 streaming, with or without trailing
//! checksums); CRC32, CRC32C, SHA1 and SHA256 checksums are verified, stored and
//! returned. Every other S3 operation answers `NotImplemented` (501) naming it; see
//! `docs/services/s3.md` for the coverage table.
//!
//! Both addressing styles work: virtual-hosted (`<bucket>.s3.localhost.localstack.cloud`,
//! `<bucket>.s3.amazonaws.com`, `<bucket>.localhost`, ...) and path style
//! (`localhost:4566/<bucket>/<key>`).
//!
//! # How it is built
//!
//! The crate has the shape of every slcl emulator:
//!
//! - [`protocol`]: request → typed [`protocol::Operation`]; XML results and errors.
//! - `operations`: the behaviour of each operation.
//! - `state`: the `s3_*` tables in the stack's SQLite database. Bodies up to 64 KiB
//!   are stored inline; larger ones stream to a file in the store's `tmp/` folder
//!   while being hashed and are renamed into `blobs/` (under a generated id, never a
//!   name derived from the key) just before the row is committed. A request is
//!   acknowledged only after the commit, so acknowledged writes survive a restart.
//! - [`events`]: S3 event notifications, published on the [`slcl_bus::Bus`] to the
//!   Lambda functions a bucket's notification configuration names.
//!
//! Timestamps (Last-Modified, event times, upload initiation) come from the stack's
//! [`slcl_core::Clock`].
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use slcl_core::{Service, StackContext, SystemClock};
//! use slcl_s3::{LambdaNotification, S3Service};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = slcl_store::Store::temporary()?;
//! let s3 = S3Service::new(store, slcl_bus::Bus::new(), SystemClock::shared(), StackContext::default())?;
//! s3.ensure_bucket("photos")?;
//! s3.set_lambda_notifications("photos", vec![LambdaNotification {
//!     id: Some("thumbnails".into()),
//!     function_arn: "arn:aws:lambda:us-east-1:000000000000:function:thumbnail".into(),
//!     events: vec!["s3:ObjectCreated:*".into()],
//!     prefix: Some("uploads/".into()),
//!     suffix: Some(".jpg".into()),
//! }])?;
//! assert_eq!(s3.name(), "s3");
//! // The edge now routes requests to `s3.call(request, request_context)`.
//! # Ok(()) }
//! ```
//!
//! # What the edge provides
//!
//! `call` takes the request exactly as received (original URI, `Host` header,
//! streaming body). The peer address the edge puts in the request extensions as
//! [`slcl_core::RemoteAddr`] (or a bare [`std::net::SocketAddr`]) becomes the events'
//! `sourceIPAddress`; without one, `127.0.0.1` is used.
#![deny(missing_docs)]

mod blobs;
mod error;
pub mod events;
mod operations;
pub mod protocol;
mod state;
mod target;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use sha2::Digest as _;
use slcl_bus::Bus;
use slcl_core::{BoxFuture, Request, RequestContext, Response, Service, SharedClock, StackContext};
use slcl_store::Store;
use tracing::Instrument;

pub use error::S3Error;
pub use events::LambdaNotification;

use events::NotificationConfiguration;
use operations::Cx;
use state::State;

/// One bucket in [`S3Service::summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSummary {
    /// Bucket name.
    pub name: String,
    /// Number of objects.
    pub objects: u64,
    /// Total size of the objects in bytes.
    pub bytes: u64,
}

/// A bucket's notification configuration and region, cached for the write path.
struct NotificationEntry {
    region: String,
    config: NotificationConfiguration,
}

/// The S3 emulator. Build it with [`S3Service::new`] and hand it to the edge as a
/// [`Service`].
pub struct S3Service {
    state: State,
    store: Store,
    bus: Arc<Bus>,
    clock: SharedClock,
    stack: StackContext,
    /// Bucket name → notification configuration; mirrors `s3_buckets.notification`
    /// so object writes need no extra query to find out there is nothing to send.
    notifications: RwLock<HashMap<String, Arc<NotificationEntry>>>,
}

impl S3Service {
    /// Opens S3's tables in `store` (creating them) and returns the service.
    pub fn new(
        store: Store,
        bus: Arc<Bus>,
        clock: SharedClock,
        stack: StackContext,
    ) -> Result<Arc<S3Service>, S3Error> {
        let state = State::open(&store)?;
        let mut notifications = HashMap::new();
        let regions: HashMap<String, String> = state
            .list_buckets()?
            .into_iter()
            .map(|b| (b.name, b.region))
            .collect();
        for (bucket, json) in state.all_notifications()? {
            match serde_json::from_str::<NotificationConfiguration>(&json) {
                Ok(config) => {
                    let region = regions
                        .get(&bucket)
                        .cloned()
                        .unwrap_or_else(|| stack.region.clone());
                    notifications.insert(bucket, Arc::new(NotificationEntry { region, config }));
                }
                Err(e) => {
                    tracing::warn!(%bucket, error = %e, "ignoring unreadable S3 notification configuration")
                }
            }
        }
        Ok(Arc::new(S3Service {
            state,
            store,
            bus,
            clock,
            stack,
            notifications: RwLock::new(notifications),
        }))
    }

    /// For slcl.toml-declared buckets: creates the bucket (in the stack's region) if
    /// missing; no error if it exists.
    pub fn ensure_bucket(&self, name: &str) -> Result<(), S3Error> {
        if !operations::valid_bucket_name(name) {
            return Err(S3Error::InvalidBucketName(name.to_string()));
        }
        self.state
            .create_bucket(name, &self.stack.region, self.clock.now_millis() as i64)?;
        Ok(())
    }

    /// Replaces the bucket's notification configuration with these Lambda
    /// configurations (as PutBucketNotificationConfiguration would, without
    /// validating destinations). Configurations without an id get a generated one.
    pub fn set_lambda_notifications(
        &self,
        bucket: &str,
        configs: Vec<LambdaNotification>,
    ) -> Result<(), S3Error> {
        if self.state.bucket(bucket).ok().flatten().is_none() {
            return Err(S3Error::NoSuchBucket(bucket.to_string()));
        }
        let config = NotificationConfiguration {
            lambda: configs,
            other_xml: String::new(),
        }
        .with_ids();
        self.store_notifications(bucket, config)
    }

    /// Deletes every bucket and object (and their notification configurations), as
    /// if the state folder were new. For resetting a test stack between cases.
    pub fn reset(&self) -> Result<(), S3Error> {
        self.state.reset(&self.store)?;
        self.notifications
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// Bucket names with object counts and total bytes, for the startup table.
    pub fn summary(&self) -> Vec<BucketSummary> {
        match self.state.summary() {
            Ok(rows) => rows
                .into_iter()
                .map(|(name, objects, bytes)| BucketSummary {
                    name,
                    objects,
                    bytes,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not summarise S3 buckets");
                Vec::new()
            }
        }
    }

    /// Persists a bucket's notification configuration and updates the cache.
    fn store_notifications(
        &self,
        bucket: &str,
        config: NotificationConfiguration,
    ) -> Result<(), S3Error> {
        let empty = config == NotificationConfiguration::default();
        let json = (!empty).then(|| serde_json::to_string(&config).unwrap_or_default());
        if !self.state.set_notification(bucket, json.as_deref())? {
            return Err(S3Error::NoSuchBucket(bucket.to_string()));
        }
        let region = self
            .state
            .bucket(bucket)
            .ok()
            .flatten()
            .map(|b| b.region)
            .unwrap_or_else(|| self.stack.region.clone());
        let mut cache = self
            .notifications
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if empty {
            cache.remove(bucket);
        } else {
            cache.insert(
                bucket.to_string(),
                Arc::new(NotificationEntry { region, config }),
            );
        }
        Ok(())
    }

    fn notification_entry(&self, bucket: &str) -> Option<Arc<NotificationEntry>> {
        self.notifications
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(bucket)
            .cloned()
    }

    fn forget_notifications(&self, bucket: &str) {
        self.notifications
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(bucket);
    }

    async fn answer(&self, req: Request, cx: RequestContext) -> Response {
        let (parts, body) = req.into_parts();
        let head = parts.method == http::Method::HEAD;
        // x-amz-id-2 is an opaque host id; derive it from the request id so the
        // response and the event records agree.
        let host_id = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(cx.request_id.as_bytes()));
        let source_ip = parts
            .extensions
            .get::<slcl_core::RemoteAddr>()
            .map(|a| a.0)
            .or_else(|| parts.extensions.get::<SocketAddr>().copied())
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into());
        let ocx = Cx {
            request_id: cx.request_id.clone(),
            host_id: host_id.clone(),
            region: cx.region.clone(),
            account_id: cx.account_id.clone(),
            source_ip,
            trace: cx.trace.clone(),
        };
        let result = match protocol::decode(&parts.method, &parts.uri, &parts.headers) {
            Ok(op) => {
                let name = op.name();
                let span = tracing::debug_span!("s3.request", operation = name);
                self.handle(op, parts.headers, body, &ocx)
                    .instrument(span)
                    .await
            }
            Err(e) => Err(e),
        };
        let mut resp = match result {
            Ok(resp) => resp,
            Err(mut err) => {
                if err.resource.is_none() {
                    err.resource = Some(parts.uri.path().to_string());
                }
                if err.status.is_server_error() && err.code != "NotImplemented" {
                    tracing::error!(code = err.code, message = %err.message, "S3 request failed");
                } else {
                    tracing::debug!(code = err.code, message = %err.message, "S3 error response");
                }
                protocol::error_response(&err, &cx.request_id, &host_id, head)
            }
        };
        let h = resp.headers_mut();
        protocol::set_header(h, "x-amz-request-id", &cx.request_id);
        protocol::set_header(h, "x-amz-id-2", &host_id);
        protocol::set_header(h, "server", "AmazonS3");
        resp
    }
}

impl Service for S3Service {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn call(&self, req: Request, cx: RequestContext) -> BoxFuture<'_, Response> {
        Box::pin(self.answer(req, cx))
    }
}
