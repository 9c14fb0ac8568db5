//! The checkers: loom (exhaustive under a preemption bound), shuttle (PCT,
//! random, DFS, replay of a schedule string), and the witness replay that
//! needs no checker. Each runs the same scenario code through [`world`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler, Task, TaskId,
};
use shuttle_engine::scheduler::serialization::serialize_schedule;

use crate::core_system::CoreSystem;
use crate::family::{LoomSync, Model, ScriptSync, ShuttleSync};
use crate::invariants::{Invariant, Violation};
use crate::legacy::LegacySystem;
use crate::report::Report;
use crate::system::System;
use crate::trace;
use crate::variants::{Variant, VariantSystem};
use crate::world::{self, Execution};

/// Which design a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Core,
    Legacy,
    Variant(Variant),
}

impl Impl {
    pub fn parse(name: &str) -> Option<Impl> {
        match name {
            "core" => Some(Impl::Core),
            "legacy" => Some(Impl::Legacy),
            other => Variant::parse(other).map(Impl::Variant),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Impl::Core => "core",
            Impl::Legacy => "legacy",
            Impl::Variant(v) => v.name(),
        }
    }

    /// Whether this design can run `report`: the original bot had no
    /// question a run waits on and no steering buttons, so a scenario
    /// with those operations says nothing about it.
    pub fn supports(self, report: &Report) -> Result<(), String> {
        if self != Impl::Legacy {
            return Ok(());
        }
        let steering = report
            .setup
            .iter()
            .chain(report.actors.iter().flat_map(|a| a.ops.iter()))
            .find(|(op, _)| op.is_question_or_steering());
        match steering {
            Some((_, text)) => Err(format!(
                "{}: operation {text:?} is not modelled for the original bot: its ask_user \
                 ended the query (codex-session.ts:1051) and a tap started a new one \
                 (callback.ts:221-344; write it `submit LANE ITEM button`), and its queued \
                 messages had no Run now or Cancel buttons",
                report.path.display()
            )),
            None => Ok(()),
        }
    }

