//! What operations hand back: the decisions the caller must carry out.

use crate::cron::JobId;
use crate::item::{Item, ItemId};
use crate::run::{Outcome, RunId, RunView, Ticket};

/// The answer to a submit, an interrupt or a cron fire.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once and moved at once; boxing the ticket would only add an allocation"
)]
pub enum Admission<C> {
    /// Start it now.
    Started(Ticket<C>),
    /// It waits at `position` (1-based) in its lane. `cancelled` names the
    /// run cancelled to make room for it: the interrupted run, or a
    /// preempted scheduled run.
    Queued {
        position: usize,
        cancelled: Option<RunId>,
    },
}

impl<C> Admission<C> {
    pub fn ticket(self) -> Option<Ticket<C>> {
        match self {
            Admission::Started(ticket) => Some(ticket),
            Admission::Queued { .. } => None,
        }
    }
}

/// The answer to `finish`.
#[derive(Debug)]
pub struct FinishReport<C> {
    /// The outcome the core recorded: `Preempted` if and only if the core
    /// preempted the run, whatever the runner said.
    pub outcome: Outcome,
    /// The tickets to start now, across all lanes.
    pub tickets: Vec<Ticket<C>>,
    /// A one-shot cron job whose run ended and which is now gone.
    pub cron_ended: Option<JobId>,
    /// `/new` had asked to forget the agent sessions; done now.
    pub sessions_forgotten: bool,
}

/// The answer to `stop`: exactly what was cancelled and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    pub cancelled: Option<RunView>,
    pub removed: Vec<Item>,
}

/// The answer to `new_session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionReport {
    pub cancelled: Option<RunView>,
    pub removed: Vec<Item>,
    /// False when a run is still in flight: the sessions go when it finishes.
    pub forgotten_now: bool,
}

/// The answer to `shutdown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Everything that was queued, lane by lane in start order; persisted so
    /// it runs after a restart.
    pub queued: Vec<Item>,
    pub cancelled: Vec<RunView>,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once and moved at once; boxing would only add an allocation"
)]
pub enum CronClaim<C> {
    Admitted(Admission<C>),
    /// A fire of this job is still queued or running: this one is skipped,
    /// so a recurring job never piles up.
    AlreadyPending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronCancelReport {
    /// The fire that was queued and is now removed.
    pub removed: Option<ItemId>,
    /// The fire already running; it finishes (stop it to cut it short).
    pub running: Option<RunId>,
}

/// Output a run produces on its way to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Text,
    Thinking,
    Tool(String),
}
