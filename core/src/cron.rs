//! Cron jobs as the core sees them: claimable, cancellable, never piling up.
//! Schedules and due times live in the bot; the core only arbitrates.

use serde::{Deserialize, Serialize};

use crate::item::{ItemId, LaneKey};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CronKind {
    /// Runs once; removed when its run completes, fails or is stopped.
    OneShot,
    /// Fires again and again; at most one fire pending at a time.
    Recurring,
}

#[derive(Debug, Clone)]
pub(crate) struct CronJob {
    pub lane: LaneKey,
    pub kind: CronKind,
    /// The fire claimed and not yet ended (queued or running).
    pub pending: Option<ItemId>,
}