    pub fn system<F: Model>(self, report: &Report) -> Box<dyn System> {
        match self {
            Impl::Core => Box::new(CoreSystem::<F>::new(report)),
            Impl::Legacy => Box::new(LegacySystem::<F>::new(report)),
            Impl::Variant(v) => Box::new(VariantSystem::<F>::new(report, v)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checker {
    Loom,
    Pct,
    Random,
    Dfs,
}

impl Checker {
    pub fn parse(name: &str) -> Option<Checker> {
        match name {
            "loom" => Some(Checker::Loom),
            "pct" => Some(Checker::Pct),
            "random" => Some(Checker::Random),
            "dfs" => Some(Checker::Dfs),
            _ => None,
        }
    }
}

/// How far to explore. `BATON_MODEL_DEPTH=deep` raises every default;
/// `BATON_MODEL_ITERATIONS`, `BATON_MODEL_PREEMPTIONS`, `BATON_MODEL_SEED`
/// and `BATON_MODEL_PCT_DEPTH` set one each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub iterations: usize,
    pub preemptions: usize,
    pub pct_depth: usize,
    pub seed: u64,
}

impl Budget {
    /// The per-commit budget. Built without optimised dependencies (plain
    /// `cargo test`), shuttle runs several times slower, so the quick
    /// suite takes fewer shuttle iterations there to stay within minutes.
    pub fn quick() -> Budget {
        Budget {
            iterations: if cfg!(debug_assertions) { 300 } else { 1_000 },
            preemptions: 2,
            pct_depth: 3,
            seed: 0xba70,
        }
    }

    pub fn deep() -> Budget {
        Budget {
            iterations: 50_000,
            preemptions: 3,
            ..Budget::quick()
        }
    }

    pub fn from_env() -> Budget {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let mut budget = if std::env::var("BATON_MODEL_DEPTH").is_ok_and(|d| d == "deep") {
            Budget::deep()
        } else {
            Budget::quick()
        };
        if let Some(n) = env("BATON_MODEL_ITERATIONS") {
            budget.iterations = n as usize;
        }
        if let Some(n) = env("BATON_MODEL_PREEMPTIONS") {
            budget.preemptions = n as usize;
        }
        if let Some(n) = env("BATON_MODEL_PCT_DEPTH") {
            budget.pct_depth = n as usize;
        }
        if let Some(n) = env("BATON_MODEL_SEED") {
            budget.seed = n;
        }
        budget
    }
}

/// A failing execution, as a checker found it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub violations: Vec<Violation>,
    /// Which actor made each step: the witness.
    pub steps: Vec<usize>,
    /// shuttle's own schedule string, when shuttle found it.
    pub schedule: Option<String>,
    /// Everything the failing execution observed.
    pub facts: Vec<crate::observe::Stamped>,
}

#[derive(Debug)]
pub struct Exploration {
    pub checker: String,
    pub executions: usize,
    pub elapsed: Duration,
    pub failure: Option<Failure>,
    /// The checker itself failed (nondeterminism, a bad schedule).
    pub error: Option<String>,
}

/// Whether an execution's violations are the ones looked for: any at all,
/// or those of one invariant.
pub fn relevant(violations: &[Violation], target: Option<Invariant>) -> bool {
    violations
        .iter()
        .any(|v| target.is_none_or(|t| t == v.invariant))
}

type Slot = Arc<Mutex<Option<Failure>>>;

/// What an execution panics with to stop its checker at a relevant
/// violation; the explorer catches it.
pub const VIOLATION_PANIC: &str = "baton-model: invariant violated";

/// The body every checker runs: one execution, and on a relevant violation
/// its witness saved and a panic to stop the checker.
fn body<F: Model>(
    report: Arc<Report>,
    imp: Impl,
    target: Option<Invariant>,
    slot: Slot,
    count: Arc<AtomicUsize>,
) -> impl Fn() + Send + Sync + 'static {
    move || {
        trace::reset();
        let execution = world::execute::<F>(&report, imp.system::<F>(&report), false);
        count.fetch_add(1, Ordering::Relaxed);
        if relevant(&execution.violations, target) {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Failure {
                violations: execution.violations,
                steps: trace::steps(),
                schedule: None,
                facts: execution.facts,
            });
            std::panic::panic_any(VIOLATION_PANIC);
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a checker panicked".to_owned())
}

fn finish(
    checker: String,
    started: Instant,
    executions: usize,
    slot: &Slot,
    outcome: std::thread::Result<()>,
) -> Exploration {
    let failure = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let error = match (&outcome, &failure) {
        (Err(payload), None) => Some(panic_text(payload.as_ref())),
        _ => None,
    };
    Exploration {
        checker,
        executions,
        elapsed: started.elapsed(),
        failure,
        error,
    }
}

/// Explores `report` on `imp` with one checker.
pub fn explore(
    report: &Arc<Report>,
    imp: Impl,
    checker: Checker,
    budget: &Budget,
    target: Option<Invariant>,
) -> Exploration {
    match checker {
        Checker::Loom => loom_explore(report, imp, budget, target),
        Checker::Pct => shuttle_explore(
            report,
            imp,
            target,
            format!("shuttle pct depth {}", budget.pct_depth),
            PctScheduler::new_from_seed(budget.seed, budget.pct_depth, budget.iterations),
        ),
        Checker::Random => shuttle_explore(
            report,
            imp,
            target,
            "shuttle random".to_owned(),
            RandomScheduler::new_from_seed(budget.seed, budget.iterations),
        ),
        Checker::Dfs => shuttle_explore(
            report,
            imp,
            target,
            "shuttle dfs".to_owned(),
            DfsScheduler::new(Some(budget.iterations), false),
        ),
    }
}

fn loom_explore(
    report: &Arc<Report>,
    imp: Impl,
    budget: &Budget,
    target: Option<Invariant>,
) -> Exploration {
    let slot: Slot = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let f = body::<LoomSync>(Arc::clone(report), imp, target, slot.clone(), count.clone());
    let started = Instant::now();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(budget.preemptions);
    builder.max_branches = 1_000_000;
    let outcome = catch_unwind(AssertUnwindSafe(|| builder.check(f)));
    finish(
        format!("loom preemption bound {}", budget.preemptions),
        started,
        count.load(Ordering::Relaxed),
        &slot,
        outcome,
    )
}

/// The schedule of the execution in progress, taped as the scheduler makes
/// its choices. Each exploration owns its tape: shuttle's own failure
/// persistence writes files into one directory from one process-wide panic
/// hook, so explorations running on parallel test threads took each other's
/// schedules.
#[derive(Clone, Default)]
struct Tape(Arc<Mutex<Schedule>>);

impl Tape {
    fn with<R>(&self, f: impl FnOnce(&mut Schedule) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The last execution's schedule as a string `--replay` takes.
    fn encoded(&self) -> String {
        self.with(|schedule| serialize_schedule(schedule))
    }
}

/// A scheduler that tapes every choice of the one it wraps: the same steps
/// shuttle records for a failing execution.
struct Taped<S> {
    inner: S,
    tape: Tape,
}

impl<S: Scheduler> Scheduler for Taped<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let initial = self.inner.new_execution()?;
        self.tape.with(|schedule| *schedule = initial.clone());
        Some(initial)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let next = self.inner.next_task(runnable, current, is_yielding);
        if let Some(task) = next {
            self.tape.with(|schedule| schedule.push_task(task));
        }
        next
    }

    fn next_u64(&mut self) -> u64 {
        self.tape.with(|schedule| schedule.push_random());
        self.inner.next_u64()
    }
}

fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.stack_size = 1 << 20;
    // The tape keeps the schedule; nothing goes to files or stderr.
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
}

