//! Tests of the store: opening (and refusing) files, and each table's behaviour across reopen.

use super::*;
use crate::cron::schedule::ScheduleSpec;
use chrono::TimeDelta;
use serde_json::json;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    (dir, store)
}

fn reopen(dir: &tempfile::TempDir, store: Store) -> Store {
    drop(store);
    Store::open_in(dir.path()).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

const CHAT: LaneKey = LaneKey {
    chat: -100_123,
    topic: None,
};
const TOPIC: LaneKey = LaneKey {
    chat: -100_123,
    topic: Some(7),
};

// ---- opening ----

#[test]
fn open_creates_a_wal_database_at_the_current_schema_version() {
    let (dir, store) = temp_store();
    assert_eq!(store.path(), dir.path().join(DATABASE_FILE_NAME));
    let (mode, version, sync) = store
        .write(|conn| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            Ok((mode, version, sync))
        })
        .wait()
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(version, schema::SCHEMA_VERSION);
    assert_eq!(sync, 2, "synchronous = FULL on the writer");
}

#[test]
fn reopening_keeps_the_schema_and_data() {
    let (dir, store) = temp_store();
    store
        .append_events(&[json!({"event": "kept"})])
        .wait()
        .unwrap();
    let store = reopen(&dir, store);
    let store = reopen(&dir, store);
    let journal = store.load_journal().unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].event, json!({"event": "kept"}));
}

/// Opens `path`, expects an error that names it, and checks the file was left untouched.
fn assert_refused_untouched(path: &Path) -> String {
    let before = std::fs::read(path).unwrap();
    let error = Store::open(path).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("database {}: ", path.display())),
        "{error}"
    );
    assert_eq!(std::fs::read(path).unwrap(), before, "file changed");
    error
}

#[test]
fn garbage_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATABASE_FILE_NAME);
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    let error = assert_refused_untouched(&path);
    assert_eq!(
        error,
        format!("database {}: file is not a database", path.display())
    );
    assert!(
        !dir.path()
            .join(format!("{DATABASE_FILE_NAME}-wal"))
            .exists()
    );
}

#[test]
fn short_text_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "TELEGRAM_BOT_TOKEN=oops\n").unwrap();
    assert_refused_untouched(&path);
}

#[test]
fn database_with_a_corrupted_page_is_refused_and_left_unchanged() {
    let (dir, store) = temp_store();
    let events: Vec<_> = (0..2000)
        .map(|i| json!({"event": i, "pad": "x".repeat(50)}))
        .collect();
    store.append_events(&events).wait().unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    assert!(
        !dir.path()
            .join(format!("{DATABASE_FILE_NAME}-wal"))
            .exists(),
        "checkpointed on close"
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() >= page_size * 6, "{} bytes", bytes.len());
    for b in &mut bytes[page_size * 3..page_size * 5] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path);
}

#[test]
fn directory_in_place_of_the_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATABASE_FILE_NAME);
    std::fs::create_dir(&path).unwrap();
    assert_eq!(
        Store::open(&path).unwrap_err().to_string(),
        format!(
            "database {}: is a directory, not a database file",
            path.display()
        )
    );
}

#[test]
fn database_under_a_file_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let path = dir.path().join("file/baton.sqlite3");
    let error = Store::open(&path).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("database {}: ", path.display())),
        "{error}"
    );
}

#[test]
fn newer_schema_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATABASE_FILE_NAME);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let error = assert_refused_untouched(&path);
    assert_eq!(
        error,
        format!(
            "database {}: schema version 99 is newer than this baton understands ({})",
            path.display(),
            schema::SCHEMA_VERSION
        )
    );
}

#[test]
fn another_programs_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT)")
            .unwrap();
    }
    let error = assert_refused_untouched(&path);
    assert!(error.ends_with("another program's database?"), "{error}");
}

// ---- sessions ----

