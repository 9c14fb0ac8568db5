//! Agent sessions each lane has used, per driver, for `/resume`; and which one is current.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{LaneKey, Pending, Store, StoreError, millis};

/// How many characters of the first prompt a session keeps as its preview.
pub const PREVIEW_CHARS: usize = 100;

/// One agent session a lane has used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub lane: LaneKey,
    pub driver: String,
    pub session_id: String,
    /// The directory the agent ran in; resuming elsewhere fails (claude keys sessions by cwd).
    pub workdir: PathBuf,
    /// The start of the prompt that opened the session, on one line.
    pub preview: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

type SessionRow = (i64, i64, String, String, Vec<u8>, String, i64, i64);

const SESSION_COLUMNS: &str =
    "chat_id, topic_id, driver, session_id, workdir, preview, created_at, last_used_at";

fn read_row(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

/// Collapses whitespace and keeps at most `PREVIEW_CHARS` characters.
fn preview_of(prompt: &str) -> String {
    let one_line = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

impl Store {
    /// Queues the record that `lane` used `session_id` of `driver` at `now`. The first
    /// record of a session keeps its workdir and preview; later ones only move
    /// `last_used_at`.
    pub fn record_session(
        &self,
        lane: LaneKey,
        driver: &str,
        session_id: &str,
        workdir: &Path,
        first_prompt: &str,
        now: DateTime<Utc>,
    ) -> Pending<()> {
        let topic = super::topic_column(lane);
        let driver = driver.to_owned();
        let session_id = session_id.to_owned();
        let workdir = workdir.as_os_str().as_bytes().to_vec();
        let preview = preview_of(first_prompt);
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO agent_sessions (chat_id, topic_id, driver, session_id, workdir,
                                             preview, created_at, last_used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (chat_id, topic_id, driver, session_id)
                 DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)",
                params![
                    lane.chat,
                    topic,
                    driver,
                    session_id,
                    workdir,
                    preview,
                    millis(now)
                ],
            )?;
            Ok(())
        })
    }

    /// `lane`'s sessions of `driver`, most recently used first, at most `limit`.
    pub fn sessions(
        &self,
        lane: LaneKey,
        driver: &str,
        limit: usize,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = {
            let conn = self.read();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {SESSION_COLUMNS} FROM agent_sessions
                     WHERE chat_id = ?1 AND topic_id = ?2 AND driver = ?3
                     ORDER BY last_used_at DESC, created_at DESC, session_id LIMIT ?4"
                ))
                .map_err(|e| self.sqlite_error(e))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(
                params![lane.chat, super::topic_column(lane), driver, limit],
                read_row,
            )
            .and_then(Iterator::collect)
            .map_err(|e| self.sqlite_error(e))?
        };
        rows.into_iter()
            .map(|row| self.session_from_row(row))
            .collect()
    }

    /// One session of `lane`, e.g. the one a `/resume` button names.
    pub fn session(
        &self,
        lane: LaneKey,
        driver: &str,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = self
            .read()
            .query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM agent_sessions
                     WHERE chat_id = ?1 AND topic_id = ?2 AND driver = ?3 AND session_id = ?4"
                ),
                params![lane.chat, super::topic_column(lane), driver, session_id],
                read_row,
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))?;
        row.map(|row| self.session_from_row(row)).transpose()
    }

    fn session_from_row(&self, row: SessionRow) -> Result<SessionRecord, StoreError> {
        let (chat, topic, driver, session_id, workdir, preview, created, last_used) = row;
        let what = format!("session {session_id}");
        Ok(SessionRecord {
            lane: self.lane_from_columns(&what, chat, topic)?,
            driver,
            workdir: PathBuf::from(std::ffi::OsStr::from_bytes(&workdir)),
            preview,
            created_at: self.time_from_column(&what, created)?,
            last_used_at: self.time_from_column(&what, last_used)?,
            session_id,
        })
    }
}
