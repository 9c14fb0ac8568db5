//! Why the core refused an operation.

use crate::item::ItemId;
use crate::run::{QuestionId, RunId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("run {0} is not its lane's current run")]
    StaleRun(RunId),
    #[error("run {0} was cancelled")]
    Cancelled(RunId),
    #[error("run {0} was already spawned")]
    AlreadySpawned(RunId),
    #[error("run {0} used all its {1} retries")]
    RetryLimit(RunId, u32),
    #[error("item {0} is already queued, running or recently seen")]
    Duplicate(ItemId),
    #[error("the lane's queue is full ({0} items)")]
    QueueFull(usize),
    #[error("shutting down: no new work is admitted")]
    ShuttingDown,
    #[error("nothing to retry in this lane")]
    NothingToRetry,
    #[error("cron job {0} is not registered (cancelled or never scheduled)")]
    UnknownJob(String),
    #[error("cron job {0} is already registered")]
    JobExists(String),
    #[error("item {0} is not waiting in its lane's queue (it started or was removed)")]
    NotQueued(ItemId),
    #[error("run {0} has no open question {1} (answered, withdrawn or never asked)")]
    Unanswerable(RunId, QuestionId),
    #[error("unknown driver {0:?} (expected claude or codex)")]
    UnknownDriver(String),
}
