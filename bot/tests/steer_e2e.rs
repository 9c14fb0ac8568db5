//! Steer or queue, end to end: the reply that says a message was queued
//! carries Run now and Cancel, each one atomic step of the core, with the
//! real claude CLI against the fake Anthropic server.

mod support;

use std::time::Duration;

use support::bot::{Bot, button_labels, shows};
use support::fake_anthropic::Reply;

const CHAT: i64 = 303;

/// Waits for the queued reply of the `nth` queued message (1-based position).
async fn queued_reply(bot: &Bot, position: usize) -> support::fake_telegram::StoredMessage {
    let needle = format!("Queued, position {position}");
    bot.wait(&format!("the queued reply at {position}"), |s| {
        s.visible(CHAT)
            .iter()
            .any(|m| m.text.contains(&needle) && m.reply_markup.is_some())
    })
    .await;
    bot.find(CHAT, &needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_stops_the_run_and_runs_that_message_next() {
    let mut bot = Bot::start(
        vec![
            Reply::hang("First run"),
            Reply::text(&["Third answer."]),
            Reply::text(&["Second answer."]),
        ],
        &[],
    )
    .await;
    bot.ask(CHAT, "first", "First run").await;
    bot.send(CHAT, "second");
    let second = queued_reply(&bot, 1).await;
    bot.send(CHAT, "third");
    let third = queued_reply(&bot, 2).await;
    assert_eq!(button_labels(&third), ["⏭ Run now", "✖ Cancel"]);
    assert_eq!(bot.press(&third, "Run now").await, "Runs next");
    bot.wait_shown(CHAT, "the third message's answer", "Third answer.")
        .await;
    bot.wait_shown(CHAT, "the second message's answer", "Second answer.")
        .await;
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 3, "{prompts:#?}");
    assert!(prompts[1].contains("third") && prompts[2].contains("second"));
    bot.wait("the queued replies to lose their buttons", |s| {
        s.visible(CHAT)
            .iter()
            .filter(|m| m.id == second.id || m.id == third.id)
            .all(|m| m.reply_markup.is_none())
    })
    .await;
    assert!(shows(&bot.telegram.store(), CHAT, "this runs next"));
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_removes_the_queued_message_and_it_never_runs() {
    let mut bot = Bot::start(
        vec![
            Reply::slow(&["First ", "run ", "done."], Duration::from_millis(600)),
            Reply::text(&["Third answer."]),
        ],
        &[],
    )
    .await;
    bot.send(CHAT, "first");
    bot.wait_shown(CHAT, "the first answer starting", "First")
        .await;
    bot.send(CHAT, "second");
    let second = queued_reply(&bot, 1).await;
    bot.send(CHAT, "third");
    queued_reply(&bot, 2).await;
    assert_eq!(bot.press(&second, "Cancel").await, "Cancelled");
    bot.wait_shown(CHAT, "the third answer", "Third answer.")
        .await;
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 2, "{prompts:#?}");
    assert!(prompts.iter().all(|p| !p.contains("second")));
    assert!(shows(&bot.telegram.store(), CHAT, "will not run"));
    // A second tap answers clearly and changes nothing.
    let data = support::bot::buttons(&second)[1].1.clone();
    assert_eq!(
        bot.press_as(support::bot::USER, CHAT, second.id, &data)
            .await,
        "That message is no longer queued: it has started or was removed."
    );
    bot.shut_down().await;
}

/// Run now and Cancel pressed while the message is starting on its own:
/// whichever the core saw first wins, and the message runs exactly once
/// (Run now) or not at all (Cancel before the start), never twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_and_cancel_racing_the_start_answer_once() {
    let mut bot = Bot::start(
        vec![
            Reply::slow(&["First ", "done."], Duration::from_millis(300)),
            Reply::text(&["Second answer."]),
            Reply::text(&["Third answer."]),
        ],
        &[],
    )
    .await;
    bot.send(CHAT, "first");
    bot.send(CHAT, "second");
    let second = queued_reply(&bot, 1).await;
    bot.send(CHAT, "third");
    let third = queued_reply(&bot, 2).await;
    // Wait until the first run is about to end, then press both.
    bot.wait_shown(CHAT, "the first answer streaming", "First")
        .await;
    let run_now = bot.press(&second, "Run now").await;
    let cancel = bot.press(&third, "Cancel").await;
    let gone = "That message is no longer queued: it has started or was removed.";
    assert!(run_now == "Runs next" || run_now == gone, "{run_now}");
    assert!(cancel == "Cancelled" || cancel == gone, "{cancel}");
    bot.wait_shown(CHAT, "the second answer", "Second answer.")
        .await;
    if cancel == gone {
        bot.wait_shown(CHAT, "the third answer", "Third answer.")
            .await;
    }
    bot.wait_agents_gone().await;
    let prompts = bot.claude_prompts();
    let count = |word: &str| prompts.iter().filter(|p| p.contains(word)).count();
    assert_eq!(count("second"), 1, "{prompts:#?}");
    assert_eq!(count("third"), usize::from(cancel == gone), "{prompts:#?}");
    bot.shut_down().await;
}
