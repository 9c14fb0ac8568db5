//! Approvals from the phone, end to end: the real claude CLI asks for
//! permission over its stdio control protocol, Baton shows the question
//! with buttons bound to the run, and the tap reaches the agent; the fake
//! Anthropic server scripts the tool calls and records what the model got.

mod support;

use std::time::Duration;

use serde_json::json;
use support::bot::{Bot, QUESTION_CLOSED, USER, button_labels, shows};
use support::fake_anthropic::Reply;

const CHAT: i64 = 404;
const STOPPED: &str = "Denied: the run was stopped.";
/// Bash needs permission: the rig pre-allows it, these tests do not.
const ASKING: &[(&str, &str)] = &[("CLAUDE_ALLOWED_TOOLS", "Read")];

fn touch(file: &str) -> Reply {
    Reply::bash(&format!("touch {file}"))
}

fn tool_results(bot: &Bot) -> String {
    bot.anthropic
        .agent_requests()
        .iter()
        .map(|r| r.last_user_content())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_runs_the_command_and_a_tap_after_the_run_is_refused() {
    let mut bot = Bot::start(
        vec![touch("approved-a.txt"), Reply::text(&["Created it."])],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create approved-a.txt");
    let asked = bot.question(CHAT, "touch approved-a.txt").await;
    assert!(asked.text.contains("Bash"), "{}", asked.text);
    assert_eq!(
        button_labels(&asked),
        ["✅ Allow", "❌ Deny", "✅ Allow for this session"]
    );
    let status = bot.status(CHAT).await;
    assert!(
        status.contains("Waiting for your approval: Bash `touch approved-a.txt`"),
        "{status}"
    );
    assert_eq!(bot.press(&asked, "Allow").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Created it.").await;
    assert!(bot.sandbox.workdir.join("approved-a.txt").exists());
    assert!(shows(&bot.telegram.store(), CHAT, "Allowed by User42"));
    bot.idle_status(CHAT).await;
    assert_eq!(bot.press(&asked, "Deny").await, QUESTION_CLOSED);
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_with_a_typed_reason_reaches_the_model_and_nothing_runs() {
    let mut bot = Bot::start(
        vec![
            touch("denied.txt"),
            Reply::text(&["Understood, not creating it."]),
        ],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create denied.txt");
    let asked = bot.question(CHAT, "touch denied.txt").await;
    assert_eq!(bot.press(&asked, "Deny").await, "Denied");
    bot.wait_shown(CHAT, "the prompt for a reason", "Send the reason")
        .await;
    bot.send(CHAT, "wrong folder, REASON-77");
    bot.wait_shown(
        CHAT,
        "the reason acknowledged",
        "Sent to the agent as the reason.",
    )
    .await;
    bot.wait_shown(CHAT, "the answer", "Understood, not creating it.")
        .await;
    assert!(!bot.sandbox.workdir.join("denied.txt").exists());
    assert!(
        tool_results(&bot).contains("REASON-77"),
        "{}",
        tool_results(&bot)
    );
    assert_eq!(bot.claude_turns(), 2, "the reason is no message of its own");
    assert!(
        bot.everything_shown(CHAT)
            .iter()
            .all(|t| !t.contains("Queued")),
        "the reason went to the agent, not to the queue"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_for_this_session_is_not_asked_again_and_writes_no_settings() {
    let mut bot = Bot::start(
        vec![
            touch("twice.txt"),
            touch("twice.txt"),
            Reply::text(&["Touched it twice."]),
        ],
        ASKING,
    )
    .await;
    bot.send(CHAT, "touch twice.txt twice");
    let asked = bot.question(CHAT, "touch twice.txt").await;
    assert_eq!(bot.press(&asked, "Allow for this session").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Touched it twice.")
        .await;
    let questions = bot
        .everything_shown(CHAT)
        .iter()
        .filter(|t| t.contains("wants permission"))
        .count();
    assert_eq!(questions, 1, "asked once: {:#?}", bot.texts(CHAT));
    assert!(!bot.sandbox.workdir.join(".claude").exists());
    assert!(
        tool_results(&bot)
            .matches("(Bash completed with no output)")
            .count()
            >= 1
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_tap_answers_once() {
    let mut bot = Bot::start(
        vec![touch("once.txt"), Reply::text(&["Done once."])],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create once.txt");
    let asked = bot.question(CHAT, "touch once.txt").await;
    let data = support::bot::buttons(&asked)[0].1.clone();
    let first = bot.telegram.push_callback(CHAT, USER, asked.id, &data);
    let second = bot.telegram.push_callback(CHAT, USER, asked.id, &data);
    let answers = |s: &support::fake_telegram::Store| {
        [first, second].map(|update| {
            let query = format!("cb{update}");
            s.requests
                .iter()
                .find(|r| {
                    r.method == "answercallbackquery" && r.params["callback_query_id"] == query
                })
                .map(|r| r.params["text"].as_str().unwrap_or_default().to_owned())
        })
    };
    bot.wait("both taps answered", |s| {
        answers(s).iter().all(Option::is_some)
    })
    .await;
    let answers = answers(&bot.telegram.store()).map(Option::unwrap);
    assert_eq!(
        answers.iter().filter(|a| *a == "Allowed").count(),
        1,
        "{answers:?}"
    );
    bot.wait_shown(CHAT, "the answer", "Done once.").await;
    assert_eq!(
        tool_results(&bot)
            .matches("(Bash completed with no output)")
            .count(),
        1
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_a_question_waits_denies_it_and_ends_the_run() {
    let mut bot = Bot::start(
        vec![touch("never.txt"), Reply::text(&["Not reached."])],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create never.txt");
    let asked = bot.question(CHAT, "touch never.txt").await;
    bot.send(CHAT, "/stop");
    bot.wait_shown(CHAT, "the stop report", "Stopped").await;
    bot.settled(&asked, STOPPED).await;
    bot.idle_status(CHAT).await;
    assert!(!bot.sandbox.workdir.join("never.txt").exists());
    let allow = support::bot::buttons(&asked)[0].1.clone();
    assert_eq!(
        bot.press_as(USER, CHAT, asked.id, &allow).await,
        QUESTION_CLOSED
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stall_timer_does_not_count_the_wait_for_the_user() {
    let mut settings = ASKING.to_vec();
    // Longer than the CLI's start-up on a loaded machine, shorter than the wait.
    settings.push(("BATON_STALL_TIMEOUT_SECS", "8"));
    let mut bot = Bot::start(
        vec![touch("late.txt"), Reply::text(&["Late but fine."])],
        &settings,
    )
    .await;
    bot.send(CHAT, "create late.txt");
    let asked = bot.question(CHAT, "touch late.txt").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(bot.press(&asked, "Allow").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Late but fine.").await;
    assert!(bot.sandbox.workdir.join("late.txt").exists());
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
async fn an_unanswered_question_is_denied_after_the_timeout() {
    let mut settings = ASKING.to_vec();
    settings.push(("BATON_ASK_TIMEOUT_SECS", "2"));
    let mut bot = Bot::start(
        vec![touch("ignored.txt"), Reply::text(&["Moving on."])],
        &settings,
    )
    .await;
    bot.send(CHAT, "create ignored.txt");
    bot.question(CHAT, "touch ignored.txt").await;
    bot.wait_shown(CHAT, "the chat told", "No answer within 1 min: denied.")
        .await;
    bot.wait_shown(CHAT, "the answer", "Moving on.").await;
    assert!(!bot.sandbox.workdir.join("ignored.txt").exists());
    assert!(tool_results(&bot).contains("did not answer"));
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_own_question_is_answered_by_a_tap() {
    let ask = Reply::colour_question();
    let mut bot = Bot::start(vec![ask, Reply::text(&["Blue it is."])], ASKING).await;
    bot.send(CHAT, "make a button");
    let asked = bot
        .question(CHAT, "Which colour should the button be?")
        .await;
    assert_eq!(button_labels(&asked), ["Red", "Blue"]);
    assert_eq!(bot.press(&asked, "Blue").await, "Answered");
    bot.wait_shown(CHAT, "the answer", "Blue it is.").await;
    let results = tool_results(&bot);
    assert!(
        results.contains("Which colour should the button be?") && results.contains("Blue"),
        "{results}"
    );
    bot.shut_down().await;
}

/// A typed reply answers the agent's own question: the text reaches the
/// model as the answer, and the question loses its buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_reply_answers_the_agents_own_question() {
    let mut bot = Bot::start(
        vec![Reply::colour_question(), Reply::text(&["Green it is."])],
        ASKING,
    )
    .await;
    bot.send(CHAT, "make a button");
    let asked = bot
        .question(CHAT, "Which colour should the button be?")
        .await;
    bot.send(CHAT, "Green, like the logo");
    bot.wait_shown(CHAT, "the note", "Sent to the agent as your answer.")
        .await;
    bot.wait_shown(CHAT, "the answer", "Green it is.").await;
    let results = tool_results(&bot);
    assert!(results.contains("Green, like the logo"), "{results}");
    assert!(
        bot.telegram
            .store()
            .visible(CHAT)
            .iter()
            .any(|m| m.id == asked.id && m.reply_markup.is_none()),
        "the question lost its buttons"
    );
    assert_eq!(
        bot.claude_turns(),
        2,
        "the reply was not queued as a run of its own"
    );
    bot.shut_down().await;
}

/// `/mode plan`, then the agent's plan comes back as a message with
/// Approve plan and Keep planning; Keep planning with a typed note reaches
/// the model, Approve plan lets it go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mode_shows_the_plan_and_the_tap_reaches_the_model() {
    let plan = |text: &str| Reply::ToolUse {
        name: "ExitPlanMode".into(),
        input: json!({ "plan": text }),
    };
    let mut bot = Bot::start(
        vec![
            plan("1. Create plan-a.txt\n2. Report back"),
            plan("1. Create plan-a.txt\n2. Add a test\n3. Report back"),
            Reply::text(&["Plan approved, starting."]),
        ],
        ASKING,
    )
    .await;
    bot.send(CHAT, "/mode plan");
    bot.wait_shown(CHAT, "the mode set", "Mode: plan").await;
    bot.send(CHAT, "plan the file");
    let first = bot.question(CHAT, "Report back").await;
    assert!(first.text.contains("The plan"), "{}", first.text);
    assert_eq!(
        button_labels(&first),
        ["✅ Approve plan", "✏️ Keep planning"]
    );
    assert_eq!(bot.press(&first, "Keep planning").await, "Denied");
    bot.send(CHAT, "add a test step");
    bot.wait_shown(
        CHAT,
        "the note acknowledged",
        "Sent to the agent as the reason.",
    )
    .await;
    let second = bot.question(CHAT, "Add a test").await;
    assert_eq!(bot.press(&second, "Approve plan").await, "Allowed");
    bot.wait_shown(CHAT, "the answer", "Plan approved, starting.")
        .await;
    let results = tool_results(&bot);
    assert!(
        results.contains("Keep planning: add a test step"),
        "{results}"
    );
    let last = bot
        .anthropic
        .agent_requests()
        .last()
        .unwrap()
        .body
        .to_string();
    assert!(
        last.contains("You have exited plan mode"),
        "the approval reached the model"
    );
    let first_request = &bot.anthropic.agent_requests()[0];
    assert!(
        first_request
            .body
            .to_string()
            .contains("Plan mode is active"),
        "claude ran in plan mode"
    );
    bot.shut_down().await;
}

/// A stranger's tap changes nothing; a restart while the question waits
/// ends its run as interrupted, and the old buttons then say the run is
/// gone instead of reaching a new run of the same lane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_tap_and_a_tap_after_a_restart_change_nothing() {
    let mut bot = Bot::start(
        vec![
            // The interrupted run asks the model nothing more.
            touch("restarted.txt"),
            touch("after.txt"),
            Reply::text(&["Asked again."]),
        ],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create restarted.txt");
    let asked = bot.question(CHAT, "touch restarted.txt").await;
    let allow = support::bot::buttons(&asked)[0].1.clone();
    assert_eq!(
        bot.press_as(support::bot::STRANGER, CHAT, asked.id, &allow)
            .await,
        "Not allowed."
    );
    assert!(
        bot.telegram
            .store()
            .visible(CHAT)
            .iter()
            .any(|m| m.id == asked.id && m.reply_markup.is_some()),
        "the stranger's tap left the question open"
    );
    bot.shut_down().await;
    bot.serve(ASKING);
    // A new run of the same lane asks a question of its own.
    bot.send(CHAT, "create after.txt");
    let later = bot.question(CHAT, "touch after.txt").await;
    assert_eq!(
        bot.press_as(USER, CHAT, asked.id, &allow).await,
        QUESTION_CLOSED
    );
    assert!(!bot.sandbox.workdir.join("restarted.txt").exists());
    assert!(
        bot.telegram
            .store()
            .visible(CHAT)
            .iter()
            .any(|m| m.id == later.id && m.reply_markup.is_some()),
        "the old tap did not answer the new question"
    );
    assert_eq!(bot.press(&later, "Allow").await, "Allowed");
    bot.wait_shown(CHAT, "the new run's answer", "Asked again.")
        .await;
    assert!(bot.sandbox.workdir.join("after.txt").exists());
    bot.shut_down().await;
}

/// `!text` and `/new` while a question waits deny it as `/stop` does: the
/// question says so, nothing it asked for runs, and what `!` carried runs
/// next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_or_a_new_session_while_a_question_waits_denies_it() {
    let mut bot = Bot::start(
        vec![
            touch("first.txt"),
            Reply::text(&["Took the interrupt."]),
            touch("second.txt"),
        ],
        ASKING,
    )
    .await;
    bot.send(CHAT, "create first.txt");
    let first = bot.question(CHAT, "touch first.txt").await;
    bot.send(CHAT, "!never mind, just say hi");
    bot.wait_shown(CHAT, "the interrupt's answer", "Took the interrupt.")
        .await;
    bot.settled(&first, STOPPED).await;
    bot.send(CHAT, "create second.txt");
    let second = bot.question(CHAT, "touch second.txt").await;
    bot.send(CHAT, "/new");
    bot.settled(&second, STOPPED).await;
    bot.idle_status(CHAT).await;
    for file in ["first.txt", "second.txt"] {
        assert!(!bot.sandbox.workdir.join(file).exists(), "{file}");
    }
    let allow = support::bot::buttons(&second)[0].1.clone();
    assert_eq!(
        bot.press_as(USER, CHAT, second.id, &allow).await,
        QUESTION_CLOSED
    );
    bot.shut_down().await;
}
