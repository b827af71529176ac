//! S3's restXml protocol: which operation a request is, and how answers look.
//!
//! [`decode`] works out the bucket (from the `Host` header for virtual-hosted-style
//! requests, otherwise from the first path segment), the key, and the operation from
//! the method plus query subresources (`?uploads`, `?list-type=2`, `?notification`...),
//! returning a typed [`Operation`]. Subresources slcl does not serve yet (`?tagging`,
//! `?acl`, `?versioning`, ...) decode to [`Operation::NotImplemented`] naming the AWS
//! operation. Helpers here build responses ([`xml`], [`empty`]) and S3's XML error
//! documents ([`error_response`]).
//!
//! Submodules: [`xml`] (writer and small tree parser), [`chunked`] (the `aws-chunked`
//! body encoding), and the `Range` header parser [`parse_range`].

pub mod chunked;
pub mod xml;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use slcl_core::{body, Response};

use crate::error::{ApiError, ApiResult};

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A bucket and key named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded.
    pub key: String,
}

/// Paging parameters shared by ListObjects and ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListInput {
    /// `prefix`.
    pub prefix: String,
    /// `delimiter` (empty means none).
    pub delimiter: Option<String>,
    /// `max-keys`, clamped to 1000 as S3 does.
    pub max_keys: usize,
    /// `marker` (v1) or `start-after` (v2).
    pub start_after: Option<String>,
    /// `continuation-token` (v2).
    pub continuation_token: Option<String>,
    /// `encoding-type=url`.
    pub url_encode: bool,
    /// `fetch-owner=true` (v2).
    pub fetch_owner: bool,
}

/// Paging parameters of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsInput {
    /// `max-parts`.
    pub max_parts: usize,
    /// `part-number-marker`.
    pub part_number_marker: i64,
}

/// Paging parameters of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsInput {
    /// `prefix`.
    pub prefix: String,
    /// `delimiter`.
    pub delimiter: Option<String>,
    /// `max-uploads`.
    pub max_uploads: usize,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `upload-id-marker`.
    pub upload_id_marker: Option<String>,
    /// `encoding-type=url`.
    pub url_encode: bool,
}

