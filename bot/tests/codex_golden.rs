//! Golden tests: every recorded `codex app-server` conversation
//! (`golden/codex-app-server/`) replays through the driver. Each server line
//! goes to the parser, and everything Baton writes (the launch's first line,
//! the parser's requests, the answer to a question, the interrupt) must be
//! exactly the client line recorded next; the events and outcome are the
//! ones the conversation implies.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use baton_bot::drivers::{
    AgentCli, AgentEvent, AgentOutcome, AgentRequest, AgentStream, Ask, CodexConfig, CodexDriver,
    CodexParser, Decision, ExitReport, codex,
};
use serde_json::Value;

const DIR: &str = "tests/golden/codex-app-server";
/// The normalised ids of the recordings: a new thread is the second id seen, a resumed one
/// the first.
const THREAD: &str = "00000000-0000-7000-8000-000000000002";
const RESUMED: &str = "00000000-0000-7000-8000-000000000001";

/// What the user does when the recording's agent asks.
#[derive(Clone)]
enum OnAsk {
    Decide(Decision),
    /// A stop: the run cancels, and the driver interrupts the turn.
    Stop,
}

struct Case {
    name: &'static str,
    prompt: &'static str,
    policy: &'static str,
    resume: Option<&'static str>,
    images: Vec<&'static str>,
    on_ask: OnAsk,
    events: Vec<AgentEvent>,
    exit: ExitReport,
    outcome: AgentOutcome,
}

fn case(name: &'static str, prompt: &'static str, on_ask: OnAsk) -> Case {
    Case {
        name,
        prompt,
        policy: "untrusted",
        resume: None,
        images: Vec::new(),
        on_ask,
        events: Vec::new(),
        exit: exited(0),
        outcome: AgentOutcome::Completed { final_text: None },
    }
}

fn exited(code: i32) -> ExitReport {
    ExitReport {
        code: Some(code),
        ..ExitReport::default()
    }
}

fn session(id: &str) -> AgentEvent {
    AgentEvent::Session { id: id.into() }
}

fn notice(message: &str) -> AgentEvent {
    AgentEvent::Notice {
        message: message.into(),
    }
}

fn delta(text: &str) -> AgentEvent {
    AgentEvent::TextDelta { text: text.into() }
}

fn segment(text: &str) -> AgentEvent {
    AgentEvent::TextSegment { text: text.into() }
}

fn thinking() -> AgentEvent {
    AgentEvent::Thinking {
        text: "**Planning**".into(),
    }
}

fn tool(name: &str, detail: &str) -> AgentEvent {
    AgentEvent::ToolStarted {
        name: name.into(),
        detail: detail.into(),
    }
}

