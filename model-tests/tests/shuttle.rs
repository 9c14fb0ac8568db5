//! shuttle: PCT at depths 2 and 3, random, and DFS on the small scenarios,
//! with fixed seeds and the uncontrolled-nondeterminism check on every
//! execution; one test per checker and data file (`pct3::reports/TX-1`,
//! `dfs::scenarios/order_within_lane`). Budgets come from the environment
//! (see `Budget::from_env`).

mod common;

use std::path::Path;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::report;
use common::ensure;

fn explore_core(path: &Path, checker: Checker, budget: &Budget) -> Result<(), String> {
    let report = Arc::new(report::load(path).map_err(|e| e.to_string())?);
    let found = explore::explore(&report, Impl::Core, checker, budget, None);
    let id = &report.id;
    ensure(found.error.is_none(), || {
        format!(
            "{id} ({}): the checker failed: {:?}",
            found.checker, found.error
        )
    })?;
    if let Some(failure) = &found.failure {
        return Err(format!(
            "{id} ({}): violation after {} executions: {:?}\n  schedule: {:?}",
            found.checker, found.executions, failure.violations, failure.schedule
        ));
    }
    ensure(found.executions > 0, || {
        format!("{id} ({}): no execution ran", found.checker)
    })
}

fn pct(depth: usize) -> impl Fn(&Path) -> Result<(), String> + Send + Sync + Clone {
    move |path| {
        let budget = Budget {
            pct_depth: depth,
            ..Budget::from_env()
        };
        explore_core(path, Checker::Pct, &budget)
    }
}

fn random(path: &Path) -> Result<(), String> {
    explore_core(path, Checker::Random, &Budget::from_env())
}

/// DFS with twenty times the iterations: exhaustive or nearly so on
/// scenarios of one or two actors, which is why only those get it.
fn dfs(path: &Path) -> Result<(), String> {
    let budget = Budget {
        iterations: Budget::from_env().iterations * 20,
        ..Budget::from_env()
    };
    explore_core(path, Checker::Dfs, &budget)
}

fn is_small(path: &Path) -> bool {
    report::load(path).is_ok_and(|r| r.actors.len() <= 2)
}

fn legacy_violates_the_report(path: &Path) -> Result<(), String> {
    let report = Arc::new(report::load(path).map_err(|e| e.to_string())?);
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Pct,
        &Budget::from_env(),
        Some(report.invariant),
    );
    let failure = found.failure.ok_or_else(|| {
        format!(
            "{} (legacy, {}): no violation of {} in {} executions",
            report.id, found.checker, report.invariant, found.executions
        )
    })?;
    ensure(
        explore::relevant(&failure.violations, Some(report.invariant)),
        || format!("{}: {:?}", report.id, failure.violations),
    )?;
    ensure(
        failure.schedule.as_ref().is_some_and(|s| !s.is_empty()),
        || format!("{}: shuttle gave no schedule", report.id),
    )
}

fn shuttle_schedule_replays_the_same_violations() -> Result<(), String> {
    let path = common::dir("reports").join("DR-2.toml");
    let report = Arc::new(report::load(&path).map_err(|e| e.to_string())?);
    let target = Some(report.invariant);
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Pct,
        &Budget::quick(),
        target,
    );
    let failure = found.failure.ok_or("PCT does not find DR-2")?;
    let schedule = failure.schedule.clone().ok_or("shuttle gave no schedule")?;
    let replayed = explore::replay_schedule(&report, Impl::Legacy, &schedule, target);
    let again = replayed
        .failure
        .ok_or("the schedule does not replay the failure")?;
    ensure(again.violations == failure.violations, || {
        format!("{:?} != {:?}", again.violations, failure.violations)
    })?;
    ensure(again.steps == failure.steps, || {
        "the replay took other steps".to_owned()
    })
}

fn main() {
    let all = common::all_files();
    let mut trials = common::per_file("pct2", all.clone(), pct(2));
    trials.extend(common::per_file("pct3", all.clone(), pct(3)));
    trials.extend(common::per_file("random", all.clone(), random));
    trials.extend(common::per_file(
        "dfs",
        all.into_iter().filter(|p| is_small(p)).collect(),
        dfs,
    ));
    trials.extend(common::per_file(
        "legacy_pct",
        common::files("reports"),
        legacy_violates_the_report,
    ));
    trials.push(common::single(
        "shuttle_schedule_replays_the_same_violations",
        shuttle_schedule_replays_the_same_violations,
    ));
    common::run(trials)
}