/// The response-header overrides GetObject takes as query parameters
/// (`response-content-type`, ...).
pub type ResponseOverrides = Vec<(&'static str, String)>;

/// One decoded S3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `GET /`.
    ListBuckets {
        /// `prefix` filter.
        prefix: Option<String>,
    },
    /// `PUT /bucket`.
    CreateBucket {
        /// Bucket.
        bucket: String,
    },
    /// `HEAD /bucket`.
    HeadBucket {
        /// Bucket.
        bucket: String,
    },
    /// `DELETE /bucket`.
    DeleteBucket {
        /// Bucket.
        bucket: String,
    },
    /// `GET /bucket?location`.
    GetBucketLocation {
        /// Bucket.
        bucket: String,
    },
    /// `GET /bucket?notification`.
    GetBucketNotificationConfiguration {
        /// Bucket.
        bucket: String,
    },
    /// `PUT /bucket?notification`.
    PutBucketNotificationConfiguration {
        /// Bucket.
        bucket: String,
    },
    /// `GET /bucket`.
    ListObjects {
        /// Bucket.
        bucket: String,
        /// Paging.
        input: ListInput,
    },
    /// `GET /bucket?list-type=2`.
    ListObjectsV2 {
        /// Bucket.
        bucket: String,
        /// Paging.
        input: ListInput,
    },
    /// `GET /bucket?uploads`.
    ListMultipartUploads {
        /// Bucket.
        bucket: String,
        /// Paging.
        input: ListUploadsInput,
    },
    /// `POST /bucket?delete`.
    DeleteObjects {
        /// Bucket.
        bucket: String,
    },
    /// `PUT /bucket/key`.
    PutObject(ObjectRef),
    /// `GET /bucket/key`.
    GetObject(ObjectRef, ResponseOverrides),
    /// `HEAD /bucket/key`.
    HeadObject(ObjectRef),
    /// `DELETE /bucket/key`.
    DeleteObject(ObjectRef),
    /// `PUT /bucket/key` with `x-amz-copy-source`.
    CopyObject(ObjectRef),
    /// `POST /bucket/key?uploads`.
    CreateMultipartUpload(ObjectRef),
    /// `PUT /bucket/key?partNumber=N&uploadId=U`.
    UploadPart {
        /// Object.
        object: ObjectRef,
        /// Upload id.
        upload_id: String,
        /// Part number as sent (validated by the operation).
        part_number: String,
    },
    /// `POST /bucket/key?uploadId=U`.
    CompleteMultipartUpload {
        /// Object.
        object: ObjectRef,
        /// Upload id.
        upload_id: String,
    },
    /// `DELETE /bucket/key?uploadId=U`.
    AbortMultipartUpload {
        /// Object.
        object: ObjectRef,
        /// Upload id.
        upload_id: String,
    },
    /// `GET /bucket/key?uploadId=U`.
    ListParts {
        /// Object.
        object: ObjectRef,
        /// Upload id.
        upload_id: String,
        /// Paging.
        input: ListPartsInput,
    },
    /// An S3 operation slcl recognises but does not implement yet.
    NotImplemented(&'static str),
}

impl Operation {
    /// The AWS operation name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::ListBuckets { .. } => "ListBuckets",
            Operation::CreateBucket { .. } => "CreateBucket",
            Operation::HeadBucket { .. } => "HeadBucket",
            Operation::DeleteBucket { .. } => "DeleteBucket",
            Operation::GetBucketLocation { .. } => "GetBucketLocation",
            Operation::GetBucketNotificationConfiguration { .. } => {
                "GetBucketNotificationConfiguration"
            }
            Operation::PutBucketNotificationConfiguration { .. } => {
                "PutBucketNotificationConfiguration"
            }
            Operation::ListObjects { .. } => "ListObjects",
            Operation::ListObjectsV2 { .. } => "ListObjectsV2",
            Operation::ListMultipartUploads { .. } => "ListMultipartUploads",
            Operation::DeleteObjects { .. } => "DeleteObjects",
            Operation::PutObject(_) => "PutObject",
            Operation::GetObject(..) => "GetObject",
            Operation::HeadObject(_) => "HeadObject",
            Operation::DeleteObject(_) => "DeleteObject",
            Operation::CopyObject(_) => "CopyObject",
            Operation::CreateMultipartUpload(_) => "CreateMultipartUpload",
            Operation::UploadPart { .. } => "UploadPart",
            Operation::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            Operation::ListParts { .. } => "ListParts",
            Operation::NotImplemented(name) => name,
        }
    }
}

/// A decoded query string: `(name, value)` pairs in order, values form-decoded.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, Option<String>)>);

impl Query {
    /// Parses the raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let Some(raw) = raw else {
            return Query::default();
        };
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (form_decode(k), Some(form_decode(v))),
                    None => (form_decode(pair), None),
                })
                .collect(),
        )
    }

    /// Whether the parameter is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The parameter's value; `Some("")` for a bare `?name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

fn form_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// Characters kept unescaped by S3's `encoding-type=url` and in event keys:
/// everything but `A-Z a-z 0-9 - _ . ~ /` is escaped (space becomes `+`).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/')
    .remove(b' ');

/// Form-encodes `s` as S3 does for `encoding-type=url` listings and event keys:
/// spaces as `+`, `/` kept.
pub fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string().replace(' ', "+")
}

