//! From an incident to a report, end to end: the journal a real run of the
//! bot leaves (a message, one queued behind it, a stop that clears it, one
//! more message, the shutdown) is
//! exported by `baton export-journal`'s code, turned into a race report and
//! run against the core, sequentially in the journal's order and under a
//! checker.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Impl};
use baton_model_tests::incident::{self, Header};
use baton_model_tests::report;
use support::bot::{Bot, USER, shows};
use support::fake_anthropic::Reply;

const CHAT: i64 = 101;

/// `baton export-journal --out OUT` with only the state dir set: no token,
/// no agent CLI, no env file.
fn export_journal(state_dir: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .env_clear()
        .env("BATON_STATE_DIR", state_dir)
        .args(["--no-env-file", "export-journal", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn export_journal_without_a_database_fails_and_writes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let out = state.path().join("journal.jsonl");
    let failed = export_journal(state.path(), &out);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("no Baton database"), "{stderr}");
    assert!(!out.exists(), "no output file is left behind");
    assert!(
        !state
            .path()
            .join(baton_bot::store::DATABASE_FILE_NAME)
            .exists()
    );
}

fn ops(report: &report::Report, actor: &str) -> Vec<String> {
    report
        .actors
        .iter()
        .find(|a| a.name == actor)
        .map(|a| a.ops.iter().map(|(_, text)| text.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_of_a_stopped_run_and_a_queued_message_becomes_a_clean_report() {
    let mut bot = Bot::start(
        vec![Reply::hang("Long run"), Reply::text(&["Second answer."])],
        &[],
    )
    .await;
    bot.ask(CHAT, "a long task", "Long run").await;
    bot.telegram.push_text(CHAT, USER, "the next one");
    bot.wait("the queued reply", |s| shows(s, CHAT, "Queued, position 1"))
        .await;
    bot.telegram.push_text(CHAT, USER, "/stop");
    bot.wait("the stop's report", |s| shows(s, CHAT, "Removed 1 queued"))
        .await;
    bot.ask(CHAT, "after the stop", "Second answer.").await;
    bot.wait_agents_gone().await;
    bot.shut_down().await;

    let mut jsonl = Vec::new();
    let count = baton_bot::export_journal::export(bot.state_dir(), &mut jsonl).unwrap();
    assert!(count > 0, "the journal has entries");
    assert_eq!(String::from_utf8_lossy(&jsonl).lines().count(), count);
    let exported = tempfile::NamedTempFile::new().unwrap();
    // The command itself writes the same, from the state dir alone.
    let written = export_journal(bot.state_dir(), exported.path());
    assert_eq!(written.status.code(), Some(0), "{written:?}");
    assert_eq!(std::fs::read(exported.path()).unwrap(), jsonl);
    let from_jsonl = incident::read(exported.path()).unwrap();
    let database = bot.state_dir().join(baton_bot::store::DATABASE_FILE_NAME);
    let from_sqlite = incident::read(&database).unwrap();
    assert_eq!(from_jsonl, from_sqlite, "both readers see the same journal");

    let header = Header {
        id: "E2E-1".to_owned(),
        title: "a stopped run and a queued message".to_owned(),
        invariant: "no_loss".to_owned(),
    };
    let converted = incident::convert(&from_jsonl, &header).unwrap();
    let report = report::parse(Path::new("e2e.toml"), &converted.toml)
        .unwrap_or_else(|e| panic!("{e}\n{}", converted.toml));
    let text = &converted.toml;
    assert!(
        !text.contains("a long task"),
        "no prompt in the report:\n{text}"
    );
    assert!(!text.contains(&CHAT.to_string()), "no chat id:\n{text}");
    let user = ops(&report, "user");
    assert_eq!(
        user,
        [
            "submit A a1 text",
            "submit A a2 text",
            "stop A clear",
            "submit A a3 text",
            "shutdown"
        ],
        "{text}"
    );
    let runner = ops(&report, "runner1");
    assert_eq!(
        runner.iter().filter(|op| *op == "take A").count(),
        2,
        "{text}"
    );
    assert_eq!(
        runner.iter().filter(|op| op.starts_with("finish")).count(),
        2,
        "{text}"
    );
    assert!(runner.contains(&"spawn".to_owned()), "{text}");

    let replayed = explore::run_in_order(&report, Impl::Core, &converted.order);
    assert_eq!(
        explore::operation_order(&report, &replayed),
        converted.order,
        "the journal's order replays whole:\n{text}"
    );
    assert!(replayed.violations.is_empty(), "{:?}", replayed.violations);
    let report = Arc::new(report);
    let budget = Budget {
        iterations: 200,
        ..Budget::quick()
    };
    let found = explore::explore(&report, Impl::Core, Checker::Pct, &budget, None);
    assert!(found.error.is_none(), "{:?}", found.error);
    assert!(
        found.failure.is_none(),
        "{:?}\n{text}",
        found.failure.map(|f| f.violations)
    );
    assert!(found.executions > 0);
}
