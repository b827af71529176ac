//! The durable side of the function control plane (SQLite tables owned by the Lambda
//! emulator): functions with their `$LATEST` configuration, published versions,
//! aliases, resource policies, tags and reserved concurrency. Deployment packages
//! live as files under the store's blob directory (`lambda/`), named by content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slcl_store::Db;

use crate::state::FunctionDecl;

/// Where a function came from: its `$LATEST` is restored at start only when it was
/// created through the API (declared ones are declared anew by their declarer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// CreateFunction.
    Api,
    /// `slcl.toml` or code (the harness); native functions too.
    Declared,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Declared => "declared",
        }
    }
}

/// One stored function (its `$LATEST`).
#[derive(Debug, Clone)]
pub(crate) struct StoredFunction {
    pub decl: FunctionDecl,
    pub revision_id: String,
    pub last_modified_ms: u64,
    pub tags: BTreeMap<String, String>,
}

/// One published version.
#[derive(Debug, Clone)]
pub(crate) struct StoredVersion {
    pub version: u64,
    pub decl: FunctionDecl,
    pub revision_id: String,
    pub last_modified_ms: u64,
}

/// An alias, as Lambda's `AliasConfiguration` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`.
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// The catalog's tables.
pub(crate) struct Catalog {
    db: Db,
    /// `<blob dir>/lambda`: deployment packages and the components taken out of them.
    code_dir: PathBuf,
}

