//! Object operations and the upload path they share with UploadPart.

use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use slcl_core::{body, Body, Response};

use super::buckets::read_xml;
use super::Cx;
use crate::blobs::{self, BlobWriter, ChecksumAlgorithm, Content, Written};
use crate::error::{ApiError, ApiResult};
use crate::events::EventName;
use crate::protocol::chunked::ChunkedDecoder;
use crate::protocol::{self, xml, xml::XmlWriter, ObjectRef, ResponseOverrides};
use crate::state::{ObjectRow, StoredChecksum};
use crate::S3Service;

/// Largest single PutObject / UploadPart body S3 accepts: 5 GiB.
pub(crate) const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Request headers stored with an object and returned by GET/HEAD as they were sent.
const STORED_HEADERS: [&str; 7] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-website-redirect-location",
];

/// S3's Content-Type when the client sends none.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_lossy(v: &http::HeaderValue) -> String {
    match v.to_str() {
        Ok(s) => s.to_string(),
        // Non-ASCII metadata: keep the bytes as Latin-1, as HTTP/1.1 defines them.
        Err(_) => v.as_bytes().iter().map(|&b| b as char).collect(),
    }
}

/// The headers an object keeps: Content-Type (defaulted), the other content headers
/// (with `aws-chunked` removed from Content-Encoding), and `x-amz-meta-*`.
pub(crate) fn headers_to_store(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in STORED_HEADERS {
        let Some(v) = headers.get(name) else {
            continue;
        };
        let mut value = header_lossy(v);
        if name == "content-encoding" {
            value = value
                .split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect::<Vec<_>>()
                .join(",");
            if value.is_empty() {
                continue;
            }
        }
        out.push((name.to_string(), value));
    }
    if !out.iter().any(|(n, _)| n == "content-type") {
        out.insert(0, ("content-type".into(), DEFAULT_CONTENT_TYPE.into()));
    }
    if let Some(class) = header(headers, "x-amz-storage-class").filter(|c| *c != "STANDARD") {
        out.push(("x-amz-storage-class".into(), class.to_string()));
    }
    for (name, v) in headers {
        if name.as_str().starts_with("x-amz-meta-") {
            out.push((name.as_str().to_string(), header_lossy(v)));
        }
    }
    out
}

/// A quoted ETag as headers and XML carry it.
pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Whether an `If-Match`/`If-None-Match` list names this ETag (or is `*`).
fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|e| unquote(e.trim().trim_start_matches("W/")))
        .any(|e| e == "*" || e == etag)
}

fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
}

/// Outcome of evaluating conditional request headers.
enum Conditions {
    Proceed,
    NotModified,
}

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in
/// RFC 9110 order (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
fn check_conditions(
    headers: &HeaderMap,
    prefix: &str,
    etag: &str,
    last_modified_ms: i64,
) -> ApiResult<Conditions> {
    let h = |name: &str| header(headers, &format!("{prefix}{name}"));
    // HTTP dates have second precision.
    let modified_s = last_modified_ms / 1000;
    if let Some(list) = h("if-match") {
        if !etag_list_matches(list, etag) {
            return Err(ApiError::precondition_failed(&format!("{prefix}If-Match")));
        }
    } else if let Some(since) = h("if-unmodified-since").and_then(parse_http_date) {
        if modified_s > since / 1000 {
            return Err(ApiError::precondition_failed(&format!(
                "{prefix}If-Unmodified-Since"
            )));
        }
    }
    if let Some(list) = h("if-none-match") {
        if etag_list_matches(list, etag) {
            return Ok(Conditions::NotModified);
        }
    } else if let Some(since) = h("if-modified-since").and_then(parse_http_date) {
        if modified_s <= since / 1000 {
            return Ok(Conditions::NotModified);
        }
    }
    Ok(Conditions::Proceed)
}

/// The flexible checksum an upload declares: algorithm plus the value if it came
/// as a header (a trailer value arrives at the end of the body).
fn declared_checksum(
    headers: &HeaderMap,
) -> ApiResult<Option<(ChecksumAlgorithm, Option<String>)>> {
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = header(headers, alg.header()) {
            return Ok(Some((alg, Some(v.trim().to_string()))));
        }
    }
    if let Some(t) = header(headers, "x-amz-trailer") {
        let name = t.trim().to_ascii_lowercase();
        if let Some(alg) = ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.header() == name)
        {
            return Ok(Some((alg, None)));
        }
    }
    if let Some(a) = header(headers, "x-amz-sdk-checksum-algorithm") {
        return match ChecksumAlgorithm::parse(a) {
            Some(alg) => Ok(Some((alg, None))),
            None => Err(ApiError::invalid_request(format!(
                "Value for x-amz-sdk-checksum-algorithm header is invalid: {a}"
            ))),
        };
    }
    Ok(None)
}

