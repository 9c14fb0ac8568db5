//! Proof that the checks have teeth: every deliberately wrong variant of
//! the core (most of them bugs planted in the core itself, see
//! `baton_core::planted`) is caught by a named scenario, as a violation of
//! a named invariant, under loom (in its own process, since a loom
//! deadlock aborts it) and under shuttle's PCT.

mod common;

use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::invariants::Invariant;
use baton_model_tests::report;
use baton_model_tests::variants::Variant;

/// Which scenario catches which variant, and through which invariant; the
/// table in `model-tests/README.md` says the same.
const CAUGHT_BY: [(&str, &str, &str); 45] = [
    ("drain-only-finishing-lane", "reports/DQ-1.toml", "no_loss"),
    ("lane-stop-flag", "reports/SP-1.toml", "stop_binding"),
    ("capacity-before-exit", "reports/SP-1.toml", "exclusion"),
    (
        "session-from-any-run",
        "scenarios/ownership_session_after_new.toml",
        "ownership",
    ),
    ("cron-removed-before-run", "reports/CR-2.toml", "cron"),
    (
        "retry-without-ownership",
        "reports/TX-1.toml",
        "stop_binding",
    ),
    ("output-after-finish", "reports/ST-1.toml", "ownership"),
    (
        "drain-cron-first",
        "scenarios/priority_user_before_cron_across_lanes.toml",
        "priority",
    ),
    (
        "pop-newest-at-depth",
        "scenarios/order_at_depth_three.toml",
        "order",
    ),
    (
        "full-queue-drops-oldest",
        "scenarios/refusal_full_queue.toml",
        "refusal",
    ),
    (
        "submit-ignores-capacity",
        "scenarios/order_interrupt_takes_freed_capacity.toml",
        "exclusion",
    ),
    (
        "dedupe-forgotten",
        "scenarios/duplication_redelivery.toml",
        "no_duplication",
    ),
    (
        "interrupt-cancels-nothing",
        "scenarios/stop_binding_interrupt_before_spawn.toml",
        "stop_binding",
    ),
    (
        "retry-after-cancel",
        "scenarios/ownership_no_retry_after_stop.toml",
        "ownership",
    ),
    (
        "spawn-after-cancel",
        "scenarios/stop_binding_interrupt_before_spawn.toml",
        "stop_binding",
    ),
    (
        "session-after-new",
        "scenarios/ownership_session_after_new.toml",
        "ownership",
    ),
    (
        "preempted-requeued-at-back",
        "scenarios/priority_preempted_fire_back_at_head.toml",
        "priority",
    ),
    (
        "interrupt-not-first",
        "scenarios/order_interrupt_takes_freed_capacity.toml",
        "order",
    ),
    (
        "preempted-fire-dropped",
        "scenarios/cron_preempted_across_lanes.toml",
        "cron",
    ),
    (
        "new-forgets-at-once-after-stop",
        "scenarios/ownership_new_after_stop.toml",
        "ownership",
    ),
    (
        "stop-keeps-preemption",
        "scenarios/cron_preempted_then_stopped.toml",
        "cron",
    ),
    (
        "stop-clear-keeps-queue",
        "scenarios/no_loss_stop_clears_queue.toml",
        "stop_binding",
    ),
    (
        "shutdown-drops-queue",
        "scenarios/shutdown_hands_back_queue.toml",
        "no_loss",
    ),
    ("cron-cancel-keeps-queued-fire", "reports/CR-1.toml", "cron"),
    (
        "restore-forgets-ended",
        "scenarios/restart_restores_queue.toml",
        "no_duplication",
    ),
    (
        "admit-while-shutting-down",
        "scenarios/shutdown_hands_back_queue.toml",
        "no_loss",
    ),
    (
        "no-preempt-in-lane",
        "scenarios/cron_preempted_then_stopped.toml",
        "priority",
    ),
    (
        "no-preempt-for-capacity",
        "scenarios/cron_preempted_across_lanes.toml",
        "priority",
    ),
    (
        "interrupt-at-tail",
        "scenarios/order_interrupt_ahead_of_queue.toml",
        "order",
    ),
    ("stop-cancels-nothing", "reports/SP-1.toml", "stop_binding"),
    (
        "new-cancels-nothing",
        "scenarios/ownership_session_after_new.toml",
        "stop_binding",
    ),
    (
        "new-keeps-queue",
        "scenarios/stop_binding_new_removes_queue.toml",
        "stop_binding",
    ),
    ("output-from-any-run", "reports/ST-1.toml", "ownership"),
    (
        "sessions-kept-after-new",
        "scenarios/ownership_session_after_new.toml",
        "ownership",
    ),
    ("finish-starts-nothing", "reports/DQ-1.toml", "no_loss"),
    (
        "claim-while-pending",
        "scenarios/cron_preempted_then_stopped.toml",
        "cron",
    ),
    ("cancel-keeps-job", "reports/CR-1.toml", "cron"),
    (
        "restore-keeps-interrupted-one-shot",
        "scenarios/restart_one_shot_interrupted.toml",
        "cron",
    ),
    (
        "restore-starts-nothing",
        "scenarios/restart_restores_queue.toml",
        "no_loss",
    ),
    (
        "ask-after-cancel",
        "scenarios/answers_tap_after_stop.toml",
        "answers",
    ),
    (
        "answer-twice",
        "scenarios/answers_double_tap_once.toml",
        "answers",
    ),
    (
        "answer-after-cancel",
        "scenarios/answers_tap_after_stop.toml",
        "answers",
    ),
    (
        "refused-tap-closes",
        "scenarios/answers_tap_after_stop.toml",
        "answers",
    ),
    (
        "run-now-restarts-started",
        "scenarios/steer_run_now_races_start.toml",
        "no_duplication",
    ),
    (
        "cancel-reports-started",
        "scenarios/steer_cancel_races_start.toml",
        "no_loss",
    ),
];

