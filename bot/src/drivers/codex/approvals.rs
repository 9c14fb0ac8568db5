//! codex's approval requests (`item/commandExecution/requestApproval`,
//! `item/fileChange/requestApproval`) read into a [`Question`], and a
//! [`Decision`] written back as the JSON-RPC response the server waits for.
//! What the pinned CLI sends and accepts is recorded in
//! `bot/tests/golden/codex-app-server/`.

use serde_json::{Value, json};

use super::rpc;
use super::wire::{CommandApproval, FileChange, FileChangeApproval};
use crate::drivers::ask::{Ask, Decision, Question};
use crate::drivers::process::InputLine;

/// Characters of a permission prompt's diff.
const PREVIEW_CHARS: usize = 1_500;

/// The two server requests that are approvals.
pub const COMMAND: &str = "item/commandExecution/requestApproval";
pub const FILE_CHANGE: &str = "item/fileChange/requestApproval";

/// The question for approval request `id` (`method`, `params`); `changes` are the file
/// change item's, announced when it started. `None` for a request that is no approval.
pub(super) fn question(
    id: &Value,
    method: &str,
    params: Value,
    changes: &[FileChange],
) -> Option<Question> {
    let ask = match method {
        COMMAND => {
            let request: CommandApproval = serde_json::from_value(params.clone()).ok()?;
            Ask::Permission {
                tool: "Shell".into(),
                detail: with_reason(command_detail(&request), request.reason.as_deref()),
            }
        }
        FILE_CHANGE => {
            let request: FileChangeApproval = serde_json::from_value(params.clone()).ok()?;
            Ask::Permission {
                tool: "Edit".into(),
                detail: with_reason(change_detail(changes), request.reason.as_deref()),
            }
        }
        _ => return None,
    };
    Some(Question {
        // The id's own JSON, so the answer echoes a number as a number.
        request_id: id.to_string(),
        ask,
        input: params,
        session_rules: Vec::new(),
    })
}

/// The commands as the model wrote them (codex wraps each in `bash -lc`).
fn command_detail(request: &CommandApproval) -> String {
    let actions: Vec<&str> = request
        .command_actions
        .iter()
        .map(|action| action.command.as_str())
        .filter(|command| !command.is_empty())
        .collect();
    if actions.is_empty() {
        request.command.clone().unwrap_or_default()
    } else {
        actions.join("\n")
    }
}

/// Each changed file and its diff, shortened.
fn change_detail(changes: &[FileChange]) -> String {
    let text: String = changes
        .iter()
        .map(|change| format!("{} {}\n{}", change.kind_name(), change.path, change.diff))
        .collect::<Vec<_>>()
        .join("\n");
    let text = text.trim_end();
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn with_reason(detail: String, reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => format!("{detail}\n({reason})"),
        None => detail,
    }
}

