//! claude's side of the stdio control protocol (the Agent SDK's): a
//! `can_use_tool` request read into a [`Question`], a [`Decision`] written
//! back as the `control_response` line the CLI waits for. What the pinned
//! CLI accepts is recorded in `shared/fixtures/agent-cli/claude-control-protocol.md`
//! and in this crate's golden transcripts.

use serde_json::{Value, json};

use super::ask::{Ask, Decision, Question};
use super::claude::{tool_detail, wire::ControlRequest};
use super::process::InputLine;

/// Lines of a file's new content or of a diff shown in a permission prompt.
const PREVIEW_LINES: usize = 12;
const PREVIEW_CHARS: usize = 1_500;

pub(super) fn question(request_id: String, request: ControlRequest) -> Question {
    let ControlRequest {
        tool_name,
        input,
        permission_suggestions,
        ..
    } = request;
    let ask = match tool_name.as_str() {
        "AskUserQuestion" => {
            let first = &input["questions"][0];
            Ask::Choice {
                question: first["question"].as_str().unwrap_or_default().to_owned(),
                options: first["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|option| option["label"].as_str().map(str::to_owned))
                    .collect(),
            }
        }
        "ExitPlanMode" => Ask::Plan {
            plan: input["plan"].as_str().unwrap_or_default().to_owned(),
        },
        _ => Ask::Permission {
            detail: permission_detail(&tool_name, &input),
            tool: tool_name,
        },
    };
    Question {
        request_id,
        ask,
        input,
        session_rules: session_rules(permission_suggestions),
    }
}

/// What the call will do, as the user should see it before allowing it.
fn permission_detail(tool: &str, input: &Value) -> String {
    let text = |key: &str| input[key].as_str().unwrap_or_default();
    match tool {
        "Bash" => text("command").to_owned(),
        "Edit" | "MultiEdit" => {
            let mut diff = format!("{}\n", text("file_path"));
            let edits: Vec<&Value> = match input["edits"].as_array() {
                Some(edits) => edits.iter().collect(),
                None => vec![input],
            };
            for edit in edits {
                let lines = |key: &str, sign: char| {
                    edit[key]
                        .as_str()
                        .unwrap_or_default()
                        .lines()
                        .take(PREVIEW_LINES)
                        .map(|line| format!("{sign} {line}\n"))
                        .collect::<String>()
                };
                diff.push_str(&lines("old_string", '-'));
                diff.push_str(&lines("new_string", '+'));
            }
            shorten(diff.trim_end())
        }
        "Write" => {
            let content: String = text("content")
                .lines()
                .take(PREVIEW_LINES)
                .map(|line| format!("+ {line}\n"))
                .collect();
            shorten(format!("{}\n{content}", text("file_path")).trim_end())
        }
        "WebFetch" => text("url").to_owned(),
        _ => tool_detail(tool, input),
    }
}

/// At most [`PREVIEW_CHARS`] of a multi-line preview.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The CLI's suggested rules, kept to the session. As suggested their
/// destination is usually `localSettings`, which writes the user's
/// repository (`.claude/settings.local.json`) and outlives the session;
/// directory and mode suggestions allow far more than this one kind of call.
fn session_rules(suggestions: Vec<Value>) -> Vec<Value> {
    suggestions
        .into_iter()
        .filter(|suggestion| suggestion["type"] == "addRules")
        .map(|mut suggestion| {
            suggestion["destination"] = json!("session");
            suggestion
        })
        .collect()
}

/// The control request that changes the running CLI's permission mode
/// (refused by the CLI for `bypassPermissions` unless it started in it).
pub fn set_mode(mode: &str) -> InputLine {
    let line = json!({
        "type": "control_request",
        "request_id": format!("mode-{mode}"),
        "request": {"subtype": "set_permission_mode", "mode": mode},
    });
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    InputLine {
        bytes,
        answers: false,
    }
}

/// The `control_response` line for `decision`.
pub fn answer(question: &Question, decision: &Decision) -> InputLine {
    let response = match decision {
        Decision::Allow => json!({"behavior": "allow", "updatedInput": question.input}),
        Decision::AllowForSession => json!({
            "behavior": "allow",
            "updatedInput": question.input,
            "updatedPermissions": question.session_rules,
        }),
        Decision::Deny { reason } => json!({"behavior": "deny", "message": reason}),
        Decision::Choose { answer } => {
            let mut input = question.input.clone();
            if let (Ask::Choice { question, .. }, Some(fields)) =
                (&question.ask, input.as_object_mut())
            {
                fields.insert("answers".into(), json!({ question: answer }));
            }
            json!({"behavior": "allow", "updatedInput": input})
        }
    };
    let line = json!({
        "type": "control_response",
        "response": {
            "subtype": "success",
            "request_id": question.request_id,
            "response": response,
        },
    });
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    InputLine {
        bytes,
        answers: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{AgentEvent, AgentStream, ClaudeParser};

    /// The request the pinned CLI sent for `touch`, from the fixture.
    const TOUCH: &str = r#"{"type":"control_request","request_id":"f2704108-33ad-4474-94fa-ad234c7a6c14","request":{"subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash","input":{"command":"touch /w/approved-a.txt","description":"Create approved-a.txt"},"description":"Create approved-a.txt","permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"touch /w/approved-a.txt"}],"behavior":"allow","destination":"localSettings"},{"type":"addDirectories","directories":["/w"],"destination":"session"},{"type":"setMode","mode":"acceptEdits","destination":"session"}],"blocked_path":"/w/approved-a.txt","tool_use_id":"toolu_01gUra4aaUwmzSqYyJ3QJsc8"}}"#;

    fn asked(line: &str) -> Question {
        match ClaudeParser::default().feed(line).as_slice() {
            [AgentEvent::Asked(question)] => question.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn response(question: &Question, decision: &Decision) -> Value {
        let line = answer(question, decision);
        assert!(line.answers && line.bytes.ends_with(b"\n"));
        serde_json::from_slice(&line.bytes).unwrap()
    }

    #[test]
    fn a_bash_prompt_reads_as_the_command_and_keeps_only_rule_suggestions_for_the_session() {
        let question = asked(TOUCH);
        assert_eq!(question.request_id, "f2704108-33ad-4474-94fa-ad234c7a6c14");
        assert_eq!(
            question.ask,
            Ask::Permission {
                tool: "Bash".into(),
                detail: "touch /w/approved-a.txt".into()
            }
        );
        assert_eq!(
            question.session_rules,
            [
                json!({"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"touch /w/approved-a.txt"}],"behavior":"allow","destination":"session"})
            ]
        );
    }

    #[test]
    fn answers_are_the_control_responses_the_cli_accepts() {
        let question = asked(TOUCH);
        let allow = response(&question, &Decision::Allow);
        assert_eq!(allow["type"], "control_response");
        assert_eq!(
            allow["response"]["request_id"],
            question.request_id.as_str()
        );
        assert_eq!(allow["response"]["response"]["behavior"], "allow");
        assert_eq!(
            allow["response"]["response"]["updatedInput"],
            question.input
        );
        let session = response(&question, &Decision::AllowForSession);
        assert_eq!(
            session["response"]["response"]["updatedPermissions"][0]["destination"],
            "session"
        );
        let deny = response(
            &question,
            &Decision::Deny {
                reason: "not now".into(),
            },
        );
        assert_eq!(
            deny["response"]["response"],
            json!({"behavior": "deny", "message": "not now"})
        );
    }

    #[test]
    fn the_agents_own_question_is_answered_by_its_text() {
        let line = r#"{"type":"control_request","request_id":"r2","request":{"subtype":"can_use_tool","tool_name":"AskUserQuestion","input":{"questions":[{"question":"Which colour?","header":"Colour","options":[{"label":"Red","description":"A red button"},{"label":"Blue","description":"A blue button"}],"multiSelect":false}]},"tool_use_id":"t"}}"#;
        let question = asked(line);
        assert_eq!(
            question.ask,
            Ask::Choice {
                question: "Which colour?".into(),
                options: vec!["Red".into(), "Blue".into()]
            }
        );
        let chosen = response(
            &question,
            &Decision::Choose {
                answer: "Blue".into(),
            },
        );
        let input = &chosen["response"]["response"]["updatedInput"];
        assert_eq!(input["answers"], json!({"Which colour?": "Blue"}));
        assert_eq!(input["questions"], question.input["questions"]);
    }

    #[test]
    fn a_plan_and_an_edit_show_what_they_will_do() {
        let plan = r#"{"type":"control_request","request_id":"r3","request":{"subtype":"can_use_tool","tool_name":"ExitPlanMode","input":{"plan":"1. Create a.txt"}}}"#;
        assert_eq!(
            asked(plan).ask,
            Ask::Plan {
                plan: "1. Create a.txt".into()
            }
        );
        let edit = r#"{"type":"control_request","request_id":"r4","request":{"subtype":"can_use_tool","tool_name":"Edit","input":{"file_path":"/w/a.rs","old_string":"let a = 1;","new_string":"let a = 2;"}}}"#;
        let Ask::Permission { detail, .. } = asked(edit).ask else {
            panic!()
        };
        assert_eq!(detail, "/w/a.rs\n- let a = 1;\n+ let a = 2;");
    }

    #[test]
    fn a_withdrawn_request_and_an_unknown_one_are_events_not_silence() {
        let mut parser = ClaudeParser::default();
        assert_eq!(
            parser.feed(r#"{"type":"control_cancel_request","request_id":"f27"}"#),
            [AgentEvent::Withdrawn {
                request_id: "f27".into()
            }]
        );
        let unknown = parser.feed(
            r#"{"type":"control_request","request_id":"h1","request":{"subtype":"hook_callback"}}"#,
        );
        assert!(matches!(unknown.as_slice(), [AgentEvent::Notice { .. }]));
    }
}
