//! Codex's approvals from the phone, end to end: the real codex CLI runs as
//! `codex app-server`, asks over JSON-RPC before a command, Baton shows the
//! question with the same buttons as claude's, and the tap reaches codex;
//! the fake Responses API scripts the calls and records what the model got.

mod support;

use support::bot::{Bot, QUESTION_CLOSED, USER, button_labels, buttons, shows};
use support::fake_openai::Reply;

const CHAT: i64 = 505;
/// Asks before anything not known to be safe, `touch` included.
const UNTRUSTED: &[(&str, &str)] = &[("CODEX_APPROVAL_POLICY", "untrusted")];

/// Every input item the model received, as JSON text.
fn model_inputs(bot: &Bot) -> String {
    bot.codex_turns()
        .iter()
        .map(|turn| turn.input())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_allow_runs_the_command_and_the_question_shows_who_allowed_it() {
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::exec("touch approved-c.txt"),
            Reply::text(&["Created it."]),
        ],
        UNTRUSTED,
    )
    .await;
    bot.send(CHAT, "create approved-c.txt");
    let asked = bot.question(CHAT, "touch approved-c.txt").await;
    assert!(asked.text.contains("Shell"), "{}", asked.text);
    assert_eq!(
        button_labels(&asked),
        ["✅ Allow", "❌ Deny", "✅ Allow for this session"]
    );
    let status = bot.status(CHAT).await;
    assert!(
        status.contains("Waiting for your approval: Shell `touch approved-c.txt`"),
        "{status}"
    );
    assert!(
        !bot.sandbox.workdir.join("approved-c.txt").exists(),
        "nothing runs before the answer"
    );
    assert_eq!(bot.press(&asked, "Allow").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Created it.").await;
    assert!(bot.sandbox.workdir.join("approved-c.txt").exists());
    bot.settled(&asked, "Allowed by User42").await;
    assert!(
        model_inputs(&bot).contains("Process exited with code 0"),
        "{}",
        model_inputs(&bot)
    );
    bot.idle_status(CHAT).await;
    assert_eq!(bot.press(&asked, "Deny").await, QUESTION_CLOSED);
    bot.shut_down().await;
}

