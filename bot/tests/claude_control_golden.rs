//! The pinned claude CLI's stdio control protocol, kept as Baton's own
//! golden transcripts (`tests/golden/claude-control/`).
//!
//! Each scenario runs the real CLI against the fake Anthropic server, the
//! way Baton's claude driver starts it, answers its questions with the
//! lines `claude_control::answer` writes, and records both directions. A
//! change in what the CLI prints or accepts fails the test against the
//! recording; `BATON_BLESS=1` records anew after a deliberate upgrade.
//! A second test reads the recordings offline: every request parses into
//! the question Baton shows, and every answer recorded is exactly what the
//! driver's encoder writes for it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use baton_bot::drivers::claude_control;
use baton_bot::drivers::process::InputLine;
use baton_bot::drivers::{
    AgentCli, AgentEvent, AgentOutcome, AgentRequest, AgentStream, Ask, ClaudeDriver, ClaudeParser,
    Decision, Question,
};
use serde_json::{Value, json};
use support::agent_cli::{Sandbox, claude_config, turn};
use support::fake_anthropic::{FakeAnthropic, Reply};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the host does when the CLI asks, in order of its questions.
#[derive(Debug, Clone)]
enum Move {
    Answer(Decision),
    /// The first answer and then a second, contrary one for the same request.
    AnswerTwice(Decision, Decision),
    /// SIGINT to the CLI, as a stop does (`drivers::process`).
    Interrupt,
}

struct Scenario {
    name: &'static str,
    mode: Option<&'static str>,
    script: Vec<Reply>,
    /// Written right after the prompt, before anything is asked.
    opening: Vec<InputLine>,
    moves: Vec<Move>,
}

fn touch(file: &str) -> Reply {
    Reply::bash(&format!("touch {file}"))
}

fn deny(reason: &str) -> Decision {
    Decision::Deny {
        reason: reason.into(),
    }
}

fn scenarios() -> Vec<Scenario> {
    let plain = |name, script, moves| Scenario {
        name,
        mode: None,
        script,
        opening: Vec::new(),
        moves,
    };
    vec![
        plain(
            "allow",
            vec![touch("allowed.txt"), Reply::text(&["Created it."])],
            vec![Move::Answer(Decision::Allow)],
        ),
        plain(
            "deny",
            vec![touch("denied.txt"), Reply::text(&["Not creating it."])],
            vec![Move::Answer(deny("The user said no: REASON-77"))],
        ),
        plain(
            "allow-for-session",
            vec![
                touch("twice.txt"),
                touch("twice.txt"),
                Reply::text(&["Touched it twice."]),
            ],
            vec![Move::Answer(Decision::AllowForSession)],
        ),
        plain(
            "double-answer",
            vec![touch("once.txt"), Reply::text(&["Done once."])],
            vec![Move::AnswerTwice(Decision::Allow, deny("too late"))],
        ),
        plain(
            "ask-user-question",
            vec![Reply::colour_question(), Reply::text(&["Blue it is."])],
            vec![Move::Answer(Decision::Choose {
                answer: "Blue".into(),
            })],
        ),
        Scenario {
            name: "plan-approve",
            mode: Some("plan"),
            script: vec![
                Reply::ToolUse {
                    name: "ExitPlanMode".into(),
                    input: json!({"plan": "1. Create plan.txt\n2. Report back"}),
                },
                Reply::text(&["Plan approved, starting."]),
            ],
            opening: Vec::new(),
            moves: vec![Move::Answer(Decision::Allow)],
        },
        Scenario {
            name: "set-mode-accept-edits",
            mode: None,
            script: vec![touch("unasked.txt"), Reply::text(&["Created unasked."])],
            opening: vec![claude_control::set_mode("acceptEdits")],
            moves: Vec::new(),
        },
        plain(
            "interrupt-while-asked",
            vec![
                touch("never.txt"),
                Reply::text(&["Resumed after the stop."]),
            ],
            vec![Move::Interrupt],
        ),
    ]
}

/// One direction of one line: `>>` to the CLI, `<<` from it.
fn entry(dir: &str, msg: Value) -> Value {
    json!({"dir": dir, "msg": msg})
}

struct Recording {
    lines: Vec<Value>,
    sandbox: Sandbox,
    fake: FakeAnthropic,
    driver: ClaudeDriver,
    session: Option<String>,
}

fn request_for(sandbox: &Sandbox, mode: Option<&str>) -> AgentRequest {
    AgentRequest {
        asks: true,
        mode: mode.map(str::to_owned),
        ..sandbox.request("do the thing")
    }
}

