//! Queue lifecycle, attributes, tags and permissions.
//!
//! Attribute rules follow the CreateQueue and SetQueueAttributes API references
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html>).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::{name_from_token, token_for, Cx, Input};
use crate::error::{ApiError, ApiResult};
use crate::state::{self, QueueRow};
use crate::{QueueInfo, SqsService};

/// Largest MaximumMessageSize, and its default (1 MiB since August 2025; see the
/// CreateQueue reference).
pub const MAX_MESSAGE_SIZE: i64 = 1_048_576;

/// How long a deleted queue's name stays unavailable.
const DELETED_RECENTLY_MS: i64 = 60_000;

/// Interval between two PurgeQueue calls.
const PURGE_INTERVAL_MS: i64 = 60_000;

/// Attributes CreateQueue and SetQueueAttributes accept.
const SETTABLE: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Attributes SQS computes.
const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// Actions AddPermission grants.
const PERMISSION_ACTIONS: &[&str] = &[
    "*",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ListQueueTags",
];

/// `MaxResults` (1–1000, optional) and the queue name a `NextToken` says the page
/// starts after, for the list operations.
fn page_input(input: Input<'_>) -> ApiResult<(Option<i64>, Option<String>)> {
    let max = input.int("MaxResults")?;
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(ApiError::invalid_value(
                "MaxResults",
                m,
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
    }
    let after = input.str("NextToken").map(name_from_token).transpose()?;
    Ok((max, after))
}

fn valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 80
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn int_in(name: &str, value: &str, min: i64, max: i64) -> ApiResult<String> {
    match value.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
        _ => Err(ApiError::invalid_attribute_value(name, None)),
    }
}

fn boolean(name: &str, value: &str) -> ApiResult<String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(ApiError::invalid_attribute_value(name, None)),
    }
}