#[test]
fn sessions_list_newest_first_per_lane_and_driver() {
    let (dir, store) = temp_store();
    let work = Path::new("/srv/project");
    store
        .record_session(CHAT, "claude", "s-old", work, "first question", at(0))
        .wait()
        .unwrap();
    store
        .record_session(CHAT, "claude", "s-new", work, "second question", at(10))
        .wait()
        .unwrap();
    store
        .record_session(CHAT, "codex", "t-1", work, "codex question", at(20))
        .wait()
        .unwrap();
    store
        .record_session(TOPIC, "claude", "s-topic", work, "topic question", at(30))
        .wait()
        .unwrap();
    // Using the old session again makes it the newest, keeping its preview and workdir.
    store
        .record_session(
            CHAT,
            "claude",
            "s-old",
            Path::new("/elsewhere"),
            "follow-up",
            at(40),
        )
        .wait()
        .unwrap();
    let store = reopen(&dir, store);

    let listed = store.sessions(CHAT, "claude", 10).unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.session_id.as_str()).collect();
    assert_eq!(ids, vec!["s-old", "s-new"]);
    let old = &listed[0];
    assert_eq!(old.preview, "first question");
    assert_eq!(old.workdir, work);
    assert_eq!(old.created_at, at(0));
    assert_eq!(old.last_used_at, at(40));
    assert_eq!(old.lane, CHAT);
    assert_eq!(old.driver, "claude");

    assert_eq!(store.sessions(CHAT, "claude", 1).unwrap().len(), 1);
    assert_eq!(
        store.sessions(CHAT, "codex", 10).unwrap()[0].session_id,
        "t-1"
    );
    assert_eq!(
        store.sessions(TOPIC, "claude", 10).unwrap()[0].session_id,
        "s-topic"
    );
    assert_eq!(
        store
            .session(CHAT, "claude", "s-new")
            .unwrap()
            .unwrap()
            .preview,
        "second question"
    );
    assert_eq!(store.session(TOPIC, "claude", "s-new").unwrap(), None);
}

#[test]
fn an_older_use_never_moves_last_used_back() {
    let (_dir, store) = temp_store();
    let work = Path::new("/w");
    store
        .record_session(CHAT, "claude", "s", work, "p", at(50))
        .wait()
        .unwrap();
    store
        .record_session(CHAT, "claude", "s", work, "p", at(20))
        .wait()
        .unwrap();
    assert_eq!(
        store
            .session(CHAT, "claude", "s")
            .unwrap()
            .unwrap()
            .last_used_at,
        at(50)
    );
}

#[test]
fn preview_is_one_line_and_bounded() {
    let (_dir, store) = temp_store();
    let long = format!("line one\n\n  line\ttwo {}", "é".repeat(300));
    store
        .record_session(CHAT, "claude", "s", Path::new("/w"), &long, at(0))
        .wait()
        .unwrap();
    let preview = store.session(CHAT, "claude", "s").unwrap().unwrap().preview;
    assert!(preview.starts_with("line one line two éé"), "{preview}");
    assert_eq!(preview.chars().count(), PREVIEW_CHARS + 1);
    assert!(preview.ends_with('…'));
}

// ---- inbox ----

#[test]
fn redelivered_update_is_a_duplicate() {
    let (dir, store) = temp_store();
    let payload = json!({"text": "hello"});
    assert_eq!(
        store
            .record_update(1, CHAT, &payload, at(0))
            .wait()
            .unwrap(),
        RecordOutcome::Inserted
    );
    let store = reopen(&dir, store);
    assert_eq!(
        store
            .record_update(1, CHAT, &payload, at(5))
            .wait()
            .unwrap(),
        RecordOutcome::Duplicate
    );
    store.mark_done(1, at(7)).wait().unwrap();
    assert_eq!(
        store
            .record_update(1, CHAT, &payload, at(8))
            .wait()
            .unwrap(),
        RecordOutcome::Duplicate,
        "finished within the redelivery window"
    );
}

