//! Proof that the checks have teeth: every deliberately wrong variant of
//! the core is caught by a named scenario, under loom, in its own process.

mod common;

use baton_model_tests::variants::Variant;

/// Which scenario catches which variant, and through which invariant.
const CAUGHT_BY: [(Variant, &str, &str); 7] = [
    (
        Variant::DrainOnlyFinishingLane,
        "reports/DQ-1.toml",
        "no_loss",
    ),
    (Variant::LaneStopFlag, "reports/SP-1.toml", "stop_binding"),
    (
        Variant::CapacityBeforeExit,
        "reports/SP-1.toml",
        "exclusion",
    ),
    (
        Variant::SessionFromAnyRun,
        "scenarios/ownership_session_after_new.toml",
        "ownership",
    ),
    (Variant::CronRemovedBeforeRun, "reports/CR-2.toml", "cron"),
    (
        Variant::RetryWithoutOwnership,
        "reports/TX-1.toml",
        "stop_binding",
    ),
    (Variant::OutputAfterFinish, "reports/ST-1.toml", "ownership"),
];

#[test]
fn variants_are_each_caught_by_a_named_scenario() {
    for variant in Variant::ALL {
        let (_, file, invariant) = CAUGHT_BY
            .iter()
            .find(|(v, ..)| *v == variant)
            .unwrap_or_else(|| panic!("{} has no catching scenario", variant.name()));
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
            "{} escaped {file}:\n{}",
            variant.name(),
            child.stdout
        );
        assert!(
            child.stdout.contains(&format!("  {invariant}: ")),
            "{} in {file}: expected {invariant}:\n{}",
            variant.name(),
            child.stdout
        );
    }
}
