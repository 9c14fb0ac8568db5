//! What runners report: spawned, finish, retry, agent sessions, output.

use super::*;

#[test]
fn spawned_is_granted_once_to_an_uncancelled_run() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    assert_eq!(m.spawned(a.run, Millis(0)), Ok(()));
    assert_eq!(
        m.lane_status(lane(1), Millis(0)).run.unwrap().phase,
        RunPhase::Running
    );
    assert_eq!(
        m.spawned(a.run, Millis(0)),
        Err(Error::AlreadySpawned(a.run))
    );
}

#[test]
fn spawned_is_refused_once_the_run_is_cancelled() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.new_session(lane(1), Millis(0));
    assert_eq!(m.spawned(a.run, Millis(0)), Err(Error::Cancelled(a.run)));
}

#[test]
fn spawned_is_refused_for_a_finished_run() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    complete(&mut m, a.run);
    assert_eq!(m.spawned(a.run, Millis(0)), Err(Error::StaleRun(a.run)));
}

#[test]
fn finish_with_every_outcome_frees_lane_and_capacity() {
    for outcome in [Outcome::Completed, Outcome::Failed, Outcome::Cancelled] {
        let mut m = machine(1);
        let a = start(&mut m, text("a", 1));
        queue(&mut m, text("b", 2));
        let report = m.finish(a.run, outcome, Millis(0)).unwrap();
        assert_eq!(report.outcome, outcome);
        assert_eq!(ids(&report.tickets), ["b"]);
        assert_eq!((m.in_flight(), m.queued()), (1, 0));
    }
}

#[test]
fn finish_preempted_is_recorded_cancelled_unless_the_core_preempted() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    let report = m.finish(a.run, Outcome::Preempted, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    // The item is not requeued: it was user work, nobody preempted it.
    assert_eq!(m.queued(), 0);
}

#[test]
fn finish_cancelled_of_a_preempted_run_is_recorded_preempted() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    queue(&mut m, text("u", 2));
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Preempted);
    assert_eq!(ids(&report.tickets), ["u"]);
    assert_eq!(queued_ids(&m, 1), [fire_id("j", 1)]);
}

#[test]
fn finish_twice_is_refused_as_stale() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    complete(&mut m, a.run);
    let err = m.finish(a.run, Outcome::Completed, Millis(0)).unwrap_err();
    assert_eq!(err, Error::StaleRun(a.run));
    assert_eq!(m.in_flight(), 1);
}

#[test]
fn finish_of_unknown_run_is_refused() {
    let mut m = machine(1);
    let err = m
        .finish(RunId(99), Outcome::Completed, Millis(0))
        .unwrap_err();
    assert_eq!(err, Error::StaleRun(RunId(99)));
}

#[test]
fn retry_of_current_run_counts_attempts_and_needs_a_new_spawn() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.spawned(a.run, Millis(0)).unwrap();
    assert_eq!(m.retry(a.run, Millis(0)), Ok(1));
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!((view.phase, view.attempt), (RunPhase::Admitted, 1));
    assert_eq!(m.spawned(a.run, Millis(0)), Ok(()));
    assert_eq!(m.retry(a.run, Millis(0)), Ok(2));
}

#[test]
fn retry_beyond_the_limit_is_refused() {
    let mut m = Machine::new(Config {
        max_retries: 1,
        ..config(1)
    });
    let a = start(&mut m, text("a", 1));
    assert_eq!(m.retry(a.run, Millis(0)), Ok(1));
    assert_eq!(m.retry(a.run, Millis(0)), Err(Error::RetryLimit(a.run, 1)));
}

#[test]
fn retry_of_a_cancelled_run_is_refused() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.interrupt(text("i", 1), Millis(0)).unwrap();
    assert_eq!(m.retry(a.run, Millis(0)), Err(Error::Cancelled(a.run)));
}

#[test]
fn retry_of_a_stale_run_is_refused() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let b = complete(&mut m, a.run).pop().unwrap();
    assert_eq!(m.retry(a.run, Millis(0)), Err(Error::StaleRun(a.run)));
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!((view.run, view.attempt), (b.run, 0));
}

#[test]
fn record_agent_session_stores_under_the_captured_driver() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.set_preferences(
        lane(1),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
        Millis(0),
    );
    m.record_agent_session(a.run, "s1".into(), Millis(0))
        .unwrap();
    assert_eq!(m.session(lane(1), Driver::Claude), Some("s1".into()));
    assert_eq!(m.session(lane(1), Driver::Codex), None);
}

#[test]
fn record_agent_session_from_a_stale_run_is_refused() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let b = complete(&mut m, a.run).pop().unwrap();
    m.record_agent_session(b.run, "new".into(), Millis(0))
        .unwrap();
    let err = m
        .record_agent_session(a.run, "old".into(), Millis(0))
        .unwrap_err();
    assert_eq!(err, Error::StaleRun(a.run));
    assert_eq!(m.session(lane(1), Driver::Claude), Some("new".into()));
}

#[test]
fn record_agent_session_is_refused_after_new_session() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.new_session(lane(1), Millis(0));
    let err = m
        .record_agent_session(a.run, "old".into(), Millis(0))
        .unwrap_err();
    assert_eq!(err, Error::Cancelled(a.run));
    m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(m.session(lane(1), Driver::Claude), None);
}

#[test]
fn output_is_accepted_in_flight_and_shows_the_last_tool() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.output(a.run, Output::Text).unwrap();
    m.output(a.run, Output::Tool("Bash".into())).unwrap();
    m.output(a.run, Output::Thinking).unwrap();
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(view.tool.as_deref(), Some("Bash"));
}

#[test]
fn output_is_refused_after_finish() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let b = complete(&mut m, a.run).pop().unwrap();
    for output in [Output::Text, Output::Thinking, Output::Tool("Read".into())] {
        assert_eq!(m.output(a.run, output), Err(Error::StaleRun(a.run)));
    }
    // The finished run's tool never shows on the run that replaced it.
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!((view.run, view.tool), (b.run, None));
}
