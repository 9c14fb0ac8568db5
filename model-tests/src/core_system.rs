//! The real core behind the scenario seam, over any model family. Its
//! runners drive the core's own [`Lifecycle`], the one the bot's runner
//! drives: this file only performs the steps it answers, over the model's
//! primitives and a modelled agent (a flag that says whether its process is
//! alive).

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use baton_core::lifecycle::{AgentEnd, Answer, Input, Step};
use baton_core::planted::Mutation;
use baton_core::sync::{CancelSignal, Lock};
use baton_core::{
    Admission, Config, Core, CronClaim, Driver, Error, Item, ItemId, JobId, LaneKey, Lifecycle,
    Millis, Origin, Outcome, Preferences, QuestionId, RunId, RunPhase, RunView, TicketOf,
};

use crate::family::Model;
use crate::observe::{CancelBy, Cx, End, Fact, Kind, Run};
use crate::report::{Report, Timer};
use crate::system::{Quiescence, Reply, RunnerReply, Started, System};
use crate::trace;

/// A run a runner holds: its lifecycle, kept after the run is over so a
/// late report still goes through it (and is refused by the core).
struct Held<F: Model> {
    life: Lifecycle<F::Cancel>,
    item: String,
}

/// Bookkeeping of the harness, not of the core: the lifecycle of every run
/// issued and which agent processes are alive.
struct Runs<F: Model> {
    held: HashMap<Run, Held<F>>,
    alive: HashSet<Run>,
    /// The lane of every run ever issued.
    run_lanes: HashMap<Run, usize>,
    /// The cancellation of every run ever issued, kept after it ends so a
    /// stop's effect can be checked even when the run finished meanwhile.
    cancels: HashMap<Run, F::Cancel>,
    /// The lane each item was submitted to, to tell where `/retry` copied from.
    item_lanes: HashMap<String, usize>,
    /// Runs of a process that restarted since: their agents are gone.
    dead: HashSet<Run>,
    /// How each run's item came in: a run cancelled for **Run now** is
    /// interrupted, or preempted if it is scheduled work.
    run_kinds: HashMap<Run, Kind>,
    /// Every question the core issued, by its label: the run that asked it
    /// and its id, which a tap names (as the bot's callback data does).
    questions: HashMap<String, (Run, QuestionId)>,
}

/// How many times one scenario may restart the process.
pub const MAX_RESTARTS: usize = 3;

/// The core of each process lifetime: a restart starts the next one from
/// the journal. Dereferences to the current core, so callers keep writing
/// `self.core.submit(..)`; the switch happens under the scenario's process
/// gate, between operations.
pub struct Generations<F: Model> {
    cores: Vec<OnceLock<Core<F>>>,
    current: AtomicUsize,
    /// The persisted journal: the last start-up's checkpoint and what
    /// was journaled since (bot/src/serve.rs:39-44).
    journal: std::sync::Mutex<Vec<baton_core::JournalEntry>>,
    /// Ids of items that ended in an earlier lifetime: the bot's inbox
    /// refuses their redeliveries (bot/src/store/inbox.rs), since the
    /// checkpoint drops them.
    ended: std::sync::Mutex<Vec<ItemId>>,
}

