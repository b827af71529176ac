//! The durable side of event source mappings: SQLite table
//! `lambda_event_source_mappings`, one row per mapping, so mappings (and their pollers)
//! come back after a restart.

use anyhow::Context as _;
use rusqlite::{params, OptionalExtension, Row};
use slcl_store::Db;

use super::EventSourceMapping;

/// The mappings table.
pub(crate) struct MappingStore {
    db: Db,
}

const COLUMNS: &str = "uuid, function, event_source_arn, batch_size, batching_window_s, filters, \
     response_types, maximum_concurrency, enabled, last_modified_ms, declared";

fn from_row(r: &Row<'_>) -> rusqlite::Result<EventSourceMapping> {
    let json_list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    Ok(EventSourceMapping {
        uuid: r.get(0)?,
        function: r.get(1)?,
        event_source_arn: r.get(2)?,
        batch_size: r.get(3)?,
        maximum_batching_window_s: r.get(4)?,
        filters: json_list(5)?,
        function_response_types: json_list(6)?,
        maximum_concurrency: r.get(7)?,
        enabled: r.get(8)?,
        last_modified_ms: r.get::<_, i64>(9)? as u64,
        declared: r.get(10)?,
    })
}

impl MappingStore {
    pub(crate) fn open(db: Db) -> anyhow::Result<MappingStore> {
        db.with(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS lambda_event_source_mappings (
                    uuid TEXT PRIMARY KEY,
                    function TEXT NOT NULL,
                    event_source_arn TEXT NOT NULL,
                    batch_size INTEGER NOT NULL,
                    batching_window_s INTEGER NOT NULL,
                    filters TEXT NOT NULL,
                    response_types TEXT NOT NULL,
                    maximum_concurrency INTEGER,
                    enabled INTEGER NOT NULL,
                    last_modified_ms INTEGER NOT NULL,
                    declared INTEGER NOT NULL DEFAULT 0
                );",
            )
        })
        .context("failed to create lambda_event_source_mappings")?;
        Ok(MappingStore { db })
    }

    /// Inserts or replaces a mapping; durable once this returns.
    pub(crate) fn put(&self, m: &EventSourceMapping) -> anyhow::Result<()> {
        let filters = serde_json::to_string(&m.filters)?;
        let types = serde_json::to_string(&m.function_response_types)?;
        self.db
            .with(|c| {
                c.execute(
                    "INSERT INTO lambda_event_source_mappings
                     (uuid, function, event_source_arn, batch_size, batching_window_s, filters,
                      response_types, maximum_concurrency, enabled, last_modified_ms, declared)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT(uuid) DO UPDATE SET
                      function = excluded.function, event_source_arn = excluded.event_source_arn,
                      batch_size = excluded.batch_size, batching_window_s = excluded.batching_window_s,
                      filters = excluded.filters, response_types = excluded.response_types,
                      maximum_concurrency = excluded.maximum_concurrency, enabled = excluded.enabled,
                      last_modified_ms = excluded.last_modified_ms, declared = excluded.declared",
                    params![
                        m.uuid,
                        m.function,
                        m.event_source_arn,
                        m.batch_size,
                        m.maximum_batching_window_s,
                        filters,
                        types,
                        m.maximum_concurrency,
                        m.enabled,
                        m.last_modified_ms as i64,
                        m.declared
                    ],
                )
            })
            .with_context(|| format!("failed to store event source mapping {}", m.uuid))?;
        Ok(())
    }

    pub(crate) fn get(&self, uuid: &str) -> anyhow::Result<Option<EventSourceMapping>> {
        Ok(self.db.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM lambda_event_source_mappings WHERE uuid = ?1"),
                [uuid],
                from_row,
            )
            .optional()
        })?)
    }

    /// Every mapping, oldest first.
    pub(crate) fn all(&self) -> anyhow::Result<Vec<EventSourceMapping>> {
        Ok(self.db.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM lambda_event_source_mappings ORDER BY rowid"
            ))?;
            let rows = stmt.query_map([], from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?)
    }

    pub(crate) fn delete(&self, uuid: &str) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "DELETE FROM lambda_event_source_mappings WHERE uuid = ?1",
                [uuid],
            )
        })?;
        Ok(())
    }
}
