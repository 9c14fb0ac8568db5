//! interrupt: plain submit when idle, cancels the current run, goes first.

use super::*;

fn interrupt(m: &mut M, item: Item) -> Admission<StdCancel> {
    m.interrupt(item, Millis(0)).expect("admitted")
}

#[test]
fn interrupt_on_idle_lane_is_a_plain_submit() {
    let mut m = machine(1);
    let ticket = interrupt(&mut m, text("i", 1)).ticket().expect("starts");
    assert_eq!(ticket.item.id.0, "i");
    assert!(!ticket.cancel.is_cancelled());
}

#[test]
fn interrupt_cancels_the_current_run_and_waits_for_it() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    let admission = interrupt(&mut m, text("i", 1));
    assert!(matches!(
        admission,
        Admission::Queued { position: 1, cancelled: Some(run) } if run == a.run
    ));
    assert!(a.cancel.is_cancelled());
    // Nothing starts beside the cancelled run.
    assert_eq!(m.in_flight(), 1);
    assert_eq!(m.spawned(a.run, Millis(0)), Err(Error::Cancelled(a.run)));
    let tickets = m
        .finish(a.run, Outcome::Cancelled, Millis(0))
        .unwrap()
        .tickets;
    assert_eq!(ids(&tickets), ["i"]);
}

#[test]
fn interrupt_goes_after_earlier_interrupts_and_before_plain_items() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("q1", 1));
    assert!(matches!(
        interrupt(&mut m, text("i1", 1)),
        Admission::Queued { position: 1, .. }
    ));
    assert!(matches!(
        interrupt(&mut m, text("i2", 1)),
        Admission::Queued { position: 2, .. }
    ));
    assert_eq!(queued_ids(&m, 1), ["i1", "i2", "q1"]);
    let mut order = Vec::new();
    let mut run = a.run;
    for _ in 0..3 {
        let next = complete(&mut m, run).pop().expect("next starts");
        order.push(next.item.id.0.clone());
        run = next.run;
    }
    assert_eq!(order, ["i1", "i2", "q1"]);
}

#[test]
fn interrupt_takes_the_freed_capacity_before_other_lanes() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    // Lane 2 has waited longer than the interrupt.
    queue(&mut m, text("b", 2));
    interrupt(&mut m, text("i", 1));
    let tickets = m
        .finish(a.run, Outcome::Cancelled, Millis(0))
        .unwrap()
        .tickets;
    assert_eq!(ids(&tickets), ["i"]);
    let next = complete(&mut m, tickets[0].run);
    assert_eq!(ids(&next), ["b"]);
}

#[test]
fn interrupt_of_stopped_run_reports_that_run_without_cancelling_again() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.stop(lane(1), false, Millis(0));
    let admission = interrupt(&mut m, text("i", 1));
    assert!(matches!(admission, Admission::Queued { cancelled: Some(run), .. } if run == a.run));
    let view = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(view.cancel, Some(CancelReason::Stop));
}

#[test]
fn interrupt_on_full_queue_is_rejected_and_cancels_nothing() {
    let mut m = Machine::new(Config {
        max_queue: 1,
        ..config(1)
    });
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let err = m.interrupt(text("i", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::QueueFull(1));
    assert!(!a.cancel.is_cancelled());
}

#[test]
fn interrupt_duplicate_is_refused_and_cancels_nothing() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    let err = m.interrupt(text("a", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::Duplicate(ItemId("a".into())));
    assert!(!a.cancel.is_cancelled());
}
