//! Witnesses: failing interleavings as explicit steps, replayed on plain
//! threads without any checker; one test per report (`replay::reports/TX-1`).

mod common;

use std::path::Path;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::{report, trace};
use common::ensure;

fn witness_reproduces_its_legacy_violation(path: &Path) -> Result<(), String> {
    let report = report::load(path).map_err(|e| e.to_string())?;
    let id = &report.id;
    let witness = report
        .witness
        .as_deref()
        .ok_or_else(|| format!("{id}: every report carries a witness"))?;
    let steps = trace::parse(witness, &report.actor_names())?;
    let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
    ensure(replayed.divergence.is_none(), || {
        format!(
            "{id}: the replay left the witness: {:?}",
            replayed.divergence
        )
    })?;
    ensure(replayed.unused_steps == 0, || {
        format!("{id}: {} witness steps unused", replayed.unused_steps)
    })?;
    ensure(
        explore::relevant(&replayed.execution.violations, Some(report.invariant)),
        || format!("{id}: {:?}", replayed.execution.violations),
    )
}

/// A witness loom finds renders, parses back and replays to the same
/// violations.
fn found_witness_replays(path: &Path) -> Result<(), String> {
    let report = Arc::new(report::load(path).map_err(|e| e.to_string())?);
    let id = &report.id;
    let target = Some(report.invariant);
    let found = explore::explore(
        &report,
        Impl::Legacy,
        Checker::Loom,
        &Budget::quick(),
        target,
    );
    let failure = found
        .failure
        .ok_or_else(|| format!("{id}: loom finds no violation"))?;
    let rendered = trace::render(&failure.steps, &report.actor_names());
    let steps = trace::parse(&rendered, &report.actor_names())?;
    ensure(steps == failure.steps, || {
        format!("{id}: render and parse do not round-trip")
    })?;
    let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
    ensure(replayed.divergence.is_none(), || {
        format!("{id}: {:?}", replayed.divergence)
    })?;
    ensure(replayed.execution.violations == failure.violations, || {
        format!(
            "{id}: replayed {:?}, found {:?}",
            replayed.execution.violations, failure.violations
        )
    })?;
    ensure(!replayed.execution.lines.is_empty(), || {
        format!("{id}: the replay writes no trace")
    })
}

fn witness_naming_an_unknown_actor_is_refused() -> Result<(), String> {
    let error = trace::parse("runner*2 ghost", &["runner".to_owned()])
        .err()
        .ok_or("the witness was accepted")?;
    ensure(error.contains("ghost"), || error.clone())
}

fn main() {
    let mut trials = common::per_file(
        "replay",
        common::files("reports"),
        witness_reproduces_its_legacy_violation,
    );
    trials.extend(common::per_file(
        "found",
        ["TX-1", "SP-2", "CR-2"]
            .iter()
            .map(|id| common::dir("reports").join(format!("{id}.toml")))
            .collect(),
        found_witness_replays,
    ));
    trials.push(common::single(
        "witness_naming_an_unknown_actor_is_refused",
        witness_naming_an_unknown_actor_is_refused,
    ));
    common::run(trials)
}
