//! The race reports of the original bot, each replayed as a sequential
//! scenario against `Core<StdSync>` to show how the core closes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use baton_core::sync::{CancelSignal, StdSync};
use baton_core::{
    Admission, Config, Core, CronClaim, CronKind, Driver, Error, Item, ItemId, JobId, LaneKey,
    Millis, Origin, Outcome, Output, Preferences, RunPhase, TicketOf,
};

type Ticket = TicketOf<StdSync>;

/// A core on a clock the test moves by hand.
struct World {
    core: Core<StdSync>,
    now: Arc<AtomicU64>,
}

impl World {
    fn new(capacity: usize) -> Self {
        let now = Arc::new(AtomicU64::new(0));
        let clock = {
            let now = now.clone();
            move || Millis(now.load(Ordering::SeqCst))
        };
        let config = Config {
            capacity,
            ..Config::default()
        };
        World {
            core: Core::new(config, clock),
            now,
        }
    }

    fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    fn start(&self, item: Item) -> Ticket {
        match self.core.submit(item).expect("admitted") {
            Admission::Started(ticket) => ticket,
            other => panic!("expected a start, got {other:?}"),
        }
    }

    fn queue(&self, item: Item) -> usize {
        match self.core.submit(item).expect("admitted") {
            Admission::Queued { position, .. } => position,
            other => panic!("expected a queued item, got {other:?}"),
        }
    }

    fn finish(&self, ticket: &Ticket, outcome: Outcome) -> Vec<Ticket> {
        self.core
            .finish(ticket.run, outcome)
            .expect("current run")
            .tickets
    }
}

fn chat(n: i64) -> LaneKey {
    LaneKey::chat(n)
}

fn text(id: &str, lane: LaneKey, prompt: &str) -> Item {
    Item::text(id, lane, prompt, Millis(0))
}

fn with_origin(item: Item, origin: Origin) -> Item {
    Item { origin, ..item }
}

fn job(name: &str) -> JobId {
    JobId(name.to_owned())
}

fn claim(
    world: &World,
    name: &str,
    fire: u64,
) -> Result<CronClaim<baton_core::sync::StdCancel>, Error> {
    world
        .core
        .cron_claim(&job(name), Millis(fire), format!("job {name}"), false)
}

#[test]
fn dq1_finish_in_one_chat_drains_a_voice_queued_in_another() {
    // DQ-1: a voice note queued in chat B while chat A ran; when A finished
    // the bot drained only A's queue, and B waited until B sent something
    // again.
    let world = World::new(1);
    let a = world.start(text("a", chat(1), "hello"));
    let voice = with_origin(text("v", chat(2), "transcript"), Origin::Voice);
    assert_eq!(world.queue(voice), 1);
    let next = world.finish(&a, Outcome::Completed);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].item.id.0, "v");
    assert_eq!(next[0].lane(), chat(2));
    assert_eq!((world.core.in_flight(), world.core.queued()), (1, 0));
}

#[test]
fn tx1_a_stalled_run_cannot_retry_once_an_interrupt_cancelled_it() {
    // TX-1: a stalled run kept retrying while a `!` interrupt started a new
    // run, so two agents ran at once: interruption was a shared flag that a
    // timer cleared, and retries never checked whose run they were.
    let world = World::new(1);
    let stalled = world.start(text("a", chat(1), "long job"));
    world.core.spawned(stalled.run).unwrap();
    assert_eq!(world.core.retry(stalled.run), Ok(1));
    let admission = world
        .core
        .interrupt(text("i", chat(1), "!stop that"))
        .unwrap();
    assert!(matches!(admission, Admission::Queued { cancelled: Some(r), .. } if r == stalled.run));
    // However long the runner waits, the cancellation stays and no retry
    // or respawn is granted.
    world.advance(60_000);
    assert_eq!(
        world.core.retry(stalled.run),
        Err(Error::Cancelled(stalled.run))
    );
    assert_eq!(
        world.core.spawned(stalled.run),
        Err(Error::Cancelled(stalled.run))
    );
    assert_eq!(
        world.core.in_flight(),
        1,
        "the interrupt waits for the stalled run"
    );
    let next = world.finish(&stalled, Outcome::Cancelled);
    assert_eq!(next[0].item.id.0, "i");
    // After it is gone, the stalled run is no longer anyone's.
    assert_eq!(
        world.core.retry(stalled.run),
        Err(Error::StaleRun(stalled.run))
    );
    assert_eq!(world.core.in_flight(), 1);
}

#[test]
fn tx2_retry_resends_the_chats_own_last_message() {
    // TX-2: one process-global "last message" was overwritten by concurrent
    // chats, so /retry in one chat re-sent another chat's message.
    let world = World::new(2);
    let a = world.start(text("a", chat(1), "question of chat 1"));
    let b = world.start(text("b", chat(2), "question of chat 2"));
    world.finish(&a, Outcome::Failed);
    world.finish(&b, Outcome::Completed);
    let again = world
        .core
        .retry_last(chat(1), ItemId("a-retry".into()))
        .unwrap()
        .ticket()
        .expect("chat 1 is idle");
    assert_eq!(again.item.prompt, "question of chat 1");
    assert_eq!(again.lane(), chat(1));
    assert_eq!(
        world
            .core
            .retry_last(chat(3), ItemId("x".into()))
            .unwrap_err(),
        Error::NothingToRetry
    );
}

