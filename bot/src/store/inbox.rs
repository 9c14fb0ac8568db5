//! The durable inbox: every Telegram update is written here before its offset is confirmed,
//! so a restart finds what was queued and what was cut off mid-run.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{LaneKey, Store, StoreError, millis};

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

/// An update that has not finished.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEntry {
    pub update_id: i64,
    pub lane: LaneKey,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
}

/// What a restart finds, each list in update order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingInbox {
    /// Never started: safe to submit again.
    pub queued: Vec<InboxEntry>,
    /// Started but never finished: the agent may have acted, so these are reported to the
    /// user as interrupted and never rerun silently.
    pub interrupted: Vec<InboxEntry>,
}

const HIGH_WATER_MARK: &str = "confirmed_update_id";

impl Store {
    /// Stores update `update_id` for `lane`; a second record of the same id is a duplicate
    /// unless the first finished more than `REDELIVERY_WINDOW` ago.
    pub fn record_update<P: Serialize>(
        &self,
        update_id: i64,
        lane: LaneKey,
        payload: &P,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, StoreError> {
        let json = serde_json::to_string(payload)
            .map_err(|e| self.json_error(format!("update {update_id}"), e))?;
        let changed = self
            .lock()
            .execute(
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
                    super::topic_column(lane),
                    json,
                    millis(now),
                    millis(now - REDELIVERY_WINDOW),
                ],
            )
            .map_err(|e| self.sqlite_error(e))?;
        Ok(if changed == 1 {
            RecordOutcome::Inserted
        } else {
            RecordOutcome::Duplicate
        })
    }

    /// Notes that a run of the update began. Returns false for an id the inbox does not
    /// hold (e.g. a cron item). A retry keeps the first start time.
    pub fn mark_started(&self, update_id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.update_inbox(
            "UPDATE inbox SET started_at = coalesce(started_at, ?2) WHERE update_id = ?1",
            update_id,
            now,
        )
    }

    /// Notes that the update needs nothing more: its run ended, it was removed by a stop,
    /// or it was reported as interrupted. Returns false for an id the inbox does not hold.
    pub fn mark_done(&self, update_id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.update_inbox(
            "UPDATE inbox SET done_at = coalesce(done_at, ?2) WHERE update_id = ?1",
            update_id,
            now,
        )
    }

    fn update_inbox(
        &self,
        sql: &str,
        update_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute(sql, params![update_id, millis(now)])
            .map_err(|e| self.sqlite_error(e))?;
        Ok(changed == 1)
    }

    /// Every update not yet done, split into never started and interrupted.
    pub fn pending(&self) -> Result<PendingInbox, StoreError> {
        type Row = (i64, i64, i64, String, i64, Option<i64>);
        let rows: Vec<Row> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(
                    "SELECT update_id, chat_id, topic_id, payload, received_at, started_at
                     FROM inbox WHERE done_at IS NULL ORDER BY update_id",
                )
                .map_err(|e| self.sqlite_error(e))?;
            stmt.query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.sqlite_error(e))?
        };
        let mut pending = PendingInbox::default();
        for (update_id, chat, topic, payload, received, started) in rows {
            let what = format!("update {update_id}");
            let entry = InboxEntry {
                update_id,
                lane: self.lane_from_columns(&what, chat, topic)?,
                payload: serde_json::from_str(&payload).map_err(|e| self.json_error(&what, e))?,
                received_at: self.time_from_column(&what, received)?,
                started_at: started
                    .map(|at| self.time_from_column(&what, at))
                    .transpose()?,
            };
            if entry.started_at.is_some() {
                pending.interrupted.push(entry);
            } else {
                pending.queued.push(entry);
            }
        }
        Ok(pending)
    }

    /// Forgets finished updates done before `before` (keep at least `REDELIVERY_WINDOW`).
    /// Returns how many were removed.
    pub fn prune_inbox(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.lock()
            .execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?1",
                params![millis(before)],
            )
            .map_err(|e| self.sqlite_error(e))
    }

    /// Raises the high-water mark of update ids confirmed to Telegram; never lowers it.
    pub fn confirm_update(&self, update_id: i64) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                params![HIGH_WATER_MARK, update_id],
            )
            .map_err(|e| self.sqlite_error(e))?;
        Ok(())
    }

    /// The highest update id confirmed to Telegram, if any.
    pub fn confirmed_update_id(&self) -> Result<Option<i64>, StoreError> {
        self.lock()
            .query_row(
                "SELECT value FROM counters WHERE name = ?1",
                params![HIGH_WATER_MARK],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))
    }
}