fn catching(variant: Variant) -> (&'static str, &'static str) {
    CAUGHT_BY
        .iter()
        .find(|(name, ..)| *name == variant.name())
        .map(|(_, file, invariant)| (*file, *invariant))
        .unwrap_or_else(|| panic!("{} has no catching scenario", variant.name()))
}

#[test]
fn every_variant_has_one_row_and_every_row_a_variant() {
    for (name, file, invariant) in CAUGHT_BY {
        assert!(Variant::parse(name).is_some(), "no variant {name}");
        assert!(common::dir(file).is_file(), "no scenario {file}");
        assert!(
            invariant.parse::<Invariant>().is_ok(),
            "no invariant {invariant}"
        );
    }
    assert_eq!(CAUGHT_BY.len(), Variant::ALL.len());
    for variant in Variant::ALL {
        catching(variant);
    }
}

#[test]
fn variants_are_each_caught_by_a_named_scenario_under_loom() {
    for variant in Variant::ALL {
        let (file, invariant) = catching(variant);
        let path = common::dir(file);
        let child = common::repro(&[
            path.to_str().unwrap(),
            "--impl",
            variant.name(),
            "--checker",
            "loom",
        ]);
        println!(
            "{} caught by {file}: {}",
            variant.name(),
            child.stdout.lines().nth(1).unwrap_or_default()
        );
        assert_eq!(
            child.code,
            1,
            "{} escaped {file} under loom:\n{}",
            variant.name(),
            child.stdout
        );
        assert!(
            child.stdout.contains(&format!("  {invariant}: ")),
            "{} in {file}: expected {invariant} under loom:\n{}",
            variant.name(),
            child.stdout
        );
    }
}

#[test]
fn variants_are_each_caught_by_a_named_scenario_under_shuttle() {
    let budget = Budget::from_env();
    for variant in Variant::ALL {
        let (file, invariant) = catching(variant);
        let report = Arc::new(report::load(&common::dir(file)).unwrap());
        let invariant: Invariant = invariant.parse().unwrap();
        let found = explore::explore(
            &report,
            Impl::Variant(variant),
            Checker::Pct,
            &budget,
            Some(invariant),
        );
        let failure = found
            .failure
            .unwrap_or_else(|| panic!("{} escaped {file} under shuttle pct", variant.name()));
        let message = failure
            .violations
            .iter()
            .find(|v| v.invariant == invariant)
            .map(|v| v.message.clone())
            .expect("the exploration stops on the named invariant");
        println!(
            "{} caught by {file} after {} executions: {invariant}: {message}",
            variant.name(),
            found.executions
        );
    }
}
