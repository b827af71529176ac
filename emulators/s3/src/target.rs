//! What S3 takes from the bus: deliveries to object ARNs.
//!
//! [`S3Service`] is the bus [`Target`] for the `s3` namespace. A delivery to
//! `arn:aws:s3:::<bucket>/<key>` puts the payload as object `<key>` of `<bucket>`
//! (content type `application/json`), as a PutObject would: the object is committed
//! before `deliver` returns, and the bucket's notifications fire (`ObjectCreated:Put`).
//! This is how Lambda's on-failure destinations write their invocation records to a
//! bucket (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html>):
//! the sender picks the key, S3 only stores it.
//!
//! [`Target::exists`] is true for the ARN of a bucket that exists, with or without an
//! object key. A delivery to a bare bucket ARN fails: there is no key to write.

use bytes::Bytes;
use slcl_core::{Arn, BoxFuture, Delivery, DeliveryError, Target};

use crate::blobs::{BlobWriter, Content};
use crate::events::EventName;
use crate::operations::Cx;
use crate::state::ObjectRow;
use crate::S3Service;

/// Splits an S3 ARN's resource into bucket and (possibly empty) key.
fn bucket_and_key(arn: &Arn) -> (&str, &str) {
    arn.resource
        .split_once('/')
        .unwrap_or((arn.resource.as_str(), ""))
}

impl Target for S3Service {
    fn exists(&self, arn: &Arn) -> bool {
        let (bucket, _) = bucket_and_key(arn);
        arn.service == "s3" && matches!(self.state.bucket(bucket), Ok(Some(_)))
    }

    fn deliver(&self, delivery: Delivery) -> BoxFuture<'_, Result<Bytes, DeliveryError>> {
        Box::pin(async move {
            let arn = delivery.target.to_string();
            let (bucket, key) = bucket_and_key(&delivery.target);
            if !self.exists(&delivery.target) {
                return Err(DeliveryError::NotFound(arn));
            }
            let failed = |message: String| DeliveryError::Failed {
                arn: arn.clone(),
                message,
            };
            if key.is_empty() {
                return Err(failed(
                    "a delivery to S3 needs an object ARN (arn:aws:s3:::bucket/key)".into(),
                ));
            }
            let mut writer = BlobWriter::new(self.store.tmp_dir(), None);
            writer
                .write(&delivery.payload)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let written = writer.finish().await.map_err(|e| failed(e.to_string()))?;
            let etag = hex::encode(written.md5);
            let row = ObjectRow {
                key: key.to_string(),
                size: written.size,
                etag: etag.clone(),
                last_modified_ms: self.clock.now_millis() as i64,
                headers: vec![("content-type".into(), "application/json".into())],
                checksum: None,
                parts: None,
                content: Content::Inline(Default::default()),
            };
            let size = row.size;
            self.commit_object(bucket, row, written.blob, None)
                .map_err(|e| failed(format!("{}: {}", e.code, e.message)))?;
            // The write is S3's own, so it notifies like any PutObject; the request
            // id is the delivery's.
            let request_id = slcl_core::ids::uuid();
            let cx = Cx {
                host_id: request_id.clone(),
                request_id,
                region: self.stack.region.clone(),
                account_id: self.stack.account_id.clone(),
                source_ip: "127.0.0.1".into(),
                trace: delivery.trace.clone(),
            };
            self.notify(&cx, EventName::Put, bucket, key, Some((size, &etag)))
                .await;
            Ok(Bytes::from(etag))
        })
    }
}
