//! The real claude CLI against the fake Anthropic API, driven through `ClaudeDriver`.

mod support;

use std::time::{Duration, Instant};

use baton_bot::drivers::{AgentEvent, AgentOutcome, ClaudeDriver};
use serde_json::json;
use support::agent_cli::{
    self, TINY_PNG, answered, cancel_during_tool, failure_message, index_of, resumed_turn,
    timed_turn, turn,
};
use support::fake_anthropic::Reply;

#[tokio::test]
async fn claude_streams_text_deltas_then_completes_with_the_text() {
    let rig = agent_cli::claude(vec![Reply::text(&["Hello ", "from ", "the fake."])]).await;
    let turned = timed_turn(&rig.driver, rig.sandbox.request("say hello")).await;
    let events = answered(turned, "Hello from the fake.");

    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, ["Hello ", "from ", "the fake."]);
    let segment = events.iter().position(|e| {
        *e == AgentEvent::TextSegment {
            text: "Hello from the fake.".into(),
        }
    });
    let first_delta = events
        .iter()
        .position(|e| matches!(e, AgentEvent::TextDelta { .. }));
    assert!(
        first_delta < segment && segment.is_some(),
        "deltas come before the segment: {events:?}"
    );
    assert!(
        matches!(events.first(), Some(AgentEvent::Session { .. })),
        "{events:?}"
    );
    let turns = rig.fake.agent_requests();
    assert_eq!(turns.len(), 1);
    assert!(turns[0].uri.starts_with("/v1/messages"));
    assert!(
        turns[0].last_user_content().contains("say hello"),
        "{}",
        turns[0].last_user_content()
    );
}

#[tokio::test]
async fn claude_tool_call_shows_started_and_finished_then_answers() {
    let rig = agent_cli::claude(vec![
        Reply::bash("echo hi-from-tool"),
        Reply::text(&["done"]),
    ])
    .await;
    let events = answered(rig.turn("run a tool").await, "done");

    let started = AgentEvent::ToolStarted {
        name: "Bash".into(),
        detail: "echo hi-from-tool".into(),
    };
    let finished = AgentEvent::ToolFinished {
        name: "Bash".into(),
        ok: true,
        detail: "hi-from-tool".into(),
    };
    let s = index_of(&events, "start", |e| *e == started);
    let f = index_of(&events, "finish", |e| *e == finished);
    assert!(s < f);
    let turns = rig.fake.agent_requests();
    assert_eq!(turns.len(), 2);
    assert!(turns[1].last_user_content().contains("tool_result"));
    assert!(turns[1].last_user_content().contains("hi-from-tool"));
}

#[tokio::test]
async fn claude_resume_continues_the_same_session() {
    let answers = [
        Reply::text(&["first answer"]),
        Reply::text(&["second answer"]),
    ];
    let rig = agent_cli::claude(answers.to_vec()).await;
    answered(
        resumed_turn(&rig.driver, &rig.sandbox).await,
        "second answer",
    );
    let turns = rig.fake.agent_requests();
    let history = turns.last().unwrap().body["messages"].to_string();
    assert!(
        history.contains("remember kiwi") && history.contains("first answer"),
        "{history}"
    );
}

#[tokio::test]
async fn claude_cancel_mid_run_kills_the_whole_process_group() {
    let marker = "sleep 307";
    let rig = agent_cli::claude(vec![Reply::bash(marker), Reply::text(&["never"])]).await;
    let cli = cancel_during_tool(rig.driver, &rig.sandbox, marker)
        .await
        .cli;
    assert_eq!(cli.pgid, cli.pid, "claude leads its own process group");
}

#[tokio::test]
async fn claude_http_400_is_a_failure_with_the_api_message() {
    let rig = agent_cli::claude(vec![Reply::Error {
        status: 400,
        message: "fake bad request xyz".into(),
    }])
    .await;
    let message = failure_message::<ClaudeDriver>(rig.turn("hi").await);
    assert!(message.contains("fake bad request xyz"), "{message}");
}

#[tokio::test]
async fn claude_silent_model_is_killed_as_stalled() {
    let rig = agent_cli::claude(vec![Reply::hang("thinking about it")]).await;
    let mut config = agent_cli::claude_config(&rig.fake, &rig.sandbox);
    // Long enough to cover the CLI's start on a loaded machine (seen above
    // 8 s on 2 busy cores), so the stall happens mid-answer, after the first
    // delta.
    config.stall_timeout = Duration::from_secs(15);
    let started = Instant::now();
    let (events, outcome) = turn(&ClaudeDriver::new(config), rig.sandbox.request("hi")).await;
    assert_eq!(outcome, AgentOutcome::Stalled, "{events:?}");
    assert!(
        events.contains(&AgentEvent::TextDelta {
            text: "thinking about it".into()
        }),
        "{events:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn claude_sends_images_as_base64_blocks() {
    let rig = agent_cli::claude(vec![Reply::text(&["a green dot"])]).await;
    let req = rig
        .sandbox
        .request_with_image("what is in the picture?", TINY_PNG);
    answered(turn(&rig.driver, req).await, "a green dot");
    let turns = rig.fake.agent_requests();
    let content: serde_json::Value = serde_json::from_str(&turns[0].last_user_content()).unwrap();
    let blocks = content.as_array().unwrap();
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "text" && b["text"] == "what is in the picture?"),
        "{content}"
    );
    let image = blocks
        .iter()
        .find(|b| b["type"] == "image")
        .unwrap_or_else(|| panic!("no image: {content}"));
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(TINY_PNG);
    assert_eq!(
        image["source"],
        json!({"type": "base64", "media_type": "image/png", "data": expected})
    );
}

#[tokio::test]
async fn claude_thinking_blocks_arrive_as_thinking_before_the_answer() {
    let rig = agent_cli::claude(vec![Reply::Thinking {
        thinking: "weighing the options".into(),
        text: "the answer".into(),
    }])
    .await;
    let events = answered(rig.turn("think first").await, "the answer");
    let thinking = AgentEvent::Thinking {
        text: "weighing the options".into(),
    };
    let answer = AgentEvent::TextSegment {
        text: "the answer".into(),
    };
    let t = index_of(&events, "thinking", |e| *e == thinking);
    let a = index_of(&events, "answer", |e| *e == answer);
    assert!(t < a, "{events:?}");
}
