//! Lambda's restJson protocol: request routing by method and URI (the table in
//! `routes.rs` comes from botocore's model), and Lambda's JSON responses and errors.
//!
//! Errors carry the code in the `x-amzn-ErrorType` header and a body of
//! `{"Type": "User", "message": "..."}`, as Lambda answers
//! (<https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html>).

use http::{HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use slcl_core::{body, AwsError, Response};

#[path = "routes.rs"]
mod routes;

/// A decoded Lambda API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `POST /2015-03-31/functions/{FunctionName}/invocations`.
    Invoke {
        /// Function name, ARN or partial ARN, possibly with `:qualifier`.
        function: String,
        /// `Qualifier` query parameter.
        qualifier: Option<String>,
        /// `X-Amz-Invocation-Type`: `RequestResponse` (default), `Event` or `DryRun`.
        invocation_type: String,
        /// `X-Amz-Log-Type`: `None` (default) or `Tail`.
        log_type: String,
        /// `X-Amz-Client-Context`, base64 JSON.
        client_context: Option<String>,
    },
    /// `GET /2015-03-31/functions/{FunctionName}`.
    GetFunction {
        /// Function name or ARN.
        function: String,
        /// `Qualifier` query parameter.
        qualifier: Option<String>,
    },
    /// `GET /2015-03-31/functions/{FunctionName}/configuration`.
    GetFunctionConfiguration {
        /// Function name or ARN.
        function: String,
        /// `Qualifier` query parameter.
        qualifier: Option<String>,
    },
    /// `GET /2015-03-31/functions/`.
    ListFunctions {
        /// Pagination marker from a previous `NextMarker`.
        marker: Option<String>,
        /// Page size, 1 to 10000 (default 50).
        max_items: usize,
    },
    /// `POST /2015-03-31/event-source-mappings` (the body is read by the operation).
    CreateEventSourceMapping,
    /// `PUT /2015-03-31/event-source-mappings/{UUID}`.
    UpdateEventSourceMapping {
        /// Mapping id.
        uuid: String,
    },
    /// `GET /2015-03-31/event-source-mappings/{UUID}`.
    GetEventSourceMapping {
        /// Mapping id.
        uuid: String,
    },
    /// `DELETE /2015-03-31/event-source-mappings/{UUID}`.
    DeleteEventSourceMapping {
        /// Mapping id.
        uuid: String,
    },
    /// `GET /2015-03-31/event-source-mappings`.
    ListEventSourceMappings {
        /// `EventSourceArn` filter.
        event_source_arn: Option<String>,
        /// `FunctionName` filter.
        function: Option<String>,
        /// Pagination marker from a previous `NextMarker`.
        marker: Option<String>,
        /// Page size, 1 to 10000 (at most 100 are returned).
        max_items: usize,
    },
    /// Any other operation of the model, with its URI labels and query string; the
    /// operation modules pick the ones they implement (see `operations.rs`).
    Call(Call),
}

/// An operation decoded only as far as its name, URI labels and query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation name, as in botocore's model (`CreateFunction`).
    pub name: &'static str,
    /// URI labels (`FunctionName`, `Name`...), percent-decoded.
    pub labels: Vec<(String, String)>,
    /// Query parameters, percent-decoded.
    pub query: Vec<(String, String)>,
}

impl Call {
    /// The URI label `key`, or empty.
    pub fn label(&self, key: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// The query parameter `key`, if present.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `MaxItems` query parameter: 1 to 10000, `default` when absent.
    pub fn max_items(&self, default: usize) -> Result<usize, AwsError> {
        max_items(self.query("MaxItems").map(str::to_owned), default)
    }
}

/// Works out the operation from method, path and query.
pub fn decode(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> Result<Operation, AwsError> {
    let (name, params) = route(method.as_str(), path, query).ok_or_else(|| {
        AwsError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("Unknown operation {method} {path}"),
        )
    })?;
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let q = |key: &str| query_param(query, key);
    let header = |key: &str| {
        headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(match name {
        "Invoke" => Operation::Invoke {
            function: param("FunctionName"),
            qualifier: q("Qualifier"),
            invocation_type: header("x-amz-invocation-type")
                .unwrap_or_else(|| "RequestResponse".into()),
            log_type: header("x-amz-log-type").unwrap_or_else(|| "None".into()),
            client_context: header("x-amz-client-context"),
        },
        "GetFunction" => Operation::GetFunction {
            function: param("FunctionName"),
            qualifier: q("Qualifier"),
        },
        "GetFunctionConfiguration" => Operation::GetFunctionConfiguration {
            function: param("FunctionName"),
            qualifier: q("Qualifier"),
        },
        "CreateEventSourceMapping" => Operation::CreateEventSourceMapping,
        "UpdateEventSourceMapping" => Operation::UpdateEventSourceMapping {
            uuid: param("UUID"),
        },
        "GetEventSourceMapping" => Operation::GetEventSourceMapping {
            uuid: param("UUID"),
        },
        "DeleteEventSourceMapping" => Operation::DeleteEventSourceMapping {
            uuid: param("UUID"),
        },
        "ListEventSourceMappings" => Operation::ListEventSourceMappings {
            event_source_arn: q("EventSourceArn"),
            function: q("FunctionName"),
            marker: q("Marker"),
            max_items: max_items(q("MaxItems"), 100)?,
        },
        "ListFunctions" => {
            let max_items = match q("MaxItems") {
                None => 50,
                Some(v) => match v.parse::<usize>() {
                    Ok(n) if (1..=10000).contains(&n) => n,
                    _ => {
                        return Err(invalid_parameter(format!(
                            "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
                        )))
                    }
                },
            };
            Operation::ListFunctions {
                marker: q("Marker"),
                max_items,
            }
        }
        other => Operation::Call(Call {
            name: other,
            labels: params,
            query: query_pairs(query),
        }),
    })
}

/// A `MaxItems` query parameter: 1 to 10000, `default` when absent.
fn max_items(value: Option<String>, default: usize) -> Result<usize, AwsError> {
    match value {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10000).contains(&n) => Ok(n),
            _ => Err(invalid_parameter(format!(
                "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
            ))),
        },
    }
}

