//! SQS's durable state: the `sqs_*` tables in the stack's SQLite database.
//!
//! - `sqs_queues`: one row per queue, its settable attributes and tags as JSON, the
//!   FIFO sequence counter and the last purge time.
//! - `sqs_messages`: every message not yet deleted or expired. A message is *visible*
//!   when `visible_at_ms <= now`; *in flight* when it has been received
//!   (`receive_count > 0`) and is not yet visible again; *delayed* when never received
//!   and not yet visible. Visibility is computed when read, so a restart needs no
//!   timers: an in-flight message simply becomes visible once the clock passes its
//!   `visible_at_ms`.
//! - `sqs_dedup`: FIFO deduplication ids with the end of their 5-minute window.
//! - `sqs_receive_attempts`: FIFO `ReceiveRequestAttemptId`s and what they returned.
//! - `sqs_deleted`: recently deleted queue names (`QueueDeletedRecently`).
//! - `sqs_move_tasks`: message move tasks (dead-letter queue redrives).
//!
//! All times are milliseconds on the stack's clock. Writes run in `BEGIN IMMEDIATE`
//! transactions and commit before the API answers.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::{Map, Value};
use slcl_store::{Db, Store};

use crate::error::{ApiError, ApiResult, SqsError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sqs_queues (
    name            TEXT PRIMARY KEY,
    region          TEXT NOT NULL,
    account         TEXT NOT NULL,
    fifo            INTEGER NOT NULL,
    -- JSON object of the settable attributes (defaults filled in)
    attributes      TEXT NOT NULL,
    tags            TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    modified_ms     INTEGER NOT NULL,
    last_purge_ms   INTEGER,
    next_sequence   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sqs_messages (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue             TEXT NOT NULL,
    message_id        TEXT NOT NULL,
    body              TEXT NOT NULL,
    -- JSON object, the JSON protocol's MessageAttributes shape; NULL when none
    message_attributes TEXT,
    -- JSON object of message system attributes sent (AWSTraceHeader)
    system_attributes TEXT,
    sent_ms           INTEGER NOT NULL,
    -- retention counts from here (the original send, or the move into a FIFO DLQ)
    retain_from_ms    INTEGER NOT NULL,
    visible_at_ms     INTEGER NOT NULL,
    receive_count     INTEGER NOT NULL DEFAULT 0,
    first_receive_ms  INTEGER,
    received_ms       INTEGER,
    -- random part of the latest receipt handle
    receipt_nonce     TEXT,
    group_id          TEXT,
    dedup_id          TEXT,
    sequence_number   TEXT,
    sender_id         TEXT NOT NULL,
    dlq_source_arn    TEXT,
    -- slcl's trace of the request that sent it: '<trace id> <parent step id>'
    trace             TEXT
);
CREATE INDEX IF NOT EXISTS sqs_messages_by_queue ON sqs_messages (queue, visible_at_ms);
CREATE UNIQUE INDEX IF NOT EXISTS sqs_messages_by_id ON sqs_messages (queue, message_id);
-- FIFO receives look for earlier invisible messages of a candidate's group
CREATE INDEX IF NOT EXISTS sqs_messages_by_group ON sqs_messages (queue, group_id, visible_at_ms);
CREATE TABLE IF NOT EXISTS sqs_dedup (
    queue           TEXT NOT NULL,
    dedup_key       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sequence_number TEXT,
    expires_ms      INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_key)
);
CREATE TABLE IF NOT EXISTS sqs_receive_attempts (
    queue       TEXT NOT NULL,
    attempt_id  TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    -- JSON array of [message_id, receipt_nonce]
    receipts    TEXT NOT NULL,
    PRIMARY KEY (queue, attempt_id)
);
CREATE TABLE IF NOT EXISTS sqs_deleted (
    name        TEXT PRIMARY KEY,
    deleted_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sqs_move_tasks (
    task_id          TEXT PRIMARY KEY,
    source_arn       TEXT NOT NULL,
    destination_arn  TEXT,
    rate             INTEGER,
    status           TEXT NOT NULL,
    moved            INTEGER NOT NULL,
    to_move          INTEGER NOT NULL,
    started_ms       INTEGER NOT NULL,
    failure_reason   TEXT
);
";

/// A queue row.
#[derive(Debug, Clone)]
pub struct QueueRow {
    /// Queue name.
    pub name: String,
    /// Region in its ARN and URL.
    pub region: String,
    /// Owning account.
    pub account: String,
    /// FIFO queue.
    pub fifo: bool,
    /// Settable attributes, defaults filled in.
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// CreatedTimestamp, ms.
    pub created_ms: i64,
    /// LastModifiedTimestamp, ms.
    pub modified_ms: i64,
    /// Last PurgeQueue, ms.
    pub last_purge_ms: Option<i64>,
}

impl QueueRow {
    /// The queue's ARN.
    pub fn arn(&self) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account, self.name)
    }

    /// An integer attribute, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// A boolean attribute.
    pub fn flag(&self, name: &str) -> bool {
        self.attributes
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// VisibilityTimeout in ms.
    pub fn visibility_ms(&self) -> i64 {
        self.int("VisibilityTimeout", 30) * 1000
    }

    /// MessageRetentionPeriod in ms.
    pub fn retention_ms(&self) -> i64 {
        self.int("MessageRetentionPeriod", 345_600) * 1000
    }

    /// The redrive policy's dead-letter queue ARN and maxReceiveCount.
    pub fn redrive(&self) -> Option<(String, i64)> {
        let policy: Value = serde_json::from_str(self.attributes.get("RedrivePolicy")?).ok()?;
        let arn = policy.get("deadLetterTargetArn")?.as_str()?.to_string();
        let max = match policy.get("maxReceiveCount")? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        Some((arn, max))
    }
}

/// A message row.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// MessageId.
    pub message_id: String,
    /// Body.
    pub body: String,
    /// MessageAttributes in the JSON protocol's shape.
    pub message_attributes: Map<String, Value>,
    /// Message system attributes sent with it (AWSTraceHeader).
    pub system_attributes: Map<String, Value>,
    /// SentTimestamp, ms.
    pub sent_ms: i64,
    /// Retention starts here, ms.
    pub retain_from_ms: i64,
    /// Visible again from here, ms.
    pub visible_at_ms: i64,
    /// ApproximateReceiveCount.
    pub receive_count: i64,
    /// ApproximateFirstReceiveTimestamp, ms.
    pub first_receive_ms: Option<i64>,
    /// Latest receive, ms.
    pub received_ms: Option<i64>,
    /// Random part of the latest receipt handle.
    pub receipt_nonce: Option<String>,
    /// MessageGroupId.
    pub group_id: Option<String>,
    /// MessageDeduplicationId.
    pub dedup_id: Option<String>,
    /// SequenceNumber (FIFO).
    pub sequence_number: Option<String>,
    /// SenderId.
    pub sender_id: String,
    /// DeadLetterQueueSourceArn.
    pub dlq_source_arn: Option<String>,
    /// slcl's trace of the request that sent it (`<trace id> <parent step id>`).
    pub trace: Option<String>,
}

