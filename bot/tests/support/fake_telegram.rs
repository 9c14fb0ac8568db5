//! A fake Telegram Bot API server on 127.0.0.1, one per test, as strict as the real one.
//!
//! It runs on its own thread and runtime, in real time, so that tests on a paused tokio
//! clock can talk to it without its timers (long polls) being advanced by theirs.
//! It never answers 5xx: teloxide sleeps 10 s on those.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use tokio::sync::{oneshot, watch};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

pub const TOKEN: &str = "123456:FAKE-token_for-tests";
pub const BOT_USER_ID: i64 = 1000;
pub const BOT_USERNAME: &str = "baton_test_bot";
/// Telegram's limit on message text, in UTF-16 code units after entity parsing.
pub const TEXT_LIMIT: usize = 4096;
const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// One message the bot sent, as Telegram keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: i32,
    pub chat: i64,
    pub thread: Option<i32>,
    /// The text a user sees (entities parsed out).
    pub text: String,
    /// The formatting, as (tag, start, end) in UTF-16 units of `text`.
    pub entities: Vec<Entity>,
    pub reply_markup: Option<Value>,
    /// Every text the message showed before its current one, oldest first.
    pub edits: Vec<String>,
    pub deleted: bool,
    /// The message this one answers (`reply_parameters`), if any.
    pub reply_to: Option<i32>,
}

/// A file the bot sent with sendPhoto or sendDocument, as the chat got it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// `photo` or `document`.
    pub kind: &'static str,
    pub chat: i64,
    pub thread: Option<i32>,
    pub message: i32,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub caption: Option<String>,
}

/// A formatting span of a parsed text: tag name, attribute that matters, UTF-16 range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub tag: String,
    pub attribute: Option<String>,
    pub start: usize,
    pub end: usize,
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Lower-case method name (`sendmessage`), whatever case the client used.
    pub method: String,
    pub params: Value,
    /// HTTP status of the answer.
    pub status: u16,
}

/// An error to answer instead of performing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429 with `retry_after` seconds.
    RetryAfter(u32),
    /// 400 with this description, e.g. "Bad Request: chat not found".
    BadRequest(String),
}

/// A document the bot sent (sendDocument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentDocument {
    pub id: i32,
    pub chat: i64,
    pub thread: Option<i32>,
    pub file_name: String,
    /// The file's bytes, as text (lossy).
    pub text: String,
}

/// Everything the fake knows; tests read it through [`FakeTelegram::wait_for`] and friends.
#[derive(Debug, Default)]
pub struct Store {
    /// Bot-sent messages per chat, in order.
    pub chats: HashMap<i64, Vec<StoredMessage>>,
    pub requests: Vec<LoggedRequest>,
    /// Updates not yet confirmed by an offset.
    pub updates: VecDeque<Value>,
    pub commands: Option<Value>,
    pub answered_callbacks: Vec<String>,
    pub documents: Vec<SentDocument>,
    /// getUpdates requests being held open right now.
    pub polls_waiting: usize,
    /// The message id of each user message, by its update id.
    pub user_messages: HashMap<i64, i32>,
    /// File downloads begun, and those whose whole body was sent.
    pub downloads_started: usize,
    pub downloads_finished: usize,
    /// Files the bot uploaded (sendPhoto, sendDocument), in order.
    pub uploads: Vec<Upload>,
    /// Uploads received whole and held unanswered now, and those whose sender gave up
    /// (closed the connection) while held: they never reach the chat.
    pub uploads_waiting: usize,
    pub uploads_abandoned: usize,
    /// While set, uploads are held unanswered (and unstored) until released.
    uploads_held: bool,
    /// While set, downloads send half their body and wait for the rest.
    downloads_held: bool,
    next_update_id: i64,
    next_message_id: HashMap<i64, i32>,
    failures: HashMap<String, VecDeque<Failure>>,
    files: HashMap<String, (String, Vec<u8>)>,
}

impl Store {
    pub fn messages(&self, chat: i64) -> Vec<StoredMessage> {
        self.chats.get(&chat).cloned().unwrap_or_default()
    }

    /// Messages in the chat that are not deleted.
    pub fn visible(&self, chat: i64) -> Vec<StoredMessage> {
        self.messages(chat)
            .into_iter()
            .filter(|m| !m.deleted)
            .collect()
    }

    /// The texts of the chat's visible messages, oldest first.
    pub fn texts(&self, chat: i64) -> Vec<String> {
        self.visible(chat).into_iter().map(|m| m.text).collect()
    }

