use http::StatusCode;

/// An error as AWS reports it: an HTTP status, an error code and a message.
///
/// Each protocol (restXml, restJson, JSON, query) renders it in its own format; the
/// code and status come from the botocore model of the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct AwsError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// AWS error code, such as `NoSuchBucket`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl AwsError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with the given code.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 501 `NotImplemented` naming the operation slcl does not support yet.
    pub fn not_implemented(service: &str, operation: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("The {service} operation {operation} is not supported by slcl yet"),
        )
    }

    /// 500 `InternalError`: only for bugs and I/O failures, never for bad input.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }
}
