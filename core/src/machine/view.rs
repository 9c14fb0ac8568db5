//! Consistent views of the whole core, for `/status` and `/debug`.

use serde::{Deserialize, Serialize};

use super::Machine;
use crate::clock::Millis;
use crate::item::{ItemId, LaneKey};
use crate::lane::Lane;
use crate::prefs::Preferences;
use crate::run::RunView;
use crate::sync::CancelSignal;

const PREVIEW_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneSnapshot {
    pub lane: LaneKey,
    pub preferences: Preferences,
    pub run: Option<RunView>,
    /// Queued item ids in start order: user items, then scheduled ones.
    pub queued: Vec<ItemId>,
    pub queued_user: usize,
    pub queued_cron: usize,
    pub previews: Vec<String>,
    pub claude_session: Option<String>,
    pub codex_session: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub capacity: usize,
    pub in_flight: usize,
    pub queued: usize,
    pub shutting_down: bool,
    /// Lanes with a run or queued work, in key order.
    pub lanes: Vec<LaneSnapshot>,
}

impl<C: CancelSignal> Machine<C> {
    fn lane_snapshot(key: LaneKey, lane: &Lane<C>, now: Millis) -> LaneSnapshot {
        LaneSnapshot {
            lane: key,
            preferences: lane.preferences.clone(),
            run: lane.current.as_ref().map(|run| run.view(now)),
            queued: lane
                .user_queue
                .iter()
                .chain(lane.cron_queue.iter())
                .map(|item| item.id.clone())
                .collect(),
            queued_user: lane.user_queue.len(),
            queued_cron: lane.cron_queue.len(),
            previews: lane.queue_previews(PREVIEW_CHARS),
            claude_session: lane.sessions[0].clone(),
            codex_session: lane.sessions[1].clone(),
        }
    }

    pub fn snapshot(&self, now: Millis) -> Snapshot {
        let mut lanes: Vec<LaneSnapshot> = self
            .lanes
            .iter()
            .filter(|(_, lane)| lane.current.is_some() || lane.queued() > 0)
            .map(|(key, lane)| Self::lane_snapshot(*key, lane, now))
            .collect();
        lanes.sort_by_key(|lane| lane.lane);
        Snapshot {
            capacity: self.config.capacity,
            in_flight: self.in_flight,
            queued: self.queued,
            shutting_down: self.shutting_down,
            lanes,
        }
    }

    /// One lane's view, whether or not it is active.
    pub fn lane_status(&self, key: LaneKey, now: Millis) -> LaneSnapshot {
        match self.lanes.get(&key) {
            Some(lane) => Self::lane_snapshot(key, lane, now),
            None => Self::lane_snapshot(
                key,
                &Lane::new(self.config.default_preferences.clone()),
                now,
            ),
        }
    }
}
