//! The database schema, versioned by SQLite's `user_version`; each migration runs once, in order.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only: never edit one
/// that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // Lane columns: chat id, and topic id with 0 for "no topic".
    "
    CREATE TABLE agent_sessions (
        chat_id      INTEGER NOT NULL,
        topic_id     INTEGER NOT NULL,
        driver       TEXT NOT NULL,
        session_id   TEXT NOT NULL,
        workdir      BLOB NOT NULL,
        preview      TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        PRIMARY KEY (chat_id, topic_id, driver, session_id)
    );
    CREATE INDEX agent_sessions_recent
        ON agent_sessions (chat_id, topic_id, driver, last_used_at DESC);

    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        topic_id    INTEGER NOT NULL,
        payload     TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        started_at  INTEGER,
        done_at     INTEGER
    );
    CREATE INDEX inbox_open ON inbox (done_at, update_id);

    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- AUTOINCREMENT: sequence numbers and job ids are never reused, even after deletions.
    CREATE TABLE journal (
        seq   INTEGER PRIMARY KEY AUTOINCREMENT,
        event TEXT NOT NULL
    );

    CREATE TABLE cron_jobs (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id   INTEGER NOT NULL,
        topic_id  INTEGER NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('cron', 'once')),
        expr      TEXT,
        tz        TEXT,
        at        INTEGER,
        prompt    TEXT NOT NULL,
        silent    INTEGER NOT NULL,
        next_fire INTEGER,
        CHECK ((kind = 'cron' AND expr IS NOT NULL AND tz IS NOT NULL AND at IS NULL)
            OR (kind = 'once' AND at IS NOT NULL AND expr IS NULL AND tz IS NULL))
    );
    CREATE INDEX cron_jobs_lane ON cron_jobs (chat_id, topic_id);
    CREATE INDEX cron_jobs_due ON cron_jobs (next_fire) WHERE next_fire IS NOT NULL;
    ",
    // Interval jobs (`at` is their anchor), and where an imported job came from, so an
    // import run twice adds nothing. SQLite cannot change a CHECK, so the table is rebuilt;
    // its AUTOINCREMENT counter moves over so a deleted job's id is still never reused.
    "
    CREATE TABLE cron_jobs_v2 (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id    INTEGER NOT NULL,
        topic_id   INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('cron', 'once', 'every')),
        expr       TEXT,
        tz         TEXT,
        at         INTEGER,
        every_ms   INTEGER,
        prompt     TEXT NOT NULL,
        silent     INTEGER NOT NULL,
        next_fire  INTEGER,
        import_key TEXT UNIQUE,
        CHECK ((kind = 'cron' AND expr IS NOT NULL AND tz IS NOT NULL AND at IS NULL AND every_ms IS NULL)
            OR (kind = 'once' AND at IS NOT NULL AND expr IS NULL AND tz IS NULL AND every_ms IS NULL)
            OR (kind = 'every' AND at IS NOT NULL AND every_ms > 0 AND expr IS NULL AND tz IS NULL))
    );
    INSERT INTO cron_jobs_v2 (id, chat_id, topic_id, kind, expr, tz, at, prompt, silent, next_fire)
        SELECT id, chat_id, topic_id, kind, expr, tz, at, prompt, silent, next_fire FROM cron_jobs;
    DELETE FROM sqlite_sequence WHERE name = 'cron_jobs_v2';
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'cron_jobs_v2', seq FROM sqlite_sequence WHERE name = 'cron_jobs';
    DROP TABLE cron_jobs;
    ALTER TABLE cron_jobs_v2 RENAME TO cron_jobs;
    CREATE INDEX cron_jobs_lane ON cron_jobs (chat_id, topic_id);
    CREATE INDEX cron_jobs_due ON cron_jobs (next_fire) WHERE next_fire IS NOT NULL;
    ",
    // What each run used: tokens, and cost where the CLI reports it.
    "
    CREATE TABLE run_usage (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id       INTEGER NOT NULL,
        topic_id      INTEGER NOT NULL,
        driver        TEXT NOT NULL,
        outcome       TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd      REAL,
        ended_at      INTEGER NOT NULL
    );
    CREATE INDEX run_usage_lane ON run_usage (chat_id, topic_id, ended_at);
    CREATE INDEX run_usage_ended ON run_usage (ended_at);
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Refuses a schema this build cannot read, before anything is written to the file.
pub(super) fn check_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unusable {
            path: path.to_path_buf(),
            problem: format!(
                "schema version {version} is newer than this baton understands ({SCHEMA_VERSION})"
            ),
        });
    }
    if version < 0 {
        return Err(StoreError::Unusable {
            path: path.to_path_buf(),
            problem: format!("schema version {version} is not one baton writes"),
        });
    }
    if version == 0 {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })?;
        if objects > 0 {
            return Err(StoreError::Unusable {
                path: path.to_path_buf(),
                problem: "holds tables but no baton schema version: another program's database?"
                    .to_string(),
            });
        }
    }
    Ok(version)
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version = check_version(conn, path)?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(sqlite)?;
        tx.execute_batch(sql).map_err(sqlite)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", from + 1))
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
    }
    Ok(())
}
