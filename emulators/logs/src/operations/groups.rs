//! Log groups, log streams, retention policies and tags.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    check_group_name, check_stream_name, from_token, group_name_of, input_group, token_for, Input,
};
use crate::error::{invalid, ApiResult};
use crate::state::{self, GroupRow, StreamRow};
use crate::LogsService;

/// The `retentionInDays` values AWS accepts (the model's `Days` documentation).
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Most tags on one log group.
const MAX_TAGS: usize = 50;

fn check_tags(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(invalid(format!("Invalid tag key: {k}")));
        }
        if v.chars().count() > 256 {
            return Err(invalid(format!("Invalid tag value for key {k}")));
        }
    }
    Ok(())
}

impl LogsService {
    fn group_json(&self, g: &GroupRow, stored_bytes: i64) -> Value {
        let arn = self.group_arn(&g.name);
        let mut m = Map::new();
        m.insert("logGroupName".into(), g.name.clone().into());
        m.insert("creationTime".into(), g.created_ms.into());
        if let Some(days) = g.retention_days {
            m.insert("retentionInDays".into(), days.into());
        }
        m.insert("metricFilterCount".into(), 0.into());
        m.insert("arn".into(), format!("{arn}:*").into());
        m.insert("logGroupArn".into(), arn.into());
        m.insert("storedBytes".into(), stored_bytes.into());
        m.insert("logGroupClass".into(), "STANDARD".into());
        m.insert("deletionProtectionEnabled".into(), false.into());
        Value::Object(m)
    }

    fn stream_json(&self, group: &str, s: &StreamRow) -> Value {
        let mut m = Map::new();
        m.insert("logStreamName".into(), s.name.clone().into());
        m.insert("creationTime".into(), s.created_ms.into());
        if let Some(t) = s.first_event_ms {
            m.insert("firstEventTimestamp".into(), t.into());
        }
        if let Some(t) = s.last_event_ms {
            m.insert("lastEventTimestamp".into(), t.into());
        }
        if let Some(t) = s.last_ingestion_ms {
            m.insert("lastIngestionTime".into(), t.into());
        }
        m.insert(
            "arn".into(),
            format!("{}:log-stream:{}", self.group_arn(group), s.name).into(),
        );
        m.insert("storedBytes".into(), s.stored_bytes.into());
        Value::Object(m)
    }