    pub fn count(&self, method: &str) -> usize {
        let method = method.to_ascii_lowercase();
        self.requests.iter().filter(|r| r.method == method).count()
    }

    fn next_message_id(&mut self, chat: i64) -> i32 {
        let next = self.next_message_id.entry(chat).or_insert(0);
        *next += 1;
        *next
    }

    fn push_update(&mut self, mut update: Map<String, Value>) -> i64 {
        self.next_update_id += 1;
        let id = self.next_update_id;
        update.insert("update_id".into(), json!(id));
        self.updates.push_back(Value::Object(update));
        id
    }
}

struct Shared {
    store: Mutex<Store>,
    /// Bumped after every change, so waiters wake on changes instead of polling.
    version: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake telegram");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("fake telegram address");
        let (version, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            version,
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = Router::new()
            .route("/file/{bot}/{*path}", get(download))
            .route("/{bot}/{method}", any(api))
            .with_state(shared.clone());
        std::thread::Builder::new()
            .name(format!("fake-telegram-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake telegram runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        served = axum::serve(listener, app) => served.expect("fake telegram serve"),
                        _ = stopped => {}
                    }
                });
            })
            .expect("fake telegram thread");
        FakeTelegram {
            shared,
            addr,
            shutdown: Some(shutdown),
        }
    }

    /// The API root to give the bot (`Bot::set_api_url`).
    pub fn url(&self) -> reqwest::Url {
        format!("http://{}/", self.addr)
            .parse()
            .expect("fake telegram url")
    }

    /// A bot pointed at this server, whose HTTP client has no timers of its own, so it
    /// also works on a paused tokio clock.
    pub fn bot(&self) -> teloxide::Bot {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(None)
            .build()
            .expect("http client");
        teloxide::Bot::with_client(TOKEN, client).set_api_url(self.url())
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.lock()
    }

    fn update(&self, change: impl FnOnce(&mut Store) -> i64) -> i64 {
        let id = change(&mut self.shared.lock());
        self.shared.changed();
        id
    }

    /// Queues a text message from `user` in a private chat or group; returns its update id.
    pub fn push_text(&self, chat: i64, user: i64, text: &str) -> i64 {
        self.push_message(chat, user, None, json!({ "text": text }))
    }

    /// Queues a text message in a forum topic.
    pub fn push_text_in_topic(&self, chat: i64, user: i64, thread: i32, text: &str) -> i64 {
        self.push_message(chat, user, Some(thread), json!({ "text": text }))
    }

    /// Queues a voice note whose file can then be fetched with getFile and downloaded.
    pub fn push_voice(&self, chat: i64, user: i64, ogg: &[u8]) -> i64 {
        let file_id = self.add_file("voice", "oga", ogg);
        let voice = json!({ "voice": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "duration": 1,
            "mime_type": "audio/ogg", "file_size": ogg.len()
        }});
        self.push_message(chat, user, None, voice)
    }

    /// Queues a photo with an optional caption.
    pub fn push_photo(&self, chat: i64, user: i64, jpeg: &[u8], caption: Option<&str>) -> i64 {
        let file_id = self.add_file("photos", "jpg", jpeg);
        let mut photo = json!({ "photo": [{
            "file_id": file_id, "file_unique_id": format!("u{file_id}"),
            "width": 64, "height": 64, "file_size": jpeg.len()
        }]});
        if let Some(caption) = caption {
            photo["caption"] = json!(caption);
        }
        self.push_message(chat, user, None, photo)
    }

    /// Queues an audio file (music, a recorded call) with an optional caption.
    pub fn push_audio(&self, chat: i64, user: i64, bytes: &[u8], file_name: &str) -> i64 {
        let file_id = self.add_file("music", "mp3", bytes);
        let audio = json!({ "audio": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "duration": 2,
            "file_name": file_name, "mime_type": "audio/mpeg", "file_size": bytes.len()
        }});
        self.push_message(chat, user, None, audio)
    }

    /// Queues a video with an optional caption.
    pub fn push_video(&self, chat: i64, user: i64, bytes: &[u8], caption: Option<&str>) -> i64 {
        let file_id = self.add_file("videos", "mp4", bytes);
        let mut video = json!({ "video": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "width": 320,
            "height": 240, "duration": 12, "mime_type": "video/mp4", "file_size": bytes.len()
        }});
        if let Some(caption) = caption {
            video["caption"] = json!(caption);
        }
        self.push_message(chat, user, None, video)
    }

    /// Queues a round video note.
    pub fn push_video_note(&self, chat: i64, user: i64, bytes: &[u8]) -> i64 {
        let file_id = self.add_file("video_notes", "mp4", bytes);
        let note = json!({ "video_note": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"), "length": 240,
            "duration": 5, "file_size": bytes.len()
        }});
        self.push_message(chat, user, None, note)
    }

    /// Queues an album: one photo message per image, all with the same `media_group_id`, the
    /// caption on the first, as Telegram sends them; returns their update ids.
    pub fn push_album(
        &self,
        chat: i64,
        user: i64,
        photos: &[&[u8]],
        caption: Option<&str>,
    ) -> Vec<i64> {
        let group = format!("album{}", self.shared.lock().files.len() + 1);
        photos
            .iter()
            .enumerate()
            .map(|(n, bytes)| {
                let file_id = self.add_file("photos", "jpg", bytes);
                let mut photo = json!({ "media_group_id": group, "photo": [{
                    "file_id": file_id, "file_unique_id": format!("u{file_id}"),
                    "width": 64, "height": 64, "file_size": bytes.len()
                }]});
                if let (0, Some(caption)) = (n, caption) {
                    photo["caption"] = json!(caption);
                }
                self.push_message(chat, user, None, photo)
            })
            .collect()
    }

    /// Queues a sticker, which the bot does not take.
    pub fn push_sticker(&self, chat: i64, user: i64) -> i64 {
        let sticker = json!({ "sticker": {
            "file_id": "sticker1", "file_unique_id": "usticker1", "type": "regular",
            "width": 512, "height": 512, "is_animated": false, "is_video": false
        }});
        self.push_message(chat, user, None, sticker)
    }

    /// Queues a press of an inline button under the bot's message `message`.
    pub fn push_callback(&self, chat: i64, user: i64, message: i32, data: &str) -> i64 {
        self.update(|store| {
            let shown = store
                .messages(chat)
                .into_iter()
                .find(|m| m.id == message)
                .map(|m| (m.text, m.thread))
                .unwrap_or_default();
            let mut message = message_json(chat, message, bot_user(), shown.1);
            message["text"] = json!(shown.0);
            let query_id = format!("cb{}", store.next_update_id + 1);
            let mut update = Map::new();
            update.insert(
                "callback_query".into(),
                json!({ "id": query_id, "from": user_json(user), "message": message,
                        "chat_instance": format!("ci{chat}"), "data": data }),
            );
            store.push_update(update)
        })
    }

    /// Queues a document (any file) with an optional caption.
    pub fn push_document(
        &self,
        chat: i64,
        user: i64,
        bytes: &[u8],
        file_name: &str,
        caption: Option<&str>,
    ) -> i64 {
        let file_id = self.add_file("documents", "bin", bytes);
        let mut document = json!({ "document": {
            "file_id": file_id, "file_unique_id": format!("u{file_id}"),
            "file_name": file_name, "mime_type": mime_of(file_name), "file_size": bytes.len()
        }});
        if let Some(caption) = caption {
            document["caption"] = json!(caption);
        }
        self.push_message(chat, user, None, document)
    }

    /// From now on, downloads send half their body, then wait for
    /// [`release_downloads`](Self::release_downloads): a download in progress
    /// for as long as a test needs one.
    pub fn hold_downloads(&self) {
        self.shared.lock().downloads_held = true;
        self.shared.changed();
    }

    /// Holds sendPhoto and sendDocument requests, received whole, unanswered until
    /// [`release_uploads`](Self::release_uploads): an upload in progress for as long as a test
    /// needs one.
    pub fn hold_uploads(&self) {
        self.shared.lock().uploads_held = true;
        self.shared.changed();
    }

    pub fn release_uploads(&self) {
        self.shared.lock().uploads_held = false;
        self.shared.changed();
    }

    pub fn release_downloads(&self) {
        self.shared.lock().downloads_held = false;
        self.shared.changed();
    }

    fn push_message(&self, chat: i64, user: i64, thread: Option<i32>, content: Value) -> i64 {
        self.update(|store| {
            let id = store.next_message_id(chat);
            let mut message = message_json(chat, id, user_json(user), thread);
            if let (Value::Object(message), Value::Object(content)) = (&mut message, content) {
                message.extend(content);
            }
            let mut update = Map::new();
            update.insert("message".into(), message);
            let update_id = store.push_update(update);
            store.user_messages.insert(update_id, id);
            update_id
        })
    }

    fn add_file(&self, folder: &str, extension: &str, bytes: &[u8]) -> String {
        let mut store = self.shared.lock();
        let id = format!("file{}", store.files.len() + 1);
        let path = format!("{folder}/{id}.{extension}");
        store.files.insert(id.clone(), (path, bytes.to_vec()));
        id
    }

    /// Answers the next `times` calls of `method` (any case) with `failure`.
    pub fn fail_next(&self, method: &str, failure: Failure, times: usize) {
        let mut store = self.shared.lock();
        let queue = store
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    pub fn messages(&self, chat: i64) -> Vec<StoredMessage> {
        self.shared.lock().messages(chat)
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Waits until `predicate` holds on the store, re-checking on every change.
    /// Returns false on timeout. Uses the caller's clock: on a paused clock the timeout
    /// elapses as soon as the caller's runtime is idle.
    pub async fn wait_for(&self, predicate: impl Fn(&Store) -> bool, timeout: Duration) -> bool {
        let mut version = self.shared.version.subscribe();
        let check = async {
            loop {
                if predicate(&self.shared.lock()) {
                    return;
                }
                if version.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, check).await.is_ok()
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn user_json(user: i64) -> Value {
    json!({ "id": user, "is_bot": false, "first_name": format!("User{user}"), "username": format!("user{user}") })
}

fn bot_user() -> Value {
    json!({ "id": BOT_USER_ID, "is_bot": true, "first_name": "Baton", "username": BOT_USERNAME })
}

fn chat_json(chat: i64) -> Value {
    if chat > 0 {
        json!({ "id": chat, "type": "private", "first_name": format!("User{chat}") })
    } else {
        json!({ "id": chat, "type": "supergroup", "title": format!("Group {chat}"), "is_forum": true })
    }
}

fn message_json(chat: i64, id: i32, from: Value, thread: Option<i32>) -> Value {
    let mut message =
        json!({ "message_id": id, "from": from, "chat": chat_json(chat), "date": 1_700_000_000 });
    if let Some(thread) = thread {
        message["message_thread_id"] = json!(thread);
        message["is_topic_message"] = json!(true);
    }
    message
}

fn stored_json(message: &StoredMessage) -> Value {
    let mut json = message_json(message.chat, message.id, bot_user(), message.thread);
    json["text"] = json!(message.text);
    if let Some(markup) = &message.reply_markup {
        json["reply_markup"] = markup.clone();
    }
    if !message.edits.is_empty() {
        json["edit_date"] = json!(1_700_000_001);
    }
    json
}

/// An error as Telegram gives it: code, description, and for 429 the seconds to wait.
type Refusal = (u16, String, Option<u32>);

/// What a handler answers: a result, or an error Telegram would give.
type Answer = Result<Value, Refusal>;

fn bad_request(description: impl Into<String>) -> Refusal {
    (400, description.into(), None)
}

fn respond(answer: &Answer) -> Response {
    let (status, body) = match answer {
        Ok(result) => (200, json!({ "ok": true, "result": result })),
        Err((code, description, retry_after)) => {
            let mut body = json!({ "ok": false, "error_code": code, "description": description });
            if let Some(seconds) = retry_after {
                body["parameters"] = json!({ "retry_after": seconds });
            }
            (*code, body)
        }
    };
    (
        StatusCode::from_u16(status).expect("status"),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let method = method.to_ascii_lowercase();
    let params = match read_params(request).await {
        Ok(params) => params,
        Err(error) => return respond(&Err(bad_request(format!("Bad Request: {error}")))),
    };
    if matches!(method.as_str(), "sendphoto" | "senddocument") {
        hold_upload(&shared).await;
    }
    let answer = if bot != format!("bot{TOKEN}") {
        Err((401, "Unauthorized".to_owned(), None))
    } else if method == "getupdates" {
        get_updates(&shared, &params).await
    } else {
        let mut store = shared.lock();
        match store
            .failures
            .get_mut(&method)
            .and_then(VecDeque::pop_front)
        {
            Some(Failure::RetryAfter(seconds)) => Err((
                429,
                format!("Too Many Requests: retry after {seconds}"),
                Some(seconds),
            )),
            Some(Failure::BadRequest(description)) => Err(bad_request(description)),
            None => perform(&mut store, &method, &params),
        }
    };
    let status = match &answer {
        Ok(_) => 200,
        Err((code, ..)) => *code,
    };
    shared.lock().requests.push(LoggedRequest {
        method,
        params,
        status,
    });
    shared.changed();
    respond(&answer)
}

/// Waits while uploads are held; a sender that gives up meanwhile (its connection closed,
/// so this future is dropped) is counted as abandoned.
async fn hold_upload(shared: &Arc<Shared>) {
    struct Waiting<'a>(&'a Arc<Shared>, bool);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            let mut store = self.0.lock();
            store.uploads_waiting -= 1;
            if !self.1 {
                store.uploads_abandoned += 1;
            }
            drop(store);
            self.0.changed();
        }
    }
    let mut version = shared.version.subscribe();
    if !shared.lock().uploads_held {
        return;
    }
    shared.lock().uploads_waiting += 1;
    shared.changed();
    let mut waiting = Waiting(shared, false);
    while shared.lock().uploads_held {
        if version.changed().await.is_err() {
            break;
        }
    }
    waiting.1 = true;
}

/// JSON, url-encoded form or multipart bodies (and query strings) all become one JSON object.
async fn read_params(request: Request) -> Result<Value, String> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut params = Map::new();
    if let Some(query) = request.uri().query() {
        for (key, value) in form_urlencoded(query) {
            params.insert(key, Value::String(value));
        }
    }
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| e.to_string())?;
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            let value = if let Some(file_name) = file_name {
                json!({
                    "file_bytes": bytes.len(),
                    "file_name": file_name,
                    "file_text": String::from_utf8_lossy(&bytes),
                    "data": BASE64.encode(&bytes),
                })
            } else {
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            };
            params.insert(name, value);
        }
        return Ok(Value::Object(params));
    }
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|e| e.to_string())?;
    if body.is_empty() {
        return Ok(Value::Object(params));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (key, value) in form_urlencoded(&String::from_utf8_lossy(&body)) {
            params.insert(key, Value::String(value));
        }
        return Ok(Value::Object(params));
    }
    match serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string())? {
        Value::Object(object) => {
            params.extend(object);
            Ok(Value::Object(params))
        }
        other => Err(format!("body is not an object: {other}")),
    }
}

