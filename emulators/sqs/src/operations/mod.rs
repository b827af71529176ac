//! The behaviour of each SQS operation.
//!
//! Every operation takes its input in the JSON protocol's shape (an [`Input`]) and
//! answers a JSON object in the JSON protocol's response shape; [`crate::protocol`]
//! does the wire formats. Submodules: [`queues`] (queue lifecycle, attributes, tags,
//! permissions), [`messages`] (send, receive, delete, visibility, the developer
//! endpoint) and [`move_tasks`] (dead-letter queue redrives).

pub mod messages;
pub mod move_tasks;
pub mod queues;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::protocol::Call;
use crate::SqsService;

/// Per-request facts.
#[derive(Debug, Clone)]
pub struct Cx {
    /// Region of the request (from the SigV4 scope).
    pub region: String,
    /// Caller's account.
    pub account: String,
    /// Request id.
    pub request_id: String,
    /// slcl's trace of this request, stored with the messages it sends so that
    /// what processes them joins it: `<trace id> <request step id>`.
    pub trace: Option<String>,
    /// The request's `X-Amzn-Trace-Id` header: the `AWSTraceHeader` of every message
    /// it sends that does not set that system attribute itself, as on AWS.
    pub xray_header: Option<String>,
}

/// Read access to an operation's input.
#[derive(Clone, Copy)]
pub struct Input<'a>(pub &'a Map<String, Value>);

impl<'a> Input<'a> {
    /// A string member.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// A required, non-empty string member.
    pub fn required(&self, name: &str) -> ApiResult<&'a str> {
        match self.str(name) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing_parameter(name)),
        }
    }

    /// An integer member (a JSON number, or a string in the query protocol).
    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid_value(name, n, "must be an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_value(name, s, "must be an integer")),
            Some(other) => Err(ApiError::invalid_value(name, other, "must be an integer")),
        }
    }

    /// A list of strings.
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// An object member.
    pub fn object(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.0.get(name).and_then(Value::as_object)
    }

    /// A map of strings (attributes, tags).
    pub fn string_map(&self, name: &str) -> BTreeMap<String, String> {
        self.object(name)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A list of objects (batch entries).
    pub fn entries(&self, name: &str) -> Vec<&'a Map<String, Value>> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        }
    }
}

/// The queue name in a `QueueUrl`: its path must be `/<account>/<name>` (any host).
pub fn queue_name_from_url<'a>(url: &'a str, cx: &Cx) -> ApiResult<&'a str> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or(""),
        None if url.starts_with('/') => url,
        None => return Err(ApiError::invalid_address(url)),
    };
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [account, name] => {
            if *account != cx.account {
                return Err(ApiError::queue_does_not_exist());
            }
            Ok(name)
        }
        _ => Err(ApiError::invalid_address(url)),
    }
}

impl SqsService {
    /// The queue named by the input's `QueueUrl`.
    pub(crate) fn queue_of<'a>(&self, input: Input<'a>, cx: &Cx) -> ApiResult<&'a str> {
        let url = input.required("QueueUrl")?;
        queue_name_from_url(url, cx)
    }

    /// Performs one decoded call.
    pub(crate) async fn run(&self, call: &Call, cx: &Cx) -> ApiResult<Value> {
        let input = Input(&call.input);
        match call.action.as_str() {
            "CreateQueue" => self.create_queue(input, cx),
            "GetQueueUrl" => self.get_queue_url(input, cx),
            "ListQueues" => self.list_queues(input),
            "DeleteQueue" => self.delete_queue(input, cx),
            "GetQueueAttributes" => self.get_queue_attributes(input, cx),
            "SetQueueAttributes" => self.set_queue_attributes(input, cx),
            "PurgeQueue" => self.purge_queue(input, cx),
            "TagQueue" => self.tag_queue(input, cx),
            "UntagQueue" => self.untag_queue(input, cx),
            "ListQueueTags" => self.list_queue_tags(input, cx),
            "ListDeadLetterSourceQueues" => self.list_dead_letter_source_queues(input, cx),
            "AddPermission" => self.add_permission(input, cx),
            "RemovePermission" => self.remove_permission(input, cx),
            "SendMessage" => self.send_message(input, cx),
            "SendMessageBatch" => self.send_message_batch(input, cx),
            "ReceiveMessage" => self.receive_message(input, cx).await,
            "DeleteMessage" => self.delete_message(input, cx),
            "DeleteMessageBatch" => self.delete_message_batch(input, cx),
            "ChangeMessageVisibility" => self.change_message_visibility(input, cx),
            "ChangeMessageVisibilityBatch" => self.change_message_visibility_batch(input, cx),
            "StartMessageMoveTask" => self.start_message_move_task(input, cx),
            "ListMessageMoveTasks" => self.list_message_move_tasks(input, cx),
            "CancelMessageMoveTask" => self.cancel_message_move_task(input, cx),
            other => Err(ApiError::invalid_action(other)),
        }
    }
}

/// Checks the batch rules shared by the three batch operations: 1–10 entries with
/// distinct ids of at most 80 alphanumerics, hyphens and underscores.
pub fn check_batch(entries: &[&Map<String, Value>], entry_name: &str) -> ApiResult<()> {
    if entries.is_empty() {
        return Err(ApiError::empty_batch(entry_name));
    }
    if entries.len() > 10 {
        return Err(ApiError::too_many_entries(entries.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let id = Input(e).required("Id")?;
        if id.len() > 80
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::invalid_batch_entry_id());
        }
        if !seen.insert(id) {
            return Err(ApiError::ids_not_distinct(id));
        }
    }
    Ok(())
}

/// A batch result error entry.
pub fn failed_entry(id: &str, e: &ApiError) -> Value {
    serde_json::json!({
        "Id": id,
        "SenderFault": e.sender_fault,
        "Code": e.query_code,
        "Message": e.message,
    })
}

/// The answer of a batch operation: runs `each` on every entry; an entry's answer
/// (with its `Id` added) goes to `Successful`, a client error to `Failed`, and a
/// server error fails the whole batch.
pub fn batch_results(
    entries: &[&Map<String, Value>],
    mut each: impl FnMut(Input<'_>) -> ApiResult<Map<String, Value>>,
) -> ApiResult<Value> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for e in entries {
        let id = Input(e).str("Id").unwrap_or_default();
        match each(Input(e)) {
            Ok(mut r) => {
                r.insert("Id".into(), id.into());
                ok.push(Value::Object(r));
            }
            Err(err) if err.status.is_server_error() => return Err(err),
            Err(err) => failed.push(failed_entry(id, &err)),
        }
    }
    Ok(serde_json::json!({"Successful": ok, "Failed": failed}))
}

/// Opaque pagination token for a name.
pub fn token_for(name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name.as_bytes())
}

/// The name inside a pagination token.
pub fn name_from_token(token: &str) -> ApiResult<String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::invalid_parameter_value("Invalid NextToken value."))
}
