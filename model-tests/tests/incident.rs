//! `--from-journal`: journals written by the real core, turned into reports
//! whose operations say what happened, in the journal's order, and that
//! replay clean on the core.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use baton_core::journal::{self, Recovered};
use baton_core::sync::StdSync;
use baton_core::{
    Admission, Config, Core, CronKind, Driver, Item, ItemId, JobId, JournalEntry, LaneKey, Millis,
    Origin, Outcome, Preferences, TicketOf,
};
use baton_model_tests::explore::{self, Impl};
use baton_model_tests::incident::{self, Header};
use baton_model_tests::report::{self, Report};

type Ticket = TicketOf<StdSync>;

/// A core whose clock moves one millisecond per operation, as a deployment's
/// does between messages, and its journal since a start-up checkpoint.
struct Deployment {
    core: Core<StdSync>,
    now: Arc<AtomicU64>,
    journal: Vec<JournalEntry>,
}

impl Deployment {
    fn start(capacity: usize) -> Self {
        Deployment::restart_from(capacity, Recovered::default(), Vec::new())
    }

    /// What the bot does at start: compacts the journal to a checkpoint,
    /// restores from it.
    fn restart_from(capacity: usize, recovered: Recovered, mut journal: Vec<JournalEntry>) -> Self {
        let at = journal.last().map_or(0, |e: &JournalEntry| e.at.0) + 1000;
        journal.extend(journal::checkpoint(&recovered, Millis(at)));
        // Restoring happens in the checkpoint's millisecond; messages later.
        let now = Arc::new(AtomicU64::new(at));
        let clock = {
            let now = now.clone();
            move || Millis(now.load(Ordering::SeqCst))
        };
        let config = Config {
            capacity,
            ..Config::default()
        };
        let core = Core::new(config, clock);
        core.restore(recovered);
        now.fetch_add(1, Ordering::SeqCst);
        Deployment { core, now, journal }
    }

    fn sync(&mut self) {
        self.journal.extend(self.core.drain_journal());
        self.now.fetch_add(1, Ordering::SeqCst);
    }

    fn submit(&mut self, id: &str, lane: i64, origin: Origin) -> Option<Ticket> {
        let item = Item {
            origin,
            ..Item::text(id, LaneKey::chat(lane), "a secret prompt", Millis(0))
        };
        let admission = self.core.submit(item).unwrap();
        self.sync();
        admission.ticket()
    }

    fn finish(&mut self, ticket: &Ticket, outcome: Outcome) -> Vec<Ticket> {
        let next = self.core.finish(ticket.run, outcome).unwrap().tickets;
        self.sync();
        next
    }

    fn restart(mut self, capacity: usize) -> Self {
        self.sync();
        let recovered = journal::replay(&self.journal);
        let mut next = Deployment::restart_from(capacity, recovered, self.journal);
        next.sync();
        next
    }
}

fn header() -> Header {
    Header {
        id: "INC-1".to_owned(),
        title: "from a journal".to_owned(),
        invariant: "no_loss".to_owned(),
    }
}

/// Converts, parses and replays in the journal's order on the core.
fn converted(journal: &[JournalEntry]) -> (Report, String) {
    let converted = incident::convert(journal, &header()).unwrap();
    let report = report::parse(Path::new("incident.toml"), &converted.toml)
        .unwrap_or_else(|e| panic!("{e}\n{}", converted.toml));
    let replayed = explore::run_in_order(&report, Impl::Core, &converted.order);
    assert_eq!(
        explore::operation_order(&report, &replayed),
        converted.order,
        "{}",
        converted.toml
    );
    assert!(
        replayed.violations.is_empty(),
        "{:?}\n{}",
        replayed.violations,
        converted.toml
    );
    (report, converted.toml)
}

fn ops(report: &Report, actor: &str) -> Vec<String> {
    let actor = report
        .actors
        .iter()
        .find(|a| a.name == actor)
        .unwrap_or_else(|| panic!("no actor {actor}"));
    actor.ops.iter().map(|(_, text)| text.clone()).collect()
}