/// An upload body, received and verified, not yet persisted.
pub(crate) struct Ingested {
    /// The body and its digests.
    pub written: Written,
    /// The checksum to store: the client's value, verified when slcl computes it.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

impl Ingested {
    /// MD5 hex, the ETag of a single-part object.
    pub fn etag(&self) -> String {
        hex::encode(self.written.md5)
    }
}

impl S3Service {
    fn check_write_conditions(
        &self,
        o: &ObjectRef,
        if_none_match: Option<&str>,
        if_match: Option<&str>,
    ) -> ApiResult<()> {
        if if_none_match == Some("*") && self.state.object_exists(&o.bucket, &o.key)? {
            return Err(ApiError::precondition_failed("If-None-Match"));
        }
        if let Some(list) = if_match {
            match self.state.object(&o.bucket, &o.key)? {
                Some(cur) if etag_list_matches(list, &cur.etag) => {}
                Some(_) => return Err(ApiError::precondition_failed("If-Match")),
                None => return Err(ApiError::no_such_key(&o.key)),
            }
        }
        Ok(())
    }

    /// Receives an upload body (decoding `aws-chunked` framing) into memory or a
    /// spill file, verifying Content-MD5, the decoded length and flexible checksums.
    /// `default_checksum` is the algorithm of the multipart upload, if any.
    pub(crate) async fn ingest(
        &self,
        headers: &HeaderMap,
        mut body: Body,
        default_checksum: Option<ChecksumAlgorithm>,
    ) -> ApiResult<Ingested> {
        let chunked = header(headers, "x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"))
            || header(headers, "content-encoding").is_some_and(|e| {
                e.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("aws-chunked"))
            });
        let declared_len = if chunked {
            header(headers, "x-amz-decoded-content-length")
                .and_then(|v| v.trim().parse::<u64>().ok())
        } else {
            header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(len) = declared_len.filter(|l| *l > MAX_PUT) {
            return Err(ApiError::entity_too_large(len, MAX_PUT));
        }
        let content_md5 = match header(headers, "content-md5") {
            None => None,
            Some(v) => match blobs::unb64(v) {
                Some(d) if d.len() == 16 => Some((v.trim().to_string(), d)),
                _ => return Err(ApiError::invalid_digest(v)),
            },
        };
        let declared = declared_checksum(headers)?;
        let algorithm = declared.as_ref().map(|(a, _)| *a).or(default_checksum);

        let mut writer = BlobWriter::new(self.store.tmp_dir(), algorithm);
        let mut decoder = chunked.then(ChunkedDecoder::new);
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                tracing::debug!(error = %e, "upload body failed");
                ApiError::incomplete_body()
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match &mut decoder {
                Some(d) => {
                    d.push(data, &mut pieces).map_err(|e| {
                        ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequest", e.to_string())
                    })?;
                    for p in pieces.drain(..) {
                        writer.write(&p).await?;
                    }
                }
                None => writer.write(&data).await?,
            }
            if writer.size() > MAX_PUT {
                return Err(ApiError::entity_too_large(writer.size(), MAX_PUT));
            }
        }
        let trailers = match decoder {
            Some(d) => d.finish().map_err(|_| ApiError::incomplete_body())?,
            None => Vec::new(),
        };
        let written = writer.finish().await?;
        if declared_len.is_some_and(|l| l != written.size) {
            return Err(ApiError::incomplete_body());
        }
        if let Some((given, digest)) = content_md5 {
            if digest[..] != written.md5[..] {
                return Err(ApiError::bad_digest_md5(&given, &blobs::b64(&written.md5)));
            }
        }
        let client_value = match &declared {
            Some((alg, Some(v))) => Some((*alg, v.clone())),
            Some((alg, None)) => trailers
                .iter()
                .find(|(n, _)| n == alg.header())
                .map(|(_, v)| (*alg, v.clone())),
            None => None,
        };
        let checksum = match (client_value, &written.checksum) {
            (Some((alg, given)), Some((_, computed))) => {
                if &given != computed {
                    return Err(ApiError::bad_checksum(&alg.as_str().to_ascii_lowercase()));
                }
                Some((alg, given))
            }
            (Some(given), None) => Some(given),
            (None, Some(computed)) => Some(computed.clone()),
            (None, None) => None,
        };
        Ok(Ingested { written, checksum })
    }

    /// Persists the body, commits the row, then removes what it replaced.
    pub(crate) fn commit_object(
        &self,
        bucket: &str,
        mut row: ObjectRow,
        pending: blobs::PendingBlob,
        complete_upload: Option<&str>,
    ) -> ApiResult<ObjectRow> {
        row.content = pending.persist(self.state.blob_dir())?;
        match self.state.put_object(bucket, &row, complete_upload) {
            Ok(garbage) => {
                for c in &garbage {
                    blobs::remove(self.state.blob_dir(), c);
                }
                Ok(row)
            }
            Err(e) => {
                blobs::remove(self.state.blob_dir(), &row.content);
                Err(e)
            }
        }
    }

    #[tracing::instrument(name = "s3.put_object", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) async fn put_object(
        &self,
        o: &ObjectRef,
        headers: &HeaderMap,
        body: Body,
        cx: &Cx,
    ) -> ApiResult<Response> {
        self.state.require_bucket(&o.bucket)?;
        // Conditional writes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
        let if_none_match = header(headers, "if-none-match").map(|v| v.trim().to_string());
        let if_match = header(headers, "if-match").map(str::to_string);
        self.check_write_conditions(o, if_none_match.as_deref(), if_match.as_deref())?;
        let ingested = self.ingest(headers, body, None).await?;
        self.check_write_conditions(o, if_none_match.as_deref(), if_match.as_deref())?;
        let etag = ingested.etag();
        let row = ObjectRow {
            key: o.key.clone(),
            size: ingested.written.size,
            etag: etag.clone(),
            last_modified_ms: self.clock.now_millis() as i64,
            headers: headers_to_store(headers),
            checksum: ingested
                .checksum
                .clone()
                .map(|(algorithm, value)| StoredChecksum {
                    algorithm,
                    value,
                    kind: "FULL_OBJECT".into(),
                }),
            parts: None,
            content: Content::Inline(Default::default()),
        };
        let size = row.size;
        self.commit_object(&o.bucket, row, ingested.written.blob, None)?;
        self.notify(cx, EventName::Put, &o.bucket, &o.key, Some((size, &etag)))
            .await;
        let mut resp = protocol::empty(StatusCode::OK);
        let h = resp.headers_mut();
        protocol::set_header(h, "etag", &quoted(&etag));
        if let Some((alg, value)) = &ingested.checksum {
            protocol::set_header(h, alg.header(), value);
            protocol::set_header(h, "x-amz-checksum-type", "FULL_OBJECT");
        }
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.get_object", skip_all, fields(bucket = %o.bucket, key = %o.key, head = head))]
    pub(crate) fn get_object(
        &self,
        o: &ObjectRef,
        headers: &HeaderMap,
        overrides: ResponseOverrides,
        head: bool,
    ) -> ApiResult<Response> {
        let Some((row, file)) = self.state.object_opened(&o.bucket, &o.key)? else {
            self.state.require_bucket(&o.bucket)?;
            return Err(ApiError::no_such_key(&o.key));
        };
        let not_modified = matches!(
            check_conditions(headers, "", &row.etag, row.last_modified_ms)?,
            Conditions::NotModified
        );
        let range = match header(headers, "range") {
            Some(r) if !not_modified => protocol::parse_range(r, row.size)?,
            _ => None,
        };
        let (status, start, len) = match (not_modified, range) {
            (true, _) => (StatusCode::NOT_MODIFIED, 0, 0),
            (false, Some(r)) => (StatusCode::PARTIAL_CONTENT, r.start, r.end - r.start + 1),
            (false, None) => (StatusCode::OK, 0, row.size),
        };
        let body = if head || not_modified || len == 0 {
            body::empty()
        } else {
            match (&row.content, file) {
                (Content::Inline(b), _) => {
                    body::full(b.slice(start as usize..(start + len) as usize))
                }
                (Content::File(_), Some(f)) => blobs::file_body(f, start, len),
                (Content::File(id), None) => {
                    return Err(ApiError::internal(format_args!("blob {id} was not opened")))
                }
            }
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        protocol::set_header(h, "etag", &quoted(&row.etag));
        protocol::set_header(
            h,
            "last-modified",
            &protocol::http_date(row.last_modified_ms),
        );
        if not_modified {
            return Ok(resp);
        }
        protocol::set_header(h, "accept-ranges", "bytes");
        protocol::set_header(h, "content-length", &len.to_string());
        if let Some(r) = range {
            protocol::set_header(
                h,
                "content-range",
                &format!("bytes {}-{}/{}", r.start, r.end, row.size),
            );
        }
        for (name, value) in &row.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                h.insert(n, v);
            }
        }
        for (name, value) in &overrides {
            protocol::set_header(h, name, value);
        }
        if let Some(n) = row.parts {
            protocol::set_header(h, "x-amz-mp-parts-count", &n.to_string());
        }
        let checksum_mode = header(headers, "x-amz-checksum-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
        if let (true, None, Some(c)) = (checksum_mode, range, &row.checksum) {
            protocol::set_header(h, c.algorithm.header(), &c.value);
            protocol::set_header(h, "x-amz-checksum-type", &c.kind);
        }
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.delete_object", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) async fn delete_object(&self, o: &ObjectRef, cx: &Cx) -> ApiResult<Response> {
        self.state.require_bucket(&o.bucket)?;
        if let Some(old) = self.state.delete_object(&o.bucket, &o.key)? {
            blobs::remove(self.state.blob_dir(), &old);
            self.notify(cx, EventName::Delete, &o.bucket, &o.key, None)
                .await;
        }
        Ok(protocol::empty(StatusCode::NO_CONTENT))
    }

    #[tracing::instrument(name = "s3.delete_objects", skip_all, fields(bucket = %bucket))]
    pub(crate) async fn delete_objects(
        &self,
        bucket: &str,
        body: Body,
        cx: &Cx,
    ) -> ApiResult<Response> {
        self.state.require_bucket(bucket)?;
        let data = read_xml(body).await?.ok_or_else(ApiError::malformed_xml)?;
        let root = xml::parse(&data).ok_or_else(ApiError::malformed_xml)?;
        if root.name != "Delete" {
            return Err(ApiError::malformed_xml());
        }
        let quiet = root
            .child_text("Quiet")
            .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
        let objects: Vec<_> = root.children_named("Object").collect();
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html: 1..=1000 keys.
        if objects.is_empty() || objects.len() > 1000 {
            return Err(ApiError::malformed_xml());
        }
        let mut w = XmlWriter::new("DeleteResult");
        for obj in objects {
            let Some(key) = obj.child_text("Key") else {
                return Err(ApiError::malformed_xml());
            };
            if key.len() > protocol::MAX_KEY_BYTES {
                w.open("Error")
                    .elem("Key", key)
                    .elem("Code", "KeyTooLongError")
                    .elem("Message", "Your key is too long")
                    .close("Error");
                continue;
            }
            if let Some(old) = self.state.delete_object(bucket, key)? {
                blobs::remove(self.state.blob_dir(), &old);
                self.notify(cx, EventName::Delete, bucket, key, None).await;
            }
            if !quiet {
                w.open("Deleted").elem("Key", key).close("Deleted");
            }
        }
        Ok(protocol::xml(StatusCode::OK, w.finish("DeleteResult")))
    }

    #[tracing::instrument(name = "s3.copy_object", skip_all, fields(bucket = %o.bucket, key = %o.key))]
    pub(crate) async fn copy_object(
        &self,
        o: &ObjectRef,
        headers: &HeaderMap,
        cx: &Cx,
    ) -> ApiResult<Response> {
        let raw = header(headers, "x-amz-copy-source").unwrap_or("");
        let bad_source = || {
            ApiError::invalid_argument("Invalid copy source object key", "x-amz-copy-source", raw)
        };
        let path = raw.split('?').next().unwrap_or("");
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| bad_source())?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (src_bucket, src_key) = decoded.split_once('/').ok_or_else(bad_source)?;
        if src_key.is_empty() {
            return Err(bad_source());
        }
        self.state.require_bucket(&o.bucket)?;
        let Some(src) = self.state.object(src_bucket, src_key)? else {
            self.state.require_bucket(src_bucket)?;
            return Err(ApiError::no_such_key(src_key));
        };
        if let Conditions::NotModified = check_conditions(
            headers,
            "x-amz-copy-source-",
            &src.etag,
            src.last_modified_ms,
        )? {
            return Err(ApiError::precondition_failed(
                "x-amz-copy-source-If-None-Match",
            ));
        }
        let replace = match header(headers, "x-amz-metadata-directive").map(str::trim) {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(other) => {
                return Err(ApiError::invalid_argument(
                    "Unknown metadata directive.",
                    "x-amz-metadata-directive",
                    other,
                ))
            }
        };
        if src_bucket == o.bucket
            && src_key == o.key
            && !replace
            && !headers.contains_key("x-amz-storage-class")
        {
            return Err(ApiError::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let algorithm = header(headers, "x-amz-checksum-algorithm")
            .and_then(ChecksumAlgorithm::parse)
            .or(src.checksum.as_ref().map(|c| c.algorithm));
        let mut writer = BlobWriter::new(self.store.tmp_dir(), algorithm);
        blobs::copy_into(self.state.blob_dir(), &src.content, &mut writer)
            .await
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    // Overwritten or deleted while we were copying.
                    ApiError::no_such_key(src_key)
                } else {
                    e.into()
                }
            })?;
        let written = writer.finish().await?;
        let etag = hex::encode(written.md5);
        let checksum = match &written.checksum {
            Some((alg, v)) => Some(StoredChecksum {
                algorithm: *alg,
                value: v.clone(),
                kind: "FULL_OBJECT".into(),
            }),
            // CRC64NVME is not computed by slcl: carry the source's value over.
            None => src.checksum.clone().filter(|c| !c.value.contains('-')),
        };
        let row = ObjectRow {
            key: o.key.clone(),
            size: written.size,
            etag: etag.clone(),
            last_modified_ms: self.clock.now_millis() as i64,
            headers: if replace {
                headers_to_store(headers)
            } else {
                src.headers.clone()
            },
            checksum: checksum.clone(),
            parts: None,
            content: Content::Inline(Default::default()),
        };
        let row = self.commit_object(&o.bucket, row, written.blob, None)?;
        self.notify(
            cx,
            EventName::Copy,
            &o.bucket,
            &o.key,
            Some((row.size, &etag)),
        )
        .await;
        let mut w = XmlWriter::new("CopyObjectResult");
        w.elem(
            "LastModified",
            &protocol::iso8601_millis(row.last_modified_ms),
        )
        .elem("ETag", &quoted(&etag));
        if let Some(c) = &checksum {
            w.elem("ChecksumType", &c.kind)
                .elem(c.algorithm.xml_name(), &c.value);
        }
        Ok(protocol::xml(StatusCode::OK, w.finish("CopyObjectResult")))
    }
}

