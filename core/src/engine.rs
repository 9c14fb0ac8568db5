//! [`Core`]: the state machine behind one lock, shareable across threads and
//! tasks, generic over the sync family so model checkers run this very code.

use crate::clock::Clock;
use crate::config::Config;
use crate::cron::{CronKind, JobId};
use crate::error::Error;
use crate::event::JournalEntry;
use crate::item::{Item, ItemId, LaneKey};
use crate::machine::{
    Admission, CronCancelReport, CronClaim, FinishReport, LaneSnapshot, Machine, NewSessionReport,
    Output, RunNowReport, ShutdownReport, Snapshot, StopReport,
};
use crate::prefs::{Driver, Preferences};
use crate::run::{Outcome, QuestionId, RunId};
use crate::sync::{Gauge, Lock, SyncFamily};

/// The thread-safe core. Every method is one atomic step of [`Machine`]
/// under one lock; none blocks on agent work, sleeps or does I/O.
pub struct Core<S: SyncFamily> {
    machine: S::Mutex<Machine<S::Cancel>>,
    clock: Box<dyn Clock>,
    in_flight: S::AtomicU64,
    queued: S::AtomicU64,
}

/// Ticket type of a core over family `S`.
pub type TicketOf<S> = crate::run::Ticket<<S as SyncFamily>::Cancel>;

impl<S: SyncFamily> Core<S> {
    pub fn new(config: Config, clock: impl Clock + 'static) -> Self {
        Core {
            machine: S::Mutex::new(Machine::new(config)),
            clock: Box::new(clock),
            in_flight: S::AtomicU64::new(0),
            queued: S::AtomicU64::new(0),
        }
    }

    /// One atomic step: reads the clock, runs `f` under the lock, and
    /// publishes the gauges before the lock is released.
    fn step<R>(&self, f: impl FnOnce(&mut Machine<S::Cancel>, crate::Millis) -> R) -> R {
        let now = self.clock.now();
        self.machine.with(|machine| {
            let result = f(machine, now);
            self.in_flight.store(machine.in_flight() as u64);
            self.queued.store(machine.queued() as u64);
            result
        })
    }

    pub fn submit(&self, item: Item) -> Result<Admission<S::Cancel>, Error> {
        self.step(|m, now| m.submit(item, now))
    }

    pub fn interrupt(&self, item: Item) -> Result<Admission<S::Cancel>, Error> {
        self.step(|m, now| m.interrupt(item, now))
    }

    pub fn retry_last(&self, lane: LaneKey, id: ItemId) -> Result<Admission<S::Cancel>, Error> {
        self.step(|m, now| m.retry_last(lane, id, now))
    }

    pub fn stop(&self, lane: LaneKey, clear_queue: bool) -> StopReport {
        self.step(|m, now| m.stop(lane, clear_queue, now))
    }

    pub fn stop_run(&self, run: RunId) -> Result<crate::RunView, Error> {
        self.step(|m, now| m.stop_run(run, now))
    }

    /// **Run now** on a queued message (see [`Machine::run_now`]).
    pub fn run_now(&self, lane: LaneKey, item: &ItemId) -> Result<RunNowReport, Error> {
        self.step(|m, now| m.run_now(lane, item, now))
    }

    /// **Cancel** on a queued message (see [`Machine::cancel_queued`]).
    pub fn cancel_queued(&self, lane: LaneKey, item: &ItemId) -> Result<Item, Error> {
        self.step(|m, now| m.cancel_queued(lane, item, now))
    }

    pub fn ask(&self, run: RunId, summary: String) -> Result<QuestionId, Error> {
        self.step(|m, now| m.ask(run, summary, now))
    }

    pub fn answer(&self, run: RunId, question: QuestionId) -> Result<(), Error> {
        self.step(|m, now| m.answer(run, question, now))
    }

    pub fn withdraw_question(&self, run: RunId, question: QuestionId) -> Result<(), Error> {
        self.step(|m, now| m.withdraw_question(run, question, now))
    }