fn form_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parameters arrive as JSON numbers or, in forms, as strings; both are accepted.
fn int_param(params: &Value, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn str_param<'a>(params: &'a Value, name: &str) -> Option<&'a str> {
    params.get(name)?.as_str()
}

/// Parameters that hold JSON arrive as JSON, or in forms as a string of JSON.
fn json_param(params: &Value, name: &str) -> Option<Value> {
    match params.get(name)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

fn required_int(params: &Value, name: &str) -> Result<i64, Refusal> {
    int_param(params, name).ok_or_else(|| bad_request(format!("Bad Request: {name} is empty")))
}

fn perform(store: &mut Store, method: &str, params: &Value) -> Answer {
    match method {
        "getme" => Ok(json!({
            "id": BOT_USER_ID, "is_bot": true, "first_name": "Baton", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false
        })),
        "getwebhookinfo" => Ok(json!({
            "url": "", "has_custom_certificate": false, "pending_update_count": store.updates.len()
        })),
        "deletewebhook" | "sendchataction" => Ok(json!(true)),
        "setmycommands" => {
            store.commands = json_param(params, "commands");
            Ok(json!(true))
        }
        "answercallbackquery" => {
            let id = str_param(params, "callback_query_id")
                .ok_or_else(|| bad_request("Bad Request: query is too old and response timeout expired or query ID is invalid"))?;
            store.answered_callbacks.push(id.to_owned());
            Ok(json!(true))
        }
        "sendmessage" => {
            let chat = required_int(params, "chat_id")?;
            let (text, entities) = message_text(params)?;
            let id = store.next_message_id(chat);
            let message = StoredMessage {
                id,
                chat,
                thread: int_param(params, "message_thread_id").map(|t| t as i32),
                text,
                entities,
                reply_markup: json_param(params, "reply_markup"),
                edits: Vec::new(),
                deleted: false,
                reply_to: json_param(params, "reply_parameters")
                    .and_then(|reply| int_param(&reply, "message_id"))
                    .map(|id| id as i32),
            };
            let json = stored_json(&message);
            store.chats.entry(chat).or_default().push(message);
            Ok(json)
        }
        "senddocument" => {
            // Checked and recorded as every upload is; kept also as a document, read as text.
            let json = upload(store, params, "document")?;
            let sent = store.uploads.last().expect("just recorded");
            let document = SentDocument {
                id: sent.message,
                chat: sent.chat,
                thread: sent.thread,
                file_name: sent.file_name.clone(),
                text: String::from_utf8_lossy(&sent.bytes).into_owned(),
            };
            store.documents.push(document);
            Ok(json)
        }
        "editmessagetext" => {
            let (text, entities) = message_text(params)?;
            let markup = json_param(params, "reply_markup");
            let message = message_to_edit(store, params)?;
            if message.text == text
                && message.entities == entities
                && message.reply_markup == markup
            {
                return Err(bad_request(NOT_MODIFIED));
            }
            let previous = std::mem::replace(&mut message.text, text);
            message.edits.push(previous);
            message.entities = entities;
            message.reply_markup = markup;
            Ok(stored_json(message))
        }
        "editmessagereplymarkup" => {
            let markup = json_param(params, "reply_markup");
            let message = message_to_edit(store, params)?;
            if message.reply_markup == markup {
                return Err(bad_request(NOT_MODIFIED));
            }
            message.reply_markup = markup;
            Ok(stored_json(message))
        }
        "deletemessage" => {
            let chat = required_int(params, "chat_id")?;
            let id = required_int(params, "message_id")? as i32;
            let message = store
                .chats
                .get_mut(&chat)
                .and_then(|messages| messages.iter_mut().find(|m| m.id == id && !m.deleted))
                .ok_or_else(|| bad_request("Bad Request: message to delete not found"))?;
            message.deleted = true;
            Ok(json!(true))
        }
        "sendphoto" => upload(store, params, "photo"),
        "getfile" => {
            let id = str_param(params, "file_id").unwrap_or("");
            let (path, bytes) = store
                .files
                .get(id)
                .ok_or_else(|| bad_request("Bad Request: invalid file_id"))?;
            Ok(
                json!({ "file_id": id, "file_unique_id": format!("u{id}"), "file_size": bytes.len(), "file_path": path }),
            )
        }
        _ => Err((404, "Not Found".to_owned(), None)),
    }
}

/// sendPhoto and sendDocument with a file uploaded in the multipart body, checked as Telegram
/// checks them: a photo must be an image of at most 10 MB, any file at most 50 MB and not empty,
/// a caption at most 1024 characters.
fn upload(store: &mut Store, params: &Value, kind: &'static str) -> Answer {
    let chat = required_int(params, "chat_id")?;
    // The file is its own part, or (as teloxide sends it) a part the field names as
    // `attach://<part>`.
    let file = match params.get(kind) {
        Some(Value::String(attach)) => attach
            .strip_prefix("attach://")
            .and_then(|part| params.get(part)),
        other => other,
    }
    .filter(|f| f.is_object())
    .ok_or_else(|| bad_request(format!("Bad Request: there is no {kind} in the request")))?;
    let bytes = BASE64
        .decode(file["data"].as_str().unwrap_or_default())
        .map_err(|e| bad_request(format!("Bad Request: {e}")))?;
    let limit = if kind == "photo" { 10 } else { 50 } << 20;
    if bytes.is_empty() {
        return Err(bad_request("Bad Request: file must be non-empty"));
    }
    if bytes.len() > limit {
        return Err((413, "Request Entity Too Large".into(), None));
    }
    let image = bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(&[0xff, 0xd8, 0xff])
        || bytes.starts_with(b"GIF8")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"));
    if kind == "photo" && !image {
        return Err(bad_request("Bad Request: IMAGE_PROCESS_FAILED"));
    }
    let caption = str_param(params, "caption").map(str::to_owned);
    if caption
        .as_ref()
        .is_some_and(|c| c.encode_utf16().count() > 1024)
    {
        return Err(bad_request("Bad Request: message caption is too long"));
    }
    let file_name = file["file_name"].as_str().unwrap_or_default().to_owned();
    let thread = int_param(params, "message_thread_id").map(|t| t as i32);
    let message = store.next_message_id(chat);
    let mut json = message_json(chat, message, bot_user(), thread);
    let unique = format!("up{}", store.uploads.len() + 1);
    if kind == "photo" {
        json["photo"] = json!([{ "file_id": unique, "file_unique_id": unique, "width": 1, "height": 1, "file_size": bytes.len() }]);
    } else {
        json["document"] = json!({ "file_id": unique, "file_unique_id": unique, "file_name": file_name, "file_size": bytes.len() });
    }
    if let Some(caption) = &caption {
        json["caption"] = json!(caption);
    }
    store.uploads.push(Upload {
        kind,
        chat,
        thread,
        message,
        file_name,
        bytes,
        caption,
    });
    Ok(json)
}

/// The text a send or edit would show, checked as Telegram checks it.
/// The live message `chat_id` and `message_id` name, as an edit finds it.
fn message_to_edit<'a>(
    store: &'a mut Store,
    params: &Value,
) -> Result<&'a mut StoredMessage, Refusal> {
    let chat = required_int(params, "chat_id")?;
    let id = required_int(params, "message_id")? as i32;
    store
        .chats
        .get_mut(&chat)
        .and_then(|messages| messages.iter_mut().find(|m| m.id == id && !m.deleted))
        .ok_or_else(|| bad_request("Bad Request: message to edit not found"))
}

