//! Every state change of the core, as data: the bot persists them, and
//! [`crate::journal::replay`] rebuilds the queues from them after a restart.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::cron::{CronKind, JobId};
use crate::item::{Item, ItemId, LaneKey};
use crate::prefs::{Driver, Preferences};
use crate::run::{CancelReason, Outcome, QuestionId, RunId};

/// Which of a lane's two queues an item waits in. User work always goes
/// before scheduled work of the same lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    User,
    Cron,
}

/// Why queued items left a queue without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    Stop,
    NewSession,
    CronCancelled,
    /// The user cancelled this one queued item (its Cancel button).
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// An item was accepted; `Queued` or `Started` follows.
    Admitted {
        item: Item,
    },
    /// The item now waits at `index` (0-based) of the lane's `queue`.
    Queued {
        item: ItemId,
        lane: LaneKey,
        queue: QueueKind,
        index: usize,
    },
    Started {
        run: RunId,
        item: ItemId,
        lane: LaneKey,
        driver: Driver,
        model: Option<String>,
        effort: Option<String>,
        resume: Option<String>,
    },
    Spawned {
        run: RunId,
    },
    CancelRequested {
        run: RunId,
        reason: CancelReason,
    },
    Retried {
        run: RunId,
        attempt: u32,
    },
    Finished {
        run: RunId,
        outcome: Outcome,
    },
    /// A preempted scheduled item went back to the head of its lane's cron queue.
    Requeued {
        run: RunId,
        item: ItemId,
        lane: LaneKey,
    },
    /// A queued user item moved to `index` of its lane's user queue (Run now).
    Moved {
        item: ItemId,
        lane: LaneKey,
        index: usize,
    },
    Removed {
        lane: LaneKey,
        items: Vec<ItemId>,
        reason: RemovalReason,
    },
    SessionRecorded {
        lane: LaneKey,
        driver: Driver,
        session: String,
    },
    SessionForgotten {
        lane: LaneKey,
    },
    PreferencesChanged {
        lane: LaneKey,
        preferences: Preferences,
    },
    CronRegistered {
        job: JobId,
        lane: LaneKey,
        kind: CronKind,
    },
    CronClaimed {
        job: JobId,
        item: ItemId,
    },
    CronCancelled {
        job: JobId,
    },
    /// A one-shot job's run ended; the job is gone.
    CronEnded {
        job: JobId,
    },
    /// The run put a question to the user.
    Asked {
        run: RunId,
        question: QuestionId,
    },
    /// The user answered it.
    Answered {
        run: RunId,
        question: QuestionId,
    },
    /// The run withdrew it unanswered.
    Withdrawn {
        run: RunId,
        question: QuestionId,
    },
    ShutdownBegan,
    /// The journal was compacted here; run ids continue from `next_run`.
    Checkpoint {
        next_run: u64,
    },
}

/// An event with its place in the total order of changes and its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub at: Millis,
    #[serde(flatten)]
    pub event: Event,
}
