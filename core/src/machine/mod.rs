//! The pure state machine behind [`crate::Core`]: every decision of the core,
//! with no lock, no clock and no I/O. Each method is one atomic operation;
//! time comes in as an argument and effects go out as return values and
//! journal entries.

mod ask;
mod control;
mod cron_ops;
mod reports;
mod restore;
mod run_ops;
mod steer;
mod submit;
mod view;

use std::collections::BTreeSet;

use crate::hash::FastMap;

pub use reports::{
    Admission, CronCancelReport, CronClaim, FinishReport, NewSessionReport, Output, ShutdownReport,
    StopReport,
};
pub use steer::RunNowReport;
pub use view::{LaneSnapshot, Snapshot};

use crate::clock::Millis;
use crate::config::Config;
use crate::cron::{CronJob, CronKind, JobId};
use crate::dedupe::Dedupe;
use crate::event::{Event, JournalEntry};
use crate::item::{Item, LaneKey};
use crate::lane::{Lane, Run};
use crate::planted::mutated;
use crate::ready::ReadyRings;
use crate::run::{CancelReason, RunId, RunPhase, Ticket};
use crate::sync::CancelSignal;

/// All lanes, runs and cron jobs, and the drain that connects them.
#[derive(Debug)]
pub struct Machine<C> {
    config: Config,
    lanes: FastMap<LaneKey, Lane<C>>,
    /// In-flight runs and their lanes.
    runs: FastMap<RunId, LaneKey>,
    /// In-flight scheduled runs not yet asked to stop: preemption candidates.
    preemptible: BTreeSet<RunId>,
    ready: ReadyRings,
    dedupe: Dedupe,
    cron: FastMap<JobId, CronJob>,
    next_run: u64,
    next_question: u64,
    in_flight: usize,
    queued: usize,
    shutting_down: bool,
    journal: Vec<JournalEntry>,
    next_seq: u64,
}