impl MessageRow {
    /// Received and not yet visible again.
    pub fn in_flight(&self, now: i64) -> bool {
        self.receive_count > 0 && self.receipt_nonce.is_some() && self.visible_at_ms > now
    }

    /// Never received and not yet visible.
    pub fn delayed(&self, now: i64) -> bool {
        !self.in_flight(now) && self.visible_at_ms > now
    }
}

/// A message move task row.
#[derive(Debug, Clone)]
pub struct MoveTaskRow {
    /// Id (inside the task handle).
    pub task_id: String,
    /// Dead-letter queue ARN.
    pub source_arn: String,
    /// Destination ARN, or `None` for "back to each message's source".
    pub destination_arn: Option<String>,
    /// MaxNumberOfMessagesPerSecond.
    pub rate: Option<i64>,
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED.
    pub status: String,
    /// ApproximateNumberOfMessagesMoved.
    pub moved: i64,
    /// ApproximateNumberOfMessagesToMove.
    pub to_move: i64,
    /// StartedTimestamp, ms.
    pub started_ms: i64,
    /// FailureReason.
    pub failure_reason: Option<String>,
}

/// Message counts of GetQueueAttributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// ApproximateNumberOfMessages.
    pub visible: i64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub in_flight: i64,
    /// ApproximateNumberOfMessagesDelayed.
    pub delayed: i64,
}

fn json_map(s: Option<String>) -> Map<String, Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn str_map(s: &str) -> BTreeMap<String, String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn opt_json(m: &Map<String, Value>) -> Option<String> {
    (!m.is_empty()).then(|| Value::Object(m.clone()).to_string())
}

const QUEUE_COLS: &str =
    "name, region, account, fifo, attributes, tags, created_ms, modified_ms, last_purge_ms";

