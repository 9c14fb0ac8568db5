//! submit: start, queue, position, duplicates, full queues, shutdown.

use super::*;

#[test]
fn submit_starts_on_idle_lane_with_free_capacity() {
    let mut m = machine(1);
    let ticket = start(&mut m, text("a", 1));
    assert_eq!(ticket.item.id.0, "a");
    assert_eq!(ticket.run, RunId(1));
    assert_eq!((m.in_flight(), m.queued()), (1, 0));
}

#[test]
fn submit_queues_behind_busy_lane_with_position() {
    let mut m = machine(2);
    start(&mut m, text("a", 1));
    assert_eq!(queue(&mut m, text("b", 1)), 1);
    assert_eq!(queue(&mut m, text("c", 1)), 2);
    assert_eq!(queued_ids(&m, 1), ["b", "c"]);
    assert_eq!((m.in_flight(), m.queued()), (1, 2));
}

#[test]
fn submit_queues_on_idle_lane_when_capacity_is_full() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    let admission = m.submit(text("b", 2), Millis(0)).unwrap();
    assert!(matches!(
        admission,
        Admission::Queued {
            position: 1,
            cancelled: None
        }
    ));
}

#[test]
fn submit_run_ids_are_never_reused() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    complete(&mut m, a.run);
    let b = start(&mut m, text("b", 1));
    assert!(b.run > a.run);
}

#[test]
fn submit_duplicate_of_queued_item_changes_nothing() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    let before = m.snapshot(Millis(0));
    let err = m.submit(text("b", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::Duplicate(ItemId("b".into())));
    assert_eq!(m.snapshot(Millis(0)), before);
}

#[test]
fn submit_duplicate_of_running_item_is_refused() {
    let mut m = machine(2);
    start(&mut m, text("a", 1));
    let err = m.submit(text("a", 2), Millis(0)).unwrap_err();
    assert_eq!(err, Error::Duplicate(ItemId("a".into())));
    assert_eq!(m.in_flight(), 1);
}

#[test]
fn submit_duplicate_within_dedupe_window_is_refused_after_finish() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    complete(&mut m, a.run);
    let err = m.submit(text("a", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::Duplicate(ItemId("a".into())));
}

#[test]
fn submit_id_is_accepted_again_once_out_of_dedupe_window() {
    let mut m = Machine::new(Config {
        dedupe_window: 1,
        ..config(1)
    });
    let a = start(&mut m, text("a", 1));
    complete(&mut m, a.run);
    let b = start(&mut m, text("b", 1));
    complete(&mut m, b.run);
    // "b" pushed "a" out of a window of one.
    assert!(m.submit(text("a", 1), Millis(0)).is_ok());
    assert!(m.submit(text("b", 1), Millis(0)).is_err());
}

#[test]
fn submit_to_full_lane_queue_is_rejected_explicitly() {
    let mut m = Machine::new(Config {
        max_queue: 2,
        ..config(1)
    });
    start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    queue(&mut m, text("c", 1));
    let err = m.submit(text("d", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::QueueFull(2));
    assert_eq!(queued_ids(&m, 1), ["b", "c"]);
    // The limit is per lane, and a rejected id was never admitted.
    assert_eq!(queue(&mut m, text("x", 2)), 1);
    assert_eq!(queue(&mut m, text("d", 3)), 1);
}

#[test]
fn submit_while_shutting_down_is_refused() {
    let mut m = machine(1);
    m.shutdown(Millis(0));
    let err = m.submit(text("a", 1), Millis(0)).unwrap_err();
    assert_eq!(err, Error::ShuttingDown);
    assert_eq!((m.in_flight(), m.queued()), (0, 0));
}

#[test]
fn submit_of_cron_item_counts_user_items_ahead_in_position() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    queue(&mut m, text("b", 1));
    queue(&mut m, text("c", 1));
    let admission = cron_fire(&mut m, "j", 1, CronKind::Recurring, 5);
    assert!(matches!(
        admission,
        Admission::Queued {
            position: 3,
            cancelled: None
        }
    ));
    // A later user item still goes before it.
    assert_eq!(queue(&mut m, text("d", 1)), 3);
    assert_eq!(queued_ids(&m, 1), ["b", "c", "d", &fire_id("j", 5)]);
}

#[test]
fn retry_last_resubmits_the_lanes_own_last_item_under_a_new_id() {
    let mut m = machine(2);
    let a = start(&mut m, text("a", 1));
    let b = start(&mut m, text("b", 2));
    complete(&mut m, a.run);
    complete(&mut m, b.run);
    let again = m
        .retry_last(lane(1), ItemId("a2".into()), Millis(9))
        .unwrap()
        .ticket()
        .expect("idle lane starts");
    assert_eq!(again.item.id.0, "a2");
    assert_eq!(again.item.prompt, "prompt a");
    assert_eq!(again.item.lane, lane(1));
}

#[test]
fn retry_last_without_history_is_refused() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    let err = m
        .retry_last(lane(2), ItemId("x".into()), Millis(0))
        .unwrap_err();
    assert_eq!(err, Error::NothingToRetry);
}

#[test]
fn submit_of_every_user_origin_is_user_work() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    let origins = [
        Origin::Voice,
        Origin::Audio,
        Origin::Photo,
        Origin::Document,
        Origin::Video,
        Origin::Button,
        Origin::Recap,
    ];
    for (n, origin) in origins.into_iter().enumerate() {
        let item = Item {
            origin,
            ..text(&format!("o{n}"), 1)
        };
        assert_eq!(queue(&mut m, item), n + 1);
    }
    let status = m.lane_status(lane(1), Millis(0));
    assert_eq!((status.queued_user, status.queued_cron), (7, 0));
}
