//! CloudWatch Logs' wire protocol: AWS JSON 1.1.
//!
//! Requests are `POST /` with `X-Amz-Target: Logs_20140328.<Operation>` and a JSON
//! object body; answers are `application/x-amz-json-1.1` objects, errors
//! `{"__type": "<Shape>", "message": "…"}` with the shape's status (400 for every
//! modeled error of the operations slcl implements).

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use slcl_core::{body, AwsError, Response};

/// The `X-Amz-Target` prefix of every operation.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// The answers' content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// One decoded request.
#[derive(Debug, Clone)]
pub struct Call {
    /// Operation name, such as `PutLogEvents`.
    pub operation: String,
    /// The JSON body.
    pub input: Map<String, Value>,
}

/// Decodes a request from its headers and body.
pub fn decode(headers: &http::HeaderMap, body: &Bytes) -> Result<Call, AwsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .filter(|op| !op.is_empty())
        .ok_or_else(|| {
            AwsError::bad_request(
                "UnknownOperationException",
                format!("X-Amz-Target `{target}` is not a CloudWatch Logs operation"),
            )
        })?
        .to_string();
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(AwsError::bad_request(
                    "SerializationException",
                    "The request body must be a JSON object.",
                ))
            }
            Err(e) => {
                return Err(AwsError::bad_request(
                    "SerializationException",
                    format!("The request body is not valid JSON: {e}"),
                ))
            }
        }
    };
    Ok(Call { operation, input })
}

/// A successful answer.
pub fn respond(output: Value, request_id: &str) -> Response {
    with_headers(StatusCode::OK, output.to_string(), request_id)
}

/// An error answer.
pub fn error_response(err: &AwsError, request_id: &str) -> Response {
    let doc = serde_json::json!({ "__type": err.code, "message": err.message });
    with_headers(err.status, doc.to_string(), request_id)
}

fn with_headers(status: StatusCode, text: String, request_id: &str) -> Response {
    let mut resp = Response::new(body::full(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
