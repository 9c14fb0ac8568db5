//! Cron: a background task sleeps until the next due job (or a change) and
//! claims each due fire through the core, which decides whether it runs.

use std::sync::Arc;

use baton_core::{CronClaim, CronKind, Error, JobId, Millis};
use chrono::Utc;
use tracing::{info, warn};

use super::App;
use super::effects::To;
use crate::cron::schedule::{Schedule, ScheduleSpec};

/// Sleep at most this long, so a clock jump is noticed.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

pub fn job_id(id: i64) -> JobId {
    JobId(id.to_string())
}

/// Whether the core treats a job as one fire or many: the one place a
/// schedule's kind is read.
pub(super) fn cron_kind(schedule: &ScheduleSpec) -> CronKind {
    match schedule {
        ScheduleSpec::Once { .. } => CronKind::OneShot,
        _ => CronKind::Recurring,
    }
}

impl App {
    /// Registers every stored job with the core (those the journal already
    /// restored are left as they are).
    pub fn register_cron_jobs(&self) {
        let jobs = match self.store.cron_jobs() {
            Ok(jobs) => jobs,
            Err(error) => {
                warn!(%error, "cron: could not load jobs");
                return;
            }
        };
        for job in jobs {
            match self
                .door
                .cron_register(job_id(job.id), job.lane, cron_kind(&job.schedule))
            {
                Ok(()) | Err(Error::JobExists(_)) => {}
                Err(error) => warn!(job = job.id, %error, "cron: could not register"),
            }
        }
    }

    /// A one-shot job's run ended: it is gone from the core, so from the store too.
    pub(super) fn cron_job_ended(&self, job: &JobId) {
        let Ok(id) = job.0.parse::<i64>() else { return };
        // A failure is logged by the store.
        self.store.remove_cron_job(id);
    }

    /// Claims every due fire once.
    fn fire_due(self: &Arc<Self>) {
        let now = Utc::now();
        let due = match self.store.due_cron_jobs(now) {
            Ok(due) => due,
            Err(error) => {
                warn!(%error, "cron: could not read due jobs");
                return;
            }
        };
        for job in due {
            let Some(fire_at) = job.next_fire else {
                continue;
            };
            let claim = self.door.cron_claim(
                &job_id(job.id),
                Millis(fire_at.timestamp_millis().max(0) as u64),
                job.prompt.clone(),
                job.silent,
            );
            match claim {
                Ok(CronClaim::Admitted(admission)) => {
                    info!(job = job.id, %fire_at, "cron: fired");
                    let effects = self
                        .router()
                        .admitted(To::lane(job.lane), None, Ok(admission));
                    self.perform(effects);
                }
                Ok(CronClaim::AlreadyPending) => {
                    info!(job = job.id, "cron: previous fire still pending; skipped")
                }
                Err(error) => warn!(job = job.id, %error, "cron: fire refused"),
            }
            // A one-shot fires once; a recurring job moves to its next time
            // whatever the claim said, so it never piles up.
            let next = match Schedule::from_spec(&job.schedule) {
                Ok(schedule) if cron_kind(&job.schedule) == CronKind::Recurring => {
                    schedule.next_after(now)
                }
                Ok(_) => None,
                Err(error) => {
                    warn!(job = job.id, %error, "cron: stored schedule no longer parses; job paused");
                    None
                }
            };
            // A failure is logged by the store.
            self.store.set_next_fire(job.id, next);
        }
    }
}

/// Runs until the app stops.
pub async fn tick(app: Arc<App>) {
    loop {
        app.fire_due();
        let wait = match app.store.earliest_next_fire() {
            Ok(Some(next)) => (next - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = app.tasks.stopping.cancelled() => break,
            _ = app.tasks.cron_changed.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
