//! Errors: [`LogsError`] at the crate's Rust API; API errors are
//! [`slcl_core::AwsError`] values whose `code` is the model's shape name, sent as the
//! JSON `__type`.

use http::StatusCode;
use slcl_core::AwsError;

/// Errors from [`crate::LogsService`]'s Rust API.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] slcl_store::StoreError),
    /// SQLite failed.
    #[error("CloudWatch Logs state database failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// CloudWatch Logs refused the call as it would refuse the same API request.
    #[error(transparent)]
    Api(#[from] AwsError),
}

/// Result of one operation.
pub type ApiResult<T> = Result<T, AwsError>;

/// `ResourceNotFoundException`, 400.
pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "ResourceNotFoundException",
        message,
    )
}

/// `ResourceAlreadyExistsException`, 400.
pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "ResourceAlreadyExistsException",
        message,
    )
}

/// `InvalidParameterException`, 400.
pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
        message,
    )
}

/// The log group does not exist.
pub fn no_group() -> AwsError {
    not_found("The specified log group does not exist.")
}

/// The log stream does not exist.
pub fn no_stream() -> AwsError {
    not_found("The specified log stream does not exist.")
}

/// SQLite failed inside an operation: a 500, logged.
pub fn db(e: rusqlite::Error) -> AwsError {
    tracing::error!(error = %e, "CloudWatch Logs state database failed");
    AwsError::internal(format!("CloudWatch Logs state database failed: {e}"))
}
