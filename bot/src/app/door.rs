//! The one door into the core: every operation that changes the core goes
//! through [`CoreDoor`], which applies it and appends the journal entries it
//! produced to the store, in the core's order.
//!
//! Call order, as quinn-proto's docs put it for a connection: a state
//! change is one `CoreDoor` method (it applies, drains and appends under one
//! lock, so nothing can forget to persist); [`CoreDoor::durable`] resolves
//! once everything appended before it is committed; a runner asks
//! [`CoreDoor::spawned`] before each agent process, which waits for that
//! durability. Every ticket the core hands out (from a submission, a
//! finish, a restore, a cron fire) has its first `spawned` step taken in the
//! very step that issued it: the entry that says the run started is then
//! covered by the same commit as the entries that admitted it, and the
//! runner's wait finds it already durable (one synced commit between an
//! update and its agent, not two).

use std::collections::HashMap;
use std::sync::Arc;

use baton_core::{
    Admission, CronCancelReport, CronClaim, CronKind, Driver, Error, FinishReport, Item, ItemId,
    JobId, LaneKey, LaneSnapshot, NewSessionReport, Outcome, Output, Preferences, QuestionId,
    RunId, RunNowReport, RunView, ShutdownReport, Snapshot, StopReport,
};
use parking_lot::Mutex;

use crate::platform::{Core, RunCancel, Ticket};
use crate::store::{Store, StoreError};

/// The core, reachable only through operations that persist what they change.
pub struct CoreDoor {
    core: Core,
    store: Arc<Store>,
    /// Held across apply, drain and append, so entries reach the store in
    /// the core's order; also guards the early `spawned` answers.
    order: Mutex<Early>,
}

/// The answers of `spawned` steps taken when their tickets were issued,
/// until each runner asks for its own.
type Early = HashMap<RunId, Result<(), Error>>;

impl CoreDoor {
    pub fn new(core: Core, store: Arc<Store>) -> Self {
        CoreDoor {
            core,
            store,
            order: Mutex::new(HashMap::new()),
        }
    }

    /// Applies `op`, takes the early `spawned` step of every ticket it
    /// issued, and appends the resulting entries, all under the order lock.
    fn apply<R>(&self, op: impl FnOnce(&Core) -> R, tickets: impl Fn(&R) -> Vec<RunId>) -> R {
        let mut early = self.order.lock();
        let result = op(&self.core);
        for run in tickets(&result) {
            early.insert(run, self.core.spawned(run));
        }
        self.append(self.core.drain_journal());
        result
    }

    /// A step that issues no tickets.
    fn step<R>(&self, op: impl FnOnce(&Core) -> R) -> R {
        self.apply(op, |_| Vec::new())
    }

    fn append(&self, entries: Vec<baton_core::JournalEntry>) {
        if entries.is_empty() {
            return;
        }
        // Queued to the store's writer in the core's order (the order lock
        // is held); `durable` says when they are on disk, and the store logs
        // a write that fails.
        drop(self.store.append_events(&entries));
    }

