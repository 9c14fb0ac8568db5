//! Fake OpenAI Responses API on 127.0.0.1: scripted SSE answers for the real codex CLI.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// One scripted answer to a `POST /v1/responses`.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An assistant message streamed as one `output_text.delta` per chunk.
    Text(Vec<String>),
    /// A reasoning summary, then an `exec_command` function call: codex runs `cmd` and asks again
    /// with a `function_call_output`.
    Exec { reasoning: String, cmd: String },
    /// Starts a message with `first` and then never finishes (for stop and stall tests).
    Hang { first: String },
    /// An HTTP error status with an OpenAI error body.
    Error { status: u16, message: String },
}

impl Reply {
    pub fn text(chunks: &[&str]) -> Self {
        Reply::Text(chunks.iter().map(|c| c.to_string()).collect())
    }

    pub fn exec(cmd: &str) -> Self {
        Reply::Exec {
            reasoning: "**Planning a command**".into(),
            cmd: cmd.into(),
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
    pub body: Value,
}

impl Recorded {
    /// The `input` items as JSON text.
    pub fn input(&self) -> String {
        self.body["input"].to_string()
    }

    /// The last `input` item.
    pub fn last_input(&self) -> Value {
        self.body["input"]
            .as_array()
            .and_then(|items| items.last().cloned())
            .unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
}

/// A running fake; it stops with the test's runtime.
#[derive(Clone)]
pub struct FakeOpenAi {
    /// Base URL including `/v1`, as codex's `base_url` wants it.
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeOpenAi {
    /// Starts a fake answering `/v1/responses` with `script` in order (the last one repeats).
    pub async fn start(script: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .fallback(unknown)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    /// Every request so far, including ones to unknown paths.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded.lock().unwrap().clone()
    }

    /// Only the `POST /v1/responses` requests.
    pub fn turns(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.uri.starts_with("/v1/responses"))
            .collect()
    }
}

async fn unknown(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> StatusCode {
    shared.recorded.lock().unwrap().push(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        body: Value::Null,
    });
    StatusCode::NOT_FOUND
}

async fn responses(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.recorded.lock().unwrap().push(Recorded {
        method: "POST".into(),
        uri: uri.to_string(),
        body,
    });
    let reply = {
        let mut script = shared.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    };
    match reply.unwrap_or_else(|| Reply::text(&["ok"])) {
        Reply::Text(chunks) => sse_response(message_events(&chunks), None),
        Reply::Exec { reasoning, cmd } => sse_response(exec_events(&reasoning, &cmd), None),
        Reply::Hang { first } => {
            let events = vec![
                created(),
                json!({"type": "response.output_item.added", "output_index": 0,
                    "item": {"type": "message", "id": "msg_fake", "role": "assistant", "content": []}}),
                text_delta(&first),
            ];
            sse_response(events, Some(Duration::from_secs(3600)))
        }
        Reply::Error { status, message } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({"error": {"message": message, "type": "invalid_request_error", "code": null}});
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

fn created() -> Value {
    json!({"type": "response.created", "response": {"id": "resp_fake"}})
}

fn text_delta(text: &str) -> Value {
    json!({"type": "response.output_text.delta", "item_id": "msg_fake", "output_index": 0,
        "content_index": 0, "delta": text})
}

fn completed(output_tokens: usize) -> Value {
    json!({"type": "response.completed", "response": {"id": "resp_fake", "usage": {
        "input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 10 + output_tokens}}})
}

fn message_events(chunks: &[String]) -> Vec<Value> {
    let text: String = chunks.concat();
    let mut events = vec![
        created(),
        json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"type": "message", "id": "msg_fake", "role": "assistant", "content": []}}),
    ];
    events.extend(chunks.iter().map(|chunk| text_delta(chunk)));
    events.push(
        json!({"type": "response.output_item.done", "output_index": 0,
        "item": {"type": "message", "id": "msg_fake", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}}),
    );
    events.push(completed(chunks.len()));
    events
}

fn exec_events(reasoning: &str, cmd: &str) -> Vec<Value> {
    let reasoning = json!({"type": "reasoning", "id": "rs_fake",
        "summary": [{"type": "summary_text", "text": reasoning}]});
    let call = json!({"type": "function_call", "id": "fc_fake", "call_id": "call_fake",
        "name": "exec_command", "arguments": json!({"cmd": cmd}).to_string()});
    vec![
        created(),
        json!({"type": "response.output_item.added", "output_index": 0, "item": reasoning}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": call}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": call}),
        completed(9),
    ]
}

/// Streams the events; with `hold`, keeps the stream open afterwards until the client leaves.
fn sse_response(events: Vec<Value>, hold: Option<Duration>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for event in events {
            let name = event["type"].as_str().unwrap_or("message").to_string();
            let chunk = format!("event: {name}\ndata: {event}\n\n");
            if tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
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
