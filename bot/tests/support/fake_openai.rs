//! Fake OpenAI APIs on 127.0.0.1: the Responses API with scripted SSE answers for the real
//! codex CLI, and the audio transcription endpoint Baton sends voice notes to.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::fake_api::{self, EVENT_PACE, HANG, event_stream};

/// One scripted answer to a `POST /v1/responses`.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An assistant message streamed as one `output_text.delta` per chunk.
    Text(Vec<String>),
    /// A reasoning summary, then an `exec_command` function call: codex runs `cmd` and asks again
    /// with a `function_call_output`. With `escalate` (the model's justification) the call asks
    /// to run outside the sandbox (`sandbox_permissions: require_escalated`), which codex puts
    /// to the user under the `on-request` approval policy.
    Exec {
        reasoning: String,
        cmd: String,
        escalate: Option<String>,
    },
    /// A call of tool `name` of an MCP server's namespace (`mcp__<server>`), as the Responses
    /// API names tools in a namespace: codex calls the server and asks again with the output.
    McpCall {
        namespace: String,
        name: String,
        arguments: Value,
    },
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
            escalate: None,
        }
    }

    /// `cmd`, asked to run outside the sandbox for `justification`.
    pub fn escalated(cmd: &str, justification: &str) -> Self {
        Reply::Exec {
            reasoning: "**Planning a command**".into(),
            cmd: cmd.into(),
            escalate: Some(justification.into()),
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

type Shared = fake_api::Shared<Reply, Recorded>;

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
        let shared = Shared::new(script);
        let app = Router::new()
            .route("/v1/responses", post(responses))
            .fallback(unknown)
            .with_state(shared.clone());
        Self {
            base_url: format!("{}/v1", fake_api::serve(app).await),
            shared,
        }
    }

    /// Every request so far, including ones to unknown paths.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded()
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
    shared.record(Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        body: Value::Null,
    });
    StatusCode::NOT_FOUND
}

async fn responses(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    shared.record(Recorded {
        method: "POST".into(),
        uri: uri.to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    match shared.next_reply().unwrap_or_else(|| Reply::text(&["ok"])) {
        Reply::Text(chunks) => event_stream(message_events(&chunks), EVENT_PACE, None),
        Reply::Exec {
            reasoning,
            cmd,
            escalate,
        } => {
            let mut arguments = json!({ "cmd": cmd });
            if let Some(justification) = escalate {
                arguments["sandbox_permissions"] = json!("require_escalated");
                arguments["justification"] = json!(justification);
            }
            let call_id = format!("call_fake{}", shared.recorded().len());
            event_stream(
                exec_events(&reasoning, &arguments, &call_id),
                EVENT_PACE,
                None,
            )
        }
        Reply::McpCall {
            namespace,
            name,
            arguments,
        } => {
            let call = json!({"type": "function_call", "id": "fc_mcp", "call_id": format!("call_mcp{}", shared.recorded().len()),
                "namespace": namespace, "name": name, "arguments": arguments.to_string()});
            let events = vec![
                created(),
                json!({"type": "response.output_item.added", "output_index": 0, "item": call}),
                json!({"type": "response.output_item.done", "output_index": 0, "item": call}),
                completed(9),
            ];
            event_stream(events, EVENT_PACE, None)
        }
        Reply::Hang { first } => {
            let events = vec![created(), message_added(), text_delta(&first)];
            event_stream(events, EVENT_PACE, Some(HANG))
        }
        Reply::Error { status, message } => fake_api::error_response(
            status,
            json!({"error": {"message": message, "type": "invalid_request_error", "code": null}}),
        ),
    }
}

fn created() -> Value {
    json!({"type": "response.created", "response": {"id": "resp_fake"}})
}

fn message_added() -> Value {
    json!({"type": "response.output_item.added", "output_index": 0,
        "item": {"type": "message", "id": "msg_fake", "role": "assistant", "content": []}})
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
    let mut events = vec![created(), message_added()];
    events.extend(chunks.iter().map(|chunk| text_delta(chunk)));
    events.push(
        json!({"type": "response.output_item.done", "output_index": 0,
        "item": {"type": "message", "id": "msg_fake", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}}),
    );
    events.push(completed(chunks.len()));
    events
}

/// A call id of its own per answer, as the real API gives: codex keys approvals by it.
fn exec_events(reasoning: &str, arguments: &Value, call_id: &str) -> Vec<Value> {
    let reasoning = json!({"type": "reasoning", "id": "rs_fake",
        "summary": [{"type": "summary_text", "text": reasoning}]});
    let call = json!({"type": "function_call", "id": "fc_fake", "call_id": call_id,
        "name": "exec_command", "arguments": arguments.to_string()});
    vec![
        created(),
        json!({"type": "response.output_item.added", "output_index": 0, "item": reasoning}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": call}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": call}),
        completed(9),
    ]
}

/// How the fake transcription endpoint answers each request.
#[derive(Debug, Clone)]
pub enum Transcription {
    /// `{"text": ...}`, as the real endpoint answers `response_format=json`.
    Text(String),
    /// Waits `after`, then answers with the text.
    Slow { after: Duration, text: String },
    /// An HTTP error status with an OpenAI error body.
    Error { status: u16, message: String },
    /// A success with no speech in it (`{"text": ""}`).
    Empty,
}

/// One upload the fake transcription endpoint received.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub model: String,
    pub response_format: String,
    pub authorization: Option<String>,
}