impl Catalog {
    pub(crate) fn open(db: Db, blob_dir: &Path) -> anyhow::Result<Catalog> {
        db.with(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS lambda_functions (
                    name TEXT PRIMARY KEY,
                    origin TEXT NOT NULL,
                    decl TEXT NOT NULL,
                    revision_id TEXT NOT NULL,
                    last_modified_ms INTEGER NOT NULL,
                    next_version INTEGER NOT NULL DEFAULT 1,
                    reserved_concurrency INTEGER,
                    tags TEXT NOT NULL DEFAULT '{}'
                 );
                 CREATE TABLE IF NOT EXISTS lambda_versions (
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    decl TEXT NOT NULL,
                    revision_id TEXT NOT NULL,
                    last_modified_ms INTEGER NOT NULL,
                    PRIMARY KEY (name, version)
                 );
                 CREATE TABLE IF NOT EXISTS lambda_aliases (
                    name TEXT NOT NULL,
                    alias TEXT NOT NULL,
                    doc TEXT NOT NULL,
                    PRIMARY KEY (name, alias)
                 );
                 CREATE TABLE IF NOT EXISTS lambda_policies (
                    name TEXT NOT NULL,
                    qualifier TEXT NOT NULL,
                    sid TEXT NOT NULL,
                    statement TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (name, qualifier, sid)
                 );",
            )
        })
        .context("creating the Lambda catalog tables")?;
        let code_dir = blob_dir.join("lambda");
        std::fs::create_dir_all(&code_dir)
            .with_context(|| format!("creating {}", code_dir.display()))?;
        Ok(Catalog { db, code_dir })
    }

    /// Stores `bytes` under a content-derived name with `extension`, durably, and
    /// returns the path (the same content always gets the same file).
    pub(crate) fn put_blob(&self, bytes: &[u8], extension: &str) -> anyhow::Result<PathBuf> {
        use sha2::Digest as _;
        let name = format!("{}.{extension}", hex::encode(sha2::Sha256::digest(bytes)));
        let path = self.code_dir.join(name);
        if path.exists() {
            return Ok(path);
        }
        let tmp = self
            .code_dir
            .join(format!(".{}.tmp", slcl_core::ids::uuid()));
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        if let Ok(dir) = std::fs::File::open(&self.code_dir) {
            let _ = dir.sync_all();
        }
        Ok(path)
    }

    /// Inserts or replaces function `decl.name`'s `$LATEST`, keeping its versions,
    /// tags and concurrency.
    pub(crate) fn upsert_function(
        &self,
        origin: Origin,
        decl: &FunctionDecl,
        revision_id: &str,
        last_modified_ms: u64,
    ) -> anyhow::Result<()> {
        let doc = serde_json::to_string(decl)?;
        self.db.with(|c| {
            c.execute(
                "INSERT INTO lambda_functions (name, origin, decl, revision_id, last_modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(name) DO UPDATE SET origin = ?2, decl = ?3, revision_id = ?4,
                    last_modified_ms = ?5",
                params![
                    decl.name,
                    origin.as_str(),
                    doc,
                    revision_id,
                    last_modified_ms as i64
                ],
            )
        })?;
        Ok(())
    }

    /// Creates function `decl.name`; false if it exists.
    pub(crate) fn create_function(
        &self,
        decl: &FunctionDecl,
        revision_id: &str,
        last_modified_ms: u64,
        tags: &BTreeMap<String, String>,
    ) -> anyhow::Result<bool> {
        let doc = serde_json::to_string(decl)?;
        let tags = serde_json::to_string(tags)?;
        let n = self.db.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO lambda_functions
                    (name, origin, decl, revision_id, last_modified_ms, tags)
                 VALUES (?1, 'api', ?2, ?3, ?4, ?5)",
                params![decl.name, doc, revision_id, last_modified_ms as i64, tags],
            )
        })?;
        Ok(n == 1)
    }

    pub(crate) fn function(&self, name: &str) -> anyhow::Result<Option<StoredFunction>> {
        self.db
            .with(|c| {
                c.query_row(
                    "SELECT decl, revision_id, last_modified_ms, tags
                     FROM lambda_functions WHERE name = ?1",
                    params![name],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )
                .optional()
            })?
            .map(|(decl, revision_id, modified, tags)| {
                Ok(StoredFunction {
                    decl: serde_json::from_str(&decl)?,
                    revision_id,
                    last_modified_ms: modified as u64,
                    tags: serde_json::from_str(&tags)?,
                })
            })
            .transpose()
    }

    /// Functions created through the API, to load at start.
    pub(crate) fn api_functions(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.db.with(|c| {
            let mut stmt =
                c.prepare("SELECT name FROM lambda_functions WHERE origin = 'api' ORDER BY name")?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>();
            names
        })?)
    }

    /// Every stored reserved concurrency, by function.
    pub(crate) fn reserved_concurrency(&self) -> anyhow::Result<BTreeMap<String, u32>> {
        Ok(self.db.with(|c| {
            let mut stmt = c.prepare(
                "SELECT name, reserved_concurrency FROM lambda_functions
                 WHERE reserved_concurrency IS NOT NULL",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u32))
                })?
                .collect::<Result<BTreeMap<_, _>, _>>();
            rows
        })?)
    }

    pub(crate) fn set_reserved_concurrency(
        &self,
        name: &str,
        value: Option<u32>,
    ) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "UPDATE lambda_functions SET reserved_concurrency = ?2 WHERE name = ?1",
                params![name, value.map(i64::from)],
            )
        })?;
        Ok(())
    }

    pub(crate) fn set_tags(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let tags = serde_json::to_string(tags)?;
        self.db.with(|c| {
            c.execute(
                "UPDATE lambda_functions SET tags = ?2 WHERE name = ?1",
                params![name, tags],
            )
        })?;
        Ok(())
    }

    /// Deletes a function with its versions, aliases and policies.
    pub(crate) fn delete_function(&self, name: &str) -> anyhow::Result<()> {
        self.db.with(|c| {
            let tx = c.transaction()?;
            for table in [
                "lambda_functions",
                "lambda_versions",
                "lambda_aliases",
                "lambda_policies",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE name = ?1"),
                    params![name],
                )?;
            }
            tx.commit()
        })?;
        Ok(())
    }

    /// Publishes `$LATEST` as the next version number, returning it.
    pub(crate) fn publish(
        &self,
        decl: &FunctionDecl,
        revision_id: &str,
        last_modified_ms: u64,
    ) -> anyhow::Result<u64> {
        let doc = serde_json::to_string(decl)?;
        Ok(self.db.with(|c| {
            let tx = c.transaction()?;
            let version: i64 = tx.query_row(
                "SELECT next_version FROM lambda_functions WHERE name = ?1",
                params![decl.name],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO lambda_versions (name, version, decl, revision_id, last_modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    decl.name,
                    version,
                    doc,
                    revision_id,
                    last_modified_ms as i64
                ],
            )?;
            tx.execute(
                "UPDATE lambda_functions SET next_version = ?2 WHERE name = ?1",
                params![decl.name, version + 1],
            )?;
            tx.commit()?;
            Ok::<_, rusqlite::Error>(version as u64)
        })?)
    }

    pub(crate) fn versions(&self, name: &str) -> anyhow::Result<Vec<StoredVersion>> {
        let rows = self.db.with(|c| {
            let mut stmt = c.prepare(
                "SELECT version, decl, revision_id, last_modified_ms FROM lambda_versions
                 WHERE name = ?1 ORDER BY version",
            )?;
            let rows = stmt
                .query_map(params![name], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>();
            rows
        })?;
        rows.into_iter()
            .map(|(version, decl, revision_id, modified)| {
                Ok(StoredVersion {
                    version: version as u64,
                    decl: serde_json::from_str(&decl)?,
                    revision_id,
                    last_modified_ms: modified as u64,
                })
            })
            .collect()
    }

    pub(crate) fn version(
        &self,
        name: &str,
        version: u64,
    ) -> anyhow::Result<Option<StoredVersion>> {
        Ok(self
            .versions(name)?
            .into_iter()
            .find(|v| v.version == version))
    }

    pub(crate) fn delete_version(&self, name: &str, version: u64) -> anyhow::Result<()> {
        self.db.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM lambda_versions WHERE name = ?1 AND version = ?2",
                params![name, version as i64],
            )?;
            tx.execute(
                "DELETE FROM lambda_policies WHERE name = ?1 AND qualifier = ?2",
                params![name, version.to_string()],
            )?;
            tx.commit()
        })?;
        Ok(())
    }

    pub(crate) fn aliases(&self, name: &str) -> anyhow::Result<Vec<Alias>> {
        let docs = self.db.with(|c| {
            let mut stmt =
                c.prepare("SELECT doc FROM lambda_aliases WHERE name = ?1 ORDER BY alias")?;
            let rows = stmt
                .query_map(params![name], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>();
            rows
        })?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(Into::into))
            .collect()
    }

    pub(crate) fn alias(&self, name: &str, alias: &str) -> anyhow::Result<Option<Alias>> {
        Ok(self.aliases(name)?.into_iter().find(|a| a.name == alias))
    }

    /// Inserts (`create`) or replaces an alias; false when creating one that exists.
    pub(crate) fn put_alias(
        &self,
        function: &str,
        alias: &Alias,
        create: bool,
    ) -> anyhow::Result<bool> {
        let doc = serde_json::to_string(alias)?;
        let sql = if create {
            "INSERT OR IGNORE INTO lambda_aliases (name, alias, doc) VALUES (?1, ?2, ?3)"
        } else {
            "INSERT OR REPLACE INTO lambda_aliases (name, alias, doc) VALUES (?1, ?2, ?3)"
        };
        let n = self
            .db
            .with(|c| c.execute(sql, params![function, alias.name, doc]))?;
        Ok(n == 1)
    }

    pub(crate) fn delete_alias(&self, function: &str, alias: &str) -> anyhow::Result<()> {
        self.db.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM lambda_aliases WHERE name = ?1 AND alias = ?2",
                params![function, alias],
            )?;
            tx.execute(
                "DELETE FROM lambda_policies WHERE name = ?1 AND qualifier = ?2",
                params![function, alias],
            )?;
            tx.commit()
        })?;
        Ok(())
    }

    /// The policy statements of a function (`qualifier` empty) or of one version or
    /// alias, in the order they were added.
    pub(crate) fn statements(&self, function: &str, qualifier: &str) -> anyhow::Result<Vec<Value>> {
        let docs = self.db.with(|c| {
            let mut stmt = c.prepare(
                "SELECT statement FROM lambda_policies WHERE name = ?1 AND qualifier = ?2
                 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map(params![function, qualifier], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>();
            rows
        })?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(Into::into))
            .collect()
    }

    /// Adds a statement; false if its `Sid` is taken.
    pub(crate) fn add_statement(
        &self,
        function: &str,
        qualifier: &str,
        sid: &str,
        statement: &Value,
    ) -> anyhow::Result<bool> {
        let n = self.db.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO lambda_policies (name, qualifier, sid, statement, seq)
                 VALUES (?1, ?2, ?3, ?4,
                    (SELECT COALESCE(MAX(seq), 0) + 1 FROM lambda_policies))",
                params![function, qualifier, sid, statement.to_string()],
            )
        })?;
        Ok(n == 1)
    }

    /// Removes a statement; false if there was none with that `Sid`.
    pub(crate) fn remove_statement(
        &self,
        function: &str,
        qualifier: &str,
        sid: &str,
    ) -> anyhow::Result<bool> {
        let n = self.db.with(|c| {
            c.execute(
                "DELETE FROM lambda_policies WHERE name = ?1 AND qualifier = ?2 AND sid = ?3",
                params![function, qualifier, sid],
            )
        })?;
        Ok(n == 1)
    }
}
