//! User work over scheduled work: preemption and drain priority.

use super::*;

fn cron_start(m: &mut M, job: &str, chat: i64) -> T {
    cron_fire(m, job, chat, CronKind::Recurring, 1)
        .ticket()
        .expect("idle lane starts")
}

#[test]
fn user_submit_preempts_a_scheduled_run_of_its_lane() {
    let mut m = machine(2);
    let c = cron_start(&mut m, "j", 1);
    let admission = m.submit(text("u", 1), Millis(0)).unwrap();
    assert!(matches!(admission, Admission::Queued { cancelled: Some(r), .. } if r == c.run));
    assert!(c.cancel.is_cancelled());
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(view.cancel, Some(CancelReason::Preempt));
}

#[test]
fn user_submit_preempts_a_scheduled_run_holding_the_capacity() {
    let mut m = machine(1);
    let c = cron_start(&mut m, "j", 1);
    let admission = m.submit(text("u", 2), Millis(0)).unwrap();
    assert!(matches!(admission, Admission::Queued { cancelled: Some(r), .. } if r == c.run));
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Preempted);
    assert_eq!(ids(&report.tickets), ["u"]);
    assert_eq!(queued_ids(&m, 1), [fire_id("j", 1)]);
}

#[test]
fn user_submit_does_not_preempt_user_runs() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    let admission = m.submit(text("u", 2), Millis(0)).unwrap();
    assert!(matches!(
        admission,
        Admission::Queued {
            cancelled: None,
            ..
        }
    ));
    assert!(!a.cancel.is_cancelled());
}

#[test]
fn scheduled_submit_never_preempts() {
    let mut m = machine(1);
    let c = cron_start(&mut m, "j", 1);
    let admission = cron_fire(&mut m, "k", 2, CronKind::Recurring, 1);
    assert!(matches!(
        admission,
        Admission::Queued {
            cancelled: None,
            ..
        }
    ));
    assert!(!c.cancel.is_cancelled());
}

#[test]
fn user_items_start_before_cron_items_of_the_same_lane() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 1);
    queue(&mut m, text("b", 1));
    let b = complete(&mut m, a.run);
    assert_eq!(ids(&b), ["b"]);
    assert_eq!(ids(&complete(&mut m, b[0].run)), [fire_id("j", 1)]);
}

#[test]
fn drain_serves_user_lanes_before_cron_lanes() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    // The cron lane has waited longer, the user lane still goes first.
    cron_fire(&mut m, "j", 2, CronKind::Recurring, 1);
    queue(&mut m, text("u", 3));
    let next = complete(&mut m, a.run);
    assert_eq!(ids(&next), ["u"]);
    assert_eq!(ids(&complete(&mut m, next[0].run)), [fire_id("j", 1)]);
}

#[test]
fn preempted_run_stopped_by_the_user_is_not_requeued() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    queue(&mut m, text("u", 2));
    m.stop(lane(1), false, Millis(0));
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert_eq!(report.cron_ended, Some(JobId("j".into())));
    assert!(queued_ids(&m, 1).is_empty());
}

#[test]
fn preempted_run_that_completed_anyway_is_not_requeued() {
    let mut m = machine(1);
    let c = cron_start(&mut m, "j", 1);
    queue(&mut m, text("u", 1));
    let report = m.finish(c.run, Outcome::Completed, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(ids(&report.tickets), ["u"]);
    assert_eq!(m.queued(), 0);
}

#[test]
fn preemption_cancels_one_scheduled_run_per_waiting_user_lane() {
    let mut m = machine(2);
    let c1 = cron_start(&mut m, "j1", 1);
    let c2 = cron_start(&mut m, "j2", 2);
    queue(&mut m, text("u3", 3));
    // A second item of the same lane needs no second slot.
    queue(&mut m, text("u3b", 3));
    assert!(c1.cancel.is_cancelled());
    assert!(!c2.cancel.is_cancelled());
    queue(&mut m, text("u4", 4));
    assert!(c2.cancel.is_cancelled());
}

#[test]
fn interrupt_of_a_scheduled_run_preempts_it() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    m.interrupt(text("i", 1), Millis(0)).unwrap();
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    // User work displaced the fire: it comes back, the job is kept.
    assert_eq!(report.outcome, Outcome::Preempted);
    assert_eq!(report.cron_ended, None);
    assert_eq!(ids(&report.tickets), ["i"]);
    assert_eq!(queued_ids(&m, 1), [fire_id("j", 1)]);
}

#[test]
fn user_item_behind_an_already_preempted_run_of_its_lane_still_preempts() {
    let mut m = machine(2);
    let c1 = cron_start(&mut m, "j1", 1);
    let c2 = cron_start(&mut m, "j2", 2);
    // Lane 3's item preempts c1; then lane 1 gets user work of its own.
    queue(&mut m, text("u3", 3));
    assert!(c1.cancel.is_cancelled());
    queue(&mut m, text("u1", 1));
    // c1 frees one slot and lane 3 takes it; lane 1 needs another one, and
    // only a scheduled run holds it.
    let report = m.finish(c1.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(ids(&report.tickets), ["u3"]);
    assert!(
        c2.cancel.is_cancelled(),
        "user work waits behind an uncancelled scheduled run"
    );
}

#[test]
fn preemption_counts_slots_that_stopping_runs_will_free() {
    let mut m = machine(2);
    let c1 = cron_start(&mut m, "j1", 1);
    let c2 = cron_start(&mut m, "j2", 2);
    queue(&mut m, text("u3", 3));
    m.stop(lane(3), true, Millis(0));
    // c1 is stopping already: its slot is enough for lane 4.
    queue(&mut m, text("u4", 4));
    assert!(c1.cancel.is_cancelled());
    assert!(!c2.cancel.is_cancelled());
    let report = m.finish(c1.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(ids(&report.tickets), ["u4"]);
}
