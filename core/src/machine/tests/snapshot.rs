//! Snapshots: consistent views whose counts add up.

use super::*;

fn check_consistent(s: &Snapshot) {
    let running = s.lanes.iter().filter(|l| l.run.is_some()).count();
    let queued: usize = s.lanes.iter().map(|l| l.queued.len()).sum();
    assert_eq!(s.in_flight, running);
    assert_eq!(s.queued, queued);
    assert!(s.in_flight <= s.capacity);
    for l in &s.lanes {
        assert_eq!(l.queued_user + l.queued_cron, l.queued.len());
        assert_eq!(l.previews.len(), l.queued.len());
        assert!(
            l.run.is_some() || !l.queued.is_empty(),
            "idle lanes are left out"
        );
        if let Some(run) = &l.run {
            assert_eq!(run.lane, l.lane);
        }
    }
}

#[test]
fn snapshot_counts_add_up() {
    let mut m = machine(2);
    let a = start(&mut m, text("a", 1));
    start(&mut m, text("b", 2));
    queue(&mut m, text("c", 1));
    queue(&mut m, text("d", 3));
    cron_fire(&mut m, "j", 3, CronKind::Recurring, 1);
    let s = m.snapshot(Millis(0));
    check_consistent(&s);
    assert_eq!((s.capacity, s.in_flight, s.queued), (2, 2, 3));
    let lanes: Vec<_> = s.lanes.iter().map(|l| l.lane.chat).collect();
    assert_eq!(lanes, [1, 2, 3]);
    assert_eq!((s.lanes[2].queued_user, s.lanes[2].queued_cron), (1, 1));
    complete(&mut m, a.run);
    check_consistent(&m.snapshot(Millis(0)));
}

#[test]
fn snapshot_shows_captured_driver_age_phase_and_tool() {
    let mut m = machine(1);
    let a = m
        .submit(text("a", 1), Millis(100))
        .unwrap()
        .ticket()
        .unwrap();
    m.spawned(a.run, Millis(110)).unwrap();
    m.output(a.run, Output::Tool("Edit".into())).unwrap();
    m.set_preferences(
        lane(1),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
        Millis(120),
    );
    let s = m.snapshot(Millis(350));
    let l = &s.lanes[0];
    let run = l.run.as_ref().unwrap();
    assert_eq!(run.driver, Driver::Claude);
    assert_eq!(l.preferences.driver, Driver::Codex);
    assert_eq!((run.age_ms, run.phase), (250, RunPhase::Running));
    assert_eq!(run.tool.as_deref(), Some("Edit"));
}

#[test]
fn snapshot_previews_queued_prompts() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    let long = Item::text("b", lane(1), "x".repeat(100), Millis(0));
    queue(&mut m, long);
    let s = m.snapshot(Millis(0));
    let preview = &s.lanes[0].previews[0];
    assert!(preview.chars().count() < 100);
    assert!(preview.ends_with('…'));
}

#[test]
fn lane_status_of_unknown_lane_is_idle_with_defaults() {
    let m = machine(1);
    let l = m.lane_status(lane(9), Millis(0));
    assert_eq!(l.run, None);
    assert!(l.queued.is_empty());
    assert_eq!(l.preferences, Preferences::default());
}

#[test]
fn snapshot_of_finished_lane_leaves_it_out() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    complete(&mut m, a.run);
    let s = m.snapshot(Millis(0));
    assert!(s.lanes.is_empty());
    assert_eq!((s.in_flight, s.queued), (0, 0));
}
