//! A model of the original TypeScript bot ("legacy"), faithful to the
//! design the audit describes, so its race reports can be reproduced.
//!
//! JavaScript runs one callback at a time: the event loop is one lock, held
//! from one `await` to the next. Each `self.tick(..)` below is such a run
//! to completion; between two ticks of one handler anything may interleave,
//! which is where the original's races live. The 100 ms sleeps are such
//! points too (no checker models time: a sleep is just an await). Its state
//! is the original's: one `isProcessing` flag, per-driver `isQueryRunning`
//! and abort handles, a `stopRequested` flag and an interrupt flag cleared
//! by timers, one global last message, one global active driver, cron jobs
//! in a list. Run ids here are ghosts for the observer only: the original
//! had none and decides nothing by them.

use std::collections::VecDeque;

use baton_core::sync::Lock;
use baton_core::{CronKind, Driver, Origin};

use crate::family::Model;
use crate::observe::{CancelBy, Cx, End, Fact, Kind, Run};
use crate::report::{Report, Timer};
use crate::system::{Quiescence, Reply, RunnerReply, Started, System};
use crate::trace;

/// The original retried a failed agent this many times.
const MAX_RETRIES: u32 = 2;

#[derive(Debug, Clone)]
struct Ghost {
    item: String,
    kind: Kind,
    lane: usize,
    driver: Driver,
    spawned: bool,
    alive: bool,
    /// The abort controller fired on this run's query.
    aborted: bool,
    over: bool,
    attempts: u32,
}

#[derive(Debug)]
struct State {
    is_processing: bool,
    /// The run each chat's handler is awaiting.
    current: Vec<Option<Run>>,
    queues: Vec<VecDeque<(String, Kind)>>,
    /// Per driver: `isQueryRunning`, and the abort controller once created.
    query_running: [Option<Run>; 2],
    abort_handle: [Option<Run>; 2],
    active_driver: Driver,
    stop_requested: bool,
    interrupt_flag: bool,
    last_message: Option<(String, usize)>,
    /// Registered jobs; `None` once removed.
    jobs: Vec<Option<(usize, CronKind)>>,
    job_names: Vec<String>,
    job_lanes: Vec<usize>,
    lane_names: Vec<String>,
    runs: Vec<Ghost>,
    sessions: Vec<[Option<String>; 2]>,
}

fn slot(driver: Driver) -> usize {
    Driver::ALL
        .iter()
        .position(|d| *d == driver)
        .expect("every driver is listed")
}

impl State {
    fn ghost(&mut self, run: Run) -> &mut Ghost {
        &mut self.runs[run as usize - 1]
    }

    /// `processMessage`: the handler starts the agent's query for the item.
    fn start(&mut self, cx: &Cx, lane: usize, item: &str, kind: Kind) -> Started {
        self.is_processing = true;
        // A new message starts afresh: the original reset its stop flag here.
        self.stop_requested = false;
        self.runs.push(Ghost {
            item: item.to_owned(),
            kind,
            lane,
            driver: self.active_driver,
            spawned: false,
            alive: false,
            aborted: false,
            over: false,
            attempts: 0,
        });
        let run = self.runs.len() as Run;
        self.current[lane] = Some(run);
        cx.point(Fact::Admitted {
            run,
            item: item.to_owned(),
            lane,
            kind,
        });
        Started { run, lane }
    }

    /// The message handler: busy means queued, idle means start.
    fn handle(&mut self, cx: &Cx, lane: usize, item: &str, kind: Kind, reply: &mut Reply) {
        if self.is_processing {
            if kind != Kind::Cron {
                self.preempt_cron(cx);
            }
            self.queues[lane].push_back((item.to_owned(), kind));
            cx.point(Fact::Queued {
                item: item.to_owned(),
                lane,
                kind,
            });
            reply.text = format!("queued at {}", self.queues[lane].len());
        } else {
            let started = self.start(cx, lane, item, kind);
            reply.text = format!("started r{}", started.run);
            reply.started.push(started);
        }
    }

    /// User messages had priority: the original aborted a cron query in
    /// their way (and, having removed the job before running it, lost it).
    fn preempt_cron(&mut self, cx: &Cx) {
        for driver in 0..2 {
            let Some(run) = self.abort_handle[driver] else {
                continue;
            };
            let ghost = self.ghost(run);
            if ghost.kind == Kind::Cron && !ghost.aborted {
                ghost.aborted = true;
                let lane = ghost.lane;
                // It is cancelled the way `!` cancels: by the interrupt flag.
                self.interrupt_flag = true;
                cx.point(Fact::Named {
                    by: CancelBy::Preempt,
                    lane,
                    run: Some(run),
                    admitted: false,
                    cancel_set: true,
                });
            }
        }
    }