/// Runs `scenario` against the real CLI, started as the driver starts it,
/// and records every line both ways.
async fn record(scenario: &Scenario) -> Recording {
    let fake = FakeAnthropic::start(scenario.script.clone()).await;
    let sandbox = Sandbox::new();
    let mut config = claude_config(&fake, &sandbox);
    // Nothing pre-allowed: Bash asks.
    config.allowed_tools = Vec::new();
    let driver = ClaudeDriver::new(config);
    let launch = driver
        .launch(&request_for(&sandbox, scenario.mode))
        .expect("launch");
    let mut child = tokio::process::Command::new(&launch.program)
        .args(&launch.args)
        .current_dir(&launch.workdir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("claude starts");
    let mut stdin = child.stdin.take();
    let mut lines = Vec::new();
    let mut to_cli = launch.stdin.clone();
    for line in &scenario.opening {
        to_cli.extend_from_slice(&line.bytes);
    }
    for line in to_cli.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        lines.push(entry(">>", serde_json::from_slice(line).expect("json in")));
    }
    write(&mut stdin, &to_cli).await;

    let mut parser = ClaudeParser::default();
    let mut moves = scenario.moves.iter();
    let mut session = None;
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let reading = async {
        while let Some(line) = out.next_line().await.expect("stdout readable") {
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                panic!("{}: unreadable line {line:?}", scenario.name);
            };
            lines.push(entry("<<", msg));
            for event in parser.feed(&line) {
                match event {
                    AgentEvent::Session { id } => session = Some(id),
                    AgentEvent::Asked(question) => {
                        let answers = match moves.next() {
                            Some(Move::Answer(decision)) => vec![decision],
                            Some(Move::AnswerTwice(first, second)) => vec![first, second],
                            Some(Move::Interrupt) => {
                                stop(child.id().expect("running") as i32);
                                vec![]
                            }
                            None => panic!("{}: an unexpected question", scenario.name),
                        };
                        for decision in answers {
                            let answer = claude_control::answer(&question, decision);
                            lines.push(entry(
                                ">>",
                                serde_json::from_slice(&answer.bytes).expect("json"),
                            ));
                            write(&mut stdin, &answer.bytes).await;
                        }
                    }
                    _ => {}
                }
            }
            if parser.has_result() {
                // The CLI waits for its input to end once it has answered.
                stdin = None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(90), reading)
        .await
        .unwrap_or_else(|_| panic!("{}: the CLI did not finish", scenario.name));
    drop(stdin);
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the CLI exits")
        .expect("wait");
    assert!(
        moves.next().is_none(),
        "{}: a move was never needed",
        scenario.name
    );
    Recording {
        lines,
        sandbox,
        fake,
        driver,
        session,
    }
}

/// What a stop does to the CLI (`drivers::process`): SIGINT, then SIGTERM
/// and SIGKILL a grace period apart while it lingers.
fn stop(pid: i32) {
    tokio::spawn(async move {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
            // SAFETY: kill only sends a signal; the child is ours, and once
            // it is reaped the call fails harmlessly with ESRCH.
            if unsafe { libc::kill(pid, signal) } != 0 {
                return;
            }
            tokio::time::sleep(baton_bot::drivers::stream::STOP_GRACE).await;
        }
    });
}

async fn write(stdin: &mut Option<tokio::process::ChildStdin>, bytes: &[u8]) {
    if let Some(pipe) = stdin {
        pipe.write_all(bytes).await.expect("stdin writable");
        pipe.flush().await.expect("flush");
    }
}

/// The recording with this machine's paths, ids and timings replaced, so a
/// transcript reads the same on every run.
fn normalise(lines: &[Value], sandbox: &Sandbox) -> Vec<Value> {
    let work = sandbox.workdir.display().to_string();
    let home = sandbox.home.display().to_string();
    // The CLI names its project folder after the path, `/` and `.` as `-`.
    let work_slug = work.replace(['/', '.'], "-");
    lines
        .iter()
        .map(|line| {
            let text = line
                .to_string()
                .replace(&work, "<work>")
                .replace(&home, "<home>")
                .replace(&work_slug, "<work-slug>");
            let mut value: Value = serde_json::from_str(&text).expect("still json");
            scrub(&mut value);
            value
        })
        .collect()
}