#[test]
fn dr1_stop_before_the_agent_is_spawned_still_cancels_it() {
    // DR-1: Codex stop answered "nothing to stop" in the window before its
    // abort handle existed, so the interrupting run started beside it.
    let world = World::new(1);
    world.core.set_preferences(
        chat(1),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
    );
    let admitted = world.start(text("a", chat(1), "work"));
    assert_eq!(admitted.driver, Driver::Codex);
    // The ticket is issued, the agent not yet spawned.
    let admission = world.core.interrupt(text("i", chat(1), "!other")).unwrap();
    assert!(matches!(admission, Admission::Queued { cancelled: Some(r), .. } if r == admitted.run));
    assert!(admitted.cancel.is_cancelled());
    assert_eq!(
        world.core.spawned(admitted.run),
        Err(Error::Cancelled(admitted.run))
    );
    assert_eq!(world.core.in_flight(), 1);
    let next = world.finish(&admitted, Outcome::Cancelled);
    assert_eq!(next[0].item.id.0, "i");
}

#[test]
fn dr2_the_next_run_waits_for_finish_however_slow_the_teardown() {
    // DR-2: a fixed 100 ms sleep stood for the stop handshake; a teardown
    // slower than that overlapped the next run.
    let world = World::new(1);
    let slow = world.start(text("a", chat(1), "work"));
    world.core.spawned(slow.run).unwrap();
    world.core.stop(chat(1), false);
    world.queue(text("b", chat(1), "next"));
    world.advance(100);
    world.advance(30_000);
    let status = world.core.lane_status(chat(1));
    let run = status.run.expect("the stopped run is still in flight");
    assert_eq!((run.run, run.age_ms), (slow.run, 30_100));
    assert_eq!(world.core.in_flight(), 1);
    let next = world.finish(&slow, Outcome::Cancelled);
    assert_eq!(next[0].item.id.0, "b");
}

#[test]
fn dr3_stop_targets_the_driver_the_run_captured() {
    // DR-3: the fallback stop target was read from the active-driver
    // preference after an await; a concurrent switch stopped the wrong driver.
    let world = World::new(1);
    world.core.set_preferences(
        chat(1),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
    );
    let run = world.start(text("a", chat(1), "work"));
    world.core.spawned(run.run).unwrap();
    world
        .core
        .update_preferences(chat(1), |p| p.driver = Driver::Claude);
    let report = world.core.stop(chat(1), false);
    let cancelled = report.cancelled.expect("a run was cancelled");
    assert_eq!((cancelled.run, cancelled.driver), (run.run, Driver::Codex));
    assert!(run.cancel.is_cancelled());
    assert_eq!(world.core.preferences(chat(1)).driver, Driver::Claude);
}

#[test]
fn cr1_a_job_cancelled_after_the_due_scan_never_runs() {
    // CR-1: cron iterated a stale snapshot of due jobs; a job cancelled
    // meanwhile still ran.
    let world = World::new(1);
    world
        .core
        .cron_register(job("j"), chat(1), CronKind::Recurring)
        .unwrap();
    world
        .core
        .cron_register(job("k"), chat(2), CronKind::OneShot)
        .unwrap();
    // The scheduler has found both due; the user cancels "j" before its claim.
    let due = [job("j"), job("k")];
    world.core.cron_cancel(&job("j")).unwrap();
    let mut started = Vec::new();
    for id in &due {
        match world.core.cron_claim(id, Millis(10), "p".into(), true) {
            Ok(CronClaim::Admitted(Admission::Started(t))) => started.push(t.item.id.0),
            Ok(other) => panic!("unexpected claim {other:?}"),
            Err(error) => assert_eq!(error, Error::UnknownJob("j".into())),
        }
    }
    assert_eq!(started, [ItemId::cron_fire(&job("k"), Millis(10)).0]);
}

