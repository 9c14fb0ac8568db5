//! The agent's open questions (permission prompts, its own questions,
//! plans), each bound to one run and one question id the core issued.
//! The core decides whether an answer is accepted (once, and only while the
//! run is live); this keeps what is needed to carry the answer out: the
//! CLI's request, the channel to its stdin, the message showing it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use baton_core::{LaneKey, QuestionId, RunId};
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;

use crate::drivers::process::InputLine;
use crate::drivers::{Ask, Decision, Question};

/// After Deny, the lane's next text within this long is the reason.
pub const REASON_WINDOW: Duration = Duration::from_secs(60);

/// How an answer is written for the CLI that asked.
pub type Encode = fn(&Question, &Decision) -> InputLine;

/// One question waiting for the user.
#[derive(Debug)]
pub struct Open {
    pub run: RunId,
    pub id: QuestionId,
    pub lane: LaneKey,
    pub question: Question,
    pub asked_at: Instant,
    /// The message showing it, once sent.
    pub message: Option<i32>,
    answers: UnboundedSender<InputLine>,
    encode: Encode,
}

impl Open {
    pub fn new(
        run: RunId,
        id: QuestionId,
        lane: LaneKey,
        question: Question,
        answers: UnboundedSender<InputLine>,
        encode: Encode,
    ) -> Self {
        Open {
            run,
            id,
            lane,
            question,
            asked_at: Instant::now(),
            message: None,
            answers,
            encode,
        }
    }

    /// Writes the decision to the CLI; a run already gone drops it.
    pub fn decide(&self, decision: &Decision) {
        let _ = self.answers.send((self.encode)(&self.question, decision));
    }
}

/// An answered Deny whose reason the user may still type.
#[derive(Debug)]
struct Awaited {
    open: Open,
    until: Instant,
}

#[derive(Default)]
pub struct Questions {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    open: HashMap<(RunId, QuestionId), Open>,
    reasons: HashMap<LaneKey, Awaited>,
}

impl Questions {
    pub fn insert(&self, open: Open) {
        self.state.lock().open.insert((open.run, open.id), open);
    }

    pub fn set_message(&self, run: RunId, id: QuestionId, message: i32) {
        if let Some(open) = self.state.lock().open.get_mut(&(run, id)) {
            open.message = Some(message);
        }
    }

    pub fn take(&self, run: RunId, id: QuestionId) -> Option<Open> {
        self.state.lock().open.remove(&(run, id))
    }

    /// The open question of `run` the CLI knows as `request_id`.
    pub fn take_request(&self, run: RunId, request_id: &str) -> Option<Open> {
        let mut state = self.state.lock();
        let key = *state
            .open
            .iter()
            .find(|(key, open)| key.0 == run && open.question.request_id == request_id)?
            .0;
        state.open.remove(&key)
    }

    /// The oldest open question of the agent's own (with options) in `lane`,
    /// which a typed reply answers.
    pub fn open_choice(&self, lane: LaneKey) -> Option<(RunId, QuestionId)> {
        let state = self.state.lock();
        state
            .open
            .values()
            .filter(|open| open.lane == lane && matches!(open.question.ask, Ask::Choice { .. }))
            .min_by_key(|open| open.id)
            .map(|open| (open.run, open.id))
    }

    /// Questions of `run` past `timeout`, taken.
    pub fn take_overdue(&self, run: RunId, timeout: Duration) -> Vec<Open> {
        self.state
            .lock()
            .open
            .extract_if(|key, open| key.0 == run && open.asked_at.elapsed() >= timeout)
            .map(|(_, open)| open)
            .collect()
    }

    /// A Deny was pressed: the lane's next text, within [`REASON_WINDOW`], is the reason.
    pub fn await_reason(&self, open: Open) {
        let awaited = Awaited {
            until: Instant::now() + REASON_WINDOW,
            open,
        };
        // An earlier Deny still waiting for its reason goes without one.
        if let Some(earlier) = self.state.lock().reasons.insert(awaited.open.lane, awaited) {
            earlier.open.decide(&deny_without_reason(&earlier.open));
        }
    }

    /// The Deny of `lane` still waiting for its reason.
    pub fn take_reason(&self, lane: LaneKey) -> Option<Open> {
        let mut state = self.state.lock();
        let awaited = state.reasons.remove(&lane)?;
        if awaited.until <= Instant::now() {
            state.reasons.insert(lane, awaited);
            return None;
        }
        Some(awaited.open)
    }

    /// Denies of `run` whose window passed without a reason, taken.
    pub fn take_unreasoned(&self, run: RunId) -> Vec<Open> {
        let now = Instant::now();
        self.state
            .lock()
            .reasons
            .extract_if(|_, awaited| awaited.open.run == run && awaited.until <= now)
            .map(|(_, awaited)| awaited.open)
            .collect()
    }

    /// Everything of `run` still open or waiting for a reason, taken (its
    /// agent is gone).
    pub fn take_run(&self, run: RunId) -> Vec<Open> {
        let mut state = self.state.lock();
        let mut taken: Vec<Open> = state
            .open
            .extract_if(|key, _| key.0 == run)
            .map(|(_, open)| open)
            .collect();
        taken.extend(
            state
                .reasons
                .extract_if(|_, awaited| awaited.open.run == run)
                .map(|(_, awaited)| awaited.open),
        );
        taken
    }

    pub fn has_run(&self, run: RunId) -> bool {
        let state = self.state.lock();
        state.open.keys().any(|key| key.0 == run)
            || state
                .reasons
                .values()
                .any(|awaited| awaited.open.run == run)
    }
}

/// A Deny without a typed reason.
pub fn deny_without_reason(open: &Open) -> Decision {
    let reason = match open.question.ask {
        Ask::Plan { .. } => "Keep planning.",
        _ => "The user denied this.",
    };
    Decision::Deny {
        reason: reason.into(),
    }
}