/// The response line for `decision`. A denial's reason has no field in the response: it
/// follows as a `turn/steer` of the same turn, so the model reads it right after the refusal.
pub fn answer(question: &Question, decision: &Decision) -> InputLine {
    let id: Value =
        serde_json::from_str(&question.request_id).unwrap_or(json!(question.request_id));
    let verdict = match decision {
        Decision::Allow => "accept",
        Decision::AllowForSession => "acceptForSession",
        // codex's approvals ask nothing to choose from; an answer is no permission.
        Decision::Deny { .. } | Decision::Choose { .. } => "decline",
    };
    let mut bytes = rpc::line(&json!({"id": id, "result": {"decision": verdict}}));
    if let Decision::Deny { reason } = decision
        && !reason.trim().is_empty()
        && let (Some(thread), Some(turn)) = (
            question.input["threadId"].as_str(),
            question.input["turnId"].as_str(),
        )
    {
        let text = format!("The user denied that: {reason}");
        bytes.extend(rpc::steer(&question.request_id, thread, turn, &text));
    }
    InputLine {
        bytes,
        answers: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{AgentEvent, AgentStream};

    use super::super::CodexParser;

    /// The request the pinned CLI sent for `touch made.txt` under `untrusted`.
    const TOUCH: &str = r#"{"method":"item/commandExecution/requestApproval","id":0,"params":{"kind":"command","threadId":"t1","turnId":"u1","itemId":"call_0","startedAtMs":1796205510245,"environmentId":"local","command":"/bin/bash -lc 'touch made.txt'","cwd":"/w","commandActions":[{"type":"unknown","command":"touch made.txt"}],"proposedExecpolicyAmendment":["touch","made.txt"],"availableDecisions":["accept",{"acceptWithExecpolicyAmendment":{"execpolicy_amendment":["touch","made.txt"]}},"cancel"]}}"#;

    fn asking() -> CodexParser {
        CodexParser::new(super::super::rpc::Setup {
            asks: true,
            ..Default::default()
        })
    }

    fn asked(parser: &mut CodexParser, line: &str) -> Question {
        match parser.feed(line).as_slice() {
            [AgentEvent::Asked(question)] => question.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn lines(line: &InputLine) -> Vec<Value> {
        assert!(line.answers && line.bytes.ends_with(b"\n"));
        String::from_utf8(line.bytes.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_command_approval_reads_as_the_command_the_model_wrote() {
        let question = asked(&mut asking(), TOUCH);
        assert_eq!(question.request_id, "0");
        assert_eq!(
            question.ask,
            Ask::Permission {
                tool: "Shell".into(),
                detail: "touch made.txt".into()
            }
        );
        assert_eq!(question.input["turnId"], "u1");
    }

    #[test]
    fn decisions_are_the_responses_the_server_accepts() {
        let question = asked(&mut asking(), TOUCH);
        let response = |decision| lines(&answer(&question, &decision));
        assert_eq!(
            response(Decision::Allow),
            [json!({"id": 0, "result": {"decision": "accept"}})]
        );
        assert_eq!(
            response(Decision::AllowForSession),
            [json!({"id": 0, "result": {"decision": "acceptForSession"}})]
        );
        assert_eq!(
            response(Decision::Deny {
                reason: String::new()
            }),
            [json!({"id": 0, "result": {"decision": "decline"}})]
        );
    }

    #[test]
    fn a_denial_with_a_reason_steers_the_turn_with_it() {
        let question = asked(&mut asking(), TOUCH);
        let sent = lines(&answer(
            &question,
            &Decision::Deny {
                reason: "wrong folder".into(),
            },
        ));
        assert_eq!(sent[0], json!({"id": 0, "result": {"decision": "decline"}}));
        assert_eq!(sent[1]["method"], "turn/steer");
        assert_eq!(sent[1]["params"]["threadId"], "t1");
        assert_eq!(sent[1]["params"]["expectedTurnId"], "u1");
        assert_eq!(
            sent[1]["params"]["input"][0]["text"],
            "The user denied that: wrong folder"
        );
        assert_ne!(sent[1]["id"], sent[0]["id"]);
    }

    #[test]
    fn a_string_id_is_echoed_as_a_string() {
        let line = TOUCH.replace(r#""id":0"#, r#""id":"req-7""#);
        let question = asked(&mut asking(), &line);
        assert_eq!(
            lines(&answer(&question, &Decision::Allow))[0]["id"],
            "req-7"
        );
    }

    #[test]
    fn a_file_change_approval_shows_the_diff_announced_with_its_item() {
        let mut parser = asking();
        let started = r#"{"method":"item/started","params":{"item":{"type":"fileChange","id":"call_9","changes":[{"path":"/w/a.txt","kind":{"type":"add"},"diff":"+hello\n"}],"status":"inProgress"},"threadId":"t1","turnId":"u1"}}"#;
        assert!(matches!(
            parser.feed(started).as_slice(),
            [AgentEvent::ToolStarted { name, .. }] if name == "Edit"
        ));
        let request = r#"{"method":"item/fileChange/requestApproval","id":3,"params":{"threadId":"t1","turnId":"u1","itemId":"call_9","startedAtMs":1,"reason":"needs write access"}}"#;
        assert_eq!(
            asked(&mut parser, request).ask,
            Ask::Permission {
                tool: "Edit".into(),
                detail: "add /w/a.txt\n+hello\n(needs write access)".into()
            }
        );
    }
}