    /// Aborts whatever query the given driver's controller points at.
    fn abort(&mut self, driver: Driver) -> Option<Run> {
        let run = self.abort_handle[slot(driver)]?;
        self.ghost(run).aborted = true;
        Some(run)
    }

    fn cancelled(&mut self, run: Run) -> bool {
        let stop_pending = self.stop_requested;
        let ghost = self.ghost(run);
        ghost.aborted || (stop_pending && !ghost.spawned)
    }

    fn exit(&mut self, cx: &Cx, run: Run) {
        let ghost = self.ghost(run);
        let (lane, driver, was_alive) = (ghost.lane, ghost.driver, ghost.alive);
        ghost.alive = false;
        if was_alive {
            cx.point(Fact::Exited { run, lane });
        }
        let d = slot(driver);
        if self.query_running[d] == Some(run) {
            self.query_running[d] = None;
        }
        if self.abort_handle[d] == Some(run) {
            self.abort_handle[d] = None;
        }
    }

    /// The `finally` of `processMessage`: flags down, the run is over.
    fn end(&mut self, cx: &Cx, run: Run, end: End) -> usize {
        self.exit(cx, run);
        let ghost = self.ghost(run);
        ghost.over = true;
        let end = if ghost.aborted { End::Cancelled } else { end };
        let (lane, item) = (ghost.lane, ghost.item.clone());
        cx.point(Fact::Finished { run, item, end });
        if self.current[lane] == Some(run) {
            self.current[lane] = None;
        }
        self.is_processing = false;
        lane
    }

    /// Drains one chat only, and not at all while any driver is running.
    fn drain(&mut self, cx: &Cx, lane: usize, reply: &mut Reply) {
        if self.query_running.iter().any(Option::is_some) || self.is_processing {
            return;
        }
        if let Some((item, kind)) = self.queues[lane].pop_front() {
            let started = self.start(cx, lane, &item, kind);
            reply.text.push_str(&format!(", drained r{}", started.run));
            reply.started.push(started);
        }
    }

    fn spawn_now(&mut self, cx: &Cx, run: Run) {
        let ghost = self.ghost(run);
        ghost.spawned = true;
        ghost.alive = true;
        ghost.aborted = false;
        let (lane, driver) = (ghost.lane, ghost.driver);
        self.query_running[slot(driver)] = Some(run);
        if driver == Driver::Claude {
            self.abort_handle[0] = Some(run);
        }
        cx.point(Fact::Spawned { run, lane });
    }
}

pub struct LegacySystem<F: Model> {
    state: F::Mutex<State>,
}

impl<F: Model> LegacySystem<F> {
    pub fn new(report: &Report) -> Self {
        let lanes = report.lanes.len();
        LegacySystem {
            state: F::Mutex::new(State {
                is_processing: false,
                current: vec![None; lanes],
                queues: vec![VecDeque::new(); lanes],
                query_running: [None, None],
                abort_handle: [None, None],
                active_driver: Driver::Claude,
                stop_requested: false,
                interrupt_flag: false,
                last_message: None,
                jobs: report.cron.iter().map(|j| Some((j.lane, j.kind))).collect(),
                job_names: report.cron.iter().map(|j| j.name.clone()).collect(),
                job_lanes: report.cron.iter().map(|j| j.lane).collect(),
                lane_names: report.lanes.clone(),
                runs: Vec::new(),
                sessions: vec![[None, None]; lanes],
            }),
        }
    }

    /// One run to completion of the event loop, up to the next `await`.
    fn tick<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.state.with(f)
    }

    /// The run is over: the `finally` block, then (after an await) the drain.
    fn end_and_drain(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        let lane = self.tick(|s| s.end(cx, run, end));
        let mut reply = Reply::text("over");
        self.tick(|s| s.drain(cx, lane, &mut reply));
        RunnerReply { reply, over: true }
    }

    /// The retry loop's `catch`: unless a flag says the user stopped it, a
    /// dead or hung agent is started again. It never asks whether this run
    /// is still the chat's current one.
    fn catch(&self, cx: &Cx, run: Run) -> RunnerReply {
        let retried = self.tick(|s| {
            s.exit(cx, run);
            if s.interrupt_flag || s.stop_requested || s.ghost(run).attempts >= MAX_RETRIES {
                return false;
            }
            s.ghost(run).attempts += 1;
            cx.point(Fact::RetryAccepted { run });
            s.spawn_now(cx, run);
            true
        });
        if retried {
            RunnerReply {
                reply: Reply::text("retried, respawned"),
                over: false,
            }
        } else {
            self.end_and_drain(cx, run, End::Cancelled)
        }
    }
}

