//! loom, exhaustive under a preemption bound (2 by default, 3 or more with
//! `BATON_MODEL_DEPTH=deep` or `BATON_MODEL_PREEMPTIONS`), one scenario per
//! child process.

mod common;

use baton_model_tests::report;

#[test]
fn core_keeps_every_invariant_under_loom() {
    for path in common::all_files() {
        let child = common::repro(&[
            path.to_str().unwrap(),
            "--impl",
            "core",
            "--checker",
            "loom",
        ]);
        println!("{}", child.stdout.lines().next().unwrap_or_default());
        assert_eq!(
            child.code,
            0,
            "{}: loom found a violation in the core:\n{}{}",
            path.display(),
            child.stdout,
            child.stderr
        );
    }
}

#[test]
fn legacy_violates_each_report_under_loom() {
    for path in common::files("reports") {
        let invariant = report::load(&path).unwrap().invariant;
        let child = common::repro(&[
            path.to_str().unwrap(),
            "--impl",
            "legacy",
            "--checker",
            "loom",
        ]);
        println!("{}", child.stdout.lines().next().unwrap_or_default());
        assert_eq!(
            child.code,
            1,
            "{}: expected a violation:\n{}",
            path.display(),
            child.stdout
        );
        assert!(
            child.stdout.contains(&format!("  {invariant}: ")),
            "{}: the violation is not of {invariant}:\n{}",
            path.display(),
            child.stdout
        );
        let (stated, reason) = common::reason(&common::name(&path));
        assert_eq!(stated, invariant.name(), "{}", path.display());
        assert!(
            child.stdout.contains(&format!("  {invariant}: ")) && child.stdout.contains(reason),
            "{}: loom's first violation is not the audit's reason ({reason}):\n{}",
            path.display(),
            child.stdout
        );
        assert!(child.stdout.contains("witness = \""), "{}", child.stdout);
    }
}
