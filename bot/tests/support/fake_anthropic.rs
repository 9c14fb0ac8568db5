//! Fake Anthropic Messages API on 127.0.0.1: scripted SSE answers for the real claude CLI.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::fake_api::{self, EVENT_PACE, HANG, event_stream};

/// One scripted answer to the agent's own request (the one carrying `tools`).
#[derive(Debug, Clone)]
pub enum Reply {
    /// A text answer streamed as one delta per chunk.
    Text(Vec<String>),
    /// A thinking block, then a text answer.
    Thinking { thinking: String, text: String },
    /// A tool call: the CLI runs it and asks again with a `tool_result`.
    ToolUse { name: String, input: Value },
    /// Starts a text answer with `first` and then never finishes (for stop and stall tests).
    Hang { first: String },
    /// A text answer streamed one chunk per `every`: a run that takes a while.
    Slow {
        chunks: Vec<String>,
        every: Duration,
    },
    /// An HTTP error status with an Anthropic error body.
    Error { status: u16, message: String },
}

impl Reply {
    pub fn text(chunks: &[&str]) -> Self {
        Reply::Text(chunks.iter().map(|c| c.to_string()).collect())
    }

    pub fn hang(first: &str) -> Self {
        Reply::Hang {
            first: first.into(),
        }
    }

    pub fn slow(chunks: &[&str], every: Duration) -> Self {
        Reply::Slow {
            chunks: chunks.iter().map(|c| c.to_string()).collect(),
            every,
        }
    }

    /// A call of Baton's own `send_file` tool, as claude names it.
    pub fn send_file(input: Value) -> Self {
        Reply::ToolUse {
            name: "mcp__baton__send_file".into(),
            input,
        }
    }

    /// The agent's own question (`AskUserQuestion`): which colour, Red or Blue.
    pub fn colour_question() -> Self {
        Reply::ToolUse {
            name: "AskUserQuestion".into(),
            input: json!({"questions": [{
                "question": "Which colour should the button be?",
                "header": "Colour",
                "options": [
                    {"label": "Red", "description": "A red button"},
                    {"label": "Blue", "description": "A blue button"}
                ],
                "multiSelect": false
            }]}),
        }
    }

    pub fn bash(command: &str) -> Self {
        Reply::ToolUse {
            name: "Bash".into(),
            input: json!({"command": command, "description": "run it"}),
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query, e.g. "/v1/messages?beta=true".
    pub uri: String,
    /// Whether the request carried tools: the agent's own turn, not a side request.
    pub agent_turn: bool,
    pub body: Value,
}

impl Recorded {
    /// The image blocks of the request's user messages: (media type, decoded bytes).
    pub fn images(&self) -> Vec<(String, Vec<u8>)> {
        use base64::Engine as _;
        self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["content"].as_array().cloned())
            .flatten()
            .filter(|block| block["type"] == "image" && block["source"]["type"] == "base64")
            .map(|block| {
                let data = block["source"]["data"].as_str().unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap_or_default();
                (
                    block["source"]["media_type"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    bytes,
                )
            })
            .collect()
    }

    /// The content blocks of the last message with role "user", as JSON text.
    pub fn last_user_content(&self) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|messages| messages.iter().rev().find(|m| m["role"] == "user"))
            .map(|m| m["content"].to_string())
            .unwrap_or_default()
    }
}

type Shared = fake_api::Shared<Reply, Recorded>;

/// A running fake; it stops with the test's runtime.
#[derive(Clone)]
pub struct FakeAnthropic {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeAnthropic {
    /// Starts a fake answering the agent's requests with `script` in order (the last one repeats).
    pub async fn start(script: Vec<Reply>) -> Self {
        let shared = Shared::new(script);
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(shared.clone());
        Self {
            base_url: fake_api::serve(app).await,
            shared,
        }
    }

    /// Every request so far, side requests included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded()
    }

