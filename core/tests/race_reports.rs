//! The race reports of the original bot, read from the model tests' TOML
//! files (their only definition) and run sequentially against the core:
//! the operations of each report, one whole operation at a time, in the
//! order in which the report's witness completes them on the model of the
//! original, where they break the report's invariant for the audit's
//! reason. On the core the same sequence keeps every invariant.
//!
//! One test per report, named by its id: `cargo test -p baton-core --test
//! race_reports -- TX-1`.

use std::path::{Path, PathBuf};

use baton_model_tests::explore::{self, Impl};
use baton_model_tests::report::{self, Report};
use baton_model_tests::trace;
use libtest_mimic::{Arguments, Failed, Trial};

fn reports() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model-tests/reports");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
}

fn operations(report: &Report) -> usize {
    report.actors.iter().map(|a| a.ops.len()).sum()
}

/// The report's race, linearised: which actor's operation comes next, as
/// the witness replay on the original returned them. Fails unless that
/// replay shows the report's violation for its stated reason.
fn race_order(report: &Report) -> Result<Vec<usize>, String> {
    let id = &report.id;
    let witness = report
        .witness
        .as_deref()
        .ok_or(format!("{id}: no witness"))?;
    let reason = report.reason.as_deref().ok_or(format!("{id}: no reason"))?;
    let steps = trace::parse(witness, &report.actor_names())?;
    let original = explore::replay_witness(report, Impl::Legacy, steps).execution;
    if !original
        .violations
        .iter()
        .any(|v| v.invariant == report.invariant && v.message.contains(reason))
    {
        return Err(format!(
            "{id}: the witness does not break the original for the audit's reason \
             ({}: {reason}): {:?}",
            report.invariant, original.violations
        ));
    }
    let order = explore::operation_order(report, &original);
    if order.len() != operations(report) {
        return Err(format!(
            "{id}: the original performed {} of {} operations",
            order.len(),
            operations(report)
        ));
    }
    Ok(order)
}

fn core_closes_the_race(path: &Path) -> Result<(), String> {
    let report = report::load(path).map_err(|e| e.to_string())?;
    let order = race_order(&report)?;
    let core = explore::run_in_order(&report, Impl::Core, &order);
    let trace: Vec<String> = core
        .lines
        .iter()
        .map(|l| format!("  {:?} {} -> {}", l.actor, l.op, l.result))
        .collect();
    let performed = explore::operation_order(&report, &core);
    if performed != order {
        return Err(format!(
            "{}: the core did not perform the race's operations in order:\n{}",
            report.id,
            trace.join("\n")
        ));
    }
    if !core.violations.is_empty() {
        return Err(format!(
            "{} ({}): the core breaks {:?}\n{}",
            report.id,
            report.invariant,
            core.violations,
            trace.join("\n")
        ));
    }
    Ok(())
}

fn main() {
    let trials = reports()
        .into_iter()
        .map(|path| {
            let id = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(id, move || {
                core_closes_the_race(&path).map_err(Failed::from)
            })
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}
