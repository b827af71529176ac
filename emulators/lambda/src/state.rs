//! What the Lambda emulator keeps: the registry of loaded functions (in memory; they
//! are declared anew from `slcl.toml` at each start) and the async-invocation queue
//! (durable, in SQLite, so an event accepted with 202 is never lost to a restart).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use rusqlite::{params, OptionalExtension};
use slcl_runtime::{Function, FunctionSpec};
use slcl_store::Db;

/// A function's configuration: as declared in `slcl.toml`, in code, or by
/// CreateFunction / UpdateFunctionConfiguration. A published version keeps a copy.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionDecl {
    /// Function name.
    pub name: String,
    /// The component file.
    pub wasm: PathBuf,
    /// Memory size in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_secs: u32,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// `Handler`: the component's path inside the deployment package. Empty (the
    /// default) reports the wasm file's name.
    #[serde(default)]
    pub handler: String,
    /// `Runtime`. Empty (the default) reports `provided.al2023`.
    #[serde(default)]
    pub runtime: String,
    /// `Role`. Empty (the default) reports `arn:aws:iam::<account>:role/lambda-role`.
    #[serde(default)]
    pub role: String,
    /// `DeadLetterConfig.TargetArn`. Default: none.
    #[serde(default)]
    pub dead_letter_target: Option<String>,
    /// The ZIP the code was uploaded in (CreateFunction / UpdateFunctionCode); `None`
    /// (the default) for a component declared directly, whose `CodeSha256` and
    /// `CodeSize` are the wasm file's.
    #[serde(default)]
    pub package: Option<Package>,
}

/// A deployment package as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Package {
    /// Base64 SHA-256 of the ZIP, Lambda's `CodeSha256`.
    pub sha256: String,
    /// Size of the ZIP in bytes, Lambda's `CodeSize`.
    pub size: u64,
    /// Where slcl keeps the ZIP.
    pub zip: PathBuf,
}

impl FunctionDecl {
    /// The runtime's spec for `version` (`$LATEST` or a number) of this function,
    /// whose ARN is `arn` (qualified for a version).
    pub(crate) fn spec(&self, arn: &str, version: &str) -> FunctionSpec {
        FunctionSpec {
            name: self.name.clone(),
            arn: arn.to_string(),
            version: version.into(),
            wasm: self.wasm.clone(),
            memory_mb: self.memory_mb,
            timeout: Duration::from_secs(self.timeout_secs.into()),
            env: self.env.clone(),
        }
    }
}

/// A loaded function: `$LATEST` or one published version.
pub struct FunctionEntry {
    /// Its configuration.
    pub decl: FunctionDecl,
    /// `$LATEST` or the version number.
    pub version: String,
    /// Its ARN: unqualified for `$LATEST`, `…:function:name:N` for a version.
    pub arn: String,
    /// The loaded code.
    pub function: Arc<Function>,
    /// When this code or configuration last changed (Lambda's `LastModified`).
    pub last_modified: SystemTime,
    /// Changes whenever the code or configuration changes (Lambda's `RevisionId`).
    pub revision_id: String,
}

impl FunctionEntry {
    /// `name` for `$LATEST`, `name:N` for a version: what the async queue records.
    pub fn qualified_name(&self) -> String {
        if self.version == "$LATEST" {
            self.decl.name.clone()
        } else {
            format!("{}:{}", self.decl.name, self.version)
        }
    }

    /// Lambda's `CodeSha256`: of the uploaded ZIP, or of the component file.
    pub fn code_sha256(&self) -> &str {
        match &self.decl.package {
            Some(p) => &p.sha256,
            None => self.function.code_sha256(),
        }
    }

    /// Lambda's `CodeSize`: of the uploaded ZIP, or of the component file.
    pub fn code_size(&self) -> u64 {
        match &self.decl.package {
            Some(p) => p.size,
            None => self.function.code_size(),
        }
    }
}

/// Loaded functions: `$LATEST` by name, and the published versions invoked so far.
#[derive(Default)]
pub(crate) struct Registry {
    functions: RwLock<BTreeMap<String, Arc<FunctionEntry>>>,
    versions: RwLock<BTreeMap<(String, String), Arc<FunctionEntry>>>,
}