fn finished(name: &str, ok: bool, detail: &str) -> AgentEvent {
    AgentEvent::ToolFinished {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

fn usage(input_tokens: u64, output_tokens: u64) -> AgentEvent {
    AgentEvent::Usage {
        input_tokens,
        output_tokens,
        cost_micro_usd: None,
    }
}

fn shell_asks(command: &str) -> AgentEvent {
    AgentEvent::Asked(baton_bot::drivers::Question {
        request_id: "0".into(),
        ask: Ask::Permission {
            tool: "Shell".into(),
            detail: command.into(),
        },
        // Compared apart: the request's params, as the server sent them.
        input: Value::Null,
        session_rules: Vec::new(),
    })
}

fn completed(text: &str) -> AgentOutcome {
    AgentOutcome::Completed {
        final_text: Some(text.into()),
    }
}

const NO_METADATA: &str = "Model metadata for `gpt-5.1-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.";

fn cases() -> Vec<Case> {
    let touch = "/bin/bash -lc 'touch made.txt'";
    vec![
        Case {
            events: vec![
                session(THREAD),
                notice(NO_METADATA),
                thinking(),
                tool("Shell", touch),
                shell_asks("touch made.txt"),
                finished("Shell", true, ""),
                delta("Created "),
                delta("it."),
                segment("Created it."),
                usage(20, 11),
            ],
            outcome: completed("Created it."),
            ..case(
                "approve-command",
                "create made.txt",
                OnAsk::Decide(Decision::Allow),
            )
        },
        Case {
            events: vec![
                session(THREAD),
                notice(NO_METADATA),
                thinking(),
                tool("Shell", touch),
                shell_asks("touch made.txt"),
                finished("Shell", false, "declined"),
                delta("Not creating it."),
                segment("Not creating it."),
                usage(20, 10),
            ],
            outcome: completed("Not creating it."),
            ..case(
                "deny-command",
                "create made.txt",
                OnAsk::Decide(Decision::Deny {
                    reason: "wrong folder".into(),
                }),
            )
        },
        Case {
            events: vec![
                session(THREAD),
                notice(NO_METADATA),
                thinking(),
                tool("Shell", "/bin/bash -lc 'touch twice.txt'"),
                shell_asks("touch twice.txt"),
                finished("Shell", true, ""),
                thinking(),
                tool("Shell", "/bin/bash -lc 'touch twice.txt'"),
                finished("Shell", true, ""),
                delta("Touched it twice."),
                segment("Touched it twice."),
                usage(30, 19),
            ],
            outcome: completed("Touched it twice."),
            ..case(
                "approve-for-session",
                "touch twice.txt twice",
                OnAsk::Decide(Decision::AllowForSession),
            )
        },
        Case {
            events: vec![
                session(THREAD),
                tool("Edit", "/work/hello.txt"),
                AgentEvent::Asked(baton_bot::drivers::Question {
                    request_id: "0".into(),
                    ask: Ask::Permission {
                        tool: "Edit".into(),
                        detail: "add /work/hello.txt\nhello".into(),
                    },
                    input: Value::Null,
                    session_rules: Vec::new(),
                }),
                finished("Edit", true, "add /work/hello.txt"),
                delta("Added hello.txt."),
                segment("Added hello.txt."),
                usage(20, 10),
            ],
            outcome: completed("Added hello.txt."),
            ..case(
                "approve-file-change",
                "add hello.txt",
                OnAsk::Decide(Decision::Allow),
            )
        },
        Case {
            events: vec![
                session(THREAD),
                notice(NO_METADATA),
                thinking(),
                tool("Shell", touch),
                shell_asks("touch made.txt"),
                usage(10, 9),
            ],
            exit: ExitReport {
                cancel_requested: true,
                ..exited(0)
            },
            outcome: AgentOutcome::Cancelled,
            ..case("interrupt-while-asking", "create made.txt", OnAsk::Stop)
        },
        Case {
            policy: "never",
            events: vec![session(THREAD), notice(NO_METADATA)],
            outcome: AgentOutcome::Failed {
                message: r#"{"error": {"message": "fake bad request xyz", "type": "invalid_request_error", "code": null}}"#.into(),
            },
            ..case("http-400", "hi", OnAsk::Stop)
        },
        Case {
            policy: "never",
            resume: Some(RESUMED),
            images: vec!["/work/dot.png"],
            events: vec![
                session(RESUMED),
                notice(NO_METADATA),
                delta("second "),
                delta("answer"),
                segment("second answer"),
                usage(10, 2),
            ],
            outcome: completed("second answer"),
            ..case("resume-with-image", "what did I say?", OnAsk::Stop)
        },
    ]
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR)
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Replays `case`'s recording: its events (an asked question's params blanked) and the parser.
fn replay(case: &Case) -> (Vec<AgentEvent>, CodexParser) {
    let mut config = CodexConfig::new(PathBuf::from("codex"));
    config.approval_policy = case.policy.into();
    let driver = CodexDriver::new(config);
    let req = AgentRequest {
        prompt: case.prompt.into(),
        workdir: PathBuf::from("/work"),
        resume: case.resume.map(String::from),
        images: case.images.iter().map(PathBuf::from).collect(),
        asks: true,
        ..AgentRequest::default()
    };
    let launch = driver.launch(&req).expect("a launch");
    assert!(
        launch.keep_stdin_open,
        "stdin stays open for the conversation"
    );
    let mut parser = driver.stream(&req);
    let mut written: VecDeque<Value> = json_lines(&launch.stdin).into();
    let mut events = Vec::new();
    let path = dir().join(format!("{}.jsonl", case.name));
    let text = std::fs::read_to_string(&path).expect("recording readable");
    for (at, line) in text.lines().enumerate() {
        let at = at + 1;
        if let Some(client) = line.strip_prefix("> ") {
            let recorded: Value = serde_json::from_str(client).expect("a JSON line");
            assert_eq!(
                written.pop_front().as_ref(),
                Some(&recorded),
                "{}:{at}: what Baton writes",
                case.name
            );
        } else if let Some(server) = line.strip_prefix("< ") {
            for event in parser.feed(server) {
                if let AgentEvent::Asked(question) = &event {
                    let more = match &case.on_ask {
                        OnAsk::Decide(decision) => codex::answer(question, decision).bytes,
                        OnAsk::Stop => parser.interrupt().expect("a turn to interrupt"),
                    };
                    let mut blank = question.clone();
                    blank.input = Value::Null;
                    events.push(AgentEvent::Asked(blank));
                    written.extend(json_lines(&more));
                } else {
                    events.push(event);
                }
            }
            for bytes in parser.take_writes() {
                written.extend(json_lines(&bytes));
            }
        } else {
            assert!(line.starts_with('#'), "{}:{at}: {line}", case.name);
        }
    }
    assert!(written.is_empty(), "{}: never sent {written:?}", case.name);
    (events, parser)
}

#[test]
fn codex_app_server_recordings_replay_to_what_baton_writes_and_shows() {
    let cases = cases();
    let mut covered: Vec<String> = cases.iter().map(|c| format!("{}.jsonl", c.name)).collect();
    covered.sort();
    let mut recorded: Vec<String> = std::fs::read_dir(dir())
        .expect("the recordings")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    recorded.sort();
    assert_eq!(
        recorded, covered,
        "every recording needs a case, and only those"
    );
    for case in cases {
        let (events, parser) = replay(&case);
        assert_eq!(events, case.events, "events of {}", case.name);
        assert!(parser.has_result(), "{} ended its turn", case.name);
        assert_eq!(
            parser.finish(&case.exit),
            case.outcome,
            "outcome of {}",
            case.name
        );
    }
}

#[test]
fn codex_without_a_turn_end_fails_naming_the_last_error_and_exit() {
    let mut parser = CodexParser::default();
    parser.feed(r#"{"method":"error","params":{"error":{"message":"stream disconnected"},"willRetry":true,"threadId":"t","turnId":"u"}}"#);
    assert!(!parser.has_result());
    let AgentOutcome::Failed { message } = parser.finish(&exited(1)) else {
        panic!("no turn/completed and no cancel must be a failure");
    };
    assert_eq!(
        message,
        "codex exited without finishing the turn (last error: stream disconnected): exit code 1"
    );
}

#[test]
fn codex_refusals_of_the_thread_or_turn_end_the_run_with_the_servers_words() {
    let mut parser = CodexParser::new(codex::Setup {
        resume: Some("gone".into()),
        ..codex::Setup::default()
    });
    parser.feed(r#"{"id":0,"result":{"userAgent":"x"}}"#);
    assert_eq!(
        parser.take_writes().len(),
        2,
        "initialized, then the resume"
    );
    parser.feed(
        r#"{"id":1,"error":{"code":-32600,"message":"no rollout found for thread id gone"}}"#,
    );
    assert!(parser.has_result());
    assert_eq!(parser.interrupt(), None, "nothing to interrupt");
    assert_eq!(
        parser.finish(&exited(0)),
        AgentOutcome::Failed {
            message:
                "codex app-server refused resuming the thread: no rollout found for thread id gone"
                    .into()
        }
    );
}

#[test]
fn codex_requests_baton_cannot_answer_get_an_error_not_silence() {
    let mut parser = CodexParser::default();
    let events = parser.feed(
        r#"{"method":"item/tool/requestUserInput","id":7,"params":{"threadId":"t","turnId":"u","itemId":"i","questions":[]}}"#,
    );
    assert!(
        matches!(events.as_slice(), [AgentEvent::Notice { message }] if message.contains("item/tool/requestUserInput")),
        "{events:?}"
    );
    let writes = parser.take_writes();
    let reply = &json_lines(&writes[0])[0];
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], -32601);
}

#[test]
fn codex_approvals_nobody_can_answer_are_declined_at_once() {
    // `asks` off: the parser answers for nobody, and the turn goes on.
    let mut parser = CodexParser::default();
    let events = parser.feed(
        r#"{"method":"item/commandExecution/requestApproval","id":4,"params":{"threadId":"t","turnId":"u","itemId":"c","command":"rm -rf x","commandActions":[]}}"#,
    );
    assert_eq!(events, vec![]);
    let reply = &json_lines(&parser.take_writes()[0])[0];
    assert_eq!(
        reply,
        &serde_json::json!({"id": 4, "result": {"decision": "decline"}})
    );
}

#[test]
fn codex_tool_items_show_what_they_do() {
    let mut parser = CodexParser::default();
    let mut feed = |method: &str, item: &str| {
        parser.feed(&format!(
            r#"{{"method":"item/{method}","params":{{"item":{item},"threadId":"t","turnId":"u"}}}}"#
        ))
    };
    assert_eq!(
        feed(
            "started",
            r#"{"type":"mcpToolCall","id":"i2","server":"fs","tool":"read","arguments":{"path":"/x"},"status":"inProgress","result":null,"error":null}"#
        ),
        vec![tool("fs.read", r#"{"path":"/x"}"#)]
    );
    assert_eq!(
        feed(
            "completed",
            r#"{"type":"mcpToolCall","id":"i2","server":"fs","tool":"read","arguments":{"path":"/x"},"status":"failed","result":null,"error":{"message":"not found"}}"#
        ),
        vec![finished("fs.read", false, "not found")]
    );
    assert_eq!(
        feed(
            "completed",
            r#"{"type":"webSearch","id":"i3","query":"rust tokio","action":null,"results":null}"#
        ),
        vec![
            tool("WebSearch", "rust tokio"),
            finished("WebSearch", true, "rust tokio")
        ]
    );
    assert_eq!(
        feed(
            "completed",
            r#"{"type":"commandExecution","id":"i5","command":"false","cwd":"/w","status":"failed","aggregatedOutput":"bad thing\n\n","exitCode":2,"commandActions":[]}"#
        ),
        vec![
            tool("Shell", "false"),
            finished("Shell", false, "exit 2: bad thing")
        ]
    );
    assert_eq!(
        feed(
            "completed",
            r#"{"type":"fileChange","id":"i6","changes":[{"path":"src/a.rs","kind":{"type":"update","move_path":null},"diff":"-a\n+b\n"}],"status":"completed"}"#
        ),
        vec![
            tool("Edit", "src/a.rs"),
            finished("Edit", true, "update src/a.rs")
        ]
    );
    assert_eq!(
        feed("completed", r#"{"type":"contextCompaction","id":"i7"}"#),
        vec![]
    );
}

#[test]
fn codex_parser_survives_cut_lines_and_unknown_methods() {
    let mut parser = CodexParser::default();
    assert_eq!(
        parser.feed(r#"{"method":"thread/name/updated","params":{"name":"x"}}"#),
        vec![]
    );
    let text = std::fs::read_to_string(dir().join("approve-command.jsonl")).unwrap();
    for line in text.lines().filter_map(|l| l.strip_prefix("< ")) {
        for cut in (1..line.len()).filter(|&i| line.is_char_boundary(i)) {
            let events = parser.feed(&line[..cut]);
            assert!(
                matches!(events.as_slice(), [AgentEvent::Notice { .. }]),
                "{events:?}"
            );
        }
    }
    assert!(!parser.has_result());
}