/// The inbox's unfinished updates, in update order: (id, lane, payload, received at).
fn unfinished(store: &Store) -> Vec<(i64, LaneKey, serde_json::Value, DateTime<Utc>)> {
    let conn = store.read();
    let mut stmt = conn
        .prepare(
            "SELECT update_id, chat_id, topic_id, payload, received_at
             FROM inbox WHERE done_at IS NULL ORDER BY update_id",
        )
        .unwrap();
    stmt.query_map([], |row| {
        let payload: String = row.get(3)?;
        Ok((
            row.get(0)?,
            lane_from_columns(row.get(1)?, row.get(2)?).unwrap(),
            serde_json::from_str(&payload).unwrap(),
            DateTime::from_timestamp_millis(row.get(4)?).unwrap(),
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn restart_finds_the_unfinished_updates_in_order() {
    let (dir, store) = temp_store();
    for id in [10, 11, 12, 13] {
        store
            .record_update(id, CHAT, &json!({"n": id}), at(id))
            .wait()
            .unwrap();
    }
    store
        .record_update(14, TOPIC, &json!({"n": 14}), at(14))
        .wait()
        .unwrap();
    assert!(store.mark_done(10, at(21)).wait().unwrap());
    let store = reopen(&dir, store);

    let open = unfinished(&store);
    let ids: Vec<i64> = open.iter().map(|u| u.0).collect();
    assert_eq!(ids, vec![11, 12, 13, 14]);
    let twelve = &open[1];
    assert_eq!(twelve.2, json!({"n": 12}));
    assert_eq!(twelve.3, at(12));
    assert_eq!(open[3].1, TOPIC);

    // Done: gone from the next restart's list, and a second mark keeps the first time.
    store.mark_done(12, at(30)).wait().unwrap();
    store.mark_done(12, at(40)).wait().unwrap();
    let store = reopen(&dir, store);
    assert_eq!(
        unfinished(&store).iter().map(|u| u.0).collect::<Vec<_>>(),
        vec![11, 13, 14]
    );
    let done_at: i64 = store
        .read()
        .query_row("SELECT done_at FROM inbox WHERE update_id = 12", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(done_at, at(30).timestamp_millis());
}

#[test]
fn marks_on_unknown_updates_report_false() {
    let (_dir, store) = temp_store();
    assert!(!store.mark_done(99, at(0)).wait().unwrap());
}

#[test]
fn an_id_finished_long_ago_is_a_new_update() {
    let (_dir, store) = temp_store();
    store
        .record_update(5, CHAT, &json!("old"), at(0))
        .wait()
        .unwrap();
    store.mark_done(5, at(2)).wait().unwrap();
    let later = at(2) + REDELIVERY_WINDOW + TimeDelta::seconds(1);
    assert_eq!(
        store
            .record_update(5, TOPIC, &json!("new"), later)
            .wait()
            .unwrap(),
        RecordOutcome::Inserted
    );
    let open = unfinished(&store);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].2, json!("new"));
    assert_eq!(open[0].1, TOPIC);
    assert_eq!(open[0].3, later);
}

#[test]
fn an_unfinished_id_stays_a_duplicate_however_old() {
    let (_dir, store) = temp_store();
    store
        .record_update(5, CHAT, &json!("old"), at(0))
        .wait()
        .unwrap();
    let much_later = at(0) + REDELIVERY_WINDOW * 10;
    assert_eq!(
        store
            .record_update(5, CHAT, &json!("x"), much_later)
            .wait()
            .unwrap(),
        RecordOutcome::Duplicate
    );
    assert_eq!(unfinished(&store)[0].2, json!("old"));
}

#[test]
fn prune_removes_only_finished_updates_before_the_cutoff() {
    let (_dir, store) = temp_store();
    for id in 1..=3 {
        store
            .record_update(id, CHAT, &json!(id), at(0))
            .wait()
            .unwrap();
    }
    store.mark_done(1, at(10)).wait().unwrap();
    store.mark_done(2, at(100)).wait().unwrap();
    assert_eq!(store.prune_inbox(at(50)).wait().unwrap(), 1);
    assert_eq!(
        store
            .record_update(2, CHAT, &json!(2), at(101))
            .wait()
            .unwrap(),
        RecordOutcome::Duplicate
    );
    assert_eq!(
        store
            .record_update(1, CHAT, &json!(1), at(101))
            .wait()
            .unwrap(),
        RecordOutcome::Inserted
    );
    assert_eq!(unfinished(&store).len(), 2, "3 still open, 1 new again");
}

#[test]
fn high_water_mark_only_rises_and_survives_restart() {
    let (dir, store) = temp_store();
    assert_eq!(store.confirmed_update_id().unwrap(), None);
    store.confirm_update(500).wait().unwrap();
    store.confirm_update(300).wait().unwrap();
    let store = reopen(&dir, store);
    assert_eq!(store.confirmed_update_id().unwrap(), Some(500));
    store.confirm_update(501).wait().unwrap();
    assert_eq!(store.confirmed_update_id().unwrap(), Some(501));
}

// ---- journal ----

#[test]
fn journal_keeps_events_in_order_with_rising_sequence_numbers() {
    let (dir, store) = temp_store();
    assert_eq!(
        store
            .append_events::<serde_json::Value>(&[])
            .wait()
            .unwrap(),
        None
    );
    let first = store
        .append_events(&[json!({"submitted": 1}), json!({"started": 1})])
        .wait()
        .unwrap();
    let second = store
        .append_events(&["finished".to_string()])
        .wait()
        .unwrap();
    assert!(second.unwrap() > first.unwrap());
    let store = reopen(&dir, store);
    let journal = store.load_journal().unwrap();
    let events: Vec<_> = journal.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        events,
        vec![
            json!({"submitted": 1}),
            json!({"started": 1}),
            json!("finished")
        ]
    );
    assert!(journal.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(journal.last().unwrap().seq, second.unwrap());
    assert_eq!(journal.iter().filter(|e| e.seq > first.unwrap()).count(), 1);
}

#[test]
fn replacing_the_journal_never_lets_a_sequence_number_return() {
    let (dir, store) = temp_store();
    let last = store
        .append_events(&[json!(1), json!(2), json!(3)])
        .wait()
        .unwrap()
        .unwrap();
    store
        .replace_journal::<serde_json::Value>(&[])
        .wait()
        .unwrap();
    let store = reopen(&dir, store);
    assert!(store.load_journal().unwrap().is_empty());
    let next = store.append_events(&[json!(4)]).wait().unwrap().unwrap();
    assert!(next > last, "{next} after {last}");
}

#[test]
fn concurrent_appends_are_all_kept_each_batch_contiguous() {
    let (_dir, store) = temp_store();
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let store = &store;
            scope.spawn(move || {
                for batch in 0..25 {
                    store
                        .append_events(&[json!([writer, batch, 0]), json!([writer, batch, 1])])
                        .wait()
                        .unwrap();
                }
            });
        }
    });
    let journal = store.load_journal().unwrap();
    assert_eq!(journal.len(), 200);
    for pair in journal.chunks(2) {
        assert_eq!(pair[0].event[0], pair[1].event[0]);
        assert_eq!(pair[0].event[1], pair[1].event[1]);
        assert_eq!(
            (pair[0].event[2].as_i64(), pair[1].event[2].as_i64()),
            (Some(0), Some(1))
        );
    }
}

// ---- cron jobs ----

#[test]
fn cron_jobs_round_trip_and_ids_are_never_reused() {
    let (dir, store) = temp_store();
    let daily = NewCronJob {
        lane: CHAT,
        schedule: ScheduleSpec::Cron {
            expr: "0 9 * * *".into(),
            tz: "Europe/Berlin".into(),
        },
        prompt: "summarise the news".into(),
        silent: true,
        next_fire: Some(at(100)),
        import_key: None,
    };
    let once = NewCronJob {
        lane: TOPIC,
        schedule: ScheduleSpec::Once { at: at(200) },
        prompt: "remind me".into(),
        silent: false,
        next_fire: Some(at(200)),
        import_key: None,
    };
    let daily_id = store.add_cron_job(&daily).wait().unwrap().unwrap();
    let once_id = store.add_cron_job(&once).wait().unwrap().unwrap();
    let store = reopen(&dir, store);

    let jobs = store.cron_jobs().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].id, daily_id);
    assert_eq!(jobs[0].schedule, daily.schedule);
    assert_eq!(jobs[0].prompt, "summarise the news");
    assert!(jobs[0].silent);
    assert_eq!(jobs[0].next_fire, Some(at(100)));
    assert_eq!(jobs[1].lane, TOPIC);
    assert_eq!(jobs[1].schedule, once.schedule);
    assert!(!jobs[1].silent);
    assert_eq!(store.cron_jobs_of_lane(TOPIC).unwrap().len(), 1);
    assert_eq!(store.cron_jobs_of_lane(CHAT).unwrap()[0].id, daily_id);

    assert!(
        store
            .set_next_fire(daily_id, Some(at(86_500)))
            .wait()
            .unwrap()
    );
    assert!(store.set_next_fire(once_id, None).wait().unwrap());
    assert_eq!(
        store.cron_job(daily_id).unwrap().unwrap().next_fire,
        Some(at(86_500))
    );
    assert_eq!(store.cron_job(once_id).unwrap().unwrap().next_fire, None);

    assert!(store.remove_cron_job(once_id).wait().unwrap());
    assert!(!store.remove_cron_job(once_id).wait().unwrap());
    assert!(!store.set_next_fire(once_id, Some(at(1))).wait().unwrap());
    assert_eq!(store.cron_job(once_id).unwrap(), None);
    let again = store.add_cron_job(&once).wait().unwrap().unwrap();
    assert!(again > once_id, "id {again} reused");
}