    pub fn spawned(&self, run: RunId) -> Result<(), Error> {
        self.step(|m, now| m.spawned(run, now))
    }

    pub fn finish(&self, run: RunId, outcome: Outcome) -> Result<FinishReport<S::Cancel>, Error> {
        self.step(|m, now| m.finish(run, outcome, now))
    }

    pub fn retry(&self, run: RunId) -> Result<u32, Error> {
        self.step(|m, now| m.retry(run, now))
    }

    pub fn record_agent_session(&self, run: RunId, session: String) -> Result<(), Error> {
        self.step(|m, now| m.record_agent_session(run, session, now))
    }

    pub fn output(&self, run: RunId, output: Output) -> Result<(), Error> {
        self.step(|m, _| m.output(run, output))
    }

    pub fn set_preferences(&self, lane: LaneKey, preferences: Preferences) {
        self.step(|m, now| m.set_preferences(lane, preferences, now))
    }

    /// Changes preferences from their current value, atomically.
    pub fn update_preferences(
        &self,
        lane: LaneKey,
        f: impl FnOnce(&mut Preferences),
    ) -> Preferences {
        self.step(|m, now| {
            let mut preferences = m.preferences(lane);
            f(&mut preferences);
            m.set_preferences(lane, preferences.clone(), now);
            preferences
        })
    }

    pub fn preferences(&self, lane: LaneKey) -> Preferences {
        self.step(|m, _| m.preferences(lane))
    }

    pub fn session(&self, lane: LaneKey, driver: Driver) -> Option<String> {
        self.step(|m, _| m.session(lane, driver))
    }

    pub fn set_session(&self, lane: LaneKey, driver: Driver, session: Option<String>) {
        self.step(|m, now| m.set_session(lane, driver, session, now))
    }

    pub fn new_session(&self, lane: LaneKey) -> NewSessionReport {
        self.step(|m, now| m.new_session(lane, now))
    }

    pub fn cron_register(&self, job: JobId, lane: LaneKey, kind: CronKind) -> Result<(), Error> {
        self.step(|m, now| m.cron_register(job, lane, kind, now))
    }

    pub fn cron_claim(
        &self,
        job: &JobId,
        fire_at: crate::Millis,
        prompt: String,
        silent: bool,
    ) -> Result<CronClaim<S::Cancel>, Error> {
        self.step(|m, now| m.cron_claim(job, fire_at, prompt, silent, now))
    }

    pub fn cron_cancel(&self, job: &JobId) -> Result<CronCancelReport, Error> {
        self.step(|m, now| m.cron_cancel(job, now))
    }

    pub fn snapshot(&self) -> Snapshot {
        self.step(|m, now| m.snapshot(now))
    }

    pub fn lane_status(&self, lane: LaneKey) -> LaneSnapshot {
        self.step(|m, now| m.lane_status(lane, now))
    }

    pub fn shutdown(&self) -> ShutdownReport {
        self.step(|m, now| m.shutdown(now))
    }

    /// Loads a journal replay into this (fresh) core and hands back the
    /// tickets to start; see [`Machine::restore`].
    pub fn restore(&self, recovered: crate::journal::Recovered) -> Vec<TicketOf<S>> {
        self.step(|m, now| m.restore(recovered, now))
    }

    pub fn drain_journal(&self) -> Vec<JournalEntry> {
        self.step(|m, _| m.drain_journal())
    }

    /// Runs in flight, read without the lock (a gauge for health checks).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load()
    }

    /// Items queued across all lanes, read without the lock.
    pub fn queued(&self) -> u64 {
        self.queued.load()
    }

    /// Runs `f` on the machine under the lock, for checks that need to see
    /// several things at one instant (model tests, `/debug`).
    pub fn inspect<R>(&self, f: impl FnOnce(&Machine<S::Cancel>) -> R) -> R {
        self.machine.with(|machine| f(machine))
    }
}