/// The bucket named by a virtual-hosted-style `Host`, or `None` for path style.
///
/// Virtual hosts: `<bucket>.s3.localhost.localstack.cloud`,
/// `<bucket>.s3.<region>.localhost.localstack.cloud`, `<bucket>.s3.amazonaws.com`,
/// `<bucket>.s3.<region>.amazonaws.com`, `<bucket>.s3-<region>.amazonaws.com` and
/// `<bucket>.localhost`, each with an optional port.
pub fn bucket_from_host(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    // Strip the port, but not from an IPv6 literal.
    let host = if host.starts_with('[') {
        return None;
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        }
    };
    let host = host.to_ascii_lowercase();
    let s3_prefix = |rest: &str| -> Option<String> {
        // rest is what precedes the domain: `<bucket>.s3`, `<bucket>.s3.<region>`,
        // `<bucket>.s3-<region>`, or a path-style `s3`, `s3.<region>`.
        if let Some(b) = rest.strip_suffix(".s3") {
            return non_empty(b);
        }
        let (before, last) = rest.rsplit_once('.')?;
        if last.starts_with("s3-") {
            return non_empty(before);
        }
        let b = before.strip_suffix(".s3")?;
        non_empty(b)
    };
    if let Some(rest) = host.strip_suffix(".localhost.localstack.cloud") {
        return s3_prefix(rest);
    }
    if let Some(rest) = host.strip_suffix(".amazonaws.com") {
        return s3_prefix(rest);
    }
    if let Some(b) = host.strip_suffix(".localhost") {
        return non_empty(b);
    }
    None
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Decodes the path of a request URI: bucket (unless the host named it) and key.
fn split_path(
    raw_path: &str,
    host_bucket: Option<String>,
) -> ApiResult<(Option<String>, Option<String>)> {
    let decode = |s: &str| -> ApiResult<String> {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidURI",
                    "Couldn't parse the specified URI.",
                )
            })
    };
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    match host_bucket {
        Some(bucket) => {
            let key = decode(path)?;
            Ok((Some(bucket), (!key.is_empty()).then_some(key)))
        }
        None => {
            if path.is_empty() {
                return Ok((None, None));
            }
            let (bucket, key) = match path.split_once('/') {
                Some((b, k)) => (b, k),
                None => (path, ""),
            };
            let bucket = decode(bucket)?;
            let key = decode(key)?;
            Ok((Some(bucket), (!key.is_empty()).then_some(key)))
        }
    }
}

/// Bucket subresources slcl does not implement: (query name, GET, PUT, DELETE, POST).
const BUCKET_SUBRESOURCES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "accelerate",
        "GetBucketAccelerateConfiguration",
        "PutBucketAccelerateConfiguration",
        "",
        "",
    ),
    ("acl", "GetBucketAcl", "PutBucketAcl", "", ""),
    (
        "analytics",
        "GetBucketAnalyticsConfiguration",
        "PutBucketAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration",
        "",
    ),
    (
        "cors",
        "GetBucketCors",
        "PutBucketCors",
        "DeleteBucketCors",
        "",
    ),
    (
        "encryption",
        "GetBucketEncryption",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
        "",
    ),
    (
        "intelligent-tiering",
        "GetBucketIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration",
        "DeleteBucketIntelligentTieringConfiguration",
        "",
    ),
    (
        "inventory",
        "GetBucketInventoryConfiguration",
        "PutBucketInventoryConfiguration",
        "DeleteBucketInventoryConfiguration",
        "",
    ),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
        "",
    ),
    ("logging", "GetBucketLogging", "PutBucketLogging", "", ""),
    (
        "metadataTable",
        "GetBucketMetadataTableConfiguration",
        "",
        "DeleteBucketMetadataTableConfiguration",
        "CreateBucketMetadataTableConfiguration",
    ),
    (
        "metadataConfiguration",
        "GetBucketMetadataConfiguration",
        "",
        "DeleteBucketMetadataConfiguration",
        "CreateBucketMetadataConfiguration",
    ),
    (
        "metrics",
        "GetBucketMetricsConfiguration",
        "PutBucketMetricsConfiguration",
        "DeleteBucketMetricsConfiguration",
        "",
    ),
    (
        "object-lock",
        "GetObjectLockConfiguration",
        "PutObjectLockConfiguration",
        "",
        "",
    ),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
        "",
    ),
    (
        "policy",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "",
    ),
    ("policyStatus", "GetBucketPolicyStatus", "", "", ""),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
        "",
    ),
    (
        "replication",
        "GetBucketReplication",
        "PutBucketReplication",
        "DeleteBucketReplication",
        "",
    ),
    (
        "requestPayment",
        "GetBucketRequestPayment",
        "PutBucketRequestPayment",
        "",
        "",
    ),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
        "",
    ),
    (
        "versioning",
        "GetBucketVersioning",
        "PutBucketVersioning",
        "",
        "",
    ),
    (
        "website",
        "GetBucketWebsite",
        "PutBucketWebsite",
        "DeleteBucketWebsite",
        "",
    ),
    ("versions", "ListObjectVersions", "", "", ""),
    ("session", "CreateSession", "", "", ""),
    ("abac", "GetBucketAbac", "PutBucketAbac", "", ""),
];

