//! What the fake model APIs share: a script of replies, a log of requests, a listener on
//! 127.0.0.1 and the server-sent-event streams both real APIs answer with.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// How long apart a stream's events are written by default: separate writes, so the CLI sees
/// several deltas rather than one buffer.
pub const EVENT_PACE: Duration = Duration::from_millis(5);

/// The scripted replies and the requests seen, shared by a fake's handlers.
pub struct Shared<Reply, Recorded> {
    script: Mutex<VecDeque<Reply>>,
    recorded: Mutex<Vec<Recorded>>,
}

impl<Reply: Clone, Recorded: Clone> Shared<Reply, Recorded> {
    pub fn new(script: Vec<Reply>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into()),
            recorded: Mutex::new(Vec::new()),
        })
    }

    /// The next scripted reply; the last one repeats.
    pub fn next_reply(&self) -> Option<Reply> {
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    }

    pub fn record(&self, request: Recorded) {
        self.recorded.lock().unwrap().push(request);
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

/// Serves `app` on 127.0.0.1 port 0 until the test's runtime ends; returns `http://<addr>`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A `text/event-stream` of `events` written `pace` apart, each named by its `type` as both real
/// APIs do; with `hold`, the stream stays open afterwards until the client leaves.
pub fn event_stream(events: Vec<Value>, pace: Duration, hold: Option<Duration>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for event in events {
            let name = event["type"].as_str().unwrap_or("message").to_owned();
            let chunk = format!("event: {name}\ndata: {event}\n\n");
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

/// An HTTP error `status` (400 when it is not one) with a JSON error `body`.
pub fn error_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// How long a hanging reply keeps its stream open: longer than any test.
pub const HANG: Duration = Duration::from_secs(3600);
