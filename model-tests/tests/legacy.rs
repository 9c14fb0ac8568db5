//! The model of the original bot fails each race report for the reason the
//! audit gives, and loses across a restart or shutdown what the original
//! kept only in memory, where the core keeps it.

mod common;

use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::invariants::Invariant;
use baton_model_tests::{report, trace};

#[test]
fn every_report_states_its_reason() {
    let ids: Vec<String> = common::files("reports")
        .iter()
        .map(|p| common::name(p))
        .collect();
    let stated: Vec<&str> = common::REASONS.iter().map(|(id, ..)| *id).collect();
    assert_eq!(ids, stated);
}

#[test]
fn report_witness_shows_the_audits_reason() {
    for path in common::files("reports") {
        let report = report::load(&path).unwrap();
        let (invariant, reason) = common::reason(&report.id);
        assert_eq!(report.invariant.name(), invariant, "{}", report.id);
        let witness = report
            .witness
            .as_deref()
            .expect("every report has a witness");
        let steps = trace::parse(witness, &report.actor_names()).unwrap();
        let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
        let found = replayed
            .execution
            .violations
            .iter()
            .any(|v| v.invariant == report.invariant && v.message.contains(reason));
        assert!(
            found,
            "{}: expected {invariant}: {reason}, saw {:?}",
            report.id, replayed.execution.violations
        );
    }
}

fn violated_by_legacy(file: &str, invariant: Invariant) {
    let path = common::dir("scenarios").join(file);
    let report = Arc::new(report::load(&path).unwrap());
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Pct,
        &Budget::quick(),
        Some(invariant),
    );
    let failure = found
        .failure
        .unwrap_or_else(|| panic!("{file}: the original keeps {invariant}"));
    assert!(explore::relevant(&failure.violations, Some(invariant)));
}

#[test]
fn legacy_restart_reruns_a_redelivered_update_and_loses_the_queue() {
    // index.ts:68 keeps the dedupe cache in memory; deferred-queue.ts:19
    // and the chat's chained updates too.
    violated_by_legacy("restart_restores_queue.toml", Invariant::NoDuplication);
    violated_by_legacy("restart_restores_queue.toml", Invariant::NoLoss);
}

#[test]
fn legacy_shutdown_reports_nothing_it_drops() {
    // index.ts:949-953: SIGTERM exits at once.
    violated_by_legacy("shutdown_hands_back_queue.toml", Invariant::NoLoss);
}

#[test]
fn legacy_album_runs_beside_the_chats_message() {
    violated_by_legacy("album_outside_the_chat_sequence.toml", Invariant::Exclusion);
}