/// Object subresources slcl does not implement: (query name, GET, PUT, DELETE, POST).
const OBJECT_SUBRESOURCES: &[(&str, &str, &str, &str, &str)] = &[
    ("acl", "GetObjectAcl", "PutObjectAcl", "", ""),
    (
        "tagging",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
        "",
    ),
    (
        "retention",
        "GetObjectRetention",
        "PutObjectRetention",
        "",
        "",
    ),
    (
        "legal-hold",
        "GetObjectLegalHold",
        "PutObjectLegalHold",
        "",
        "",
    ),
    ("torrent", "GetObjectTorrent", "", "", ""),
    ("attributes", "GetObjectAttributes", "", "", ""),
    ("select", "", "", "", "SelectObjectContent"),
    ("restore", "", "", "", "RestoreObject"),
    ("renameObject", "", "RenameObject", "", ""),
];

fn unsupported_subresource(
    table: &'static [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )],
    query: &Query,
    method: &Method,
) -> Option<Result<&'static str, ()>> {
    for (name, get, put, delete, post) in table {
        if query.has(name) {
            let op = match *method {
                Method::GET | Method::HEAD => *get,
                Method::PUT => *put,
                Method::DELETE => *delete,
                Method::POST => *post,
                _ => "",
            };
            return Some(if op.is_empty() { Err(()) } else { Ok(op) });
        }
    }
    None
}

fn list_input(query: &Query, v2: bool) -> ApiResult<ListInput> {
    let max_keys = match query.get("max-keys") {
        None => 1000,
        Some(v) => parse_max(v, "max-keys")?,
    };
    Ok(ListInput {
        prefix: query.get("prefix").unwrap_or("").to_string(),
        delimiter: query
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        max_keys,
        start_after: query
            .get(if v2 { "start-after" } else { "marker" })
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        continuation_token: if v2 {
            query.get("continuation-token").map(str::to_string)
        } else {
            None
        },
        url_encode: match query.get("encoding-type") {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("url") => true,
            Some(e) => {
                return Err(ApiError::invalid_argument(
                    "Invalid Encoding Method specified in Request",
                    "encoding-type",
                    e,
                ))
            }
        },
        fetch_owner: query.get("fetch-owner") == Some("true"),
    })
}

fn parse_max(v: &str, name: &str) -> ApiResult<usize> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok((n as usize).min(1000)),
        _ => Err(ApiError::invalid_argument(
            format!("Provided {name} not an integer or within integer range"),
            name,
            v,
        )),
    }
}

