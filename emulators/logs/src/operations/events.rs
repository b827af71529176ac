//! PutLogEvents, GetLogEvents and FilterLogEvents.
//!
//! An event's position in its stream is `(timestamp, seq)`: streams read in timestamp
//! order, ties in ingestion order. GetLogEvents tokens are `f/<position>/s` (events
//! after the position, reading forward) and `b/<position>/s` (events before it,
//! reading backward), with the position written as 56 digits like AWS's tokens.
//! As on AWS, a forward read that finds nothing returns the token it was given, so a
//! client polling a stream knows it is at the end.

use serde_json::{json, Value};

use super::{input_group, Input};
use crate::error::{invalid, no_stream, ApiResult};
use crate::filter::Pattern;
use crate::state::{self, EventRow, Position, Range};
use crate::LogsService;

/// Largest PutLogEvents batch: messages in UTF-8 plus 26 bytes per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Most events in one PutLogEvents batch.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest single event message (the model's 1 MB).
pub const MAX_EVENT_BYTES: usize = 1_048_576 - 26;
/// Events further than this in the future are rejected (too new).
pub const TOO_NEW_MS: i64 = 2 * 3_600_000;
/// Events older than this are rejected (too old).
pub const TOO_OLD_MS: i64 = 14 * 86_400_000;
/// A batch's accepted events may span at most this.
pub const MAX_SPAN_MS: i64 = 86_400_000;

fn position_token(direction: char, (ts, seq): Position) -> String {
    format!("{direction}/{:020}{:036}/s", ts.max(0), seq.max(0))
}

fn parse_position_token(token: &str) -> ApiResult<(char, Position)> {
    let bad = || invalid("The specified nextToken is invalid.");
    let (direction, rest) = token.split_once('/').ok_or_else(bad)?;
    let digits = rest.strip_suffix("/s").ok_or_else(bad)?;
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ts = digits[..20].parse::<i64>().map_err(|_| bad())?;
    let seq = digits[20..].parse::<i64>().map_err(|_| bad())?;
    match direction {
        "f" => Ok(('f', (ts, seq))),
        "b" => Ok(('b', (ts, seq))),
        _ => Err(bad()),
    }
}

fn event_id(e: &EventRow) -> String {
    format!("{:020}{:036}", e.ts.max(0), e.seq)
}

/// What PutLogEvents made of a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Triage {
    /// Index after the last event older than 14 days, if any.
    pub too_old_end: Option<usize>,
    /// Index after the last event older than the group's retention, if any.
    pub expired_end: Option<usize>,
    /// Index of the first event more than 2 hours in the future, if any.
    pub too_new_start: Option<usize>,
}

impl Triage {
    /// Sorts a chronological batch's timestamps into rejected prefixes and suffix.
    pub fn of(timestamps: &[i64], now_ms: i64, retention_days: Option<i64>) -> Triage {
        let old = timestamps
            .iter()
            .take_while(|t| **t < now_ms - TOO_OLD_MS)
            .count();
        let expired = retention_days.map_or(0, |d| {
            timestamps
                .iter()
                .take_while(|t| **t < now_ms - d * 86_400_000)
                .count()
        });
        let new_start = timestamps.iter().position(|t| *t > now_ms + TOO_NEW_MS);
        Triage {
            too_old_end: (old > 0).then_some(old),
            expired_end: (expired > old).then_some(expired),
            too_new_start: new_start,
        }
    }

    /// The accepted range of the batch.
    pub fn accepted(&self, len: usize) -> std::ops::Range<usize> {
        let start = self
            .too_old_end
            .unwrap_or(0)
            .max(self.expired_end.unwrap_or(0));
        let end = self.too_new_start.unwrap_or(len).max(start);
        start..end
    }
}

