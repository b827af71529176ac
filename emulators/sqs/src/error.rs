//! Errors: [`SqsError`] at the crate's Rust API, [`ApiError`] for the error responses
//! of both protocols.
//!
//! SQS moved from the query protocol to JSON keeping its old error codes: every
//! modeled error has a shape name (the JSON `__type`, such as `QueueDoesNotExist`) and
//! a query code (`AWS.SimpleQueueService.NonExistentQueue`) with its HTTP status. The
//! JSON protocol sends the shape name in the body and the query code in the
//! `x-amzn-query-error` header, which is what SDKs report as the error code; the query
//! protocol sends the query code in `<ErrorResponse>`. The pairs below come from the
//! `awsQueryError` traits of the SQS Smithy model.

use http::StatusCode;

/// Errors from [`crate::SqsService`]'s Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] slcl_store::StoreError),
    /// SQLite failed.
    #[error("SQS state database failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// SQS refused the call as it would refuse the same API request (the queue does
    /// not exist, an attribute value is invalid, a receipt handle is invalid...).
    #[error("{}: {}", .0.query_code, .0.message)]
    Api(ApiError),
}

impl SqsError {
    /// The AWS error code a client would see (the query code, such as
    /// `AWS.SimpleQueueService.NonExistentQueue`), if this is an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            SqsError::Api(e) => Some(e.query_code),
            _ => None,
        }
    }
}

impl From<ApiError> for SqsError {
    fn from(e: ApiError) -> Self {
        SqsError::Api(e)
    }
}

/// An SQS error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Shape name in the model, the JSON protocol's `__type` (`QueueDoesNotExist`).
    pub shape: &'static str,
    /// Query-protocol code (`AWS.SimpleQueueService.NonExistentQueue`).
    pub query_code: &'static str,
    /// HTTP status.
    pub status: StatusCode,
    /// Message as SQS words it.
    pub message: String,
    /// `Sender` (client fault) or `Receiver` (server fault).
    pub sender_fault: bool,
}