#[test]
fn interval_jobs_round_trip_and_an_import_key_is_stored_once() {
    let (dir, store) = temp_store();
    let every = NewCronJob {
        lane: CHAT,
        schedule: ScheduleSpec::Every {
            every_ms: 7_200_000,
            anchor: at(50),
        },
        prompt: "check the queue".into(),
        silent: false,
        next_fire: Some(at(50)),
        import_key: Some("cron-jobs.json:abc".into()),
    };
    let id = store.add_cron_job(&every).wait().unwrap().unwrap();
    assert_eq!(store.add_cron_job(&every).wait().unwrap(), None);
    let store = reopen(&dir, store);
    let jobs = store.cron_jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].id, &jobs[0].schedule), (id, &every.schedule));
}

#[test]
fn migrating_cron_jobs_keeps_them_and_never_reuses_a_deleted_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATABASE_FILE_NAME);
    {
        // A database as the first schema version left it.
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(schema::MIGRATIONS[0]).unwrap();
        tx.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO cron_jobs (chat_id, topic_id, kind, expr, tz, at, prompt, silent, next_fire)
                 VALUES (1, 0, 'cron', '0 9 * * *', 'UTC', NULL, 'kept', 0, 5000),
                        (1, 0, 'once', NULL, NULL, 9000, 'deleted', 1, 9000);
             DELETE FROM cron_jobs WHERE prompt = 'deleted';",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store = Store::open_in(dir.path()).unwrap();
    let jobs = store.cron_jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].id, jobs[0].prompt.as_str()), (1, "kept"));
    let job = NewCronJob {
        lane: CHAT,
        schedule: ScheduleSpec::Once { at: at(1) },
        prompt: "new".into(),
        silent: false,
        next_fire: None,
        import_key: None,
    };
    assert_eq!(store.add_cron_job(&job).wait().unwrap(), Some(3));
}