/// Finds the route for `method`, `path` and `query`: the operation name and the URI
/// labels.
fn route(
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Option<(&'static str, Vec<(String, String)>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let query = query_pairs(query);
    routes::ROUTES
        .iter()
        .filter(|(m, _, _)| *m == method)
        .filter_map(|(_, pattern, name)| {
            // A required query parameter makes the route more literal than one without.
            let (pattern, required) = match pattern.split_once('?') {
                Some((p, pair)) => {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !query.iter().any(|(qk, qv)| qk == k && qv == v) {
                        return None;
                    }
                    (p, 0)
                }
                None => (*pattern, 1),
            };
            let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').skip(1).collect();
            if pat.len() != segments.len() {
                return None;
            }
            let mut params = Vec::new();
            let mut labels = 0;
            for (p, s) in pat.iter().zip(&segments) {
                if let Some(label) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    let value = percent_decode_str(s).decode_utf8_lossy().into_owned();
                    params.push((label.trim_end_matches('+').to_string(), value));
                    labels += 1;
                } else if p != s {
                    return None;
                }
            }
            Some(((labels, required), *name, params))
        })
        // The most literal pattern wins.
        .min_by_key(|(rank, _, _)| *rank)
        .map(|(_, name, params)| (name, params))
}

/// Every `key=value` pair of a query string, percent-decoded.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |v: &str| {
        percent_decode_str(&v.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| {
            percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// `InvalidParameterValueException` (400).
pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidParameterValueException", message)
}

/// `ResourceNotFoundException` (404) for a function ARN.
pub fn function_not_found(arn: &str) -> AwsError {
    AwsError::not_found(
        "ResourceNotFoundException",
        format!("Function not found: {arn}"),
    )
}

/// Encodes an error as Lambda does.
pub fn error_response(err: &AwsError, request_id: &str) -> Response {
    let kind = if err.status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let doc = serde_json::json!({"Type": kind, "message": err.message});
    let mut resp = json_response(err.status, &doc, request_id);
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

/// A JSON response with Lambda's request-id header.
pub fn json_response(status: StatusCode, doc: &Value, request_id: &str) -> Response {
    bytes_response(status, doc.to_string().into(), request_id)
}

/// A response with a JSON payload given as bytes.
pub fn bytes_response(status: StatusCode, payload: bytes::Bytes, request_id: &str) -> Response {
    let mut resp = Response::new(body::full(payload));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str, query: Option<&str>) -> Result<Operation, AwsError> {
        decode(&method, path, query, &http::HeaderMap::new())
    }

    #[test]
    fn a_query_parameter_tells_operations_on_one_path_apart() {
        let name = |path: &str, query: Option<&str>| match op(Method::GET, path, query) {
            Ok(Operation::Call(call)) => call.name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name("/2018-10-31/layers", None), "ListLayers");
        assert_eq!(
            name(
                "/2018-10-31/layers",
                Some("find=LayerVersion&Arn=arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Alayer%3Ax%3A1")
            ),
            "GetLayerVersionByArn"
        );
        let path = "/2019-09-30/functions/f/provisioned-concurrency";
        assert_eq!(
            name(path, Some("List=ALL")),
            "ListProvisionedConcurrencyConfigs"
        );
        assert_eq!(
            name(path, Some("Qualifier=1")),
            "GetProvisionedConcurrencyConfig"
        );
    }

    #[test]
    fn routes_known_operations() {
        assert_eq!(
            op(
                Method::POST,
                "/2015-03-31/functions/my%3Afn/invocations",
                Some("Qualifier=%24LATEST")
            )
            .unwrap(),
            Operation::Invoke {
                function: "my:fn".into(),
                qualifier: Some("$LATEST".into()),
                invocation_type: "RequestResponse".into(),
                log_type: "None".into(),
                client_context: None,
            }
        );
        assert_eq!(
            op(Method::GET, "/2015-03-31/functions/", Some("MaxItems=2")).unwrap(),
            Operation::ListFunctions {
                marker: None,
                max_items: 2
            }
        );
        assert_eq!(
            op(Method::GET, "/2015-03-31/functions/f/configuration", None).unwrap(),
            Operation::GetFunctionConfiguration {
                function: "f".into(),
                qualifier: None
            }
        );
        assert_eq!(
            op(Method::POST, "/2015-03-31/functions", None).unwrap(),
            Operation::Call(Call {
                name: "CreateFunction",
                labels: vec![],
                query: vec![]
            })
        );
        assert_eq!(
            op(
                Method::GET,
                "/2015-03-31/functions/f/aliases",
                Some("FunctionVersion=3&Marker=a%20b")
            )
            .unwrap(),
            Operation::Call(Call {
                name: "ListAliases",
                labels: vec![("FunctionName".into(), "f".into())],
                query: vec![
                    ("FunctionVersion".into(), "3".into()),
                    ("Marker".into(), "a b".into())
                ]
            })
        );
        assert_eq!(
            op(Method::GET, "/nope", None).unwrap_err().code,
            "UnknownOperationException"
        );
        assert!(op(Method::GET, "/2015-03-31/functions/", Some("MaxItems=0")).is_err());
    }
}