#[test]
fn cr2_a_preempted_fire_is_requeued_and_its_job_kept() {
    // CR-2: cron removed or advanced a job before running it, so a preempted
    // one-shot was lost and a recurring job skipped a fire.
    let world = World::new(1);
    world
        .core
        .cron_register(job("once"), chat(1), CronKind::OneShot)
        .unwrap();
    world
        .core
        .cron_register(job("every"), chat(2), CronKind::Recurring)
        .unwrap();
    let once = match claim(&world, "once", 1).unwrap() {
        CronClaim::Admitted(Admission::Started(t)) => t,
        other => panic!("expected a start, got {other:?}"),
    };
    assert!(matches!(
        claim(&world, "every", 1).unwrap(),
        CronClaim::Admitted(Admission::Queued { .. })
    ));
    // User work arrives: the one-shot is preempted, not lost.
    let user = text("u", chat(3), "urgent");
    assert!(
        matches!(world.core.submit(user).unwrap(), Admission::Queued { cancelled: Some(r), .. } if r == once.run)
    );
    let report = world.core.finish(once.run, Outcome::Cancelled).unwrap();
    assert_eq!(report.outcome, Outcome::Preempted);
    assert_eq!(report.cron_ended, None);
    assert_eq!(report.tickets[0].item.id.0, "u");
    assert_eq!(
        world.core.inspect(|m| m.cron_kind(&job("once"))),
        Some(CronKind::OneShot)
    );
    // The recurring job's fire is still pending: the next one neither piles
    // up nor replaces it.
    assert!(matches!(
        claim(&world, "every", 2).unwrap(),
        CronClaim::AlreadyPending
    ));
    let mut ran = Vec::new();
    let mut next = world.finish(&report.tickets[0], Outcome::Completed);
    while let Some(t) = next.pop() {
        ran.push(t.item.id.0.clone());
        let r = world.core.finish(t.run, Outcome::Completed).unwrap();
        next.extend(r.tickets);
    }
    ran.sort();
    let mut expected = vec![
        ItemId::cron_fire(&job("once"), Millis(1)).0,
        ItemId::cron_fire(&job("every"), Millis(1)).0,
    ];
    expected.sort();
    assert_eq!(ran, expected);
    assert_eq!(world.core.inspect(|m| m.cron_kind(&job("once"))), None);
    assert!(matches!(
        claim(&world, "every", 3).unwrap(),
        CronClaim::Admitted(_)
    ));
}

#[test]
fn st1_output_after_finish_is_refused() {
    // ST-1: the streaming status callback mutated shared state without
    // serialization or a finalized flag; output after "done" resurrected
    // deleted messages.
    let world = World::new(1);
    let first = world.start(text("a", chat(1), "work"));
    world.queue(text("b", chat(1), "next"));
    world
        .core
        .output(first.run, Output::Tool("Bash".into()))
        .unwrap();
    let second = world.finish(&first, Outcome::Completed).pop().unwrap();
    for late in [Output::Text, Output::Thinking, Output::Tool("Edit".into())] {
        assert_eq!(
            world.core.output(first.run, late),
            Err(Error::StaleRun(first.run))
        );
    }
    let view = world.core.lane_status(chat(1)).run.unwrap();
    assert_eq!((view.run, view.tool), (second.run, None));
    world.core.output(second.run, Output::Text).unwrap();
}

#[test]
fn sp1_new_work_waits_until_the_stopped_run_has_ended() {
    // SP-1: stop returned before the run had actually ended, and new work
    // started beside it.
    let world = World::new(1);
    let a = world.start(text("a", chat(1), "work"));
    world.core.spawned(a.run).unwrap();
    let report = world.core.stop(chat(1), false);
    assert_eq!(report.cancelled.unwrap().run, a.run);
    assert_eq!(world.queue(text("b", chat(1), "next")), 1);
    assert_eq!(world.queue(text("c", chat(2), "other chat")), 1);
    assert_eq!(world.core.in_flight(), 1);
    let snapshot = world.core.snapshot();
    assert_eq!(snapshot.lanes.iter().filter(|l| l.run.is_some()).count(), 1);
    let next = world.finish(&a, Outcome::Cancelled);
    assert_eq!(next.len(), 1);
    assert_eq!(world.core.in_flight(), 1);
}

#[test]
fn sp2_a_pending_stop_outlives_time_and_other_work() {
    // SP-2: a timer cleared the stop flag and could erase a pending stop
    // before the run checked it.
    let world = World::new(2);
    let a = world.start(text("a", chat(1), "work"));
    world.core.stop(chat(1), false);
    // Time passes, other lanes start and end, preferences change.
    world.advance(120_000);
    let b = world.start(text("b", chat(2), "other"));
    world.finish(&b, Outcome::Completed);
    world
        .core
        .update_preferences(chat(1), |p| p.model = Some("m".into()));
    assert!(a.cancel.is_cancelled());
    assert_eq!(world.core.spawned(a.run), Err(Error::Cancelled(a.run)));
    let view = world.core.lane_status(chat(1)).run.unwrap();
    assert_eq!(view.phase, RunPhase::Admitted);
    world.finish(&a, Outcome::Cancelled);
    // The stop was bound to that run: the next one is free to spawn.
    let c = world.start(text("c", chat(1), "again"));
    assert_eq!(world.core.spawned(c.run), Ok(()));
}

#[test]
fn vc1_a_recap_button_goes_through_the_busy_check() {
    // VC-1: a button (session resume recap) started a run without the busy
    // check: two runs at once.
    let world = World::new(1);
    let a = world.start(text("a", chat(1), "work"));
    let recap = with_origin(text("r", chat(1), "recap"), Origin::Recap);
    let button = with_origin(text("btn", chat(1), "button"), Origin::Button);
    assert_eq!(world.queue(recap), 1);
    assert_eq!(world.queue(button), 2);
    assert_eq!(world.core.in_flight(), 1);
    let next = world.finish(&a, Outcome::Completed);
    assert_eq!(next[0].item.id.0, "r");
    assert_eq!(world.core.in_flight(), 1);
}
