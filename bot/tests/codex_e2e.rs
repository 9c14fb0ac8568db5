//! The real codex CLI against the fake OpenAI Responses API, driven through `CodexDriver`.

mod support;

use std::time::Duration;

use baton_bot::drivers::{AgentEvent, AgentOutcome, CodexDriver};
use support::agent_cli::{
    self, Sandbox, TINY_PNG, cancel_during_tool, failure_message, index_of, resumed_turn,
    timed_turn, turn,
};
use support::fake_openai::{FakeOpenAi, Reply};

fn driver(fake: &FakeOpenAi, sandbox: &Sandbox) -> CodexDriver {
    CodexDriver::new(agent_cli::codex_config(fake, sandbox))
}

#[tokio::test]
async fn codex_turn_completes_with_the_streamed_answer() {
    let fake = FakeOpenAi::start(vec![Reply::text(&["Hello ", "from ", "codex."])]).await;
    let sandbox = Sandbox::new();
    let (events, outcome) =
        timed_turn(&driver(&fake, &sandbox), sandbox.request("say hello")).await;

    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("Hello from codex.".into())
        },
        "{events:?}"
    );
    assert!(
        matches!(events.first(), Some(AgentEvent::Session { .. })),
        "{events:?}"
    );
    assert!(
        events.contains(&AgentEvent::TextSegment {
            text: "Hello from codex.".into()
        }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Usage { output_tokens, .. } if *output_tokens > 0))
    );
    let turns = fake.turns();
    assert_eq!(turns.len(), 1, "{:?}", fake.requests());
    assert!(
        turns[0].last_input().to_string().contains("say hello"),
        "{}",
        turns[0].last_input()
    );
}

#[tokio::test]
async fn codex_command_execution_is_shown_started_and_finished() {
    let fake = FakeOpenAi::start(vec![
        Reply::exec("echo hi-from-codex"),
        Reply::text(&["done"]),
    ])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = turn(&driver(&fake, &sandbox), sandbox.request("run something")).await;

    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("done".into())
        },
        "{events:?}"
    );
    assert!(
        events.contains(&AgentEvent::Thinking {
            text: "**Planning a command**".into()
        }),
        "{events:?}"
    );
    let started = index_of(
        &events,
        "command start",
        |e| matches!(e, AgentEvent::ToolStarted { name, detail } if name == "Shell" && detail.contains("echo hi-from-codex")),
    );
    let finished = index_of(&events, "command finish", |e| {
        *e == AgentEvent::ToolFinished {
            name: "Shell".into(),
            ok: true,
            detail: "hi-from-codex".into(),
        }
    });
    assert!(started < finished);
    let turns = fake.turns();
    assert_eq!(turns.len(), 2);
    let output = turns[1].last_input();
    assert_eq!(output["type"], "function_call_output", "{output}");
    assert!(
        output["output"]
            .as_str()
            .unwrap_or("")
            .contains("hi-from-codex"),
        "{output}"
    );
}

#[tokio::test]
async fn codex_resume_keeps_the_thread_id() {
    let fake = FakeOpenAi::start(vec![
        Reply::text(&["first answer"]),
        Reply::text(&["second answer"]),
    ])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = resumed_turn(&driver(&fake, &sandbox), &sandbox).await;
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("second answer".into())
        },
        "{events:?}"
    );
    let history = fake.turns().last().unwrap().input();
    assert!(
        history.contains("remember kiwi") && history.contains("what did I say?"),
        "{history}"
    );
}

#[tokio::test]
async fn codex_cancel_mid_run_kills_the_cli_and_its_command() {
    let marker = "sleep 311";
    let fake = FakeOpenAi::start(vec![Reply::exec(marker), Reply::text(&["never"])]).await;
    let sandbox = Sandbox::new();
    let cancelled = cancel_during_tool(driver(&fake, &sandbox), &sandbox, marker).await;
    // The sandboxed command runs in its own session, out of codex's group.
    assert!(
        cancelled.procs.iter().any(|p| p.pgid != cancelled.cli.pgid),
        "expected a process outside the group: {:?}",
        cancelled.procs
    );
}

#[tokio::test]
async fn codex_silent_model_is_killed_as_stalled() {
    let fake = FakeOpenAi::start(vec![Reply::hang("thinking")]).await;
    let sandbox = Sandbox::new();
    let mut config = agent_cli::codex_config(&fake, &sandbox);
    config.stall_timeout = Duration::from_secs(5);
    let (events, outcome) = turn(&CodexDriver::new(config), sandbox.request("hi")).await;
    assert_eq!(outcome, AgentOutcome::Stalled, "{events:?}");
    assert!(
        matches!(events.first(), Some(AgentEvent::Session { .. })),
        "stalled mid-turn: {events:?}"
    );
}

#[tokio::test]
async fn codex_attaches_images_given_last_on_the_command_line() {
    let fake = FakeOpenAi::start(vec![Reply::text(&["an image"])]).await;
    let sandbox = Sandbox::new();
    let req = sandbox.request_with_image("describe it", TINY_PNG);
    let (events, outcome) = turn(&driver(&fake, &sandbox), req).await;
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("an image".into())
        },
        "{events:?}"
    );
    let input = fake.turns()[0].input();
    assert!(
        input.contains("input_image") && input.contains("data:image/png;base64,"),
        "{input}"
    );
    assert!(input.contains("describe it"), "{input}");
}

#[tokio::test]
async fn codex_http_400_is_a_failure_with_the_api_message() {
    let fake = FakeOpenAi::start(vec![Reply::error(400, "fake bad request xyz")]).await;
    let sandbox = Sandbox::new();
    let driver = driver(&fake, &sandbox);
    let message = failure_message::<CodexDriver>(turn(&driver, sandbox.request("hi")).await);
    assert!(message.contains("fake bad request xyz"), "{message}");
}
