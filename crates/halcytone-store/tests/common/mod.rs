//! Helpers shared by the store's test files: a store in a SQLite file of
//! its own, and names unique to a run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use halcytone_store::SqlStore;
use jiff::Timestamp;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this run and test, so PostgreSQL tests can share a database.
pub(crate) fn unique(tag: &str) -> String {
    format!(
        "{tag}_{}_{}_{}",
        std::process::id(),
        Timestamp::now().as_nanosecond(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A SQLite file removed (with its WAL) when dropped.
pub(crate) struct TempDb(pub(crate) PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A new store in a SQLite file of its own.
pub(crate) async fn sqlite() -> (SqlStore, TempDb) {
    let path = std::env::temp_dir().join(format!("{}.db", unique("halcytone-store")));
    let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    (store, TempDb(path))
}
