//! Golden tests: every recorded claude stream parses to exactly the events and outcome it implies.

#[path = "support/golden.rs"]
mod golden;

use baton_bot::drivers::{AgentEvent, AgentOutcome, AgentStream, ClaudeParser, ExitReport};
use golden::{Expectation, exited};

fn parse(name: &str) -> (Vec<AgentEvent>, ClaudeParser) {
    golden::parse(name)
}

fn session(id: &str) -> AgentEvent {
    AgentEvent::Session { id: id.into() }
}

fn segment(text: &str) -> AgentEvent {
    AgentEvent::TextSegment { text: text.into() }
}

fn delta(text: &str) -> AgentEvent {
    AgentEvent::TextDelta { text: text.into() }
}

/// Tokens, and the result's `total_cost_usd` in millionths of a dollar.
fn usage(input_tokens: u64, output_tokens: u64, cost_micro_usd: u64) -> AgentEvent {
    AgentEvent::Usage {
        input_tokens,
        output_tokens,
        cost_micro_usd: Some(cost_micro_usd),
    }
}

fn completed(text: &str) -> AgentOutcome {
    AgentOutcome::Completed {
        final_text: Some(text.into()),
    }
}

/// Expected events, exit report and outcome for each fixture; a new fixture must be added here.
fn expectations() -> Vec<Expectation> {
    const HELLO: &str = "Hello from the fake model.";
    const TOO_LONG: &str = "Prompt is too long · this conversation is a single exchange and cannot be compacted — the request size comes mostly from system prompt, tool definitions, or attachments.";
    vec![
        (
            "claude-image-input.jsonl",
            vec![
                session("a2816972-895a-4b88-8221-8923b7430bc1"),
                segment("ok"),
                usage(10, 5, 105),
            ],
            exited(0),
            completed("ok"),
        ),
        (
            "claude-resume-wrong-cwd.jsonl",
            vec![usage(0, 0, 0)],
            exited(1),
            AgentOutcome::Failed {
                message:
                    "No conversation found with session ID: 01dc17c7-6366-40d9-96a3-26b70ba31b27"
                        .into(),
            },
        ),
        (
            "claude-sigint.jsonl",
            vec![session("9ed13bdd-dfb1-4c17-8367-be60584e1c09")],
            ExitReport {
                cancel_requested: true,
                ..exited(0)
            },
            AgentOutcome::Cancelled,
        ),
        (
            "claude-stream-input-interrupt.jsonl",
            vec![
                session("0b20f928-2bd3-46cb-b046-a7d381c44941"),
                segment("ok"),
                usage(10, 5, 105),
                usage(0, 0, 105),
                segment("ok"),
                usage(10, 5, 210),
            ],
            exited(0),
            completed("ok"),
        ),
        (
            "claude-stream-json-api-error.jsonl",
            vec![
                session("5c3886db-bc32-4271-87cb-40e0d1739773"),
                usage(0, 0, 0),
            ],
            exited(1),
            AgentOutcome::Failed {
                message: TOO_LONG.into(),
            },
        ),
        (
            "claude-stream-json-partial-messages.jsonl",
            vec![
                session("6dd7607c-e759-4556-86a9-3766e61f2dbd"),
                delta("Hello "),
                delta("from "),
                delta("the fake "),
                delta("model."),
                segment(HELLO),
                usage(12, 7, 470),
            ],
            exited(0),
            completed(HELLO),
        ),
        (
            "claude-stream-json-resume.jsonl",
            vec![
                session("7386ddab-a095-4dd4-9d6a-e72054ec4f3d"),
                segment(HELLO),
                usage(12, 7, 235),
            ],
            exited(0),
            completed(HELLO),
        ),
        (
            "claude-stream-json-tool-use.jsonl",
            vec![
                session("7386ddab-a095-4dd4-9d6a-e72054ec4f3d"),
                AgentEvent::ToolStarted {
                    name: "Bash".into(),
                    detail: "echo hi-from-tool".into(),
                },
                AgentEvent::ToolFinished {
                    name: "Bash".into(),
                    ok: true,
                    detail: "hi-from-tool".into(),
                },
                segment(HELLO),
                usage(24, 16, 805),
            ],
            exited(0),
            completed(HELLO),
        ),
    ]
}

#[test]
fn claude_fixtures_parse_to_their_expected_events_and_outcomes() {
    golden::check_fixtures::<ClaudeParser>("claude-", expectations());
}

