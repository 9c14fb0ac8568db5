//! An in-memory TelegramApi that records every request with the (paused) tokio time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use teloxide::types::{ChatId, MessageId};
use tokio::time::Instant;

use super::api::{ApiFailure, Body, Target, TelegramApi};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Send { body: Body },
    Edit { message: MessageId, body: Body },
    Delete { message: MessageId },
    Typing,
}

/// One request as the API saw it; `ok` is false when it was answered with a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Instant,
    pub call: Call,
    pub ok: bool,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Record>,
    /// Failures returned by the next calls, in order, instead of success.
    failures: VecDeque<ApiFailure>,
    next_id: i32,
}

#[derive(Debug, Clone, Default)]
pub struct RecordingApi(Arc<Mutex<State>>);

impl RecordingApi {
    pub fn fail_next(&self, failure: ApiFailure, times: usize) {
        let mut state = self.0.lock().unwrap();
        state.failures.extend(std::iter::repeat_n(failure, times));
    }

    pub fn calls(&self) -> Vec<Record> {
        self.0.lock().unwrap().calls.clone()
    }

    /// Records the call; a successful send gets the next message id.
    fn record(&self, call: Call) -> Result<i32, ApiFailure> {
        let mut state = self.0.lock().unwrap();
        let failure = state.failures.pop_front();
        let ok = failure.is_none();
        if ok && matches!(call, Call::Send { .. }) {
            state.next_id += 1;
        }
        state.calls.push(Record {
            at: Instant::now(),
            call,
            ok,
        });
        match failure {
            Some(failure) => Err(failure),
            None => Ok(state.next_id),
        }
    }
}

impl TelegramApi for RecordingApi {
    async fn send_text(&self, _: Target, body: Body) -> Result<MessageId, ApiFailure> {
        tokio::task::yield_now().await;
        self.record(Call::Send { body }).map(MessageId)
    }

    async fn edit_text(&self, _: ChatId, message: MessageId, body: Body) -> Result<(), ApiFailure> {
        tokio::task::yield_now().await;
        self.record(Call::Edit { message, body }).map(drop)
    }

    async fn delete(&self, _: ChatId, message: MessageId) -> Result<(), ApiFailure> {
        self.record(Call::Delete { message }).map(drop)
    }

    async fn typing(&self, _: Target) -> Result<(), ApiFailure> {
        self.record(Call::Typing).map(drop)
    }
}