fn queue_from(r: &Row<'_>) -> rusqlite::Result<QueueRow> {
    Ok(QueueRow {
        name: r.get(0)?,
        region: r.get(1)?,
        account: r.get(2)?,
        fifo: r.get::<_, i64>(3)? != 0,
        attributes: str_map(&r.get::<_, String>(4)?),
        tags: str_map(&r.get::<_, String>(5)?),
        created_ms: r.get(6)?,
        modified_ms: r.get(7)?,
        last_purge_ms: r.get(8)?,
    })
}

const MESSAGE_COLS: &str = "seq, message_id, body, message_attributes, system_attributes, sent_ms, retain_from_ms, visible_at_ms, receive_count, first_receive_ms, received_ms, receipt_nonce, group_id, dedup_id, sequence_number, sender_id, dlq_source_arn, trace";

fn message_from(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        message_id: r.get(1)?,
        body: r.get(2)?,
        message_attributes: json_map(r.get(3)?),
        system_attributes: json_map(r.get(4)?),
        sent_ms: r.get(5)?,
        retain_from_ms: r.get(6)?,
        visible_at_ms: r.get(7)?,
        receive_count: r.get(8)?,
        first_receive_ms: r.get(9)?,
        received_ms: r.get(10)?,
        receipt_nonce: r.get(11)?,
        group_id: r.get(12)?,
        dedup_id: r.get(13)?,
        sequence_number: r.get(14)?,
        sender_id: r.get(15)?,
        dlq_source_arn: r.get(16)?,
        trace: r.get(17)?,
    })
}

const TASK_COLS: &str =
    "task_id, source_arn, destination_arn, rate, status, moved, to_move, started_ms, failure_reason";

fn task_from(r: &Row<'_>) -> rusqlite::Result<MoveTaskRow> {
    Ok(MoveTaskRow {
        task_id: r.get(0)?,
        source_arn: r.get(1)?,
        destination_arn: r.get(2)?,
        rate: r.get(3)?,
        status: r.get(4)?,
        moved: r.get(5)?,
        to_move: r.get(6)?,
        started_ms: r.get(7)?,
        failure_reason: r.get(8)?,
    })
}

/// SQS's tables.
pub struct State {
    db: Db,
}

impl State {
    /// Opens the tables, creating them if needed. Move tasks that were running when
    /// the process stopped are marked failed (they are not resumed).
    pub fn open(store: &Store) -> Result<State, SqsError> {
        let db = store.db()?;
        db.with(|c| {
            c.execute_batch(SCHEMA)?;
            c.execute(
                "UPDATE sqs_move_tasks SET status = 'FAILED', failure_reason = 'slcl stopped while the task was running' WHERE status IN ('RUNNING', 'CANCELLING')",
                [],
            )?;
            Ok::<_, rusqlite::Error>(())
        })?;
        Ok(State { db })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    pub fn write<R>(&self, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<R> {
        self.db.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let r = f(&tx)?;
            tx.commit()?;
            Ok(r)
        })
    }

    /// Runs `f` on the connection, outside a transaction.
    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> ApiResult<R>) -> ApiResult<R> {
        self.db.with(|c| f(c))
    }

    /// Deletes every queue, message and task.
    pub fn reset(&self) -> ApiResult<()> {
        self.write(|c| {
            c.execute_batch(
                "DELETE FROM sqs_queues; DELETE FROM sqs_messages; DELETE FROM sqs_dedup; \
                 DELETE FROM sqs_receive_attempts; DELETE FROM sqs_deleted; DELETE FROM sqs_move_tasks;",
            )?;
            Ok(())
        })
    }
}

// Queues.

/// The queue named `name`.
pub fn queue(c: &Connection, name: &str) -> ApiResult<Option<QueueRow>> {
    Ok(c.query_row(
        &format!("SELECT {QUEUE_COLS} FROM sqs_queues WHERE name = ?1"),
        [name],
        queue_from,
    )
    .optional()?)
}

/// Every queue, by name.
pub fn queues(c: &Connection) -> ApiResult<Vec<QueueRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {QUEUE_COLS} FROM sqs_queues ORDER BY name"
    ))?;
    let rows = stmt.query_map([], queue_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts a new queue.
pub fn insert_queue(c: &Connection, q: &QueueRow) -> ApiResult<()> {
    c.execute(
        "INSERT INTO sqs_queues (name, region, account, fifo, attributes, tags, created_ms, modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            q.name,
            q.region,
            q.account,
            q.fifo as i64,
            serde_json::to_string(&q.attributes).unwrap_or_default(),
            serde_json::to_string(&q.tags).unwrap_or_default(),
            q.created_ms,
            q.modified_ms
        ],
    )?;
    c.execute("DELETE FROM sqs_deleted WHERE name = ?1", [&q.name])?;
    Ok(())
}