/// Works out the operation a request asks for.
pub fn decode(method: &Method, uri: &http::Uri, headers: &HeaderMap) -> ApiResult<Operation> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or("");
    let (bucket, key) = split_path(uri.path(), bucket_from_host(host))?;
    let query = Query::parse(uri.query());
    let m = method.as_str();

    let Some(bucket) = bucket else {
        return match *method {
            Method::GET => Ok(Operation::ListBuckets {
                prefix: query.get("prefix").map(str::to_string),
            }),
            _ => Err(ApiError::method_not_allowed(m, "SERVICE")),
        };
    };

    let Some(key) = key else {
        if let Some(found) = unsupported_subresource(BUCKET_SUBRESOURCES, &query, method) {
            return match found {
                Ok(op) => Ok(Operation::NotImplemented(op)),
                Err(()) => Err(ApiError::method_not_allowed(m, "BUCKET")),
            };
        }
        return match *method {
            Method::PUT if query.has("notification") => {
                Ok(Operation::PutBucketNotificationConfiguration { bucket })
            }
            Method::PUT => Ok(Operation::CreateBucket { bucket }),
            Method::HEAD => Ok(Operation::HeadBucket { bucket }),
            Method::DELETE if query.has("notification") => {
                Err(ApiError::method_not_allowed(m, "BUCKET"))
            }
            Method::DELETE => Ok(Operation::DeleteBucket { bucket }),
            Method::GET if query.has("location") => Ok(Operation::GetBucketLocation { bucket }),
            Method::GET if query.has("notification") => {
                Ok(Operation::GetBucketNotificationConfiguration { bucket })
            }
            Method::GET if query.has("uploads") => Ok(Operation::ListMultipartUploads {
                bucket,
                input: ListUploadsInput {
                    prefix: query.get("prefix").unwrap_or("").to_string(),
                    delimiter: query
                        .get("delimiter")
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                    max_uploads: match query.get("max-uploads") {
                        None => 1000,
                        Some(v) => parse_max(v, "max-uploads")?,
                    },
                    key_marker: query
                        .get("key-marker")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    upload_id_marker: query
                        .get("upload-id-marker")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    url_encode: query
                        .get("encoding-type")
                        .is_some_and(|e| e.eq_ignore_ascii_case("url")),
                },
            }),
            Method::GET if query.get("list-type") == Some("2") => Ok(Operation::ListObjectsV2 {
                input: list_input(&query, true)?,
                bucket,
            }),
            Method::GET => Ok(Operation::ListObjects {
                input: list_input(&query, false)?,
                bucket,
            }),
            Method::POST if query.has("delete") => Ok(Operation::DeleteObjects { bucket }),
            Method::POST => Ok(Operation::NotImplemented("PostObject")),
            _ => Err(ApiError::method_not_allowed(m, "BUCKET")),
        };
    };

    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::key_too_long(key.len()));
    }
    if let Some(found) = unsupported_subresource(OBJECT_SUBRESOURCES, &query, method) {
        return match found {
            Ok(op) => Ok(Operation::NotImplemented(op)),
            Err(()) => Err(ApiError::method_not_allowed(m, "OBJECT")),
        };
    }
    let object = ObjectRef { bucket, key };
    let upload_id = query.get("uploadId").map(str::to_string);
    let copy = headers.contains_key("x-amz-copy-source");
    match *method {
        Method::PUT => match (upload_id, query.get("partNumber")) {
            (Some(_), Some(_)) if copy => Ok(Operation::NotImplemented("UploadPartCopy")),
            (Some(upload_id), Some(part_number)) => Ok(Operation::UploadPart {
                object,
                upload_id,
                part_number: part_number.to_string(),
            }),
            _ if copy => Ok(Operation::CopyObject(object)),
            _ => Ok(Operation::PutObject(object)),
        },
        Method::GET => match upload_id {
            Some(upload_id) => Ok(Operation::ListParts {
                object,
                upload_id,
                input: ListPartsInput {
                    max_parts: match query.get("max-parts") {
                        None => 1000,
                        Some(v) => parse_max(v, "max-parts")?,
                    },
                    part_number_marker: query
                        .get("part-number-marker")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                },
            }),
            None => {
                const OVERRIDES: [(&str, &str); 6] = [
                    ("response-content-type", "content-type"),
                    ("response-content-language", "content-language"),
                    ("response-expires", "expires"),
                    ("response-cache-control", "cache-control"),
                    ("response-content-disposition", "content-disposition"),
                    ("response-content-encoding", "content-encoding"),
                ];
                let overrides = OVERRIDES
                    .iter()
                    .filter_map(|(q, h)| query.get(q).map(|v| (*h, v.to_string())))
                    .collect();
                Ok(Operation::GetObject(object, overrides))
            }
        },
        Method::HEAD => Ok(Operation::HeadObject(object)),
        Method::DELETE => match upload_id {
            Some(upload_id) => Ok(Operation::AbortMultipartUpload { object, upload_id }),
            None => Ok(Operation::DeleteObject(object)),
        },
        Method::POST if query.has("uploads") => Ok(Operation::CreateMultipartUpload(object)),
        Method::POST => match upload_id {
            Some(upload_id) => Ok(Operation::CompleteMultipartUpload { object, upload_id }),
            None => Err(ApiError::method_not_allowed(m, "OBJECT")),
        },
        _ => Err(ApiError::method_not_allowed(m, "OBJECT")),
    }
}

