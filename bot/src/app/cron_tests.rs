//! The cron ticker under paused tokio time: the real ticker, core and store,
//! with a stand-in for the app whose runs just take a set time. Virtual time
//! runs hours in milliseconds, and every fire is read off a log.

use std::sync::Arc;
use std::time::Duration;

use baton_core::{Admission, Error, LaneKey, Millis, Origin, Outcome};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cron_tick::{CronHost, job_id, register_jobs, tick};
use super::door::CoreDoor;
use super::router::item;
use crate::cron::schedule::Schedule;
use crate::cron::silent::NOTIFY_MARKER;
use crate::platform::{Core, RunCancel, Ticket};
use crate::store::{NewCronJob, Store};

const LANE: LaneKey = LaneKey {
    chat: 7,
    topic: None,
};
const MINUTE: Duration = Duration::from_secs(60);

/// What the stand-in saw, with the virtual minute it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Started { item: String, minute: u64 },
    Finished { item: String, outcome: Outcome },
    Queued { position: usize },
    Told(String),
}

struct Host {
    door: CoreDoor,
    store: Arc<Store>,
    /// Wall-clock time at `started`.
    base: DateTime<Utc>,
    started: tokio::time::Instant,
    grace: chrono::Duration,
    /// How long each run takes.
    run_for: Duration,
    stopping: CancellationToken,
    changed: Notify,
    runs: TaskTracker,
    log: Mutex<Vec<Seen>>,
    /// Each started run's origin and prompt.
    tickets: Mutex<Vec<(Origin, String)>>,
}

impl Host {
    fn new(dir: &std::path::Path, base: DateTime<Utc>, run_for: Duration) -> Arc<Host> {
        let store = Arc::new(Store::open_in(dir).unwrap());
        let core = Core::new(baton_core::Config::default(), super::now_millis);
        let host = Arc::new(Host {
            door: CoreDoor::new(core, Arc::clone(&store)),
            store,
            base,
            started: tokio::time::Instant::now(),
            grace: chrono::Duration::hours(24),
            run_for,
            stopping: CancellationToken::new(),
            changed: Notify::new(),
            runs: TaskTracker::new(),
            log: Mutex::new(Vec::new()),
            tickets: Mutex::new(Vec::new()),
        });
        register_jobs(&host.door, &host.store);
        host
    }

    fn minute(&self) -> u64 {
        self.started.elapsed().as_secs() / 60
    }

    fn add(
        &self,
        schedule: Schedule,
        prompt: &str,
        silent: bool,
        next_fire: Option<DateTime<Utc>>,
    ) -> i64 {
        let job = NewCronJob {
            lane: LANE,
            schedule: schedule.spec().clone(),
            prompt: prompt.into(),
            silent,
            next_fire,
            import_key: None,
        };
        let id = self.store.add_cron_job(&job).wait().unwrap().unwrap();
        let kind = super::cron_tick::cron_kind(schedule.spec());
        self.door.cron_register(job_id(id), LANE, kind).unwrap();
        self.changed.notify_one();
        id
    }

    /// What `/cron rm` does.
    fn cancel(&self, id: i64) -> baton_core::CronCancelReport {
        let report = self.door.cron_cancel(&job_id(id)).unwrap();
        self.store.remove_cron_job(id).wait().unwrap();
        self.changed.notify_one();
        report
    }

    fn user_message(self: &Arc<Self>, update_id: i64, text: &str) {
        let admission =
            self.door
                .submit(item(update_id, LANE, Origin::Text, text.into(), Vec::new()));
        self.admitted(LANE, admission);
    }

    fn start(self: &Arc<Self>, ticket: Ticket) {
        let host = Arc::clone(self);
        self.tickets
            .lock()
            .push((ticket.item.origin.clone(), ticket.item.prompt.clone()));
        self.log.lock().push(Seen::Started {
            item: ticket.item.id.0.clone(),
            minute: self.minute(),
        });
        self.runs.spawn(async move {
            host.door.spawned(&ticket).await.unwrap();
            let outcome = tokio::select! {
                _ = tokio::time::sleep(host.run_for) => Outcome::Completed,
                _ = ticket.cancel.token().cancelled() => Outcome::Cancelled,
            };
            let report = host.door.finish(ticket.run, outcome).unwrap();
            host.log.lock().push(Seen::Finished {
                item: ticket.item.id.0.clone(),
                outcome: report.outcome,
            });
            if let Some(job) = report.cron_ended {
                host.store.remove_cron_job(job.0.parse().unwrap());
            }
            for next in report.tickets {
                host.start(next);
            }
        });
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().clone()
    }

