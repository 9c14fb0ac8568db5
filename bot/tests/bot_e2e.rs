//! The whole bot end to end: the real `claude` CLI against a fake Anthropic
//! server, the bot serving a fake Telegram Bot API, both on 127.0.0.1.

mod support;

use std::time::Duration;

use support::agent_cli::processes_in;
use support::bot::{Bot, STRANGER, USER, shows};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::fake_telegram::Failure;

const CHAT_A: i64 = 101;
const CHAT_B: i64 = 202;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_answered_with_streamed_edits() {
    let mut bot = Bot::start(
        vec![Reply::slow(
            &["Hello ", "from ", "the ", "fake ", "model."],
            Duration::from_millis(400),
        )],
        &[],
    )
    .await;
    bot.telegram.push_text(CHAT_A, USER, "say hello");
    bot.wait("the answer", |s| {
        shows(s, CHAT_A, "Hello from the fake model.")
    })
    .await;
    let answer = bot
        .telegram
        .store()
        .visible(CHAT_A)
        .into_iter()
        .find(|m| m.text.contains("Hello from"))
        .unwrap();
    assert!(
        !answer.edits.is_empty(),
        "the answer grew by edits in place: {answer:?}"
    );
    assert!(bot.claude_prompts()[0].contains("say hello"));
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_is_shown_as_a_status_line() {
    let mut bot = Bot::start(
        vec![
            Reply::bash("echo baton-tool-check"),
            Reply::text(&["Done."]),
        ],
        &[],
    )
    .await;
    bot.ask(CHAT_A, "run a command", "Done.").await;
    let all = bot.everything_shown(CHAT_A);
    assert!(
        all.iter()
            .any(|t| t.contains("Bash") && t.contains("echo baton-tool-check")),
        "a status line names the tool and its command: {all:#?}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_run_kills_the_agent_and_tells_the_user() {
    let mut bot = Bot::start(vec![Reply::hang("Working on it")], &[]).await;
    bot.ask(CHAT_A, "a long task", "Working on it").await;
    assert!(
        !processes_in(&bot.sandbox.workdir).is_empty(),
        "the agent runs in the workdir"
    );
    bot.telegram.push_text(CHAT_A, USER, "/stop");
    bot.wait("the stop report", |s| {
        shows(s, CHAT_A, "Stopped: a long task")
    })
    .await;
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        while !processes_in(&bot.sandbox.workdir).is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "agent processes left: {:?}",
        processes_in(&bot.sandbox.workdir)
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_runs_next_without_overlap() {
    let mut bot = Bot::start(
        vec![Reply::hang("First run"), Reply::text(&["Second answer."])],
        &[],
    )
    .await;
    bot.ask(CHAT_A, "first", "First run").await;
    let first_run: Vec<i32> = processes_in(&bot.sandbox.workdir)
        .iter()
        .map(|p| p.pid)
        .collect();
    assert!(!first_run.is_empty(), "the first agent runs");
    bot.ask(CHAT_A, "!second", "Second answer.").await;
    // By the time the second run answers, nothing of the first is left.
    let left: Vec<i32> = processes_in(&bot.sandbox.workdir)
        .iter()
        .map(|p| p.pid)
        .filter(|pid| first_run.contains(pid))
        .collect();
    assert!(
        left.is_empty(),
        "the first run's processes are still alive: {left:?}"
    );
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 2, "exactly two agent turns: {prompts:#?}");
    assert!(prompts[1].contains("second") && !prompts[1].contains("!second"));
    bot.assert_shown_in_order(CHAT_A, "First run", "Second answer.");
    bot.shut_down().await;
}

/// DQ-1 end to end: chat B's message, queued while chat A runs at capacity
/// 1, runs as soon as A finishes, with no further traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_chat_runs_after_another_chat_finishes() {
    let mut bot = Bot::start(
        vec![
            Reply::slow(&["A ", "is ", "done."], Duration::from_millis(700)),
            Reply::text(&["B is done."]),
        ],
        &[],
    )
    .await;
    bot.ask(CHAT_A, "task a", "task a").await;
    bot.telegram.push_text(CHAT_B, USER, "task b");
    bot.wait("chat B to be queued", |s| {
        shows(s, CHAT_B, "Queued, position 1")
    })
    .await;
    bot.wait("chat A's answer", |s| shows(s, CHAT_A, "A is done."))
        .await;
    bot.wait("chat B's answer", |s| shows(s, CHAT_B, "B is done."))
        .await;
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_control_storm_loses_no_text() {
    let chunks: Vec<String> = (0..30)
        .map(|i| format!("line {i} of the storm answer\n\n"))
        .collect();
    let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let mut bot = Bot::start(
        vec![Reply::slow(&chunk_refs, Duration::from_millis(60))],
        &[],
    )
    .await;
    bot.telegram
        .fail_next("editMessageText", Failure::RetryAfter(1), 4);
    bot.telegram
        .fail_next("sendMessage", Failure::RetryAfter(1), 1);
    bot.telegram.push_text(CHAT_A, USER, "storm");
    bot.wait("the whole answer", |s| {
        shows(s, CHAT_A, "line 29 of the storm answer")
    })
    .await;
    let text = bot.texts(CHAT_A).join("\n");
    for i in 0..30 {
        assert!(
            text.contains(&format!("line {i} of the storm answer")),
            "line {i} lost: {text}"
        );
    }
    let throttled = bot
        .telegram
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(throttled, 5, "every injected 429 was met");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_items_survive_a_restart_and_run_once() {
    let mut bot = Bot::start(vec![Reply::hang("Long run")], &[]).await;
    bot.ask(CHAT_A, "long", "Long run").await;
    bot.telegram.push_text(CHAT_B, USER, "queued one");
    bot.ask(CHAT_B, "queued two", "position 2").await;
    bot.shut_down().await;
    bot.wait("the shutdown notice", |s| shows(s, CHAT_A, "shutting down"))
        .await;

    bot.anthropic = FakeAnthropic::start(vec![Reply::text(&["After restart."])]).await;
    bot.serve(&[]);
    bot.wait("both queued items to run", |s| {
        s.visible(CHAT_B)
            .iter()
            .filter(|m| m.text.contains("After restart."))
            .count()
            == 2
    })
    .await;
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 2, "each queued item ran once: {prompts:#?}");
    assert!(
        prompts[0].contains("queued one") && prompts[1].contains("queued two"),
        "{prompts:#?}"
    );
    assert!(
        !prompts.iter().any(|p| p.contains("long")),
        "the interrupted run is not rerun"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_user_runs_nothing() {
    let mut bot = Bot::start(vec![Reply::text(&["Should not run."])], &[]).await;
    bot.telegram.push_text(CHAT_A, STRANGER, "let me in");
    // An allowed user's message afterwards proves the stranger's was handled and dropped.
    bot.ask(CHAT_B, "/status", "Idle").await;
    assert!(
        bot.texts(CHAT_A).is_empty(),
        "nothing is said to a stranger"
    );
    assert!(bot.anthropic.agent_requests().is_empty(), "nothing ran");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_cron_job_runs_once_in_its_lane_and_is_gone() {
    let mut bot = Bot::start(vec![Reply::text(&["Cron ran."])], &[]).await;
    bot.telegram
        .push_text(CHAT_A, USER, "/cron at in 2s nightly check");
    bot.wait("the job to be scheduled", |s| shows(s, CHAT_A, "Job 1"))
        .await;
    bot.wait("the fire's answer", |s| shows(s, CHAT_A, "Cron ran."))
        .await;
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 1, "{prompts:#?}");
    assert!(prompts[0].contains("nightly check"));
    // The answer streams before its run is finished; ask until the run has ended.
    let mut gone = false;
    for _ in 0..30 {
        bot.telegram.push_text(CHAT_A, USER, "/cron");
        let asked = bot.telegram.store().count("sendMessage");
        bot.wait("the job list", |s| s.count("sendMessage") > asked)
            .await;
        if shows(&bot.telegram.store(), CHAT_A, "No scheduled prompts") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        gone,
        "the one-shot job is removed once its run ended: {:#?}",
        bot.texts(CHAT_A)
    );
    assert_eq!(bot.claude_prompts().len(), 1, "it never fired again");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_run_final_answer_arrives_as_a_new_message() {
    let mut bot = Bot::start(
        vec![Reply::slow(
            &["Long ", "answer ", "done."],
            Duration::from_millis(400),
        )],
        &[("BATON_NOTIFY_AFTER_SECS", "0")],
    )
    .await;
    bot.telegram.push_text(CHAT_A, USER, "take your time");
    bot.wait("a fresh final copy and the streamed one gone", |s| {
        let messages = s.messages(CHAT_A);
        let streamed_gone = messages.iter().any(|m| m.deleted && !m.edits.is_empty());
        let fresh = messages
            .iter()
            .any(|m| !m.deleted && m.edits.is_empty() && m.text.contains("Long answer done."));
        streamed_gone && fresh
    })
    .await;
    bot.shut_down().await;
}

/// Forum topics are lanes of their own: a run in one topic does not queue
/// the other's message behind it, and each answer lands in its own topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forum_topics_are_separate_lanes() {
    let mut bot = Bot::start(
        vec![
            Reply::hang("Topic seven works"),
            Reply::text(&["Topic nine answered."]),
        ],
        &[("BATON_MAX_CONCURRENT_RUNS", "2")],
    )
    .await;
    bot.telegram.push_text_in_topic(CHAT_A, USER, 7, "long one");
    bot.wait("topic 7's run", |s| shows(s, CHAT_A, "Topic seven works"))
        .await;
    bot.telegram
        .push_text_in_topic(CHAT_A, USER, 9, "short one");
    bot.wait("topic 9's answer", |s| {
        shows(s, CHAT_A, "Topic nine answered.")
    })
    .await;
    let messages = bot.telegram.store().visible(CHAT_A);
    let thread_of = |needle: &str| {
        messages
            .iter()
            .find(|m| m.text.contains(needle))
            .and_then(|m| m.thread)
    };
    assert_eq!(thread_of("Topic seven works"), Some(7));
    assert_eq!(thread_of("Topic nine answered."), Some(9));
    assert!(
        !messages.iter().any(|m| m.text.contains("Queued")),
        "nothing waited: {messages:#?}"
    );
    bot.shut_down().await;
}

/// Intake never waits: a `/stop` sent while a 20 MB file is still
/// downloading is answered while the download is still in progress (the
/// fake holds the second half of the body until the test releases it), and
/// the file it cancelled never becomes a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_a_large_download_is_answered_at_once() {
    let mut bot = Bot::start(vec![Reply::text(&["Only the later message ran."])], &[]).await;
    bot.telegram.hold_downloads();
    let file = vec![b'x'; 20 * 1024 * 1024 - 1];
    bot.telegram
        .push_document(CHAT_A, USER, &file, "big.log", Some("summarize this log"));
    bot.wait("the download to be in progress", |s| {
        s.downloads_started == 1
    })
    .await;
    let asked = std::time::Instant::now();
    let stop = bot.telegram.push_text(CHAT_A, USER, "/stop");
    bot.wait("the stop's answer", |s| {
        shows(s, CHAT_A, "Removed 1 queued")
    })
    .await;
    let answered = asked.elapsed();
    {
        let store = bot.telegram.store();
        assert_eq!(
            store.downloads_finished, 0,
            "the stop was answered while the file was still downloading"
        );
        let reply = store
            .visible(CHAT_A)
            .into_iter()
            .find(|m| m.text.contains("Removed 1 queued"))
            .unwrap();
        assert!(reply.text.contains("summarize this log"), "{reply:?}");
        assert_eq!(
            reply.reply_to,
            store.user_messages.get(&stop).copied(),
            "the stop's answer replies to the /stop"
        );
    }
    println!("stop answered {answered:?} after it was sent, mid-download");
    bot.telegram.release_downloads();
    bot.telegram.push_text(CHAT_A, USER, "a later message");
    bot.wait("the later message's answer", |s| {
        shows(s, CHAT_A, "Only the later message ran.")
    })
    .await;
    let prompts = bot.claude_prompts();
    assert_eq!(
        prompts.len(),
        1,
        "the cancelled file never ran: {prompts:#?}"
    );
    assert!(prompts[0].contains("a later message"), "{prompts:#?}");
    bot.shut_down().await;
}

/// A burst past the lane's queue: each refusal is a reply to the message it
/// refuses, so the user knows which ones to send again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_queue_refuses_each_message_by_reply() {
    let mut bot = Bot::start(
        vec![Reply::Hang {
            first: "Busy".into(),
        }],
        &[("BATON_MAX_QUEUE_PER_LANE", "3")],
    )
    .await;
    let burst: Vec<i64> = (0..7)
        .map(|i| bot.telegram.push_text(CHAT_A, USER, &format!("burst {i}")))
        .collect();
    let refusal = "already has 3 messages waiting";
    bot.wait("three refusals", |s| {
        s.visible(CHAT_A)
            .iter()
            .filter(|m| m.text.contains(refusal))
            .count()
            == 3
    })
    .await;
    {
        let store = bot.telegram.store();
        // Replies go out concurrently, so they may land in any order; each
        // one names its message.
        let mut refused: Vec<Option<i32>> = store
            .visible(CHAT_A)
            .iter()
            .filter(|m| m.text.contains(refusal))
            .map(|m| m.reply_to)
            .collect();
        refused.sort();
        let last_three: Vec<Option<i32>> = burst[4..]
            .iter()
            .map(|update| store.user_messages.get(update).copied())
            .collect();
        assert_eq!(refused, last_three, "each refusal answers its own message");
    }
    bot.shut_down().await;
}

/// The streamed answer carries a Stop button bound to its run: pressing it
/// stops that run, and the button is gone once the run has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_button_under_the_answer_stops_its_run() {
    let mut bot = Bot::start(
        vec![Reply::Hang {
            first: "Working hard".into(),
        }],
        &[],
    )
    .await;
    bot.telegram.push_text(CHAT_A, USER, "a long task");
    let button = |m: &support::fake_telegram::StoredMessage| {
        m.reply_markup
            .as_ref()
            .and_then(|markup| markup["inline_keyboard"][0][0]["callback_data"].as_str())
            .map(str::to_owned)
    };
    bot.wait("the answer with its stop button", |s| {
        s.visible(CHAT_A)
            .iter()
            .any(|m| m.text.contains("Working hard") && button(m).is_some())
    })
    .await;
    let answer = bot
        .telegram
        .store()
        .visible(CHAT_A)
        .into_iter()
        .find(|m| m.text.contains("Working hard"))
        .unwrap();
    let data = button(&answer).unwrap();
    assert!(data.starts_with("s:"), "a stop bound to a run: {data}");
    bot.telegram.push_callback(CHAT_A, USER, answer.id, &data);
    bot.wait("the stop report", |s| {
        shows(s, CHAT_A, "Stopped: a long task")
    })
    .await;
    bot.wait("the button to be gone once the run ended", |s| {
        s.visible(CHAT_A)
            .iter()
            .find(|m| m.id == answer.id)
            .is_some_and(|m| m.reply_markup.is_none())
    })
    .await;
    bot.shut_down().await;
}

/// A failed answer carries a Retry button that runs the message again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_button_under_a_failed_answer_runs_it_again() {
    let mut bot = Bot::start(
        vec![
            Reply::Error {
                status: 400,
                message: "the model refused".into(),
            },
            Reply::text(&["Second try worked."]),
        ],
        &[],
    )
    .await;
    bot.telegram.push_text(CHAT_A, USER, "fragile task");
    let retry = |m: &support::fake_telegram::StoredMessage| {
        m.reply_markup.as_ref().is_some_and(|markup| {
            markup["inline_keyboard"][0][0]["callback_data"].as_str() == Some("rt")
        })
    };
    bot.wait("the failed answer with its retry button", |s| {
        s.visible(CHAT_A).iter().any(retry)
    })
    .await;
    let failed = bot
        .telegram
        .store()
        .visible(CHAT_A)
        .into_iter()
        .find(retry)
        .unwrap();
    bot.telegram.push_callback(CHAT_A, USER, failed.id, "rt");
    bot.wait("the retried answer", |s| {
        shows(s, CHAT_A, "Second try worked.")
    })
    .await;
    let prompts = bot.claude_prompts();
    assert!(
        prompts.len() >= 2 && prompts.iter().all(|p| p.contains("fragile task")),
        "{prompts:#?}"
    );
    bot.shut_down().await;
}