impl<F: Model> Generations<F> {
    fn new(first: Core<F>) -> Self {
        let cores: Vec<OnceLock<Core<F>>> = (0..=MAX_RESTARTS).map(|_| OnceLock::new()).collect();
        let _ = cores[0].set(first);
        Generations {
            cores,
            current: AtomicUsize::new(0),
            journal: std::sync::Mutex::new(Vec::new()),
            ended: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Start-up: the journal is read back and rewritten as its checkpoint;
    /// what ended so far is remembered for refusing redeliveries.
    fn recover(&self) -> baton_core::journal::Recovered {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal.extend(self.drain_journal());
        let mut recovered = baton_core::journal::replay(journal.iter());
        *journal = baton_core::journal::checkpoint(&recovered, Millis(0));
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        ended.extend(recovered.ended.iter().cloned());
        ended.extend(recovered.in_flight.values().map(|item| item.id.clone()));
        recovered.ended = ended.clone();
        recovered
    }

    /// Makes `next` the current core; `false` past [`MAX_RESTARTS`].
    fn advance(&self, next: Core<F>) -> bool {
        let at = self.current.load(Ordering::SeqCst) + 1;
        match self.cores.get(at) {
            Some(slot) if slot.set(next).is_ok() => {
                self.current.store(at, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

impl<F: Model> Deref for Generations<F> {
    type Target = Core<F>;
    fn deref(&self) -> &Core<F> {
        self.cores[self.current.load(Ordering::SeqCst)]
            .get()
            .expect("the current lifetime has a core")
    }
}

pub struct CoreSystem<F: Model> {
    pub core: Generations<F>,
    config: Config,
    lanes: Vec<String>,
    jobs: Vec<JobId>,
    job_lanes: Vec<usize>,
    runs: F::Mutex<Runs<F>>,
    /// A bug planted in the core and in every lifecycle (wrong variants
    /// only).
    mutation: Option<Mutation>,
}

pub fn lane_key(lane: usize) -> LaneKey {
    LaneKey::chat(lane as i64 + 1)
}

fn lane_index(key: LaneKey) -> usize {
    (key.chat - 1) as usize
}

fn item(lane: usize, id: &str, origin: Origin) -> Item {
    Item {
        id: ItemId(id.to_owned()),
        lane: lane_key(lane),
        origin,
        prompt: id.to_owned(),
        attachments: Vec::new(),
        arrived_at: Millis(0),
    }
}

fn kind_of(item: &Item) -> Kind {
    match item.origin {
        Origin::Cron { .. } => Kind::Cron,
        Origin::Recap => Kind::Copy,
        _ => Kind::User,
    }
}

fn named_run(view: &RunView) -> (RunId, bool) {
    (view.run, view.phase == RunPhase::Admitted)
}

fn end_of(outcome: Outcome) -> End {
    match outcome {
        Outcome::Completed => End::Completed,
        Outcome::Failed => End::Failed,
        Outcome::Cancelled => End::Cancelled,
        Outcome::Preempted => End::Preempted,
    }
}

impl<F: Model> CoreSystem<F> {
    pub fn new(report: &Report) -> Self {
        Self::planted(report, None)
    }

    /// The core, and the lifecycle its runners drive, with `mutation`
    /// planted.
    pub fn planted(report: &Report, mutation: Option<Mutation>) -> Self {
        let config = Config {
            capacity: report.capacity,
            max_queue: report.max_queue,
            mutation,
            ..Config::default()
        };
        let core = Core::<F>::new(config.clone(), || Millis(0));
        let jobs: Vec<JobId> = report.cron.iter().map(|j| JobId(j.name.clone())).collect();
        for (job, spec) in jobs.iter().zip(&report.cron) {
            core.cron_register(job.clone(), lane_key(spec.lane), spec.kind)
                .expect("jobs are registered once");
        }
        CoreSystem {
            core: Generations::new(core),
            config,
            lanes: report.lanes.clone(),
            jobs,
            job_lanes: report.cron.iter().map(|j| j.lane).collect(),
            mutation,
            runs: F::Mutex::new(Runs {
                held: HashMap::new(),
                alive: HashSet::new(),
                run_lanes: HashMap::new(),
                cancels: HashMap::new(),
                item_lanes: HashMap::new(),
                dead: HashSet::new(),
                run_kinds: HashMap::new(),
                questions: HashMap::new(),
            }),
        }
    }

    /// The harness's own table goes through the model's lock: tickets are
    /// handed between threads, as the bot hands them through channels, and
    /// the checkers must see that hand-off.
    fn runs<R>(&self, f: impl FnOnce(&mut Runs<F>) -> R) -> R {
        self.runs.with(f)
    }

    /// Records a ticket the core issued and hands it to the runners.
    pub fn issued(&self, cx: &Cx, ticket: TicketOf<F>, kind: Kind, reply: &mut Reply) {
        let run = ticket.run.0;
        let lane = lane_index(ticket.lane());
        cx.after(Fact::Admitted {
            run,
            item: ticket.item.id.0.clone(),
            lane,
            kind,
        });
        cx.after(Fact::Captured {
            run,
            lane,
            driver: ticket.driver,
            resume: ticket.resume.clone(),
        });
        reply.started.push(Started { run, lane });
        reply.text.push_str(&format!(" start {}", ticket.run));
        let life = Lifecycle::planted(&ticket, self.mutation);
        let item = ticket.item.id.0.clone();
        self.runs(|runs| {
            runs.run_lanes.insert(run, lane);
            runs.run_kinds.insert(run, kind);
            runs.cancels.insert(run, ticket.cancel.clone());
            runs.held.insert(run, Held { life, item });
        });
    }

    /// Records what an admission answered.
    pub fn admitted(
        &self,
        cx: &Cx,
        result: Result<Admission<F::Cancel>, Error>,
        lane: usize,
        item: &str,
        kind: Kind,
    ) -> Reply {
        let mut reply = Reply::default();
        match result {
            Ok(Admission::Started(ticket)) => {
                self.runs(|r| r.item_lanes.insert(item.to_owned(), lane));
                self.issued(cx, ticket, kind, &mut reply);
            }
            Ok(Admission::Queued {
                position,
                cancelled,
            }) => {
                self.runs(|r| r.item_lanes.insert(item.to_owned(), lane));
                cx.after(Fact::Queued {
                    item: item.to_owned(),
                    lane,
                    kind,
                });
                reply.text = format!("queued at {position}");
                if kind == Kind::Interrupt && cancelled.is_none() {
                    // A `!` must cancel the lane's run: naming none lets
                    // the checker see one that stayed in flight.
                    self.named(cx, CancelBy::Interrupt, lane, None);
                }
                if let Some(run) = cancelled {
                    let by = if kind == Kind::Interrupt {
                        CancelBy::Interrupt
                    } else {
                        CancelBy::Preempt
                    };
                    let admitted = self
                        .view(lane, run)
                        .is_some_and(|v| v.phase == RunPhase::Admitted);
                    self.named(cx, by, lane, Some((run, admitted)));
                    reply.text.push_str(&format!(", cancelled {run}"));
                }
            }
            Err(error) => reply.text = format!("refused: {error}"),
        }
        reply
    }

    fn view(&self, lane: usize, run: RunId) -> Option<RunView> {
        self.core
            .lane_status(lane_key(lane))
            .run
            .filter(|v| v.run == run)
    }

    /// Records whom a cancelling operation named (and whether that run had
    /// not spawned yet), and whether its signal is set now.
    fn named(&self, cx: &Cx, by: CancelBy, lane: usize, run: Option<(RunId, bool)>) {
        // The issuing actor may not have filed the ticket yet; then the
        // core's own record of the request stands for the signal.
        let cancel_set =
            run.is_some_and(
                |(run, _)| match self.runs(|r| r.cancels.get(&run.0).cloned()) {
                    Some(cancel) => cancel.is_cancelled(),
                    None => self.view(lane, run).is_none_or(|v| v.cancel.is_some()),
                },
            );
        cx.after(Fact::Named {
            by,
            lane,
            run: run.map(|(run, _)| run.0),
            admitted: run.is_some_and(|(_, admitted)| admitted),
            cancel_set,
        });
    }

    fn removed(&self, cx: &Cx, items: &[Item]) -> String {
        for item in items {
            cx.after(Fact::Removed {
                item: item.id.0.clone(),
            });
        }
        if items.is_empty() {
            String::new()
        } else {
            let ids: Vec<&str> = items.iter().map(|i| i.id.0.as_str()).collect();
            format!(", removed {}", ids.join(" "))
        }
    }

    /// The modelled agent's process is killed (if alive) and gone.
    pub fn kill(&self, cx: &Cx, run: Run) {
        let lane = self.lane_of(run);
        if self.runs(|r| r.alive.remove(&run)) {
            cx.point(Fact::Exited {
                run,
                lane: lane.expect("alive runs were issued"),
            });
        }
    }

    /// The harness starts the agent without asking the core (variants).
    pub fn mark_alive(&self, run: Run) {
        self.runs(|r| r.alive.insert(run));
    }

    pub fn job_id(&self, job: usize) -> JobId {
        self.jobs[job].clone()
    }

    /// Feeds `input` to the run's lifecycle and performs every step it
    /// answers until it waits for the agent or the run is over. Each
    /// lifecycle step is one step of the model lock, with the harness's
    /// own record of the agent updated in it.
    fn drive(&self, cx: &Cx, run: Run, input: Input<F::Cancel>) -> RunnerReply {
        let mut input = input;
        let mut text = Vec::new();
        loop {
            let handled = self.runs(|r| {
                let held = r.held.get_mut(&run)?;
                let step = held.life.handle(input);
                let item = held.item.clone();
                match step {
                    Step::Spawn { .. } => {
                        r.alive.insert(run);
                    }
                    Step::Reap => {
                        if !r.alive.remove(&run) {
                            return Some((step, item, None));
                        }
                    }
                    _ => return Some((step, item, None)),
                }
                Some((step, item, r.run_lanes.get(&run).copied()))
            });
            let Some((step, item, lane)) = handled else {
                return RunnerReply {
                    reply: Reply::text("holds no such run"),
                    over: true,
                };
            };
            match step {
                Step::Call(call) => {
                    let answer = call.apply(&self.core);
                    match &answer {
                        Answer::Retried(Ok(attempt)) => {
                            cx.after(Fact::RetryAccepted { run });
                            text.push(format!("retry {attempt}"));
                        }
                        Answer::Spawned(Err(error)) => text.push(format!("refused ({error})")),
                        _ => {}
                    }
                    input = Input::Answer(answer);
                }
                Step::Spawn { .. } => {
                    cx.point(Fact::Spawned {
                        run,
                        lane: lane.expect("runners hold issued runs"),
                    });
                    text.push("spawned".to_owned());
                    return RunnerReply {
                        reply: Reply::text(text.join(", ")),
                        over: false,
                    };
                }
                Step::Reap => {
                    if let Some(lane) = lane {
                        cx.point(Fact::Exited { run, lane });
                    }
                    input = Input::Exited;
                }
                Step::Wait => {
                    text.push("waits for its agent".to_owned());
                    return RunnerReply {
                        reply: Reply::text(text.join(", ")),
                        over: false,
                    };
                }
                Step::Show | Step::Refused(_) => {
                    unreachable!("only reports are heard or refused")
                }
                Step::Over(over) => {
                    let mut reply = Reply::default();
                    match over.report {
                        Ok(report) => {
                            let end = end_of(report.outcome);
                            cx.after(Fact::Finished {
                                run,
                                item: item.clone(),
                                end,
                            });
                            if end == End::Preempted {
                                cx.after(Fact::Requeued { item });
                            }
                            text.push(format!("{end:?}").to_lowercase());
                            reply.text = text.join(", ");
                            for next in report.tickets {
                                let kind = kind_of(&next.item);
                                self.issued(cx, next, kind, &mut reply);
                            }
                        }
                        Err(error) => {
                            text.push(format!("refused: {error}"));
                            reply.text = text.join(", ");
                        }
                    }
                    return RunnerReply { reply, over: true };
                }
            }
        }
    }

    /// An agent's report goes through its run's lifecycle to the core:
    /// whether the core heard it.
    fn report(&self, run: Run, input: Input<F::Cancel>) -> Result<(), String> {
        let step = self.runs(|r| r.held.get_mut(&run).map(|h| h.life.handle(input)));
        let Some(Step::Call(call)) = step else {
            return Err("no such run".to_owned());
        };
        let answer = Input::Answer(call.apply(&self.core));
        match self.runs(|r| r.held.get_mut(&run).map(|h| h.life.handle(answer))) {
            Some(Step::Show) => Ok(()),
            Some(Step::Refused(error)) => Err(error.to_string()),
            _ => unreachable!("a report is heard or refused"),
        }
    }

    pub fn lane_of(&self, run: Run) -> Option<usize> {
        self.runs(|r| r.run_lanes.get(&run).copied())
    }

    pub fn record_session(&self, cx: &Cx, run: Run, id: &str, accepted: bool) -> Reply {
        if accepted {
            cx.after(Fact::SessionAccepted {
                run,
                lane: self
                    .lane_of(run)
                    .expect("runs are issued before they report"),
                id: id.to_owned(),
            });
            Reply::text("accepted")
        } else {
            Reply::text("refused")
        }
    }
}

impl<F: Model> System for CoreSystem<F> {
    fn submit(&self, cx: &Cx, lane: usize, id: &str, origin: &Origin) -> Reply {
        let result = self.core.submit(item(lane, id, origin.clone()));
        self.admitted(cx, result, lane, id, Kind::User)
    }

    fn interrupt(&self, cx: &Cx, lane: usize, id: &str) -> Reply {
        let result = self.core.interrupt(item(lane, id, Origin::Text));
        self.admitted(cx, result, lane, id, Kind::Interrupt)
    }

    fn stop(&self, cx: &Cx, lane: usize, clear: bool) -> Reply {
        let report = self.core.stop(lane_key(lane), clear);
        self.named(
            cx,
            CancelBy::Stop,
            lane,
            report.cancelled.as_ref().map(named_run),
        );
        if clear {
            cx.after(Fact::Cleared { lane });
        }
        let mut text = match &report.cancelled {
            Some(view) => format!("stopped {}", view.run),
            None => "nothing to stop".to_owned(),
        };
        text.push_str(&self.removed(cx, &report.removed));
        Reply::text(text)
    }

    fn new_session(&self, cx: &Cx, lane: usize) -> Reply {
        let report = self.core.new_session(lane_key(lane));
        cx.after(Fact::NewSession { lane });
        self.named(
            cx,
            CancelBy::New,
            lane,
            report.cancelled.as_ref().map(named_run),
        );
        let mut text = match &report.cancelled {
            Some(view) => format!("new session, cancelled {}", view.run),
            None => "new session".to_owned(),
        };
        text.push_str(&self.removed(cx, &report.removed));
        Reply::text(text)
    }

    fn set_driver(&self, _cx: &Cx, lane: usize, driver: Driver) -> Reply {
        let prefs = self
            .core
            .update_preferences(lane_key(lane), |p: &mut Preferences| p.driver = driver);
        Reply::text(format!("driver {}", prefs.driver))
    }

    fn retry_last(&self, cx: &Cx, lane: usize, id: &str) -> Reply {
        let result = self.core.retry_last(lane_key(lane), ItemId(id.to_owned()));
        if let Ok(admission) = &result {
            let source = match admission {
                Admission::Started(ticket) => Some(ticket.item.prompt.clone()),
                Admission::Queued { .. } => {
                    let status = self.core.lane_status(lane_key(lane));
                    let at = status.queued.iter().position(|q| q.0 == id);
                    at.and_then(|at| status.previews.get(at).cloned())
                }
            };
            let source = source.and_then(|s| self.runs(|r| r.item_lanes.get(&s).copied()));
            cx.after(Fact::Resent { lane, source });
        }
        self.admitted(cx, result, lane, id, Kind::Copy)
    }

    fn recap(&self, cx: &Cx, lane: usize, id: &str) -> Reply {
        let result = self.core.submit(item(lane, id, Origin::Recap));
        self.admitted(cx, result, lane, id, Kind::Copy)
    }

    fn cron_tick(&self, cx: &Cx, jobs: &[usize], fire: u64) -> Reply {
        let mut reply = Reply::default();
        for &job in jobs {
            // The bot's cron loop walks its due list; each claim is one
            // atomic decision of the core, however stale the list.
            let cx = cx.sub();
            let id = ItemId::cron_fire(&self.jobs[job], Millis(fire));
            match self
                .core
                .cron_claim(&self.jobs[job], Millis(fire), id.0.clone(), false)
            {
                Ok(CronClaim::Admitted(admission)) => {
                    cx.after(Fact::CronFire {
                        job,
                        item: id.0.clone(),
                    });
                    let lane = self.job_lanes[job];
                    let r = self.admitted(&cx, Ok(admission), lane, &id.0, Kind::Cron);
                    reply.started.extend(r.started);
                    reply
                        .text
                        .push_str(&format!("{}: {}; ", self.jobs[job], r.text));
                }
                Ok(CronClaim::AlreadyPending) => reply
                    .text
                    .push_str(&format!("{}: already pending; ", self.jobs[job])),
                Err(error) => reply
                    .text
                    .push_str(&format!("{}: {error}; ", self.jobs[job])),
            }
        }
        reply
    }

    fn cron_cancel(&self, cx: &Cx, job: usize) -> Reply {
        match self.core.cron_cancel(&self.jobs[job]) {
            Ok(report) => {
                cx.after(Fact::CronCancelled { job });
                if let Some(item) = &report.removed {
                    cx.after(Fact::Removed {
                        item: item.0.clone(),
                    });
                }
                Reply::text(format!(
                    "cancelled{}{}",
                    report
                        .removed
                        .map(|i| format!(", removed {i}"))
                        .unwrap_or_default(),
                    report
                        .running
                        .map(|r| format!(", {r} runs on"))
                        .unwrap_or_default()
                ))
            }
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn timer(&self, _cx: &Cx, _timer: Timer) -> Reply {
        Reply::text("no such timer in the core")
    }

    fn snapshot(&self, cx: &Cx) -> Reply {
        let snapshot = self.core.snapshot();
        let gauge = self.core.in_flight() as usize;
        let mut problems = Vec::new();
        let running = snapshot.lanes.iter().filter(|l| l.run.is_some()).count();
        if running != snapshot.in_flight {
            problems.push(format!(
                "{running} lanes show a run but in_flight is {}",
                snapshot.in_flight
            ));
        }
        let queued: usize = snapshot.lanes.iter().map(|l| l.queued.len()).sum();
        if queued != snapshot.queued {
            problems.push(format!(
                "lanes list {queued} queued items but the total is {}",
                snapshot.queued
            ));
        }
        for lane in &snapshot.lanes {
            if lane.queued_user + lane.queued_cron != lane.queued.len() {
                problems.push(format!("lane {} counts do not add up", lane.lane));
            }
        }
        if snapshot.in_flight > snapshot.capacity || gauge > snapshot.capacity {
            problems.push(format!(
                "{} in flight (gauge {gauge}) over capacity {}",
                snapshot.in_flight, snapshot.capacity
            ));
        }
        let text = format!(
            "{} in flight, {} queued",
            snapshot.in_flight, snapshot.queued
        );
        cx.after(Fact::Snapshot { problems });
        let shown = snapshot
            .lanes
            .iter()
            .filter_map(|lane| lane.run.as_ref())
            .flat_map(|run| run.waiting.iter().map(|q| (run.run.0, q.clone())))
            .collect();
        cx.after(Fact::Waiting { shown });
        Reply::text(text)
    }

    fn spawn(&self, cx: &Cx, run: Run) -> RunnerReply {
        self.drive(cx, run, Input::Begin)
    }

    fn finish(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        let end = match end {
            End::Completed => AgentEnd::Completed,
            End::Failed => AgentEnd::Failed,
            End::Cancelled | End::Preempted => AgentEnd::Cancelled,
        };
        self.drive(cx, run, Input::Ended(end))
    }

    fn stall(&self, cx: &Cx, run: Run) -> RunnerReply {
        self.drive(cx, run, Input::Ended(AgentEnd::Stalled))
    }

    fn cancelled(&self, run: Run) -> bool {
        let (cancel, dead) = self.runs(|r| (r.cancels.get(&run).cloned(), r.dead.contains(&run)));
        dead || cancel.is_some_and(|c| c.is_cancelled())
    }

    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply {
        if let Some(gone) = self.gone(run) {
            return gone;
        }
        cx.point(Fact::Killed { run });
        self.drive(cx, run, Input::CancelSeen)
    }

    fn output(&self, cx: &Cx, run: Run) -> Reply {
        match self.report(run, Input::Output(baton_core::Output::Text)) {
            Ok(()) => {
                cx.after(Fact::OutputAccepted { run });
                Reply::text("accepted")
            }
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn session(&self, cx: &Cx, run: Run, id: &str) -> Reply {
        let accepted = self.report(run, Input::Session(id.to_owned())).is_ok();
        self.record_session(cx, run, id, accepted)
    }

    fn restart(&self, cx: &Cx) -> Reply {
        self.restart_from_journal(cx)
    }

    fn run_now(&self, cx: &Cx, lane: usize, id: &str) -> Reply {
        match self.core.run_now(lane_key(lane), &ItemId(id.to_owned())) {
            Ok(report) => {
                cx.after(Fact::Promoted {
                    item: id.to_owned(),
                    lane,
                });
                let cancelled = report.cancelled.map(|run| {
                    let admitted = self
                        .view(lane, run)
                        .is_some_and(|v| v.phase == RunPhase::Admitted);
                    (run, admitted)
                });
                let scheduled = cancelled.is_some_and(|(run, _)| {
                    self.runs(|r| r.run_kinds.get(&run.0).copied()) == Some(Kind::Cron)
                });
                let by = if scheduled {
                    CancelBy::Preempt
                } else {
                    CancelBy::Interrupt
                };
                self.named(cx, by, lane, cancelled);
                let mut text = format!("runs next, at {}", report.position);
                if let Some(run) = report.cancelled {
                    text.push_str(&format!(", cancelled {run}"));
                }
                Reply::text(text)
            }
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn cancel_queued(&self, cx: &Cx, lane: usize, id: &str) -> Reply {
        match self
            .core
            .cancel_queued(lane_key(lane), &ItemId(id.to_owned()))
        {
            Ok(item) => Reply::text(format!("cancelled{}", self.removed(cx, &[item]))),
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn ask(&self, cx: &Cx, run: Run, question: &str) -> Reply {
        match self.core.ask(RunId(run), question.to_owned()) {
            Ok(id) => {
                self.runs(|r| r.questions.insert(question.to_owned(), (run, id)));
                cx.after(Fact::Asked {
                    run,
                    question: question.to_owned(),
                });
                Reply::text(format!("asked {id}"))
            }
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn answer(&self, cx: &Cx, question: &str) -> Reply {
        let Some((run, id)) = self.runs(|r| r.questions.get(question).copied()) else {
            return Reply::text(format!("no question {question} shown yet"));
        };
        let result = self.core.answer(RunId(run), id);
        cx.after(Fact::Tapped {
            run,
            question: question.to_owned(),
            accepted: result.is_ok(),
        });
        match result {
            Ok(()) => Reply::text(format!("answered {id} of r{run}")),
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn withdraw(&self, cx: &Cx, run: Run, question: &str) -> Reply {
        let asked = self.runs(|r| r.questions.get(question).copied());
        let Some((_, id)) = asked.filter(|(asker, _)| *asker == run) else {
            return Reply::text(format!("r{run} asked no question {question}"));
        };
        let result = self.core.withdraw_question(RunId(run), id);
        cx.after(Fact::Withdrawn {
            run,
            question: question.to_owned(),
            accepted: result.is_ok(),
        });
        match result {
            Ok(()) => Reply::text(format!("withdrew {id}")),
            Err(error) => Reply::text(format!("refused: {error}")),
        }
    }

    fn shutdown(&self, cx: &Cx) -> Reply {
        self.shut_down(cx)
    }

    fn quiescence(&self) -> Quiescence {
        let snapshot = trace::quietly(|| self.core.snapshot());
        Quiescence {
            queued: snapshot.queued,
            in_flight: snapshot.in_flight,
        }
    }

    fn sessions(&self) -> Vec<(usize, String)> {
        trace::quietly(|| {
            let mut out = Vec::new();
            for lane in 0..self.lanes.len() {
                let status = self.core.lane_status(lane_key(lane));
                out.extend(status.claude_session.map(|s| (lane, s)));
                out.extend(status.codex_session.map(|s| (lane, s)));
            }
            out
        })
    }

    fn describe(&self) -> String {
        trace::quietly(|| describe_core(&self.core, &self.lanes))
    }
}

impl<F: Model> CoreSystem<F> {
    /// A run of an earlier lifetime: its runner lets go, nothing to report.
    fn gone(&self, run: Run) -> Option<RunnerReply> {
        self.runs(|r| r.dead.contains(&run)).then(|| RunnerReply {
            reply: Reply::text(format!("r{run} ended with the last exit")),
            over: true,
        })
    }

    /// The bot's start-up after an exit (bot/src/serve.rs:39-44,
    /// bot/src/app/journal.rs): the persisted journal is replayed into a
    /// fresh core and checkpointed; runs in flight at the
    /// exit are reported interrupted and never rerun; queued items start
    /// again as capacity allows; ids that ended stay refused.
    fn restart_from_journal(&self, cx: &Cx) -> Reply {
        let recovered = self.core.recover();
        let next = Core::<F>::new(self.config.clone(), || Millis(0));
        let interrupted: Vec<(RunId, Item)> = recovered
            .in_flight
            .iter()
            .map(|(run, item)| (*run, item.clone()))
            .collect();
        let queued = recovered.queued();
        let tickets = next.restore(recovered);
        if !self.core.advance(next) {
            return Reply::text(format!("refused: more than {MAX_RESTARTS} restarts"));
        }
        // Every agent of the old process is gone with it.
        let alive: Vec<Run> = self.runs(|r| {
            let old: Vec<Run> = r.held.keys().copied().collect();
            r.dead.extend(old);
            r.held.clear();
            r.alive.drain().collect()
        });
        for run in alive {
            let lane = self.lane_of(run).expect("alive runs were issued");
            cx.point(Fact::Exited { run, lane });
        }
        let mut reply = Reply::text(format!(
            "restarted: {} interrupted, {queued} restored",
            interrupted.len()
        ));
        for (run, item) in interrupted {
            self.runs(|r| r.dead.insert(run.0));
            // The exit failed the run; the bot reports it to its chat
            // (Reply::InterruptedByRestart). Nobody asked it to stop.
            cx.after(Fact::Finished {
                run: run.0,
                item: item.id.0.clone(),
                end: End::Failed,
            });
            reply.text.push_str(&format!(", {} interrupted", item.id));
        }
        for ticket in tickets {
            let kind = kind_of(&ticket.item);
            self.issued(cx, ticket, kind, &mut reply);
        }
        reply
    }

    /// The bot's shutdown (bot/src/app/shutdown.rs): admissions stop, runs
    /// in flight are cancelled for their runners to hand back, queued items
    /// are handed back and reported.
    fn shut_down(&self, cx: &Cx) -> Reply {
        let report = self.core.shutdown();
        for view in &report.cancelled {
            self.named(
                cx,
                CancelBy::Stop,
                lane_index(view.lane),
                Some(named_run(view)),
            );
        }
        let mut text = format!("shutting down, {} cancelled", report.cancelled.len());
        text.push_str(&self.removed(cx, &report.queued));
        Reply::text(text)
    }
}

pub fn describe_core<F: Model>(core: &Core<F>, lanes: &[String]) -> String {
    let mut parts = Vec::new();
    for (lane, name) in lanes.iter().enumerate() {
        let status = core.lane_status(lane_key(lane));
        let run = match &status.run {
            Some(v) => format!(
                "{} {}{}",
                v.run,
                match v.phase {
                    RunPhase::Admitted => "admitted",
                    RunPhase::Running => "running",
                },
                v.cancel
                    .map(|c| format!(" ({c:?} requested)").to_lowercase())
                    .unwrap_or_default()
            ),
            None => "idle".to_owned(),
        };
        let queued: Vec<&str> = status.queued.iter().map(|q| q.0.as_str()).collect();
        parts.push(format!("{name}: {run}, queue [{}]", queued.join(" ")));
    }
    parts.join("; ")
}
