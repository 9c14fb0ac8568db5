//! Runs: one execution of one item, owned by an epoch that is never reused.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::item::{Item, LaneKey};
use crate::prefs::Driver;

/// A run's identity and ownership token. Issued in increasing order and never
/// reused, so a stale runner can always be told apart from the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub u64);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// A question a run put to the user; issued in increasing order and never
/// reused, so an answer names exactly one question of exactly one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QuestionId(pub u64);

impl std::fmt::Display for QuestionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// Where a run is in its life. Finished runs leave the lane, so they have no
/// phase here; their outcome is in the [`crate::Event::Finished`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Ticket issued; the agent process has not been spawned yet.
    Admitted,
    /// `spawned` granted; the agent process runs.
    Running,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Failed,
    Cancelled,
    /// Cancelled to make room for user work; the item goes back to the head
    /// of its lane. Only a run the core preempted can end this way: the core
    /// decides, whatever the runner reports.
    Preempted,
}

/// Why the core asked a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    Stop,
    Interrupt,
    Preempt,
    NewSession,
    Shutdown,
}

/// Permission to execute one item. The runner must eventually hand the run
/// back through [`crate::Core::finish`] exactly once, whatever happens
/// (including when `spawned` refuses).
#[derive(Debug, Clone)]
pub struct Ticket<C> {
    pub run: RunId,
    pub item: Item,
    pub driver: Driver,
    pub model: Option<String>,
    pub effort: Option<String>,
    /// The permission mode the run starts its agent in.
    pub mode: Option<String>,
    /// The agent session to resume, for the captured driver.
    pub resume: Option<String>,
    pub cancel: C,
}

impl<C> Ticket<C> {
    pub fn lane(&self) -> LaneKey {
        self.item.lane
    }
}

/// A run as reports and snapshots show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub run: RunId,
    pub lane: LaneKey,
    pub item: crate::ItemId,
    /// The first characters of the item's prompt.
    pub preview: String,
    pub scheduled: bool,
    pub driver: Driver,
    pub model: Option<String>,
    pub phase: RunPhase,
    pub attempt: u32,
    pub admitted_at: Millis,
    pub age_ms: u64,
    /// The last tool status the run reported, if any.
    pub tool: Option<String>,
    /// What the run waits for the user to answer, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    pub cancel: Option<CancelReason>,
}
