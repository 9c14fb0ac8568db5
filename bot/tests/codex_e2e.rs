//! The real codex CLI against the fake OpenAI Responses API, driven through `CodexDriver`.

mod support;

use std::time::{Duration, Instant};

use baton_bot::drivers::{AgentEvent, AgentOutcome, AgentRequest, CodexDriver};
use support::agent_cli::{self, Sandbox, collect, collect_timed, session_ids, wait_for};
use support::fake_openai::{FakeOpenAi, Reply};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

async fn run_turn(
    fake: &FakeOpenAi,
    sandbox: &Sandbox,
    req: AgentRequest,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let driver = CodexDriver::new(agent_cli::codex_config(fake, sandbox));
    let (tx, rx) = mpsc::unbounded_channel();
    collect(driver.run(req, tx, CancellationToken::new()), rx).await
}

#[tokio::test]
async fn codex_turn_completes_with_the_streamed_answer() {
    let fake = FakeOpenAi::start(vec![Reply::text(&["Hello ", "from ", "codex."])]).await;
    let sandbox = Sandbox::new();
    let driver = CodexDriver::new(agent_cli::codex_config(&fake, &sandbox));
    let (tx, rx) = mpsc::unbounded_channel();
    let run = driver.run(sandbox.request("say hello"), tx, CancellationToken::new());
    let (events, outcome, timing) = collect_timed(run, rx).await;
    println!(
        "one codex turn against the fake took {} ms ({:?} ms of start-up until the session id)",
        timing.to_outcome.as_millis(),
        timing.to_session.map(|d| d.as_millis())
    );

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
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("run something")).await;

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
    let started = events
        .iter()
        .position(|e| matches!(e, AgentEvent::ToolStarted { name, detail } if name == "Shell" && detail.contains("echo hi-from-codex")))
        .unwrap_or_else(|| panic!("no command start: {events:?}"));
    let finished = events
        .iter()
        .position(|e| {
            *e == AgentEvent::ToolFinished {
                name: "Shell".into(),
                ok: true,
                detail: "hi-from-codex".into(),
            }
        })
        .unwrap_or_else(|| panic!("no command finish: {events:?}"));
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
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("remember kiwi")).await;
    assert!(
        matches!(outcome, AgentOutcome::Completed { .. }),
        "{outcome:?} {events:?}"
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
        },
        "{events:?}"
    );
    assert_eq!(session_ids(&events), first);
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
    let driver = CodexDriver::new(agent_cli::codex_config(&fake, &sandbox));
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
            "the command never started; processes: {procs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cli = procs
        .iter()
        .find(|p| p.cmdline.contains("codex"))
        .unwrap_or_else(|| panic!("no codex process in the workdir: {procs:?}"))
        .clone();

    let started = Instant::now();
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run ends")
        .unwrap();
    println!("codex cancel took {} ms", started.elapsed().as_millis());
    assert_eq!(outcome, AgentOutcome::Cancelled);
    // The sandboxed command runs in its own session, out of codex's group.
    assert!(
        procs.iter().any(|p| p.pgid != cli.pgid),
        "expected a process outside the group: {procs:?}"
    );
    for p in &procs {
        assert!(
            agent_cli::wait_gone(p.pid),
            "{} ({}) survived the cancel",
            p.pid,
            p.cmdline.chars().take(80).collect::<String>()
        );
    }
    assert_eq!(agent_cli::live_group_members(cli.pgid), vec![]);
}

#[tokio::test]
async fn codex_silent_model_is_killed_as_stalled() {
    let fake = FakeOpenAi::start(vec![Reply::Hang {
        first: "thinking".into(),
    }])
    .await;
    let sandbox = Sandbox::new();
    let mut config = agent_cli::codex_config(&fake, &sandbox);
    config.stall_timeout = Duration::from_secs(5);
    let driver = CodexDriver::new(config);
    let (tx, rx) = mpsc::unbounded_channel();
    let (events, outcome) = collect(
        driver.run(sandbox.request("hi"), tx, CancellationToken::new()),
        rx,
    )
    .await;
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
    let image = sandbox.workdir.join("dot.png");
    std::fs::write(&image, TINY_PNG).unwrap();
    let mut req = sandbox.request("describe it");
    req.images = vec![image];
    let (events, outcome) = run_turn(&fake, &sandbox, req).await;
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

/// A 1x1 PNG.
const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn codex_http_400_is_a_failure_with_the_api_message() {
    let fake = FakeOpenAi::start(vec![Reply::Error {
        status: 400,
        message: "fake bad request xyz".into(),
    }])
    .await;
    let sandbox = Sandbox::new();
    let (events, outcome) = run_turn(&fake, &sandbox, sandbox.request("hi")).await;
    let AgentOutcome::Failed { message } = &outcome else {
        panic!("expected a failure, got {outcome:?} after {events:?}");
    };
    println!("codex reported: {message}");
    assert!(message.contains("fake bad request xyz"), "{message}");
}
