//! Each lane's preferences (driver, model, effort), stored as the JSON its owner serialises.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{LaneKey, Store, StoreError};

impl Store {
    /// Replaces `lane`'s preferences.
    pub fn save_prefs<P: Serialize>(&self, lane: LaneKey, prefs: &P) -> Result<(), StoreError> {
        let json = serde_json::to_string(prefs)
            .map_err(|e| self.json_error(format!("preferences of {lane}"), e))?;
        self.lock()
            .execute(
                "INSERT INTO lane_prefs (chat_id, topic_id, prefs) VALUES (?1, ?2, ?3)
                 ON CONFLICT (chat_id, topic_id) DO UPDATE SET prefs = excluded.prefs",
                params![lane.chat, super::topic_column(lane), json],
            )
            .map_err(|e| self.sqlite_error(e))?;
        Ok(())
    }

    /// `lane`'s preferences, if it ever saved any.
    pub fn load_prefs<P: DeserializeOwned>(&self, lane: LaneKey) -> Result<Option<P>, StoreError> {
        let json: Option<String> = self
            .lock()
            .query_row(
                "SELECT prefs FROM lane_prefs WHERE chat_id = ?1 AND topic_id = ?2",
                params![lane.chat, super::topic_column(lane)],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite_error(e))?;
        json.map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| self.json_error(format!("preferences of {lane}"), e))
        })
        .transpose()
    }

    /// Every lane's preferences, ordered by lane.
    pub fn all_prefs<P: DeserializeOwned>(&self) -> Result<Vec<(LaneKey, P)>, StoreError> {
        let rows: Vec<(i64, i64, String)> = {
            let conn = self.lock();
            let mut stmt = conn
                .prepare(
                    "SELECT chat_id, topic_id, prefs FROM lane_prefs ORDER BY chat_id, topic_id",
                )
                .map_err(|e| self.sqlite_error(e))?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.sqlite_error(e))?
        };
        rows.into_iter()
            .map(|(chat, topic, json)| {
                let lane = self.lane_from_columns("preferences", chat, topic)?;
                let prefs = serde_json::from_str(&json)
                    .map_err(|e| self.json_error(format!("preferences of {lane}"), e))?;
                Ok((lane, prefs))
            })
            .collect()
    }
}
