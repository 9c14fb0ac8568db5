//! Loading a journal replay into a fresh machine after a restart.

use super::Machine;
use crate::clock::Millis;
use crate::cron::{CronJob, CronKind};
use crate::event::Event;
use crate::journal::Recovered;
use crate::lane::Lane;
use crate::planted::mutated;
use crate::run::Ticket;
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    /// Loads what a journal replay recovered into a fresh machine and starts
    /// what capacity allows. Runs that were in flight are not restarted: the
    /// caller reports them as interrupted.
    pub fn restore(&mut self, recovered: Recovered, now: Millis) -> Vec<Ticket<C>> {
        let ended = if mutated!(self.config, RestoreForgetsEnded) {
            &[][..]
        } else {
            &recovered.ended[..]
        };
        for id in ended
            .iter()
            .chain(recovered.in_flight.values().map(|item| &item.id))
        {
            self.dedupe.admit(id.clone());
            self.dedupe.end(id);
        }
        for (key, saved) in recovered.lanes {
            let lane = self
                .lanes
                .entry(key)
                .or_insert_with(|| Lane::new(self.config.default_preferences.clone()));
            if let Some(preferences) = saved.preferences {
                lane.preferences = preferences;
            }
            lane.sessions = saved.sessions;
            for item in saved.user.iter().chain(saved.cron.iter()) {
                self.dedupe.admit(item.id.clone());
            }
            self.queued += saved.user.len() + saved.cron.len();
            lane.user_queue.extend(saved.user);
            lane.cron_queue.extend(saved.cron);
            self.refresh_ready(key);
        }
        for (job, saved) in recovered.cron {
            // A one-shot fire that was in flight when the process died ended
            // then, interrupted: it is reported, not rerun.
            let interrupted = saved.pending.as_ref().is_some_and(|pending| {
                recovered.in_flight.values().any(|item| &item.id == pending)
            });
            if interrupted
                && saved.kind == CronKind::OneShot
                && !mutated!(self.config, RestoreKeepsInterruptedOneShot)
            {
                self.emit(now, Event::CronEnded { job });
                continue;
            }
            let queued = saved.pending.as_ref().is_some_and(|pending| {
                self.lanes
                    .get(&saved.lane)
                    .is_some_and(|lane| lane.cron_queue.iter().any(|i| &i.id == pending))
            });
            let pending = if queued { saved.pending } else { None };
            self.cron.insert(
                job,
                CronJob {
                    lane: saved.lane,
                    kind: saved.kind,
                    pending,
                },
            );
        }
        self.next_seq = self.next_seq.max(recovered.next_seq);
        self.next_run = self.next_run.max(recovered.next_run);
        if mutated!(self.config, RestoreStartsNothing) {
            return Vec::new();
        }
        self.drain(None, now)
    }
}