struct AudioState {
    answer: Transcription,
    uploads: Vec<Upload>,
}

/// A fake OpenAI-compatible `POST /v1/audio/transcriptions` that can go down (connection
/// refused) and come back on the same port.
pub struct FakeTranscriber {
    addr: std::net::SocketAddr,
    state: Arc<std::sync::Mutex<AudioState>>,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl FakeTranscriber {
    pub async fn start(answer: Transcription) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let fake = FakeTranscriber {
            addr: listener.local_addr().expect("local addr"),
            state: Arc::new(std::sync::Mutex::new(AudioState {
                answer,
                uploads: Vec::new(),
            })),
            server: std::sync::Mutex::new(None),
        };
        fake.serve(listener);
        fake
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcriptions))
            .with_state(self.state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// The base URL as a user would configure it: `with_v1` adds the trailing `/v1`.
    pub fn url(&self, with_v1: bool) -> String {
        match with_v1 {
            true => format!("http://{}/v1", self.addr),
            false => format!("http://{}", self.addr),
        }
    }

    pub fn answer_with(&self, answer: Transcription) {
        self.state.lock().unwrap().answer = answer;
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.state.lock().unwrap().uploads.clone()
    }

    /// Stops listening: connections are refused until [`up`](Self::up).
    pub async fn down(&self) {
        if let Some(task) = self.server.lock().unwrap().take() {
            task.abort();
        }
        // The listener closes once the aborted task is dropped.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Listens again on the same port.
    pub async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind the fake's port");
        self.serve(listener);
    }
}

async fn transcriptions(
    State(state): State<Arc<std::sync::Mutex<AudioState>>>,
    headers: axum::http::HeaderMap,
    mut form: axum::extract::Multipart,
) -> Response {
    let mut upload = Upload {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Upload::default()
    };
    let mut has_file = false;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                has_file = true;
                upload.file_name = field.file_name().unwrap_or_default().to_owned();
                upload.content_type = field.content_type().unwrap_or_default().to_owned();
                upload.bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            }
            "model" => upload.model = field.text().await.unwrap_or_default(),
            "response_format" => upload.response_format = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    let answer = {
        let mut state = state.lock().unwrap();
        state.uploads.push(upload.clone());
        state.answer.clone()
    };
    let invalid = |message: &str| {
        fake_api::error_response(
            400,
            json!({"error": {"message": message, "type": "invalid_request_error",
                "param": null, "code": null}}),
        )
    };
    // As the real endpoint: both fields are required, and the file's extension must name a
    // supported format (`.oga` is refused although it is the same Ogg).
    if !has_file || upload.model.is_empty() {
        return invalid("you must provide a model parameter and a file");
    }
    const FORMATS: &[&str] = &[
        "flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm",
    ];
    let extension = upload.file_name.rsplit('.').next().unwrap_or_default();
    if !FORMATS.contains(&extension) {
        return invalid(&format!(
            "Invalid file format. Supported formats: {FORMATS:?}"
        ));
    }
    match answer {
        Transcription::Text(text) => transcript(&text),
        Transcription::Slow { after, text } => {
            tokio::time::sleep(after).await;
            transcript(&text)
        }
        Transcription::Error { status, message } => fake_api::error_response(
            status,
            json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}),
        ),
        Transcription::Empty => transcript(""),
    }
}

fn transcript(text: &str) -> Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({ "text": text, "usage": {"type": "tokens", "input_tokens": 10, "output_tokens": 5, "total_tokens": 15} })
            .to_string(),
    )
        .into_response()
}
