//! What a runner reports about its run: spawn, output, session, retry, finish.
//! Every report is checked against run ownership: only the lane's current
//! run is heard.

use super::{FinishReport, Machine, Output};
use crate::clock::Millis;
use crate::error::Error;
use crate::event::Event;
use crate::lane::Run;
use crate::planted::mutated;
use crate::run::{CancelReason, Outcome, RunId, RunPhase};
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    pub(super) fn current_run(&mut self, run: RunId) -> Result<&mut Run<C>, Error> {
        let key = self.runs.get(&run).ok_or(Error::StaleRun(run))?;
        self.lanes
            .get_mut(key)
            .and_then(|lane| lane.current.as_mut())
            .filter(|current| current.id == run)
            .ok_or(Error::StaleRun(run))
    }

    /// The runner asks to spawn the agent process. Refused once the run was
    /// cancelled, so a run stopped before spawning never spawns.
    pub fn spawned(&mut self, run: RunId, now: Millis) -> Result<(), Error> {
        let heed_cancel = !mutated!(self.config, SpawnAfterCancel);
        let current = self.current_run(run)?;
        if current.cancel_reason.is_some() && heed_cancel {
            return Err(Error::Cancelled(run));
        }
        if current.phase == RunPhase::Running {
            return Err(Error::AlreadySpawned(run));
        }
        current.phase = RunPhase::Running;
        self.emit(now, Event::Spawned { run });
        Ok(())
    }

    /// A stalled or crashed run asks to try again; it must then ask
    /// `spawned` again. Returns the attempt number (1 for the first retry).
    pub fn retry(&mut self, run: RunId, now: Millis) -> Result<u32, Error> {
        let max = self.config.max_retries;
        let heed_cancel = !mutated!(self.config, RetryAfterCancel);
        let current = self.current_run(run)?;
        if current.cancel_reason.is_some() && heed_cancel {
            return Err(Error::Cancelled(run));
        }
        if current.attempt >= max {
            return Err(Error::RetryLimit(run, max));
        }
        current.attempt += 1;
        current.phase = RunPhase::Admitted;
        let attempt = current.attempt;
        self.emit(now, Event::Retried { run, attempt });
        Ok(attempt)
    }

    /// The agent reported its session id. Only the current run is heard, and
    /// not once `/new` has asked to forget the lane's sessions.
    pub fn record_agent_session(
        &mut self,
        run: RunId,
        session: String,
        now: Millis,
    ) -> Result<(), Error> {
        let heed_new = !mutated!(self.config, SessionAfterNew);
        let key = *self.runs.get(&run).ok_or(Error::StaleRun(run))?;
        let lane = self.lanes.get_mut(&key).ok_or(Error::StaleRun(run))?;
        let current = lane
            .current
            .as_ref()
            .filter(|c| c.id == run)
            .ok_or(Error::StaleRun(run))?;
        if heed_new
            && (current.cancel_reason == Some(CancelReason::NewSession)
                || lane.forget_sessions_on_finish)
        {
            return Err(Error::Cancelled(run));
        }
        let driver = current.driver;
        lane.sessions[driver.index()] = Some(session.clone());
        self.emit(
            now,
            Event::SessionRecorded {
                lane: key,
                driver,
                session,
            },
        );
        Ok(())
    }

    /// Output on its way to the user: accepted only while the run is in
    /// flight, so nothing can reopen a finished answer.
    pub fn output(&mut self, run: RunId, output: Output) -> Result<(), Error> {
        if mutated!(self.config, OutputFromAnyRun) && self.current_run(run).is_err() {
            return Ok(());
        }
        let current = self.current_run(run)?;
        if let Output::Tool(status) = output {
            current.tool = Some(status);
        }
        Ok(())
    }

    /// The run is over. Frees its lane and the capacity, and hands back what
    /// starts next across all lanes.
    pub fn finish(
        &mut self,
        run: RunId,
        outcome: Outcome,
        now: Millis,
    ) -> Result<FinishReport<C>, Error> {
        self.current_run(run)?;
        let key = self.runs.remove(&run).expect("checked above");
        self.preemptible.remove(&run);
        self.in_flight -= 1;
        let lane = self.lanes.get_mut(&key).expect("checked above");
        let finished = lane.current.take().expect("checked above");
        // A fire whose job was cancelled while it ran has nothing to go back to.
        let job_alive = finished.item.origin.cron_job().is_some_and(|job| {
            self.cron.get(job).and_then(|entry| entry.pending.as_ref()) == Some(&finished.item.id)
        });
        let preempted = finished.cancel_reason == Some(CancelReason::Preempt)
            && job_alive
            && !mutated!(self.config, PreemptedFireDropped);
        let outcome = match outcome {
            Outcome::Cancelled | Outcome::Preempted if preempted => Outcome::Preempted,
            Outcome::Preempted => Outcome::Cancelled,
            other => other,
        };
        let sessions_forgotten = std::mem::take(&mut lane.forget_sessions_on_finish);
        if sessions_forgotten && !mutated!(self.config, SessionsKeptAfterNew) {
            lane.sessions = [None, None];
        }
        self.emit(now, Event::Finished { run, outcome });
        let mut cron_ended = None;
        if outcome == Outcome::Preempted {
            let item = finished.item.id.clone();
            let at_back = mutated!(self.config, PreemptedRequeuedAtBack);
            let cron_queue = &mut self.lanes.get_mut(&key).expect("checked above").cron_queue;
            if at_back {
                cron_queue.push_back(finished.item);
            } else {
                cron_queue.push_front(finished.item);
            }
            self.queued += 1;
            self.emit(
                now,
                Event::Requeued {
                    run,
                    item,
                    lane: key,
                },
            );
        } else {
            self.dedupe.end(&finished.item.id);
            // A fire cut short by shutdown neither completed nor failed: its
            // job stays, as after a crash, and only the claim is released.
            let cut = outcome == Outcome::Cancelled
                && finished.cancel_reason == Some(CancelReason::Shutdown);
            if !cut {
                cron_ended = self.end_cron_fire(&finished.item, now);
            } else if let Some(job) = finished
                .item
                .origin
                .cron_job()
                .and_then(|job| self.cron.get_mut(job))
                && job.pending.as_ref() == Some(&finished.item.id)
            {
                job.pending = None;
            }
        }
        if sessions_forgotten {
            self.emit(now, Event::SessionForgotten { lane: key });
        }
        self.refresh_ready(key);
        let first = self
            .lanes
            .get(&key)
            .filter(|lane| lane.interrupts > 0 && !mutated!(self.config, InterruptNotFirst))
            .map(|_| key);
        let tickets = if mutated!(self.config, FinishStartsNothing) {
            Vec::new()
        } else {
            self.drain(first, now)
        };
        Ok(FinishReport {
            outcome,
            tickets,
            cron_ended,
            sessions_forgotten,
        })
    }
}
