//! The global drain: progress across lanes, round robin, capacity filled.

use super::*;

#[test]
fn finish_drains_another_lanes_queue() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("b", 2));
    assert_eq!(ids(&complete(&mut m, a.run)), ["b"]);
}

#[test]
fn drain_round_robins_between_lanes() {
    let mut m = machine(1);
    let x = start(&mut m, text("x", 9));
    queue(&mut m, text("a1", 1));
    queue(&mut m, text("a2", 1));
    queue(&mut m, text("b1", 2));
    queue(&mut m, text("b2", 2));
    queue(&mut m, text("c1", 3));
    let mut order = Vec::new();
    let mut run = x.run;
    while let Some(next) = complete(&mut m, run).pop() {
        order.push(next.item.id.0.clone());
        run = next.run;
    }
    assert_eq!(order, ["a1", "b1", "c1", "a2", "b2"]);
}

#[test]
fn drain_fills_all_free_capacity_from_several_lanes() {
    let mut m = machine(3);
    let a = start(&mut m, text("a", 1));
    let b = start(&mut m, text("b", 2));
    let c = start(&mut m, text("c", 3));
    queue(&mut m, text("a2", 1));
    queue(&mut m, text("d", 4));
    queue(&mut m, text("e", 5));
    m.stop(lane(1), false, Millis(0));
    assert_eq!(ids(&complete(&mut m, b.run)), ["d"]);
    assert_eq!(ids(&complete(&mut m, c.run)), ["e"]);
    assert_eq!(ids(&complete(&mut m, a.run)), ["a2"]);
    assert_eq!(m.in_flight(), 3);
}

#[test]
fn drain_keeps_one_run_per_lane() {
    let mut m = machine(3);
    let a = start(&mut m, text("a", 1));
    queue(&mut m, text("a2", 1));
    queue(&mut m, text("a3", 1));
    assert_eq!(m.in_flight(), 1);
    let next = complete(&mut m, a.run);
    assert_eq!(ids(&next), ["a2"]);
    assert_eq!(m.in_flight(), 1);
}
