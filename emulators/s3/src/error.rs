//! Errors: [`S3Error`] at the crate's Rust API, [`ApiError`] for S3's XML error
//! responses (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).

use http::StatusCode;

/// Errors from [`crate::S3Service`]'s Rust API (not from requests: those become S3
/// XML error responses).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] slcl_store::StoreError),
    /// SQLite failed.
    #[error("S3 state database failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// A bucket name breaks AWS's naming rules.
    #[error("`{0}` is not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens; see https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)")]
    InvalidBucketName(String),
    /// No bucket with that name.
    #[error("no S3 bucket named `{0}`")]
    NoSuchBucket(String),
}

/// An S3 error response: status, code, message and the extra elements S3 adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// S3 error code, such as `NoSuchKey`.
    pub code: &'static str,
    /// Message as S3 words it.
    pub message: String,
    /// The bucket or object the error is about; filled from the request path if unset.
    pub resource: Option<String>,
    /// Further elements of `<Error>`, such as `<BucketName>` or `<Key>`.
    pub extra: Vec<(&'static str, String)>,
}

/// Result of one S3 operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with no extra elements.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
        }
    }

    /// Adds an extra element.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.extra.push((name, value.into()));
        self
    }

    /// Sets `<Resource>`.
    pub fn resource(mut self, resource: impl Into<String>) -> ApiError {
        self.resource = Some(resource.into());
        self
    }

    /// 404 NoSuchBucket.
    pub fn no_such_bucket(bucket: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .with("BucketName", bucket)
    }

    /// 404 NoSuchKey.
    pub fn no_such_key(key: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    /// 409 BucketAlreadyOwnedByYou.
    pub fn bucket_already_owned(bucket: &str) -> ApiError {
        Self::new(
            StatusCode::CONFLICT,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .with("BucketName", bucket)
    }

    /// 409 BucketNotEmpty.
    pub fn bucket_not_empty(bucket: &str) -> ApiError {
        Self::new(
            StatusCode::CONFLICT,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", bucket)
    }

    /// 400 InvalidBucketName.
    pub fn invalid_bucket_name(bucket: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", bucket)
    }

    /// 416 InvalidRange.
    pub fn invalid_range(range: &str, size: u64) -> ApiError {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", range)
        .with("ActualObjectSize", size.to_string())
    }

    /// 404 NoSuchUpload.
    pub fn no_such_upload(upload_id: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// 400 InvalidPart.
    pub fn invalid_part(upload_id: &str, part_number: i64, etag: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidPart",
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
        )
        .with("UploadId", upload_id)
        .with("PartNumber", part_number.to_string())
        .with("ETag", etag)
    }

    /// 400 InvalidPartOrder.
    pub fn invalid_part_order(upload_id: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
        .with("UploadId", upload_id)
    }

    /// 400 MalformedXML.
    pub fn malformed_xml() -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// 400 InvalidArgument naming the argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// 400 InvalidRequest.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// 501 NotImplemented naming the operation.
    pub fn not_implemented(operation: &str) -> ApiError {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("The S3 operation {operation} is not supported by slcl yet"),
        )
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str, resource_type: &str) -> ApiError {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
        .with("Method", method)
        .with("ResourceType", resource_type)
    }

    /// 400 KeyTooLongError.
    pub fn key_too_long(len: usize) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLongError",
            "Your key is too long",
        )
        .with("MaxSizeAllowed", "1024")
        .with("Size", len.to_string())
    }

    /// 400 BadDigest for a Content-MD5 mismatch.
    pub fn bad_digest_md5(expected: &str, calculated: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        )
        .with("ExpectedDigest", expected)
        .with("CalculatedDigest", calculated)
    }

    /// 400 BadDigest for a flexible checksum mismatch.
    pub fn bad_checksum(algorithm: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            format!("The {algorithm} you specified did not match the calculated checksum."),
        )
    }

    /// 400 InvalidDigest.
    pub fn invalid_digest(value: &str) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidDigest",
            "The Content-MD5 you specified was invalid.",
        )
        .with("Content-MD5", value)
    }

    /// 412 PreconditionFailed.
    pub fn precondition_failed(condition: &str) -> ApiError {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", condition)
    }

    /// 400 IncompleteBody.
    pub fn incomplete_body() -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        )
    }

    /// 400 EntityTooLarge.
    pub fn entity_too_large(size: u64, max: u64) -> ApiError {
        Self::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with("ProposedSize", size.to_string())
        .with("MaxSizeAllowed", max.to_string())
    }

    /// 500 InternalError: I/O or database failures only, never bad input.
    pub fn internal(context: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %context, "S3 internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(format_args!("state database: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::internal(format_args!("blob I/O: {e}"))
    }
}

impl From<S3Error> for ApiError {
    fn from(e: S3Error) -> ApiError {
        match e {
            S3Error::NoSuchBucket(b) => ApiError::no_such_bucket(&b),
            S3Error::InvalidBucketName(b) => ApiError::invalid_bucket_name(&b),
            other => ApiError::internal(other),
        }
    }
}
