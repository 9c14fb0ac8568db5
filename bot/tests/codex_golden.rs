//! Golden tests: every recorded codex stream parses to exactly the events and outcome it implies.

#[path = "support/golden.rs"]
mod golden;

use baton_bot::drivers::{AgentEvent, AgentOutcome, AgentStream, CodexParser, ExitReport};
use golden::{Expectation, exited};

fn parse(name: &str) -> (Vec<AgentEvent>, CodexParser) {
    golden::parse(name)
}

fn notice(message: &str) -> AgentEvent {
    AgentEvent::Notice {
        message: message.into(),
    }
}

fn reconnecting(n: u32) -> AgentEvent {
    notice(&format!(
        "Reconnecting... {n}/5 (stream disconnected before completion: WebSocket protocol error: HTTP version must be 1.1 or higher)"
    ))
}

const NO_METADATA: &str = "Model metadata for `gpt-5.1-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.";

/// Expected events, exit report and outcome for each fixture; a new fixture must be added here.
fn expectations() -> Vec<Expectation> {
    let hello = "Hello from fake codex model.";
    vec![
        (
            "codex-exec-json-resume.jsonl",
            vec![
                AgentEvent::Session {
                    id: "01a21c5e-7e58-7353-9bc2-543e6323d86d".into(),
                },
                AgentEvent::TextSegment { text: hello.into() },
                AgentEvent::Usage {
                    input_tokens: 20,
                    output_tokens: 12,
                    cost_micro_usd: None,
                },
            ],
            exited(0),
            AgentOutcome::Completed {
                final_text: Some(hello.into()),
            },
        ),
        (
            "codex-exec-json.jsonl",
            vec![
                AgentEvent::Session {
                    id: "01a21c5e-7e58-7353-9bc2-543e6323d86d".into(),
                },
                AgentEvent::TextSegment { text: hello.into() },
                AgentEvent::Usage {
                    input_tokens: 10,
                    output_tokens: 6,
                    cost_micro_usd: None,
                },
            ],
            exited(0),
            AgentOutcome::Completed {
                final_text: Some(hello.into()),
            },
        ),
        (
            "codex-sigint.jsonl",
            vec![
                AgentEvent::Session {
                    id: "01a21c63-2d84-7b71-8736-bfa5730169b1".into(),
                },
                notice(NO_METADATA),
                reconnecting(2),
                reconnecting(3),
                reconnecting(4),
                reconnecting(5),
            ],
            ExitReport {
                cancel_requested: true,
                ..exited(1)
            },
            AgentOutcome::Cancelled,
        ),
        (
            "codex-tool-turn.jsonl",
            vec![
                AgentEvent::Session {
                    id: "01a21c62-e348-7ce3-befc-14bdf945ae27".into(),
                },
                notice(NO_METADATA),
                reconnecting(2),
                reconnecting(3),
                reconnecting(4),
                reconnecting(5),
                notice(
                    "Falling back from WebSockets to HTTPS transport. stream disconnected before completion: WebSocket protocol error: HTTP version must be 1.1 or higher",
                ),
                AgentEvent::Thinking {
                    text: "**Planning a command**".into(),
                },
                AgentEvent::ToolStarted {
                    name: "Shell".into(),
                    detail: "/bin/bash -lc 'echo hi'".into(),
                },
                AgentEvent::ToolFinished {
                    name: "Shell".into(),
                    ok: true,
                    detail: "hi".into(),
                },
                AgentEvent::TextSegment {
                    text: "Hello from fake.".into(),
                },
                AgentEvent::Usage {
                    input_tokens: 200,
                    output_tokens: 24,
                    cost_micro_usd: None,
                },
            ],
            exited(0),
            AgentOutcome::Completed {
                final_text: Some("Hello from fake.".into()),
            },
        ),
    ]
}

#[test]
fn codex_fixtures_parse_to_their_expected_events_and_outcomes() {
    golden::check_fixtures::<CodexParser>("codex-", expectations());
}

#[test]
fn codex_sigint_without_cancel_fails_naming_the_last_error_and_exit() {
    let (_, parser) = parse("codex-sigint.jsonl");
    let AgentOutcome::Failed { message } = parser.finish(&exited(1)) else {
        panic!("no turn.completed and no cancel must be a failure");
    };
    assert!(
        message.starts_with(
            "codex exited without finishing the turn (last error: Reconnecting... 5/5"
        ),
        "{message}"
    );
    assert!(message.ends_with(": exit code 1"), "{message}");
}