fn message_text(params: &Value) -> Result<(String, Vec<Entity>), Refusal> {
    let raw = str_param(params, "text").unwrap_or("");
    let (text, entities) = match str_param(params, "parse_mode") {
        Some(mode) if mode.eq_ignore_ascii_case("html") => parse_html(raw)
            .map_err(|e| bad_request(format!("Bad Request: can't parse entities: {e}")))?,
        Some(other) if !other.is_empty() => {
            return Err(bad_request(format!(
                "Bad Request: unsupported parse_mode \"{other}\""
            )));
        }
        _ => (raw.to_owned(), Vec::new()),
    };
    if text.trim().is_empty() {
        return Err(bad_request("Bad Request: message text is empty"));
    }
    if text.encode_utf16().count() > TEXT_LIMIT {
        return Err(bad_request("Bad Request: message is too long"));
    }
    Ok((text, entities))
}

async fn get_updates(shared: &Shared, params: &Value) -> Answer {
    let offset = int_param(params, "offset");
    let limit = int_param(params, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(int_param(params, "timeout").unwrap_or(0).max(0) as u64);
    let mut version = shared.version.subscribe();
    let take = |store: &mut Store| {
        match offset {
            // A negative offset keeps only the last -offset updates and forgets the rest.
            Some(offset) if offset < 0 => {
                let keep = offset.unsigned_abs() as usize;
                let forget = store.updates.len().saturating_sub(keep);
                store.updates.drain(..forget);
            }
            // An offset confirms, and forgets, every earlier update.
            Some(offset) => {
                while store
                    .updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64() < Some(offset))
                {
                    store.updates.pop_front();
                }
            }
            None => {}
        }
        store
            .updates
            .iter()
            .take(limit)
            .cloned()
            .collect::<Vec<_>>()
    };
    let wait = async {
        let mut held = None;
        loop {
            let updates = take(&mut shared.lock());
            if !updates.is_empty() {
                return updates;
            }
            if held.is_none() && !timeout.is_zero() {
                held = Some(HeldPoll::new(shared));
            }
            if version.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let updates = match tokio::time::timeout(timeout, wait).await {
        Ok(updates) => updates,
        Err(_) => take(&mut shared.lock()),
    };
    Ok(Value::Array(updates))
}

/// Counts a getUpdates request in `polls_waiting` for as long as it is held.
struct HeldPoll<'a>(&'a Shared);

impl<'a> HeldPoll<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.lock().polls_waiting += 1;
        shared.changed();
        HeldPoll(shared)
    }
}

