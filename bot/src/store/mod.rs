//! The state that survives restarts, in one SQLite file: sessions, inbox, journal, cron
//! jobs, and what each run used.
//!
//! Writes never wait for the disk: each is queued to the store's one writer thread
//! (`writer`), which applies them in order and commits them in groups; its answer comes as
//! a [`Pending`], and [`Store::durable`] resolves once everything queued before it is on
//! disk. Reads run on a second connection and first wait for the writes queued before
//! them, so a read always sees the caller's own writes. Values owned by other modules
//! (inbox payloads, journal events) are stored as JSON, so the store does not depend on
//! their exact types.

mod cron_jobs;
mod inbox;
mod journal;
mod pending;
mod run_usage;
mod schema;
mod sessions;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, MutexGuard};
use rusqlite::{Connection, OpenFlags};

pub use cron_jobs::{CronJob, NewCronJob};
pub use inbox::{REDELIVERY_WINDOW, RecordOutcome};
pub use journal::JournalRow;
pub use pending::Pending;
pub use run_usage::{RunUsage, UsageTotals};
pub use sessions::{PREVIEW_CHARS, SessionRecord};
pub use writer::COMMIT_DELAY;

/// The database file's name inside the state directory.
pub const DATABASE_FILE_NAME: &str = "baton.sqlite3";

pub use baton_core::LaneKey;

// Telegram message ids start at 1, so 0 never names a real topic; a NULL would make
// the lane columns useless as a key (NULLs never compare equal).
fn topic_column(lane: LaneKey) -> i64 {
    lane.topic.map_or(0, i64::from)
}

fn lane_from_columns(chat: i64, topic: i64) -> Option<LaneKey> {
    let topic = match topic {
        0 => None,
        t => Some(i32::try_from(t).ok()?),
    };
    Some(LaneKey { chat, topic })
}

/// A database that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {}: {problem}", path.display())]
    Unusable { path: PathBuf, problem: String },
    #[error("database {}: {what}: {source}", path.display())]
    Json {
        path: PathBuf,
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Pages SQLite may cache per connection, in KiB: the database is small and its hot rows
/// are few, so the default 2 MiB per connection would mostly hold idle memory.
const CACHE_KIB: u32 = 256;

/// The open database.
pub struct Store {
    writer: writer::Writer,
    reader: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens `DATABASE_FILE_NAME` in `state_dir`, which must exist.
    pub fn open_in(state_dir: &Path) -> Result<Store, StoreError> {
        Store::open(&state_dir.join(DATABASE_FILE_NAME))
    }

    /// Opens or creates the database at `path` and brings its schema up to date.
    ///
    /// A file that is not a healthy Baton database is reported and left exactly as it was.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, COMMIT_DELAY)
    }

    fn open_with(path: &Path, commit_delay: Duration) -> Result<Store, StoreError> {
        let unusable = |problem: &str| StoreError::Unusable {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        };
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(unusable("is a directory, not a database file"));
            }
            Ok(meta) if !meta.is_file() => return Err(unusable("is not a regular file")),
            _ => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(sqlite)? {
            return Err(unusable(
                "is read-only (check its permissions and its directory's)",
            ));
        }
        conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
        // Reading the schema is the first access to the file: one that is not a database
        // fails here, before any pragma could write to it.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(sqlite)?;
        if check != "ok" {
            return Err(unusable(&format!("failed its integrity check: {check}")));
        }
        schema::check_version(&conn, path)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unusable(&format!(
                "cannot use write-ahead logging (journal mode {mode})"
            )));
        }
        // FULL: a commit is on disk when it returns, so `durable` means what it says.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{CACHE_KIB};"
        ))
        .map_err(sqlite)?;
        let mut conn = conn;
        schema::migrate(&mut conn, path)?;
        let reader = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        reader
            .busy_timeout(Duration::from_secs(5))
            .map_err(sqlite)?;
        reader
            .execute_batch(&format!(
                "PRAGMA query_only = ON; PRAGMA cache_size = -{CACHE_KIB};"
            ))
            .map_err(sqlite)?;
        Ok(Store {
            writer: writer::Writer::start(conn, path, commit_delay)?,
            reader: Mutex::new(reader),
            path: path.to_path_buf(),
        })
    }

    /// Resolves once every write queued before this call is committed and synced; at
    /// once, without a commit, when none is pending. Fails if any of those writes failed.
    pub fn durable(&self) -> Pending<()> {
        self.writer.durable()
    }

    /// Blocks until every write queued so far is committed: for start-up and shutdown,
    /// where no async runtime is waiting on this thread.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.writer.durable().wait()
    }

    /// Synced commits since the store opened (each one disk sync of the write-ahead log).
    pub fn commits(&self) -> u64 {
        self.writer.commits()
    }

    /// Commits everything queued and stops the writer; later writes are dropped (and
    /// logged). Dropping the store does the same.
    pub fn close(&self) {
        self.writer.close();
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues `write`; its result (not yet durable) answers the returned [`Pending`].
    fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Pending<T> {
        let (pending, reply) = Pending::channel(&self.path);
        let path = self.path.clone();
        self.writer.enqueue(Box::new(move |conn| match write(conn) {
            Ok(value) => {
                reply.resolve(Ok(value));
                Ok(())
            }
            Err(source) => {
                let problem = source.to_string();
                reply.resolve(Err(StoreError::Sqlite { path, source }));
                Err(problem)
            }
        }));
        pending
    }

    /// A write refused before it was queued (its value would not encode): said loudly,
    /// as the writer says a failed write.
    fn refused<T>(&self, error: StoreError) -> Pending<T> {
        tracing::error!(%error, "store: a write was refused");
        Pending::ready(Err(error))
    }

    /// The read connection, once the writes queued before this call are committed, so a
    /// read sees them. A failed write was already logged and answered; the read goes on.
    fn read(&self) -> MutexGuard<'_, Connection> {
        let _ = self.flush();
        self.reader.lock()
    }

    fn sqlite_error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn unusable(&self, problem: String) -> StoreError {
        StoreError::Unusable {
            path: self.path.clone(),
            problem,
        }
    }

    fn json_error(&self, what: impl Into<String>, source: serde_json::Error) -> StoreError {
        StoreError::Json {
            path: self.path.clone(),
            what: what.into(),
            source,
        }
    }

    fn time_from_column(&self, what: &str, millis: i64) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| self.unusable(format!("{what}: time {millis} is out of range")))
    }

    fn lane_from_columns(&self, what: &str, chat: i64, topic: i64) -> Result<LaneKey, StoreError> {
        lane_from_columns(chat, topic)
            .ok_or_else(|| self.unusable(format!("{what}: topic id {topic} is out of range")))
    }
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

#[cfg(test)]
mod tests;