/// A byte range of an object, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

/// Resolves a `Range` header against an object of `size` bytes.
///
/// `Ok(None)`: no range, or one S3 ignores (not `bytes=`, several ranges, bad
/// syntax) — the whole object is returned with 200. `Err`: InvalidRange (416).
/// See <https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2>.
pub fn parse_range(header: &str, size: u64) -> ApiResult<Option<ByteRange>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || Err(ApiError::invalid_range(header.trim(), size));
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return unsatisfiable();
        }
        let n = n.min(size);
        return Ok(Some(ByteRange {
            start: size - n,
            end: size - 1,
        }));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return unsatisfiable();
    }
    Ok(Some(ByteRange {
        start,
        end: end.min(size - 1),
    }))
}

/// A response with an XML body.
pub fn xml(status: StatusCode, doc: String) -> Response {
    let mut resp = Response::new(body::full(doc));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// An empty response.
pub fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = status;
    resp
}

/// Sets a header when the value is a valid header value (others are skipped).
pub fn set_header(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        headers.insert(n, v);
    }
}

/// Renders an S3 error. HEAD responses carry no body, as S3's.
pub fn error_response(err: &ApiError, request_id: &str, host_id: &str, head: bool) -> Response {
    if head {
        return empty(err.status);
    }
    let mut w = xml::XmlWriter::new_plain("Error");
    w.elem("Code", err.code).elem("Message", &err.message);
    for (name, value) in &err.extra {
        w.elem(name, value);
    }
    w.opt("Resource", err.resource.as_deref());
    w.elem("RequestId", request_id).elem("HostId", host_id);
    xml(err.status, w.finish("Error"))
}

