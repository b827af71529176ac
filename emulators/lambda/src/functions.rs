//! The function control plane: CreateFunction, UpdateFunctionCode,
//! UpdateFunctionConfiguration, DeleteFunction, versions and aliases.

use http::StatusCode;
use serde_json::Value;
use slcl_core::AwsError;

use crate::protocol::Call;
use crate::LambdaService;

/// What an operation answers: a status and a JSON document (ignored for 204).
pub(crate) type Answer = Result<(StatusCode, Value), AwsError>;

impl LambdaService {
    /// Runs `call` if it is a function control-plane operation.
    pub(crate) async fn function_operation(&self, call: &Call, body: &Value) -> Option<Answer> {
        let _ = body;
        match call.name {
            _ => None,
        }
    }
}
