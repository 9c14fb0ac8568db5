//! The core's journal: every state change as an event, in order, so a run can be replayed.

use rusqlite::params;
use serde::Serialize;

use super::{Pending, Store, StoreError};

/// One stored journal row: the event as JSON, under the store's own sequence number
/// (increasing, never reused), which is not the core's `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRow {
    pub seq: i64,
    pub event: serde_json::Value,
}

impl Store {
    /// Queues `events` to be appended in order, all or none. Answers with the last row's
    /// sequence number, or `None` when `events` is empty; durable once [`Store::durable`]
    /// says so.
    pub fn append_events<E: Serialize>(&self, events: &[E]) -> Pending<Option<i64>> {
        let encoded = match self.encode(events, "batch") {
            Ok(encoded) => encoded,
            Err(error) => return self.refused(error),
        };
        if encoded.is_empty() {
            return Pending::ready(Ok(None));
        }
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached("INSERT INTO journal (event) VALUES (?1)")?;
            for event in &encoded {
                stmt.execute(params![event])?;
            }
            Ok(Some(conn.last_insert_rowid()))
        })
    }

    /// Queues the replacement of the whole journal with `events`, in one transaction: a
    /// crash leaves either the old journal or the new one, never neither.
    pub fn replace_journal<E: Serialize>(&self, events: &[E]) -> Pending<()> {
        let encoded = match self.encode(events, "the checkpoint") {
            Ok(encoded) => encoded,
            Err(error) => return self.refused(error),
        };
        self.write(move |conn| {
            conn.execute("DELETE FROM journal", [])?;
            let mut stmt = conn.prepare_cached("INSERT INTO journal (event) VALUES (?1)")?;
            for event in &encoded {
                stmt.execute(params![event])?;
            }
            Ok(())
        })
    }

    /// The whole journal, oldest first.
    pub fn load_journal(&self) -> Result<Vec<JournalRow>, StoreError> {
        let rows: Vec<(i64, String)> = {
            let conn = self.read();
            let mut stmt = conn
                .prepare("SELECT seq, event FROM journal ORDER BY seq")
                .map_err(|e| self.sqlite_error(e))?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.sqlite_error(e))?
        };
        rows.into_iter()
            .map(|(seq, event)| {
                Ok(JournalRow {
                    seq,
                    event: serde_json::from_str(&event)
                        .map_err(|e| self.json_error(format!("journal entry {seq}"), e))?,
                })
            })
            .collect()
    }

    /// Encoded on the caller's thread, so the writer only runs SQL.
    fn encode<E: Serialize>(&self, events: &[E], what: &str) -> Result<Vec<String>, StoreError> {
        events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                serde_json::to_string(event)
                    .map_err(|e| self.json_error(format!("event {i} of {what}"), e))
            })
            .collect()
    }
}