    /// Every `tool_result` block the agent sent back, oldest first: what each tool call
    /// answered, as the model saw it.
    pub fn tool_results(&self) -> Vec<Value> {
        let mut results: Vec<Value> = Vec::new();
        for request in self.agent_requests() {
            let messages = request.body["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for message in messages.iter().filter(|m| m["role"] == "user") {
                for block in message["content"].as_array().into_iter().flatten() {
                    // Later requests repeat the history (with cache markers moved): one per call.
                    let seen = results
                        .iter()
                        .any(|r| r["tool_use_id"] == block["tool_use_id"]);
                    if block["type"] == "tool_result" && !seen {
                        results.push(block.clone());
                    }
                }
            }
        }
        results
    }

    /// Only the agent's own turns (requests with tools).
    pub fn agent_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.agent_turn)
            .collect()
    }
}

async fn messages(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let agent_turn = body["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty());
    shared.record(Recorded {
        uri: uri.to_string(),
        agent_turn,
        body: body.clone(),
    });
    let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
    if !agent_turn {
        // Side requests (a session title, for one) get a short answer at once.
        return sse_response(text_events(&model, &["Fake title".to_string()]));
    }
    match shared.next_reply().unwrap_or_else(|| Reply::text(&["ok"])) {
        Reply::Text(chunks) => sse_response(text_events(&model, &chunks)),
        Reply::Slow { chunks, every } => event_stream(text_events(&model, &chunks), every, None),
        Reply::ToolUse { name, input } => {
            // Each call its own id, as the real API gives them: claude keeps one result per id.
            let id = format!("toolu_fake{}", shared.recorded().len());
            sse_response(tool_events(&model, &id, &name, &input))
        }
        Reply::Thinking { thinking, text } => {
            sse_response(thinking_events(&model, &thinking, &text))
        }
        Reply::Hang { first } => {
            let events = vec![
                message_start(&model),
                block_start(json!({"type": "text", "text": ""})),
                text_delta(&first),
            ];
            event_stream(events, EVENT_PACE, Some(HANG))
        }
        Reply::Error { status, message } => fake_api::error_response(
            status,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}),
        ),
    }
}

fn message_start(model: &str) -> Value {
    json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 1}}})
}

fn block_start(block: Value) -> Value {
    json!({"type": "content_block_start", "index": 0, "content_block": block})
}

fn text_delta(text: &str) -> Value {
    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
}

fn finish(stop_reason: &str, output_tokens: usize) -> Vec<Value> {
    vec![
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
        json!({"type": "message_stop"}),
    ]
}

fn text_events(model: &str, chunks: &[String]) -> Vec<Value> {
    let mut events = vec![
        message_start(model),
        block_start(json!({"type": "text", "text": ""})),
    ];
    events.extend(chunks.iter().map(|chunk| text_delta(chunk)));
    events.extend(finish("end_turn", chunks.len() + 1));
    events
}

fn thinking_events(model: &str, thinking: &str, text: &str) -> Vec<Value> {
    let delta = |index: usize, delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
    vec![
        message_start(model),
        block_start(json!({"type": "thinking", "thinking": "", "signature": ""})),
        delta(0, json!({"type": "thinking_delta", "thinking": thinking})),
        delta(
            0,
            json!({"type": "signature_delta", "signature": "fake-signature"}),
        ),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        delta(1, json!({"type": "text_delta", "text": text})),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ]
}

fn tool_events(model: &str, id: &str, name: &str, input: &Value) -> Vec<Value> {
    let mut events = vec![
        message_start(model),
        block_start(json!({"type": "tool_use", "id": id, "name": name, "input": {}})),
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
    ];
    events.extend(finish("tool_use", 9));
    events
}

/// Streams the events at the usual pace, closing the stream after the last.
fn sse_response(events: Vec<Value>) -> Response {
    event_stream(events, EVENT_PACE, None)
}