impl<C: CancelSignal> Machine<C> {
    pub fn new(config: Config) -> Self {
        let capacity = config.capacity.max(1);
        Machine {
            dedupe: Dedupe::new(config.dedupe_window),
            config: Config { capacity, ..config },
            lanes: FastMap::default(),
            runs: FastMap::default(),
            preemptible: BTreeSet::new(),
            ready: ReadyRings::default(),
            cron: FastMap::default(),
            next_run: 1,
            next_question: 1,
            in_flight: 0,
            queued: 0,
            shutting_down: false,
            journal: Vec::new(),
            next_seq: 0,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Takes the journal entries recorded since the last call, in order.
    pub fn drain_journal(&mut self) -> Vec<JournalEntry> {
        std::mem::take(&mut self.journal)
    }

    fn emit(&mut self, at: Millis, event: Event) {
        if self.config.journal {
            self.journal.push(JournalEntry {
                seq: self.next_seq,
                at,
                event,
            });
            self.next_seq += 1;
        }
    }

    fn lane_mut(&mut self, key: LaneKey) -> &mut Lane<C> {
        let defaults = &self.config.default_preferences;
        self.lanes
            .entry(key)
            .or_insert_with(|| Lane::new(defaults.clone()))
    }

    fn has_capacity(&self) -> bool {
        self.in_flight < self.config.capacity
    }

    /// Keeps the lane's ready-ring membership in step with its state.
    fn refresh_ready(&mut self, key: LaneKey) {
        let Some(lane) = self.lanes.get_mut(&key) else {
            return;
        };
        match lane.ready_kind() {
            Some(kind) if lane.ready.map(|(k, _)| k) != Some(kind) => {
                lane.ready = Some(self.ready.push(key, kind));
            }
            Some(_) => {}
            None => lane.ready = None,
        }
    }

    /// Issues a ticket for `item` in lane `key`, which must be idle.
    fn start_item(&mut self, key: LaneKey, item: Item, now: Millis) -> Ticket<C> {
        let id = RunId(self.next_run);
        self.next_run += 1;
        let cancel = C::new();
        let lane = self
            .lanes
            .get_mut(&key)
            .expect("lane exists when an item starts");
        debug_assert!(lane.current.is_none(), "a lane holds at most one run");
        let prefs = lane.preferences.clone();
        let resume = lane.session(prefs.driver).cloned();
        if !item.is_scheduled() {
            lane.last_item = Some(item.clone());
        }
        lane.ready = None;
        lane.current = Some(Run {
            id,
            item: item.clone(),
            driver: prefs.driver,
            model: prefs.model.clone(),
            phase: RunPhase::Admitted,
            attempt: 0,
            admitted_at: now,
            tool: None,
            questions: Vec::new(),
            cancel_reason: None,
            cancel: cancel.clone(),
        });
        self.runs.insert(id, key);
        if item.is_scheduled() {
            self.preemptible.insert(id);
        }
        self.in_flight += 1;
        self.emit(
            now,
            Event::Started {
                run: id,
                item: item.id.clone(),
                lane: key,
                driver: prefs.driver,
                model: prefs.model.clone(),
                effort: prefs.effort.clone(),
                resume: resume.clone(),
            },
        );
        Ticket {
            run: id,
            item,
            driver: prefs.driver,
            model: prefs.model,
            effort: prefs.effort,
            mode: prefs.mode,
            resume,
            cancel,
        }
    }

    fn start_next(&mut self, key: LaneKey, now: Millis) -> Option<Ticket<C>> {
        let pop_newest = mutated!(self.config, PopNewestAtDepth);
        let lane = self.lanes.get_mut(&key)?;
        let item = if pop_newest && lane.user_queue.len() >= 3 {
            lane.user_queue.pop_back()
        } else {
            lane.pop_next()
        }?;
        self.queued -= 1;
        Some(self.start_item(key, item, now))
    }

    /// The global drain: fills free capacity from every lane, round robin,
    /// user work before scheduled work. `first` (a lane whose interrupt
    /// waits for the capacity its cancelled run just freed) goes before all.
    fn drain(&mut self, first: Option<LaneKey>, now: Millis) -> Vec<Ticket<C>> {
        let mut tickets = Vec::new();
        if self.shutting_down {
            return tickets;
        }
        if let Some(key) = first
            && self.has_capacity()
            && self
                .lanes
                .get(&key)
                .is_some_and(|lane| lane.ready_kind().is_some())
        {
            tickets.extend(self.start_next(key, now));
        }
        let (before, after) = if mutated!(self.config, DrainCronFirst) {
            (crate::QueueKind::Cron, crate::QueueKind::User)
        } else {
            (crate::QueueKind::User, crate::QueueKind::Cron)
        };
        while self.has_capacity() {
            let lanes = &self.lanes;
            let is_current = |key: LaneKey, mark| {
                lanes.get(&key).is_some_and(|lane| {
                    lane.ready == Some(mark) && lane.ready_kind() == Some(mark.0)
                })
            };
            let Some(key) = self
                .ready
                .pop(before, is_current)
                .or_else(|| self.ready.pop(after, is_current))
            else {
                break;
            };
            tickets.extend(self.start_next(key, now));
        }
        tickets
    }

    /// Asks the lane's run to stop. A later, stronger reason replaces a
    /// preemption (a user's stop means the scheduled item must not come back).
    fn cancel_current(&mut self, key: LaneKey, reason: CancelReason, now: Millis) -> Option<RunId> {
        let stop_outranks = !mutated!(self.config, StopKeepsPreemption);
        let run = self.lanes.get_mut(&key)?.current.as_mut()?;
        let id = run.id;
        let replace = match run.cancel_reason {
            None => true,
            Some(CancelReason::Preempt) => {
                stop_outranks && matches!(reason, CancelReason::Stop | CancelReason::NewSession)
            }
            Some(_) => false,
        };
        if replace {
            run.cancel_reason = Some(reason);
            run.cancel.cancel();
            self.preemptible.remove(&id);
            self.emit(now, Event::CancelRequested { run: id, reason });
        }
        Some(id)
    }

    /// Bookkeeping when a scheduled item ends for good (not requeued):
    /// frees its job for the next fire, and retires a one-shot job.
    fn end_cron_fire(&mut self, item: &Item, now: Millis) -> Option<JobId> {
        let job_id = item.origin.cron_job()?;
        let job = self.cron.get_mut(job_id)?;
        if job.pending.as_ref() != Some(&item.id) {
            return None;
        }
        job.pending = None;
        if job.kind != CronKind::OneShot {
            return None;
        }
        let job_id = job_id.clone();
        self.cron.remove(&job_id);
        self.emit(
            now,
            Event::CronEnded {
                job: job_id.clone(),
            },
        );
        Some(job_id)
    }

    /// Ends queued items that leave without running.
    fn retire_items(&mut self, items: &[Item], now: Millis) {
        for item in items {
            self.dedupe.end(&item.id);
            self.end_cron_fire(item, now);
        }
    }
}

#[cfg(test)]
mod tests;
