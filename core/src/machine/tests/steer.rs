//! Run now and Cancel on a queued message: atomic, refused once it left.

use super::*;

#[test]
fn run_now_moves_the_item_first_and_cancels_the_run_like_an_interrupt() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    queue(&mut m, text("q2", 1));
    let report = m.run_now(lane(1), &id("q2"), Millis(0)).unwrap();
    assert_eq!(report.position, 1);
    assert_eq!(report.cancelled, Some(a.run));
    assert!(a.cancel.is_cancelled());
    assert_eq!(queued_ids(&m, 1), ["q2", "q1"]);
    // Exactly the capacity the cancelled run frees goes to it.
    assert_eq!(m.in_flight(), 1);
    let next = m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(ids(&next.tickets), ["q2"]);
}

#[test]
fn run_now_goes_behind_earlier_interrupts() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    m.interrupt(text("i1", 1), Millis(0)).unwrap();
    let report = m.run_now(lane(1), &id("q1"), Millis(0)).unwrap();
    assert_eq!(report.position, 2);
    assert_eq!(queued_ids(&m, 1), ["i1", "q1"]);
}

#[test]
fn run_now_preempts_a_scheduled_run_so_its_fire_comes_back() {
    let mut m = machine(1);
    let Admission::Started(fire) = cron_fire(&mut m, "j", 1, CronKind::Recurring, 5) else {
        panic!("the fire starts on an idle lane");
    };
    queue(&mut m, text("q1", 1));
    let report = m.run_now(lane(1), &id("q1"), Millis(0)).unwrap();
    assert_eq!(report.cancelled, Some(fire.run));
    let finish = m.finish(fire.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(finish.outcome, Outcome::Preempted);
    assert_eq!(ids(&finish.tickets), ["q1"]);
}

#[test]
fn run_now_on_a_message_that_started_or_left_is_refused_and_changes_nothing() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    let started = complete(&mut m, a.run);
    assert_eq!(ids(&started), ["q1"]);
    let journal = m.drain_journal().len();
    assert_eq!(
        m.run_now(lane(1), &id("q1"), Millis(0)),
        Err(Error::NotQueued(id("q1")))
    );
    assert!(!started[0].cancel.is_cancelled());
    assert_eq!(m.drain_journal().len(), 0, "{journal} entries before");
    assert_eq!(
        m.run_now(lane(1), &id("never"), Millis(0)),
        Err(Error::NotQueued(id("never")))
    );
}

#[test]
fn cancel_removes_exactly_that_item_and_frees_its_id() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    queue(&mut m, text("q2", 1));
    let removed = m.cancel_queued(lane(1), &id("q1"), Millis(0)).unwrap();
    assert_eq!(removed.id.0, "q1");
    assert_eq!(queued_ids(&m, 1), ["q2"]);
    assert_eq!(m.queued(), 1);
    assert!(!a.cancel.is_cancelled(), "the run goes on");
    assert_eq!(
        m.cancel_queued(lane(1), &id("q1"), Millis(0)),
        Err(Error::NotQueued(id("q1"))),
        "a second tap answers once"
    );
    assert_eq!(ids(&complete(&mut m, a.run)), ["q2"]);
}

#[test]
fn cancel_of_an_interrupt_keeps_the_other_interrupts_first() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    m.interrupt(text("i1", 1), Millis(0)).unwrap();
    m.interrupt(text("i2", 1), Millis(0)).unwrap();
    m.cancel_queued(lane(1), &id("i1"), Millis(0)).unwrap();
    m.interrupt(text("i3", 1), Millis(0)).unwrap();
    assert_eq!(queued_ids(&m, 1), ["i2", "i3", "q1"]);
    m.finish(a.run, Outcome::Cancelled, Millis(0)).unwrap();
    assert_eq!(queued_ids(&m, 1), ["i3", "q1"]);
}

#[test]
fn the_journal_replays_run_now_and_cancel() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    for id in ["q1", "q2", "q3"] {
        queue(&mut m, text(id, 1));
    }
    m.run_now(lane(1), &id("q3"), Millis(0)).unwrap();
    m.cancel_queued(lane(1), &id("q1"), Millis(0)).unwrap();
    let recovered = crate::journal::replay(&m.drain_journal());
    let user: Vec<&str> = recovered.lanes[&lane(1)]
        .user
        .iter()
        .map(|item| item.id.0.as_str())
        .collect();
    assert_eq!(user, ["q3", "q2"]);
    assert!(recovered.ended.contains(&id("q1")));
}

fn id(id: &str) -> ItemId {
    ItemId(id.to_owned())
}