#[test]
fn claude_sigint_without_cancel_is_a_failure_naming_the_exit() {
    let (_, parser) = parse("claude-sigint.jsonl");
    let exit = ExitReport {
        stderr_tail: "boom".into(),
        ..exited(0)
    };
    assert_eq!(
        parser.finish(&exit),
        AgentOutcome::Failed {
            message: "claude exited without a result: exit code 0, stderr: boom".into()
        }
    );
}

#[test]
fn claude_error_result_after_cancel_is_cancelled_and_success_stays_completed() {
    let (_, parser) = parse("claude-stream-json-api-error.jsonl");
    let exit = ExitReport {
        cancel_requested: true,
        ..exited(1)
    };
    assert_eq!(parser.finish(&exit), AgentOutcome::Cancelled);
    let (_, parser) = parse("claude-stream-json-resume.jsonl");
    let exit = ExitReport {
        cancel_requested: true,
        ..exited(0)
    };
    assert_eq!(
        parser.finish(&exit),
        completed("Hello from the fake model.")
    );
}

#[test]
fn claude_stall_wins_over_everything() {
    let (_, parser) = parse("claude-stream-json-resume.jsonl");
    let exit = ExitReport {
        stalled: true,
        signal: Some(9),
        ..ExitReport::default()
    };
    assert_eq!(parser.finish(&exit), AgentOutcome::Stalled);
}

#[test]
fn claude_parser_survives_every_prefix_of_every_fixture_line() {
    let mut parser = ClaudeParser::new();
    golden::feed_cut_lines(&mut parser, "claude-", 0, 7, |name, cut, events| {
        if cut > 0 {
            assert!(
                matches!(events.as_slice(), [AgentEvent::Notice { .. }]),
                "a cut line of {name} must give one notice, got {events:?}"
            );
        }
    });
}

#[test]
fn claude_parser_reports_garbage_and_ignores_unknown_lines() {
    let mut parser = ClaudeParser::new();
    assert_eq!(parser.feed(r#"{"type":"brand_new","x":1}"#), vec![]);
    assert_eq!(
        parser.feed(r#"{"type":"system","subtype":"status"}"#),
        vec![]
    );
    let notice = parser.feed("Error: something odd");
    assert!(
        matches!(notice.as_slice(), [AgentEvent::Notice { message }] if message.contains("something odd"))
    );
    assert!(!parser.has_result());
}

#[test]
fn claude_tool_details_name_the_object_of_the_call() {
    let mut parser = ClaudeParser::new();
    let line = |name: &str, input: &str| {
        format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","id":"t_{name}","name":"{name}","input":{input}}}]}}}}"#
        )
    };
    let cases = [
        (
            "Read",
            r#"{"file_path":"/w/src/main.rs"}"#,
            "/w/src/main.rs",
        ),
        (
            "Edit",
            r#"{"file_path":"/w/a.rs","old_string":"x","new_string":"y"}"#,
            "/w/a.rs",
        ),
        ("Grep", r#"{"pattern":"fn main","path":"src"}"#, "fn main"),
        (
            "Bash",
            r#"{"command":"cargo test\ncargo fmt"}"#,
            "cargo test…",
        ),
        ("mcp__x__y", r#"{"q":1}"#, r#"{"q":1}"#),
    ];
    for (name, input, detail) in cases {
        assert_eq!(
            parser.feed(&line(name, input)),
            vec![AgentEvent::ToolStarted {
                name: name.into(),
                detail: detail.into()
            }]
        );
    }
    let failed = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t_Read","content":[{"type":"text","text":"no such file"}],"is_error":true}]}}"#;
    assert_eq!(
        parser.feed(failed),
        vec![AgentEvent::ToolFinished {
            name: "Read".into(),
            ok: false,
            detail: "no such file".into()
        }]
    );
}

#[test]
fn claude_thinking_blocks_become_thinking_and_subagent_text_is_not_the_answer() {
    let mut parser = ClaudeParser::new();
    let thinking = r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"let me see","signature":"s"},{"type":"text","text":"done"}]},"parent_tool_use_id":null}"#;
    assert_eq!(
        parser.feed(thinking),
        vec![
            AgentEvent::Thinking {
                text: "let me see".into()
            },
            segment("done")
        ]
    );
    let sub = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"sub says"}]},"parent_tool_use_id":"toolu_9"}"#;
    assert_eq!(parser.feed(sub), vec![]);
    let sub_delta = r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}},"parent_tool_use_id":"toolu_9"}"#;
    assert_eq!(parser.feed(sub_delta), vec![]);
}
