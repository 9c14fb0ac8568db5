//! Scheduled work, usage and what a run changed, end to end: the real CLIs
//! against the fake model servers, the bot against the fake Telegram.

mod support;

use std::path::Path;
use std::process::Command;

use support::bot::{Bot, Start, USER, button_labels};
use support::fake_anthropic::Reply;
use support::fake_openai;

const CHAT: i64 = 303;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// Sends `/usage` and returns its answer.
async fn usage(bot: &Bot) -> String {
    let count = |s: &support::fake_telegram::Store| {
        s.texts(CHAT)
            .iter()
            .filter(|t| t.starts_with("Usage"))
            .count()
    };
    let before = count(&bot.telegram.store());
    bot.send(CHAT, "/usage");
    bot.wait("the usage", |s| count(s) > before).await;
    bot.find(CHAT, "Usage (days in").text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counts_the_runs_of_both_agents_with_the_model_servers_figures() {
    let mut bot = Bot::start_both(
        Start::Claude,
        vec![fake_openai::Reply::text(&["Codex ", "says ", "hi."])],
        vec![Reply::text(&["Claude ", "says hi."])],
    )
    .await;
    let empty = usage(&bot).await;
    assert!(empty.contains("This chat\ntoday: no runs"), "{empty}");

    bot.ask(CHAT, "hello claude", "Claude says hi.").await;
    let claude_status = bot.idle_status(CHAT).await;
    // The fake Anthropic server reports 12 input tokens, and one output token per chunk
    // plus one; claude prices them by its own table, so the cost is only checked as there.
    assert!(
        claude_status.contains("Tokens last run: 12 in, 3 out · $"),
        "{claude_status}"
    );
    bot.send(CHAT, "/switch codex");
    bot.wait_shown(CHAT, "the switch", "Switched to codex")
        .await;
    bot.ask(CHAT, "hello codex", "Codex says hi.").await;
    let codex_status = bot.idle_status(CHAT).await;
    // The fake OpenAI server reports 10 input tokens and one output token per chunk.
    assert!(
        codex_status.contains("Tokens last run: 10 in, 3 out") && !codex_status.contains('$'),
        "codex reports no cost: {codex_status}"
    );

    let shown = usage(&bot).await;
    let runs = "2 runs (2 completed) · 22 in · 6 out · $";
    for line in [
        format!("This chat\ntoday: {runs}"),
        format!("this week: {runs}"),
        format!("All chats\ntoday: {runs}"),
        format!("total: {runs}"),
    ] {
        assert!(shown.contains(&line), "{line:?} in {shown}");
    }
    assert!(shown.contains("(1 without a cost)"), "{shown}");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_edits_a_file_ends_with_its_diff_and_one_that_changes_nothing_does_not() {
    let mut bot = Bot::start(
        vec![
            Reply::bash("printf 'hello from the run\\n' > notes.txt"),
            Reply::text(&["Wrote notes.txt."]),
            Reply::text(&["Nothing to change."]),
            Reply::bash("printf 'second\\n' > notes.txt"),
            Reply::text(&["Wrote more."]),
        ],
        &[],
    )
    .await;
    let workdir = bot.sandbox.workdir.clone();
    git(&workdir, &["init", "-q"]);
    std::fs::write(workdir.join("README"), "project\n").unwrap();
    git(&workdir, &["add", "README"]);
    git(&workdir, &["commit", "-q", "-m", "start"]);
    // Left uncommitted before the run: not the run's change.
    std::fs::write(workdir.join("README"), "project, edited by hand\n").unwrap();

    bot.ask(CHAT, "write the notes", "Wrote notes.txt.").await;
    let summary = bot
        .wait_shown(CHAT, "the change summary", "1 file changed, +1 −0")
        .await;
    assert!(
        summary.text.contains("+hello from the run") && !summary.text.contains("edited by hand"),
        "a short patch shows inline, only this run's: {}",
        summary.text
    );
    assert_eq!(button_labels(&summary), ["Diff"]);
    bot.assert_shown_in_order(CHAT, "Wrote notes.txt.", "1 file changed");
    bot.press(&summary, "Diff").await;
    bot.wait("the patch document", |s| !s.documents.is_empty())
        .await;
    let document = bot.telegram.store().documents[0].clone();
    assert_eq!(document.chat, CHAT);
    assert!(document.file_name.ends_with(".patch"), "{document:?}");
    assert!(
        document.text.contains("+++ b/notes.txt") && document.text.contains("+hello from the run"),
        "{document:?}"
    );
    assert!(!document.text.contains("README"), "{document:?}");

    bot.ask(CHAT, "look only", "Nothing to change.").await;
    // A run that changes nothing gets no summary: the next run's summary is the
    // next one shown (a summary follows its own answer, long before the next
    // run's CLI has even started).
    bot.ask(CHAT, "write more", "Wrote more.").await;
    bot.wait_shown(CHAT, "the third run's summary", "1 file changed, +1 −1")
        .await;
    let texts = bot.texts(CHAT);
    let summaries: Vec<&String> = texts.iter().filter(|t| t.contains("changed, +")).collect();
    assert_eq!(summaries.len(), 2, "{texts:#?}");
    bot.assert_shown_in_order(CHAT, "Nothing to change.", "Wrote more.");
    bot.assert_shown_in_order(CHAT, "Wrote more.", "+1 −1");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_job_shows_only_a_marked_answer_or_one_line() {
    let mut bot = Bot::start(
        vec![
            Reply::text(&["[notify] CI is red on main."]),
            Reply::text(&["All green."]),
        ],
        &[],
    )
    .await;
    bot.send(CHAT, "/cron silent in 1s check CI");
    bot.wait_shown(CHAT, "the first job", "Job 1").await;
    bot.wait_shown(CHAT, "the marked answer", "🔔 Job 1: CI is red on main.")
        .await;
    bot.send(CHAT, "/cron silent in 1s check CI again");
    bot.wait_shown(CHAT, "the second job", "Job 2").await;
    bot.wait_shown(CHAT, "the one line", "🔕 Job 2 ran in")
        .await;
    let everything = bot.everything_shown(CHAT);
    assert!(
        !everything
            .iter()
            .any(|t| t.contains("▶️") || t.contains("All green")),
        "a silent job streams nothing: {everything:#?}"
    );
    let prompts = bot.claude_prompts();
    assert!(
        prompts[0].contains("[notify]"),
        "the agent is told the marker: {prompts:#?}"
    );
    bot.shut_down().await;
}

#[test]
fn import_cron_brings_in_the_original_jobs_once() {
    let state = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cron-jobs.json");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["--no-env-file", "import-cron", fixture])
            .env_clear()
            .env("TELEGRAM_BOT_TOKEN", "1:test")
            .env("TELEGRAM_ALLOWED_USERS", USER.to_string())
            .env("BATON_STATE_DIR", state.path())
            .env("BATON_WORKDIR", state.path())
            .env("CLAUDE_BIN", "/bin/sh")
            .output()
            .expect("baton runs")
    };
    let import = || {
        let output = run();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stdout}{stderr}");
        stdout
    };
    {
        // A serving instance holds the state directory: the import waits for it to stop.
        let _serving = baton_bot::instance_lock::InstanceLock::acquire(state.path()).unwrap();
        let refused = run();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("baton: import-cron: another baton instance is already running"),
            "{stderr}"
        );
    }
    let first = import();
    assert!(
        first.contains("entry 2: skipped: type \"weekly\" is not one-shot or recurring"),
        "{first}"
    );
    assert!(
        first.ends_with("3 imported, 0 already imported, 1 skipped\n"),
        "{first}"
    );
    let second = import();
    assert!(
        second.ends_with("0 imported, 3 already imported, 1 skipped\n"),
        "{second}"
    );
    let store = baton_bot::store::Store::open_in(state.path()).unwrap();
    let jobs = store.cron_jobs().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().any(|job| job.lane.chat == USER), "{jobs:?}");
}