fn shuttle_explore(
    report: &Arc<Report>,
    imp: Impl,
    target: Option<Invariant>,
    checker: String,
    scheduler: impl Scheduler + 'static,
) -> Exploration {
    let slot: Slot = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let f = body::<ShuttleSync>(Arc::clone(report), imp, target, slot.clone(), count.clone());
    let started = Instant::now();
    // Every execution runs twice: a replay that diverges means the scenario
    // has nondeterminism shuttle does not control, and schedules would lie.
    let tape = Tape::default();
    let runner = shuttle::Runner::new(
        Taped {
            inner: shuttle::scheduler::UncontrolledNondeterminismCheckScheduler::new(scheduler),
            tape: tape.clone(),
        },
        shuttle_config(),
    );
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runner.run(f);
    }));
    let mut exploration = finish(
        checker,
        started,
        count.load(Ordering::Relaxed).div_ceil(2),
        &slot,
        outcome,
    );
    if let Some(failure) = &mut exploration.failure {
        failure.schedule = Some(tape.encoded());
    }
    exploration
}

/// Replays a shuttle schedule string.
pub fn replay_schedule(
    report: &Arc<Report>,
    imp: Impl,
    schedule: &str,
    target: Option<Invariant>,
) -> Exploration {
    let slot: Slot = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let f = body::<ShuttleSync>(Arc::clone(report), imp, target, slot.clone(), count.clone());
    let started = Instant::now();
    let schedule = schedule.to_owned();
    let tape = Tape::default();
    let taped = tape.clone();
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let scheduler = Taped {
            inner: ReplayScheduler::new_from_encoded(&schedule),
            tape: taped,
        };
        shuttle::Runner::new(scheduler, shuttle_config()).run(f);
    }));
    let mut exploration = finish(
        "shuttle replay".to_owned(),
        started,
        count.load(Ordering::Relaxed),
        &slot,
        outcome,
    );
    if let Some(failure) = &mut exploration.failure {
        failure.schedule = Some(tape.encoded());
    }
    exploration
}

/// A witness replayed on plain threads, with the readable trace.
#[derive(Debug)]
pub struct Replayed {
    pub execution: Execution,
    /// Where the execution left the witness, if it did.
    pub divergence: Option<String>,
    pub unused_steps: usize,
}

pub fn replay_witness(report: &Report, imp: Impl, steps: Vec<usize>) -> Replayed {
    let replay = trace::Replay::begin(steps, report.actors.len());
    let execution = world::execute::<ScriptSync>(report, imp.system::<ScriptSync>(report), true);
    Replayed {
        execution,
        divergence: replay.divergence(),
        unused_steps: replay.unused_steps(),
    }
}

/// The order in which an execution performed the report's operations: the
/// actor of each, in the order they returned. Lines that are not the
/// actor's next operation (a runner settling its run) are skipped.
pub fn operation_order(report: &Report, execution: &Execution) -> Vec<usize> {
    let mut next = vec![0; report.actors.len()];
    let mut order = Vec::new();
    for line in &execution.lines {
        let Some(actor) = line.actor else { continue };
        let expected = report
            .actors
            .get(actor)
            .and_then(|a| a.ops.get(next[actor]));
        if expected.is_some_and(|(_, text)| *text == line.op) {
            next[actor] += 1;
            order.push(actor);
        }
    }
    order
}

/// Runs the report one whole operation at a time on this thread, in
/// `order` (see [`world::execute_in_order`]), with the readable trace.
pub fn run_in_order(report: &Report, imp: Impl, order: &[usize]) -> Execution {
    world::execute_in_order::<ScriptSync>(report, imp.system::<ScriptSync>(report), order)
}