/// Ids that change every run become `<id>`, timings and costs `0`.
fn scrub(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match (key.as_str(), &*field) {
                    (
                        "duration_ms" | "duration_api_ms" | "total_cost_usd" | "costUSD"
                        | "timestamp",
                        _,
                    )
                    | ("pid", _) => *field = json!(0),
                    (_, Value::String(text)) if is_volatile(text) => *field = json!("<id>"),
                    _ => scrub(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// A UUID, or a tool-use or message id the CLI or the fake made up.
fn is_volatile(text: &str) -> bool {
    let uuid = text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    uuid || text.starts_with("toolu_")
}

/// What a transcript must keep saying for Baton to work: who wrote what
/// kind of line, the questions, the decisions, the tool results and how the
/// run ended. Streaming deltas, the init message's catalogue and ids vary
/// with the CLI's build and are left out.
fn skeleton(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| {
            let dir = line["dir"].as_str().unwrap_or_default();
            let msg = &line["msg"];
            let kind = msg["type"].as_str().unwrap_or_default();
            let said = match kind {
                "stream_event" => return None,
                "system" => format!("system {}", msg["subtype"].as_str().unwrap_or_default()),
                "control_request" => format!(
                    "control_request {} {}",
                    msg["request"]["subtype"].as_str().unwrap_or_default(),
                    msg["request"]["tool_name"].as_str().unwrap_or_default()
                ),
                "control_response" => {
                    let response = &msg["response"];
                    format!(
                        "control_response {} {} {}",
                        response["subtype"].as_str().unwrap_or_default(),
                        response["response"]["behavior"]
                            .as_str()
                            .unwrap_or_default(),
                        destinations(&response["response"]["updatedPermissions"])
                    )
                }
                "control_cancel_request" => "control_cancel_request".into(),
                "assistant" => format!("assistant {}", blocks(&msg["message"]["content"])),
                "user" => format!("user {}", blocks(&msg["message"]["content"])),
                "result" => format!(
                    "result {} is_error={}",
                    msg["subtype"].as_str().unwrap_or_default(),
                    msg["is_error"]
                ),
                other => other.to_owned(),
            };
            Some(format!("{dir} {}", said.trim_end()))
        })
        .collect()
}

fn destinations(permissions: &Value) -> String {
    permissions
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}->{}",
                p["type"].as_str().unwrap_or_default(),
                p["destination"]
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn blocks(content: &Value) -> String {
    match content {
        Value::String(text) => format!("text {text:?}"),
        Value::Array(blocks) => blocks
            .iter()
            .map(|block| match block["type"].as_str().unwrap_or_default() {
                "text" => format!("text {:?}", block["text"].as_str().unwrap_or_default()),
                "tool_use" => format!("tool_use {}", block["name"].as_str().unwrap_or_default()),
                "tool_result" => format!(
                    "tool_result is_error={} {:?}",
                    block["is_error"],
                    first_line(&block["content"])
                ),
                other => other.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" + "),
        _ => String::new(),
    }
}

/// A tool result's first line: the rest holds paths and plan files that vary.
fn first_line(content: &Value) -> String {
    let text = match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    text.lines().next().unwrap_or_default().to_owned()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/claude-control")
}

fn golden_path(name: &str) -> PathBuf {
    golden_dir().join(format!("{name}.jsonl"))
}

fn read_golden(name: &str) -> Vec<Value> {
    let path = golden_path(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| {
            panic!(
                "{}: {err}; record it with BATON_BLESS=1 cargo test -p baton-bot --test claude_control_golden",
                path.display()
            )
        })
        .lines()
        .map(|line| serde_json::from_str(line).expect("golden line is json"))
        .collect()
}

fn write_golden(name: &str, lines: &[Value]) {
    std::fs::create_dir_all(golden_dir()).expect("golden dir");
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(golden_path(name), text).expect("golden written");
}

/// What each scenario must have done besides its transcript: the side
/// effects Baton's promises rest on.
async fn check_effects(name: &str, recording: &Recording) {
    let work = &recording.sandbox.workdir;
    let results: Vec<String> = recording
        .fake
        .tool_results()
        .iter()
        .map(|r| r["content"].to_string())
        .collect();
    match name {
        "allow" => assert!(work.join("allowed.txt").exists(), "allowed.txt"),
        "deny" => {
            assert!(!work.join("denied.txt").exists());
            assert!(
                results.iter().any(|r| r.contains("REASON-77")),
                "{results:?}"
            );
        }
        "allow-for-session" => {
            assert!(work.join("twice.txt").exists());
            assert_eq!(results.len(), 2, "{results:?}");
            assert!(
                !work.join(".claude").exists(),
                "a session rule wrote the user's settings"
            );
        }
        "double-answer" => assert!(work.join("once.txt").exists(), "the first answer wins"),
        "ask-user-question" => {
            assert!(results.iter().any(|r| r.contains("Blue")), "{results:?}")
        }
        "set-mode-accept-edits" => assert!(work.join("unasked.txt").exists()),
        "interrupt-while-asked" => {
            assert!(!work.join("never.txt").exists());
            // A stopped session must take the next message: the resumed turn
            // gets the fake's next answer.
            let session = recording.session.clone().expect("a session id");
            let resumed = AgentRequest {
                resume: Some(session),
                ..request_for(&recording.sandbox, None)
            };
            let (_, outcome) = turn(&recording.driver, resumed).await;
            assert_eq!(
                outcome,
                AgentOutcome::Completed {
                    final_text: Some("Resumed after the stop.".into())
                }
            );
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_cli_still_speaks_the_recorded_control_protocol() {
    let bless = std::env::var_os("BATON_BLESS").is_some();
    let mut differences = Vec::new();
    for scenario in scenarios() {
        let recording = record(&scenario).await;
        let lines = normalise(&recording.lines, &recording.sandbox);
        check_effects(scenario.name, &recording).await;
        if bless {
            write_golden(scenario.name, &lines);
            continue;
        }
        let (seen, kept) = (skeleton(&lines), skeleton(&read_golden(scenario.name)));
        if seen != kept {
            differences.push(format!(
                "{}:\n  recorded: {kept:#?}\n  now:      {seen:#?}",
                scenario.name
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the CLI no longer does what tests/golden/claude-control records (BATON_BLESS=1 records anew once Baton is checked against it):\n{}",
        differences.join("\n")
    );
}

/// The questions in a transcript, read by the driver's parser, and the
/// answers Baton wrote after each.
fn questions_and_answers(lines: &[Value]) -> Vec<(Question, Vec<Value>)> {
    let mut parser = ClaudeParser::default();
    let mut asked: Vec<(Question, Vec<Value>)> = Vec::new();
    for line in lines {
        match line["dir"].as_str() {
            Some("<<") => {
                for event in parser.feed(&line["msg"].to_string()) {
                    if let AgentEvent::Asked(question) = event {
                        asked.push((question, Vec::new()));
                    }
                }
            }
            Some(">>") if line["msg"]["type"] == "control_response" => {
                let (_, answers) = asked.last_mut().expect("an answer follows a question");
                answers.push(line["msg"].clone());
            }
            _ => {}
        }
    }
    asked
}

fn encoded(question: &Question, decision: &Decision) -> Value {
    serde_json::from_slice(&claude_control::answer(question, decision).bytes).expect("json")
}

#[test]
fn recorded_requests_read_as_baton_shows_them_and_its_answers_are_the_encoders() {
    let colour = "Which colour should the button be?";
    let bash = |file: &str| Ask::Permission {
        tool: "Bash".into(),
        detail: format!("touch {file}"),
    };
    let cases: Vec<(&str, Ask, Vec<Decision>)> = vec![
        ("allow", bash("allowed.txt"), vec![Decision::Allow]),
        (
            "deny",
            bash("denied.txt"),
            vec![deny("The user said no: REASON-77")],
        ),
        (
            "allow-for-session",
            bash("twice.txt"),
            vec![Decision::AllowForSession],
        ),
        (
            "double-answer",
            bash("once.txt"),
            vec![Decision::Allow, deny("too late")],
        ),
        (
            "ask-user-question",
            Ask::Choice {
                question: colour.into(),
                options: vec!["Red".into(), "Blue".into()],
            },
            vec![Decision::Choose {
                answer: "Blue".into(),
            }],
        ),
        (
            "plan-approve",
            Ask::Plan {
                plan: "1. Create plan.txt\n2. Report back".into(),
            },
            vec![Decision::Allow],
        ),
        ("interrupt-while-asked", bash("never.txt"), vec![]),
    ];
    for (name, ask, decisions) in cases {
        let asked = questions_and_answers(&read_golden(name));
        let [(question, answers)] = asked.as_slice() else {
            panic!("{name}: one question expected, got {asked:?}");
        };
        assert_eq!(question.ask, ask, "{name}");
        let wanted: Vec<Value> = decisions.iter().map(|d| encoded(question, d)).collect();
        assert_eq!(answers, &wanted, "{name}");
        if name == "allow-for-session" {
            let rules = &answers[0]["response"]["response"]["updatedPermissions"];
            assert!(
                rules.as_array().is_some_and(
                    |r| !r.is_empty() && r.iter().all(|rule| rule["destination"] == "session")
                ),
                "{rules}"
            );
        }
    }
    assert!(
        questions_and_answers(&read_golden("set-mode-accept-edits")).is_empty(),
        "acceptEdits asks nothing for a write in the working directory"
    );
}
