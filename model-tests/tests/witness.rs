//! Witnesses: failing interleavings as explicit steps, replayed on plain
//! threads without any checker.

mod common;

use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::{report, trace};

#[test]
fn report_witness_reproduces_its_legacy_violation() {
    for path in common::files("reports") {
        let report = report::load(&path).unwrap();
        let witness = report
            .witness
            .as_deref()
            .expect("every report carries a witness");
        let steps = trace::parse(witness, &report.actor_names()).unwrap();
        let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
        assert_eq!(replayed.divergence, None, "{}", report.id);
        assert_eq!(replayed.unused_steps, 0, "{}", report.id);
        assert!(
            explore::relevant(&replayed.execution.violations, Some(report.invariant)),
            "{}: {:?}",
            report.id,
            replayed.execution.violations
        );
    }
}

#[test]
fn found_witness_replays_to_the_same_violations() {
    for id in ["TX-1", "SP-2", "CR-2"] {
        let path = common::dir("reports").join(format!("{id}.toml"));
        let report = Arc::new(report::load(&path).unwrap());
        let target = Some(report.invariant);
        let found = explore::explore(
            &report,
            Impl::Legacy,
            Checker::Loom,
            &Budget::quick(),
            target,
        );
        let failure = found.failure.expect("loom finds the violation");
        let rendered = trace::render(&failure.steps, &report.actor_names());
        let steps = trace::parse(&rendered, &report.actor_names()).unwrap();
        assert_eq!(steps, failure.steps, "{id}: render and parse round-trip");
        let replayed = explore::replay_witness(&report, Impl::Legacy, steps);
        assert_eq!(replayed.divergence, None, "{id}");
        assert_eq!(replayed.execution.violations, failure.violations, "{id}");
        assert!(
            !replayed.execution.lines.is_empty(),
            "{id}: the replay writes a trace"
        );
    }
}

#[test]
fn witness_naming_an_unknown_actor_is_refused() {
    let error = trace::parse("runner*2 ghost", &["runner".to_owned()]).unwrap_err();
    assert!(error.contains("ghost"), "{error}");
}
