//! The behaviour of each CloudWatch Logs operation.
//!
//! Every operation takes its JSON input (an [`Input`]) and answers the JSON object of
//! its response shape. Submodules: [`groups`] (log groups, streams, retention, tags)
//! and [`events`] (PutLogEvents, GetLogEvents, FilterLogEvents). Every other
//! operation of the model answers `NotImplemented` naming it.

pub mod events;
pub mod groups;

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use slcl_core::AwsError;

use crate::error::{invalid, ApiResult};
use crate::LogsService;

/// Read access to an operation's input.
#[derive(Clone, Copy)]
pub struct Input<'a>(pub &'a Map<String, Value>);

/// AWS's wording for a missing required member.
fn missing(name: &str) -> AwsError {
    invalid(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}

impl<'a> Input<'a> {
    /// A string member.
    pub fn str(&self, name: &str) -> ApiResult<Option<&'a str>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(format!("Member {name} must be a string"))),
        }
    }

    /// A required string member.
    pub fn required(&self, name: &str) -> ApiResult<&'a str> {
        self.str(name)?.ok_or_else(|| missing(name))
    }

    /// An integer member.
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(format!("Member {name} must be an integer"))),
        }
    }

    /// A boolean member.
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(format!("Member {name} must be a boolean"))),
        }
    }

    /// A `limit` within `1..=max`, or `default`.
    pub fn limit(&self, name: &str, max: i64, default: i64) -> ApiResult<usize> {
        match self.int(name)? {
            None => Ok(default as usize),
            Some(n) if (1..=max).contains(&n) => Ok(n as usize),
            Some(n) => Err(invalid(format!(
                "1 validation error detected: Value '{n}' at '{name}' failed to satisfy constraint: Member must have value between 1 and {max}"
            ))),
        }
    }

    /// A list of strings, if present.
    pub fn strings(&self, name: &str) -> ApiResult<Option<Vec<String>>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("Member {name} must be a list of strings")))
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(invalid(format!("Member {name} must be a list"))),
        }
    }

    /// A map of strings (tags), if present.
    pub fn string_map(&self, name: &str) -> ApiResult<Option<BTreeMap<String, String>>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_string()))
                        .ok_or_else(|| {
                            invalid(format!("Member {name} must map strings to strings"))
                        })
                })
                .collect::<ApiResult<BTreeMap<_, _>>>()
                .map(Some),
            Some(_) => Err(invalid(format!("Member {name} must be a map"))),
        }
    }

    /// The list of objects `name`.
    pub fn objects(&self, name: &str) -> ApiResult<Option<Vec<Input<'a>>>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_object()
                        .map(Input)
                        .ok_or_else(|| invalid(format!("Member {name} must be a list of objects")))
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(invalid(format!("Member {name} must be a list"))),
        }
    }
}

/// Checks a log group name against the model: 1–512 of `[.-_/#A-Za-z0-9]`.
pub fn check_group_name(name: &str) -> ApiResult<()> {
    let ok = (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length between 1 and 512"
        )))
    }
}

/// Checks a log stream name against the model: 1–512 characters, no `:` or `*`.
pub fn check_stream_name(name: &str) -> ApiResult<()> {
    if (1..=512).contains(&name.len()) && !name.contains([':', '*']) {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]* and have length between 1 and 512"
        )))
    }
}

/// The log group name in a name or a log group ARN
/// (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`).
pub fn group_name_of(identifier: &str) -> ApiResult<&str> {
    if !identifier.starts_with("arn:") {
        return Ok(identifier);
    }
    let rest = identifier
        .split_once(":log-group:")
        .map(|(_, r)| r)
        .ok_or_else(|| invalid(format!("Invalid log group ARN: {identifier}")))?;
    Ok(rest.strip_suffix(":*").unwrap_or(rest))
}

/// The group an input names by `logGroupName` or `logGroupIdentifier` (exactly one).
pub fn input_group<'a>(input: Input<'a>) -> ApiResult<&'a str> {
    match (input.str("logGroupName")?, input.str("logGroupIdentifier")?) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(name), None) => Ok(name),
        (None, Some(id)) => group_name_of(id),
        (None, None) => Err(invalid(
            "Should provide either a log group name or a log group identifier.",
        )),
    }
}

/// Opaque pagination token for a string.
pub fn token_for(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// The string inside a pagination token.
pub fn from_token(token: &str) -> ApiResult<String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid("The specified nextToken is invalid."))
}

impl LogsService {
    /// Performs one operation.
    pub(crate) fn run(&self, operation: &str, input: Input<'_>) -> ApiResult<Value> {
        match operation {
            "CreateLogGroup" => self.create_log_group(input),
            "DeleteLogGroup" => self.delete_log_group(input),
            "DescribeLogGroups" => self.describe_log_groups(input),
            "CreateLogStream" => self.create_log_stream(input),
            "DeleteLogStream" => self.delete_log_stream(input),
            "DescribeLogStreams" => self.describe_log_streams(input),
            "PutRetentionPolicy" => self.put_retention_policy(input),
            "DeleteRetentionPolicy" => self.delete_retention_policy(input),
            "TagLogGroup" => self.tag_log_group(input),
            "UntagLogGroup" => self.untag_log_group(input),
            "ListTagsLogGroup" => self.list_tags_log_group(input),
            "TagResource" => self.tag_resource(input),
            "UntagResource" => self.untag_resource(input),
            "ListTagsForResource" => self.list_tags_for_resource(input),
            "PutLogEvents" => self.put_log_events(input),
            "GetLogEvents" => self.get_log_events(input),
            "FilterLogEvents" => self.filter_log_events(input),
            other => Err(AwsError::not_implemented("CloudWatch Logs", other)),
        }
    }
}