#[test]
fn codex_turn_failed_is_a_failure_unless_cancelled() {
    let lines = [
        r#"{"type":"thread.started","thread_id":"t1"}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"error","message":"stream error"}"#,
        r#"{"type":"turn.failed","error":{"message":"model refused"}}"#,
    ];
    let run = |exit: ExitReport| {
        let mut parser = CodexParser::new();
        for line in lines {
            parser.feed(line);
        }
        assert!(parser.has_result());
        parser.finish(&exit)
    };
    assert_eq!(
        run(exited(1)),
        AgentOutcome::Failed {
            message: "model refused".into()
        }
    );
    assert_eq!(
        run(ExitReport {
            cancel_requested: true,
            ..exited(1)
        }),
        AgentOutcome::Cancelled
    );
    assert_eq!(
        run(ExitReport {
            stalled: true,
            ..ExitReport::default()
        }),
        AgentOutcome::Stalled
    );
}

#[test]
fn codex_tool_items_show_what_they_do() {
    let mut parser = CodexParser::new();
    let mut feed = |line: &str| parser.feed(line);
    assert_eq!(
        feed(
            r#"{"type":"item.completed","item":{"id":"i1","type":"file_change","changes":[{"path":"src/a.rs","kind":"update"},{"path":"b.rs","kind":"add"}],"status":"completed"}}"#
        ),
        vec![
            AgentEvent::ToolStarted {
                name: "Edit".into(),
                detail: "src/a.rs, b.rs".into()
            },
            AgentEvent::ToolFinished {
                name: "Edit".into(),
                ok: true,
                detail: "update src/a.rs, add b.rs".into()
            },
        ]
    );
    assert_eq!(
        feed(
            r#"{"type":"item.started","item":{"id":"i2","type":"mcp_tool_call","server":"fs","tool":"read","arguments":{"path":"/x"},"result":null,"error":null,"status":"in_progress"}}"#
        ),
        vec![AgentEvent::ToolStarted {
            name: "fs.read".into(),
            detail: r#"{"path":"/x"}"#.into()
        }]
    );
    assert_eq!(
        feed(
            r#"{"type":"item.completed","item":{"id":"i2","type":"mcp_tool_call","server":"fs","tool":"read","arguments":{"path":"/x"},"result":null,"error":{"message":"not found"},"status":"failed"}}"#
        ),
        vec![AgentEvent::ToolFinished {
            name: "fs.read".into(),
            ok: false,
            detail: "not found".into()
        }]
    );
    assert_eq!(
        feed(
            r#"{"type":"item.completed","item":{"id":"i3","type":"web_search","query":"rust tokio"}}"#
        ),
        vec![
            AgentEvent::ToolStarted {
                name: "WebSearch".into(),
                detail: "rust tokio".into()
            },
            AgentEvent::ToolFinished {
                name: "WebSearch".into(),
                ok: true,
                detail: "rust tokio".into()
            },
        ]
    );
    let todo = |kind: &str, done: bool| {
        format!(
            r#"{{"type":"{kind}","item":{{"id":"i4","type":"todo_list","items":[{{"text":"read","completed":true}},{{"text":"write","completed":{done}}}]}}}}"#
        )
    };
    assert_eq!(
        feed(&todo("item.started", false)),
        vec![AgentEvent::ToolStarted {
            name: "Plan".into(),
            detail: "1/2 done; next: write".into()
        }]
    );
    assert_eq!(feed(&todo("item.updated", false)), vec![]);
    assert_eq!(
        feed(&todo("item.completed", true)),
        vec![AgentEvent::ToolFinished {
            name: "Plan".into(),
            ok: true,
            detail: "2/2 done".into()
        }]
    );
    assert_eq!(
        feed(
            r#"{"type":"item.completed","item":{"id":"i5","type":"command_execution","command":"false","aggregated_output":"bad thing\n\n","exit_code":2,"status":"failed"}}"#
        ),
        vec![
            AgentEvent::ToolStarted {
                name: "Shell".into(),
                detail: "false".into()
            },
            AgentEvent::ToolFinished {
                name: "Shell".into(),
                ok: false,
                detail: "exit 2: bad thing".into()
            },
        ]
    );
}

#[test]
fn codex_parser_survives_cut_lines_and_unknown_types() {
    let mut parser = CodexParser::new();
    assert_eq!(
        parser.feed(r#"{"type":"thread.renamed","name":"x"}"#),
        vec![]
    );
    assert_eq!(
        parser.feed(r#"{"type":"item.completed","item":{"id":"z","type":"new_kind","x":1}}"#),
        vec![]
    );
    golden::feed_cut_lines(&mut parser, "codex-", 1, 1, |_, _, events| {
        assert!(
            matches!(events.as_slice(), [AgentEvent::Notice { .. }]),
            "{events:?}"
        );
    });
    assert!(!parser.has_result());
}