/// Replaces a queue's attributes.
pub fn set_attributes(
    c: &Connection,
    name: &str,
    attributes: &BTreeMap<String, String>,
    now: i64,
) -> ApiResult<()> {
    c.execute(
        "UPDATE sqs_queues SET attributes = ?2, modified_ms = ?3 WHERE name = ?1",
        params![
            name,
            serde_json::to_string(attributes).unwrap_or_default(),
            now
        ],
    )?;
    Ok(())
}

/// Replaces a queue's tags.
pub fn set_tags(c: &Connection, name: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
    c.execute(
        "UPDATE sqs_queues SET tags = ?2 WHERE name = ?1",
        params![name, serde_json::to_string(tags).unwrap_or_default()],
    )?;
    Ok(())
}

/// Deletes a queue and its messages, remembering when.
pub fn delete_queue(c: &Connection, name: &str, now: i64) -> ApiResult<bool> {
    let n = c.execute("DELETE FROM sqs_queues WHERE name = ?1", [name])?;
    for table in ["sqs_messages", "sqs_dedup", "sqs_receive_attempts"] {
        c.execute(&format!("DELETE FROM {table} WHERE queue = ?1"), [name])?;
    }
    if n > 0 {
        c.execute(
            "INSERT OR REPLACE INTO sqs_deleted (name, deleted_ms) VALUES (?1, ?2)",
            params![name, now],
        )?;
    }
    Ok(n > 0)
}