#[test]
fn incident_user_and_runner_operations_keep_their_order_and_lose_their_names() {
    let mut d = Deployment::start(1);
    let first = d.submit("m-100", 7001, Origin::Text).unwrap();
    d.core.spawned(first.run).unwrap();
    d.core
        .record_agent_session(first.run, "sess-secret".to_owned())
        .unwrap();
    d.core.retry(first.run).unwrap();
    d.sync();
    let bang = Item::text("m-101", LaneKey::chat(7001), "!now", Millis(0));
    assert!(matches!(
        d.core.interrupt(bang).unwrap(),
        Admission::Queued {
            cancelled: Some(_),
            ..
        }
    ));
    d.sync();
    let interrupt = d.finish(&first, Outcome::Cancelled).pop().unwrap();
    assert!(d.submit("m-102", 7001, Origin::Voice).is_none());
    d.core.stop(LaneKey::chat(7001), true);
    d.sync();
    d.finish(&interrupt, Outcome::Failed);
    d.core.new_session(LaneKey::chat(7001));
    d.core.set_preferences(
        LaneKey::chat(7002),
        Preferences {
            driver: Driver::Codex,
            ..Preferences::default()
        },
    );
    let recap = d.submit("m-103", 7002, Origin::Recap).unwrap();
    d.finish(&recap, Outcome::Completed);
    d.core.shutdown();
    d.sync();

    let (report, text) = converted(&d.journal);
    assert_eq!(
        ops(&report, "user"),
        [
            "submit A a1 text",
            "interrupt A a2",
            "submit A a3 voice",
            "stop A clear",
            "new A",
            "driver B codex",
            "recap B b1",
            "shutdown",
        ],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner1"),
        [
            "take A",
            "spawn",
            "session s1",
            "stall",
            "finish completed",
            "take A",
            "finish failed",
            "take B",
            "finish completed",
        ],
        "{text}"
    );
    assert_eq!(report.capacity, 1);
    for secret in ["7001", "m-10", "secret"] {
        assert!(!text.contains(secret), "{secret} in the report:\n{text}");
    }
}

#[test]
fn incident_cron_fires_and_concurrent_runs_get_their_own_runners() {
    let mut d = Deployment::start(2);
    d.core
        .cron_register(JobId("daily".into()), LaneKey::chat(1), CronKind::Recurring)
        .unwrap();
    d.core
        .cron_register(JobId("once".into()), LaneKey::chat(3), CronKind::OneShot)
        .unwrap();
    d.sync();
    let user = d.submit("u1", 2, Origin::Text).unwrap();
    d.core
        .cron_claim(&JobId("daily".into()), Millis(5), "p".into(), false)
        .unwrap();
    d.sync();
    d.core.cron_cancel(&JobId("once".into())).unwrap();
    d.sync();
    let fire = d.core.lane_status(LaneKey::chat(1)).run.unwrap();
    d.finish(&user, Outcome::Completed);
    d.core.finish(fire.run, Outcome::Completed).unwrap();
    d.sync();

    let (report, text) = converted(&d.journal);
    assert_eq!(
        ops(&report, "user"),
        // Lanes are named as the journal first mentions them: the jobs'.
        ["submit C c1 text", "cron_tick j1", "cron_cancel j2"],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner1"),
        ["take C", "finish completed"],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner2"),
        ["take A", "finish completed"],
        "{text}"
    );
    assert_eq!(report.capacity, 2, "{text}");
    let jobs: Vec<(&str, CronKind)> = report
        .cron
        .iter()
        .map(|j| (j.name.as_str(), j.kind))
        .collect();
    assert_eq!(
        jobs,
        [("j1", CronKind::Recurring), ("j2", CronKind::OneShot)]
    );
}

#[test]
fn incident_restart_in_the_journal_becomes_a_restart_operation() {
    let mut d = Deployment::start(1);
    let running = d.submit("a", 1, Origin::Text).unwrap();
    d.core.spawned(running.run).unwrap();
    d.submit("b", 1, Origin::Text);
    // The process dies with `a` in flight and `b` queued; the next start
    // restores `b` and starts it.
    let mut d = d.restart(1);
    let restored = d.core.lane_status(LaneKey::chat(1)).run.unwrap();
    d.core.finish(restored.run, Outcome::Completed).unwrap();
    d.sync();

    let (report, text) = converted(&d.journal);
    assert_eq!(
        ops(&report, "user"),
        ["submit A a1 text", "submit A a2 text", "restart"],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner1"),
        [
            "take A",
            "spawn",
            "finish completed",
            "take A",
            "finish completed"
        ],
        "{text}"
    );
    assert!(report.setup.is_empty(), "{text}");
}

#[test]
fn incident_journal_after_a_start_up_restore_has_its_queue_as_setup() {
    let mut d = Deployment::start(1);
    let running = d.submit("a", 1, Origin::Text).unwrap();
    d.submit("b", 1, Origin::Photo);
    d.submit("c", 2, Origin::Text);
    let _ = running;
    d.sync();
    // What the store holds after the next start: the compacted journal.
    let recovered = journal::replay(&d.journal);
    let mut d = Deployment::restart_from(1, recovered, Vec::new());
    d.sync();
    let started = d.core.snapshot();
    assert_eq!(started.in_flight, 1);

    let (report, text) = converted(&d.journal);
    let setup: Vec<&str> = report.setup.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(setup, ["submit A a1 photo", "submit B b1 text"], "{text}");
    assert_eq!(ops(&report, "runner1"), ["take A"], "{text}");
}

