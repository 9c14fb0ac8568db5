//! The whole bot end to end with the real `codex` CLI: the fake OpenAI
//! Responses API behind it, a fake Telegram Bot API in front, and the real
//! `claude` CLI against a fake Anthropic server for driver switches.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::bot::{Bot, STRANGER, Start, USER, button_labels, buttons, shows};
use support::fake_anthropic;
use support::fake_openai::{Recorded, Reply};

const CHAT: i64 = 101;
/// What the bot asks the agent for when a user wants a recap of a resumed session.
const RECAP_PROMPT_START: &str = "Give me a short recap of this session";

/// The codex thread a turn belongs to: the CLI sends its thread id as the
/// request's prompt cache key.
fn thread_of(turn: &Recorded) -> String {
    turn.body["prompt_cache_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a turn without a prompt cache key: {}", turn.body))
        .to_owned()
}

/// The reasoning effort a turn asked the model for.
fn effort_of(turn: &Recorded) -> Value {
    turn.body["reasoning"]["effort"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_turn_is_streamed_and_status_hands_over_its_thread_with_usage() {
    let chunks = ["Hello ", "from ", "codex."];
    let mut bot = Bot::start_codex(vec![Reply::text(&chunks)]).await;
    let answer = bot.ask(CHAT, "say hello", "Hello from codex.").await;
    assert!(
        answer
            .edits
            .first()
            .is_some_and(|first| first.contains("say hello")),
        "the answer grew in place from the run's first line: {answer:#?}"
    );
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 1, "one codex turn");
    assert!(
        turns[0].input().contains("say hello"),
        "{}",
        turns[0].input()
    );
    let thread = thread_of(&turns[0]);

    let status = bot.idle_status(CHAT).await;
    assert!(status.contains("Driver codex"), "{status}");
    let workdir = bot.sandbox.workdir.display().to_string();
    assert!(
        status.contains(&format!("cd {workdir} && codex resume {thread}")),
        "the handover command resumes the thread codex used: {status}"
    );
    // The fake reports 10 input tokens and one output token per chunk.
    assert!(
        status.contains(&format!("Tokens last run: 10 in, {} out", chunks.len())),
        "{status}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_command_execution_is_shown_in_the_answer() {
    let mut bot = Bot::start_both(
        Start::Codex,
        // Long enough to outlast the edit interval: a status line lives
        // only while its command runs.
        vec![
            Reply::exec("sleep 1 && echo hi-from-codex"),
            Reply::text(&["All done."]),
        ],
        vec![],
    )
    .await;
    bot.ask(CHAT, "run a command", "All done.").await;
    let shown = bot.everything_shown(CHAT);
    assert!(
        shown
            .iter()
            .any(|t| t.contains("Shell") && t.contains("echo hi-from-codex")),
        "a status line names the command: {shown:#?}"
    );
    let turns = bot.codex_turns();
    assert_eq!(
        turns.len(),
        2,
        "the command's output went back to the model"
    );
    assert!(
        turns[1].input().contains("hi-from-codex"),
        "{}",
        turns[1].input()
    );
    bot.shut_down().await;
}

/// DR-3 end to end: a switch to claude while codex runs changes nothing for
/// that run, and /stop still stops codex, the driver the run captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_run_kills_codex_even_after_a_switch_and_tells_the_user() {
    let mut bot = Bot::start_codex(vec![Reply::Hang {
        first: "Working".into(),
    }])
    .await;
    bot.send(CHAT, "a long task");
    bot.wait_codex_turns(1).await;
    let running = bot.agents_running();
    assert!(
        running.iter().any(|cmd| cmd.contains("codex")),
        "codex runs in the workdir: {running:?}"
    );

    let menu = bot.ask(CHAT, "/switch", "This chat uses codex").await;
    assert_eq!(
        bot.press(&menu, "claude").await,
        "Switched to claude (from the next run)"
    );
    let status = bot.status(CHAT).await;
    assert!(
        status.contains("Driver claude") && status.contains("Running a long task (codex"),
        "the run keeps its driver: {status}"
    );

    bot.ask(CHAT, "/stop", "Stopped: a long task (codex").await;
    bot.wait_agents_gone().await;
    assert_eq!(bot.claude_turns(), 0, "claude never ran");
    assert_eq!(bot.codex_turns().len(), 1);
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_drivers_applies_from_the_next_run_only() {
    let mut bot = Bot::start_both(
        Start::Claude,
        vec![Reply::text(&["Codex now."])],
        vec![fake_anthropic::Reply::slow(
            &["Claude ", "was ", "here ", "all ", "along."],
            Duration::from_millis(600),
        )],
    )
    .await;
    bot.ask(CHAT, "first task", "first task").await;

    let menu = bot.ask(CHAT, "/switch", "This chat uses claude").await;
    assert_eq!(button_labels(&menu), ["✓ claude", "codex"], "{menu:#?}");
    assert_eq!(
        bot.press(&menu, "codex").await,
        "Switched to codex (from the next run)"
    );
    let status = bot.status(CHAT).await;
    assert!(
        status.contains("Driver codex") && status.contains("Running first task (claude"),
        "the switch happened while claude ran: {status}"
    );

    bot.wait_shown(CHAT, "claude's whole answer", "Claude was here all along.")
        .await;
    assert_eq!(bot.claude_turns(), 1);
    assert!(bot.codex_turns().is_empty(), "codex did not join that run");

    bot.ask(CHAT, "second task", "Codex now.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 1);
    assert!(
        turns[0].input().contains("second task"),
        "{}",
        turns[0].input()
    );
    assert_eq!(bot.claude_turns(), 1, "claude got nothing more");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_menu_offers_the_active_drivers_choices_and_a_run_keeps_its_own() {
    let mut bot = Bot::start_codex(vec![
        Reply::exec("sleep 2"),
        Reply::text(&["Slept."]),
        Reply::text(&["Thought hard."]),
    ])
    .await;
    let models = bot.ask(CHAT, "/model", "Model for codex").await;
    let efforts = bot
        .wait_shown(CHAT, "the effort menu", "Effort for codex")
        .await;
    assert_eq!(
        button_labels(&models),
        ["✓ default", "gpt-5-codex", "gpt-5", "gpt-5-mini"]
    );
    assert_eq!(
        button_labels(&efforts),
        ["✓ default", "minimal", "low", "medium", "high", "xhigh"]
    );

    // Raise the effort while a run is between its two model turns.
    bot.send(CHAT, "nap");
    bot.wait("the command to start", |s| shows(s, CHAT, "sleep 2"))
        .await;
    assert_eq!(
        bot.press(&efforts, "high").await,
        "Effort: high (from the next run)"
    );
    bot.wait_shown(CHAT, "the first answer", "Slept.").await;
    bot.ask(CHAT, "think", "Thought hard.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 3);
    assert_ne!(
        effort_of(&turns[0]),
        "high",
        "{}",
        turns[0].body["reasoning"]
    );
    assert_eq!(
        effort_of(&turns[1]),
        effort_of(&turns[0]),
        "the running run kept its effort"
    );
    assert_eq!(
        effort_of(&turns[2]),
        "high",
        "the next run took the new one"
    );

    bot.ask(CHAT, "/switch claude", "Switched to claude").await;
    let models = bot.ask(CHAT, "/model", "Model for claude").await;
    let efforts = bot
        .wait_shown(CHAT, "claude's effort menu", "Effort for claude")
        .await;
    assert_eq!(
        button_labels(&models),
        ["✓ default", "opus", "sonnet", "haiku"]
    );
    assert_eq!(
        button_labels(&efforts),
        ["✓ default", "low", "medium", "high"]
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_codex_turn_in_a_lane_resumes_the_first_thread() {
    let mut bot = Bot::start_codex(vec![
        Reply::text(&["Noted kiwi."]),
        Reply::text(&["You said kiwi."]),
    ])
    .await;
    bot.ask(CHAT, "remember kiwi", "Noted kiwi.").await;
    bot.ask(CHAT, "what did I say?", "You said kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 2);
    assert_eq!(thread_of(&turns[1]), thread_of(&turns[0]), "same thread");
    let history = turns[1].input();
    assert!(
        history.contains("remember kiwi") && history.contains("Noted kiwi."),
        "the second turn carries the first: {history}"
    );
    let status = bot.status(CHAT).await;
    assert!(
        status.contains(&format!("codex resume {}", thread_of(&turns[0]))),
        "{status}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_lists_the_lanes_sessions_and_picking_one_continues_it() {
    let mut bot = Bot::start_codex(vec![
        Reply::text(&["Noted kiwi."]),
        Reply::text(&["Other."]),
        Reply::text(&["You said kiwi."]),
    ])
    .await;
    bot.ask(CHAT, "remember kiwi", "Noted kiwi.").await;
    bot.ask(CHAT, "/new", "New session").await;
    bot.ask(CHAT, "another topic", "Other.").await;
    let turns = bot.codex_turns();
    let (kiwi, other) = (thread_of(&turns[0]), thread_of(&turns[1]));
    assert_ne!(kiwi, other, "/new started a new thread");

    let list = bot.ask(CHAT, "/resume", "Resume a codex session").await;
    let listed = buttons(&list);
    for (prompt, thread) in [("remember kiwi", &kiwi), ("another topic", &other)] {
        assert!(
            listed
                .iter()
                .any(|(label, data)| label.contains(prompt) && data.contains(thread.as_str())),
            "{prompt} is listed: {listed:#?}"
        );
    }
    assert_eq!(bot.press(&list, "remember kiwi").await, "Session resumed");
    let offer = bot.wait_shown(CHAT, "the recap offer", "A recap?").await;
    assert!(offer.text.contains(&kiwi), "{offer:#?}");
    assert_eq!(bot.press(&offer, "No recap").await, "OK, no recap");
    assert_eq!(bot.codex_turns().len(), 2, "no recap was asked for");

    bot.ask(CHAT, "what did I say?", "You said kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 3);
    assert_eq!(thread_of(&turns[2]), kiwi);
    let history = turns[2].input();
    assert!(
        history.contains("remember kiwi") && !history.contains("another topic"),
        "{history}"
    );
    let status = bot.status(CHAT).await;
    assert!(status.contains(&format!("codex resume {kiwi}")), "{status}");
    bot.shut_down().await;
}

/// VC-1 end to end: a recap asked for from a button while a run is in flight
/// is queued like any message and runs after it, never beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_requested_during_a_run_waits_for_it() {
    let mut bot = Bot::start_codex(vec![
        Reply::text(&["Noted kiwi."]),
        Reply::exec("sleep 2"),
        Reply::text(&["Slept."]),
        Reply::text(&["Recap: kiwi."]),
    ])
    .await;
    bot.ask(CHAT, "remember kiwi", "Noted kiwi.").await;
    bot.ask(CHAT, "/new", "New session").await;
    bot.send(CHAT, "nap for a while");
    bot.wait("the command to start", |s| shows(s, CHAT, "sleep 2"))
        .await;

    let list = bot.ask(CHAT, "/resume", "Resume a codex session").await;
    assert_eq!(bot.press(&list, "remember kiwi").await, "Session resumed");
    let offer = bot.wait_shown(CHAT, "the recap offer", "A recap?").await;
    assert_eq!(bot.press(&offer, "Recap").await, "Recap requested");
    bot.wait_shown(CHAT, "the recap to be queued", "Queued, position 1")
        .await;
    assert_eq!(
        bot.codex_turns().len(),
        2,
        "the recap did not start beside the nap"
    );

    bot.wait_shown(CHAT, "the recap", "Recap: kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 4, "{turns:#?}");
    assert!(
        turns[2].input().contains("function_call_output"),
        "the nap finished its turns first: {}",
        turns[2].input()
    );
    let recap = &turns[3];
    assert!(
        recap.input().contains(RECAP_PROMPT_START),
        "{}",
        recap.input()
    );
    assert!(recap.input().contains("remember kiwi"), "{}", recap.input());
    assert_eq!(
        thread_of(recap),
        thread_of(&turns[0]),
        "the recap resumed kiwi"
    );
    let texts = bot.texts(CHAT);
    let slept = texts.iter().position(|t| t.contains("Slept.")).unwrap();
    let recapped = texts
        .iter()
        .position(|t| t.contains("Recap: kiwi."))
        .unwrap();
    assert!(slept < recapped, "{texts:#?}");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_garbled_buttons_get_a_clear_answer_and_change_nothing() {
    let mut bot = Bot::start_codex(vec![Reply::text(&["Noted."])]).await;
    let answer = bot.ask(CHAT, "remember kiwi", "Noted.").await;
    let before = bot.idle_status(CHAT).await;
    let shown_before = bot.texts(CHAT).len();

    let out_of_date = "This button is out of date; use the command again.";
    let too_long = format!("m:{}", "x".repeat(63));
    let presses: Vec<(&str, &str)> = vec![
        ("zz:1", out_of_date),
        ("", out_of_date),
        ("d:gemini", out_of_date),
        ("s:01", out_of_date),
        ("x:1", out_of_date),
        (&too_long, out_of_date),
        ("s:999", "That run has already ended."),
        (
            "r:not-a-session",
            "That session is not one of this chat's in this folder.",
        ),
        (
            "rc:y:not-a-session",
            "This chat has moved to another session since.",
        ),
    ];
    for (data, expected) in presses {
        assert_eq!(
            bot.press_as(USER, CHAT, answer.id, data).await,
            expected,
            "{data:?}"
        );
    }
    assert_eq!(
        bot.press_as(STRANGER, CHAT, answer.id, "d:claude").await,
        "Not allowed."
    );

    assert_eq!(
        bot.texts(CHAT).len(),
        shown_before,
        "nothing was said in the chat"
    );
    assert_eq!(bot.codex_turns().len(), 1, "nothing ran");
    let after = bot.status(CHAT).await;
    let settled = |status: &str| -> Vec<String> {
        status
            .lines()
            .filter(|line| !line.starts_with("All chats"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(settled(&after), settled(&before), "the lane is unchanged");
    bot.shut_down().await;
}