impl Drop for HeldPoll<'_> {
    fn drop(&mut self) {
        self.0.lock().polls_waiting -= 1;
        self.0.changed();
    }
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let (bytes, held) = {
        let mut store = shared.lock();
        let file = store.files.values().find(|(stored, _)| *stored == path);
        let bytes = match file {
            Some((_, bytes)) if bot == format!("bot{TOKEN}") => bytes.clone(),
            _ => return (StatusCode::NOT_FOUND, "Not Found").into_response(),
        };
        store.downloads_started += 1;
        (bytes, store.downloads_held)
    };
    shared.changed();
    if !held {
        shared.lock().downloads_finished += 1;
        shared.changed();
        return bytes.into_response();
    }
    let length = bytes.len();
    let (body, chunks) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let mut version = shared.version.subscribe();
    tokio::spawn(async move {
        let bytes = Bytes::from(bytes);
        let half = length / 2;
        if body.send(Ok(bytes.slice(..half))).await.is_err() {
            return;
        }
        while shared.lock().downloads_held {
            if version.changed().await.is_err() {
                return;
            }
        }
        if body.send(Ok(bytes.slice(half..))).await.is_ok() {
            shared.lock().downloads_finished += 1;
            shared.changed();
        }
    });
    (
        [(header::CONTENT_LENGTH, length.to_string())],
        axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(chunks)),
    )
        .into_response()
}

