//! Sending, receiving, deleting and hiding messages, and the developer endpoint.
//!
//! Semantics follow the SQS Developer Guide: visibility timeouts
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html>),
//! dead-letter queues (a message received more than `maxReceiveCount` times moves to
//! the dead-letter queue on the receive that would exceed it), FIFO delivery (within
//! a message group, nothing is delivered while an earlier message of the group is in
//! flight) and FIFO deduplication (5-minute window, content-based ids are the SHA-256
//! of the body).

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use rand::Rng as _;
use rusqlite::Connection;
use serde_json::{json, Map, Value};
use sha2::Digest as _;
use slcl_core::Response;

use super::queues::MAX_MESSAGE_SIZE;
use super::{batch_results, check_batch, queue_name_from_url, Cx, Input};
use crate::digest::{md5_hex, md5_of_attributes};
use crate::error::{ApiError, ApiResult};
use crate::protocol::{self, Protocol};
use crate::state::{self, MessageRow, QueueRow};
use crate::{to_time, MessageAttributeValue, ReceivedMessage, SqsService};

/// The FIFO deduplication interval (also the ReceiveRequestAttemptId interval).
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A visibility timeout can not extend beyond 12 hours after the receive.
const MAX_VISIBILITY_MS: i64 = 43_200_000;

/// In-flight messages a queue may have before ReceiveMessage answers `OverLimit`
/// (the SQS quota for standard queues; FIFO queues have the same since 2024).
const MAX_IN_FLIGHT: i64 = 120_000;

/// System attributes ReceiveMessage can return.
const SYSTEM_ATTRIBUTES: &[&str] = &[
    "All",
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// How one receive runs.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// MaxNumberOfMessages, 1–10.
    pub max: usize,
    /// VisibilityTimeout override, ms.
    pub visibility_ms: Option<i64>,
    /// How long to wait for a first message, ms.
    pub wait_ms: i64,
    /// ReceiveRequestAttemptId (FIFO).
    pub attempt_id: Option<String>,
}

/// Whether every character is one SQS accepts:
/// `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
fn valid_chars(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

/// FIFO ids: 1–128 characters of alphanumerics and punctuation.
fn valid_fifo_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

fn valid_attribute_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.")
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
}