/// S3's date format in listings: ISO 8601 with milliseconds, `2009-10-12T17:50:30.000Z`.
pub fn iso8601_millis(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// HTTP date (RFC 1123), as `Last-Modified` carries it.
pub fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosts() {
        for (host, bucket) in [
            ("photos.s3.localhost.localstack.cloud", Some("photos")),
            ("photos.s3.localhost.localstack.cloud:4566", Some("photos")),
            (
                "photos.s3.eu-west-1.localhost.localstack.cloud",
                Some("photos"),
            ),
            (
                "my.dotted.bucket.s3.amazonaws.com",
                Some("my.dotted.bucket"),
            ),
            ("photos.s3.us-west-2.amazonaws.com", Some("photos")),
            ("photos.s3-us-west-2.amazonaws.com", Some("photos")),
            ("photos.localhost:4566", Some("photos")),
            ("localhost", None),
            ("localhost:4566", None),
            ("127.0.0.1:4566", None),
            ("127.1.2.3", None),
            ("[::1]:4566", None),
            ("s3.localhost.localstack.cloud:4566", None),
            ("localhost.localstack.cloud", None),
            ("s3.amazonaws.com", None),
            ("s3.us-west-2.amazonaws.com", None),
            ("s3-us-west-2.amazonaws.com", None),
        ] {
            assert_eq!(bucket_from_host(host).as_deref(), bucket, "{host}");
        }
    }

    fn op(method: Method, uri: &str, host: &str) -> ApiResult<Operation> {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        decode(&method, &uri.parse().unwrap(), &headers)
    }

    #[test]
    fn routes() {
        let o = |b: &str, k: &str| ObjectRef {
            bucket: b.into(),
            key: k.into(),
        };
        assert_eq!(
            op(Method::GET, "/", "localhost").unwrap(),
            Operation::ListBuckets { prefix: None }
        );
        assert_eq!(
            op(Method::GET, "/b/a%20b+c/../d?x-id=GetObject", "localhost").unwrap(),
            Operation::GetObject(o("b", "a b+c/../d"), vec![])
        );
        assert_eq!(
            op(
                Method::PUT,
                "/k%2Fx",
                "b.s3.localhost.localstack.cloud:4566"
            )
            .unwrap(),
            Operation::PutObject(o("b", "k/x"))
        );
        assert_eq!(
            op(Method::GET, "/b?tagging", "localhost").unwrap(),
            Operation::NotImplemented("GetBucketTagging")
        );
        assert_eq!(
            op(Method::POST, "/b/k?select&select-type=2", "localhost").unwrap(),
            Operation::NotImplemented("SelectObjectContent")
        );
        assert!(matches!(
            op(Method::GET, "/b?list-type=2&max-keys=2", "localhost").unwrap(),
            Operation::ListObjectsV2 { input, .. } if input.max_keys == 2
        ));
        assert_eq!(
            op(Method::PATCH, "/b/k", "localhost").unwrap_err().code,
            "MethodNotAllowed"
        );
        let long = format!("/b/{}", "k".repeat(1025));
        assert_eq!(
            op(Method::PUT, &long, "localhost").unwrap_err().code,
            "KeyTooLongError"
        );
        assert_eq!(
            op(Method::GET, "/b/%FF", "localhost").unwrap_err().code,
            "InvalidURI"
        );
    }

    #[test]
    fn ranges() {
        let r = |h: &str, size| parse_range(h, size).map(|r| r.map(|r| (r.start, r.end)));
        assert_eq!(r("bytes=0-4", 10).unwrap(), Some((0, 4)));
        assert_eq!(r("bytes=5-", 10).unwrap(), Some((5, 9)));
        assert_eq!(r("bytes=-3", 10).unwrap(), Some((7, 9)));
        assert_eq!(r("bytes=-30", 10).unwrap(), Some((0, 9)));
        assert_eq!(r("bytes=2-100", 10).unwrap(), Some((2, 9)));
        assert_eq!(r("bytes=10-", 10).unwrap_err().code, "InvalidRange");
        assert_eq!(r("bytes=0-1", 0).unwrap_err().code, "InvalidRange");
        assert_eq!(r("bytes=-0", 10).unwrap_err().code, "InvalidRange");
        assert_eq!(r("bytes=5-2", 10).unwrap(), None);
        assert_eq!(r("bytes=0-1,3-4", 10).unwrap(), None);
        assert_eq!(r("items=0-1", 10).unwrap(), None);
        assert_eq!(r("bytes=x-1", 10).unwrap(), None);
    }

    #[test]
    fn encodes_like_s3() {
        assert_eq!(form_encode("a b/c+d%é"), "a+b/c%2Bd%25%C3%A9");
        assert_eq!(iso8601_millis(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
