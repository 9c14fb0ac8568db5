//! The real codex CLI against the fake OpenAI Responses API, driven through `CodexDriver`.

mod support;

use std::time::Duration;

use baton_bot::drivers::{AgentEvent, AgentOutcome, CodexDriver};
use support::agent_cli::{
    self, TINY_PNG, answered, cancel_during_tool, failure_message, index_of, resumed_turn,
    timed_turn, turn,
};
use support::fake_openai::Reply;

#[tokio::test]
async fn codex_turn_completes_with_the_streamed_answer() {
    let rig = agent_cli::codex(vec![Reply::text(&["Hello ", "from ", "codex."])]).await;
    let turned = timed_turn(&rig.driver, rig.sandbox.request("say hello")).await;
    let events = answered(turned, "Hello from codex.");
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
    let turns = rig.fake.turns();
    assert_eq!(turns.len(), 1, "{:?}", rig.fake.requests());
    assert!(
        turns[0].last_input().to_string().contains("say hello"),
        "{}",
        turns[0].last_input()
    );
}

#[tokio::test]
async fn codex_command_execution_is_shown_started_and_finished() {
    let rig = agent_cli::codex(vec![
        Reply::exec("echo hi-from-codex"),
        Reply::text(&["done"]),
    ])
    .await;
    let events = answered(rig.turn("run something").await, "done");
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
    let turns = rig.fake.turns();
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
    let answers = [
        Reply::text(&["first answer"]),
        Reply::text(&["second answer"]),
    ];
    let rig = agent_cli::codex(answers.to_vec()).await;
    answered(
        resumed_turn(&rig.driver, &rig.sandbox).await,
        "second answer",
    );
    let history = rig.fake.turns().last().unwrap().input();
    assert!(
        history.contains("remember kiwi") && history.contains("what did I say?"),
        "{history}"
    );
}

#[tokio::test]
async fn codex_cancel_mid_run_kills_the_cli_and_its_command() {
    let marker = "sleep 311";
    let rig = agent_cli::codex(vec![Reply::exec(marker), Reply::text(&["never"])]).await;
    let cancelled = cancel_during_tool(rig.driver, &rig.sandbox, marker).await;
    // The sandboxed command runs in its own session, out of codex's group.
    assert!(
        cancelled.procs.iter().any(|p| p.pgid != cancelled.cli.pgid),
        "expected a process outside the group: {:?}",
        cancelled.procs
    );
}

#[tokio::test]
async fn codex_silent_model_is_killed_as_stalled() {
    let rig = agent_cli::codex(vec![Reply::Hang {
        first: "thinking".into(),
    }])
    .await;
    let mut config = agent_cli::codex_config(&rig.fake, &rig.sandbox);
    config.stall_timeout = Duration::from_secs(5);
    let (events, outcome) = turn(&CodexDriver::new(config), rig.sandbox.request("hi")).await;
    assert_eq!(outcome, AgentOutcome::Stalled, "{events:?}");
    assert!(
        matches!(events.first(), Some(AgentEvent::Session { .. })),
        "stalled mid-turn: {events:?}"
    );
}

#[tokio::test]
async fn codex_attaches_images_as_local_images_of_the_turn() {
    let rig = agent_cli::codex(vec![Reply::text(&["an image"])]).await;
    let req = rig.sandbox.request_with_image("describe it", TINY_PNG);
    answered(turn(&rig.driver, req).await, "an image");
    let input = rig.fake.turns()[0].input();
    assert!(
        input.contains("input_image") && input.contains("data:image/png;base64,"),
        "{input}"
    );
    assert!(input.contains("describe it"), "{input}");
}

#[tokio::test]
async fn codex_http_400_is_a_failure_with_the_api_message() {
    let rig = agent_cli::codex(vec![Reply::Error {
        status: 400,
        message: "fake bad request xyz".into(),
    }])
    .await;
    let message = failure_message::<CodexDriver>(rig.turn("hi").await);
    assert!(message.contains("fake bad request xyz"), "{message}");
}