    pub(crate) fn create_log_group(&self, input: Input<'_>) -> ApiResult<Value> {
        let name = input.required("logGroupName")?;
        check_group_name(name)?;
        let tags = input.string_map("tags")?.unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(invalid("A log group can have at most 50 tags."));
        }
        check_tags(&tags)?;
        if let Some(class) = input.str("logGroupClass")? {
            if !matches!(class, "STANDARD" | "INFREQUENT_ACCESS" | "DELIVERY") {
                return Err(invalid(format!("Invalid logGroupClass: {class}")));
            }
        }
        let now = self.now();
        self.state
            .write(|c| state::insert_group(c, name, now, &tags))?;
        Ok(json!({}))
    }

    pub(crate) fn delete_log_group(&self, input: Input<'_>) -> ApiResult<Value> {
        let name = input.required("logGroupName")?;
        self.state.write(|c| state::delete_group(c, name))?;
        Ok(json!({}))
    }

    pub(crate) fn describe_log_groups(&self, input: Input<'_>) -> ApiResult<Value> {
        let prefix = input.str("logGroupNamePrefix")?;
        let pattern = input.str("logGroupNamePattern")?;
        if prefix.is_some() && pattern.is_some() {
            return Err(invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        let limit = input.limit("limit", 50, 50)?;
        let after = input.str("nextToken")?.map(from_token).transpose()?;
        let now = self.now();
        let (groups, bytes) = self.state.write(|c| {
            state::expire(c, now)?;
            let groups = state::groups(c, prefix.unwrap_or(""), after.as_deref())?;
            let pattern = pattern.map(str::to_lowercase);
            let mut selected = Vec::new();
            for g in groups {
                if pattern
                    .as_deref()
                    .is_some_and(|p| !g.name.to_lowercase().contains(p))
                {
                    continue;
                }
                selected.push(g);
                if selected.len() > limit {
                    break;
                }
            }
            let bytes = selected
                .iter()
                .map(|g| state::group_bytes(c, &g.name))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((selected, bytes))
        })?;
        let more = groups.len() > limit;
        let listed: Vec<Value> = groups
            .iter()
            .zip(&bytes)
            .take(limit)
            .map(|(g, b)| self.group_json(g, *b))
            .collect();
        let mut out = json!({ "logGroups": listed });
        if more {
            out["nextToken"] = token_for(&groups[limit - 1].name).into();
        }
        Ok(out)
    }

    pub(crate) fn create_log_stream(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let name = input.required("logStreamName")?;
        check_stream_name(name)?;
        let now = self.now();
        self.state
            .write(|c| state::insert_stream(c, group, name, now))?;
        Ok(json!({}))
    }

    pub(crate) fn delete_log_stream(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let name = input.required("logStreamName")?;
        self.state.write(|c| state::delete_stream(c, group, name))?;
        Ok(json!({}))
    }

    pub(crate) fn describe_log_streams(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input_group(input)?;
        let prefix = input.str("logStreamNamePrefix")?;
        let by_time = match input.str("orderBy")? {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
                )))
            }
        };
        if by_time && prefix.is_some() {
            return Err(invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let descending = input.bool("descending")?.unwrap_or(false);
        let limit = input.limit("limit", 50, 50)?;
        let offset: usize = match input.str("nextToken")? {
            Some(t) => from_token(t)?
                .parse()
                .map_err(|_| invalid("The specified nextToken is invalid."))?,
            None => 0,
        };
        let now = self.now();
        let mut streams = self.state.write(|c| {
            state::expire(c, now)?;
            state::existing_group(c, group)?;
            state::streams(c, group, prefix.unwrap_or(""))
        })?;
        if by_time {
            // Streams without events sort first, as they have no last event time.
            streams.sort_by(|a, b| (a.last_event_ms, &a.name).cmp(&(b.last_event_ms, &b.name)));
        }
        if descending {
            streams.reverse();
        }
        let page: Vec<Value> = streams
            .iter()
            .skip(offset)
            .take(limit)
            .map(|s| self.stream_json(group, s))
            .collect();
        let mut out = json!({ "logStreams": page });
        if offset + limit < streams.len() {
            out["nextToken"] = token_for(&(offset + limit).to_string()).into();
        }
        Ok(out)
    }

    pub(crate) fn put_retention_policy(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let days = input
            .int("retentionInDays")?
            .ok_or_else(|| super::missing("retentionInDays"))?;
        if !RETENTION_DAYS.contains(&days) {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
            return Err(invalid(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            )));
        }
        self.state
            .write(|c| state::set_retention(c, group, Some(days)))?;
        Ok(json!({}))
    }

    pub(crate) fn delete_retention_policy(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        self.state.write(|c| state::set_retention(c, group, None))?;
        Ok(json!({}))
    }

    fn tag(&self, group: &str, add: BTreeMap<String, String>) -> ApiResult<()> {
        check_tags(&add)?;
        self.state.write(|c| {
            let mut tags = state::existing_group(c, group)?.tags;
            tags.extend(add);
            if tags.len() > MAX_TAGS {
                return Err(too_many_tags());
            }
            state::set_tags(c, group, &tags)
        })
    }

    fn untag(&self, group: &str, keys: &[String]) -> ApiResult<()> {
        self.state.write(|c| {
            let mut tags = state::existing_group(c, group)?.tags;
            for k in keys {
                tags.remove(k);
            }
            state::set_tags(c, group, &tags)
        })
    }

    fn tags_of(&self, group: &str) -> ApiResult<Value> {
        let tags = self
            .state
            .read(|c| Ok(state::existing_group(c, group)?.tags))?;
        Ok(json!({ "tags": tags }))
    }

    pub(crate) fn tag_log_group(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let tags = input
            .string_map("tags")?
            .ok_or_else(|| super::missing("tags"))?;
        self.tag(group, tags)?;
        Ok(json!({}))
    }

    pub(crate) fn untag_log_group(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let keys = input
            .strings("tags")?
            .ok_or_else(|| super::missing("tags"))?;
        self.untag(group, &keys)?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags_log_group(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        self.tags_of(group)
    }

    /// The log group of a `resourceArn` (only log groups can be tagged in slcl).
    fn resource_group<'a>(&self, input: Input<'a>) -> ApiResult<&'a str> {
        let arn = input.required("resourceArn")?;
        if !arn.starts_with("arn:") || !arn.contains(":log-group:") {
            return Err(invalid(format!(
                "Invalid resourceArn: {arn}; slcl tags log groups only"
            )));
        }
        group_name_of(arn)
    }

    pub(crate) fn tag_resource(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = self.resource_group(input)?;
        let tags = input
            .string_map("tags")?
            .ok_or_else(|| super::missing("tags"))?;
        self.tag(group, tags)?;
        Ok(json!({}))
    }

    pub(crate) fn untag_resource(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = self.resource_group(input)?;
        let keys = input
            .strings("tagKeys")?
            .ok_or_else(|| super::missing("tagKeys"))?;
        self.untag(group, &keys)?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags_for_resource(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = self.resource_group(input)?;
        self.tags_of(group)
    }
}

/// `TooManyTagsException` (TagResource's model error; TagLogGroup answers it too).
fn too_many_tags() -> slcl_core::AwsError {
    slcl_core::AwsError::bad_request(
        "TooManyTagsException",
        "A resource can have no more than 50 tags.",
    )
}
