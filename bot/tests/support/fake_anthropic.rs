//! Fake Anthropic Messages API on 127.0.0.1: scripted SSE answers for the real claude CLI.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

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

    pub fn slow(chunks: &[&str], every: Duration) -> Self {
        Reply::Slow {
            chunks: chunks.iter().map(|c| c.to_string()).collect(),
            every,
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
    /// The content blocks of the last message with role "user", as JSON text.
    pub fn last_user_content(&self) -> String {
        self.body["messages"]
            .as_array()
            .and_then(|messages| messages.iter().rev().find(|m| m["role"] == "user"))
            .map(|m| m["content"].to_string())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
}

/// A running fake; it stops with the test's runtime.
#[derive(Clone)]
pub struct FakeAnthropic {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeAnthropic {
    /// Starts a fake answering the agent's requests with `script` in order (the last one repeats).
    pub async fn start(script: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{addr}"),
            shared,
        }
    }

    /// Every request so far, side requests included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded.lock().unwrap().clone()
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
    shared.recorded.lock().unwrap().push(Recorded {
        uri: uri.to_string(),
        agent_turn,
        body: body.clone(),
    });
    let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
    if !agent_turn {
        // Side requests (a session title, for one) get a short answer at once.
        return sse_response(text_events(&model, &["Fake title".to_string()]), None);
    }
    let reply = {
        let mut script = shared.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    };
    match reply.unwrap_or_else(|| Reply::text(&["ok"])) {
        Reply::Text(chunks) => sse_response(text_events(&model, &chunks), None),
        Reply::Slow { chunks, every } => paced_response(text_events(&model, &chunks), every, None),
        Reply::ToolUse { name, input } => sse_response(tool_events(&model, &name, &input), None),
        Reply::Thinking { thinking, text } => {
            sse_response(thinking_events(&model, &thinking, &text), None)
        }
        Reply::Hang { first } => {
            let mut events = vec![
                message_start(&model),
                block_start(json!({"type": "text", "text": ""})),
            ];
            events.push(text_delta(&first));
            sse_response(events, Some(Duration::from_secs(3600)))
        }
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

type Event = (&'static str, Value);

fn message_start(model: &str) -> Event {
    (
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    )
}

fn block_start(block: Value) -> Event {
    (
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    )
}

fn text_delta(text: &str) -> Event {
    (
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
    )
}

fn finish(stop_reason: &str, output_tokens: usize) -> Vec<Event> {
    vec![
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": output_tokens}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

fn text_events(model: &str, chunks: &[String]) -> Vec<Event> {
    let mut events = vec![
        message_start(model),
        block_start(json!({"type": "text", "text": ""})),
    ];
    events.extend(chunks.iter().map(|chunk| text_delta(chunk)));
    events.extend(finish("end_turn", chunks.len() + 1));
    events
}

fn thinking_events(model: &str, thinking: &str, text: &str) -> Vec<Event> {
    let delta = |index: usize, delta: Value| {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    };
    vec![
        message_start(model),
        block_start(json!({"type": "thinking", "thinking": "", "signature": ""})),
        delta(0, json!({"type": "thinking_delta", "thinking": thinking})),
        delta(
            0,
            json!({"type": "signature_delta", "signature": "fake-signature"}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        delta(1, json!({"type": "text_delta", "text": text})),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 5}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

fn tool_events(model: &str, name: &str, input: &Value) -> Vec<Event> {
    let mut events = vec![
        message_start(model),
        block_start(json!({"type": "tool_use", "id": "toolu_fake1", "name": name, "input": {}})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        ),
    ];
    events.extend(finish("tool_use", 9));
    events
}

/// Streams the events; with `hold`, keeps the stream open afterwards until the client leaves.
fn sse_response(events: Vec<Event>, hold: Option<Duration>) -> Response {
    // Separate writes, so the CLI sees several deltas rather than one buffer.
    paced_response(events, Duration::from_millis(5), hold)
}

/// Streams the events `pace` apart; with `hold`, keeps the stream open afterwards.
fn paced_response(events: Vec<Event>, pace: Duration, hold: Option<Duration>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for (name, data) in events {
            let chunk = format!("event: {name}\ndata: {data}\n\n");
            if tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            tokio::time::sleep(pace).await;
        }
        if let Some(hold) = hold {
            tokio::select! {
                () = tx.closed() => {}
                () = tokio::time::sleep(hold) => {}
            }
        }
    });
    let stream = ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("valid response")
}
