//! The real core behind the scenario seam, over any model family. Its
//! runners drive the core's own [`Lifecycle`], the one the bot's runner
//! drives: this file only performs the steps it answers, over the model's
//! primitives and a modelled agent (a flag that says whether its process is
//! alive).

use std::collections::{HashMap, HashSet};

use baton_core::lifecycle::{AgentEnd, Answer, Bug, Input, Step};
use baton_core::sync::{CancelSignal, Lock};
use baton_core::{
    Admission, Config, Core, CronClaim, Driver, Error, Item, ItemId, JobId, LaneKey, Lifecycle,
    Millis, Origin, Outcome, Preferences, RunId, RunPhase, RunView, TicketOf,
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
}

pub struct CoreSystem<F: Model> {
    pub core: Core<F>,
    lanes: Vec<String>,
    jobs: Vec<JobId>,
    job_lanes: Vec<usize>,
    runs: F::Mutex<Runs<F>>,
    /// A runner bug planted in every lifecycle (wrong variants only).
    bug: Option<Bug>,
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
        Self::with_bug(report, None)
    }

    /// The core driven by runners whose lifecycle carries `bug`.
    pub fn with_bug(report: &Report, bug: Option<Bug>) -> Self {
        let core = Core::<F>::new(
            Config {
                capacity: report.capacity,
                ..Config::default()
            },
            || Millis(0),
        );
        let jobs: Vec<JobId> = report.cron.iter().map(|j| JobId(j.name.clone())).collect();
        for (job, spec) in jobs.iter().zip(&report.cron) {
            core.cron_register(job.clone(), lane_key(spec.lane), spec.kind)
                .expect("jobs are registered once");
        }
        CoreSystem {
            core,
            lanes: report.lanes.clone(),
            jobs,
            job_lanes: report.cron.iter().map(|j| j.lane).collect(),
            bug,
            runs: F::Mutex::new(Runs {
                held: HashMap::new(),
                alive: HashSet::new(),
                run_lanes: HashMap::new(),
                cancels: HashMap::new(),
                item_lanes: HashMap::new(),
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
        reply.started.push(Started { run, lane });
        reply.text.push_str(&format!(" start {}", ticket.run));
        let life = match self.bug {
            Some(bug) => Lifecycle::with_bug(&ticket, bug),
            None => Lifecycle::new(&ticket),
        };
        let item = ticket.item.id.0.clone();
        self.runs(|runs| {
            runs.run_lanes.insert(run, lane);
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
        let cancel = self.runs(|r| r.cancels.get(&run).cloned());
        cancel.is_some_and(|c| c.is_cancelled())
    }

    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply {
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
