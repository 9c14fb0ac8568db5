//! shuttle: PCT at depths 2 and 3, random, and DFS on the small scenarios,
//! with fixed seeds and the uncontrolled-nondeterminism check on every
//! execution. Budgets come from the environment (see `Budget::from_env`).

mod common;

use std::path::Path;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::report;

fn explore_core(path: &Path, checker: Checker, budget: &Budget) {
    let report = Arc::new(report::load(path).unwrap());
    let found = explore::explore(&report, Impl::Core, checker, budget, None);
    println!(
        "{} ({}): {} executions in {:.2} s",
        report.id,
        found.checker,
        found.executions,
        found.elapsed.as_secs_f64()
    );
    assert!(found.error.is_none(), "{}: {:?}", report.id, found.error);
    assert!(
        found.failure.is_none(),
        "{}: {:?}",
        report.id,
        found.failure.map(|f| f.violations)
    );
    assert!(found.executions > 0);
}

#[test]
fn core_keeps_every_invariant_under_pct() {
    for depth in [2, 3] {
        let budget = Budget {
            pct_depth: depth,
            ..Budget::from_env()
        };
        for path in common::all_files() {
            explore_core(&path, Checker::Pct, &budget);
        }
    }
}

#[test]
fn core_keeps_every_invariant_under_random() {
    let budget = Budget::from_env();
    for path in common::all_files() {
        explore_core(&path, Checker::Random, &budget);
    }
}

#[test]
fn core_keeps_every_invariant_under_dfs_of_small_scenarios() {
    let budget = Budget {
        iterations: Budget::from_env().iterations * 20,
        ..Budget::from_env()
    };
    for path in common::all_files() {
        let report = report::load(&path).unwrap();
        if report.actors.len() <= 2 {
            explore_core(&path, Checker::Dfs, &budget);
        }
    }
}

#[test]
fn legacy_violates_each_report_under_pct() {
    let budget = Budget::from_env();
    for path in common::files("reports") {
        let report = Arc::new(report::load(&path).unwrap());
        let found = explore::explore(
            &report,
            Impl::Legacy,
            Checker::Pct,
            &budget,
            Some(report.invariant),
        );
        println!(
            "{} (legacy, {}): violation after {} executions in {:.3} s",
            report.id,
            found.checker,
            found.executions,
            found.elapsed.as_secs_f64()
        );
        let failure = found.failure.expect("PCT finds the report's violation");
        assert!(explore::relevant(
            &failure.violations,
            Some(report.invariant)
        ));
        assert!(failure.schedule.is_some_and(|s| !s.is_empty()));
    }
}

#[test]
fn shuttle_schedule_replays_the_same_violations() {
    let path = common::dir("reports").join("DR-2.toml");
    let report = Arc::new(report::load(&path).unwrap());
    let target = Some(report.invariant);
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Pct,
        &Budget::quick(),
        target,
    );
    let failure = found.failure.expect("PCT finds DR-2");
    let schedule = failure.schedule.clone().expect("shuttle gives a schedule");
    let replayed = explore::replay_schedule(&report, Impl::Legacy, &schedule, target);
    let again = replayed.failure.expect("the schedule replays the failure");
    assert_eq!(again.violations, failure.violations);
    assert_eq!(again.steps, failure.steps);
}