impl<F: Model> System for LegacySystem<F> {
    fn submit(&self, cx: &Cx, lane: usize, item: &str, _origin: &Origin) -> Reply {
        let mut reply = Reply::default();
        self.tick(|s| {
            s.last_message = Some((item.to_owned(), lane));
            s.handle(cx, lane, item, Kind::User, &mut reply);
        });
        reply
    }

    fn interrupt(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        let mut reply = Reply::default();
        let busy = self.tick(|s| {
            s.interrupt_flag = true;
            s.last_message = Some((item.to_owned(), lane));
            if !s.is_processing {
                s.handle(cx, lane, item, Kind::Interrupt, &mut reply);
                return false;
            }
            let target = s.active_driver;
            let aborted = s.abort(target);
            cx.point(Fact::Named {
                by: CancelBy::Interrupt,
                lane,
                run: aborted,
                admitted: false,
                cancel_set: aborted.is_some(),
            });
            reply.text = match aborted {
                Some(run) => format!("aborted r{run}"),
                None => "nothing to stop".to_owned(),
            };
            true
        });
        if busy {
            // `await sleep(100)`: the stop handshake; then the new query
            // starts, trusting the old one to be gone by now.
            self.tick(|s| {
                let started = s.start(cx, lane, item, Kind::Interrupt);
                reply.text.push_str(&format!(", started r{}", started.run));
                reply.started.push(started);
            });
        }
        reply
    }

    fn stop(&self, cx: &Cx, lane: usize, clear: bool) -> Reply {
        // `await ctx.reply("Stopping…")` comes first; the target driver is
        // read after it, from the mutable global preference.
        self.tick(|_| ());
        self.tick(|s| {
            let target = s.active_driver;
            let aborted = s.abort(target);
            let pending = s.current[lane].filter(|&r| !s.ghost(r).spawned);
            s.stop_requested = true;
            s.is_processing = false;
            let named = aborted.or(pending);
            cx.point(Fact::Named {
                by: CancelBy::Stop,
                lane,
                run: named,
                admitted: aborted.is_none() && pending.is_some(),
                cancel_set: named.is_some_and(|r| s.cancelled(r)),
            });
            let mut text = match named {
                Some(run) => format!("stopped r{run}"),
                None => "nothing to stop".to_owned(),
            };
            if clear {
                for (item, _) in s.queues[lane].drain(..) {
                    cx.point(Fact::Removed { item: item.clone() });
                    text.push_str(&format!(", removed {item}"));
                }
            }
            Reply::text(text)
        })
    }

    fn new_session(&self, cx: &Cx, lane: usize) -> Reply {
        self.tick(|s| {
            let target = s.active_driver;
            let aborted = s.abort(target);
            cx.point(Fact::NewSession { lane });
            cx.point(Fact::Named {
                by: CancelBy::New,
                lane,
                run: aborted,
                admitted: false,
                cancel_set: aborted.is_some(),
            });
            s.sessions[lane] = [None, None];
            for (item, _) in s.queues[lane].drain(..) {
                cx.point(Fact::Removed { item });
            }
            Reply::text("new session")
        })
    }

    fn set_driver(&self, _cx: &Cx, _lane: usize, driver: Driver) -> Reply {
        self.tick(|s| s.active_driver = driver);
        Reply::text(format!("active driver {driver:?}").to_lowercase())
    }

    fn retry_last(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        let mut reply = Reply::default();
        self.tick(|s| match s.last_message.clone() {
            Some((_, source)) => {
                cx.point(Fact::Resent {
                    lane,
                    source: Some(source),
                });
                s.handle(cx, lane, item, Kind::Copy, &mut reply);
            }
            None => reply.text = "nothing to retry".to_owned(),
        });
        reply
    }

    fn recap(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        // The recap button's callback starts the query at once: no busy check.
        self.tick(|s| {
            let started = s.start(cx, lane, item, Kind::Copy);
            Reply {
                text: format!("started r{}", started.run),
                started: vec![started],
            }
        })
    }

    fn cron_tick(&self, cx: &Cx, jobs: &[usize], fire: u64) -> Reply {
        // The due list is computed once; each job then runs after an await.
        let due: Vec<usize> = self.tick(|s| {
            jobs.iter()
                .copied()
                .filter(|&j| s.jobs[j].is_some())
                .collect()
        });
        let mut reply = Reply::default();
        for job in due {
            self.tick(|s| {
                // The stale due list is not checked again: a job cancelled
                // since runs anyway. A one-shot is removed before it runs.
                if let Some((_, CronKind::OneShot)) = s.jobs[job] {
                    s.jobs[job] = None;
                }
                let lane = s.job_lanes[job];
                let item = format!("c{}@{fire}", s.job_names[job]);
                cx.point(Fact::CronFire {
                    job,
                    item: item.clone(),
                });
                let mut one = Reply::default();
                s.handle(cx, lane, &item, Kind::Cron, &mut one);
                reply
                    .text
                    .push_str(&format!("{}: {}; ", s.job_names[job], one.text));
                reply.started.extend(one.started);
            });
        }
        reply
    }

