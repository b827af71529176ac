//! SQS's two wire protocols, decoded into one shape.
//!
//! Current SDKs and the aws CLI speak the JSON protocol (`X-Amz-Target:
//! AmazonSQS.<Operation>`, `application/x-amz-json-1.0`); older clients and hand-made
//! requests speak the query protocol (`Action=<Operation>` form parameters, XML
//! answers in the `http://queue.amazonaws.com/doc/2012-11-05/` namespace).
//!
//! [`decode`] turns either into a [`Call`]: the operation name and its input as a JSON
//! object shaped like the JSON protocol's request (the [`query`] module maps
//! `Attribute.1.Name`-style parameters onto `Attributes` maps and lists). Operations
//! answer a JSON object shaped like the JSON protocol's response, which [`respond`]
//! sends as is or converts to the query protocol's XML. Errors go out in the format of
//! the protocol the client used ([`error_response`]).

pub mod query;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::{Map, Value};
use slcl_core::{body, Response};

use crate::error::ApiError;

/// The XML namespace of query-protocol answers.
pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// Which protocol a request used; answers use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` + JSON body.
    Json,
    /// `Action=` form or query parameters, XML answers.
    Query,
}

/// One decoded request.
#[derive(Debug, Clone)]
pub struct Call {
    /// The protocol it came in.
    pub protocol: Protocol,
    /// Operation name, such as `SendMessage`.
    pub action: String,
    /// Input, shaped like the JSON protocol's request object.
    pub input: Map<String, Value>,
}

/// Which protocol a request speaks, from its headers alone (for error answers before
/// the body is read).
pub fn protocol_of(headers: &http::HeaderMap) -> Protocol {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if headers.contains_key("x-amz-target") || json_type {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

/// Decodes a request. Query-protocol requests posted to a queue's own URL
/// (`/<account>/<name>`) get that URL as their `QueueUrl` unless they name one.
pub fn decode(
    headers: &http::HeaderMap,
    uri: &http::Uri,
    body: &Bytes,
    queue_url_from_path: Option<String>,
) -> Result<Call, ApiError> {
    match protocol_of(headers) {
        Protocol::Json => {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let action = target
                .strip_prefix("AmazonSQS.")
                .ok_or_else(|| ApiError::invalid_action(target))?
                .to_string();
            let input = if body.iter().all(u8::is_ascii_whitespace) {
                Map::new()
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => {
                        return Err(ApiError::malformed(
                            "The request body must be a JSON object.",
                        ))
                    }
                    Err(e) => {
                        return Err(ApiError::malformed(format!(
                            "The request body is not valid JSON: {e}"
                        )))
                    }
                }
            };
            Ok(Call {
                protocol: Protocol::Json,
                action,
                input,
            })
        }
        Protocol::Query => {
            let mut pairs = query::parse_form(uri.query().unwrap_or(""));
            let form = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.contains("x-www-form-urlencoded"));
            if form && !body.is_empty() {
                pairs.extend(query::parse_form(&String::from_utf8_lossy(body)));
            }
            let action = pairs
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ApiError::missing_parameter("Action"))?;
            let mut input = query::params_to_input(&pairs);
            if let Some(url) = queue_url_from_path {
                input.entry("QueueUrl").or_insert(Value::String(url));
            }
            Ok(Call {
                protocol: Protocol::Query,
                action,
                input,
            })
        }
    }
}

/// A successful answer: the JSON object as is, or as the query protocol's XML.
pub fn respond(protocol: Protocol, action: &str, output: Value, request_id: &str) -> Response {
    match protocol {
        Protocol::Json => {
            let text = output.to_string();
            with_headers(
                StatusCode::OK,
                "application/x-amz-json-1.0",
                text,
                request_id,
            )
        }
        Protocol::Query => {
            let text = query::to_xml(action, &output, request_id);
            with_headers(StatusCode::OK, "text/xml", text, request_id)
        }
    }
}

/// An error answer in the client's protocol.
pub fn error_response(protocol: Protocol, err: &ApiError, request_id: &str) -> Response {
    let fault = if err.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    let mut resp = match protocol {
        Protocol::Json => {
            let doc = serde_json::json!({
                "__type": format!("com.amazonaws.sqs#{}", err.shape),
                "message": err.message,
            });
            with_headers(
                err.status,
                "application/x-amz-json-1.0",
                doc.to_string(),
                request_id,
            )
        }
        Protocol::Query => with_headers(
            err.status,
            "text/xml",
            query::error_xml(err, fault, request_id),
            request_id,
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", err.query_code)) {
        resp.headers_mut().insert("x-amzn-query-error", v);
    }
    resp
}

fn with_headers(
    status: StatusCode,
    content_type: &'static str,
    text: String,
    request_id: &str,
) -> Response {
    let mut resp = Response::new(body::full(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
