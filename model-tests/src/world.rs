//! One execution of a scenario: set up, actors on model threads, runners
//! that behave like the bot's, settling once every actor is joined, and
//! the invariant check of everything observed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use baton_core::sync::Lock;

use crate::family::Model;
use crate::invariants::{self, Violation};
use crate::observe::{Cx, End, Fact, Kind, Line, Recorder, Run, Stamped};
use crate::report::{Op, Report};
use crate::system::{Quiescence, Reply, RunnerReply, Started, System};

/// How many times a runner may be told "not over yet" while it drives one
/// run to its end; past that the run is stuck.
const RUN_STEPS: usize = 8;
/// How many runs the settling phase may execute before it calls it a
/// livelock.
const SETTLE_RUNS: usize = 64;

#[derive(Debug, Default)]
struct Board {
    /// Runs handed out and not yet taken by a runner.
    pending: VecDeque<Started>,
    /// The run each actor took last, for `@actor` references.
    last: Vec<Option<Run>>,
    /// Runs no runner could drive to an end.
    stuck: Vec<String>,
}

/// Everything an execution observed, and what is wrong with it.
#[derive(Debug)]
pub struct Execution {
    pub facts: Vec<Stamped>,
    pub lines: Vec<Line>,
    pub quiescence: Quiescence,
    pub violations: Vec<Violation>,
}

struct World {
    sys: Box<dyn System>,
    rec: Recorder,
    board: Mutex<Board>,
    describe: bool,
    /// Present when the scenario restarts or shuts down: see [`Gate`].
    gate: Option<Box<dyn Gate>>,
}

/// A process ends between two operations, never inside one: in scenarios
/// with `restart` or `shutdown`, every operation holds this model lock, so
/// the checkers still choose the order of operations but no operation is
/// cut in half by the exit (the real exit stops everything at once).
trait Gate: Send + Sync {
    fn hold(&self, f: &mut dyn FnMut());
}

struct ModelGate<F: Model>(F::Mutex<()>);

impl<F: Model> Gate for ModelGate<F> {
    fn hold(&self, f: &mut dyn FnMut()) {
        self.0.with(|_| f());
    }
}

impl World {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hand_out(&self, started: Vec<Started>) {
        self.board().pending.extend(started);
    }

    /// Runs one operation, whole, under the process gate if there is one.
    fn gated<R>(&self, f: impl FnOnce() -> R) -> R {
        let Some(gate) = &self.gate else {
            return f();
        };
        let mut f = Some(f);
        let mut out = None;
        gate.hold(&mut || out = f.take().map(|f| f()));
        out.expect("the gate runs the operation once")
    }

    fn line(&self, actor: Option<usize>, op: &str, result: String) {
        if self.describe {
            let state = self.sys.describe();
            self.rec.line(Line {
                actor,
                op: op.to_owned(),
                result,
                state,
            });
        }
    }
}

/// A runner's hold on one run.
#[derive(Default)]
struct Runner {
    run: Option<Run>,
    spawned: bool,
}

impl Runner {
    fn after(&mut self, answer: RunnerReply, spawned: bool) -> Reply {
        if answer.over {
            self.run = None;
            self.spawned = false;
        } else if spawned {
            self.spawned = true;
        }
        answer.reply
    }

    /// Drives the held run to its end, as the bot's runner task would.
    fn settle(&mut self, world: &World, actor: Option<usize>) {
        for _ in 0..RUN_STEPS {
            let Some(run) = self.run else {
                return;
            };
            let (reply, op) = world.gated(|| {
                let cx = Cx::new(&world.rec, actor);
                if world.sys.cancelled(run) {
                    let answer = world.sys.on_cancel(&cx, run);
                    (self.after(answer, false), "sees cancellation")
                } else if !self.spawned {
                    let answer = world.sys.spawn(&cx, run);
                    (self.after(answer, true), "spawn")
                } else {
                    let answer = world.sys.finish(&cx, run, End::Completed);
                    (self.after(answer, false), "finish completed")
                }
            });
            world.line(actor, &format!("(settle r{run}) {op}"), reply.text.clone());
            world.hand_out(reply.started);
        }
        if let Some(run) = self.run {
            world.board().stuck.push(format!(
                "run r{run} did not end after {RUN_STEPS} runner steps"
            ));
        }
    }
}

fn perform(world: &World, actor: Option<usize>, runner: &mut Runner, op: &Op) -> String {
    world.gated(|| perform_now(world, actor, runner, op))
}