#[test]
fn due_jobs_and_the_earliest_fire_follow_next_fire() {
    let (_dir, store) = temp_store();
    assert_eq!(store.earliest_next_fire().unwrap(), None);
    let job = |next_fire| NewCronJob {
        lane: CHAT,
        schedule: ScheduleSpec::Once { at: at(0) },
        prompt: "p".into(),
        silent: false,
        next_fire,
        import_key: None,
    };
    let late = store
        .add_cron_job(&job(Some(at(300))))
        .wait()
        .unwrap()
        .unwrap();
    let early = store
        .add_cron_job(&job(Some(at(100))))
        .wait()
        .unwrap()
        .unwrap();
    let never = store.add_cron_job(&job(None)).wait().unwrap().unwrap();
    assert_eq!(store.earliest_next_fire().unwrap(), Some(at(100)));
    let ids = |jobs: Vec<CronJob>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(store.due_cron_jobs(at(99)).unwrap()), Vec::<i64>::new());
    assert_eq!(ids(store.due_cron_jobs(at(100)).unwrap()), vec![early]);
    assert_eq!(
        ids(store.due_cron_jobs(at(1000)).unwrap()),
        vec![early, late]
    );
    store.set_next_fire(early, None).wait().unwrap();
    assert_eq!(store.earliest_next_fire().unwrap(), Some(at(300)));
    assert!(!ids(store.due_cron_jobs(at(1000)).unwrap()).contains(&never));
}

#[test]
fn replace_journal_swaps_the_whole_journal_and_survives_reopening() {
    let (dir, store) = temp_store();
    store
        .append_events(&[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})])
        .wait()
        .unwrap();
    store
        .replace_journal(&[json!({"checkpoint": true})])
        .wait()
        .unwrap();
    store.append_events(&[json!({"n": 4})]).wait().unwrap();
    let store = reopen(&dir, store);
    let events: Vec<_> = store
        .load_journal()
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, [json!({"checkpoint": true}), json!({"n": 4})]);
}

// ---- run usage ----

#[test]
fn run_usage_sums_per_lane_and_since_a_time() {
    let (dir, store) = temp_store();
    let run = |lane, outcome: &str, input, output, cost, ended| RunUsage {
        lane,
        driver: "claude".into(),
        outcome: outcome.into(),
        input_tokens: input,
        output_tokens: output,
        cost_usd: cost,
        ended_at: at(ended),
    };
    store.record_run_usage(&run(CHAT, "completed", 100, 10, Some(0.5), 0));
    store.record_run_usage(&run(CHAT, "failed", 20, 2, None, 100));
    store
        .record_run_usage(&run(TOPIC, "completed", 7, 3, Some(0.25), 200))
        .wait()
        .unwrap();
    let store = reopen(&dir, store);
    let all = store.usage_since(None, at(0)).unwrap();
    assert_eq!(
        (
            all.runs,
            all.input_tokens,
            all.output_tokens,
            all.uncosted_runs
        ),
        (3, 127, 15, 1)
    );
    assert!((all.cost_usd - 0.75).abs() < 1e-9, "{}", all.cost_usd);
    assert_eq!(all.outcomes.get("completed"), Some(&2));
    let chat = store.usage_since(Some(CHAT), at(50)).unwrap();
    assert_eq!((chat.runs, chat.input_tokens), (1, 20));
    assert_eq!(chat.outcomes.get("failed"), Some(&1));
    assert_eq!(
        store.usage_since(Some(TOPIC), at(201)).unwrap(),
        UsageTotals::default()
    );
}
