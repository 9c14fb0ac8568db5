//! Cron arbitration: register, claim, cancel, one-shot and recurring jobs.

use super::*;

fn job(name: &str) -> JobId {
    JobId(name.to_owned())
}

fn claim(m: &mut M, name: &str, fire: u64) -> Result<CronClaim<StdCancel>, Error> {
    m.cron_claim(&job(name), Millis(fire), "p".into(), true, Millis(fire))
}

#[test]
fn cron_claim_starts_a_fire_on_an_idle_lane() {
    let mut m = machine(1);
    let ticket = cron_fire(&mut m, "j", 1, CronKind::OneShot, 10)
        .ticket()
        .expect("starts");
    assert_eq!(ticket.item.id.0, fire_id("j", 10));
    assert_eq!(
        ticket.item.origin,
        Origin::Cron {
            job: job("j"),
            silent: false
        }
    );
}

#[test]
fn cron_register_twice_is_refused() {
    let mut m = machine(1);
    m.cron_register(job("j"), lane(1), CronKind::OneShot, Millis(0))
        .unwrap();
    let err = m
        .cron_register(job("j"), lane(2), CronKind::Recurring, Millis(0))
        .unwrap_err();
    assert_eq!(err, Error::JobExists("j".into()));
}

#[test]
fn cron_cancelled_before_claim_never_runs() {
    let mut m = machine(1);
    m.cron_register(job("j"), lane(1), CronKind::Recurring, Millis(0))
        .unwrap();
    let report = m.cron_cancel(&job("j"), Millis(0)).unwrap();
    assert_eq!((report.removed, report.running), (None, None));
    assert_eq!(
        claim(&mut m, "j", 1).unwrap_err(),
        Error::UnknownJob("j".into())
    );
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn cron_cancel_removes_a_queued_fire() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    cron_fire(&mut m, "j", 1, CronKind::OneShot, 3);
    let report = m.cron_cancel(&job("j"), Millis(0)).unwrap();
    assert_eq!(report.removed, Some(ItemId(fire_id("j", 3))));
    assert_eq!(m.queued(), 0);
    assert!(complete(&mut m, a.run).is_empty());
}

#[test]
fn cron_cancel_reports_a_running_fire_without_killing_it() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::Recurring, 3)
        .ticket()
        .unwrap();
    let report = m.cron_cancel(&job("j"), Millis(0)).unwrap();
    assert_eq!(report.running, Some(c.run));
    assert!(!c.cancel.is_cancelled());
    assert!(m.cron_kind(&job("j")).is_none());
}

#[test]
fn cron_cancel_of_unknown_job_is_refused() {
    let mut m = machine(1);
    assert_eq!(
        m.cron_cancel(&job("nope"), Millis(0)).unwrap_err(),
        Error::UnknownJob("nope".into())
    );
}

#[test]
fn cron_one_shot_is_removed_only_when_its_run_ends() {
    for outcome in [Outcome::Completed, Outcome::Failed] {
        let mut m = machine(1);
        let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 3)
            .ticket()
            .unwrap();
        assert_eq!(m.cron_kind(&job("j")), Some(CronKind::OneShot));
        let report = m.finish(c.run, outcome, Millis(0)).unwrap();
        assert_eq!(report.cron_ended, Some(job("j")));
        assert_eq!(m.cron_kind(&job("j")), None);
    }
}

#[test]
fn cron_one_shot_removed_by_a_stop_that_clears_the_queue() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    cron_fire(&mut m, "j", 1, CronKind::OneShot, 3);
    let report = m.stop(lane(1), true, Millis(0));
    assert_eq!(item_ids(&report.removed), [fire_id("j", 3)]);
    assert_eq!(m.cron_kind(&job("j")), None);
}

#[test]
fn cron_preempted_one_shot_is_requeued_and_kept() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 3)
        .ticket()
        .unwrap();
    let admission = m.submit(text("u", 1), Millis(0)).unwrap();
    assert!(
        matches!(admission, Admission::Queued { position: 1, cancelled: Some(r) } if r == c.run)
    );
    let report = m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(report.outcome, Outcome::Preempted);
    assert_eq!(report.cron_ended, None);
    assert_eq!(m.cron_kind(&job("j")), Some(CronKind::OneShot));
    assert_eq!(ids(&report.tickets), ["u"]);
    let again = complete(&mut m, report.tickets[0].run);
    assert_eq!(ids(&again), [fire_id("j", 3)]);
}

#[test]
fn cron_preempted_fire_goes_back_to_the_head_of_the_cron_queue() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::Recurring, 1)
        .ticket()
        .unwrap();
    cron_fire(&mut m, "k", 1, CronKind::Recurring, 2);
    queue(&mut m, text("u", 1));
    m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(queued_ids(&m, 1), [fire_id("j", 1), fire_id("k", 2)]);
}

#[test]
fn cron_recurring_has_at_most_one_pending_fire() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 1);
    assert!(matches!(
        claim(&mut m, "j", 2).unwrap(),
        CronClaim::AlreadyPending
    ));
    assert_eq!(m.queued(), 1);
    let c = complete(&mut m, a.run).pop().unwrap();
    // Still pending while it runs.
    assert!(matches!(
        claim(&mut m, "j", 3).unwrap(),
        CronClaim::AlreadyPending
    ));
    complete(&mut m, c.run);
    assert!(matches!(
        claim(&mut m, "j", 4).unwrap(),
        CronClaim::Admitted(Admission::Started(_))
    ));
    assert_eq!(m.cron_kind(&job("j")), Some(CronKind::Recurring));
}

#[test]
fn cron_same_fire_twice_is_a_duplicate() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::Recurring, 5)
        .ticket()
        .unwrap();
    complete(&mut m, c.run);
    assert_eq!(
        claim(&mut m, "j", 5).unwrap_err(),
        Error::Duplicate(ItemId(fire_id("j", 5)))
    );
    // The refused claim leaves the job free for its next fire.
    assert!(matches!(
        claim(&mut m, "j", 6).unwrap(),
        CronClaim::Admitted(_)
    ));
}

#[test]
fn cron_claim_after_shutdown_is_refused() {
    let mut m = machine(1);
    m.cron_register(job("j"), lane(1), CronKind::OneShot, Millis(0))
        .unwrap();
    m.shutdown(Millis(0));
    assert_eq!(claim(&mut m, "j", 1).unwrap_err(), Error::ShuttingDown);
}

#[test]
fn cron_cancel_while_its_fire_runs_then_preempted_is_not_requeued() {
    let mut m = machine(1);
    let fire = cron_fire(&mut m, "j", 1, CronKind::Recurring, 5)
        .ticket()
        .expect("starts");
    let report = m.cron_cancel(&job("j"), Millis(6)).unwrap();
    assert_eq!(report.running, Some(fire.run));
    // User work preempts the running fire of the now-cancelled job.
    m.submit(text("u", 1), Millis(7)).unwrap();
    let finished = m.finish(fire.run, Outcome::Cancelled, Millis(8)).unwrap();
    assert_eq!(finished.outcome, Outcome::Cancelled);
    assert_eq!(finished.tickets.len(), 1);
    assert_eq!(finished.tickets[0].item.id.0, "u");
    assert_eq!(
        m.snapshot(Millis(9)).queued,
        0,
        "the cancelled job's fire is gone"
    );
}
