//! The real claude CLI against the fake Anthropic API, driven through `ClaudeDriver`.

mod support;

use std::time::{Duration, Instant};

use baton_bot::drivers::{AgentEvent, AgentOutcome, ClaudeDriver};
use serde_json::json;
use support::agent_cli::{self, Sandbox, collect, collect_timed, session_ids, wait_for};
use support::fake_anthropic::{FakeAnthropic, Reply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn run_turn(
    fake: &FakeAnthropic,
    sandbox: &Sandbox,
    req: baton_bot::drivers::AgentRequest,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let driver = ClaudeDriver::new(agent_cli::claude_config(fake, sandbox));
    let (tx, rx) = mpsc::unbounded_channel();
    collect(driver.run(req, tx, CancellationToken::new()), rx).await
}

#[tokio::test]
async fn claude_streams_text_deltas_then_completes_with_the_text() {
    let fake = FakeAnthropic::start(vec![Reply::text(&["Hello ", "from ", "the fake."])]).await;
    let sandbox = Sandbox::new();
    let driver = ClaudeDriver::new(agent_cli::claude_config(&fake, &sandbox));
    let (tx, rx) = mpsc::unbounded_channel();
    let run = driver.run(sandbox.request("say hello"), tx, CancellationToken::new());
    let (events, outcome, timing) = collect_timed(run, rx).await;
    println!(
        "one claude turn against the fake took {} ms ({:?} ms of start-up until the session id)",
        timing.to_outcome.as_millis(),
        timing.to_session.map(|d| d.as_millis())
    );

    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("Hello from the fake.".into())
        }
    );
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
    let turns = fake.agent_requests();
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
    let fake = FakeAnthropic::start(vec![
        Reply::bash("echo hi-from-tool"),
        Reply::text(&["done"]),
    ])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("run a tool")).await;

    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("done".into())
        }
    );
    let started = AgentEvent::ToolStarted {
        name: "Bash".into(),
        detail: "echo hi-from-tool".into(),
    };
    let finished = AgentEvent::ToolFinished {
        name: "Bash".into(),
        ok: true,
        detail: "hi-from-tool".into(),
    };
    let s = events
        .iter()
        .position(|e| *e == started)
        .unwrap_or_else(|| panic!("no start: {events:?}"));
    let f = events
        .iter()
        .position(|e| *e == finished)
        .unwrap_or_else(|| panic!("no finish: {events:?}"));
    assert!(s < f);
    let turns = fake.agent_requests();
    assert_eq!(turns.len(), 2);
    assert!(turns[1].last_user_content().contains("tool_result"));
    assert!(turns[1].last_user_content().contains("hi-from-tool"));
}

#[tokio::test]
async fn claude_resume_continues_the_same_session() {
    let fake = FakeAnthropic::start(vec![
        Reply::text(&["first answer"]),
        Reply::text(&["second answer"]),
    ])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("remember kiwi")).await;
    assert!(
        matches!(outcome, AgentOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let first = session_ids(&events);
    assert_eq!(first.len(), 1, "{events:?}");

    let mut req = sandbox.request("what did I say?");
    req.resume = Some(first[0].clone());
    let (events, outcome) = run_turn(&fake, &sandbox, req).await;
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("second answer".into())
        }
    );
    assert_eq!(session_ids(&events), first);
    let turns = fake.agent_requests();
    let history = turns.last().unwrap().body["messages"].to_string();
    assert!(
        history.contains("remember kiwi") && history.contains("first answer"),
        "{history}"
    );
}

