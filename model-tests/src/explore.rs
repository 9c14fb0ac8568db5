//! The checkers: loom (exhaustive under a preemption bound), shuttle (PCT,
//! random, DFS, replay of a schedule string), and the witness replay that
//! needs no checker. Each runs the same scenario code through [`world`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shuttle::scheduler::{DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Scheduler};

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
            panic!("baton-model: invariant violated");
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

/// Where shuttle writes failing schedules, so they can be read back.
fn schedule_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-model-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn take_schedule() -> Option<String> {
    let dir = schedule_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let last = files.pop()?;
    let text = std::fs::read_to_string(&last).ok()?;
    for file in files.iter().chain(std::iter::once(&last)) {
        let _ = std::fs::remove_file(file);
    }
    Some(text.trim().to_owned())
}

fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.stack_size = 1 << 20;
    config.failure_persistence = shuttle::FailurePersistence::File(Some(schedule_dir()));
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
    let runner = shuttle::Runner::new(
        shuttle::scheduler::UncontrolledNondeterminismCheckScheduler::new(scheduler),
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
        failure.schedule = take_schedule();
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
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let scheduler = ReplayScheduler::new_from_encoded(&schedule);
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
        failure.schedule = take_schedule().or(Some(String::new()));
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
