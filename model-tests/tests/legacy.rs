//! The model of the original bot fails each race report for the reason the
//! audit gives, and loses across a restart or shutdown what the original
//! kept only in memory, where the core keeps it.

mod common;

use std::path::Path;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::invariants::Invariant;
use baton_model_tests::{report, trace};
use common::ensure;

/// The report's witness, replayed on the model of the original, shows the
/// violation of the report's invariant for the reason the report states.
fn witness_shows_the_audits_reason(path: &Path) -> Result<(), String> {
    let (report, reason) = common::load_report(path)?;
    let witness = report
        .witness
        .as_deref()
        .ok_or_else(|| format!("{}: every report has a witness", report.id))?;
    let steps = trace::parse(witness, &report.actor_names())?;
    let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
    let found = replayed
        .execution
        .violations
        .iter()
        .any(|v| v.invariant == report.invariant && v.message.contains(&reason));
    ensure(found, || {
        format!(
            "{}: expected {}: {reason}, saw {:?}",
            report.id, report.invariant, replayed.execution.violations
        )
    })
}

fn violated_by_legacy(file: &str, invariant: Invariant) -> Result<(), String> {
    let path = common::dir("scenarios").join(file);
    let report = Arc::new(report::load(&path).map_err(|e| e.to_string())?);
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Pct,
        &Budget::quick(),
        Some(invariant),
    );
    let failure = found
        .failure
        .ok_or_else(|| format!("{file}: the original keeps {invariant}"))?;
    ensure(
        explore::relevant(&failure.violations, Some(invariant)),
        || format!("{file}: {:?}", failure.violations),
    )
}

fn legacy_restart_reruns_a_redelivered_update_and_loses_the_queue() -> Result<(), String> {
    // index.ts:68 keeps the dedupe cache in memory; deferred-queue.ts:19
    // and the chat's chained updates too.
    violated_by_legacy("restart_restores_queue.toml", Invariant::NoDuplication)?;
    violated_by_legacy("restart_restores_queue.toml", Invariant::NoLoss)
}

fn legacy_shutdown_reports_nothing_it_drops() -> Result<(), String> {
    // index.ts:949-953: SIGTERM exits at once.
    violated_by_legacy("shutdown_hands_back_queue.toml", Invariant::NoLoss)
}

fn legacy_album_runs_beside_the_chats_message() -> Result<(), String> {
    violated_by_legacy("album_outside_the_chat_sequence.toml", Invariant::Exclusion)
}

fn main() {
    let mut trials = common::per_file(
        "witness_reason",
        common::files("reports"),
        witness_shows_the_audits_reason,
    );
    trials.push(common::single(
        "legacy_restart_reruns_a_redelivered_update_and_loses_the_queue",
        legacy_restart_reruns_a_redelivered_update_and_loses_the_queue,
    ));
    trials.push(common::single(
        "legacy_shutdown_reports_nothing_it_drops",
        legacy_shutdown_reports_nothing_it_drops,
    ));
    trials.push(common::single(
        "legacy_album_runs_beside_the_chats_message",
        legacy_album_runs_beside_the_chats_message,
    ));
    common::run(trials)
}
