//! baton-core: lanes, items, runs and the global drain of Baton, as a sans-I/O
//! state machine ([`Machine`]) behind one lock ([`Core`]), written once
//! against an abstract family of sync primitives ([`sync::SyncFamily`]).
//!
//! The contract is `shared/SPEC.md`. Where it leaves room, this crate reads it
//! so:
//! - a lane has two queues: user items (interrupts at their head) and
//!   scheduled (cron) items; user items always start before scheduled ones
//!   of the same lane, and the drain serves lanes with user work first;
//! - `/new` removes and reports what was queued in the lane, like a stop
//!   that clears the queue, and forgets the agent sessions;
//! - a stop or `/new` outranks a preemption: a scheduled run the user
//!   stopped is not requeued;
//! - an interrupt of a scheduled run preempts it (the fire is requeued);
//!   user work waiting for capacity preempts the oldest scheduled run only
//!   while waiting lanes outnumber the slots that stopping runs will free;
//! - a fire cut by shutdown does not retire its one-shot job, as after a
//!   crash: only completed, failed or user-stopped fires do.
//!
//! How a runner uses it: `submit` (or `interrupt`, `cron_claim`) may hand
//! back a [`Ticket`]; for every ticket, call `spawned` before spawning the
//! agent (give up if refused), report `record_agent_session` and `output`
//! while it runs, retry a stalled agent only when `retry` grants it, make
//! sure the agent process is gone, and always end with `finish`, then start
//! every ticket that `finish` hands back. That protocol is written once, as
//! the sans-I/O machine [`Lifecycle`]: the bot's runner and the model
//! checkers' runners both drive it.

pub mod clock;
pub mod config;
pub mod cron;
mod dedupe;
mod engine;
pub mod error;
pub mod event;
mod hash;
pub mod item;
pub mod journal;
mod lane;
pub mod lifecycle;
pub mod machine;
#[cfg(feature = "planted-bugs")]
pub mod planted;
#[cfg(not(feature = "planted-bugs"))]
mod planted;
pub mod prefs;
mod ready;
pub mod run;
pub mod sync;

pub use clock::{Clock, Millis};
pub use config::Config;
pub use cron::{CronKind, JobId};
pub use engine::{Core, TicketOf};
pub use error::Error;
pub use event::{Event, JournalEntry, QueueKind, RemovalReason};
pub use item::{Item, ItemId, LaneKey, Origin};
pub use lifecycle::Lifecycle;
pub use machine::{
    Admission, CronCancelReport, CronClaim, FinishReport, LaneSnapshot, Machine, NewSessionReport,
    Output, RunNowReport, ShutdownReport, Snapshot, StopReport,
};
pub use prefs::{Driver, Preferences};
pub use run::{CancelReason, Outcome, QuestionId, RunId, RunPhase, RunView, Ticket};