/// Validates message attributes; returns them normalised and their size in bytes.
fn check_message_attributes(
    attrs: Option<&Map<String, Value>>,
) -> ApiResult<(Map<String, Value>, usize)> {
    let Some(attrs) = attrs else {
        return Ok((Map::new(), 0));
    };
    if attrs.len() > 10 {
        return Err(ApiError::invalid_parameter_value(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    let mut out = Map::new();
    let mut size = 0;
    for (name, v) in attrs {
        if !valid_attribute_name(name) {
            return Err(ApiError::invalid_parameter_value(format!(
                "Message (user) attribute name '{name}' is invalid. The attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters, must not start or end with a period or with AWS. or Amazon., and must not contain successive periods."
            )));
        }
        let value = Input(v.as_object().ok_or_else(|| {
            ApiError::invalid_parameter_value(format!(
                "The message attribute '{name}' must contain non-empty message attribute value."
            ))
        })?);
        let data_type = value.str("DataType").unwrap_or("");
        if data_type.is_empty() {
            return Err(ApiError::invalid_parameter_value(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        let base = data_type.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary")
            || (data_type.len() > base.len() && data_type.len() == base.len() + 1)
            || data_type.len() > 256
        {
            return Err(ApiError::invalid_parameter_value(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let has_list = ["StringListValues", "BinaryListValues"].iter().any(|k| {
            value
                .0
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        });
        if has_list {
            return Err(ApiError::invalid_parameter_value(
                "Message attribute list values in SendMessage operation are not supported.",
            ));
        }
        let mut normalised = Map::new();
        normalised.insert("DataType".into(), data_type.into());
        size += name.len() + data_type.len();
        if base == "Binary" {
            let raw = value
                .0
                .get("BinaryValue")
                .and_then(crate::digest::binary_value);
            match raw {
                Some(bytes) if !bytes.is_empty() => {
                    size += bytes.len();
                    normalised.insert(
                        "BinaryValue".into(),
                        base64::engine::general_purpose::STANDARD
                            .encode(&bytes)
                            .into(),
                    );
                }
                _ => {
                    return Err(ApiError::invalid_parameter_value(format!(
                        "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                    )))
                }
            }
        } else {
            let s = value.str("StringValue").unwrap_or("");
            if s.is_empty() {
                return Err(ApiError::invalid_parameter_value(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                )));
            }
            if !valid_chars(s) {
                return Err(ApiError::invalid_message_contents());
            }
            if base == "Number" && s.trim().parse::<f64>().is_err() {
                return Err(ApiError::invalid_parameter_value(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            size += s.len();
            normalised.insert("StringValue".into(), s.into());
        }
        out.insert(name.clone(), Value::Object(normalised));
    }
    Ok((out, size))
}

/// Validates message system attributes (only `AWSTraceHeader`, a String).
fn check_system_attributes(attrs: Option<&Map<String, Value>>) -> ApiResult<Map<String, Value>> {
    let Some(attrs) = attrs else {
        return Ok(Map::new());
    };
    let mut out = Map::new();
    for (name, v) in attrs {
        if name != "AWSTraceHeader" {
            return Err(ApiError::invalid_parameter_value(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let value = Input(v.as_object().ok_or_else(|| {
            ApiError::invalid_parameter_value("Message system attribute value is invalid.")
        })?);
        if value.str("DataType") != Some("String") {
            return Err(ApiError::invalid_parameter_value(
                "The message system attribute 'AWSTraceHeader' must be of type 'String'.",
            ));
        }
        let s = value.str("StringValue").unwrap_or("");
        if s.is_empty() {
            return Err(ApiError::invalid_parameter_value(
                "The message system attribute 'AWSTraceHeader' must contain a non-empty value.",
            ));
        }
        out.insert(
            name.clone(),
            json!({"DataType": "String", "StringValue": s}),
        );
    }
    Ok(out)
}

/// The size SQS counts for a message: body plus attribute names, types and values.
fn entry_size(entry: Input<'_>) -> usize {
    let mut size = entry.str("MessageBody").map(str::len).unwrap_or(0);
    if let Some(attrs) = entry.object("MessageAttributes") {
        for (k, v) in attrs {
            size += k.len();
            let field = |f: &str| v.get(f).and_then(Value::as_str).map(str::len).unwrap_or(0);
            size += field("DataType") + field("StringValue") + field("BinaryValue") * 3 / 4;
        }
    }
    size
}

fn receipt_handle(queue: &str, message_id: &str, nonce: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{queue}\u{1f}{message_id}\u{1f}{nonce}"))
}

/// The queue, message id and nonce inside a receipt handle.
fn decode_receipt(handle: &str) -> Option<(String, String, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(handle.trim().as_bytes())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let mut parts = s.split('\u{1f}');
    let q = parts.next()?.to_string();
    let m = parts.next()?.to_string();
    let n = parts.next()?.to_string();
    parts.next().is_none().then_some((q, m, n))
}

fn nonce() -> String {
    let b: [u8; 16] = rand::rng().random();
    hex::encode(b)
}

/// Whether a receive's attribute-name list selects `name`.
fn selects(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == "All" || n == name)
}

/// Whether a MessageAttributeNames list selects `name` (`All`, `.*`, `prefix.*`).
fn selects_message_attribute(names: &[String], name: &str) -> bool {
    names.iter().any(|n| {
        n == "All"
            || n == ".*"
            || n == name
            || n.strip_suffix(".*")
                .is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
    })
}

/// A received message in the JSON protocol's shape, with the attributes asked for.
pub fn message_json(
    m: &ReceivedMessage,
    attribute_names: &[String],
    message_attribute_names: &[String],
) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), m.message_id.clone().into());
    if !m.receipt_handle.is_empty() {
        out.insert("ReceiptHandle".into(), m.receipt_handle.clone().into());
    }
    out.insert("MD5OfBody".into(), m.md5_of_body.clone().into());
    out.insert("Body".into(), m.body.clone().into());
    let attrs: Map<String, Value> = m
        .attributes
        .iter()
        .filter(|(k, _)| selects(attribute_names, k))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if !attrs.is_empty() {
        out.insert("Attributes".into(), Value::Object(attrs));
    }
    let message_attrs: Map<String, Value> = m
        .message_attributes
        .iter()
        .filter(|(k, _)| selects_message_attribute(message_attribute_names, k))
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    if let Some(md5) = md5_of_attributes(&message_attrs) {
        out.insert("MD5OfMessageAttributes".into(), md5.into());
        out.insert("MessageAttributes".into(), Value::Object(message_attrs));
    }
    Value::Object(out)
}

impl SqsService {
    /// A stored message as a receive returns it, with every attribute.
    fn to_received(&self, m: &MessageRow, handle: String) -> ReceivedMessage {
        let mut attributes = BTreeMap::new();
        attributes.insert("SenderId".to_string(), m.sender_id.clone());
        attributes.insert("SentTimestamp".to_string(), m.sent_ms.to_string());
        attributes.insert(
            "ApproximateReceiveCount".to_string(),
            m.receive_count.to_string(),
        );
        attributes.insert(
            "ApproximateFirstReceiveTimestamp".to_string(),
            m.first_receive_ms.unwrap_or(0).to_string(),
        );
        for (k, v) in [
            ("MessageGroupId", &m.group_id),
            ("MessageDeduplicationId", &m.dedup_id),
            ("SequenceNumber", &m.sequence_number),
            ("DeadLetterQueueSourceArn", &m.dlq_source_arn),
        ] {
            if let Some(v) = v {
                attributes.insert(k.to_string(), v.clone());
            }
        }
        if let Some(t) = m
            .system_attributes
            .get("AWSTraceHeader")
            .and_then(|v| v.get("StringValue"))
            .and_then(Value::as_str)
        {
            attributes.insert("AWSTraceHeader".to_string(), t.to_string());
        }
        let message_attributes: BTreeMap<String, MessageAttributeValue> = m
            .message_attributes
            .iter()
            .map(|(k, v)| (k.clone(), MessageAttributeValue::from_json(v)))
            .collect();
        ReceivedMessage {
            message_id: m.message_id.clone(),
            receipt_handle: handle,
            md5_of_body: md5_hex(m.body.as_bytes()),
            body: m.body.clone(),
            attributes,
            md5_of_message_attributes: md5_of_attributes(&m.message_attributes),
            message_attributes,
            trace: m.trace.as_deref().and_then(|t| {
                let (trace_id, parent) = t.split_once(' ')?;
                Some(slcl_core::TraceContext {
                    trace_id: trace_id.to_owned(),
                    parent_id: Some(parent.to_owned()).filter(|p| !p.is_empty()),
                })
            }),
        }
    }

    /// Validates and stores one message in `q` (inside the caller's transaction).
    fn send_in(&self, c: &Connection, q: &QueueRow, entry: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let now = self.now();
        let body = entry.required("MessageBody")?;
        if !valid_chars(body) {
            return Err(ApiError::invalid_message_contents());
        }
        let delay = entry.int("DelaySeconds")?;
        if let Some(d) = delay {
            if !(0..=900).contains(&d) {
                return Err(ApiError::invalid_value(
                    "DelaySeconds",
                    d,
                    "must be between 0 and 900, if provided.",
                ));
            }
            if q.fifo && d != 0 {
                return Err(ApiError::invalid_value(
                    "DelaySeconds",
                    d,
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
        }
        let (message_attributes, attrs_size) =
            check_message_attributes(entry.object("MessageAttributes"))?;
        let system_attributes = check_system_attributes(entry.object("MessageSystemAttributes"))?;
        // A traced client's `X-Amzn-Trace-Id` applies to every message of the request;
        // an `AWSTraceHeader` system attribute of the message wins over it.
        let mut stored_system_attributes = system_attributes.clone();
        if let (Some(header), false) = (
            &cx.xray_header,
            stored_system_attributes.contains_key("AWSTraceHeader"),
        ) {
            stored_system_attributes.insert(
                "AWSTraceHeader".into(),
                serde_json::json!({"DataType": "String", "StringValue": header}),
            );
        }
        let max = q.int("MaximumMessageSize", MAX_MESSAGE_SIZE) as usize;
        if body.len() + attrs_size > max {
            return Err(ApiError::invalid_parameter_value(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."
            )));
        }
        let group_id = entry.str("MessageGroupId").map(str::to_string);
        let mut dedup_id = entry.str("MessageDeduplicationId").map(str::to_string);
        if let Some(g) = &group_id {
            if !valid_fifo_id(g) {
                return Err(ApiError::invalid_value(
                    "MessageGroupId",
                    g,
                    "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                ));
            }
        }
        let mut sequence_number = None;
        let mut dedup_key = None;
        if q.fifo {
            if group_id.is_none() {
                return Err(ApiError::missing_parameter("MessageGroupId"));
            }
            if let Some(d) = &dedup_id {
                if !valid_fifo_id(d) {
                    return Err(ApiError::invalid_value(
                        "MessageDeduplicationId",
                        d,
                        "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                    ));
                }
            } else if q.flag("ContentBasedDeduplication") {
                dedup_id = Some(hex::encode(sha2::Sha256::digest(body.as_bytes())));
            } else {
                return Err(ApiError::invalid_parameter_value(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
            let d = dedup_id.as_deref().unwrap_or_default();
            let key = if q.attributes.get("DeduplicationScope").map(String::as_str)
                == Some("messageGroup")
            {
                format!("{}\u{1f}{d}", group_id.as_deref().unwrap_or_default())
            } else {
                d.to_string()
            };
            if let Some((message_id, seq)) = state::dedup(c, &q.name, &key, now)? {
                // A duplicate inside the window: acknowledged, not enqueued again.
                return Ok(send_result(
                    body,
                    &message_attributes,
                    &system_attributes,
                    &message_id,
                    seq.as_deref(),
                ));
            }
            sequence_number = Some(state::next_sequence(c, &q.name)?);
            dedup_key = Some(key);
        } else if let Some(d) = &dedup_id {
            return Err(ApiError::invalid_value(
                "MessageDeduplicationId",
                d,
                "The request includes a parameter that is not valid for this queue type.",
            ));
        }
        let delay_ms = delay.unwrap_or_else(|| q.int("DelaySeconds", 0)) * 1000;
        let message_id = slcl_core::ids::uuid();
        state::insert_message(
            c,
            &q.name,
            &MessageRow {
                message_id: message_id.clone(),
                body: body.to_string(),
                message_attributes: message_attributes.clone(),
                system_attributes: stored_system_attributes,
                sent_ms: now,
                retain_from_ms: now,
                visible_at_ms: now + delay_ms,
                receive_count: 0,
                first_receive_ms: None,
                received_ms: None,
                receipt_nonce: None,
                group_id,
                dedup_id,
                sequence_number: sequence_number.clone(),
                sender_id: cx.account.clone(),
                dlq_source_arn: None,
                trace: cx.trace.clone(),
            },
        )?;
        if let Some(key) = dedup_key {
            state::record_dedup(
                c,
                &q.name,
                &key,
                &message_id,
                sequence_number.as_deref(),
                now + DEDUP_WINDOW_MS,
            )?;
        }
        Ok(send_result(
            body,
            &message_attributes,
            &system_attributes,
            &message_id,
            sequence_number.as_deref(),
        ))
    }

    /// SendMessage on the queue named `name` with an input map.
    pub(crate) fn send_message_to(
        &self,
        name: &str,
        input: &Map<String, Value>,
        cx: &Cx,
    ) -> ApiResult<Value> {
        let out = self.state.write(|c| {
            let q = state::existing(c, name)?;
            self.send_in(c, &q, Input(input), cx)
        })?;
        self.wake(name);
        Ok(out)
    }

    pub(crate) fn send_message(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        self.send_message_to(name, input.0, cx)
    }

    pub(crate) fn send_message_batch(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let entries = input.entries("Entries");
        let out = self.state.write(|c| {
            let q = state::existing(c, name)?;
            check_batch(&entries, "SendMessageBatchRequestEntry")?;
            let total: usize = entries.iter().map(|e| entry_size(Input(e))).sum();
            let limit = MAX_MESSAGE_SIZE as usize;
            if total > limit {
                return Err(ApiError::batch_too_long(limit, total));
            }
            batch_results(&entries, |e| match self.send_in(c, &q, e, cx)? {
                Value::Object(r) => Ok(r),
                _ => Ok(Map::new()),
            })
        })?;
        self.wake(name);
        Ok(out)
    }

    pub(crate) async fn receive_message(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let q = self.state.read(|c| state::existing(c, name))?;
        let max = input.int("MaxNumberOfMessages")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(ApiError::invalid_value(
                "MaxNumberOfMessages",
                max,
                "Must be between 1 and 10, if provided.",
            ));
        }
        let visibility = input.int("VisibilityTimeout")?;
        if let Some(v) = visibility {
            if !(0..=43_200).contains(&v) {
                return Err(ApiError::invalid_value(
                    "VisibilityTimeout",
                    v,
                    "Must be >= 0 and <= 43200, if provided.",
                ));
            }
        }
        let wait = input
            .int("WaitTimeSeconds")?
            .unwrap_or_else(|| q.int("ReceiveMessageWaitTimeSeconds", 0));
        if !(0..=20).contains(&wait) {
            return Err(ApiError::invalid_value(
                "WaitTimeSeconds",
                wait,
                "Must be >= 0 and <= 20, if provided.",
            ));
        }
        let mut attribute_names = input.strings("AttributeNames");
        attribute_names.extend(input.strings("MessageSystemAttributeNames"));
        for n in &attribute_names {
            if !SYSTEM_ATTRIBUTES.contains(&n.as_str()) {
                return Err(ApiError::invalid_attribute_name(n));
            }
        }
        let message_attribute_names = input.strings("MessageAttributeNames");
        let attempt_id = input.str("ReceiveRequestAttemptId").map(str::to_string);
        if let Some(a) = &attempt_id {
            if !valid_fifo_id(a) {
                return Err(ApiError::invalid_value(
                    "ReceiveRequestAttemptId",
                    a,
                    "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                ));
            }
        }
        let opts = ReceiveOptions {
            max: max as usize,
            visibility_ms: visibility.map(|v| v * 1000),
            wait_ms: wait * 1000,
            attempt_id,
        };
        let messages = self.receive_messages(name, opts).await?;
        let mut out = Map::new();
        if !messages.is_empty() {
            out.insert(
                "Messages".into(),
                messages
                    .iter()
                    .map(|m| message_json(m, &attribute_names, &message_attribute_names))
                    .collect(),
            );
        }
        Ok(Value::Object(out))
    }

    /// Receives, waiting up to `opts.wait_ms` for a first message (a long poll).
    pub(crate) async fn receive_messages(
        &self,
        name: &str,
        opts: ReceiveOptions,
    ) -> ApiResult<Vec<ReceivedMessage>> {
        let deadline = self.now() + opts.wait_ms;
        loop {
            // Register for wake-ups before looking, so a send in between is not missed.
            let mut notified = Box::pin(self.notify(name).notified_owned());
            notified.as_mut().enable();
            let now = self.now();
            let (got, moved_to) = self.state.write(|c| self.receive_in(c, name, &opts, now))?;
            for dlq in &moved_to {
                self.wake(dlq);
            }
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let next = self
                .state
                .read(|c| state::next_visible_at(c, name, now))?
                .unwrap_or(deadline)
                .min(deadline);
            tokio::select! {
                _ = notified => {}
                _ = self.clock.sleep_until(to_time(next)) => {}
            }
        }
    }

    /// One receive attempt, inside a transaction. Returns the messages and the
    /// dead-letter queues that got messages.
    fn receive_in(
        &self,
        c: &Connection,
        name: &str,
        opts: &ReceiveOptions,
        now: i64,
    ) -> ApiResult<(Vec<ReceivedMessage>, Vec<String>)> {
        let q = state::existing(c, name)?;
        state::expire(c, &q, now)?;
        let attempt = opts.attempt_id.as_deref().filter(|_| q.fifo);
        if let Some(attempt) = attempt {
            if let Some(receipts) = state::receive_attempt(c, name, attempt, now)? {
                let mut again = Vec::new();
                for (message_id, nonce) in receipts {
                    if let Some(m) = state::message(c, name, &message_id)? {
                        if m.receipt_nonce.as_deref() == Some(nonce.as_str()) && m.in_flight(now) {
                            again.push(
                                self.to_received(&m, receipt_handle(name, &message_id, &nonce)),
                            );
                        }
                    }
                }
                if !again.is_empty() {
                    return Ok((again, Vec::new()));
                }
            }
        }
        if state::in_flight_count(c, name, now)? >= MAX_IN_FLIGHT {
            return Err(ApiError::over_limit(
                "The maximum number of in flight messages is reached.",
            ));
        }
        let visibility_ms = opts.visibility_ms.unwrap_or_else(|| q.visibility_ms());
        let redrive = match q.redrive() {
            Some((arn, max)) => arn
                .rsplit(':')
                .next()
                .map(|n| state::queue(c, n))
                .transpose()?
                .flatten()
                .map(|dlq| (dlq, max)),
            None => None,
        };
        let slack = if redrive.is_some() { 100 } else { 0 };
        let mut candidates =
            state::candidates(c, &q, now, if q.fifo { 1000 } else { opts.max + slack })?;
        if q.fifo {
            // SQS fills a batch from one message group first (in order), then the
            // next: "as many messages with the same message group ID as possible".
            let mut groups: Vec<Option<String>> = Vec::new();
            for m in &candidates {
                if !groups.contains(&m.group_id) {
                    groups.push(m.group_id.clone());
                }
            }
            candidates.sort_by_key(|m| groups.iter().position(|g| *g == m.group_id));
        }
        let mut out = Vec::new();
        let mut receipts = Vec::new();
        let mut moved_to = Vec::new();
        for mut m in candidates {
            if out.len() >= opts.max {
                break;
            }
            if let Some((dlq, max)) = &redrive {
                if m.receive_count >= *max {
                    self.move_to_dead_letter_queue(c, &q, dlq, &m, now)?;
                    if !moved_to.contains(&dlq.name) {
                        moved_to.push(dlq.name.clone());
                    }
                    continue;
                }
            }
            let n = nonce();
            state::mark_received(c, name, &mut m, now, now + visibility_ms, &n)?;
            receipts.push((m.message_id.clone(), n.clone()));
            out.push(self.to_received(&m, receipt_handle(name, &m.message_id, &n)));
        }
        if let Some(attempt) = attempt {
            if !receipts.is_empty() {
                state::record_receive_attempt(c, name, attempt, now + DEDUP_WINDOW_MS, &receipts)?;
            }
        }
        Ok((out, moved_to))
    }

    /// Moves a message to a dead-letter queue, keeping its id, body, attributes and
    /// receive count. Standard queues keep the original enqueue time for retention;
    /// FIFO dead-letter queues restart it (as AWS documents).
    fn move_to_dead_letter_queue(
        &self,
        c: &Connection,
        source: &QueueRow,
        dlq: &QueueRow,
        m: &MessageRow,
        now: i64,
    ) -> ApiResult<()> {
        let mut moved = m.clone();
        moved.visible_at_ms = now;
        moved.dlq_source_arn = Some(source.arn());
        if dlq.fifo {
            moved.retain_from_ms = now;
            moved.sequence_number = Some(state::next_sequence(c, &dlq.name)?);
        }
        state::delete_message(c, &source.name, &m.message_id)?;
        state::delete_message(c, &dlq.name, &m.message_id)?;
        state::insert_message(c, &dlq.name, &moved)?;
        tracing::debug!(queue = %source.name, dlq = %dlq.name, message_id = %m.message_id, "moved to dead-letter queue");
        Ok(())
    }

    /// Deletes by receipt handle inside a transaction.
    fn delete_in(&self, c: &Connection, q: &QueueRow, handle: &str, now: i64) -> ApiResult<()> {
        let (queue, message_id, nonce) =
            decode_receipt(handle).ok_or_else(|| ApiError::receipt_handle_invalid(handle))?;
        if queue != q.name {
            return Err(ApiError::receipt_handle_invalid(handle));
        }
        let Some(m) = state::message(c, &q.name, &message_id)? else {
            // Already deleted: SQS answers success.
            return Ok(());
        };
        if q.fifo && (m.receipt_nonce.as_deref() != Some(nonce.as_str()) || m.visible_at_ms <= now)
        {
            return Err(ApiError::invalid_value(
                "ReceiptHandle",
                handle,
                "The receipt handle has expired.",
            ));
        }
        state::delete_message(c, &q.name, &message_id)
    }

    pub(crate) fn delete_one(&self, name: &str, handle: &str) -> ApiResult<()> {
        let now = self.now();
        self.state.write(|c| {
            let q = state::existing(c, name)?;
            self.delete_in(c, &q, handle, now)
        })?;
        // The next message of a FIFO group may now be deliverable.
        self.wake(name);
        Ok(())
    }

    pub(crate) fn delete_message(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let handle = input.required("ReceiptHandle")?;
        self.delete_one(name, handle)?;
        Ok(json!({}))
    }

    pub(crate) fn delete_message_batch(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let entries = input.entries("Entries");
        let now = self.now();
        let out = self.state.write(|c| {
            let q = state::existing(c, name)?;
            check_batch(&entries, "DeleteMessageBatchRequestEntry")?;
            batch_results(&entries, |e| {
                self.delete_in(c, &q, e.required("ReceiptHandle")?, now)?;
                Ok(Map::new())
            })
        })?;
        self.wake(name);
        Ok(out)
    }

    /// Changes visibility by receipt handle inside a transaction; `true` when the
    /// message became visible at once.
    fn change_in(
        &self,
        c: &Connection,
        q: &QueueRow,
        handle: &str,
        seconds: i64,
        now: i64,
    ) -> ApiResult<bool> {
        if !(0..=43_200).contains(&seconds) {
            return Err(ApiError::invalid_value(
                "VisibilityTimeout",
                seconds,
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let (queue, message_id, nonce) =
            decode_receipt(handle).ok_or_else(|| ApiError::receipt_handle_invalid(handle))?;
        if queue != q.name {
            return Err(ApiError::receipt_handle_invalid(handle));
        }
        let m = state::message(c, &q.name, &message_id)?.ok_or_else(|| {
            ApiError::invalid_value(
                "ReceiptHandle",
                handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        })?;
        if !m.in_flight(now) {
            return Err(ApiError::message_not_inflight());
        }
        if q.fifo && m.receipt_nonce.as_deref() != Some(nonce.as_str()) {
            return Err(ApiError::invalid_value(
                "ReceiptHandle",
                handle,
                "The receipt handle has expired.",
            ));
        }
        let until = now + seconds * 1000;
        // Whole seconds, as SQS counts them: 43200 right after a receive is allowed.
        if m.received_ms
            .is_some_and(|r| (now - r) / 1000 * 1000 + seconds * 1000 > MAX_VISIBILITY_MS)
        {
            return Err(ApiError::invalid_value(
                "VisibilityTimeout",
                seconds,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ));
        }
        state::set_visible_at(c, &q.name, &message_id, until)?;
        Ok(seconds == 0)
    }

    pub(crate) fn change_visibility_one(
        &self,
        name: &str,
        handle: &str,
        seconds: i64,
    ) -> ApiResult<()> {
        let now = self.now();
        self.state.write(|c| {
            let q = state::existing(c, name)?;
            self.change_in(c, &q, handle, seconds, now)
        })?;
        self.wake(name);
        Ok(())
    }

    pub(crate) fn change_message_visibility(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let handle = input.required("ReceiptHandle")?;
        let seconds = input
            .int("VisibilityTimeout")?
            .ok_or_else(|| ApiError::missing_parameter("VisibilityTimeout"))?;
        self.change_visibility_one(name, handle, seconds)?;
        Ok(json!({}))
    }

    pub(crate) fn change_message_visibility_batch(
        &self,
        input: Input<'_>,
        cx: &Cx,
    ) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let entries = input.entries("Entries");
        let now = self.now();
        let out = self.state.write(|c| {
            let q = state::existing(c, name)?;
            check_batch(&entries, "ChangeMessageVisibilityBatchRequestEntry")?;
            batch_results(&entries, |e| {
                let handle = e.required("ReceiptHandle")?;
                let secs = e
                    .int("VisibilityTimeout")?
                    .ok_or_else(|| ApiError::missing_parameter("VisibilityTimeout"))?;
                self.change_in(c, &q, handle, secs, now)?;
                Ok(Map::new())
            })
        })?;
        self.wake(name);
        Ok(out)
    }

    /// Messages of a queue without receiving them.
    pub(crate) fn peek_messages(
        &self,
        name: &str,
        show_invisible: bool,
        show_delayed: bool,
    ) -> ApiResult<Vec<ReceivedMessage>> {
        let now = self.now();
        let rows = self.state.read(|c| {
            let q = state::existing(c, name)?;
            state::messages(c, &q, now)
        })?;
        Ok(rows
            .iter()
            .filter(|m| {
                m.visible_at_ms <= now
                    || (show_invisible && m.in_flight(now))
                    || (show_delayed && m.delayed(now))
            })
            .map(|m| self.to_received(m, String::new()))
            .collect())
    }

    /// LocalStack's developer endpoint: `GET /_aws/sqs/messages?QueueUrl=<url>` or
    /// `/_aws/sqs/messages/<region>/<account>/<name>`, with `ShowInvisible` and
    /// `ShowDelayed`. Also answers a ReceiveMessage call (either protocol) sent to
    /// that path, so an SDK client pointed at it can peek.
    pub(crate) fn developer_endpoint(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        cx: &Cx,
    ) -> Response {
        let headers = &parts.headers;
        let wants_json = headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        let target_protocol = headers.contains_key("x-amz-target");
        let protocol = if target_protocol {
            Protocol::Json
        } else {
            Protocol::Query
        };
        let mut pairs = protocol::query::parse_form(parts.uri.query().unwrap_or(""));
        let mut input = Map::new();
        if target_protocol {
            match protocol::decode(headers, &parts.uri, body, None) {
                Ok(call) => input = call.input,
                Err(e) => return protocol::error_response(protocol, &e, &cx.request_id),
            }
        } else if !body.is_empty() {
            pairs.extend(protocol::query::parse_form(&String::from_utf8_lossy(body)));
        }
        for (k, v) in &pairs {
            input
                .entry(k.clone())
                .or_insert_with(|| Value::String(v.clone()));
        }
        let flag = |k: &str| {
            input
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        let (show_invisible, show_delayed) = (flag("ShowInvisible"), flag("ShowDelayed"));
        let path_rest = parts
            .uri
            .path()
            .strip_prefix("/_aws/sqs/messages")
            .unwrap_or("")
            .trim_matches('/');
        let name = if !path_rest.is_empty() {
            let segs: Vec<&str> = path_rest.split('/').collect();
            match segs.as_slice() {
                [_region, account, name] if *account == cx.account => Ok(name.to_string()),
                [_, _, _] => Err(ApiError::queue_does_not_exist()),
                _ => Err(ApiError::invalid_address(parts.uri.path())),
            }
        } else {
            Input(&input)
                .required("QueueUrl")
                .and_then(|u| queue_name_from_url(u, cx).map(str::to_string))
        };
        let result = name.and_then(|n| self.peek_messages(&n, show_invisible, show_delayed));
        let all = vec!["All".to_string()];
        match result {
            Err(e) => {
                let p = if wants_json { Protocol::Json } else { protocol };
                protocol::error_response(p, &e, &cx.request_id)
            }
            Ok(messages) => {
                let list: Vec<Value> = messages
                    .iter()
                    .map(|m| message_json(m, &all, &all))
                    .collect();
                if wants_json && !target_protocol {
                    let doc = json!({"ReceiveMessageResponse": {
                        "ReceiveMessageResult": {"Message": list},
                        "ResponseMetadata": {"RequestId": cx.request_id},
                    }});
                    let mut resp =
                        protocol::respond(Protocol::Json, "ReceiveMessage", doc, &cx.request_id);
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    resp
                } else {
                    let mut out = Map::new();
                    if !list.is_empty() {
                        out.insert("Messages".into(), Value::Array(list));
                    }
                    protocol::respond(
                        protocol,
                        "ReceiveMessage",
                        Value::Object(out),
                        &cx.request_id,
                    )
                }
            }
        }
    }
}

fn send_result(
    body: &str,
    message_attributes: &Map<String, Value>,
    system_attributes: &Map<String, Value>,
    message_id: &str,
    sequence_number: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert("MD5OfMessageBody".into(), md5_hex(body.as_bytes()).into());
    if let Some(md5) = md5_of_attributes(message_attributes) {
        out.insert("MD5OfMessageAttributes".into(), md5.into());
    }
    if let Some(md5) = md5_of_attributes(system_attributes) {
        out.insert("MD5OfMessageSystemAttributes".into(), md5.into());
    }
    out.insert("MessageId".into(), message_id.into());
    if let Some(s) = sequence_number {
        out.insert("SequenceNumber".into(), s.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_rules_and_receipts() {
        assert!(valid_chars("hello\t\n\r ✓ 𝄞"));
        assert!(!valid_chars("bad\u{1}"));
        assert!(!valid_chars("bad\u{FFFE}"));
        let h = receipt_handle("q.fifo", "id", "n");
        assert_eq!(
            decode_receipt(&h),
            Some(("q.fifo".into(), "id".into(), "n".into()))
        );
        assert_eq!(decode_receipt("garbage!"), None);
        assert!(selects_message_attribute(&["a.*".into()], "a.b"));
        assert!(!selects_message_attribute(&["a.*".into()], "ab"));
    }
}