    /// Resolves once every entry appended before this call is committed.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.store.durable().await
    }

    pub fn submit(&self, item: Item) -> Result<Admission<RunCancel>, Error> {
        self.apply(|core| core.submit(item), admitted_run)
    }

    pub fn interrupt(&self, item: Item) -> Result<Admission<RunCancel>, Error> {
        self.apply(|core| core.interrupt(item), admitted_run)
    }

    pub fn ask(&self, run: RunId, summary: String) -> Result<QuestionId, Error> {
        self.step(|core| core.ask(run, summary))
    }

    pub fn answer(&self, run: RunId, question: QuestionId) -> Result<(), Error> {
        self.step(|core| core.answer(run, question))
    }

    pub fn withdraw_question(&self, run: RunId, question: QuestionId) -> Result<(), Error> {
        self.step(|core| core.withdraw_question(run, question))
    }

    pub fn run_now(&self, lane: LaneKey, item: &ItemId) -> Result<RunNowReport, Error> {
        self.step(|core| core.run_now(lane, item))
    }

    pub fn cancel_queued(&self, lane: LaneKey, item: &ItemId) -> Result<Item, Error> {
        self.step(|core| core.cancel_queued(lane, item))
    }

    pub fn retry_last(&self, lane: LaneKey, id: ItemId) -> Result<Admission<RunCancel>, Error> {
        self.apply(|core| core.retry_last(lane, id), admitted_run)
    }

    pub fn cron_claim(
        &self,
        job: &JobId,
        fire_at: baton_core::Millis,
        prompt: String,
        silent: bool,
    ) -> Result<CronClaim<RunCancel>, Error> {
        self.apply(
            |core| core.cron_claim(job, fire_at, prompt, silent),
            |claim| match claim {
                Ok(CronClaim::Admitted(Admission::Started(ticket))) => vec![ticket.run],
                _ => Vec::new(),
            },
        )
    }

    pub fn finish(&self, run: RunId, outcome: Outcome) -> Result<FinishReport<RunCancel>, Error> {
        self.apply(
            |core| core.finish(run, outcome),
            |report| match report {
                Ok(report) => report.tickets.iter().map(|t| t.run).collect(),
                Err(_) => Vec::new(),
            },
        )
    }

    /// Loads a journal replay into the (fresh) core; the tickets to start.
    pub fn restore(&self, recovered: baton_core::journal::Recovered) -> Vec<Ticket> {
        self.apply(
            |core| core.restore(recovered),
            |tickets| tickets.iter().map(|t| t.run).collect(),
        )
    }

    /// The run's `spawned` step, durable before this returns: ask it before
    /// every agent process. The first one was taken when the ticket was
    /// issued; a stop since then still keeps the agent from spawning.
    pub async fn spawned(&self, ticket: &Ticket) -> Result<(), NotSpawned> {
        let run = ticket.run;
        let early = self.order.lock().remove(&run);
        let granted = match early {
            Some(early) => early,
            None => self.step(|core| core.spawned(run)),
        };
        granted.map_err(NotSpawned::Refused)?;
        self.durable().await.map_err(NotSpawned::NotDurable)?;
        if ticket.cancel.token().is_cancelled() {
            return Err(NotSpawned::Refused(Error::Cancelled(run)));
        }
        Ok(())
    }

    /// A stalled run asks to try again; it must then ask `spawned` again.
    pub fn retry(&self, run: RunId) -> Result<u32, Error> {
        self.step(|core| core.retry(run))
    }

    pub fn record_agent_session(&self, run: RunId, session: String) -> Result<(), Error> {
        self.step(|core| core.record_agent_session(run, session))
    }

    pub fn output(&self, run: RunId, output: Output) -> Result<(), Error> {
        self.step(|core| core.output(run, output))
    }

    pub fn stop(&self, lane: LaneKey, clear_queue: bool) -> StopReport {
        self.step(|core| core.stop(lane, clear_queue))
    }

    pub fn stop_run(&self, run: RunId) -> Result<RunView, Error> {
        self.step(|core| core.stop_run(run))
    }

    pub fn update_preferences(
        &self,
        lane: LaneKey,
        change: impl FnOnce(&mut Preferences),
    ) -> Preferences {
        self.step(|core| core.update_preferences(lane, change))
    }

    pub fn set_session(&self, lane: LaneKey, driver: Driver, session: Option<String>) {
        self.step(|core| core.set_session(lane, driver, session))
    }

    pub fn new_session(&self, lane: LaneKey) -> NewSessionReport {
        self.step(|core| core.new_session(lane))
    }

    pub fn cron_register(&self, job: JobId, lane: LaneKey, kind: CronKind) -> Result<(), Error> {
        self.step(|core| core.cron_register(job, lane, kind))
    }

    pub fn cron_cancel(&self, job: &JobId) -> Result<CronCancelReport, Error> {
        self.step(|core| core.cron_cancel(job))
    }

    pub fn shutdown(&self) -> ShutdownReport {
        self.step(|core| core.shutdown())
    }

    // Read-only views: they change nothing, so they need no journal.

    pub fn preferences(&self, lane: LaneKey) -> Preferences {
        self.core.preferences(lane)
    }

    pub fn session(&self, lane: LaneKey, driver: Driver) -> Option<String> {
        self.core.session(lane, driver)
    }

    pub fn lane_status(&self, lane: LaneKey) -> LaneSnapshot {
        self.core.lane_status(lane)
    }

    pub fn snapshot(&self) -> Snapshot {
        self.core.snapshot()
    }

    pub fn in_flight(&self) -> u64 {
        self.core.in_flight()
    }

    pub fn queued(&self) -> u64 {
        self.core.queued()
    }

    pub fn capacity(&self) -> usize {
        self.core.inspect(|machine| machine.config().capacity)
    }
}