/// When the queue named `name` was last deleted.
pub fn deleted_at(c: &Connection, name: &str) -> ApiResult<Option<i64>> {
    Ok(c.query_row(
        "SELECT deleted_ms FROM sqs_deleted WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()?)
}

/// Deletes every message sent up to `now` and records the purge.
pub fn purge(c: &Connection, name: &str, now: i64) -> ApiResult<()> {
    c.execute(
        "DELETE FROM sqs_messages WHERE queue = ?1 AND sent_ms <= ?2",
        params![name, now],
    )?;
    c.execute(
        "UPDATE sqs_queues SET last_purge_ms = ?2 WHERE name = ?1",
        params![name, now],
    )?;
    Ok(())
}

/// The next FIFO sequence number, as SQS's 20-digit string.
pub fn next_sequence(c: &Connection, name: &str) -> ApiResult<String> {
    let n: i64 = c.query_row(
        "UPDATE sqs_queues SET next_sequence = next_sequence + 1 WHERE name = ?1 RETURNING next_sequence",
        [name],
        |r| r.get(0),
    )?;
    Ok(format!("1{n:019}"))
}

// Messages.

/// Drops messages past the queue's retention period.
pub fn expire(c: &Connection, q: &QueueRow, now: i64) -> ApiResult<()> {
    c.execute(
        "DELETE FROM sqs_messages WHERE queue = ?1 AND retain_from_ms + ?2 <= ?3",
        params![q.name, q.retention_ms(), now],
    )?;
    Ok(())
}

/// Inserts a message. Its receive state (`received_ms`, `receipt_nonce`) is not
/// carried into the queue: a moved message is not in flight there.
pub fn insert_message(c: &Connection, queue: &str, m: &MessageRow) -> ApiResult<()> {
    c.execute(
        "INSERT INTO sqs_messages (queue, message_id, body, message_attributes, system_attributes, sent_ms, retain_from_ms, visible_at_ms, receive_count, first_receive_ms, group_id, dedup_id, sequence_number, sender_id, dlq_source_arn, trace) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            queue,
            m.message_id,
            m.body,
            opt_json(&m.message_attributes),
            opt_json(&m.system_attributes),
            m.sent_ms,
            m.retain_from_ms,
            m.visible_at_ms,
            m.receive_count,
            m.first_receive_ms,
            m.group_id,
            m.dedup_id,
            m.sequence_number,
            m.sender_id,
            m.dlq_source_arn,
            m.trace
        ],
    )?;
    Ok(())
}

/// The message with this id in `queue`.
pub fn message(c: &Connection, queue: &str, message_id: &str) -> ApiResult<Option<MessageRow>> {
    Ok(c.query_row(
        &format!("SELECT {MESSAGE_COLS} FROM sqs_messages WHERE queue = ?1 AND message_id = ?2"),
        [queue, message_id],
        message_from,
    )
    .optional()?)
}

/// Every message of `queue` in order (for peeking and moves).
pub fn messages(c: &Connection, q: &QueueRow, now: i64) -> ApiResult<Vec<MessageRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {MESSAGE_COLS} FROM sqs_messages WHERE queue = ?1 AND retain_from_ms + ?2 > ?3 ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![q.name, q.retention_ms(), now], message_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Visible messages that a receive may take, in order, at most `limit`. For FIFO
/// queues, messages of groups with an in-flight or not-yet-visible message are left
/// out, so a group is delivered strictly in order.
pub fn candidates(
    c: &Connection,
    q: &QueueRow,
    now: i64,
    limit: usize,
) -> ApiResult<Vec<MessageRow>> {
    let sql = if q.fifo {
        format!(
            "SELECT {MESSAGE_COLS} FROM sqs_messages m WHERE queue = ?1 AND visible_at_ms <= ?2 AND retain_from_ms + ?3 > ?2 \
             AND NOT EXISTS (SELECT 1 FROM sqs_messages b WHERE b.queue = ?1 AND b.group_id IS m.group_id AND b.visible_at_ms > ?2 AND (b.seq < m.seq OR b.receipt_nonce IS NOT NULL)) \
             ORDER BY seq LIMIT ?4"
        )
    } else {
        format!(
            "SELECT {MESSAGE_COLS} FROM sqs_messages WHERE queue = ?1 AND visible_at_ms <= ?2 AND retain_from_ms + ?3 > ?2 ORDER BY seq LIMIT ?4"
        )
    };
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(
        params![q.name, now, q.retention_ms(), limit as i64],
        message_from,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks a message received: new receipt nonce, count, visibility.
pub fn mark_received(
    c: &Connection,
    queue: &str,
    m: &mut MessageRow,
    now: i64,
    visible_at: i64,
    nonce: &str,
) -> ApiResult<()> {
    m.receive_count += 1;
    m.first_receive_ms.get_or_insert(now);
    m.received_ms = Some(now);
    m.visible_at_ms = visible_at;
    m.receipt_nonce = Some(nonce.to_string());
    c.execute(
        "UPDATE sqs_messages SET receive_count = ?3, first_receive_ms = ?4, received_ms = ?5, visible_at_ms = ?6, receipt_nonce = ?7 WHERE queue = ?1 AND message_id = ?2",
        params![
            queue,
            m.message_id,
            m.receive_count,
            m.first_receive_ms,
            now,
            visible_at,
            nonce
        ],
    )?;
    Ok(())
}

/// Sets a message's visible-at time.
pub fn set_visible_at(c: &Connection, queue: &str, message_id: &str, at: i64) -> ApiResult<()> {
    c.execute(
        "UPDATE sqs_messages SET visible_at_ms = ?3 WHERE queue = ?1 AND message_id = ?2",
        params![queue, message_id, at],
    )?;
    Ok(())
}

/// Deletes a message.
pub fn delete_message(c: &Connection, queue: &str, message_id: &str) -> ApiResult<()> {
    c.execute(
        "DELETE FROM sqs_messages WHERE queue = ?1 AND message_id = ?2",
        [queue, message_id],
    )?;
    Ok(())
}

/// Visible, in-flight and delayed counts.
pub fn counts(c: &Connection, q: &QueueRow, now: i64) -> ApiResult<Counts> {
    Ok(c.query_row(
        "SELECT \
           COALESCE(SUM(visible_at_ms <= ?2), 0), \
           COALESCE(SUM(visible_at_ms > ?2 AND receive_count > 0 AND receipt_nonce IS NOT NULL), 0), \
           COALESCE(SUM(visible_at_ms > ?2 AND NOT (receive_count > 0 AND receipt_nonce IS NOT NULL)), 0) \
         FROM sqs_messages WHERE queue = ?1 AND retain_from_ms + ?3 > ?2",
        params![q.name, now, q.retention_ms()],
        |r| {
            Ok(Counts {
                visible: r.get(0)?,
                in_flight: r.get(1)?,
                delayed: r.get(2)?,
            })
        },
    )?)
}

/// Number of in-flight messages.
pub fn in_flight_count(c: &Connection, queue: &str, now: i64) -> ApiResult<i64> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM sqs_messages WHERE queue = ?1 AND visible_at_ms > ?2 AND receipt_nonce IS NOT NULL",
        params![queue, now],
        |r| r.get(0),
    )?)
}

