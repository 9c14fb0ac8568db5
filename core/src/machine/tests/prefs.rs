//! Preferences captured by runs, sessions per driver, and `/new`.

use super::*;

fn codex(model: &str) -> Preferences {
    Preferences {
        driver: Driver::Codex,
        model: Some(model.to_owned()),
        effort: Some("high".to_owned()),
        mode: None,
    }
}

#[test]
fn preferences_changed_mid_run_leave_the_run_as_captured() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    m.set_preferences(lane(1), codex("gpt"), Millis(0));
    assert_eq!((a.driver, a.model.clone()), (Driver::Claude, None));
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(view.driver, Driver::Claude);
    let b = complete(&mut m, a.run).pop().unwrap();
    assert_eq!(b.driver, Driver::Codex);
    assert_eq!(b.model.as_deref(), Some("gpt"));
    assert_eq!(b.effort.as_deref(), Some("high"));
}

#[test]
fn preferences_are_per_lane_with_defaults_elsewhere() {
    let mut m = machine(1);
    m.set_preferences(lane(1), codex("gpt"), Millis(0));
    assert_eq!(m.preferences(lane(1)), codex("gpt"));
    assert_eq!(m.preferences(lane(2)), Preferences::default());
}

#[test]
fn session_is_remembered_per_driver_and_resumed_by_it() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.record_agent_session(a.run, "claude-1".into(), Millis(0))
        .unwrap();
    complete(&mut m, a.run);
    m.set_preferences(lane(1), codex("gpt"), Millis(0));
    let b = start(&mut m, text("b", 1));
    assert_eq!(b.resume, None);
    m.record_agent_session(b.run, "codex-1".into(), Millis(0))
        .unwrap();
    complete(&mut m, b.run);
    m.set_preferences(lane(1), Preferences::default(), Millis(0));
    let c = start(&mut m, text("c", 1));
    assert_eq!(c.resume.as_deref(), Some("claude-1"));
    assert_eq!(
        m.session(lane(1), Driver::Codex).as_deref(),
        Some("codex-1")
    );
}

#[test]
fn new_session_on_idle_lane_forgets_sessions_now() {
    let mut m = machine(1);
    m.set_session(lane(1), Driver::Claude, Some("s".into()), Millis(0));
    m.set_session(lane(1), Driver::Codex, Some("t".into()), Millis(0));
    let report = m.new_session(lane(1), Millis(0));
    assert!(report.forgotten_now);
    assert_eq!(report.cancelled, None);
    assert_eq!(m.session(lane(1), Driver::Claude), None);
    assert_eq!(m.session(lane(1), Driver::Codex), None);
}

#[test]
fn new_session_cancels_removes_and_forgets_when_the_run_finishes() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.record_agent_session(a.run, "s".into(), Millis(0))
        .unwrap();
    queue(&mut m, text("b", 1));
    let report = m.new_session(lane(1), Millis(0));
    assert_eq!(
        report.cancelled.unwrap().cancel,
        Some(CancelReason::NewSession)
    );
    assert_eq!(item_ids(&report.removed), ["b"]);
    assert!(!report.forgotten_now);
    assert!(a.cancel.is_cancelled());
    // Kept until the old run is over, so nothing resumes a half-written session.
    assert_eq!(m.session(lane(1), Driver::Claude).as_deref(), Some("s"));
    // Restoring a session meanwhile is refused.
    m.set_session(lane(1), Driver::Claude, Some("x".into()), Millis(0));
    let done = m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert!(done.sessions_forgotten);
    assert_eq!(m.session(lane(1), Driver::Claude), None);
    let c = start(&mut m, text("c", 1));
    assert_eq!(c.resume, None);
}

#[test]
fn new_session_pending_forget_does_not_leak_into_the_next_run() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.new_session(lane(1), Millis(0));
    m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    let b = start(&mut m, text("b", 1));
    m.record_agent_session(b.run, "fresh".into(), Millis(0))
        .unwrap();
    let report = m.finish(b.run, Outcome::Completed, Millis(0)).unwrap();
    assert!(!report.sessions_forgotten);
    assert_eq!(m.session(lane(1), Driver::Claude).as_deref(), Some("fresh"));
}
