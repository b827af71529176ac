//! Multipart uploads
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html>).
//!
//! Parts are stored like objects (inline when small, else a blob file). Completing
//! an upload checks the part list (ascending numbers, matching ETags, every part but
//! the last at least 5 MiB), concatenates the parts into one new body and commits
//! the object and the removal of the upload in one transaction.

use std::collections::HashMap;

use http::{HeaderMap, StatusCode};
use slcl_core::{Body, Response};

use super::buckets::{read_xml, OWNER_ID, OWNER_NAME};
use super::objects::{headers_to_store, multipart_etag, quoted};
use super::Cx;
use crate::blobs::{self, BlobWriter, ChecksumAlgorithm, Content};
use crate::error::{ApiError, ApiResult};
use crate::events::EventName;
use crate::protocol::{self, xml, xml::XmlWriter, ListPartsInput, ListUploadsInput, ObjectRef};
use crate::state::{ObjectRow, PartRow, StoredChecksum, UploadRow};
use crate::S3Service;

/// Smallest size of every part but the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Most parts an upload can have.
const MAX_PARTS: i64 = 10_000;

impl S3Service {
    #[tracing::instrument(name = "s3.create_multipart_upload", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) fn create_multipart_upload(
        &self,
        o: &ObjectRef,
        headers: &HeaderMap,
    ) -> ApiResult<Response> {
        let algorithm = match headers
            .get("x-amz-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
        {
            None => None,
            Some(a) => Some(ChecksumAlgorithm::parse(a).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "Checksum algorithm provided is unsupported: {a}"
                ))
            })?),
        };
        let checksum_type = algorithm.map(|a| {
            headers
                .get("x-amz-checksum-type")
                .and_then(|v| v.to_str().ok())
                .map(|t| t.trim().to_ascii_uppercase())
                .unwrap_or_else(|| {
                    if a == ChecksumAlgorithm::Crc64nvme {
                        "FULL_OBJECT"
                    } else {
                        "COMPOSITE"
                    }
                    .into()
                })
        });
        let upload = UploadRow {
            upload_id: blobs::b64(uuid::Uuid::new_v4().as_bytes())
                .replace(['+', '/'], "-")
                .trim_end_matches('=')
                .to_string(),
            bucket: o.bucket.clone(),
            key: o.key.clone(),
            initiated_ms: self.clock.now_millis() as i64,
            headers: headers_to_store(headers),
            checksum_algorithm: algorithm,
            checksum_type,
        };
        self.state.create_upload(&upload)?;
        let mut w = XmlWriter::new("InitiateMultipartUploadResult");
        w.elem("Bucket", &o.bucket)
            .elem("Key", &o.key)
            .elem("UploadId", &upload.upload_id);
        let mut resp = protocol::xml(StatusCode::OK, w.finish("InitiateMultipartUploadResult"));
        if let (Some(a), Some(t)) = (upload.checksum_algorithm, &upload.checksum_type) {
            protocol::set_header(resp.headers_mut(), "x-amz-checksum-algorithm", a.as_str());
            protocol::set_header(resp.headers_mut(), "x-amz-checksum-type", t);
        }
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.upload_part", skip_all, fields(bucket = %o.bucket, key = %o.key, part = %part_number))]
    pub(crate) async fn upload_part(
        &self,
        o: &ObjectRef,
        upload_id: &str,
        part_number: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult<Response> {
        let number = match part_number.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_PARTS).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive",
                    "partNumber",
                    part_number,
                ))
            }
        };
        self.state.require_bucket(&o.bucket)?;
        let upload = self.state.upload(&o.bucket, &o.key, upload_id)?;
        let ingested = self
            .ingest(headers, body, upload.checksum_algorithm)
            .await?;
        let etag = ingested.etag();
        let content = ingested.written.blob.persist(self.state.blob_dir())?;
        let part = PartRow {
            part_number: number,
            size: ingested.written.size,
            etag: etag.clone(),
            last_modified_ms: self.clock.now_millis() as i64,
            checksum_value: ingested.checksum.as_ref().map(|(_, v)| v.clone()),
            content,
        };
        match self.state.put_part(upload_id, &part) {
            Ok(old) => {
                if let Some(old) = old {
                    blobs::remove(self.state.blob_dir(), &old);
                }
            }
            Err(e) => {
                blobs::remove(self.state.blob_dir(), &part.content);
                return Err(e);
            }
        }
        let mut resp = protocol::empty(StatusCode::OK);
        protocol::set_header(resp.headers_mut(), "etag", &quoted(&etag));
        if let Some((alg, value)) = &ingested.checksum {
            protocol::set_header(resp.headers_mut(), alg.header(), value);
        }
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.complete_multipart_upload", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) async fn complete_multipart_upload(
        &self,
        o: &ObjectRef,
        upload_id: &str,
        body: Body,
        cx: &Cx,
    ) -> ApiResult<Response> {
        self.state.require_bucket(&o.bucket)?;
        let upload = self.state.upload(&o.bucket, &o.key, upload_id)?;
        let data = read_xml(body).await?.ok_or_else(ApiError::malformed_xml)?;
        let root = xml::parse(&data).ok_or_else(ApiError::malformed_xml)?;
        if root.name != "CompleteMultipartUpload" {
            return Err(ApiError::malformed_xml());
        }
        let mut requested = Vec::new();
        for p in root.children_named("Part") {
            let number = p
                .child_text("PartNumber")
                .and_then(|n| n.trim().parse::<i64>().ok())
                .ok_or_else(ApiError::malformed_xml)?;
            let etag = p
                .child_text("ETag")
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string();
            requested.push((number, etag));
        }
        if requested.is_empty() {
            return Err(ApiError::malformed_xml());
        }
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ApiError::invalid_part_order(upload_id));
        }
        let mut stored: HashMap<i64, PartRow> = self
            .state
            .parts(upload_id, 0, MAX_PARTS as usize)?
            .into_iter()
            .map(|p| (p.part_number, p))
            .collect();
        let mut parts = Vec::with_capacity(requested.len());
        for (number, etag) in &requested {
            match stored.remove(number) {
                Some(p) if &p.etag == etag => parts.push(p),
                _ => return Err(ApiError::invalid_part(upload_id, *number, etag)),
            }
        }
        let last = parts.len() - 1;
        for (i, p) in parts.iter().enumerate() {
            if i != last && p.size < MIN_PART_SIZE {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                )
                .with("ProposedSize", p.size.to_string())
                .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
                .with("PartNumber", p.part_number.to_string())
                .with("ETag", quoted(&p.etag)));
            }
        }

        // A full-object checksum is computed over the assembled body; a composite
        // one is the checksum of the parts' checksums, suffixed `-N`.
        let full_object = upload.checksum_type.as_deref() == Some("FULL_OBJECT");
        let mut writer = BlobWriter::new(
            self.store.tmp_dir(),
            upload.checksum_algorithm.filter(|_| full_object),
        );
        for p in &parts {
            blobs::copy_into(self.state.blob_dir(), &p.content, &mut writer).await?;
        }
        let written = writer.finish().await?;
        let md5s: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
        let etag = multipart_etag(&md5s);
        let checksum = match upload.checksum_algorithm {
            Some(alg) if full_object => written.checksum.clone().map(|(_, value)| StoredChecksum {
                algorithm: alg,
                value,
                kind: "FULL_OBJECT".into(),
            }),
            Some(alg) => composite_checksum(alg, &parts).map(|value| StoredChecksum {
                algorithm: alg,
                value,
                kind: "COMPOSITE".into(),
            }),
            None => None,
        };
        let row = ObjectRow {
            key: o.key.clone(),
            size: written.size,
            etag: etag.clone(),
            last_modified_ms: self.clock.now_millis() as i64,
            headers: upload.headers.clone(),
            checksum: checksum.clone(),
            parts: Some(parts.len() as i64),
            content: Content::Inline(Default::default()),
        };
        let row = self.commit_object(&o.bucket, row, written.blob, Some(upload_id))?;
        self.notify(
            cx,
            EventName::CompleteMultipartUpload,
            &o.bucket,
            &o.key,
            Some((row.size, &etag)),
        )
        .await;

        let mut w = XmlWriter::new("CompleteMultipartUploadResult");
        w.elem(
            "Location",
            &format!(
                "{}/{}/{}",
                self.stack.endpoint_url.trim_end_matches('/'),
                o.bucket,
                protocol::form_encode(&o.key).replace('+', "%20")
            ),
        )
        .elem("Bucket", &o.bucket)
        .elem("Key", &o.key)
        .elem("ETag", &quoted(&etag));
        if let Some(c) = &checksum {
            w.elem(c.algorithm.xml_name(), &c.value)
                .elem("ChecksumType", &c.kind);
        }
        Ok(protocol::xml(
            StatusCode::OK,
            w.finish("CompleteMultipartUploadResult"),
        ))
    }

    #[tracing::instrument(name = "s3.abort_multipart_upload", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) fn abort_multipart_upload(
        &self,
        o: &ObjectRef,
        upload_id: &str,
    ) -> ApiResult<Response> {
        self.state.require_bucket(&o.bucket)?;
        self.state.upload(&o.bucket, &o.key, upload_id)?;
        for c in self.state.delete_upload(upload_id)? {
            blobs::remove(self.state.blob_dir(), &c);
        }
        Ok(protocol::empty(StatusCode::NO_CONTENT))
    }

    #[tracing::instrument(name = "s3.list_parts", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) fn list_parts(
        &self,
        o: &ObjectRef,
        upload_id: &str,
        input: ListPartsInput,
    ) -> ApiResult<Response> {
        self.state.require_bucket(&o.bucket)?;
        let upload = self.state.upload(&o.bucket, &o.key, upload_id)?;
        let mut parts =
            self.state
                .parts(upload_id, input.part_number_marker, input.max_parts + 1)?;
        let truncated = parts.len() > input.max_parts;
        parts.truncate(input.max_parts);
        let mut w = XmlWriter::new("ListPartsResult");
        w.elem("Bucket", &o.bucket)
            .elem("Key", &o.key)
            .elem("UploadId", upload_id)
            .elem("PartNumberMarker", &input.part_number_marker.to_string());
        if let Some(last) = parts.last() {
            w.elem("NextPartNumberMarker", &last.part_number.to_string());
        }
        w.elem("MaxParts", &input.max_parts.to_string())
            .elem("IsTruncated", if truncated { "true" } else { "false" });
        if let Some(a) = upload.checksum_algorithm {
            w.elem("ChecksumAlgorithm", a.as_str());
        }
        for p in &parts {
            w.open("Part")
                .elem("PartNumber", &p.part_number.to_string())
                .elem(
                    "LastModified",
                    &protocol::iso8601_millis(p.last_modified_ms),
                )
                .elem("ETag", &quoted(&p.etag))
                .elem("Size", &p.size.to_string());
            if let (Some(a), Some(v)) = (upload.checksum_algorithm, &p.checksum_value) {
                w.elem(a.xml_name(), v);
            }
            w.close("Part");
        }
        owner(&mut w, "Initiator");
        owner(&mut w, "Owner");
        w.elem("StorageClass", "STANDARD");
        Ok(protocol::xml(StatusCode::OK, w.finish("ListPartsResult")))
    }

    #[tracing::instrument(name = "s3.list_multipart_uploads", skip_all, fields(bucket = %bucket))]
    pub(crate) fn list_multipart_uploads(
        &self,
        bucket: &str,
        input: ListUploadsInput,
    ) -> ApiResult<Response> {
        self.state.require_bucket(bucket)?;
        let enc = |s: &str| {
            if input.url_encode {
                protocol::form_encode(s)
            } else {
                s.to_string()
            }
        };
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = if input.key_marker.is_some() {
            input.upload_id_marker.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let (mut k, mut u) = (key_marker.clone(), id_marker.clone());
        'outer: loop {
            let rows = self
                .state
                .list_uploads(bucket, &input.prefix, &k, &u, 1000)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                (k, u) = (row.key.clone(), row.upload_id.clone());
                if !row.key.starts_with(&input.prefix) {
                    break 'outer;
                }
                let rolled = input.delimiter.as_deref().and_then(|d| {
                    row.key[input.prefix.len()..]
                        .find(d)
                        .map(|i| row.key[..input.prefix.len() + i + d.len()].to_string())
                });
                if let Some(cp) = &rolled {
                    if prefixes.last() == Some(cp) {
                        continue;
                    }
                }
                if uploads.len() + prefixes.len() == input.max_uploads {
                    truncated = true;
                    break 'outer;
                }
                match rolled {
                    Some(cp) => prefixes.push(cp),
                    None => uploads.push(row),
                }
            }
        }
        let mut w = XmlWriter::new("ListMultipartUploadsResult");
        w.elem("Bucket", bucket)
            .elem("KeyMarker", &enc(&key_marker))
            .elem("UploadIdMarker", &id_marker);
        if truncated {
            if let Some(last) = uploads.last() {
                w.elem("NextKeyMarker", &enc(&last.key))
                    .elem("NextUploadIdMarker", &last.upload_id);
            }
        }
        w.elem("Prefix", &enc(&input.prefix));
        w.opt("Delimiter", input.delimiter.as_deref());
        w.elem("MaxUploads", &input.max_uploads.to_string())
            .elem("IsTruncated", if truncated { "true" } else { "false" });
        if input.url_encode {
            w.elem("EncodingType", "url");
        }
        for up in &uploads {
            w.open("Upload")
                .elem("Key", &enc(&up.key))
                .elem("UploadId", &up.upload_id);
            owner(&mut w, "Initiator");
            owner(&mut w, "Owner");
            w.elem("StorageClass", "STANDARD")
                .elem("Initiated", &protocol::iso8601_millis(up.initiated_ms));
            if let Some(a) = up.checksum_algorithm {
                w.elem("ChecksumAlgorithm", a.as_str());
            }
            w.close("Upload");
        }
        for cp in &prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &enc(cp))
                .close("CommonPrefixes");
        }
        Ok(protocol::xml(
            StatusCode::OK,
            w.finish("ListMultipartUploadsResult"),
        ))
    }
}

fn owner(w: &mut XmlWriter, element: &str) {
    w.open(element)
        .elem("ID", OWNER_ID)
        .elem("DisplayName", OWNER_NAME)
        .close(element);
}

/// `base64(checksum(concat(binary part checksums)))-N`, when every part has one.
fn composite_checksum(alg: ChecksumAlgorithm, parts: &[PartRow]) -> Option<String> {
    let mut hasher = alg.hasher()?;
    for p in parts {
        hasher.update(&blobs::unb64(p.checksum_value.as_deref()?)?);
    }
    Some(format!("{}-{}", hasher.finish_b64(), parts.len()))
}