    /// The items started, in order.
    fn started_items(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                Seen::Started { item, .. } => Some(item),
                _ => None,
            })
            .collect()
    }

    /// Lets virtual time run for `span`, then stops the ticker and waits for the runs.
    async fn run_ticker_for(self: &Arc<Self>, span: Duration) {
        let ticker = tokio::spawn(tick(Arc::clone(self)));
        tokio::time::sleep(span).await;
        self.stopping.cancel();
        ticker.await.unwrap();
        self.runs.close();
        self.runs.wait().await;
    }
}

impl CronHost for Host {
    fn door(&self) -> &CoreDoor {
        &self.door
    }
    fn store(&self) -> &Store {
        &self.store
    }
    fn now(&self) -> DateTime<Utc> {
        self.base + chrono::Duration::from_std(self.started.elapsed()).unwrap()
    }
    fn grace(&self) -> chrono::Duration {
        self.grace
    }
    fn tz(&self) -> chrono_tz::Tz {
        chrono_tz::Tz::UTC
    }
    fn admitted(self: &Arc<Self>, _lane: LaneKey, admission: Result<Admission<RunCancel>, Error>) {
        match admission.unwrap() {
            Admission::Started(ticket) => self.start(ticket),
            Admission::Queued { position, .. } => self.log.lock().push(Seen::Queued { position }),
        }
    }
    fn tell(self: &Arc<Self>, _lane: LaneKey, html: String) {
        self.log.lock().push(Seen::Told(html));
    }
    fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }
    fn changed(&self) -> &Notify {
        &self.changed
    }
}

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn fire_item(id: i64, at: DateTime<Utc>) -> String {
    baton_core::ItemId::cron_fire(&job_id(id), Millis(at.timestamp_millis() as u64)).0
}

#[tokio::test(start_paused = true)]
async fn a_due_one_shot_fires_once_and_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(dir.path(), base(), MINUTE);
    let at = base() + chrono::Duration::minutes(5);
    let id = host.add(Schedule::once(at), "nightly check", false, Some(at));
    host.run_ticker_for(60 * MINUTE).await;
    assert_eq!(host.started_items(), [fire_item(id, at)]);
    assert!(
        matches!(host.seen()[0], Seen::Started { minute: 5, .. }),
        "{:?}",
        host.seen()
    );
    assert_eq!(host.store.cron_jobs().unwrap(), []);
}