impl Registry {
    pub(crate) fn insert(&self, entry: FunctionEntry) -> Arc<FunctionEntry> {
        let entry = Arc::new(entry);
        if entry.version == "$LATEST" {
            self.functions
                .write()
                .expect("registry lock")
                .insert(entry.decl.name.clone(), Arc::clone(&entry));
        } else {
            self.versions.write().expect("registry lock").insert(
                (entry.decl.name.clone(), entry.version.clone()),
                Arc::clone(&entry),
            );
        }
        entry
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<FunctionEntry>> {
        self.functions
            .read()
            .expect("registry lock")
            .get(name)
            .cloned()
    }

    pub(crate) fn version(&self, name: &str, version: &str) -> Option<Arc<FunctionEntry>> {
        self.versions
            .read()
            .expect("registry lock")
            .get(&(name.to_owned(), version.to_owned()))
            .cloned()
    }

    /// Forgets function `name` and its loaded versions.
    pub(crate) fn remove(&self, name: &str) {
        self.functions.write().expect("registry lock").remove(name);
        self.versions
            .write()
            .expect("registry lock")
            .retain(|(n, _), _| n != name);
    }

    /// Forgets one loaded version.
    pub(crate) fn remove_version(&self, name: &str, version: &str) {
        self.versions
            .write()
            .expect("registry lock")
            .remove(&(name.to_owned(), version.to_owned()));
    }

    pub(crate) fn all(&self) -> Vec<Arc<FunctionEntry>> {
        self.functions
            .read()
            .expect("registry lock")
            .values()
            .cloned()
            .collect()
    }

    /// Every loaded entry, versions included.
    pub(crate) fn every_instance_holder(&self) -> Vec<Arc<FunctionEntry>> {
        let mut all = self.all();
        all.extend(
            self.versions
                .read()
                .expect("registry lock")
                .values()
                .cloned(),
        );
        all
    }
}

/// One queued asynchronous invocation.
#[derive(Debug, Clone)]
pub(crate) struct QueuedEvent {
    pub id: i64,
    pub function: String,
    pub payload: Bytes,
    pub request_id: String,
    pub trace_id: String,
    pub parent_id: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    pub enqueued_ms: u64,
}

/// The durable queue behind `InvocationType=Event` and bus deliveries.
pub(crate) struct AsyncQueue {
    db: Db,
    /// Ids being run right now, so the worker does not start them twice.
    in_flight: Mutex<std::collections::HashSet<i64>>,
}

impl AsyncQueue {
    pub(crate) fn open(db: Db) -> anyhow::Result<AsyncQueue> {
        db.with(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS lambda_async_queue (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    function TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    request_id TEXT NOT NULL,
                    trace_id TEXT NOT NULL,
                    parent_id TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    enqueued_ms INTEGER NOT NULL,
                    next_attempt_ms INTEGER NOT NULL
                );
                CREATE INDEX IF NOT EXISTS lambda_async_queue_due
                    ON lambda_async_queue (next_attempt_ms);",
            )
        })
        .context("failed to create lambda_async_queue")?;
        Ok(AsyncQueue {
            db,
            in_flight: Mutex::default(),
        })
    }

    /// Adds an event; it is durable once this returns.
    pub(crate) fn push(
        &self,
        function: &str,
        payload: &[u8],
        request_id: &str,
        trace: &slcl_core::TraceContext,
        now_ms: u64,
    ) -> anyhow::Result<()> {
        self.db
            .with(|c| {
                c.execute(
                    "INSERT INTO lambda_async_queue
                     (function, payload, request_id, trace_id, parent_id, enqueued_ms, next_attempt_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![function, payload, request_id, trace.trace_id, trace.parent_id, now_ms as i64],
                )
            })
            .context("failed to queue async invocation")?;
        Ok(())
    }

    /// Events due at `now_ms` that are not already running; marks them running.
    pub(crate) fn take_due(&self, now_ms: u64, limit: usize) -> anyhow::Result<Vec<QueuedEvent>> {
        let mut in_flight = self.in_flight.lock().expect("queue lock");
        let rows = self.db.with(|c| -> rusqlite::Result<Vec<QueuedEvent>> {
            let mut stmt = c.prepare_cached(
                "SELECT id, function, payload, request_id, trace_id, parent_id, attempts, enqueued_ms
                 FROM lambda_async_queue WHERE next_attempt_ms <= ?1 ORDER BY next_attempt_ms, id",
            )?;
            let rows = stmt.query_map([now_ms as i64], |r| {
                Ok(QueuedEvent {
                    id: r.get(0)?,
                    function: r.get(1)?,
                    payload: Bytes::from(r.get::<_, Vec<u8>>(2)?),
                    request_id: r.get(3)?,
                    trace_id: r.get(4)?,
                    parent_id: r.get(5)?,
                    attempts: r.get(6)?,
                    enqueued_ms: r.get::<_, i64>(7)? as u64,
                })
            })?;
            rows.collect()
        })?;
        let due: Vec<QueuedEvent> = rows
            .into_iter()
            .filter(|e| !in_flight.contains(&e.id))
            .take(limit)
            .collect();
        in_flight.extend(due.iter().map(|e| e.id));
        Ok(due)
    }

    /// When the next event not already running is due.
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        let in_flight = self.in_flight.lock().expect("queue lock").clone();
        self.db.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, next_attempt_ms FROM lambda_async_queue ORDER BY next_attempt_ms",
                )
                .ok()?;
            let mut rows = stmt.query([]).ok()?;
            while let Ok(Some(row)) = rows.next() {
                let id: i64 = row.get(0).ok()?;
                if !in_flight.contains(&id) {
                    return row.get::<_, i64>(1).ok().map(|v| v as u64);
                }
            }
            None
        })
    }

    /// Removes a finished (or abandoned) event.
    pub(crate) fn finish(&self, id: i64) -> anyhow::Result<()> {
        self.db
            .with(|c| c.execute("DELETE FROM lambda_async_queue WHERE id = ?1", [id]))?;
        self.in_flight.lock().expect("queue lock").remove(&id);
        Ok(())
    }

    /// Schedules another attempt.
    pub(crate) fn retry_at(&self, id: i64, attempts: u32, at_ms: u64) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "UPDATE lambda_async_queue SET attempts = ?2, next_attempt_ms = ?3 WHERE id = ?1",
                params![id, attempts, at_ms as i64],
            )
        })?;
        self.in_flight.lock().expect("queue lock").remove(&id);
        Ok(())
    }

    /// Drops every queued event (the harness's reset between test cases).
    pub(crate) fn clear(&self) -> anyhow::Result<()> {
        self.db
            .with(|c| c.execute("DELETE FROM lambda_async_queue", []))?;
        Ok(())
    }

    /// Number of queued events.
    pub(crate) fn len(&self) -> usize {
        self.db
            .with(|c| {
                c.query_row("SELECT COUNT(*) FROM lambda_async_queue", [], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
            })
            .ok()
            .flatten()
            .unwrap_or(0) as usize
    }
}

