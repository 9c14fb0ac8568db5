//! Shutdown: stops admitting, cancels in-flight runs, hands back the queues.

use super::*;

#[test]
fn shutdown_cancels_in_flight_and_hands_back_queued_in_order() {
    let mut m = machine(2);
    let a = start(&mut m, text("a", 2));
    let b = start(&mut m, text("b", 1));
    queue(&mut m, text("c", 2));
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 1);
    queue(&mut m, text("d", 1));
    m.interrupt(text("i", 2), Millis(0)).unwrap();
    let report = m.shutdown(Millis(0));
    let cancelled: Vec<_> = report.cancelled.iter().map(|v| v.run).collect();
    assert_eq!(cancelled, [b.run, a.run]);
    assert!(
        report
            .cancelled
            .iter()
            .all(|v| v.cancel == Some(CancelReason::Shutdown)
                || v.cancel == Some(CancelReason::Interrupt))
    );
    assert_eq!(item_ids(&report.queued), ["d", &fire_id("j", 1), "i", "c"]);
    assert!(a.cancel.is_cancelled() && b.cancel.is_cancelled());
    assert_eq!(m.queued(), 0);
    assert!(m.is_shutting_down());
}

#[test]
fn shutdown_refuses_new_work_of_every_kind() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.shutdown(Millis(0));
    assert_eq!(
        m.submit(text("b", 1), Millis(0)).unwrap_err(),
        Error::ShuttingDown
    );
    assert_eq!(
        m.interrupt(text("c", 1), Millis(0)).unwrap_err(),
        Error::ShuttingDown
    );
    assert_eq!(
        m.retry_last(lane(1), ItemId("d".into()), Millis(0))
            .unwrap_err(),
        Error::ShuttingDown
    );
    assert_eq!(m.spawned(a.run, Millis(0)), Err(Error::Cancelled(a.run)));
}

#[test]
fn shutdown_then_finish_starts_nothing() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 2));
    m.shutdown(Millis(0));
    let report = m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert!(report.tickets.is_empty());
    assert_eq!((m.in_flight(), m.queued()), (0, 0));
}

#[test]
fn shutdown_twice_hands_back_nothing_new() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    assert_eq!(m.shutdown(Millis(0)).queued.len(), 1);
    let again = m.shutdown(Millis(0));
    assert!(again.queued.is_empty());
    assert_eq!(again.cancelled.len(), 1);
}

#[test]
fn shutdown_cutting_a_one_shot_fire_keeps_its_job() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    m.shutdown(Millis(0));
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    // It neither completed nor failed: like after a crash, the job stays.
    assert_eq!(report.cron_ended, None);
    assert_eq!(m.cron_kind(&JobId("j".into())), Some(CronKind::OneShot));
}

#[test]
fn shutdown_does_not_keep_a_one_shot_whose_fire_completed() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    m.shutdown(Millis(0));
    let report = m.finish(c.run, Outcome::Completed, Millis(0)).unwrap();
    assert_eq!(report.cron_ended, Some(JobId("j".into())));
}
