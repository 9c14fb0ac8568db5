//! Tests of the writer: order, group commit, when durability is acknowledged, errors, close.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rusqlite::Connection;
use serde_json::json;

use crate::store::{DATABASE_FILE_NAME, Pending, Store};

/// Long enough that only a waiter or a close commits during a test.
const NEVER: Duration = Duration::from_secs(3600);

fn store_with_delay(delay: Duration) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(&dir.path().join(DATABASE_FILE_NAME), delay).unwrap();
    (dir, store)
}

/// Holds the writer inside one write until dropped, so what is queued meanwhile is
/// applied as one batch.
struct Gate {
    release: mpsc::Sender<()>,
}

impl Gate {
    fn hold(store: &Store) -> Gate {
        let (entered_tx, entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        store.write(move |_| {
            entered_tx.send(()).unwrap();
            let _ = released.recv();
            Ok(())
        });
        entered.recv().unwrap();
        Gate { release }
    }

    fn open(self) {
        self.release.send(()).unwrap();
    }
}

fn is_ready<T>(pending: &mut Pending<T>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(pin!(pending).poll(&mut cx), Poll::Ready(_))
}

/// Journal rows as another process would see them: committed ones only.
fn committed_journal(dir: &tempfile::TempDir) -> Vec<serde_json::Value> {
    let conn = Connection::open(dir.path().join(DATABASE_FILE_NAME)).unwrap();
    let mut stmt = conn
        .prepare("SELECT event FROM journal ORDER BY seq")
        .unwrap();
    stmt.query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|event| serde_json::from_str(&event.unwrap()).unwrap())
        .collect()
}

#[test]
fn writes_are_applied_in_the_order_they_were_queued() {
    let (_dir, store) = store_with_delay(NEVER);
    for n in 0..300 {
        store.append_events(&[json!(n)]);
        if n % 3 == 0 {
            // A different kind of write in between: it sees the one before it.
            store.record_update(
                n,
                crate::store::LaneKey::chat(1),
                &json!(n),
                chrono::Utc::now(),
            );
        }
    }
    let done = store.mark_done(0, chrono::Utc::now());
    store.durable().wait().unwrap();
    assert!(
        done.wait().unwrap(),
        "the record queued before it was applied first"
    );
    let events: Vec<_> = store
        .load_journal()
        .unwrap()
        .into_iter()
        .map(|row| row.event)
        .collect();
    assert_eq!(events, (0..300).map(|n| json!(n)).collect::<Vec<_>>());
}

#[test]
fn many_writes_queued_together_take_one_commit() {
    let (_dir, store) = store_with_delay(NEVER);
    let before = store.commits();
    let gate = Gate::hold(&store);
    for n in 0..500 {
        store.append_events(&[json!(n)]);
    }
    let durable = store.durable();
    gate.open();
    durable.wait().unwrap();
    assert_eq!(
        store.commits() - before,
        1,
        "one commit for the gate and 500 writes"
    );
    assert_eq!(store.load_journal().unwrap().len(), 500);
}

#[test]
fn durability_is_acknowledged_only_after_the_commit() {
    let (dir, store) = store_with_delay(NEVER);
    let gate = Gate::hold(&store);
    store.append_events(&[json!("first")]);
    let mut durable = store.durable();
    assert!(
        !is_ready(&mut durable),
        "acknowledged while the write is queued"
    );
    assert!(committed_journal(&dir).is_empty());
    assert_eq!(store.commits(), 0);
    gate.open();
    durable.wait().unwrap();
    assert_eq!(store.commits(), 1);
    assert_eq!(committed_journal(&dir), vec![json!("first")]);
}

#[test]
fn nothing_pending_is_durable_at_once_without_a_commit() {
    let (_dir, store) = store_with_delay(NEVER);
    store.append_events(&[json!(1)]);
    store.durable().wait().unwrap();
    let commits = store.commits();
    let mut again = store.durable();
    assert!(is_ready(&mut again));
    assert_eq!(store.commits(), commits);
}

#[test]
fn a_failed_write_reaches_its_waiter_and_spares_the_others() {
    let (dir, store) = store_with_delay(NEVER);
    let gate = Gate::hold(&store);
    store.append_events(&[json!("before")]);
    let failed = store.write(|conn| conn.execute("INSERT INTO no_such_table VALUES (1)", []));
    store.append_events(&[json!("after")]);
    let durable = store.durable();
    gate.open();
    let error = durable.wait().unwrap_err().to_string();
    assert!(error.contains("no_such_table"), "{error}");
    assert!(
        failed
            .wait()
            .unwrap_err()
            .to_string()
            .contains("no_such_table")
    );
    assert_eq!(
        committed_journal(&dir),
        vec![json!("before"), json!("after")]
    );
    // Reported once: a later wait with nothing failed pending is fine.
    store.append_events(&[json!("later")]);
    store.durable().wait().unwrap();
}

#[test]
fn a_failed_commit_reaches_every_waiter_of_its_group() {
    let (dir, store) = store_with_delay(NEVER);
    store
        .write(|conn| {
            conn.execute_batch(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent INTEGER
                     REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
        })
        .wait()
        .unwrap();
    store.durable().wait().unwrap();
    let gate = Gate::hold(&store);
    store.append_events(&[json!("lost with its group")]);
    let first = store.durable();
    // Checked only at COMMIT: the whole group fails there.
    store.write(|conn| conn.execute("INSERT INTO child VALUES (7)", []));
    let second = store.durable();
    gate.open();
    for waiter in [first, second] {
        let error = waiter.wait().unwrap_err().to_string();
        assert!(error.contains("commit failed"), "{error}");
    }
    assert!(committed_journal(&dir).is_empty());
    // The writer goes on with the next group.
    store.append_events(&[json!("next")]);
    store.durable().wait().unwrap();
    assert_eq!(committed_journal(&dir), vec![json!("next")]);
}

#[test]
fn a_write_nobody_waits_for_is_committed_soon() {
    let (dir, store) = store_with_delay(Duration::from_millis(20));
    store.append_events(&[json!("unwaited")]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while committed_journal(&dir).is_empty() {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.commits(), 1);
}

#[test]
fn closing_commits_everything_queued() {
    let (dir, store) = store_with_delay(NEVER);
    for n in 0..100 {
        store.append_events(&[json!(n)]);
    }
    drop(store);
    assert_eq!(committed_journal(&dir).len(), 100);
    let store = Store::open_in(dir.path()).unwrap();
    let answer = {
        store.close();
        store.append_events(&[json!("too late")])
    };
    assert!(answer.wait().is_err(), "a write after close is refused");
    assert!(store.durable().wait().is_ok(), "nothing is pending");
}

#[test]
fn concurrent_waiters_are_each_answered() {
    let (_dir, store) = store_with_delay(NEVER);
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let store = &store;
            scope.spawn(move || {
                for n in 0..50 {
                    store.append_events(&[json!([writer, n])]);
                    store.durable().wait().unwrap();
                }
            });
        }
    });
    assert_eq!(store.load_journal().unwrap().len(), 400);
}
