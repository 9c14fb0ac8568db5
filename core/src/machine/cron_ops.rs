//! Cron arbitration: register, claim a due fire, cancel. The bot knows the
//! schedules; the core decides whether a fire may run.

use super::{CronCancelReport, CronClaim, Machine};
use crate::clock::Millis;
use crate::cron::{CronJob, CronKind, JobId};
use crate::error::Error;
use crate::event::{Event, RemovalReason};
use crate::item::{Item, ItemId, LaneKey, Origin};
use crate::planted::mutated;
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    pub fn cron_register(
        &mut self,
        job: JobId,
        lane: LaneKey,
        kind: CronKind,
        now: Millis,
    ) -> Result<(), Error> {
        if self.cron.contains_key(&job) {
            return Err(Error::JobExists(job.0));
        }
        self.cron.insert(
            job.clone(),
            CronJob {
                lane,
                kind,
                pending: None,
            },
        );
        self.emit(now, Event::CronRegistered { job, lane, kind });
        Ok(())
    }

    /// A job fell due at `fire_at`: claims the fire and submits it as an item
    /// of the job's lane. A job cancelled before this call never runs; a fire
    /// already claimed is refused as a duplicate; while an earlier fire is
    /// still pending this one is skipped.
    pub fn cron_claim(
        &mut self,
        job: &JobId,
        fire_at: Millis,
        prompt: String,
        silent: bool,
        now: Millis,
    ) -> Result<CronClaim<C>, Error> {
        let entry = self
            .cron
            .get(job)
            .ok_or_else(|| Error::UnknownJob(job.0.clone()))?;
        if entry.pending.is_some() && !mutated!(self.config, ClaimWhilePending) {
            return Ok(CronClaim::AlreadyPending);
        }
        let item = Item {
            id: ItemId::cron_fire(job, fire_at),
            lane: entry.lane,
            origin: Origin::Cron {
                job: job.clone(),
                silent,
            },
            prompt,
            attachments: Vec::new(),
            arrived_at: now,
        };
        // Checked first so that a refused fire leaves no claim behind; a
        // scheduled item is never refused for a full queue, so the submit
        // below cannot fail once this passes.
        self.admissible(&item)?;
        let id = item.id.clone();
        // Pending is set before the submit so that a fire starting at once
        // and the journal both see the claim first.
        self.cron.get_mut(job).expect("looked up above").pending = Some(id.clone());
        self.emit(
            now,
            Event::CronClaimed {
                job: job.clone(),
                item: id,
            },
        );
        self.submit(item, now).map(CronClaim::Admitted)
    }

    /// Cancels a job: it will never be claimed again, and a fire still
    /// queued is removed. A fire already running is reported, not killed.
    pub fn cron_cancel(&mut self, job: &JobId, now: Millis) -> Result<CronCancelReport, Error> {
        let entry = if mutated!(self.config, CancelKeepsJob) {
            self.cron.get(job).cloned()
        } else {
            self.cron.remove(job)
        }
        .ok_or_else(|| Error::UnknownJob(job.0.clone()))?;
        self.emit(now, Event::CronCancelled { job: job.clone() });
        let mut report = CronCancelReport {
            removed: None,
            running: None,
        };
        let Some(pending) = entry.pending else {
            return Ok(report);
        };
        let remove_queued = !mutated!(self.config, CronCancelKeepsQueuedFire);
        let Some(lane) = self.lanes.get_mut(&entry.lane) else {
            return Ok(report);
        };
        if let Some(index) = lane
            .cron_queue
            .iter()
            .position(|item| item.id == pending)
            .filter(|_| remove_queued)
        {
            lane.cron_queue.remove(index);
            self.queued -= 1;
            self.dedupe.end(&pending);
            self.emit(
                now,
                Event::Removed {
                    lane: entry.lane,
                    items: vec![pending.clone()],
                    reason: RemovalReason::CronCancelled,
                },
            );
            self.refresh_ready(entry.lane);
            report.removed = Some(pending);
        } else if let Some(run) = lane.current.as_ref().filter(|run| run.item.id == pending) {
            report.running = Some(run.id);
        }
        Ok(report)
    }

    pub fn cron_kind(&self, job: &JobId) -> Option<CronKind> {
        self.cron.get(job).map(|entry| entry.kind)
    }
}
