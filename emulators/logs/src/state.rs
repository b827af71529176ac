//! CloudWatch Logs' durable state: the `logs_*` tables in the stack's SQLite database.
//!
//! - `logs_groups`: one row per log group, its retention (days, or NULL for "never
//!   expire") and tags as a JSON object.
//! - `logs_streams`: one row per log stream, with its creation and last ingestion
//!   times. First/last event times and stored bytes are computed from the events.
//! - `logs_events`: every event not yet expired. `seq` (an increasing integer) breaks
//!   ties between equal timestamps, so `(ts, seq)` is an event's position in its
//!   stream; GetLogEvents tokens and FilterLogEvents tokens encode that position.
//!
//! Retention is enforced lazily: reads first delete the events older than their
//! group's retention on the stack's clock ([`expire`]), so nothing needs a timer.
//! Writes run in `BEGIN IMMEDIATE` transactions and commit before the API answers.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use slcl_store::{Db, Store};

use crate::error::{db, ApiResult, LogsError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs_groups (
    name            TEXT PRIMARY KEY,
    created_ms      INTEGER NOT NULL,
    retention_days  INTEGER,
    -- JSON object of tags
    tags            TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS logs_streams (
    grp               TEXT NOT NULL,
    name              TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    last_ingestion_ms INTEGER,
    PRIMARY KEY (grp, name)
);
CREATE TABLE IF NOT EXISTS logs_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    grp           TEXT NOT NULL,
    stream        TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    ingestion_ms  INTEGER NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_events_by_stream ON logs_events (grp, stream, ts, seq);
CREATE INDEX IF NOT EXISTS logs_events_by_group ON logs_events (grp, ts, seq);
";

/// A log group row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Log group name.
    pub name: String,
    /// creationTime, ms.
    pub created_ms: i64,
    /// retentionInDays, if set.
    pub retention_days: Option<i64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A log stream row with the figures computed from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    /// Log stream name.
    pub name: String,
    /// creationTime, ms.
    pub created_ms: i64,
    /// lastIngestionTime, ms.
    pub last_ingestion_ms: Option<i64>,
    /// Timestamp of the earliest event.
    pub first_event_ms: Option<i64>,
    /// Timestamp of the latest event.
    pub last_event_ms: Option<i64>,
    /// UTF-8 bytes of the stored messages.
    pub stored_bytes: i64,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Position tie-breaker, increasing in ingestion order.
    pub seq: i64,
    /// Stream it belongs to.
    pub stream: String,
    /// Event timestamp, ms.
    pub ts: i64,
    /// Ingestion time, ms.
    pub ingestion_ms: i64,
    /// Message.
    pub message: String,
}

/// The service's connection.
pub struct State {
    db: Db,
}

impl State {
    /// Opens (creating) the tables.
    pub fn open(store: &Store) -> Result<State, LogsError> {
        let db = store.db()?;
        db.with(|c| c.execute_batch(SCHEMA))?;
        Ok(State { db })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    pub fn write<R>(&self, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<R> {
        self.db.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let r = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(r)
        })
    }

    /// Runs `f` on the connection, outside a transaction.
    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<R> {
        self.db.with(|c| f(c))
    }
}

/// Deletes every event older than its group's retention at `now_ms`.
pub fn expire(c: &Connection, now_ms: i64) -> ApiResult<usize> {
    c.execute(
        "DELETE FROM logs_events WHERE seq IN (
            SELECT e.seq FROM logs_events e JOIN logs_groups g ON e.grp = g.name
            WHERE g.retention_days IS NOT NULL AND e.ts < ?1 - g.retention_days * 86400000)",
        [now_ms],
    )
    .map_err(db)
}

/// Deletes everything.
pub fn reset(c: &Connection) -> ApiResult<()> {
    c.execute_batch("DELETE FROM logs_events; DELETE FROM logs_streams; DELETE FROM logs_groups;")
        .map_err(db)
}

fn group_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRow> {
    let tags: String = r.get(3)?;
    Ok(GroupRow {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        retention_days: r.get(2)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
    })
}

/// The group named `name`, if any.
pub fn group(c: &Connection, name: &str) -> ApiResult<Option<GroupRow>> {
    c.query_row(
        "SELECT name, created_ms, retention_days, tags FROM logs_groups WHERE name = ?1",
        [name],
        group_from,
    )
    .optional()
    .map_err(db)
}

/// The group named `name`, or `ResourceNotFoundException`.
pub fn existing_group(c: &Connection, name: &str) -> ApiResult<GroupRow> {
    group(c, name)?.ok_or_else(crate::error::no_group)
}

