//! The journal: replay rebuilds what the machine held; restore resumes it.

use super::*;
use crate::journal::{Recovered, replay};

fn replayed(m: &mut M) -> Recovered {
    replay(&m.drain_journal())
}

fn recovered_ids(items: &std::collections::VecDeque<Item>) -> Vec<&str> {
    items.iter().map(|i| i.id.0.as_str()).collect()
}

fn codex() -> Preferences {
    Preferences {
        driver: Driver::Codex,
        model: Some("gpt".into()),
        effort: None,
        mode: Some("plan".into()),
    }
}

/// Lane 1 runs "a" with "b", "c" queued; lane 2 waits with "d" and a cron
/// fire; job "k" is registered and not claimed.
fn busy_machine() -> (M, T) {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.record_agent_session(a.run, "s-a".into(), Millis(0))
        .unwrap();
    queue(&mut m, text("b", 1));
    queue(&mut m, text("c", 1));
    m.set_preferences(lane(2), codex(), Millis(0));
    queue(&mut m, text("d", 2));
    cron_fire(&mut m, "j", 2, CronKind::Recurring, 4);
    m.cron_register(JobId("k".into()), lane(3), CronKind::OneShot, Millis(0))
        .unwrap();
    (m, a)
}

#[test]
fn journal_replay_reproduces_queues_in_flight_sessions_prefs_and_cron() {
    let (mut m, a) = busy_machine();
    let r = replayed(&mut m);
    assert_eq!(recovered_ids(&r.lanes[&lane(1)].user), ["b", "c"]);
    assert_eq!(recovered_ids(&r.lanes[&lane(2)].user), ["d"]);
    assert_eq!(recovered_ids(&r.lanes[&lane(2)].cron), [fire_id("j", 4)]);
    assert_eq!(r.queued(), m.queued());
    let in_flight: Vec<_> = r
        .in_flight
        .iter()
        .map(|(run, i)| (*run, i.id.0.as_str()))
        .collect();
    assert_eq!(in_flight, [(a.run, "a")]);
    assert_eq!(r.lanes[&lane(1)].sessions, [Some("s-a".to_owned()), None]);
    assert_eq!(r.lanes[&lane(2)].preferences, Some(codex()));
    let j = &r.cron[&JobId("j".into())];
    assert_eq!(
        (j.lane, j.kind, j.pending.clone()),
        (lane(2), CronKind::Recurring, Some(ItemId(fire_id("j", 4))))
    );
    let k = &r.cron[&JobId("k".into())];
    assert_eq!(
        (k.lane, k.kind, k.pending.clone()),
        (lane(3), CronKind::OneShot, None)
    );
    assert_eq!(r.next_run, a.run.0 + 1);
}

#[test]
fn journal_replay_follows_finishes_removals_and_ended_jobs() {
    let (mut m, a) = busy_machine();
    let b = complete(&mut m, a.run).pop().unwrap();
    assert_eq!(b.item.id.0, "d");
    m.stop(lane(1), true, Millis(0));
    m.cron_cancel(&JobId("j".into()), Millis(0)).unwrap();
    let r = replayed(&mut m);
    assert_eq!(r.queued(), 0);
    assert_eq!(m.queued(), 0);
    let in_flight: Vec<_> = r.in_flight.values().map(|i| i.id.0.as_str()).collect();
    assert_eq!(in_flight, ["d"]);
    assert!(!r.cron.contains_key(&JobId("j".into())));
    let mut ended: Vec<_> = r.ended.iter().map(|i| i.0.as_str()).collect();
    ended.sort();
    let fire = fire_id("j", 4);
    let mut expected = vec!["a", "b", "c", fire.as_str()];
    expected.sort();
    assert_eq!(ended, expected);
}

#[test]
fn journal_replay_keeps_interrupts_first_and_requeued_fires() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::OneShot, 1)
        .ticket()
        .unwrap();
    queue(&mut m, text("q", 1));
    m.interrupt(text("i", 1), Millis(0)).unwrap();
    m.finish(c.run, Outcome::Cancelled, Millis(0)).unwrap();
    let r = replayed(&mut m);
    // "i" started at once on the freed capacity.
    let in_flight: Vec<_> = r.in_flight.values().map(|i| i.id.0.as_str()).collect();
    assert_eq!(in_flight, ["i"]);
    assert_eq!(recovered_ids(&r.lanes[&lane(1)].user), ["q"]);
    assert_eq!(recovered_ids(&r.lanes[&lane(1)].cron), [fire_id("j", 1)]);
    assert_eq!(queued_ids(&m, 1), ["q", &fire_id("j", 1)]);
}

#[test]
fn restore_starts_queued_items_and_never_reruns_in_flight_ones() {
    let (mut m, a) = busy_machine();
    let journal = m.drain_journal();
    let mut fresh = machine(2);
    let tickets = fresh.restore(replay(&journal), Millis(50));
    // Lane 1 sorts first; both lanes start, "a" (in flight) does not.
    assert_eq!(ids(&tickets), ["b", "d"]);
    assert!(tickets.iter().all(|t| t.run > a.run));
    assert_eq!(tickets[0].resume.as_deref(), Some("s-a"));
    assert_eq!(tickets[1].driver, Driver::Codex);
    assert_eq!(queued_ids(&fresh, 1), ["c"]);
    assert_eq!(queued_ids(&fresh, 2), [fire_id("j", 4)]);
    // Redeliveries of the in-flight item and of queued ones are refused.
    for id in ["a", "b", "c"] {
        assert_eq!(
            fresh.submit(text(id, 1), Millis(0)).unwrap_err(),
            Error::Duplicate(ItemId(id.into()))
        );
    }
    // The restored job is still pending: no second fire piles up.
    assert!(matches!(
        fresh
            .cron_claim(&JobId("j".into()), Millis(9), "p".into(), false, Millis(9))
            .unwrap(),
        CronClaim::AlreadyPending
    ));
}

