//! loom, exhaustive under a preemption bound (2 by default, 3 or more with
//! `BATON_MODEL_DEPTH=deep` or `BATON_MODEL_PREEMPTIONS`), one test and one
//! child process per data file: `core::scenarios/order_within_lane`,
//! `legacy::reports/TX-1`. A loom deadlock aborts the process it happens
//! in, so it fails that file's test only.

mod common;

use std::path::Path;

use common::ensure;

fn core_keeps_every_invariant(path: &Path) -> Result<(), String> {
    let child = common::repro(&[
        path.to_str().unwrap(),
        "--impl",
        "core",
        "--checker",
        "loom",
    ]);
    let what = match child.code {
        0 => return Ok(()),
        1 => "loom found a violation in the core",
        2 => "baton-repro refused the file",
        _ => "baton-repro crashed",
    };
    Err(format!(
        "{}: {what} (exit {}):\n{}{}",
        path.display(),
        child.code,
        child.stdout,
        child.stderr
    ))
}

fn legacy_violates_the_reports_reason(path: &Path) -> Result<(), String> {
    let (report, reason) = common::load_report(path)?;
    let invariant = report.invariant;
    let child = common::repro(&[
        path.to_str().unwrap(),
        "--impl",
        "legacy",
        "--checker",
        "loom",
    ]);
    ensure(child.code == 1, || {
        format!(
            "{}: expected a violation (exit 1), got exit {}:\n{}{}",
            path.display(),
            child.code,
            child.stdout,
            child.stderr
        )
    })?;
    let first = format!("  {invariant}: ");
    ensure(
        child.stdout.contains(&first) && child.stdout.contains(&reason),
        || {
            format!(
                "{}: loom's violation is not of {invariant} for the audit's reason ({reason}):\n{}",
                path.display(),
                child.stdout
            )
        },
    )?;
    ensure(child.stdout.contains("witness = \""), || {
        format!("{}: no witness printed:\n{}", path.display(), child.stdout)
    })
}

fn main() {
    let mut trials = common::per_file("core", common::all_files(), core_keeps_every_invariant);
    trials.extend(common::per_file(
        "legacy",
        common::files("reports"),
        legacy_violates_the_reports_reason,
    ));
    common::run(trials)
}
