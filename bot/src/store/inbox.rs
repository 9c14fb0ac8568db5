//! The inbox: the update ids polling has recorded, so a redelivered update (after a
//! crash, before its offset was confirmed) is recognised and never runs twice; and the
//! high-water mark of the ids confirmed to Telegram.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{LaneKey, Pending, Store, StoreError, millis};

/// How long a finished update id still counts as a duplicate. Telegram redelivers an
/// unconfirmed update for at most a day; after a week without updates it may hand out
/// ids at random, so an old id can come back as a new update.
pub const REDELIVERY_WINDOW: TimeDelta = TimeDelta::days(2);

/// Whether `record_update` stored the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Inserted,
    /// Already recorded: a redelivery, to be ignored.
    Duplicate,
}

const HIGH_WATER_MARK: &str = "confirmed_update_id";

impl Store {
    /// Queues the record of update `update_id` for `lane`; a second record of the same id
    /// is a duplicate unless the first finished more than `REDELIVERY_WINDOW` ago. The
    /// answer comes once the writer applied it, before it is durable.
    pub fn record_update<P: Serialize>(
        &self,
        update_id: i64,
        lane: LaneKey,
        payload: &P,
        now: DateTime<Utc>,
    ) -> Pending<RecordOutcome> {
        let json = match serde_json::to_string(payload) {
            Ok(json) => json,
            Err(e) => return self.refused(self.json_error(format!("update {update_id}"), e)),
        };
        let topic = super::topic_column(lane);
        self.write(move |conn| {
            let changed = conn.execute(
                "INSERT INTO inbox (update_id, chat_id, topic_id, payload, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (update_id) DO UPDATE SET
                     chat_id = excluded.chat_id, topic_id = excluded.topic_id,
                     payload = excluded.payload, received_at = excluded.received_at,
                     started_at = NULL, done_at = NULL
                 WHERE done_at IS NOT NULL AND done_at < ?6",
                params![
                    update_id,
                    lane.chat,
                    topic,
                    json,
                    millis(now),
                    millis(now - REDELIVERY_WINDOW),
                ],
            )?;
            Ok(if changed == 1 {
                RecordOutcome::Inserted
            } else {
                RecordOutcome::Duplicate
            })
        })
    }

    /// Queues a note that the update needs nothing more (the journal follows its item from
    /// here). Answers false for an id the inbox does not hold.
    pub fn mark_done(&self, update_id: i64, now: DateTime<Utc>) -> Pending<bool> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE inbox SET done_at = coalesce(done_at, ?2) WHERE update_id = ?1",
                params![update_id, millis(now)],
            )?;
            Ok(changed == 1)
        })
    }

    /// The updates recorded and not yet done (a file still downloading, an album still
    /// arriving when the process ended), in update order, with their payloads.
    pub fn unfinished_updates(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let conn = self.read();
        let mut stmt = conn
            .prepare(
                "SELECT update_id, payload FROM inbox WHERE done_at IS NULL ORDER BY update_id",
            )
            .map_err(|e| self.sqlite_error(e))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.sqlite_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sqlite_error(e))
    }

    /// Queues forgetting finished updates done before `before` (keep at least
    /// `REDELIVERY_WINDOW`). Answers how many were removed.
    pub fn prune_inbox(&self, before: DateTime<Utc>) -> Pending<usize> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?1",
                params![millis(before)],
            )
        })
    }

    /// Queues raising the high-water mark of update ids confirmed to Telegram; never
    /// lowers it.
    pub fn confirm_update(&self, update_id: i64) -> Pending<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                params![HIGH_WATER_MARK, update_id],
            )?;
            Ok(())
        })
    }

    /// The highest update id confirmed to Telegram, if any.
    pub fn confirmed_update_id(&self) -> Result<Option<i64>, StoreError> {
        self.read()
            .query_row(
                "SELECT value FROM counters WHERE name = ?1",
                params![HIGH_WATER_MARK],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))
    }
}