impl LogsService {
    pub(crate) fn put_log_events(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input.required("logGroupName")?;
        let stream = input.required("logStreamName")?;
        // sequenceToken is ignored, as AWS has done since January 2023.
        let entries = input
            .objects("logEvents")?
            .ok_or_else(|| super::missing("logEvents"))?;
        if entries.is_empty() || entries.len() > MAX_BATCH_EVENTS {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and {MAX_BATCH_EVENTS}"
            )));
        }
        let mut events = Vec::with_capacity(entries.len());
        let mut size = 0;
        for (i, e) in entries.iter().enumerate() {
            let ts = e
                .int("timestamp")?
                .ok_or_else(|| super::missing(&format!("logEvents.{}.member.timestamp", i + 1)))?;
            let message = e
                .required("message")
                .map_err(|_| super::missing(&format!("logEvents.{}.member.message", i + 1)))?;
            if message.is_empty() {
                return Err(invalid(format!(
                    "1 validation error detected: Value '' at 'logEvents.{}.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
                    i + 1
                )));
            }
            if message.len() > MAX_EVENT_BYTES {
                return Err(invalid(format!(
                    "Log event too large: {} bytes exceeds limit of {MAX_EVENT_BYTES}",
                    message.len()
                )));
            }
            size += message.len() + 26;
            events.push((ts, message));
        }
        if size > MAX_BATCH_BYTES {
            return Err(invalid(format!(
                "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        if events.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(invalid(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        let now = self.now();
        let (triage, last_seq) = self.state.write(|c| {
            let g = state::existing_group(c, group)?;
            if !state::stream_exists(c, group, stream)? {
                return Err(no_stream());
            }
            let timestamps: Vec<i64> = events.iter().map(|(t, _)| *t).collect();
            let triage = Triage::of(&timestamps, now, g.retention_days);
            let accepted = &events[triage.accepted(events.len())];
            if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
                if last.0 - first.0 > MAX_SPAN_MS {
                    return Err(invalid(
                        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                    ));
                }
            }
            state::insert_events(c, group, stream, accepted, now)?;
            Ok((triage, c.last_insert_rowid()))
        })?;
        let mut out = json!({ "nextSequenceToken": format!("{last_seq:056}") });
        if triage != Triage::default() {
            let mut info = serde_json::Map::new();
            if let Some(i) = triage.too_new_start {
                info.insert("tooNewLogEventStartIndex".into(), i.into());
            }
            if let Some(i) = triage.too_old_end {
                info.insert("tooOldLogEventEndIndex".into(), i.into());
            }
            if let Some(i) = triage.expired_end {
                info.insert("expiredLogEventEndIndex".into(), i.into());
            }
            out["rejectedLogEventsInfo"] = Value::Object(info);
        }
        Ok(out)
    }

    pub(crate) fn get_log_events(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input_group(input)?;
        let stream = input.required("logStreamName")?;
        let limit = input.limit("limit", 10_000, 10_000)?;
        let start = input.int("startTime")?;
        let end = input.int("endTime")?;
        let token = input
            .str("nextToken")?
            .map(parse_position_token)
            .transpose()?;
        let from_head = match token {
            Some((direction, _)) => direction == 'f',
            None => input.bool("startFromHead")?.unwrap_or(false),
        };
        let now = self.now();
        let (events, tail) = self.state.write(|c| {
            state::expire(c, now)?;
            state::existing_group(c, group)?;
            if !state::stream_exists(c, group, stream)? {
                return Err(no_stream());
            }
            let range = Range {
                start,
                end,
                after: token.filter(|t| t.0 == 'f').map(|t| t.1),
                before: token.filter(|t| t.0 == 'b').map(|t| t.1),
            };
            let events = state::stream_events(c, group, stream, range, from_head, limit)?;
            let tail = state::last_position(c, group, stream)?;
            Ok((events, tail))
        })?;
        let (forward, backward) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (
                position_token('f', (last.ts, last.seq)),
                position_token('b', (first.ts, first.seq)),
            ),
            _ => match token {
                Some(('f', p)) => (position_token('f', p), position_token('b', (p.0, p.1 + 1))),
                Some((_, p)) => (position_token('f', (p.0, p.1 - 1)), position_token('b', p)),
                None if from_head => (position_token('f', (0, 0)), position_token('b', (0, 0))),
                None => {
                    let p = tail.unwrap_or((0, 0));
                    (position_token('f', p), position_token('b', (p.0, p.1 + 1)))
                }
            },
        };
        let listed: Vec<Value> = events
            .iter()
            .map(|e| json!({"timestamp": e.ts, "message": e.message, "ingestionTime": e.ingestion_ms}))
            .collect();
        Ok(json!({
            "events": listed,
            "nextForwardToken": forward,
            "nextBackwardToken": backward,
        }))
    }

    pub(crate) fn filter_log_events(&self, input: Input<'_>) -> ApiResult<Value> {
        let group = input_group(input)?;
        let names = input.strings("logStreamNames")?;
        let prefix = input.str("logStreamNamePrefix")?;
        if names.is_some() && prefix.is_some() {
            return Err(invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        if names
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > 100)
        {
            return Err(invalid(
                "1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        let limit = input.limit("limit", 10_000, 10_000)?;
        let start = input.int("startTime")?;
        let end = input.int("endTime")?;
        let pattern_text = input.str("filterPattern")?.unwrap_or("");
        if pattern_text.len() > 1024 {
            return Err(invalid(
                "The filter pattern is longer than 1024 characters.",
            ));
        }
        let pattern = Pattern::parse(pattern_text).map_err(|e| invalid(e.to_string()))?;
        let after = match input.str("nextToken")? {
            Some(t) => {
                let s = super::from_token(t)?;
                let (ts, seq) = s
                    .split_once(':')
                    .ok_or_else(|| invalid("The specified nextToken is invalid."))?;
                Some((
                    ts.parse::<i64>()
                        .map_err(|_| invalid("The specified nextToken is invalid."))?,
                    seq.parse::<i64>()
                        .map_err(|_| invalid("The specified nextToken is invalid."))?,
                ))
            }
            None => None,
        };
        let now = self.now();
        let (events, more, searched) = self.state.write(|c| {
            state::expire(c, now)?;
            state::existing_group(c, group)?;
            let streams: Vec<String> = state::streams(c, group, prefix.unwrap_or(""))?
                .into_iter()
                .map(|s| s.name)
                .filter(|s| names.as_ref().is_none_or(|n| n.contains(s)))
                .collect();
            let mut events = Vec::new();
            let mut more = false;
            state::scan_group(c, group, start, end, after, |e| {
                if !streams.contains(&e.stream) || !pattern.matches(&e.message) {
                    return true;
                }
                if events.len() == limit {
                    more = true;
                    return false;
                }
                events.push(e);
                true
            })?;
            Ok((events, more, streams))
        })?;
        let listed: Vec<Value> = events
            .iter()
            .map(|e| {
                json!({
                    "logStreamName": e.stream,
                    "timestamp": e.ts,
                    "message": e.message,
                    "ingestionTime": e.ingestion_ms,
                    "eventId": event_id(e),
                })
            })
            .collect();
        let searched: Vec<Value> = searched
            .iter()
            .map(|s| json!({"logStreamName": s, "searchedCompletely": true}))
            .collect();
        let mut out = json!({ "events": listed, "searchedLogStreams": searched });
        if more {
            if let Some(last) = events.last() {
                out["nextToken"] = super::token_for(&format!("{}:{}", last.ts, last.seq)).into();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let t = position_token('f', (1_767_225_600_000, 42));
        assert_eq!(t.len(), 2 + 56 + 2);
        assert_eq!(
            parse_position_token(&t).unwrap(),
            ('f', (1_767_225_600_000, 42))
        );
        assert!(parse_position_token("f/123/s").is_err());
        assert!(parse_position_token(
            "x/00000000000000000000000000000000000000000000000000000000/s"
        )
        .is_err());
    }

    #[test]
    fn triage() {
        let now = 100 * 86_400_000;
        let day = 86_400_000;
        let ts = [
            now - 20 * day,
            now - 10 * day,
            now - 2 * day,
            now,
            now + 3 * 3_600_000,
        ];
        let t = Triage::of(&ts, now, None);
        assert_eq!(t.too_old_end, Some(1));
        assert_eq!(t.expired_end, None);
        assert_eq!(t.too_new_start, Some(4));
        assert_eq!(t.accepted(ts.len()), 1..4);
        let t = Triage::of(&ts, now, Some(7));
        assert_eq!(t.expired_end, Some(2));
        assert_eq!(t.accepted(ts.len()), 2..4);
        assert_eq!(Triage::of(&[now], now, Some(1)), Triage::default());
    }
}
