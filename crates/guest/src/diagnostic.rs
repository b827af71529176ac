//! How a handler error becomes the `{"errorType", "errorMessage"}` body the host reports.

use serde::{Deserialize, Serialize};
use std::any::type_name;

use crate::{deserializer::DeserializeError, Error};

/// Diagnostic information about a function error: what the host reports to the caller as
/// `{"errorType": ..., "errorMessage": ...}`.
///
/// A handler's error type must convert into `Diagnostic`. The conversions mirror the
/// `lambda_runtime` crate's, so the same handler reports the same `errorType` on AWS and
/// under slcl: [`error_type`](Diagnostic::error_type) is the [`std::any::type_name`] of a
/// reference to the error (e.g. `&alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>`
/// for [`Error`](crate::Error), `&alloc::boxed::Box<my_crate::MyError>` for a `Box<MyError>`),
/// and [`error_message`](Diagnostic::error_message) is its `Display` output.
///
/// Type names are not a stable way to tell errors apart. For a descriptive `errorType`,
/// implement `From<MyError> for Diagnostic`:
///
/// ```
/// use slcl_guest::{Diagnostic, LambdaEvent};
///
/// #[derive(Debug)]
/// struct ThumbnailError(String);
///
/// impl From<ThumbnailError> for Diagnostic {
///     fn from(error: ThumbnailError) -> Diagnostic {
///         Diagnostic { error_type: "ThumbnailError".into(), error_message: error.0 }
///     }
/// }
///
/// async fn handler(_event: LambdaEvent<serde_json::Value>) -> Result<(), ThumbnailError> {
///     Err(ThumbnailError("not an image".into()))
/// }
/// ```
#[derive(Debug, Eq, PartialEq, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The kind of error; serialized as `errorType`.
    pub error_type: String,
    /// A human-readable description; serialized as `errorMessage`.
    pub error_message: String,
}

/// Converts an error into a [`Diagnostic`]; implemented for the same types as
/// `lambda_runtime::IntoDiagnostic`.
pub trait IntoDiagnostic {
    /// Converts `self` into a [`Diagnostic`].
    fn into_diagnostic(self) -> Diagnostic;
}

fn type_name_of_val<T>(_: T) -> String {
    type_name::<T>().into()
}

/// Implements `IntoDiagnostic` and `From<T> for Diagnostic` for error-like types:
/// `errorType` is the type name of `&T` (as lambda_runtime does), `errorMessage` its `Display`.
macro_rules! diagnostic_from_display {
    ($($ty:ty),* $(,)?) => {$(
        impl IntoDiagnostic for $ty {
            fn into_diagnostic(self) -> Diagnostic {
                Diagnostic { error_type: type_name_of_val(&self), error_message: self.to_string() }
            }
        }
        impl From<$ty> for Diagnostic {
            fn from(value: $ty) -> Self {
                value.into_diagnostic()
            }
        }
    )*};
}

diagnostic_from_display!(
    DeserializeError,
    Error,
    Box<dyn std::error::Error>,
    String,
    &'static str,
    std::io::Error,
);

impl IntoDiagnostic for std::convert::Infallible {
    fn into_diagnostic(self) -> Diagnostic {
        match self {}
    }
}

impl From<std::convert::Infallible> for Diagnostic {
    fn from(value: std::convert::Infallible) -> Self {
        match value {}
    }
}

impl<T: std::error::Error> IntoDiagnostic for Box<T> {
    fn into_diagnostic(self) -> Diagnostic {
        Diagnostic {
            error_type: type_name_of_val(&self),
            error_message: self.to_string(),
        }
    }
}

impl<T: std::error::Error> From<Box<T>> for Diagnostic {
    fn from(value: Box<T>) -> Self {
        value.into_diagnostic()
    }
}