/// Why a runner may not spawn its agent.
#[derive(Debug, thiserror::Error)]
pub enum NotSpawned {
    /// The core said no: the run was stopped, or is not current.
    #[error(transparent)]
    Refused(Error),
    /// The entry saying the run started could not be made durable: a crash
    /// could then rerun work the agent already did.
    #[error("its start is not durable: {0}")]
    NotDurable(StoreError),
}

fn admitted_run(admission: &Result<Admission<RunCancel>, Error>) -> Vec<RunId> {
    match admission {
        Ok(Admission::Started(ticket)) => vec![ticket.run],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Config, Event, Millis};

    fn door() -> (CoreDoor, Arc<Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let core = Core::new(Config::default(), || Millis(0));
        (CoreDoor::new(core, Arc::clone(&store)), store, dir)
    }

    fn events(store: &Store) -> Vec<Event> {
        store
            .load_journal()
            .unwrap()
            .into_iter()
            .map(|row| {
                serde_json::from_value::<baton_core::JournalEntry>(row.event)
                    .unwrap()
                    .event
            })
            .collect()
    }

    #[test]
    fn door_persists_each_operation_in_the_cores_order() {
        let (door, store, _dir) = door();
        let lane = LaneKey::chat(1);
        let first = door.submit(Item::text("u1", lane, "one", Millis(0)));
        assert!(matches!(first, Ok(Admission::Started(_))));
        door.submit(Item::text("u2", lane, "two", Millis(0)))
            .unwrap();
        door.stop(lane, true);
        let events = events(&store);
        let at = |wanted: fn(&Event) -> bool| {
            events
                .iter()
                .position(wanted)
                .unwrap_or_else(|| panic!("missing from {events:#?}"))
        };
        let started = at(|e| matches!(e, Event::Started { .. }));
        let spawned = at(|e| matches!(e, Event::Spawned { .. }));
        let queued = at(|e| matches!(e, Event::Queued { .. }));
        let cancel = at(|e| matches!(e, Event::CancelRequested { .. }));
        let removed = at(|e| matches!(e, Event::Removed { .. }));
        assert!(started < spawned && spawned < queued, "{events:#?}");
        assert!(queued < cancel && queued < removed, "{events:#?}");
    }

    #[test]
    fn door_takes_the_spawned_step_when_the_ticket_is_issued() {
        let (door, store, _dir) = door();
        let ticket = door
            .submit(Item::text("u1", LaneKey::chat(1), "hi", Millis(0)))
            .unwrap()
            .ticket()
            .unwrap();
        let spawned = events(&store)
            .iter()
            .filter(|event| matches!(event, Event::Spawned { run } if *run == ticket.run))
            .count();
        assert_eq!(spawned, 1, "already journaled before any runner asked");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(door.spawned(&ticket))
            .expect("the runner's first ask is granted by the early step");
        assert!(door.order.lock().is_empty(), "the early answer is consumed");
        let again = runtime.block_on(door.spawned(&ticket));
        assert!(
            matches!(again, Err(NotSpawned::Refused(Error::AlreadySpawned(run))) if run == ticket.run),
            "{again:?}"
        );
    }

    /// One synced commit between an update's arrival and its agent's spawn:
    /// the polling loop's wait covers the run's start, so the runner's wait
    /// finds it already on disk.
    #[test]
    fn door_one_commit_covers_the_admission_and_the_start() {
        let (door, store, _dir) = door();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let before = store.commits();
        let ticket = door
            .submit(Item::text("u1", LaneKey::chat(1), "hi", Millis(0)))
            .unwrap()
            .ticket()
            .unwrap();
        runtime.block_on(door.durable()).unwrap();
        runtime.block_on(door.spawned(&ticket)).unwrap();
        assert_eq!(store.commits() - before, 1, "one synced commit");
    }

    #[test]
    fn door_spawned_refuses_a_run_stopped_after_its_ticket() {
        let (door, _store, _dir) = door();
        let lane = LaneKey::chat(1);
        let ticket = door
            .submit(Item::text("u1", lane, "hi", Millis(0)))
            .unwrap()
            .ticket()
            .unwrap();
        door.stop(lane, true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let spawned = runtime.block_on(door.spawned(&ticket));
        assert!(
            matches!(spawned, Err(NotSpawned::Refused(Error::Cancelled(run))) if run == ticket.run),
            "no agent for a run stopped before it spawned: {spawned:?}"
        );
    }
}