/// A restart's runs handed out and not taken died with the old process
/// (the restart hands out what it restored); after a shutdown they are
/// still to be taken and handed back.
fn lifecycle(world: &World, cx: &Cx, op: &Op) -> Reply {
    match op {
        Op::Restart => {
            world.board().pending.clear();
            world.sys.restart(cx)
        }
        _ => world.sys.shutdown(cx),
    }
}

fn perform_now(world: &World, actor: Option<usize>, runner: &mut Runner, op: &Op) -> String {
    let sys = &world.sys;
    let cx = Cx::new(&world.rec, actor);
    // A runner that holds a cancelled run sees it before anything else.
    let runner_op = matches!(op, Op::Spawn | Op::Stall | Op::Finish { .. });
    if runner_op
        && let Some(run) = runner.run
        && sys.cancelled(run)
    {
        let answer = sys.on_cancel(&cx, run);
        let reply = runner.after(answer, false);
        world.hand_out(reply.started);
        return format!("sees r{run} cancelled: {}", reply.text);
    }
    let reply = match op {
        Op::Submit { lane, item, origin } => sys.submit(&cx, *lane, item, origin),
        Op::Interrupt { lane, item } => sys.interrupt(&cx, *lane, item),
        Op::Stop { lane, clear } => sys.stop(&cx, *lane, *clear),
        Op::New { lane } => sys.new_session(&cx, *lane),
        Op::Driver { lane, driver } => sys.set_driver(&cx, *lane, *driver),
        Op::RetryLast { lane, item } => sys.retry_last(&cx, *lane, item),
        Op::Recap { lane, item } => sys.recap(&cx, *lane, item),
        Op::CronTick { jobs, fire } => sys.cron_tick(&cx, jobs, *fire),
        Op::CronCancel { job } => sys.cron_cancel(&cx, *job),
        Op::Timer(timer) => sys.timer(&cx, *timer),
        Op::Snapshot => sys.snapshot(&cx),
        Op::MediaGroup { lane, item } => sys.media_group(&cx, *lane, item),
        Op::Restart | Op::Shutdown => lifecycle(world, &cx, op),
        Op::RunNow { lane, item } => sys.run_now(&cx, *lane, item),
        Op::CancelQueued { lane, item } => sys.cancel_queued(&cx, *lane, item),
        Op::Answer { question } => sys.answer(&cx, question),
        // The agent asks while it runs, whether or not its run was
        // cancelled meanwhile: the core decides.
        Op::Ask { question } => match runner.run {
            Some(run) if runner.spawned => sys.ask(&cx, run, question),
            Some(_) => Reply::text("no agent to ask"),
            None => Reply::text("holds no run"),
        },
        Op::Withdraw { question } => match runner.run {
            Some(run) => sys.withdraw(&cx, run, question),
            None => Reply::text("holds no run"),
        },
        Op::Take { lane } => {
            if let Some(run) = runner.run {
                Reply::text(format!("still holds r{run}"))
            } else {
                let mut board = world.board();
                let at = board
                    .pending
                    .iter()
                    .position(|s| lane.is_none_or(|l| s.lane == l));
                match at.and_then(|at| board.pending.remove(at)) {
                    Some(started) => {
                        runner.run = Some(started.run);
                        runner.spawned = false;
                        if let Some(actor) = actor {
                            board.last[actor] = Some(started.run);
                        }
                        Reply::text(format!("took r{}", started.run))
                    }
                    None => Reply::text("nothing to take"),
                }
            }
        }
        Op::Spawn => match runner.run {
            Some(run) if !runner.spawned => {
                let answer = sys.spawn(&cx, run);
                runner.after(answer, true)
            }
            Some(_) => Reply::text("already spawned"),
            None => Reply::text("holds no run"),
        },
        Op::Stall => match runner.run {
            Some(run) if runner.spawned => {
                let answer = sys.stall(&cx, run);
                runner.after(answer, true)
            }
            _ => Reply::text("no agent to stall"),
        },
        Op::Finish { failed } => match runner.run {
            Some(run) => {
                let mut text = String::new();
                if !runner.spawned {
                    let answer = sys.spawn(&cx, run);
                    text = runner.after(answer, true).text;
                    text.push_str(", ");
                }
                if runner.run.is_some() {
                    let end = if *failed { End::Failed } else { End::Completed };
                    let reply = runner.after(sys.finish(&cx, run, end), false);
                    text.push_str(&reply.text);
                    world.hand_out(reply.started);
                }
                Reply::text(text)
            }
            None => Reply::text("holds no run"),
        },
        Op::Output { of } | Op::Session { of, .. } => {
            let run = match of {
                Some(other) => world.board().last[*other],
                None => runner.run,
            };
            match (run, op) {
                (None, _) => Reply::text("no run to report for"),
                (Some(run), Op::Session { id, .. }) => sys.session(&cx, run, id),
                (Some(run), _) => sys.output(&cx, run),
            }
        }
    };
    let arrived = match op {
        Op::Submit { lane, item, .. }
        | Op::MediaGroup { lane, item }
        | Op::RetryLast { lane, item }
        | Op::Recap { lane, item } => Some((*lane, item, Kind::User)),
        Op::Interrupt { lane, item } => Some((*lane, item, Kind::Interrupt)),
        _ => None,
    };
    if let Some((lane, item, kind)) = arrived {
        cx.after(Fact::Arrived {
            item: item.clone(),
            lane,
            kind,
        });
    }
    let text = reply.text.clone();
    world.hand_out(reply.started);
    text
}

