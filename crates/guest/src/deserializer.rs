//! Turning the invocation body into the handler's event type.

use std::{error::Error, fmt};

use serde::de::DeserializeOwned;

const ERROR_CONTEXT: &str =
    "failed to deserialize the incoming data into the function's payload type";

/// The event JSON could not be deserialized into the type the handler takes.
///
/// Reported as a function error whose `errorType` is
/// `&slcl_guest::deserializer::DeserializeError` (lambda_runtime reports
/// `&lambda_runtime::deserializer::DeserializeError`), with the JSON path of the offending
/// field in the message.
#[derive(Debug)]
pub struct DeserializeError {
    inner: serde_path_to_error::Error<serde_json::Error>,
}

impl fmt::Display for DeserializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.inner.path().to_string();
        if path == "." {
            write!(f, "{ERROR_CONTEXT}: {}", self.inner.inner())
        } else {
            write!(f, "{ERROR_CONTEXT}: [{path}] {}", self.inner.inner())
        }
    }
}

impl Error for DeserializeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.inner.inner())
    }
}

/// Deserializes `body` as `T`, remembering the path of the field that failed.
pub(crate) fn deserialize<T: DeserializeOwned>(body: &[u8]) -> Result<T, DeserializeError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|inner| DeserializeError { inner })
}
