//! `Core<StdSync>`: the locked wrapper publishes its gauges, reads its clock,
//! and keeps every item across real threads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use baton_core::sync::StdSync;
use baton_core::{
    Admission, Config, Core, Driver, Event, Item, LaneKey, Millis, Outcome, TicketOf,
};

fn core(capacity: usize, now: Arc<AtomicU64>) -> Core<StdSync> {
    Core::new(
        Config {
            capacity,
            max_queue: 1_000,
            ..Config::default()
        },
        move || Millis(now.load(Ordering::SeqCst)),
    )
}

fn text(id: &str, chat: i64) -> Item {
    Item::text(id, LaneKey::chat(chat), id, Millis(0))
}

#[test]
fn core_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Core<StdSync>>();
    shareable::<TicketOf<StdSync>>();
}

#[test]
fn core_gauges_follow_every_step() {
    let core = core(1, Arc::new(AtomicU64::new(0)));
    let a = core.submit(text("a", 1)).unwrap().ticket().unwrap();
    core.submit(text("b", 2)).unwrap();
    core.submit(text("c", 2)).unwrap();
    assert_eq!((core.in_flight(), core.queued()), (1, 2));
    let next = core.finish(a.run, Outcome::Completed).unwrap().tickets;
    assert_eq!((core.in_flight(), core.queued()), (1, 1));
    core.stop(LaneKey::chat(2), true);
    assert_eq!((core.in_flight(), core.queued()), (1, 0));
    core.finish(next[0].run, Outcome::Cancelled).unwrap();
    assert_eq!((core.in_flight(), core.queued()), (0, 0));
    core.inspect(|m| assert_eq!((m.in_flight(), m.queued()), (0, 0)));
}

#[test]
fn core_stamps_runs_and_journal_with_its_clock() {
    let now = Arc::new(AtomicU64::new(1_000));
    let core = core(1, now.clone());
    let a = core.submit(text("a", 1)).unwrap().ticket().unwrap();
    now.store(4_000, Ordering::SeqCst);
    let status = core.lane_status(LaneKey::chat(1));
    let run = status.run.unwrap();
    assert_eq!((run.admitted_at, run.age_ms), (Millis(1_000), 3_000));
    core.finish(a.run, Outcome::Completed).unwrap();
    let journal = core.drain_journal();
    let started = journal
        .iter()
        .find(|e| matches!(e.event, Event::Started { .. }))
        .unwrap();
    let finished = journal
        .iter()
        .find(|e| matches!(e.event, Event::Finished { .. }))
        .unwrap();
    assert_eq!((started.at, finished.at), (Millis(1_000), Millis(4_000)));
}

#[test]
fn core_update_preferences_applies_to_the_current_value() {
    let core = core(1, Arc::new(AtomicU64::new(0)));
    core.update_preferences(LaneKey::chat(1), |p| p.model = Some("m".into()));
    let prefs = core.update_preferences(LaneKey::chat(1), |p| p.driver = Driver::Codex);
    assert_eq!(
        (prefs.driver, prefs.model.as_deref()),
        (Driver::Codex, Some("m"))
    );
    assert_eq!(core.preferences(LaneKey::chat(1)), prefs);
}

/// Several users submit from their own threads while runners finish
/// whatever they are handed: every item runs exactly once, and the core
/// never holds more than its capacity.
#[test]
fn core_threads_lose_and_duplicate_nothing() {
    const USERS: i64 = 4;
    const ITEMS: usize = 60;
    let core = Arc::new(core(2, Arc::new(AtomicU64::new(0))));
    let ran = Arc::new(Mutex::new(Vec::new()));
    let run_all = |core: &Core<StdSync>, ran: &Mutex<Vec<String>>, first: TicketOf<StdSync>| {
        let mut todo = vec![first];
        while let Some(ticket) = todo.pop() {
            assert!(core.in_flight() <= 2);
            if core.spawned(ticket.run).is_ok() {
                ran.lock().unwrap().push(ticket.item.id.0.clone());
            }
            todo.extend(core.finish(ticket.run, Outcome::Completed).unwrap().tickets);
        }
    };
    let handles: Vec<_> = (0..USERS)
        .map(|user| {
            let (core, ran) = (core.clone(), ran.clone());
            std::thread::spawn(move || {
                for n in 0..ITEMS {
                    let item = text(&format!("{user}-{n}"), user % 3);
                    if let Admission::Started(ticket) = core.submit(item).unwrap() {
                        run_all(&core, &ran, ticket);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!((core.in_flight(), core.queued()), (0, 0));
    let ran = ran.lock().unwrap();
    let unique: HashSet<&String> = ran.iter().collect();
    assert_eq!(ran.len(), USERS as usize * ITEMS);
    assert_eq!(unique.len(), ran.len());
}
