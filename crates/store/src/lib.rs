//! Durable state for a stack.
//!
//! A [`Store`] is a folder (`.slcl/` in a project) holding one SQLite database in WAL
//! mode (`state.db`) and a `blobs/` folder for large bodies. Each emulator opens its
//! own [`Db`] connection and owns its tables (prefixed with the service name). Writes
//! are acknowledged only after SQLite commits them, so an acknowledged write survives
//! a kill -9 of the process (WAL with `synchronous=NORMAL` is durable against process
//! crashes; only a power loss can drop the last transactions).
//!
//! Blob file names are generated ids, never derived from user input, so no S3 key can
//! reach a path outside the store.
//!
//! ```
//! let store = slcl_store::Store::temporary().unwrap();
//! let db = store.db().unwrap();
//! db.with(|c| c.execute_batch("CREATE TABLE t (x INTEGER)")).unwrap();
//! ```
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

/// Errors opening or using the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state folder could not be created or read.
    #[error("failed to prepare state folder `{path}`: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process (another `slcl up`) is using this state folder.
    #[error(
        "state folder `{path}` is in use by another slcl process; stop it or use another folder"
    )]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// SQLite failed.
    #[error("state database `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
}

/// A stack's state folder.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    // Held for the store's lifetime: one process per state folder, so two stacks never
    // run the same queues. The OS releases it when the process dies, even by SIGKILL.
    _lock: Option<std::fs::File>,
    // Keeps a temporary store's folder alive until the last handle goes.
    _temp: Option<tempfile::TempDir>,
}

impl Store {
    /// Opens (creating if needed) the store in `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        let root = root.as_ref().to_path_buf();
        Self::prepare(&root)?;
        let lock_path = root.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Folder {
                path: lock_path.clone(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked { path: root })
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Folder {
                    path: lock_path,
                    source,
                })
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                root,
                _lock: Some(lock),
                _temp: None,
            }),
        })
    }

    /// A store in a fresh temporary folder, deleted when the last handle is dropped.
    pub fn temporary() -> Result<Store, StoreError> {
        let temp = tempfile::Builder::new()
            .prefix("slcl-")
            .tempdir()
            .map_err(|source| StoreError::Folder {
                path: std::env::temp_dir(),
                source,
            })?;
        let root = temp.path().to_path_buf();
        Self::prepare(&root)?;
        Ok(Store {
            inner: Arc::new(Inner {
                root,
                _lock: None,
                _temp: Some(temp),
            }),
        })
    }

    fn prepare(root: &Path) -> Result<(), StoreError> {
        for dir in [root.to_path_buf(), root.join("blobs"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Folder {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The state folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Folder where blobs live. Names inside it are generated ids.
    pub fn blob_dir(&self) -> PathBuf {
        self.inner.root.join("blobs")
    }

    /// Folder for files being written; moved into [`Store::blob_dir`] when complete.
    /// On the same file system as the blobs, so the move is an atomic rename.
    pub fn tmp_dir(&self) -> PathBuf {
        self.inner.root.join("tmp")
    }

    /// Folder for caches that can be rebuilt (compiled functions, ...).
    pub fn cache_dir(&self) -> PathBuf {
        self.inner.root.join("cache")
    }

    /// Opens a new connection to the state database.
    pub fn db(&self) -> Result<Db, StoreError> {
        let path = self.inner.root.join("state.db");
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(err)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }
}

/// One connection to the state database, shared by the tasks of one emulator.
///
/// Statements are short, so they run under a plain mutex on the calling thread.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Runs `f` with exclusive use of the connection.
    pub fn with<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.lock())
    }

    /// Locks the connection.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite rolls back
        // any open transaction when the guard's statement is dropped.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .db()
                .unwrap()
                .with(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (7);"))
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(
            matches!(Store::open(dir.path()), Err(StoreError::Locked { .. })),
            "a second open of the same folder is refused while the first is alive"
        );
        let x: i64 = store
            .db()
            .unwrap()
            .with(|c| c.query_row("SELECT x FROM t", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(x, 7);
        assert!(store.blob_dir().is_dir());
    }
}