/// One finished invocation of a function, as the harness lists them: what went in,
/// what came out, and the log lines.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    /// Position in the order invocations finished in this stack, from 1.
    pub seq: u64,
    /// Function name.
    pub function: String,
    /// Request id of the invocation.
    pub request_id: String,
    /// Trace the invocation belongs to.
    pub trace_id: String,
    /// The event JSON the function was given.
    pub event: Bytes,
    /// The result or function error; `Err` when slcl could not run it at all (for
    /// example every instance slot was busy).
    pub outcome: Result<slcl_runtime::Outcome, String>,
    /// Every log line of the invocation (`START` … `REPORT`), each ending in `\n`.
    pub logs: String,
    /// When it started, in Unix milliseconds on the stack's clock.
    pub started_ms: u64,
    /// How long it ran, in real time.
    pub duration: Duration,
}

impl InvocationRecord {
    /// Whether the function returned a result (not an error).
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Ok(slcl_runtime::Outcome::Success(_)))
    }

    /// The result payload, or the error document of a function error.
    pub fn payload(&self) -> Option<&Bytes> {
        self.outcome.as_ref().ok().map(|o| o.payload())
    }

    /// The `errorType` of a function error, or the runtime failure's message.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Ok(o) => o.error_type(),
            Err(e) => Some(e),
        }
    }

    /// The event, deserialized (for example into `aws_lambda_events`' `S3Event`).
    pub fn event_as<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.event)
    }

    /// The result (or error document), deserialized.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(self.payload().map(|b| b.as_ref()).unwrap_or(b"null"))
    }
}

/// The most recent invocations of every function, in memory, with a way to wait for
/// the next one. Bounded: keeps the last [`InvocationLog::CAPACITY`].
pub(crate) struct InvocationLog {
    records: Mutex<std::collections::VecDeque<Arc<InvocationRecord>>>,
    next_seq: std::sync::atomic::AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for InvocationLog {
    fn default() -> Self {
        InvocationLog {
            records: Mutex::default(),
            next_seq: std::sync::atomic::AtomicU64::new(1),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl InvocationLog {
    pub(crate) const CAPACITY: usize = 10_000;

    /// Adds a finished invocation, numbering it (the `seq` given is replaced).
    pub(crate) fn record(&self, mut record: InvocationRecord) {
        let seq = {
            let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
            // Numbered under the lock, so the list is always in `seq` order and a
            // waiter that has seen `seq` never misses an earlier one.
            record.seq = self
                .next_seq
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if records.len() == Self::CAPACITY {
                records.pop_front();
            }
            let seq = record.seq;
            records.push_back(Arc::new(record));
            seq
        };
        self.changed.send_replace(seq);
    }

    /// The `seq` of the latest record (0 when there is none yet).
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq.load(std::sync::atomic::Ordering::SeqCst) - 1
    }

    /// Records of `function` (every function for `None`) with `seq > after`, oldest first.
    pub(crate) fn since(&self, function: Option<&str>, after: u64) -> Vec<Arc<InvocationRecord>> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records
            .iter()
            .filter(|r| r.seq > after && function.is_none_or(|f| r.function == f))
            .cloned()
            .collect()
    }

    /// Waits up to `timeout` (real time) for a record of `function` with `seq > after`.
    pub(crate) async fn wait(
        &self,
        function: &str,
        after: u64,
        timeout: Duration,
    ) -> Option<Arc<InvocationRecord>> {
        let mut changed = self.changed.subscribe();
        let wait = async {
            loop {
                if let Some(first) = self.since(Some(function), after).into_iter().next() {
                    return first;
                }
                if changed.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    pub(crate) fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