    fn cron_cancel(&self, cx: &Cx, job: usize) -> Reply {
        self.tick(|s| {
            if s.jobs[job].take().is_some() {
                cx.point(Fact::CronCancelled { job });
                Reply::text("cancelled")
            } else {
                Reply::text("no such job")
            }
        })
    }

    fn timer(&self, _cx: &Cx, timer: Timer) -> Reply {
        self.tick(|s| match timer {
            Timer::StopFlag => s.stop_requested = false,
            Timer::InterruptFlag => s.interrupt_flag = false,
        });
        Reply::text("flag cleared")
    }

    fn snapshot(&self, cx: &Cx) -> Reply {
        self.tick(|s| {
            let mut problems = Vec::new();
            // `/status` showed "idle" from isProcessing and the tool line
            // from the drivers: after a stop they disagree.
            if !s.is_processing && s.query_running.iter().any(Option::is_some) {
                problems.push("status shows idle while a query runs".to_owned());
            }
            cx.after(Fact::Snapshot { problems });
            Reply::text(if s.is_processing { "busy" } else { "idle" })
        })
    }

    fn spawn(&self, cx: &Cx, run: Run) -> RunnerReply {
        let (stopped, codex) = self.tick(|s| {
            if s.cancelled(run) {
                return (true, false);
            }
            s.spawn_now(cx, run);
            (false, s.ghost(run).driver == Driver::Codex)
        });
        if stopped {
            let mut answer = self.end_and_drain(cx, run, End::Cancelled);
            answer.reply.text = format!("stopped before start, {}", answer.reply.text);
            return answer;
        }
        if codex {
            // The Codex SDK creates its abort controller only after the
            // thread has started: until then a stop finds nothing to abort.
            self.tick(|s| {
                if s.ghost(run).alive {
                    s.abort_handle[1] = Some(run);
                }
            });
        }
        RunnerReply {
            reply: Reply::text("spawned"),
            over: false,
        }
    }

    fn finish(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        self.end_and_drain(cx, run, end)
    }

    fn stall(&self, cx: &Cx, run: Run) -> RunnerReply {
        self.catch(cx, run)
    }

    fn cancelled(&self, run: Run) -> bool {
        self.tick(|s| s.cancelled(run))
    }

    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply {
        cx.point(Fact::Killed { run });
        self.catch(cx, run)
    }

    fn output(&self, cx: &Cx, run: Run) -> Reply {
        // The streaming status callback: no serialisation, no "finalized".
        self.tick(|_| cx.point(Fact::OutputAccepted { run }));
        Reply::text("accepted")
    }

    fn session(&self, cx: &Cx, run: Run, id: &str) -> Reply {
        self.tick(|s| {
            let ghost = s.ghost(run).clone();
            s.sessions[ghost.lane][slot(ghost.driver)] = Some(id.to_owned());
            cx.point(Fact::SessionAccepted {
                run,
                lane: ghost.lane,
                id: id.to_owned(),
            });
        });
        Reply::text("accepted")
    }

    fn quiescence(&self) -> Quiescence {
        trace::quietly(|| {
            self.tick(|s| Quiescence {
                queued: s.queues.iter().map(VecDeque::len).sum(),
                in_flight: s.runs.iter().filter(|g| !g.over).count(),
            })
        })
    }

    fn sessions(&self) -> Vec<(usize, String)> {
        trace::quietly(|| {
            self.tick(|s| {
                s.sessions
                    .iter()
                    .enumerate()
                    .flat_map(|(lane, ids)| ids.iter().flatten().map(move |id| (lane, id.clone())))
                    .collect()
            })
        })
    }

    fn describe(&self) -> String {
        trace::quietly(|| {
            self.tick(|s| {
                let mut parts = vec![
                    format!(
                        "isProcessing={} stopRequested={} interrupt={} active={:?}",
                        s.is_processing, s.stop_requested, s.interrupt_flag, s.active_driver
                    )
                    .to_lowercase(),
                ];
                for (lane, queue) in s.queues.iter().enumerate() {
                    let run = match s.current[lane] {
                        Some(r) => {
                            let g = &s.runs[r as usize - 1];
                            format!(
                                "r{r} {}{}",
                                if g.alive { "running" } else { "admitted" },
                                if g.aborted { " (aborted)" } else { "" }
                            )
                        }
                        None => "idle".to_owned(),
                    };
                    let items: Vec<&str> = queue.iter().map(|(i, _)| i.as_str()).collect();
                    let name = &s.lane_names[lane];
                    parts.push(format!("{name}: {run}, queue [{}]", items.join(" ")));
                }
                parts.join("; ")
            })
        })
    }
}
