//! Unit tests of each operation, one behaviour per test.

use super::*;
use crate::sync::StdCancel;
use crate::{Item, LaneKey, Outcome};

fn machine(capacity: usize) -> Machine<StdCancel> {
    Machine::new(Config {
        capacity,
        ..Config::default()
    })
}

fn text(id: &str, chat: i64) -> Item {
    Item::text(id, LaneKey::chat(chat), id, Millis(0))
}

#[test]
fn finish_drains_another_lanes_queue() {
    let mut m = machine(1);
    let a = m
        .submit(text("a", 1), Millis(0))
        .unwrap()
        .ticket()
        .expect("idle lane starts");
    let queued = m.submit(text("b", 2), Millis(1)).unwrap();
    assert!(matches!(
        queued,
        Admission::Queued {
            position: 1,
            cancelled: None
        }
    ));
    let report = m.finish(a.run, Outcome::Completed, Millis(2)).unwrap();
    assert_eq!(report.tickets.len(), 1);
    assert_eq!(report.tickets[0].item.id.0, "b");
}