/// Telegram's HTML parse mode, strictly: allowed tags only, properly nested, `<`, `>`
/// and `&` escaped, only `&lt; &gt; &amp; &quot;` and numeric entities. Returns the
/// visible text and its formatting, or Telegram's description of the first problem.
pub fn parse_html(html: &str) -> Result<(String, Vec<Entity>), String> {
    const ALLOWED: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    ];
    let mut text = String::new();
    let mut utf16 = 0;
    let mut open: Vec<(String, Option<String>, usize)> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let end = html[i..]
                    .find('>')
                    .map(|e| i + e)
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
                let inner = &html[i + 1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let (expected, attribute, start) = open
                        .pop()
                        .ok_or_else(|| format!("Unexpected end tag at byte offset {i}"))?;
                    if name != expected {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{expected}>\", found \"</{name}>\""
                        ));
                    }
                    entities.push(Entity {
                        tag: entity_kind(&expected).to_owned(),
                        attribute,
                        start,
                        end: utf16,
                    });
                } else {
                    let (name, attributes) =
                        parse_tag(inner).map_err(|e| format!("{e} at byte offset {i}"))?;
                    if !ALLOWED.contains(&name.as_str()) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    }
                    if let Some((parent, ..)) = open.last()
                        && (parent == "code" || (parent == "pre" && name != "code"))
                    {
                        return Err(format!(
                            "Entity \"{name}\" can't be nested in \"{parent}\" at byte offset {i}"
                        ));
                    }
                    if name == "blockquote" && open.iter().any(|(n, ..)| n == "blockquote") {
                        return Err(format!("Blockquote can't be nested at byte offset {i}"));
                    }
                    let attribute = match name.as_str() {
                        "a" => Some(
                            attributes
                                .get("href")
                                .cloned()
                                .ok_or_else(|| format!("Missing href at byte offset {i}"))?,
                        ),
                        "span" => match attributes.get("class").map(String::as_str) {
                            Some("tg-spoiler") => None,
                            _ => {
                                return Err(format!(
                                    "Tag \"span\" must have class \"tg-spoiler\" at byte offset {i}"
                                ));
                            }
                        },
                        "code" => attributes.get("class").cloned(),
                        "tg-emoji" => attributes.get("emoji-id").cloned(),
                        _ => None,
                    };
                    open.push((name, attribute, utf16));
                }
                i = end + 1;
            }
            b'&' => {
                let end = html[i..]
                    .find(';')
                    .filter(|e| *e <= 12)
                    .map(|e| i + e)
                    .ok_or_else(|| format!("Character '&' is reserved and must be escaped as \"&amp;\" at byte offset {i}"))?;
                let c = decode_entity(&html[i + 1..end]).ok_or_else(|| {
                    format!(
                        "Unsupported HTML entity \"{}\" at byte offset {i}",
                        &html[i..=end]
                    )
                })?;
                text.push(c);
                utf16 += c.len_utf16();
                i = end + 1;
            }
            b'>' => {
                return Err(format!(
                    "Character '>' is reserved and must be escaped as \"&gt;\" at byte offset {i}"
                ));
            }
            _ => {
                let c = html[i..].chars().next().expect("char at boundary");
                text.push(c);
                utf16 += c.len_utf16();
                i += c.len_utf8();
            }
        }
    }
    if let Some((name, ..)) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{name}\""
        ));
    }
    entities.retain(|e| e.end > e.start);
    entities.sort_by_key(|e| (e.start, std::cmp::Reverse(e.end)));
    Ok((text, entities))
}

/// Synonymous tags make the same entity, as in Telegram.
fn entity_kind(tag: &str) -> &str {
    match tag {
        "strong" => "b",
        "em" => "i",
        "ins" => "u",
        "strike" | "del" => "s",
        "span" => "tg-spoiler",
        other => other,
    }
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// A start tag's lower-case name and attributes (values unescaped).
fn parse_tag(inner: &str) -> Result<(String, HashMap<String, String>), String> {
    let inner = inner.trim_end_matches('/');
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("Unexpected start tag name".to_owned());
    }
    let mut attributes = HashMap::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let close = after[1..].find(quote).ok_or("Unclosed attribute value")?;
                    (&after[1..=close], &after[close + 2..])
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining.trim_start();
            let (decoded, _) = parse_html(value).map_err(|_| "Bad attribute value".to_owned())?;
            decoded
        } else {
            String::new()
        };
        attributes.insert(key, value);
    }
    Ok((name, attributes))
}

/// The MIME type Telegram reports for a document by its name.
fn mime_of(file_name: &str) -> &'static str {
    match file_name.rsplit('.').next().unwrap_or_default() {
        "txt" | "log" => "text/plain",
        "rs" => "text/rust",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "gz" | "tgz" => "application/gzip",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}