/// The earliest time after `now` at which a message of `queue` becomes visible.
pub fn next_visible_at(c: &Connection, queue: &str, now: i64) -> ApiResult<Option<i64>> {
    Ok(c.query_row(
        "SELECT MIN(visible_at_ms) FROM sqs_messages WHERE queue = ?1 AND visible_at_ms > ?2",
        params![queue, now],
        |r| r.get(0),
    )?)
}

// FIFO deduplication and receive attempts.

/// A live deduplication record: the original message id and sequence number.
pub fn dedup(
    c: &Connection,
    queue: &str,
    key: &str,
    now: i64,
) -> ApiResult<Option<(String, Option<String>)>> {
    Ok(c.query_row(
        "SELECT message_id, sequence_number FROM sqs_dedup WHERE queue = ?1 AND dedup_key = ?2 AND expires_ms > ?3",
        params![queue, key, now],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// Records a deduplication id until `expires_ms`.
pub fn record_dedup(
    c: &Connection,
    queue: &str,
    key: &str,
    message_id: &str,
    sequence_number: Option<&str>,
    expires_ms: i64,
) -> ApiResult<()> {
    c.execute(
        "INSERT OR REPLACE INTO sqs_dedup (queue, dedup_key, message_id, sequence_number, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![queue, key, message_id, sequence_number, expires_ms],
    )?;
    Ok(())
}

/// What an earlier receive with this attempt id returned, if still within its window.
pub fn receive_attempt(
    c: &Connection,
    queue: &str,
    attempt: &str,
    now: i64,
) -> ApiResult<Option<Vec<(String, String)>>> {
    let json: Option<String> = c
        .query_row(
            "SELECT receipts FROM sqs_receive_attempts WHERE queue = ?1 AND attempt_id = ?2 AND expires_ms > ?3",
            params![queue, attempt, now],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// Records what a receive with this attempt id returned.
pub fn record_receive_attempt(
    c: &Connection,
    queue: &str,
    attempt: &str,
    expires_ms: i64,
    receipts: &[(String, String)],
) -> ApiResult<()> {
    c.execute(
        "INSERT OR REPLACE INTO sqs_receive_attempts (queue, attempt_id, expires_ms, receipts) VALUES (?1, ?2, ?3, ?4)",
        params![
            queue,
            attempt,
            expires_ms,
            serde_json::to_string(receipts).unwrap_or_default()
        ],
    )?;
    Ok(())
}

// Message move tasks.

/// Inserts a task.
pub fn insert_task(c: &Connection, t: &MoveTaskRow) -> ApiResult<()> {
    c.execute(
        "INSERT INTO sqs_move_tasks (task_id, source_arn, destination_arn, rate, status, moved, to_move, started_ms, failure_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            t.task_id,
            t.source_arn,
            t.destination_arn,
            t.rate,
            t.status,
            t.moved,
            t.to_move,
            t.started_ms,
            t.failure_reason
        ],
    )?;
    Ok(())
}

/// A task by id.
pub fn task(c: &Connection, id: &str) -> ApiResult<Option<MoveTaskRow>> {
    Ok(c.query_row(
        &format!("SELECT {TASK_COLS} FROM sqs_move_tasks WHERE task_id = ?1"),
        [id],
        task_from,
    )
    .optional()?)
}

/// Tasks of a source queue, newest first.
pub fn tasks(c: &Connection, source_arn: &str) -> ApiResult<Vec<MoveTaskRow>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {TASK_COLS} FROM sqs_move_tasks WHERE source_arn = ?1 ORDER BY started_ms DESC, rowid DESC"
    ))?;
    let rows = stmt.query_map([source_arn], task_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Updates a task's progress and status.
pub fn update_task(
    c: &Connection,
    id: &str,
    status: &str,
    moved: i64,
    failure: Option<&str>,
) -> ApiResult<()> {
    c.execute(
        "UPDATE sqs_move_tasks SET status = ?2, moved = ?3, failure_reason = ?4 WHERE task_id = ?1",
        params![id, status, moved, failure],
    )?;
    Ok(())
}

/// Shorthand for "the queue must exist".
pub fn existing(c: &Connection, name: &str) -> ApiResult<QueueRow> {
    queue(c, name)?.ok_or_else(ApiError::queue_does_not_exist)
}