/// `maxReceiveCount` as a number or numeric string.
fn max_receive_count(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl SqsService {
    /// Validates one attribute; returns the value to store (`None`: remove it).
    fn validate_attribute(
        &self,
        c: &Connection,
        name: &str,
        value: &str,
        fifo: bool,
        creating: bool,
    ) -> ApiResult<Option<String>> {
        if COMPUTED.contains(&name) || !SETTABLE.contains(&name) {
            return Err(ApiError::invalid_attribute_name(name));
        }
        if !fifo && FIFO_ONLY.contains(&name) {
            return Err(ApiError::invalid_attribute_name(name));
        }
        let v = match name {
            "DelaySeconds" => int_in(name, value, 0, 900)?,
            "MaximumMessageSize" => int_in(name, value, 1024, MAX_MESSAGE_SIZE)?,
            "MessageRetentionPeriod" => int_in(name, value, 60, 1_209_600)?,
            "ReceiveMessageWaitTimeSeconds" => int_in(name, value, 0, 20)?,
            "VisibilityTimeout" => int_in(name, value, 0, 43_200)?,
            "KmsDataKeyReusePeriodSeconds" => int_in(name, value, 60, 86_400)?,
            "SqsManagedSseEnabled" | "ContentBasedDeduplication" => boolean(name, value)?,
            "FifoQueue" => {
                if !creating {
                    return Err(ApiError::invalid_attribute_name(name));
                }
                let v = boolean(name, value)?;
                if (v == "true") != fifo {
                    return Err(ApiError::invalid_attribute_value(name, None));
                }
                if !fifo {
                    return Ok(None);
                }
                v
            }
            "DeduplicationScope" => match value {
                "messageGroup" | "queue" => value.to_string(),
                _ => return Err(ApiError::invalid_attribute_value(name, None)),
            },
            "FifoThroughputLimit" => match value {
                "perQueue" | "perMessageGroupId" => value.to_string(),
                _ => return Err(ApiError::invalid_attribute_value(name, None)),
            },
            "KmsMasterKeyId" => {
                if value.is_empty() {
                    return Ok(None);
                }
                value.to_string()
            }
            "Policy" => {
                if value.is_empty() {
                    return Ok(None);
                }
                match serde_json::from_str::<Value>(value) {
                    Ok(Value::Object(_)) => value.to_string(),
                    _ => {
                        return Err(ApiError::invalid_attribute_value(
                            name,
                            Some("Policy is not a valid JSON document."),
                        ))
                    }
                }
            }
            "RedrivePolicy" => {
                if value.is_empty() {
                    return Ok(None);
                }
                self.validate_redrive_policy(c, value, fifo)?;
                value.to_string()
            }
            "RedriveAllowPolicy" => {
                if value.is_empty() {
                    return Ok(None);
                }
                validate_redrive_allow_policy(value)?;
                value.to_string()
            }
            _ => value.to_string(),
        };
        Ok(Some(v))
    }

    fn validate_redrive_policy(&self, c: &Connection, value: &str, fifo: bool) -> ApiResult<()> {
        let invalid = |reason: &str| ApiError::invalid_value("RedrivePolicy", value, reason);
        let policy: Value = serde_json::from_str(value)
            .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
        let Some(obj) = policy.as_object() else {
            return Err(invalid("Redrive policy is not a valid JSON map."));
        };
        let Some(arn) = obj.get("deadLetterTargetArn").and_then(Value::as_str) else {
            return Err(invalid(
                "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
            ));
        };
        let Some(max) = max_receive_count(obj.get("maxReceiveCount")) else {
            return Err(invalid(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ));
        };
        if !(1..=1000).contains(&max) {
            return Err(invalid(
                "Invalid value for maxReceiveCount: must be between 1 and 1000.",
            ));
        }
        let Some(dlq) = arn
            .strip_prefix("arn:")
            .and_then(|_| arn.rsplit(':').next())
            .map(|n| state::queue(c, n))
            .transpose()?
            .flatten()
        else {
            return Err(invalid("Dead-letter target does not exist."));
        };
        if dlq.fifo != fifo {
            return Err(invalid(
                "Dead-letter queue must be same type of queue as the source.",
            ));
        }
        Ok(())
    }

    /// Validates a full set of attributes for a new (or re-declared) queue and fills
    /// in the defaults.
    fn new_queue_attributes(
        &self,
        c: &Connection,
        name: &str,
        given: &BTreeMap<String, String>,
    ) -> ApiResult<BTreeMap<String, String>> {
        let fifo = name.ends_with(".fifo");
        if !valid_queue_name(name) {
            return Err(ApiError::invalid_parameter_value(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let declared_fifo = given
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if declared_fifo && !fifo {
            return Err(ApiError::invalid_parameter_value(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
            ));
        }
        if fifo && !declared_fifo {
            return Err(ApiError::invalid_parameter_value(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let mut attrs: BTreeMap<String, String> = [
            ("DelaySeconds", "0"),
            ("MaximumMessageSize", "1048576"),
            ("MessageRetentionPeriod", "345600"),
            ("ReceiveMessageWaitTimeSeconds", "0"),
            ("VisibilityTimeout", "30"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if fifo {
            for (k, v) in [
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "false"),
                ("DeduplicationScope", "queue"),
                ("FifoThroughputLimit", "perQueue"),
            ] {
                attrs.insert(k.into(), v.into());
            }
        }
        for (k, v) in given {
            match self.validate_attribute(c, k, v, fifo, true)? {
                Some(v) => attrs.insert(k.clone(), v),
                None => attrs.remove(k),
            };
        }
        finish_attributes(&mut attrs)?;
        Ok(attrs)
    }

    pub(crate) fn create_queue(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = input.required("QueueName")?;
        let given = input.string_map("Attributes");
        let mut tags = input.string_map("tags");
        tags.extend(input.string_map("Tags"));
        let now = self.now();
        let q = self.state.write(|c| {
            if let Some(existing) = state::queue(c, name)? {
                // Idempotent when every given attribute has the value the queue has.
                let attrs = self.new_queue_attributes(c, name, &given)?;
                for k in given.keys() {
                    let same = match (attrs.get(k), existing.attributes.get(k)) {
                        (Some(a), Some(b)) if k == "Policy" || k.starts_with("Redrive") => {
                            serde_json::from_str::<Value>(a).ok()
                                == serde_json::from_str::<Value>(b).ok()
                        }
                        (a, b) => a == b,
                    };
                    if !same {
                        return Err(ApiError::queue_name_exists(k));
                    }
                }
                return Ok(existing);
            }
            if let Some(at) = state::deleted_at(c, name)? {
                if at + DELETED_RECENTLY_MS > now {
                    return Err(ApiError::queue_deleted_recently());
                }
            }
            let attributes = self.new_queue_attributes(c, name, &given)?;
            if tags.len() > 50 {
                return Err(ApiError::invalid_parameter_value(
                    "Too many tags added for queue.",
                ));
            }
            let q = QueueRow {
                name: name.to_string(),
                region: cx.region.clone(),
                account: cx.account.clone(),
                fifo: name.ends_with(".fifo"),
                attributes,
                tags: tags.clone(),
                created_ms: now,
                modified_ms: now,
                last_purge_ms: None,
            };
            state::insert_queue(c, &q)?;
            Ok(q)
        })?;
        Ok(json!({ "QueueUrl": self.queue_url(&q) }))
    }

    pub(crate) fn ensure_queue_inner(
        &self,
        name: &str,
        mut given: BTreeMap<String, String>,
        cx: &Cx,
    ) -> ApiResult<QueueInfo> {
        if name.ends_with(".fifo") {
            given
                .entry("FifoQueue".into())
                .or_insert_with(|| "true".into());
        }
        let now = self.now();
        let q = self.state.write(|c| {
            if let Some(mut existing) = state::queue(c, name)? {
                for (k, v) in &given {
                    if k == "FifoQueue" {
                        continue;
                    }
                    match self.validate_attribute(c, k, v, existing.fifo, false)? {
                        Some(v) => existing.attributes.insert(k.clone(), v),
                        None => existing.attributes.remove(k),
                    };
                }
                finish_attributes(&mut existing.attributes)?;
                state::set_attributes(c, name, &existing.attributes, now)?;
                return Ok(existing);
            }
            let attributes = self.new_queue_attributes(c, name, &given)?;
            let q = QueueRow {
                name: name.to_string(),
                region: cx.region.clone(),
                account: cx.account.clone(),
                fifo: name.ends_with(".fifo"),
                attributes,
                tags: BTreeMap::new(),
                created_ms: now,
                modified_ms: now,
                last_purge_ms: None,
            };
            state::insert_queue(c, &q)?;
            Ok(q)
        })?;
        Ok(QueueInfo {
            url: self.queue_url(&q),
            arn: q.arn(),
            name: q.name,
        })
    }

    pub(crate) fn get_queue_url(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = input.required("QueueName")?;
        if let Some(owner) = input.str("QueueOwnerAWSAccountId") {
            if owner != cx.account {
                return Err(ApiError::queue_does_not_exist());
            }
        }
        let q = self.state.read(|c| state::existing(c, name))?;
        Ok(json!({ "QueueUrl": self.queue_url(&q) }))
    }

    pub(crate) fn list_queues(&self, input: Input<'_>) -> ApiResult<Value> {
        let prefix = input.str("QueueNamePrefix").unwrap_or("");
        let (max, after) = page_input(input)?;
        let names: Vec<QueueRow> = self
            .state
            .read(state::queues)?
            .into_iter()
            .filter(|q| q.name.starts_with(prefix))
            .filter(|q| after.as_ref().is_none_or(|a| q.name.as_str() > a.as_str()))
            .collect();
        // AWS leaves QueueUrls out of an empty answer.
        let names: Vec<&QueueRow> = names.iter().collect();
        Ok(self.url_page(&names, max, "QueueUrls", true))
    }

    pub(crate) fn delete_queue(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let now = self.now();
        self.state.write(|c| {
            if !state::delete_queue(c, name, now)? {
                return Err(ApiError::queue_does_not_exist());
            }
            Ok(())
        })?;
        self.wake(name);
        Ok(json!({}))
    }

    /// Every attribute of a queue, computed ones included.
    pub(crate) fn all_attributes(&self, q: &QueueRow) -> ApiResult<BTreeMap<String, String>> {
        let now = self.now();
        let counts = self.state.read(|c| state::counts(c, q, now))?;
        let mut all = q.attributes.clone();
        all.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        all.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        all.insert("CreatedTimestamp".into(), (q.created_ms / 1000).to_string());
        all.insert(
            "LastModifiedTimestamp".into(),
            (q.modified_ms / 1000).to_string(),
        );
        all.insert("QueueArn".into(), q.arn());
        Ok(all)
    }

    pub(crate) fn get_queue_attributes(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let q = self.state.read(|c| state::existing(c, name))?;
        let wanted = input.strings("AttributeNames");
        for w in &wanted {
            if w != "All" && !SETTABLE.contains(&w.as_str()) && !COMPUTED.contains(&w.as_str()) {
                return Err(ApiError::invalid_attribute_name(w));
            }
        }
        let all = self.all_attributes(&q)?;
        let attrs: Map<String, Value> = all
            .into_iter()
            .filter(|(k, _)| wanted.iter().any(|w| w == "All" || w == k))
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut out = Map::new();
        if !attrs.is_empty() {
            out.insert("Attributes".into(), Value::Object(attrs));
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn set_queue_attributes(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let given = input.string_map("Attributes");
        let now = self.now();
        self.state.write(|c| {
            let mut q = state::existing(c, name)?;
            for (k, v) in &given {
                match self.validate_attribute(c, k, v, q.fifo, false)? {
                    Some(v) => q.attributes.insert(k.clone(), v),
                    None => q.attributes.remove(k),
                };
            }
            finish_attributes(&mut q.attributes)?;
            state::set_attributes(c, name, &q.attributes, now)
        })?;
        // A shorter delay or retention may change what a long poll can see.
        self.wake(name);
        Ok(json!({}))
    }

    pub(crate) fn purge_queue(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let now = self.now();
        self.state.write(|c| {
            let q = state::existing(c, name)?;
            if q.last_purge_ms
                .is_some_and(|at| at + PURGE_INTERVAL_MS > now)
            {
                return Err(ApiError::purge_in_progress(name));
            }
            state::purge(c, name, now)
        })?;
        Ok(json!({}))
    }

    pub(crate) fn tag_queue(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let tags = input.string_map("Tags");
        if tags.is_empty() {
            return Err(ApiError::missing_parameter("Tags"));
        }
        self.state.write(|c| {
            let mut q = state::existing(c, name)?;
            q.tags.extend(tags);
            if q.tags.len() > 50 {
                return Err(ApiError::invalid_parameter_value(
                    "Too many tags added for queue.",
                ));
            }
            state::set_tags(c, name, &q.tags)
        })?;
        Ok(json!({}))
    }

    pub(crate) fn untag_queue(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let keys = input.strings("TagKeys");
        if keys.is_empty() {
            return Err(ApiError::missing_parameter("TagKeys"));
        }
        self.state.write(|c| {
            let mut q = state::existing(c, name)?;
            for k in &keys {
                q.tags.remove(k);
            }
            state::set_tags(c, name, &q.tags)
        })?;
        Ok(json!({}))
    }

    pub(crate) fn list_queue_tags(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let q = self.state.read(|c| state::existing(c, name))?;
        let mut out = Map::new();
        if !q.tags.is_empty() {
            out.insert("Tags".into(), json!(q.tags));
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn list_dead_letter_source_queues(
        &self,
        input: Input<'_>,
        cx: &Cx,
    ) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let (max, after) = page_input(input)?;
        let (dlq, all) = self
            .state
            .read(|c| Ok((state::existing(c, name)?, state::queues(c)?)))?;
        let arn = dlq.arn();
        let sources: Vec<&QueueRow> = all
            .iter()
            .filter(|q| q.redrive().is_some_and(|(target, _)| target == arn))
            .filter(|q| after.as_ref().is_none_or(|a| q.name.as_str() > a.as_str()))
            .collect();
        Ok(self.url_page(&sources, max, "queueUrls", false))
    }

    /// One page of `queues` (in name order, already past the `NextToken`) as their
    /// URLs under `key`, with a `NextToken` when `MaxResults` was given and more
    /// remain; `omit_empty` leaves `key` out of an empty page.
    fn url_page(
        &self,
        queues: &[&QueueRow],
        max: Option<i64>,
        key: &str,
        omit_empty: bool,
    ) -> Value {
        let limit = max.unwrap_or(1000) as usize;
        let page = &queues[..queues.len().min(limit)];
        let mut out = Map::new();
        if !(omit_empty && page.is_empty()) {
            out.insert(
                key.into(),
                page.iter()
                    .map(|q| Value::String(self.queue_url(q)))
                    .collect(),
            );
        }
        if max.is_some() && queues.len() > limit {
            if let Some(last) = page.last() {
                out.insert("NextToken".into(), token_for(&last.name).into());
            }
        }
        Value::Object(out)
    }

    pub(crate) fn add_permission(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let label = input.required("Label")?;
        let accounts = input.strings("AWSAccountIds");
        if accounts.is_empty() {
            return Err(ApiError::missing_parameter("AWSAccountIds"));
        }
        let actions = input.strings("Actions");
        if actions.is_empty() {
            return Err(ApiError::missing_parameter("Actions"));
        }
        if actions.len() > 7 {
            return Err(ApiError::over_limit(format!(
                "{} Actions were found, maximum allowed is 7.",
                actions.len()
            )));
        }
        for a in &actions {
            if !PERMISSION_ACTIONS.contains(&a.as_str()) {
                return Err(ApiError::invalid_value(
                    "ActionName",
                    a,
                    "Please refer to the appropriate WSDL for a list of valid actions.",
                ));
            }
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || label.len() > 80
        {
            return Err(ApiError::invalid_value(
                "Label",
                label,
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let now = self.now();
        self.state.write(|c| {
            let mut q = state::existing(c, name)?;
            let arn = q.arn();
            let mut policy = q
                .attributes
                .get("Policy")
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .filter(Value::is_object)
                .unwrap_or_else(|| {
                    json!({"Version": "2012-10-17", "Id": format!("{arn}/SQSDefaultPolicy"), "Statement": []})
                });
            let statements = policy
                .as_object_mut()
                .map(|o| o.entry("Statement").or_insert_with(|| json!([])))
                .and_then(Value::as_array_mut)
                .ok_or_else(|| ApiError::internal("stored policy has no statement list"))?;
            if statements
                .iter()
                .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
            {
                return Err(ApiError::invalid_value("Label", label, "Already exists."));
            }
            let principals: Vec<Value> = accounts
                .iter()
                .map(|a| Value::String(format!("arn:aws:iam::{a}:root")))
                .collect();
            let actions: Vec<Value> = actions
                .iter()
                .map(|a| Value::String(format!("SQS:{a}")))
                .collect();
            let one_or_many = |mut v: Vec<Value>| {
                if v.len() == 1 {
                    v.remove(0)
                } else {
                    Value::Array(v)
                }
            };
            statements.push(json!({
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": one_or_many(principals)},
                "Action": one_or_many(actions),
                "Resource": arn,
            }));
            q.attributes.insert("Policy".into(), policy.to_string());
            state::set_attributes(c, name, &q.attributes, now)
        })?;
        Ok(json!({}))
    }

    pub(crate) fn remove_permission(&self, input: Input<'_>, cx: &Cx) -> ApiResult<Value> {
        let name = self.queue_of(input, cx)?;
        let label = input.required("Label")?;
        let now = self.now();
        self.state.write(|c| {
            let mut q = state::existing(c, name)?;
            let not_found = || ApiError::invalid_value("Label", label, "can't find label.");
            let mut policy = q
                .attributes
                .get("Policy")
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .ok_or_else(not_found)?;
            let statements = policy
                .get_mut("Statement")
                .and_then(Value::as_array_mut)
                .ok_or_else(not_found)?;
            let before = statements.len();
            statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
            if statements.len() == before {
                return Err(not_found());
            }
            if statements.is_empty() {
                q.attributes.remove("Policy");
            } else {
                q.attributes.insert("Policy".into(), policy.to_string());
            }
            state::set_attributes(c, name, &q.attributes, now)
        })?;
        Ok(json!({}))
    }
}

/// Cross-attribute rules, applied after every change.
fn finish_attributes(attrs: &mut BTreeMap<String, String>) -> ApiResult<()> {
    if attrs.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
        && attrs.get("DeduplicationScope").map(String::as_str) == Some("queue")
    {
        return Err(ApiError::invalid_attribute_value(
            "FifoThroughputLimit",
            Some("The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup"),
        ));
    }
    // One encryption option at a time: SSE-KMS when a key is set, else SSE-SQS
    // (on by default for new queues since 2022).
    if attrs.contains_key("KmsMasterKeyId") {
        if attrs.get("SqsManagedSseEnabled").map(String::as_str) == Some("true") {
            attrs.insert("SqsManagedSseEnabled".into(), "false".into());
        }
        attrs
            .entry("KmsDataKeyReusePeriodSeconds".into())
            .or_insert_with(|| "300".into());
    } else {
        attrs.remove("KmsDataKeyReusePeriodSeconds");
        attrs
            .entry("SqsManagedSseEnabled".into())
            .or_insert_with(|| "true".into());
    }
    Ok(())
}

fn validate_redrive_allow_policy(value: &str) -> ApiResult<()> {
    let invalid = |reason: &str| ApiError::invalid_value("RedriveAllowPolicy", value, reason);
    let policy: Value = serde_json::from_str(value).map_err(|_| invalid("Invalid JSON."))?;
    let permission = policy
        .get("redrivePermission")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let sources = policy.get("sourceQueueArns");
    match permission {
        "allowAll" | "denyAll" => {
            if sources.is_some() {
                return Err(invalid(
                    "Only specify sourceQueueArns with redrivePermission set to byQueue.",
                ));
            }
        }
        "byQueue" => {
            let n = sources.and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            if n == 0 {
                return Err(invalid(
                    "Specify sourceQueueArns with redrivePermission set to byQueue.",
                ));
            }
            if n > 10 {
                return Err(invalid("Maximum 10 source queue ARNs allowed."));
            }
        }
        _ => return Err(invalid("Invalid value for redrivePermission.")),
    }
    Ok(())
}
