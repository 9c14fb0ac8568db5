//! stop: binds to one run, reports exactly what it cancelled and removed.

use super::*;

#[test]
fn stop_cancels_the_current_run_and_reports_it() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.spawned(a.run, Millis(0)).unwrap();
    let report = m.stop(lane(1), false, Millis(0));
    let view = report.cancelled.expect("a run was cancelled");
    assert_eq!((view.run, view.item.0.as_str()), (a.run, "a"));
    assert_eq!(view.cancel, Some(CancelReason::Stop));
    assert!(report.removed.is_empty());
    assert!(a.cancel.is_cancelled());
}

#[test]
fn stop_on_idle_lane_reports_nothing() {
    let mut m = machine(1);
    let report = m.stop(lane(1), true, Millis(0));
    assert_eq!(report.cancelled, None);
    assert!(report.removed.is_empty());
}

#[test]
fn stop_without_clearing_keeps_the_queue_running() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let report = m.stop(lane(1), false, Millis(0));
    assert!(report.removed.is_empty());
    let tickets = m
        .finish(a.run, Outcome::Cancelled, Millis(0))
        .unwrap()
        .tickets;
    assert_eq!(ids(&tickets), ["b"]);
}

#[test]
fn stop_with_clearing_reports_every_removed_item_in_start_order() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 7);
    m.interrupt(text("i", 1), Millis(0)).unwrap();
    queue(&mut m, text("c", 2));
    let report = m.stop(lane(1), true, Millis(0));
    assert_eq!(item_ids(&report.removed), ["i", "b", &fire_id("j", 7)]);
    assert_eq!(report.cancelled.unwrap().run, a.run);
    assert_eq!(m.queued(), 1);
    // The freed capacity goes to the other lane; nothing of lane 1 is left.
    let tickets = m
        .finish(a.run, Outcome::Cancelled, Millis(0))
        .unwrap()
        .tickets;
    assert_eq!(ids(&tickets), ["c"]);
    assert!(queued_ids(&m, 1).is_empty());
}

#[test]
fn stop_of_admitted_run_makes_spawn_refused() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.stop(lane(1), false, Millis(0));
    assert_eq!(m.spawned(a.run, Millis(0)), Err(Error::Cancelled(a.run)));
    // Refused, the runner still hands the run back.
    let report = m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn stop_never_affects_a_later_run() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    m.stop(lane(1), false, Millis(0));
    let b = m
        .finish(a.run, Outcome::Cancelled, Millis(0))
        .unwrap()
        .tickets
        .pop()
        .unwrap();
    assert!(!b.cancel.is_cancelled());
    assert_eq!(m.spawned(b.run, Millis(0)), Ok(()));
    assert_eq!(m.retry(b.run, Millis(0)), Ok(1));
}

#[test]
fn stop_removed_items_count_as_seen_for_dedupe() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    m.stop(lane(1), true, Millis(0));
    let err = m.submit(text("b", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::Duplicate(ItemId("b".into())));
}

#[test]
fn stop_reports_the_driver_the_run_captured() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    m.set_preferences(
        lane(1),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
        Millis(0),
    );
    let view = m.stop(lane(1), false, Millis(0)).cancelled.unwrap();
    assert_eq!(view.driver, Driver::Claude);
}

#[test]
fn stop_of_one_lane_leaves_other_lanes_alone() {
    let mut m = machine(2);
    let a = start(&mut m, text("a", 1));
    let b = start(&mut m, text("b", 2));
    m.stop(lane(1), true, Millis(0));
    assert!(a.cancel.is_cancelled());
    assert!(!b.cancel.is_cancelled());
    assert_eq!(m.spawned(b.run, Millis(0)), Ok(()));
}