/// Under the default policy (`on-request`) codex asks when the model wants
/// out of the sandbox; a denial with a typed reason reaches the model as the
/// refusal and the reason, in the same turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_deny_with_a_reason_reaches_the_model_and_nothing_runs() {
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::escalated(
                "touch denied-c.txt",
                "Create denied-c.txt outside the sandbox",
            ),
            Reply::text(&["Understood, not creating it."]),
        ],
        &[],
    )
    .await;
    bot.send(CHAT, "create denied-c.txt");
    let asked = bot.question(CHAT, "touch denied-c.txt").await;
    assert!(
        asked
            .text
            .contains("Create denied-c.txt outside the sandbox"),
        "the model's justification is shown: {}",
        asked.text
    );
    assert_eq!(bot.press(&asked, "Deny").await, "Denied");
    bot.wait_shown(CHAT, "the prompt for a reason", "Send the reason")
        .await;
    bot.send(CHAT, "wrong folder, REASON-78");
    bot.wait_shown(
        CHAT,
        "the reason acknowledged",
        "Sent to the agent as the reason.",
    )
    .await;
    bot.wait_shown(CHAT, "the answer", "Understood, not creating it.")
        .await;
    bot.settled(&asked, "Denied: wrong folder, REASON-78").await;
    assert!(!bot.sandbox.workdir.join("denied-c.txt").exists());
    let inputs = model_inputs(&bot);
    assert!(inputs.contains("rejected by user"), "{inputs}");
    assert!(inputs.contains("REASON-78"), "{inputs}");
    assert_eq!(
        bot.codex_turns().len(),
        2,
        "the reason is no turn of its own"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_stop_while_a_question_waits_denies_it_and_ends_the_run() {
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::exec("touch never-c.txt"),
            Reply::text(&["Not reached."]),
        ],
        UNTRUSTED,
    )
    .await;
    bot.send(CHAT, "create never-c.txt");
    let asked = bot.question(CHAT, "touch never-c.txt").await;
    bot.send(CHAT, "/stop");
    bot.wait_shown(CHAT, "the stop report", "Stopped").await;
    bot.settled(&asked, "Denied: the run was stopped.").await;
    bot.idle_status(CHAT).await;
    bot.wait_agents_gone().await;
    assert!(!bot.sandbox.workdir.join("never-c.txt").exists());
    assert_eq!(bot.codex_turns().len(), 1, "the model never heard back");
    assert!(!shows(&bot.telegram.store(), CHAT, "Not reached."));
    let allow = buttons(&asked)[0].1.clone();
    assert_eq!(
        bot.press_as(USER, CHAT, asked.id, &allow).await,
        QUESTION_CLOSED
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_allow_for_this_session_is_not_asked_again() {
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::exec("touch twice-c.txt"),
            Reply::exec("touch twice-c.txt"),
            Reply::text(&["Touched it twice."]),
        ],
        UNTRUSTED,
    )
    .await;
    bot.send(CHAT, "touch twice-c.txt twice");
    let asked = bot.question(CHAT, "touch twice-c.txt").await;
    assert_eq!(bot.press(&asked, "Allow for this session").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Touched it twice.")
        .await;
    bot.settled(&asked, "Allowed for this session by User42")
        .await;
    let questions = bot
        .everything_shown(CHAT)
        .iter()
        .filter(|t| t.contains("wants permission"))
        .count();
    assert_eq!(questions, 1, "asked once: {:#?}", bot.texts(CHAT));
    assert_eq!(
        model_inputs(&bot)
            .matches("Process exited with code 0")
            .count(),
        // The third request carries both outputs, the second the first.
        3
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_stall_timer_does_not_count_the_wait_for_the_user() {
    let mut settings = UNTRUSTED.to_vec();
    // Longer than the CLI's start-up on a loaded machine, shorter than the wait.
    settings.push(("BATON_STALL_TIMEOUT_SECS", "8"));
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::exec("touch late-c.txt"),
            Reply::text(&["Late but fine."]),
        ],
        &settings,
    )
    .await;
    bot.send(CHAT, "create late-c.txt");
    let asked = bot.question(CHAT, "touch late-c.txt").await;
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    assert_eq!(bot.press(&asked, "Allow").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Late but fine.").await;
    assert!(bot.sandbox.workdir.join("late-c.txt").exists());
    assert!(
        bot.everything_shown(CHAT)
            .iter()
            .all(|t| !t.contains("stalled")),
        "{:#?}",
        bot.everything_shown(CHAT)
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_unanswered_question_is_denied_after_the_timeout() {
    let mut settings = UNTRUSTED.to_vec();
    settings.push(("BATON_ASK_TIMEOUT_SECS", "2"));
    let mut bot = Bot::start_codex_with(
        vec![
            Reply::exec("touch ignored-c.txt"),
            Reply::text(&["Moving on."]),
        ],
        &settings,
    )
    .await;
    bot.send(CHAT, "create ignored-c.txt");
    let asked = bot.question(CHAT, "touch ignored-c.txt").await;
    bot.wait_shown(CHAT, "the chat told", "No answer within 1 min: denied.")
        .await;
    bot.wait_shown(CHAT, "the answer", "Moving on.").await;
    bot.settled(&asked, "No answer within 1 min: denied.").await;
    assert!(!bot.sandbox.workdir.join("ignored-c.txt").exists());
    let inputs = model_inputs(&bot);
    assert!(inputs.contains("rejected by user"), "{inputs}");
    assert!(inputs.contains("did not answer"), "{inputs}");
    bot.shut_down().await;
}
