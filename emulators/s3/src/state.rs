//! S3's durable state: tables `s3_buckets`, `s3_objects`, `s3_uploads`, `s3_parts`
//! and `s3_meta` in the stack's SQLite database, plus body files in the store's
//! `blobs/` folder (see [`crate::blobs`]).
//!
//! Rows are the truth: a body file exists only while a row points to it. Writers
//! put the file in place first, then commit the row, then delete whatever file the
//! row replaced, so a crash can at worst leave an unreferenced file behind, which
//! [`State::open`] sweeps away.

use std::collections::HashSet;
use std::path::PathBuf;

use bytes::Bytes;
use rusqlite::{params, OptionalExtension, Row};
use slcl_store::{Db, Store};

use crate::blobs::{ChecksumAlgorithm, Content, BLOB_PREFIX};
use crate::error::{ApiError, ApiResult, S3Error};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS s3_buckets (
    name          TEXT PRIMARY KEY,
    region        TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    -- JSON of events::NotificationConfiguration, NULL when none was set
    notification  TEXT
);
CREATE TABLE IF NOT EXISTS s3_objects (
    id                INTEGER PRIMARY KEY,
    bucket            TEXT NOT NULL,
    key               TEXT NOT NULL,
    size              INTEGER NOT NULL,
    -- unquoted: hex MD5, or `<hex>-<parts>` for multipart uploads
    etag              TEXT NOT NULL,
    last_modified_ms  INTEGER NOT NULL,
    -- JSON array of [name, value]: content-type, content-encoding, x-amz-meta-*, ...
    headers           TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_value    TEXT,
    checksum_type     TEXT,
    parts             INTEGER,
    -- the body: inline when small, else the name of a file in blobs/
    data              BLOB,
    blob              TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS s3_objects_by_key ON s3_objects (bucket, key);
CREATE TABLE IF NOT EXISTS s3_uploads (
    upload_id          TEXT PRIMARY KEY,
    bucket             TEXT NOT NULL,
    key                TEXT NOT NULL,
    initiated_ms       INTEGER NOT NULL,
    headers            TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT
);
CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS s3_parts (
    upload_id         TEXT NOT NULL,
    part_number       INTEGER NOT NULL,
    size              INTEGER NOT NULL,
    etag              TEXT NOT NULL,
    last_modified_ms  INTEGER NOT NULL,
    checksum_value    TEXT,
    data              BLOB,
    blob              TEXT,
    PRIMARY KEY (upload_id, part_number)
);
CREATE TABLE IF NOT EXISTS s3_meta (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
";

/// A bucket row.
#[derive(Debug, Clone)]
pub struct BucketRow {
    /// Name.
    pub name: String,
    /// Region it was created in.
    pub region: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// A flexible checksum stored with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChecksum {
    /// Algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Base64 value, with `-N` for composite multipart checksums.
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// An object row.
#[derive(Debug, Clone)]
pub struct ObjectRow {
    /// Key.
    pub key: String,
    /// Body length.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-Modified, ms since the epoch.
    pub last_modified_ms: i64,
    /// Stored response headers (content-type, x-amz-meta-*, ...).
    pub headers: Vec<(String, String)>,
    /// Flexible checksum, if the client sent one.
    pub checksum: Option<StoredChecksum>,
    /// Part count for objects made by CompleteMultipartUpload.
    pub parts: Option<i64>,
    /// The body.
    pub content: Content,
}

/// An object as listings show it.
#[derive(Debug, Clone)]
pub struct ListedObject {
    /// Key.
    pub key: String,
    /// Size.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last-Modified, ms.
    pub last_modified_ms: i64,
    /// Checksum algorithm, for `<ChecksumAlgorithm>`.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
}

/// A multipart upload row.
#[derive(Debug, Clone)]
pub struct UploadRow {
    /// Upload id.
    pub upload_id: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Initiated, ms.
    pub initiated_ms: i64,
    /// Headers the final object will carry.
    pub headers: Vec<(String, String)>,
    /// Checksum algorithm the upload declared.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `COMPOSITE` or `FULL_OBJECT`.
    pub checksum_type: Option<String>,
}

/// A part row.
#[derive(Debug, Clone)]
pub struct PartRow {
    /// Part number, 1..=10000.
    pub part_number: i64,
    /// Size.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Uploaded, ms.
    pub last_modified_ms: i64,
    /// Checksum value in the upload's algorithm.
    pub checksum_value: Option<String>,
    /// The body.
    pub content: Content,
}

/// Outcome of [`State::delete_bucket`].
pub enum DeleteBucket {
    /// Deleted; these part bodies of abandoned uploads are to be removed.
    Deleted(Vec<Content>),
    /// No such bucket.
    NotFound,
    /// The bucket still holds objects.
    NotEmpty,
}

/// S3's tables.
pub struct State {
    db: Db,
    blob_dir: PathBuf,
}

fn headers_json(h: &[(String, String)]) -> String {
    serde_json::to_string(h).unwrap_or_else(|_| "[]".into())
}

fn headers_from(s: &str) -> Vec<(String, String)> {
    serde_json::from_str(s).unwrap_or_default()
}

fn content_from(data: Option<Vec<u8>>, blob: Option<String>) -> Content {
    match blob {
        Some(id) => Content::File(id),
        None => Content::Inline(Bytes::from(data.unwrap_or_default())),
    }
}

fn content_cols(c: &Content) -> (Option<&[u8]>, Option<&str>) {
    match c {
        Content::Inline(b) => (Some(&b[..]), None),
        Content::File(id) => (None, Some(id.as_str())),
    }
}

const OBJECT_COLS: &str = "key, size, etag, last_modified_ms, headers, checksum_algorithm, checksum_value, checksum_type, parts, data, blob";

fn object_from(r: &Row<'_>) -> rusqlite::Result<ObjectRow> {
    let algorithm: Option<String> = r.get(5)?;
    let value: Option<String> = r.get(6)?;
    let kind: Option<String> = r.get(7)?;
    let checksum = match (
        algorithm.as_deref().and_then(ChecksumAlgorithm::parse),
        value,
    ) {
        (Some(algorithm), Some(value)) => Some(StoredChecksum {
            algorithm,
            value,
            kind: kind.unwrap_or_else(|| "FULL_OBJECT".into()),
        }),
        _ => None,
    };
    Ok(ObjectRow {
        key: r.get(0)?,
        size: r.get::<_, i64>(1)? as u64,
        etag: r.get(2)?,
        last_modified_ms: r.get(3)?,
        headers: headers_from(&r.get::<_, String>(4)?),
        checksum,
        parts: r.get(8)?,
        content: content_from(r.get(9)?, r.get(10)?),
    })
}

fn upload_from(r: &Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        initiated_ms: r.get(3)?,
        headers: headers_from(&r.get::<_, String>(4)?),
        checksum_algorithm: r
            .get::<_, Option<String>>(5)?
            .as_deref()
            .and_then(ChecksumAlgorithm::parse),
        checksum_type: r.get(6)?,
    })
}

fn part_from(r: &Row<'_>) -> rusqlite::Result<PartRow> {
    Ok(PartRow {
        part_number: r.get(0)?,
        size: r.get::<_, i64>(1)? as u64,
        etag: r.get(2)?,
        last_modified_ms: r.get(3)?,
        checksum_value: r.get(4)?,
        content: content_from(r.get(5)?, r.get(6)?),
    })
}

impl State {
    /// Opens S3's tables in `store`, creating them, and sweeps unreferenced blobs.
    pub fn open(store: &Store) -> Result<State, S3Error> {
        let db = store.db()?;
        db.with(|c| c.execute_batch(SCHEMA))?;
        let state = State {
            db,
            blob_dir: store.blob_dir(),
        };
        state.sweep(store)?;
        Ok(state)
    }

    /// Deletes every bucket, object and upload, and their blob files. The sequencer
    /// counter in `s3_meta` keeps counting, so event sequencers never repeat.
    pub fn reset(&self, store: &Store) -> Result<(), S3Error> {
        self.db.with(|c| {
            c.execute_batch(
                "BEGIN IMMEDIATE;
                 DELETE FROM s3_parts; DELETE FROM s3_uploads;
                 DELETE FROM s3_objects; DELETE FROM s3_buckets;
                 COMMIT;",
            )
        })?;
        self.sweep(store)
    }

    /// Removes spill files left by interrupted uploads and blobs no row refers to
    /// (a crash between putting a file in place and committing its row).
    fn sweep(&self, store: &Store) -> Result<(), S3Error> {
        let referenced: HashSet<String> = self.db.with(|c| -> rusqlite::Result<_> {
            let mut set = HashSet::new();
            for sql in [
                "SELECT blob FROM s3_objects WHERE blob IS NOT NULL",
                "SELECT blob FROM s3_parts WHERE blob IS NOT NULL",
            ] {
                let mut stmt = c.prepare(sql)?;
                for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
                    set.insert(id?);
                }
            }
            Ok(set)
        })?;
        for (dir, is_tmp) in [(store.tmp_dir(), true), (store.blob_dir(), false)] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(BLOB_PREFIX) && (is_tmp || !referenced.contains(&name)) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The folder body files live in.
    pub fn blob_dir(&self) -> &std::path::Path {
        &self.blob_dir
    }

    /// A bucket by name.
    pub fn bucket(&self, name: &str) -> ApiResult<Option<BucketRow>> {
        Ok(self.db.with(|c| {
            c.prepare_cached("SELECT name, region, created_ms FROM s3_buckets WHERE name = ?1")?
                .query_row([name], |r| {
                    Ok(BucketRow {
                        name: r.get(0)?,
                        region: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                })
                .optional()
        })?)
    }

    /// The bucket or NoSuchBucket.
    pub fn require_bucket(&self, name: &str) -> ApiResult<BucketRow> {
        self.bucket(name)?
            .ok_or_else(|| ApiError::no_such_bucket(name))
    }

    /// Creates a bucket; `false` if it already existed.
    pub fn create_bucket(&self, name: &str, region: &str, now_ms: i64) -> rusqlite::Result<bool> {
        self.db.with(|c| {
            c.prepare_cached(
                "INSERT INTO s3_buckets (name, region, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
            )?
            .execute(params![name, region, now_ms])
            .map(|n| n == 1)
        })
    }

    /// Deletes an empty bucket together with its unfinished multipart uploads.
    pub fn delete_bucket(&self, name: &str) -> ApiResult<DeleteBucket> {
        Ok(self.db.with(|c| -> rusqlite::Result<DeleteBucket> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(DeleteBucket::NotFound);
            }
            let has_objects: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = ?1)",
                [name],
                |r| r.get(0),
            )?;
            if has_objects {
                return Ok(DeleteBucket::NotEmpty);
            }
            let mut blobs = Vec::new();
            {
                let mut stmt = tx.prepare(
                    "SELECT p.blob FROM s3_parts p JOIN s3_uploads u ON p.upload_id = u.upload_id WHERE u.bucket = ?1 AND p.blob IS NOT NULL",
                )?;
                for id in stmt.query_map([name], |r| r.get::<_, String>(0))? {
                    blobs.push(Content::File(id?));
                }
            }
            tx.execute(
                "DELETE FROM s3_parts WHERE upload_id IN (SELECT upload_id FROM s3_uploads WHERE bucket = ?1)",
                [name],
            )?;
            tx.execute("DELETE FROM s3_uploads WHERE bucket = ?1", [name])?;
            tx.execute("DELETE FROM s3_buckets WHERE name = ?1", [name])?;
            tx.commit()?;
            Ok(DeleteBucket::Deleted(blobs))
        })?)
    }

    /// All buckets, by name.
    pub fn list_buckets(&self) -> rusqlite::Result<Vec<BucketRow>> {
        self.db.with(|c| -> rusqlite::Result<_> {
            let mut stmt =
                c.prepare_cached("SELECT name, region, created_ms FROM s3_buckets ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(BucketRow {
                    name: r.get(0)?,
                    region: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Every bucket's notification configuration JSON.
    pub fn all_notifications(&self) -> rusqlite::Result<Vec<(String, String)>> {
        self.db.with(|c| {
            let mut stmt = c.prepare(
                "SELECT name, notification FROM s3_buckets WHERE notification IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Replaces a bucket's notification configuration; `false` if there is no bucket.
    pub fn set_notification(&self, bucket: &str, json: Option<&str>) -> rusqlite::Result<bool> {
        self.db.with(|c| {
            c.prepare_cached("UPDATE s3_buckets SET notification = ?2 WHERE name = ?1")?
                .execute(params![bucket, json])
                .map(|n| n == 1)
        })
    }

    /// An object, with its body file opened (under the database lock, so a
    /// concurrent overwrite cannot delete the file between the lookup and the open).
    pub fn object_opened(
        &self,
        bucket: &str,
        key: &str,
    ) -> ApiResult<Option<(ObjectRow, Option<std::fs::File>)>> {
        let conn = self.db.lock();
        let row = conn
            .prepare_cached(&format!(
                "SELECT {OBJECT_COLS} FROM s3_objects WHERE bucket = ?1 AND key = ?2"
            ))?
            .query_row([bucket, key], object_from)
            .optional()?;
        let Some(row) = row else {
            return Ok(None);
        };
        let file = match &row.content {
            Content::File(id) => Some(std::fs::File::open(self.blob_dir.join(id))?),
            Content::Inline(_) => None,
        };
        Ok(Some((row, file)))
    }

    /// An object's row (the body file is not opened).
    pub fn object(&self, bucket: &str, key: &str) -> ApiResult<Option<ObjectRow>> {
        Ok(self.db.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {OBJECT_COLS} FROM s3_objects WHERE bucket = ?1 AND key = ?2"
            ))?
            .query_row([bucket, key], object_from)
            .optional()
        })?)
    }

    /// Whether the object exists.
    pub fn object_exists(&self, bucket: &str, key: &str) -> ApiResult<bool> {
        Ok(self.db.with(|c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = ?1 AND key = ?2)",
            )?
            .query_row([bucket, key], |r| r.get(0))
        })?)
    }

    /// Inserts or replaces an object; returns the body it replaced. NoSuchBucket if
    /// the bucket is gone. If `complete_upload` is set, the upload's rows are removed
    /// in the same transaction (NoSuchUpload if it is gone) and their bodies returned.
    pub fn put_object(
        &self,
        bucket: &str,
        row: &ObjectRow,
        complete_upload: Option<&str>,
    ) -> ApiResult<Vec<Content>> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE name = ?1)")?
            .query_row([bucket], |r| r.get(0))?;
        if !exists {
            return Err(ApiError::no_such_bucket(bucket));
        }
        let mut garbage = Vec::new();
        if let Some(upload_id) = complete_upload {
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT blob FROM s3_parts WHERE upload_id = ?1 AND blob IS NOT NULL",
                )?;
                for id in stmt.query_map([upload_id], |r| r.get::<_, String>(0))? {
                    garbage.push(Content::File(id?));
                }
            }
            tx.prepare_cached("DELETE FROM s3_parts WHERE upload_id = ?1")?
                .execute([upload_id])?;
            let n = tx
                .prepare_cached("DELETE FROM s3_uploads WHERE upload_id = ?1")?
                .execute([upload_id])?;
            if n == 0 {
                return Err(ApiError::no_such_upload(upload_id));
            }
        }
        let old: Option<(Option<Vec<u8>>, Option<String>)> = tx
            .prepare_cached("SELECT NULL, blob FROM s3_objects WHERE bucket = ?1 AND key = ?2")?
            .query_row([bucket, &row.key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((_, Some(id))) = old {
            garbage.push(Content::File(id));
        }
        let (data, blob) = content_cols(&row.content);
        let (alg, val, kind) = match &row.checksum {
            Some(c) => (
                Some(c.algorithm.as_str()),
                Some(c.value.as_str()),
                Some(c.kind.as_str()),
            ),
            None => (None, None, None),
        };
        tx.prepare_cached(
            "INSERT INTO s3_objects (bucket, key, size, etag, last_modified_ms, headers, checksum_algorithm, checksum_value, checksum_type, parts, data, blob)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag,
               last_modified_ms = excluded.last_modified_ms, headers = excluded.headers,
               checksum_algorithm = excluded.checksum_algorithm, checksum_value = excluded.checksum_value,
               checksum_type = excluded.checksum_type, parts = excluded.parts, data = excluded.data, blob = excluded.blob",
        )?
        .execute(params![
            bucket,
            row.key,
            row.size as i64,
            row.etag,
            row.last_modified_ms,
            headers_json(&row.headers),
            alg,
            val,
            kind,
            row.parts,
            data,
            blob
        ])?;
        tx.commit()?;
        Ok(garbage)
    }

    /// Deletes an object; returns its body if it existed.
    pub fn delete_object(&self, bucket: &str, key: &str) -> ApiResult<Option<Content>> {
        Ok(self.db.with(|c| -> rusqlite::Result<_> {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let old: Option<Option<String>> = tx
                .prepare_cached("SELECT blob FROM s3_objects WHERE bucket = ?1 AND key = ?2")?
                .query_row([bucket, key], |r| r.get(0))
                .optional()?;
            if old.is_some() {
                tx.prepare_cached("DELETE FROM s3_objects WHERE bucket = ?1 AND key = ?2")?
                    .execute([bucket, key])?;
            }
            tx.commit()?;
            Ok(old.map(|blob| match blob {
                Some(id) => Content::File(id),
                None => Content::Inline(Bytes::new()),
            }))
        })?)
    }

    /// Up to `limit` objects of `bucket` with keys `> after` and `>= prefix`, in
    /// UTF-8 byte order (SQLite's BINARY collation on UTF-8 text is that order).
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> ApiResult<Vec<ListedObject>> {
        Ok(self.db.with(|c| -> rusqlite::Result<_> {
            let mut stmt = c.prepare_cached(
                "SELECT key, size, etag, last_modified_ms, checksum_algorithm FROM s3_objects
                 WHERE bucket = ?1 AND key > ?2 AND key >= ?3 ORDER BY key LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![bucket, after, prefix, limit as i64], |r| {
                Ok(ListedObject {
                    key: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    etag: r.get(2)?,
                    last_modified_ms: r.get(3)?,
                    checksum_algorithm: r
                        .get::<_, Option<String>>(4)?
                        .as_deref()
                        .and_then(ChecksumAlgorithm::parse),
                })
            })?;
            rows.collect()
        })?)
    }

    /// Records a new multipart upload (NoSuchBucket if the bucket is gone).
    pub fn create_upload(&self, u: &UploadRow) -> ApiResult<()> {
        let n = self.db.with(|c| {
            c.prepare_cached(
                "INSERT INTO s3_uploads (upload_id, bucket, key, initiated_ms, headers, checksum_algorithm, checksum_type)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM s3_buckets WHERE name = ?2)",
            )?
            .execute(params![
                u.upload_id,
                u.bucket,
                u.key,
                u.initiated_ms,
                headers_json(&u.headers),
                u.checksum_algorithm.map(|a| a.as_str()),
                u.checksum_type
            ])
        })?;
        if n == 0 {
            return Err(ApiError::no_such_bucket(&u.bucket));
        }
        Ok(())
    }

    /// An upload, checked against the bucket and key it was started for.
    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> ApiResult<UploadRow> {
        let row = self.db.with(|c| {
            c.prepare_cached(
                "SELECT upload_id, bucket, key, initiated_ms, headers, checksum_algorithm, checksum_type FROM s3_uploads WHERE upload_id = ?1",
            )?
            .query_row([upload_id], upload_from)
            .optional()
        })?;
        match row {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => Err(ApiError::no_such_upload(upload_id)),
        }
    }

    /// Stores a part (replacing one with the same number); returns the replaced body.
    pub fn put_part(&self, upload_id: &str, p: &PartRow) -> ApiResult<Option<Content>> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM s3_uploads WHERE upload_id = ?1)")?
            .query_row([upload_id], |r| r.get(0))?;
        if !exists {
            return Err(ApiError::no_such_upload(upload_id));
        }
        let old: Option<Option<String>> = tx
            .prepare_cached("SELECT blob FROM s3_parts WHERE upload_id = ?1 AND part_number = ?2")?
            .query_row(params![upload_id, p.part_number], |r| r.get(0))
            .optional()?;
        let (data, blob) = content_cols(&p.content);
        tx.prepare_cached(
            "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, size, etag, last_modified_ms, checksum_value, data, blob)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            upload_id,
            p.part_number,
            p.size as i64,
            p.etag,
            p.last_modified_ms,
            p.checksum_value,
            data,
            blob
        ])?;
        tx.commit()?;
        Ok(old.flatten().map(Content::File))
    }

    /// Parts of an upload with numbers `> after`, at most `limit`, by number.
    pub fn parts(&self, upload_id: &str, after: i64, limit: usize) -> ApiResult<Vec<PartRow>> {
        Ok(self.db.with(|c| -> rusqlite::Result<_> {
            let mut stmt = c.prepare_cached(
                "SELECT part_number, size, etag, last_modified_ms, checksum_value, data, blob FROM s3_parts
                 WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![upload_id, after, limit as i64], part_from)?;
            rows.collect()
        })?)
    }

    /// Removes an upload and its parts; returns the part bodies. NoSuchUpload if gone.
    pub fn delete_upload(&self, upload_id: &str) -> ApiResult<Vec<Content>> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut blobs = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT blob FROM s3_parts WHERE upload_id = ?1 AND blob IS NOT NULL",
            )?;
            for id in stmt.query_map([upload_id], |r| r.get::<_, String>(0))? {
                blobs.push(Content::File(id?));
            }
        }
        tx.execute("DELETE FROM s3_parts WHERE upload_id = ?1", [upload_id])?;
        let n = tx.execute("DELETE FROM s3_uploads WHERE upload_id = ?1", [upload_id])?;
        if n == 0 {
            return Err(ApiError::no_such_upload(upload_id));
        }
        tx.commit()?;
        Ok(blobs)
    }

    /// A bucket's uploads with `(key, upload_id) > (key_marker, id_marker)`, by key
    /// then upload id, at most `limit`.
    pub fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        id_marker: &str,
        limit: usize,
    ) -> ApiResult<Vec<UploadRow>> {
        Ok(self.db.with(|c| -> rusqlite::Result<_> {
            let mut stmt = c.prepare_cached(
                "SELECT upload_id, bucket, key, initiated_ms, headers, checksum_algorithm, checksum_type FROM s3_uploads
                 WHERE bucket = ?1 AND key >= ?2 AND (key > ?3 OR (key = ?3 AND upload_id > ?4))
                 ORDER BY key, upload_id LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![bucket, prefix, key_marker, id_marker, limit as i64], upload_from)?;
            rows.collect()
        })?)
    }

    /// Object count and total bytes per bucket.
    pub fn summary(&self) -> rusqlite::Result<Vec<(String, u64, u64)>> {
        self.db.with(|c| {
            let mut stmt = c.prepare(
                "SELECT b.name, COUNT(o.id), COALESCE(SUM(o.size), 0) FROM s3_buckets b
                 LEFT JOIN s3_objects o ON o.bucket = b.name GROUP BY b.name ORDER BY b.name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })?;
            rows.collect()
        })
    }

    /// Reserves the next event sequencer value (durably increasing across restarts).
    pub fn next_sequencer(&self) -> rusqlite::Result<u64> {
        self.db.with(|c| {
            c.prepare_cached(
                "INSERT INTO s3_meta (name, value) VALUES ('sequencer', 1)
                 ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            )?
            .query_row([], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
        })
    }
}