#[test]
fn restore_frees_the_job_of_a_fire_that_was_in_flight() {
    let mut m = machine(1);
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 1);
    let journal = m.drain_journal();
    let mut fresh = machine(1);
    assert!(fresh.restore(replay(&journal), Millis(0)).is_empty());
    assert!(matches!(
        fresh
            .cron_claim(&JobId("j".into()), Millis(2), "p".into(), false, Millis(2))
            .unwrap(),
        CronClaim::Admitted(Admission::Started(_))
    ));
}

#[test]
fn restore_after_shutdown_runs_what_shutdown_handed_back() {
    let (mut m, _) = busy_machine();
    let handed_back = m.shutdown(Millis(0)).queued;
    let journal = m.drain_journal();
    let r = replay(&journal);
    let mut recovered: Vec<_> = r
        .lanes
        .values()
        .flat_map(|l| l.user.iter().chain(l.cron.iter()))
        .map(|i| i.id.clone())
        .collect();
    recovered.sort();
    let mut expected: Vec<_> = handed_back.iter().map(|i| i.id.clone()).collect();
    expected.sort();
    assert_eq!(recovered, expected);
}

#[test]
fn journal_sequence_numbers_are_consecutive_across_drains() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    let first = m.drain_journal();
    queue(&mut m, text("b", 1));
    let second = m.drain_journal();
    let seqs: Vec<u64> = first.iter().chain(second.iter()).map(|e| e.seq).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(m.drain_journal().is_empty());
}

#[test]
fn journal_off_records_nothing() {
    let mut m = Machine::<StdCancel>::new(Config {
        journal: false,
        ..config(1)
    });
    start(&mut m, text("a", 1));
    assert!(m.drain_journal().is_empty());
}

#[test]
fn journal_replay_of_one_cleared_session_keeps_the_other_driver() {
    let mut m = machine(1);
    m.set_session(lane(1), Driver::Claude, Some("c".into()), Millis(0));
    m.set_session(lane(1), Driver::Codex, Some("x".into()), Millis(0));
    m.set_session(lane(1), Driver::Claude, None, Millis(0));
    assert_eq!(m.session(lane(1), Driver::Codex).as_deref(), Some("x"));
    let r = replayed(&mut m);
    assert_eq!(r.lanes[&lane(1)].sessions, [None, Some("x".to_owned())]);
}

#[test]
fn journal_replay_frees_every_job_whose_fire_a_stop_removed() {
    let mut m = machine(1);
    start(&mut m, text("a", 1));
    cron_fire(&mut m, "j", 1, CronKind::Recurring, 1);
    cron_fire(&mut m, "k", 1, CronKind::Recurring, 1);
    m.stop(lane(1), true, Millis(0));
    let r = replayed(&mut m);
    assert_eq!(r.cron[&JobId("j".into())].pending, None);
    assert_eq!(r.cron[&JobId("k".into())].pending, None);
}

#[test]
fn journal_replay_of_a_refused_claim_leaves_the_job_free() {
    let mut m = machine(1);
    let c = cron_fire(&mut m, "j", 1, CronKind::Recurring, 1)
        .ticket()
        .unwrap();
    complete(&mut m, c.run);
    let again = m.cron_claim(&JobId("j".into()), Millis(1), "p".into(), false, Millis(2));
    assert!(again.is_err());
    let r = replayed(&mut m);
    assert_eq!(r.cron[&JobId("j".into())].pending, None);
}

#[test]
fn journal_replay_forgets_sessions_of_a_new_session_still_waiting_for_its_run() {
    let mut m = machine(1);
    let a = start(&mut m, text("a", 1));
    m.record_agent_session(a.run, "old".into(), Millis(0))
        .unwrap();
    m.new_session(lane(1), Millis(0));
    // The process dies before the run finishes: after the restart, the
    // lane must not resume the session the user asked to leave.
    let journal = m.drain_journal();
    let mut fresh = machine(1);
    fresh.restore(replay(&journal), Millis(0));
    assert_eq!(fresh.session(lane(1), Driver::Claude), None);
    let b = start(&mut fresh, text("b", 1));
    assert_eq!(b.resume, None);
}

#[test]
fn journal_checkpoint_replays_to_what_is_pending() {
    let (mut m, _a) = busy_machine();
    let full = replayed(&mut m);
    let checkpoint = crate::journal::checkpoint(&full, Millis(9));
    let compact = replay(&checkpoint);
    // Everything pending survives; in-flight runs and ended ids do not.
    assert_eq!(compact.lanes, full.lanes);
    assert_eq!(compact.cron, full.cron);
    assert!(compact.in_flight.is_empty() && !full.in_flight.is_empty());
    assert_eq!(compact.queued(), 4);
    // Restoring the checkpoint starts what the full journal would have.
    let mut from_full = machine(1);
    let mut from_compact = machine(1);
    let mut full_started = ids(&from_full.restore(full, Millis(10)))
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    let compact_started = ids(&from_compact.restore(compact, Millis(10)))
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    full_started.sort();
    assert_eq!(full_started, compact_started);
    assert_eq!(
        from_full.snapshot(Millis(11)).lanes,
        from_compact.snapshot(Millis(11)).lanes
    );
}
