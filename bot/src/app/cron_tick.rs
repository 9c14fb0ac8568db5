//! Cron: a background task sleeps until the next due job (or a change) and
//! claims each due fire through the core, which decides whether it runs.
//! A fire missed while the bot was down is taken once at start-up, however
//! many were missed; a one-shot overdue by more than the grace is reported in
//! its chat instead of run.

use std::sync::Arc;

use baton_core::{Admission, CronClaim, CronKind, Error, JobId, LaneKey, Millis};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::App;
use super::door::CoreDoor;
use super::effects::To;
use super::replies::Reply;
use crate::cron::schedule::{Schedule, ScheduleSpec, local_time};
use crate::cron::silent;
use crate::platform::RunCancel;
use crate::store::{CronJob, Store};
use crate::telegram::render::escape_text;

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
        ScheduleSpec::Cron { .. } | ScheduleSpec::Every { .. } => CronKind::Recurring,
    }
}

/// What the ticker needs of the app: the app itself, or a test's stand-in.
pub(super) trait CronHost: Send + Sync + 'static {
    fn door(&self) -> &CoreDoor;
    fn store(&self) -> &Store;
    fn now(&self) -> DateTime<Utc>;
    /// A one-shot overdue by more than this is reported, not run.
    fn grace(&self) -> chrono::Duration;
    /// The zone times are shown in.
    fn tz(&self) -> chrono_tz::Tz;
    /// The core's answer to a claimed fire: a run to start, or a queue position.
    fn admitted(self: &Arc<Self>, lane: LaneKey, admission: Result<Admission<RunCancel>, Error>);
    /// Tells a lane, outside any run.
    fn tell(self: &Arc<Self>, lane: LaneKey, html: String);
    fn stopping(&self) -> &CancellationToken;
    fn changed(&self) -> &Notify;
}

impl CronHost for App {
    fn door(&self) -> &CoreDoor {
        &self.door
    }

    fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn grace(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.scope.config.cron_grace).unwrap_or(chrono::Duration::MAX)
    }

    fn tz(&self) -> chrono_tz::Tz {
        self.scope.config.tz
    }

    fn admitted(self: &Arc<Self>, lane: LaneKey, admission: Result<Admission<RunCancel>, Error>) {
        let effects = self.router().admitted(To::lane(lane), None, admission);
        self.perform(effects);
    }

    fn tell(self: &Arc<Self>, lane: LaneKey, html: String) {
        self.reply(To::lane(lane), Reply::Html(html));
    }

    fn stopping(&self) -> &CancellationToken {
        &self.tasks.stopping
    }

    fn changed(&self) -> &Notify {
        &self.tasks.cron_changed
    }
}

impl App {
    /// Registers every stored job with the core (those the journal already
    /// restored are left as they are).
    pub fn register_cron_jobs(&self) {
        register_jobs(&self.door, &self.store);
    }

    /// A one-shot job's run ended: it is gone from the core, so from the store too.
    pub(super) fn cron_job_ended(&self, job: &JobId) {
        let Ok(id) = job.0.parse::<i64>() else { return };
        // A failure is logged by the store.
        self.store.remove_cron_job(id);
    }
}

pub(super) fn register_jobs(door: &CoreDoor, store: &Store) {
    let jobs = match store.cron_jobs() {
        Ok(jobs) => jobs,
        Err(error) => {
            warn!(%error, "cron: could not load jobs");
            return;
        }
    };
    for job in jobs {
        match door.cron_register(job_id(job.id), job.lane, cron_kind(&job.schedule)) {
            Ok(()) | Err(Error::JobExists(_)) => {}
            Err(error) => warn!(job = job.id, %error, "cron: could not register"),
        }
    }
}

/// Claims every due fire once.
fn fire_due<H: CronHost>(host: &Arc<H>) {
    let now = host.now();
    let due = match host.store().due_cron_jobs(now) {
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
        let recurring = cron_kind(&job.schedule) == CronKind::Recurring;
        if !recurring && now - fire_at > host.grace() {
            report_stale(host, &job, fire_at);
            continue;
        }
        let prompt = if job.silent {
            silent::prompt(&job.prompt)
        } else {
            job.prompt.clone()
        };
        let claim = host.door().cron_claim(
            &job_id(job.id),
            Millis(fire_at.timestamp_millis().max(0) as u64),
            prompt,
            job.silent,
        );
        match claim {
            Ok(CronClaim::Admitted(admission)) => {
                info!(job = job.id, %fire_at, "cron: fired");
                host.admitted(job.lane, Ok(admission));
            }
            Ok(CronClaim::AlreadyPending) => {
                info!(job = job.id, "cron: previous fire still pending; skipped")
            }
            Err(error) => warn!(job = job.id, %error, "cron: fire refused"),
        }
        // A one-shot fires once; a recurring job moves to its next time after
        // now whatever the claim said, so it never piles up and a fire missed
        // while the bot was down is taken once, not once per missed time.
        let next = match Schedule::from_spec(&job.schedule) {
            Ok(schedule) if recurring => schedule.next_after(now),
            Ok(_) => None,
            Err(error) => {
                warn!(job = job.id, %error, "cron: stored schedule no longer parses; job paused");
                None
            }
        };
        // A failure is logged by the store.
        host.store().set_next_fire(job.id, next);
    }
}

/// A one-shot that came due long ago (the bot was down): running it now
/// could do the wrong thing at the wrong time, so its chat is told instead.
fn report_stale<H: CronHost>(host: &Arc<H>, job: &CronJob, due: DateTime<Utc>) {
    warn!(job = job.id, %due, "cron: one-shot missed by more than the grace; not run");
    if let Err(error) = host.door().cron_cancel(&job_id(job.id)) {
        warn!(job = job.id, %error, "cron: could not cancel a stale one-shot");
    }
    // A failure is logged by the store.
    host.store().remove_cron_job(job.id);
    host.tell(
        job.lane,
        format!(
            "⏰ Job <code>{}</code> was due at {} while Baton was not running, too long ago to run now; it was removed: {}",
            job.id,
            local_time(due, host.tz()),
            escape_text(&job.prompt.chars().take(80).collect::<String>())
        ),
    );
}

/// The app's ticker: runs until the app stops.
pub async fn run(app: Arc<App>) {
    tick(app).await
}

/// Runs until the host stops.
pub(super) async fn tick<H: CronHost>(host: Arc<H>) {
    loop {
        fire_due(&host);
        let wait = match host.store().earliest_next_fire() {
            Ok(Some(next)) => (next - host.now())
                .to_std()
                .unwrap_or_default()
                .min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = host.stopping().cancelled() => break,
            _ = host.changed().notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