#[tokio::test]
async fn claude_cancel_mid_run_kills_the_whole_process_group() {
    let marker = "sleep 307";
    let fake = FakeAnthropic::start(vec![Reply::bash(marker), Reply::text(&["never"])]).await;
    let sandbox = Sandbox::new();
    let driver = ClaudeDriver::new(agent_cli::claude_config(&fake, &sandbox));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let req = sandbox.request("start something long");
    let run = tokio::spawn({
        let cancel = cancel.clone();
        async move { driver.run(req, tx, cancel).await }
    });
    let mut seen = Vec::new();
    wait_for(&mut rx, &mut seen, Duration::from_secs(60), |e| {
        matches!(e, AgentEvent::ToolStarted { .. })
    })
    .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let procs = loop {
        let procs = agent_cli::processes_in(&sandbox.workdir);
        if procs.iter().any(|p| p.cmdline.contains(marker)) {
            break procs;
        }
        assert!(
            Instant::now() < deadline,
            "the tool never started; processes: {procs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cli = procs
        .iter()
        .find(|p| p.cmdline.contains("claude"))
        .unwrap_or_else(|| panic!("no claude process in the workdir: {procs:?}"))
        .clone();
    assert_eq!(cli.pgid, cli.pid, "claude leads its own process group");

    let started = Instant::now();
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run ends")
        .unwrap();
    println!("claude cancel took {} ms", started.elapsed().as_millis());
    assert_eq!(outcome, AgentOutcome::Cancelled);
    for p in &procs {
        assert!(agent_cli::wait_gone(p.pid), "{p:?} survived the cancel");
    }
    assert_eq!(agent_cli::live_group_members(cli.pgid), vec![]);
}

#[tokio::test]
async fn claude_http_400_is_a_failure_with_the_api_message() {
    let fake = FakeAnthropic::start(vec![Reply::Error {
        status: 400,
        message: "fake bad request xyz".into(),
    }])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("hi")).await;
    let AgentOutcome::Failed { message } = &outcome else {
        panic!("expected a failure, got {outcome:?} after {events:?}");
    };
    println!("claude reported: {message}");
    assert!(message.contains("fake bad request xyz"), "{message}");
}

#[tokio::test]
async fn claude_silent_model_is_killed_as_stalled() {
    let fake = FakeAnthropic::start(vec![Reply::Hang {
        first: "thinking about it".into(),
    }])
    .await;
    let sandbox = Sandbox::new();
    let mut config = agent_cli::claude_config(&fake, &sandbox);
    // Long enough to cover the CLI's start on a loaded machine (seen above 3 s), so the stall
    // happens mid-answer, after the first delta.
    config.stall_timeout = Duration::from_secs(8);
    let driver = ClaudeDriver::new(config);
    let (tx, rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let (events, outcome) = collect(
        driver.run(sandbox.request("hi"), tx, CancellationToken::new()),
        rx,
    )
    .await;
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
    let fake = FakeAnthropic::start(vec![Reply::text(&["a green dot"])]).await;
    let sandbox = Sandbox::new();
    let image = sandbox.workdir.join("dot.png");
    std::fs::write(&image, TINY_PNG).unwrap();
    let mut req = sandbox.request("what is in the picture?");
    req.images = vec![image];
    let (events, outcome) = run_turn(&fake, &sandbox, req).await;
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("a green dot".into())
        },
        "{events:?}"
    );
    let turns = fake.agent_requests();
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

/// A 1x1 PNG.
const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn claude_thinking_blocks_arrive_as_thinking_before_the_answer() {
    let fake = FakeAnthropic::start(vec![Reply::Thinking {
        thinking: "weighing the options".into(),
        text: "the answer".into(),
    }])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("think first")).await;
    assert_eq!(
        outcome,
        AgentOutcome::Completed {
            final_text: Some("the answer".into())
        },
        "{events:?}"
    );
    let thinking = AgentEvent::Thinking {
        text: "weighing the options".into(),
    };
    let answer = AgentEvent::TextSegment {
        text: "the answer".into(),
    };
    let t = events
        .iter()
        .position(|e| *e == thinking)
        .unwrap_or_else(|| panic!("no thinking: {events:?}"));
    let a = events
        .iter()
        .position(|e| *e == answer)
        .unwrap_or_else(|| panic!("no answer: {events:?}"));
    assert!(t < a, "{events:?}");
}