#[tokio::test(start_paused = true)]
async fn an_interval_fires_on_schedule_and_never_piles_up_behind_a_long_run() {
    let dir = tempfile::tempdir().unwrap();
    // Every 10 minutes, each run taking 35: the fires due meanwhile are skipped.
    let host = Host::new(dir.path(), base(), 35 * MINUTE);
    let schedule = Schedule::every("10m", base()).unwrap();
    let first = schedule.next_after(base());
    host.add(schedule, "poll", false, first);
    host.run_ticker_for(120 * MINUTE).await;
    let starts: Vec<u64> = host
        .seen()
        .iter()
        .filter_map(|seen| match seen {
            Seen::Started { minute, .. } => Some(*minute),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [10, 50, 90], "{:?}", host.seen());
    // Never two at once: each start follows the previous finish.
    let mut running = 0;
    for seen in host.seen() {
        match seen {
            Seen::Started { .. } => running += 1,
            Seen::Finished { .. } => running -= 1,
            _ => {}
        }
        assert!(running <= 1, "{:?}", host.seen());
    }
    assert!(!host.seen().iter().any(|s| matches!(s, Seen::Queued { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_job_cancelled_before_its_claim_or_while_its_fire_waits_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(dir.path(), base(), 30 * MINUTE);
    let at = base() + chrono::Duration::minutes(5);
    let early = host.add(Schedule::once(at), "cancelled early", false, Some(at));
    let late = host.add(
        Schedule::once(at),
        "cancelled while queued",
        false,
        Some(at),
    );
    // The lane is busy when both come due, so a claimed fire waits in its queue.
    host.user_message(1, "long user work");
    host.cancel(early);
    let ticker = tokio::spawn(tick(Arc::clone(&host)));
    tokio::time::sleep(6 * MINUTE).await;
    assert!(
        host.seen().contains(&Seen::Queued { position: 1 }),
        "the later job was claimed and queued: {:?}",
        host.seen()
    );
    let report = host.cancel(late);
    assert!(report.removed.is_some(), "its waiting fire goes with it");
    tokio::time::sleep(60 * MINUTE).await;
    host.stopping.cancel();
    ticker.await.unwrap();
    host.runs.close();
    host.runs.wait().await;
    assert_eq!(host.started_items(), ["u1"], "{:?}", host.seen());
}

#[tokio::test(start_paused = true)]
async fn user_work_preempts_a_fire_which_is_requeued_and_runs_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(dir.path(), base(), 20 * MINUTE);
    let at = base() + chrono::Duration::minutes(1);
    let id = host.add(Schedule::once(at), "scheduled", false, Some(at));
    let ticker = tokio::spawn(tick(Arc::clone(&host)));
    tokio::time::sleep(3 * MINUTE).await;
    host.user_message(2, "user first");
    tokio::time::sleep(120 * MINUTE).await;
    host.stopping.cancel();
    ticker.await.unwrap();
    host.runs.close();
    host.runs.wait().await;
    let fire = fire_item(id, at);
    assert_eq!(
        host.started_items(),
        [fire.clone(), "u2".into(), fire.clone()]
    );
    let outcomes: Vec<(String, Outcome)> = host
        .seen()
        .into_iter()
        .filter_map(|seen| match seen {
            Seen::Finished { item, outcome } => Some((item, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (fire.clone(), Outcome::Preempted),
            ("u2".into(), Outcome::Completed),
            (fire, Outcome::Completed),
        ]
    );
    assert_eq!(
        host.store.cron_jobs().unwrap(),
        [],
        "the one-shot ran, then went"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_a_missed_recurring_job_fires_once_and_a_stale_one_shot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let every = Schedule::every("10m", base()).unwrap();
    let first = every.next_after(base()).unwrap();
    let stale_at = base() + chrono::Duration::hours(2);
    let recent_at = base() + chrono::Duration::hours(40);
    let (recurring, stale, recent);
    {
        let host = Host::new(dir.path(), base(), MINUTE);
        recurring = host.add(every, "poll", false, Some(first));
        stale = host.add(
            Schedule::once(stale_at),
            "rotate the keys",
            false,
            Some(stale_at),
        );
        recent = host.add(
            Schedule::once(recent_at),
            "weekly report",
            false,
            Some(recent_at),
        );
    }
    // Back 50 hours later: the interval missed 300 fires, one one-shot is 48 hours
    // late (past the 24-hour grace), the other 10 hours late.
    let back = base() + chrono::Duration::hours(50);
    let host = Host::new(dir.path(), back, MINUTE);
    host.run_ticker_for(5 * MINUTE).await;
    assert_eq!(
        host.started_items(),
        [fire_item(recurring, first), fire_item(recent, recent_at)],
        "{:?}",
        host.seen()
    );
    let told: Vec<String> = host
        .seen()
        .into_iter()
        .filter_map(|seen| match seen {
            Seen::Told(html) => Some(html),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains(&format!(
            "Job <code>{stale}</code> was due at 2026-12-01 10:00 UTC"
        )),
        "{}",
        told[0]
    );
    assert!(told[0].contains("rotate the keys"), "{}", told[0]);
    let jobs = host.store.cron_jobs().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].id, recurring);
    assert_eq!(
        jobs[0].next_fire,
        Some(back + chrono::Duration::minutes(10)),
        "the next fire is on the grid after now, not a catch-up"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_job_is_claimed_as_silent_and_its_agent_is_told_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(dir.path(), base(), MINUTE);
    let at = base() + chrono::Duration::minutes(1);
    host.add(Schedule::once(at), "check CI", true, Some(at));
    let loud_at = base() + chrono::Duration::minutes(3);
    host.add(Schedule::once(loud_at), "say hi", false, Some(loud_at));
    host.run_ticker_for(10 * MINUTE).await;
    let tickets = host.tickets.lock().clone();
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let (origin, prompt) = &tickets[0];
    assert!(
        matches!(origin, Origin::Cron { silent: true, .. }),
        "{origin:?}"
    );
    assert!(
        prompt.starts_with("check CI\n\n") && prompt.contains(NOTIFY_MARKER),
        "{prompt}"
    );
    let (origin, prompt) = &tickets[1];
    assert!(
        matches!(origin, Origin::Cron { silent: false, .. }),
        "{origin:?}"
    );
    assert_eq!(prompt, "say hi");
}
