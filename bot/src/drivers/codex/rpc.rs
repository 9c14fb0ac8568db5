//! The client side of one `codex app-server` turn: the handshake, the thread
//! (new or resumed), the turn, and the server's notifications and requests
//! turned into events. Sans-I/O: lines in, events and lines to write out.
//!
//! Order on the wire: `initialize` (written at launch), then on its response
//! `initialized` and `thread/start` or `thread/resume`, then on the thread's
//! `turn/start`; the turn ends with `turn/completed`, after which stdin closes
//! and the server exits.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::approvals;
use super::wire::*;
use crate::drivers::detail::{DETAIL_CHARS, clip};
use crate::drivers::process::ExitReport;
use crate::drivers::stream::{AgentStream, SessionId, Verdict};
use crate::drivers::{AgentEvent, Decision};

const INITIALIZE: u64 = 0;
const THREAD: u64 = 1;
const TURN: u64 = 2;
const INTERRUPT: u64 = 3;

/// What the turn is: the request as the server needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    pub prompt: String,
    pub images: Vec<PathBuf>,
    /// The thread to continue; a new one otherwise.
    pub resume: Option<String>,
    pub cwd: PathBuf,
    /// `approvalPolicy` of the thread: `untrusted`, `on-request` or `never`.
    pub approval_policy: String,
    /// `sandbox` of the thread: `read-only`, `workspace-write` or `danger-full-access`.
    pub sandbox: String,
    /// Someone answers the approvals; otherwise each is declined at once.
    pub asks: bool,
    /// The turn's model and reasoning effort; a resumed thread keeps its own otherwise.
    pub model: Option<String>,
    pub effort: Option<String>,
}

/// One JSON value as a line for the server's stdin.
pub fn line(value: &Value) -> Vec<u8> {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    bytes
}

fn request(id: u64, method: &str, params: Value) -> Vec<u8> {
    line(&json!({"id": id, "method": method, "params": params}))
}

/// The first line: who the client is.
pub fn initialize() -> Vec<u8> {
    request(
        INITIALIZE,
        "initialize",
        json!({"clientInfo": {"name": "baton", "title": "Baton", "version": env!("CARGO_PKG_VERSION")}}),
    )
}

