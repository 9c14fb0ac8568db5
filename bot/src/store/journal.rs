//! The core's journal: every state change as an event, in order, so a run can be replayed.

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};

/// One journal event with its sequence number (increasing, never reused).
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub seq: i64,
    pub event: serde_json::Value,
}

impl Store {
    /// Appends `events` in order, all or none. Returns the last sequence number written,
    /// or `None` when `events` is empty.
    pub fn append_events<E: Serialize>(&self, events: &[E]) -> Result<Option<i64>, StoreError> {
        let encoded: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                serde_json::to_string(event)
                    .map_err(|e| self.json_error(format!("event {i} of batch"), e))
            })
            .collect::<Result<_, _>>()?;
        if encoded.is_empty() {
            return Ok(None);
        }
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite_error(e))?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO journal (event) VALUES (?1)")
                .map_err(|e| self.sqlite_error(e))?;
            for event in &encoded {
                stmt.execute(params![event])
                    .map_err(|e| self.sqlite_error(e))?;
            }
        }
        let last = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.sqlite_error(e))?;
        Ok(Some(last))
    }

    /// Replaces the whole journal with `events`, in one transaction: a crash
    /// leaves either the old journal or the new one, never neither.
    pub fn replace_journal<E: Serialize>(&self, events: &[E]) -> Result<(), StoreError> {
        let encoded: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                serde_json::to_string(event)
                    .map_err(|e| self.json_error(format!("event {i} of the checkpoint"), e))
            })
            .collect::<Result<_, _>>()?;
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite_error(e))?;
        tx.execute("DELETE FROM journal", [])
            .map_err(|e| self.sqlite_error(e))?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO journal (event) VALUES (?1)")
                .map_err(|e| self.sqlite_error(e))?;
            for event in &encoded {
                stmt.execute(params![event])
                    .map_err(|e| self.sqlite_error(e))?;
            }
        }
        tx.commit().map_err(|e| self.sqlite_error(e))
    }

    /// The whole journal, oldest first.
    pub fn load_journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        self.load_journal_after(0)
    }

    /// Journal entries with a sequence number above `seq`, oldest first.
    pub fn load_journal_after(&self, seq: i64) -> Result<Vec<JournalEntry>, StoreError> {
        let rows: Vec<(i64, String)> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare("SELECT seq, event FROM journal WHERE seq > ?1 ORDER BY seq")
                .map_err(|e| self.sqlite_error(e))?;
            stmt.query_map(params![seq], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.sqlite_error(e))?
        };
        rows.into_iter()
            .map(|(seq, event)| {
                Ok(JournalEntry {
                    seq,
                    event: serde_json::from_str(&event)
                        .map_err(|e| self.json_error(format!("journal entry {seq}"), e))?,
                })
            })
            .collect()
    }

    /// Drops entries up to and including `seq` (after a snapshot made them unnecessary).
    /// Returns how many were removed.
    pub fn compact_journal(&self, through_seq: i64) -> Result<usize, StoreError> {
        self.lock()
            .execute("DELETE FROM journal WHERE seq <= ?1", params![through_seq])
            .map_err(|e| self.sqlite_error(e))
    }
}