/// Result of one SQS operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A client-fault error.
    pub fn new(
        shape: &'static str,
        query_code: &'static str,
        status: StatusCode,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            shape,
            query_code,
            status,
            message: message.into(),
            sender_fault: true,
        }
    }

    fn bad(shape: &'static str, query_code: &'static str, message: impl Into<String>) -> Self {
        Self::new(shape, query_code, StatusCode::BAD_REQUEST, message)
    }

    /// `QueueDoesNotExist` / `AWS.SimpleQueueService.NonExistentQueue`, 400.
    pub fn queue_does_not_exist() -> Self {
        Self::bad(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    /// `QueueNameExists` / `QueueAlreadyExists`, 400.
    pub fn queue_name_exists(attribute: &str) -> Self {
        Self::bad(
            "QueueNameExists",
            "QueueAlreadyExists",
            format!("A queue already exists with the same name and a different value for attribute {attribute}"),
        )
    }

    /// `QueueDeletedRecently`, 400.
    pub fn queue_deleted_recently() -> Self {
        Self::bad(
            "QueueDeletedRecently",
            "AWS.SimpleQueueService.QueueDeletedRecently",
            "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
        )
    }

    /// `PurgeQueueInProgress`, 403.
    pub fn purge_in_progress(queue: &str) -> Self {
        Self::new(
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            StatusCode::FORBIDDEN,
            format!("Only one PurgeQueue operation on {queue} is allowed every 60 seconds."),
        )
    }

    /// `InvalidParameterValue`, 400 (not a modeled shape; SDKs see the query code).
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::bad(
            "InvalidParameterValueException",
            "InvalidParameterValue",
            message,
        )
    }

    /// `InvalidParameterValue` in AWS's "Value x for parameter y is invalid" form.
    pub fn invalid_value(parameter: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        Self::invalid_parameter_value(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
        ))
    }

    /// `MissingParameter`, 400.
    pub fn missing_parameter(parameter: &str) -> Self {
        Self::bad(
            "MissingRequiredParameterException",
            "MissingParameter",
            format!("The request must contain the parameter {parameter}."),
        )
    }

    /// `InvalidAttributeName`, 400.
    pub fn invalid_attribute_name(name: &str) -> Self {
        Self::bad(
            "InvalidAttributeName",
            "InvalidAttributeName",
            format!("Unknown Attribute {name}."),
        )
    }

    /// `InvalidAttributeValue`, 400.
    pub fn invalid_attribute_value(name: &str, reason: Option<&str>) -> Self {
        let message = match reason {
            Some(r) => format!("Invalid value for the parameter {name}. Reason: {r}"),
            None => format!("Invalid value for the parameter {name}."),
        };
        Self::bad("InvalidAttributeValue", "InvalidAttributeValue", message)
    }

    /// `InvalidMessageContents`, 400.
    pub fn invalid_message_contents() -> Self {
        Self::bad(
            "InvalidMessageContents",
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    }

    /// `ReceiptHandleIsInvalid`, 404.
    pub fn receipt_handle_invalid(handle: &str) -> Self {
        Self::new(
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            StatusCode::NOT_FOUND,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    }

    /// `MessageNotInflight`, 400.
    pub fn message_not_inflight() -> Self {
        Self::bad(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            "The message referred to isn't in flight.",
        )
    }

    /// `EmptyBatchRequest`, 400.
    pub fn empty_batch(entry: &str) -> Self {
        Self::bad(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            format!("There should be at least one {entry} in the request."),
        )
    }

    /// `TooManyEntriesInBatchRequest`, 400.
    pub fn too_many_entries(count: usize) -> Self {
        Self::bad(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {count}."),
        )
    }

    /// `BatchEntryIdsNotDistinct`, 400.
    pub fn ids_not_distinct(id: &str) -> Self {
        Self::bad(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            format!("Id {id} repeated."),
        )
    }

    /// `InvalidBatchEntryId`, 400.
    pub fn invalid_batch_entry_id() -> Self {
        Self::bad(
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        )
    }

    /// `BatchRequestTooLong`, 400.
    pub fn batch_too_long(limit: usize, sent: usize) -> Self {
        Self::bad(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes."
            ),
        )
    }

    /// `UnsupportedOperation`, 400.
    pub fn unsupported_operation(message: impl Into<String>) -> Self {
        Self::bad(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            message,
        )
    }

    /// `OverLimit`, 403.
    pub fn over_limit(message: impl Into<String>) -> Self {
        Self::new("OverLimit", "OverLimit", StatusCode::FORBIDDEN, message)
    }

    /// `ResourceNotFoundException`, 404.
    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(
            "ResourceNotFoundException",
            "ResourceNotFoundException",
            StatusCode::NOT_FOUND,
            message,
        )
    }

    /// `InvalidAddress`, 404: a QueueUrl that is not a queue URL.
    pub fn invalid_address(url: &str) -> Self {
        Self::new(
            "InvalidAddress",
            "InvalidAddress",
            StatusCode::NOT_FOUND,
            format!("The address {url} is not valid for this endpoint."),
        )
    }

    /// `InvalidAction`, 400: an operation SQS does not have.
    pub fn invalid_action(action: &str) -> Self {
        Self::bad(
            "UnknownOperationException",
            "InvalidAction",
            format!("The action {action} is not valid for this endpoint."),
        )
    }

    /// A request body that cannot be read (malformed JSON, ...), 400.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::bad("SerializationException", "MalformedInput", message)
    }

    /// 500 for bugs and storage failures, never for bad input.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            shape: "InternalError",
            query_code: "InternalError",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            sender_fault: false,
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "SQS state database failed");
        ApiError::internal(format!("SQS state database failed: {e}"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %e, "SQS internal failure");
        ApiError::internal(format!("{e:#}"))
    }
}