/// Groups whose name starts with `prefix` and follows `after`, by name.
pub fn groups(c: &Connection, prefix: &str, after: Option<&str>) -> ApiResult<Vec<GroupRow>> {
    let mut stmt = c
        .prepare(
            "SELECT name, created_ms, retention_days, tags FROM logs_groups
             WHERE substr(name, 1, length(?1)) = ?1 AND name > ?2 ORDER BY name",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![prefix, after.unwrap_or("")], group_from)
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

/// Stored bytes of a group.
pub fn group_bytes(c: &Connection, name: &str) -> ApiResult<i64> {
    c.query_row(
        "SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) FROM logs_events WHERE grp = ?1",
        [name],
        |r| r.get(0),
    )
    .map_err(db)
}

/// Creates a group; `ResourceAlreadyExistsException` if it exists.
pub fn insert_group(
    c: &Connection,
    name: &str,
    now_ms: i64,
    tags: &BTreeMap<String, String>,
) -> ApiResult<()> {
    if group(c, name)?.is_some() {
        return Err(crate::error::already_exists(
            "The specified log group already exists",
        ));
    }
    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
    c.execute(
        "INSERT INTO logs_groups (name, created_ms, tags) VALUES (?1, ?2, ?3)",
        params![name, now_ms, tags],
    )
    .map_err(db)?;
    Ok(())
}

/// Deletes a group with its streams and events.
pub fn delete_group(c: &Connection, name: &str) -> ApiResult<()> {
    existing_group(c, name)?;
    for sql in [
        "DELETE FROM logs_events WHERE grp = ?1",
        "DELETE FROM logs_streams WHERE grp = ?1",
        "DELETE FROM logs_groups WHERE name = ?1",
    ] {
        c.execute(sql, [name]).map_err(db)?;
    }
    Ok(())
}

/// Sets (or clears) a group's retention.
pub fn set_retention(c: &Connection, name: &str, days: Option<i64>) -> ApiResult<()> {
    existing_group(c, name)?;
    c.execute(
        "UPDATE logs_groups SET retention_days = ?2 WHERE name = ?1",
        params![name, days],
    )
    .map_err(db)?;
    Ok(())
}

/// Replaces a group's tags.
pub fn set_tags(c: &Connection, name: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
    c.execute(
        "UPDATE logs_groups SET tags = ?2 WHERE name = ?1",
        params![name, tags],
    )
    .map_err(db)?;
    Ok(())
}

const STREAM_COLS: &str = "s.name, s.created_ms, s.last_ingestion_ms,
    (SELECT MIN(ts) FROM logs_events e WHERE e.grp = s.grp AND e.stream = s.name),
    (SELECT MAX(ts) FROM logs_events e WHERE e.grp = s.grp AND e.stream = s.name),
    (SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) FROM logs_events e
        WHERE e.grp = s.grp AND e.stream = s.name)";

fn stream_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<StreamRow> {
    Ok(StreamRow {
        name: r.get(0)?,
        created_ms: r.get(1)?,
        last_ingestion_ms: r.get(2)?,
        first_event_ms: r.get(3)?,
        last_event_ms: r.get(4)?,
        stored_bytes: r.get(5)?,
    })
}

/// Whether stream `name` of `group` exists: one index lookup, without the summary
/// columns (first and last event, stored bytes) that read every event of the stream.
pub fn stream_exists(c: &Connection, group: &str, name: &str) -> ApiResult<bool> {
    c.prepare_cached("SELECT 1 FROM logs_streams WHERE grp = ?1 AND name = ?2")
        .and_then(|mut stmt| stmt.exists([group, name]))
        .map_err(db)
}

/// Every stream of a group whose name starts with `prefix`, by name.
pub fn streams(c: &Connection, group: &str, prefix: &str) -> ApiResult<Vec<StreamRow>> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {STREAM_COLS} FROM logs_streams s
             WHERE s.grp = ?1 AND substr(s.name, 1, length(?2)) = ?2 ORDER BY s.name"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(params![group, prefix], stream_from)
        .map_err(db)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db)
}

/// Creates a stream; the group must exist and the stream must not.
pub fn insert_stream(c: &Connection, group: &str, name: &str, now_ms: i64) -> ApiResult<()> {
    existing_group(c, group)?;
    if stream_exists(c, group, name)? {
        return Err(crate::error::already_exists(
            "The specified log stream already exists",
        ));
    }
    c.execute(
        "INSERT INTO logs_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)",
        params![group, name, now_ms],
    )
    .map_err(db)?;
    Ok(())
}