/// MD5 of concatenated binary part MD5s plus `-N`: the ETag of a multipart object.
pub(crate) fn multipart_etag(part_md5_hex: &[&str]) -> String {
    let mut h = Md5::new();
    for p in part_md5_hex {
        if let Ok(bytes) = hex::decode(p) {
            h.update(bytes);
        }
    }
    format!("{}-{}", hex::encode(h.finalize()), part_md5_hex.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_content_headers_and_metadata() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "aws-chunked,gzip".parse().unwrap());
        h.insert("x-amz-meta-color", "blue".parse().unwrap());
        let stored = headers_to_store(&h);
        assert!(stored.contains(&("content-type".into(), "binary/octet-stream".into())));
        assert!(stored.contains(&("content-encoding".into(), "gzip".into())));
        assert!(stored.contains(&("x-amz-meta-color".into(), "blue".into())));
        let mut only_chunked = HeaderMap::new();
        only_chunked.insert("content-encoding", "aws-chunked".parse().unwrap());
        assert!(!headers_to_store(&only_chunked)
            .iter()
            .any(|(n, _)| n == "content-encoding"));
    }

    #[test]
    fn etag_lists() {
        assert!(etag_list_matches("\"abc\"", "abc"));
        assert!(etag_list_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_list_matches("*", "abc"));
        assert!(!etag_list_matches("\"x\"", "abc"));
    }

    #[test]
    fn multipart_etags() {
        let md5_a = hex::encode(Md5::digest(b"a"));
        let md5_b = hex::encode(Md5::digest(b"b"));
        let mut concat = Md5::digest(b"a").to_vec();
        concat.extend(Md5::digest(b"b"));
        let expected = format!("{}-2", hex::encode(Md5::digest(&concat)));
        assert_eq!(multipart_etag(&[&md5_a, &md5_b]), expected);
    }
}