/// Adds `text` to the running turn `turn` (ids of its own, after the answer `after`).
pub fn steer(after: &str, thread: &str, turn: &str, text: &str) -> Vec<u8> {
    line(&json!({
        "id": format!("steer-{after}"),
        "method": "turn/steer",
        "params": {
            "threadId": thread,
            "expectedTurnId": turn,
            "input": [{"type": "text", "text": text, "text_elements": []}],
        },
    }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TurnEnd {
    Completed,
    Interrupted,
    Failed(String),
}

/// Reads one app-server turn; a pure function of the lines it is fed (and of its [`Setup`]).
#[derive(Debug, Default)]
pub struct CodexParser {
    setup: Setup,
    writes: Vec<Vec<u8>>,
    thread: Option<String>,
    session: SessionId,
    turn: Option<String>,
    started: HashSet<String>,
    /// File change items by id, for the approval that may follow.
    changes: HashMap<String, Vec<FileChange>>,
    /// The turn's model requests, summed.
    tokens: Option<Tokens>,
    last_message: Option<String>,
    last_error: Option<String>,
    end: Option<TurnEnd>,
}

impl CodexParser {
    pub fn new(setup: Setup) -> Self {
        Self {
            setup,
            ..Self::default()
        }
    }

    fn thread_request(&self) -> Vec<u8> {
        let s = &self.setup;
        let mut params = json!({
            "cwd": s.cwd,
            "approvalPolicy": s.approval_policy,
            "sandbox": s.sandbox,
        });
        match &s.resume {
            Some(id) => {
                params["threadId"] = json!(id);
                // The history stays with the server; the turn needs none of it.
                params["excludeTurns"] = json!(true);
                request(THREAD, "thread/resume", params)
            }
            None => request(THREAD, "thread/start", params),
        }
    }

    fn turn_request(&self, thread: &str) -> Vec<u8> {
        let mut input =
            vec![json!({"type": "text", "text": self.setup.prompt, "text_elements": []})];
        input.extend(
            self.setup
                .images
                .iter()
                .map(|path| json!({"type": "localImage", "path": path})),
        );
        let mut params = json!({"threadId": thread, "input": input});
        if let Some(model) = &self.setup.model {
            params["model"] = json!(model);
        }
        if let Some(effort) = &self.setup.effort {
            params["effort"] = json!(effort);
        }
        request(TURN, "turn/start", params)
    }

    fn fail(&mut self, message: String) {
        if self.end.is_none() {
            self.end = Some(TurnEnd::Failed(message));
        }
    }

    fn on_response(
        &mut self,
        id: &Value,
        result: Option<Value>,
        error: Option<ErrorBody>,
        out: &mut Vec<AgentEvent>,
    ) {
        let Some(id) = id.as_u64() else {
            // A steer's answer: the turn goes on either way.
            return;
        };
        if let Some(error) = error {
            let what = match id {
                INITIALIZE => "initialize",
                THREAD if self.setup.resume.is_some() => "resuming the thread",
                THREAD => "starting the thread",
                TURN => "starting the turn",
                _ => return,
            };
            self.fail(format!(
                "codex app-server refused {what}: {}",
                error.message
            ));
            return;
        }
        let result = result.unwrap_or(Value::Null);
        match id {
            INITIALIZE => {
                self.writes.push(line(&json!({"method": "initialized"})));
                self.writes.push(self.thread_request());
            }
            THREAD => {
                if let Ok(ThreadResult { thread }) = serde_json::from_value(result) {
                    self.writes.push(self.turn_request(&thread.id));
                    self.session.see(thread.id.clone(), out);
                    self.thread = Some(thread.id);
                }
            }
            TURN => {
                if let Ok(TurnResult { turn }) = serde_json::from_value(result) {
                    self.turn.get_or_insert(turn.id);
                }
            }
            _ => {}
        }
    }

    fn on_request(&mut self, id: Value, method: &str, params: Value, out: &mut Vec<AgentEvent>) {
        let changes = params["itemId"]
            .as_str()
            .and_then(|item| self.changes.get(item))
            .map(Vec::as_slice)
            .unwrap_or_default();
        match approvals::question(&id, method, params, changes) {
            Some(question) if self.setup.asks => out.push(AgentEvent::Asked(question)),
            Some(question) => {
                let denial = Decision::Deny {
                    reason: String::new(),
                };
                self.writes
                    .push(approvals::answer(&question, &denial).bytes);
            }
            None => {
                // Unanswered, the server would wait for ever.
                self.writes.push(line(&json!({"id": id, "error": {
                    "code": -32601,
                    "message": format!("baton does not answer {method}"),
                }})));
                out.push(AgentEvent::Notice {
                    message: format!("codex asked for {method}, which Baton does not answer"),
                });
            }
        }
    }

    fn ours(&self, turn: &str) -> bool {
        self.turn.as_deref().is_none_or(|ours| ours == turn)
    }

    fn on_notification(&mut self, method: &str, params: Value, out: &mut Vec<AgentEvent>) {
        match method {
            "turn/started" => {
                if let Some(TurnResult { turn }) = parse(params) {
                    self.turn.get_or_insert(turn.id);
                }
            }
            "item/agentMessage/delta" => {
                if let Some(Delta { delta }) = parse(params)
                    && !delta.is_empty()
                {
                    out.push(AgentEvent::TextDelta { text: delta });
                }
            }
            "item/started" => {
                if let Some(ItemNotice { item }) = parse(params) {
                    if let ItemKind::FileChange { changes, .. } = &item.kind {
                        self.changes.insert(item.id.clone(), changes.clone());
                    }
                    self.start_tool(&item, out);
                }
            }
            "item/completed" => {
                if let Some(ItemNotice { item }) = parse(params) {
                    self.complete(item, out);
                }
            }
            "thread/tokenUsage/updated" => {
                // A resumed thread repeats its last turn's usage before this turn starts.
                if let Some(update) = parse::<TokenUsageUpdated>(params)
                    && self.turn.as_deref() == Some(update.turn_id.as_str())
                {
                    let sum = self.tokens.get_or_insert_with(Tokens::default);
                    sum.input_tokens += update.token_usage.last.input_tokens;
                    sum.output_tokens += update.token_usage.last.output_tokens;
                }
            }
            "turn/completed" => {
                if let Some(TurnCompleted { turn }) = parse(params)
                    && self.ours(&turn.id)
                {
                    if let Some(tokens) = self.tokens.take() {
                        out.push(AgentEvent::Usage {
                            input_tokens: tokens.input_tokens,
                            output_tokens: tokens.output_tokens,
                            cost_micro_usd: None,
                        });
                    }
                    let end = match turn.status.as_str() {
                        "completed" => TurnEnd::Completed,
                        "interrupted" => TurnEnd::Interrupted,
                        _ => TurnEnd::Failed(
                            turn.error
                                .map(|e| e.message)
                                .filter(|m| !m.trim().is_empty())
                                .or_else(|| self.last_error.clone())
                                .unwrap_or_else(|| "codex reported a failed turn".into()),
                        ),
                    };
                    self.end.get_or_insert(end);
                }
            }
            "error" => {
                if let Some(ErrorNotice { error, will_retry }) = parse(params) {
                    if will_retry {
                        out.push(AgentEvent::Notice {
                            message: error.message.clone(),
                        });
                    }
                    self.last_error = Some(error.message);
                }
            }
            "warning" => {
                if let Some(Warning { message }) = parse(params) {
                    out.push(AgentEvent::Notice { message });
                }
            }
            _ => {}
        }
    }

    fn start_tool(&mut self, item: &Item, out: &mut Vec<AgentEvent>) {
        if self.started.contains(&item.id) {
            return;
        }
        if let Some((name, detail)) = tool_view(&item.kind) {
            self.started.insert(item.id.clone());
            out.push(AgentEvent::ToolStarted { name, detail });
        }
    }

    fn complete(&mut self, item: Item, out: &mut Vec<AgentEvent>) {
        match &item.kind {
            ItemKind::AgentMessage { text } => {
                if !text.trim().is_empty() {
                    self.last_message = Some(text.clone());
                    out.push(AgentEvent::TextSegment { text: text.clone() });
                }
            }
            ItemKind::Reasoning { summary } => {
                let text = summary.join("\n\n");
                if !text.trim().is_empty() {
                    out.push(AgentEvent::Thinking { text });
                }
            }
            kind => {
                if let Some((name, _)) = tool_view(kind) {
                    self.start_tool(&item, out);
                    let (ok, detail) = tool_result(kind);
                    out.push(AgentEvent::ToolFinished { name, ok, detail });
                }
            }
        }
    }
}

/// A notification's params as `T`; `None` when they do not read as one (a newer server's shape).
fn parse<T: DeserializeOwned>(params: Value) -> Option<T> {
    serde_json::from_value(params).ok()
}

/// The name and detail a tool-like item shows, or `None` for items that are not tools.
fn tool_view(kind: &ItemKind) -> Option<(String, String)> {
    let view = match kind {
        ItemKind::CommandExecution { command, .. } => {
            ("Shell".to_string(), clip(command, DETAIL_CHARS))
        }
        ItemKind::FileChange { changes, .. } => {
            let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
            ("Edit".to_string(), clip(&paths.join(", "), DETAIL_CHARS))
        }
        ItemKind::McpToolCall {
            server,
            tool,
            arguments,
            ..
        } => {
            let args = if arguments.is_null() {
                String::new()
            } else {
                arguments.to_string()
            };
            (format!("{server}.{tool}"), clip(&args, DETAIL_CHARS))
        }
        ItemKind::WebSearch { query } => ("WebSearch".to_string(), clip(query, DETAIL_CHARS)),
        _ => return None,
    };
    Some(view)
}

/// Whether a finished tool-like item succeeded, and what it came to.
fn tool_result(kind: &ItemKind) -> (bool, String) {
    match kind {
        ItemKind::CommandExecution {
            aggregated_output,
            exit_code,
            status,
            ..
        } => {
            let ok = *exit_code == Some(0) && status.as_deref() == Some("completed");
            // The last line of a command's output usually says how it went.
            let last = aggregated_output
                .as_deref()
                .unwrap_or("")
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty());
            let output = clip(last.unwrap_or(""), DETAIL_CHARS);
            match (ok, status.as_deref(), exit_code) {
                (true, ..) => (true, output),
                (false, Some("declined"), _) => (false, "declined".into()),
                (false, _, Some(code)) => (false, format!("exit {code}: {output}")),
                (false, _, None) => (false, output),
            }
        }
        ItemKind::FileChange { changes, status } => {
            let list: Vec<String> = changes
                .iter()
                .map(|c| format!("{} {}", c.kind_name(), c.path))
                .collect();
            let detail = clip(&list.join(", "), DETAIL_CHARS);
            match status.as_deref() {
                Some("declined") => (false, "declined".into()),
                Some("failed") => (false, detail),
                _ => (true, detail),
            }
        }
        ItemKind::McpToolCall { status, error, .. } => match error {
            Some(err) => (false, clip(&err.message, DETAIL_CHARS)),
            None => (status.as_deref() != Some("failed"), String::new()),
        },
        ItemKind::WebSearch { query } => (true, clip(query, DETAIL_CHARS)),
        _ => (true, String::new()),
    }
}

impl AgentStream for CodexParser {
    const AGENT: &'static str = "codex";
    type Line = Message;

    fn on_line(&mut self, message: Message, out: &mut Vec<AgentEvent>) {
        match (message.id, message.method) {
            (Some(id), Some(method)) => self.on_request(id, &method, message.params, out),
            (None, Some(method)) => self.on_notification(&method, message.params, out),
            (Some(id), None) => self.on_response(&id, message.result, message.error, out),
            (None, None) => {}
        }
    }

    fn has_result(&self) -> bool {
        self.end.is_some()
    }

    fn verdict(self, exit: &ExitReport) -> Verdict {
        match self.end {
            Some(TurnEnd::Completed) => Verdict::Completed {
                final_text: self.last_message,
            },
            Some(TurnEnd::Interrupted) => Verdict::Failed {
                message: "codex's turn was interrupted".into(),
            },
            Some(TurnEnd::Failed(message)) => Verdict::Failed { message },
            None => {
                let said = self
                    .last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default();
                Verdict::Unfinished {
                    message: format!("codex exited without finishing the turn{said}: {exit}"),
                }
            }
        }
    }

    fn take_writes(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.writes)
    }

    fn interrupt(&self) -> Option<Vec<u8>> {
        match (&self.thread, &self.turn, &self.end) {
            (Some(thread), Some(turn), None) => Some(request(
                INTERRUPT,
                "turn/interrupt",
                json!({"threadId": thread, "turnId": turn}),
            )),
            _ => None,
        }
    }
}