#[test]
fn incident_journal_with_more_runs_at_once_than_runners_is_refused() {
    let mut d = Deployment::start(4);
    for lane in 1..=4 {
        d.submit(&format!("m{lane}"), lane, Origin::Text);
    }
    let error = incident::convert(&d.journal, &header()).unwrap_err();
    assert!(error.0.contains("more than 3 runs"), "{error}");
    assert!(error.0.contains("journal entry"), "{error}");
}

#[test]
fn incident_empty_journal_is_refused() {
    let error = incident::convert(&[], &header()).unwrap_err();
    assert!(error.0.contains("no operation"), "{error}");
}

#[test]
fn incident_jsonl_with_a_bad_line_names_file_and_line() {
    let dir = std::env::temp_dir().join(format!("baton-incident-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut d = Deployment::start(1);
    d.submit("a", 1, Origin::Text);
    let mut text: String = d
        .journal
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    text.push_str("\n{\"seq\": 9, \"event\": \"teleported\"}\n");
    let path = dir.join("journal.jsonl");
    std::fs::write(&path, &text).unwrap();
    let error = incident::read(&path).unwrap_err();
    let lines = d.journal.len() + 2;
    assert!(
        error.0.contains(&format!("journal.jsonl:{lines}:")),
        "{error}"
    );
    let error = incident::read(&dir.join("missing.jsonl")).unwrap_err();
    assert!(error.0.contains("missing.jsonl: cannot read"), "{error}");
}

#[test]
fn incident_sqlite_without_a_journal_is_refused() {
    let dir = std::env::temp_dir().join(format!("baton-incident-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("other.sqlite3");
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("CREATE TABLE t (x INTEGER)", []).unwrap();
    drop(conn);
    let error = incident::read(&path).unwrap_err();
    assert!(error.0.contains("other.sqlite3"), "{error}");
    assert!(error.0.contains("journal"), "{error}");
}

#[test]
fn incident_new_during_a_run_is_one_operation_and_a_stop_of_a_waiting_lane_clears_it() {
    let mut d = Deployment::start(1);
    let running = d.submit("a1", 1, Origin::Text).unwrap();
    d.core
        .record_agent_session(running.run, "old".to_owned())
        .unwrap();
    d.submit("a2", 1, Origin::Text);
    // Lane 2 waits for capacity, not for a run of its own.
    d.submit("b1", 2, Origin::Document);
    d.core.stop(LaneKey::chat(2), true);
    d.sync();
    // `/new` cancels the run, removes the queue and forgets the sessions
    // now and again when the run ends: one operation.
    d.core.new_session(LaneKey::chat(1));
    d.sync();
    d.finish(&running, Outcome::Cancelled);

    let (report, text) = converted(&d.journal);
    assert_eq!(
        ops(&report, "user"),
        [
            "submit A a1 text",
            "submit A a2 text",
            "submit B b1 document",
            "stop B clear",
            "new A",
        ],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner1"),
        ["take A", "session s1", "finish completed"],
        "{text}"
    );
}

#[test]
fn incident_questions_and_steering_taps_become_their_operations() {
    let mut d = Deployment::start(1);
    let lane = LaneKey::chat(5);
    let first = d.submit("m-1", 5, Origin::Text).unwrap();
    d.core.spawned(first.run).unwrap();
    let allow = d.core.ask(first.run, "may I run ls".to_owned()).unwrap();
    d.sync();
    d.core.answer(first.run, allow).unwrap();
    let plan = d
        .core
        .ask(first.run, "approve the plan".to_owned())
        .unwrap();
    d.core.withdraw_question(first.run, plan).unwrap();
    d.sync();
    assert!(d.submit("m-2", 5, Origin::Text).is_none());
    assert!(d.submit("m-3", 5, Origin::Voice).is_none());
    d.core
        .cancel_queued(lane, &ItemId("m-2".to_owned()))
        .unwrap();
    d.sync();
    let report = d.core.run_now(lane, &ItemId("m-3".to_owned())).unwrap();
    assert_eq!(report.cancelled, Some(first.run));
    d.sync();
    let next = d.finish(&first, Outcome::Cancelled).pop().unwrap();
    d.finish(&next, Outcome::Completed);

    let (report, text) = converted(&d.journal);
    assert_eq!(
        ops(&report, "user"),
        [
            "submit A a1 text",
            "answer q1",
            "submit A a2 text",
            "submit A a3 voice",
            "cancel_queued A a2",
            "run_now A a3",
        ],
        "{text}"
    );
    assert_eq!(
        ops(&report, "runner1"),
        [
            "take A",
            "spawn",
            "ask q1",
            "ask q2",
            "withdraw q2",
            "finish completed",
            "take A",
            "finish completed",
        ],
        "{text}"
    );
    for id in ["m-1", "m-2", "m-3", "ls", "plan"] {
        assert!(!text.contains(id), "{id} in the report:\n{text}");
    }
}