/// Deletes a stream and its events.
pub fn delete_stream(c: &Connection, group: &str, name: &str) -> ApiResult<()> {
    existing_group(c, group)?;
    if !stream_exists(c, group, name)? {
        return Err(crate::error::no_stream());
    }
    c.execute(
        "DELETE FROM logs_events WHERE grp = ?1 AND stream = ?2",
        [group, name],
    )
    .map_err(db)?;
    c.execute(
        "DELETE FROM logs_streams WHERE grp = ?1 AND name = ?2",
        [group, name],
    )
    .map_err(db)?;
    Ok(())
}

/// Appends events (already validated) to an existing stream.
pub fn insert_events(
    c: &Connection,
    group: &str,
    stream: &str,
    events: &[(i64, &str)],
    now_ms: i64,
) -> ApiResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO logs_events (grp, stream, ts, ingestion_ms, message)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db)?;
    for (ts, message) in events {
        stmt.execute(params![group, stream, ts, now_ms, message])
            .map_err(db)?;
    }
    c.execute(
        "UPDATE logs_streams SET last_ingestion_ms = ?3 WHERE grp = ?1 AND name = ?2",
        params![group, stream, now_ms],
    )
    .map_err(db)?;
    Ok(())
}

/// A position in a stream: `(timestamp, seq)`.
pub type Position = (i64, i64);

/// Which events of a stream to read.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// Inclusive lower time bound.
    pub start: Option<i64>,
    /// Exclusive upper time bound.
    pub end: Option<i64>,
    /// Only events after this position.
    pub after: Option<Position>,
    /// Only events before this position.
    pub before: Option<Position>,
}

/// Up to `limit` events of one stream in `range`: the first ones when `from_head`,
/// else the last ones; always returned in ascending order.
pub fn stream_events(
    c: &Connection,
    group: &str,
    stream: &str,
    range: Range,
    from_head: bool,
    limit: usize,
) -> ApiResult<Vec<EventRow>> {
    let order = if from_head { "ASC" } else { "DESC" };
    let (after_ts, after_seq) = range.after.unwrap_or((i64::MIN, i64::MIN));
    let (before_ts, before_seq) = range.before.unwrap_or((i64::MAX, i64::MAX));
    let sql = format!(
        "SELECT seq, stream, ts, ingestion_ms, message FROM logs_events
         WHERE grp = ?1 AND stream = ?2 AND ts >= ?3 AND ts < ?4
           AND (ts, seq) > (?5, ?6) AND (ts, seq) < (?7, ?8)
         ORDER BY ts {order}, seq {order} LIMIT ?9"
    );
    let mut stmt = c.prepare(&sql).map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                group,
                stream,
                range.start.unwrap_or(i64::MIN),
                range.end.unwrap_or(i64::MAX),
                after_ts,
                after_seq,
                before_ts,
                before_seq,
                limit as i64
            ],
            event_from,
        )
        .map_err(db)?;
    let mut events: Vec<EventRow> = rows.collect::<rusqlite::Result<_>>().map_err(db)?;
    if !from_head {
        events.reverse();
    }
    Ok(events)
}

/// The position of a stream's last event, if any.
pub fn last_position(c: &Connection, group: &str, stream: &str) -> ApiResult<Option<Position>> {
    c.query_row(
        "SELECT ts, seq FROM logs_events WHERE grp = ?1 AND stream = ?2
         ORDER BY ts DESC, seq DESC LIMIT 1",
        [group, stream],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(db)
}

fn event_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        stream: r.get(1)?,
        ts: r.get(2)?,
        ingestion_ms: r.get(3)?,
        message: r.get(4)?,
    })
}

/// Visits a group's events in `[start, end]` after `after`, in `(ts, seq)` order,
/// until `visit` returns `false`.
pub fn scan_group(
    c: &Connection,
    group: &str,
    start: Option<i64>,
    end: Option<i64>,
    after: Option<Position>,
    mut visit: impl FnMut(EventRow) -> bool,
) -> ApiResult<()> {
    let (after_ts, after_seq) = after.unwrap_or((i64::MIN, i64::MIN));
    let mut stmt = c
        .prepare(
            "SELECT seq, stream, ts, ingestion_ms, message FROM logs_events
             WHERE grp = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts, seq) > (?4, ?5)
             ORDER BY ts, seq",
        )
        .map_err(db)?;
    let mut rows = stmt
        .query(params![
            group,
            start.unwrap_or(i64::MIN),
            end.unwrap_or(i64::MAX),
            after_ts,
            after_seq
        ])
        .map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        if !visit(event_from(row).map_err(db)?) {
            break;
        }
    }
    Ok(())
}