/// Builds the world of one execution and runs the report's setup.
fn begin<F: Model>(report: &Report, sys: Box<dyn System>, describe: bool) -> Arc<World> {
    let world = Arc::new(World {
        sys,
        rec: Recorder::default(),
        board: Mutex::new(Board {
            last: vec![None; report.actors.len()],
            ..Board::default()
        }),
        describe,
        gate: report
            .has_lifecycle()
            .then(|| Box::new(ModelGate::<F>(F::Mutex::new(()))) as Box<dyn Gate>),
    });
    let mut setup_runner = Runner::default();
    for (op, text) in &report.setup {
        let result = perform(&world, None, &mut setup_runner, op);
        world.line(None, text, result);
    }
    setup_runner.settle(&world, None);
    world
}

/// Runs one execution of `report` on `sys`; with `describe`, also writes
/// the readable trace (for replays only: describing reads state).
pub fn execute<F: Model>(report: &Report, sys: Box<dyn System>, describe: bool) -> Execution {
    let world = begin::<F>(report, sys, describe);
    let joins: Vec<_> = report
        .actors
        .iter()
        .enumerate()
        .map(|(index, actor)| {
            let world = Arc::clone(&world);
            let ops = actor.ops.clone();
            F::spawn(
                index,
                Box::new(move || {
                    let mut runner = Runner::default();
                    for (op, text) in &ops {
                        let result = perform(&world, Some(index), &mut runner, op);
                        world.line(Some(index), text, result);
                    }
                    runner.settle(&world, Some(index));
                }),
            )
        })
        .collect();
    for join in joins {
        join();
    }
    conclude(report, &world)
}

/// Runs `report` sequentially on the calling thread: one whole operation
/// at a time, the next one taken from the actor `order` names (an actor
/// per operation), then what is left of each actor in actor order. No
/// checker and no threads: the operations of a race, linearised.
pub fn execute_in_order<F: Model>(
    report: &Report,
    sys: Box<dyn System>,
    order: &[usize],
) -> Execution {
    let world = begin::<F>(report, sys, true);
    let mut runners: Vec<Runner> = report.actors.iter().map(|_| Runner::default()).collect();
    let mut next = vec![0; report.actors.len()];
    let rest =
        (0..report.actors.len()).flat_map(|a| std::iter::repeat_n(a, report.actors[a].ops.len()));
    for actor in order.iter().copied().chain(rest) {
        let Some((op, text)) = report
            .actors
            .get(actor)
            .and_then(|a| a.ops.get(next[actor]))
        else {
            continue;
        };
        next[actor] += 1;
        let result = perform(&world, Some(actor), &mut runners[actor], op);
        world.line(Some(actor), text, result);
    }
    for (actor, runner) in runners.iter_mut().enumerate() {
        runner.settle(&world, Some(actor));
    }
    conclude(report, &world)
}

/// Once every actor is done: the bot's runners execute what is left, and
/// the invariants judge what was observed.
fn conclude(report: &Report, world: &World) -> Execution {
    let mut executed = 0;
    loop {
        let next = world.board().pending.pop_front();
        let Some(started) = next else { break };
        executed += 1;
        if executed > SETTLE_RUNS {
            world
                .board()
                .stuck
                .push(format!("more than {SETTLE_RUNS} runs while settling"));
            break;
        }
        let mut runner = Runner {
            run: Some(started.run),
            spawned: false,
        };
        runner.settle(world, None);
    }
    let quiescence = world.sys.quiescence();
    let sessions = world.sys.sessions();
    let facts = world.rec.facts();
    let stuck = world.board().stuck.clone();
    let violations = invariants::check(report, &facts, quiescence, &sessions, &stuck);
    Execution {
        facts,
        lines: world.rec.lines(),
        quiescence,
        violations,
    }
}
