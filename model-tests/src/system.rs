//! The seam a scenario drives: one trait, implemented by the real core, by
//! the model of the original bot, and by the deliberately wrong variants.
//!
//! Operations record what they observe in the [`Cx`] they are given; those
//! that start work hand back the runs the bot's runner must execute.

use crate::observe::{Cx, End, Run};
use baton_core::{Driver, Origin};

use crate::report::Timer;

/// A run that must now be executed by a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub run: Run,
    pub lane: usize,
}

/// The answer to an operation: work to start, and a word for the trace.
#[derive(Debug, Default)]
pub struct Reply {
    pub started: Vec<Started>,
    pub text: String,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            started: Vec::new(),
            text: text.into(),
        }
    }
}

/// What a runner is left with after one of its operations.
#[derive(Debug)]
pub struct RunnerReply {
    pub reply: Reply,
    /// The run is over: the runner lets go of it.
    pub over: bool,
}

/// What remains when every actor is done and every runner has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiescence {
    pub queued: usize,
    pub in_flight: usize,
}

pub trait System: Send + Sync + 'static {
    fn submit(&self, cx: &Cx, lane: usize, item: &str, origin: &Origin) -> Reply;
    fn interrupt(&self, cx: &Cx, lane: usize, item: &str) -> Reply;
    fn stop(&self, cx: &Cx, lane: usize, clear: bool) -> Reply;
    fn new_session(&self, cx: &Cx, lane: usize) -> Reply;
    fn set_driver(&self, cx: &Cx, lane: usize, driver: Driver) -> Reply;
    fn retry_last(&self, cx: &Cx, lane: usize, item: &str) -> Reply;
    fn recap(&self, cx: &Cx, lane: usize, item: &str) -> Reply;
    fn cron_tick(&self, cx: &Cx, jobs: &[usize], fire: u64) -> Reply;
    fn cron_cancel(&self, cx: &Cx, job: usize) -> Reply;
    /// A timer of the original design fired; the core has none.
    fn timer(&self, cx: &Cx, timer: Timer) -> Reply;
    fn snapshot(&self, cx: &Cx) -> Reply;

    /// The runner asks to spawn the agent; `over` if it was refused and
    /// the run has been handed back.
    fn spawn(&self, cx: &Cx, run: Run) -> RunnerReply;
    /// The agent ended by itself.
    fn finish(&self, cx: &Cx, run: Run, end: End) -> RunnerReply;
    /// The stall timer fired: kill the agent and try again if allowed.
    fn stall(&self, cx: &Cx, run: Run) -> RunnerReply;
    /// Whether the run's cancellation is visible to its runner.
    fn cancelled(&self, run: Run) -> bool;
    /// The runner saw the cancellation: kill the agent and react.
    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply;
    fn output(&self, cx: &Cx, run: Run) -> Reply;
    fn session(&self, cx: &Cx, run: Run, id: &str) -> Reply;

    /// A photo or document album; designs that do not tell albums apart
    /// take it as one photo.
    fn media_group(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.submit(cx, lane, item, &Origin::Photo)
    }
    /// The process exits and starts again from what it kept on disk.
    fn restart(&self, _cx: &Cx) -> Reply {
        Reply::text("restart is not modelled by this design")
    }
    /// The process is asked to stop.
    fn shutdown(&self, _cx: &Cx) -> Reply {
        Reply::text("shutdown is not modelled by this design")
    }

    /// **Run now** under a queued message.
    fn run_now(&self, _cx: &Cx, _lane: usize, _item: &str) -> Reply {
        Reply::text("run_now is not modelled by this design")
    }
    /// **Cancel** under a queued message.
    fn cancel_queued(&self, _cx: &Cx, _lane: usize, _item: &str) -> Reply {
        Reply::text("cancel_queued is not modelled by this design")
    }
    /// The run's agent asks the user; the question is labelled `question`.
    fn ask(&self, _cx: &Cx, _run: Run, _question: &str) -> Reply {
        Reply::text("ask is not modelled by this design")
    }
    /// A tap on a button of `question`, which names the run that asked it.
    fn answer(&self, _cx: &Cx, _question: &str) -> Reply {
        Reply::text("answer is not modelled by this design")
    }
    /// The runner of `run` withdraws its `question`.
    fn withdraw(&self, _cx: &Cx, _run: Run, _question: &str) -> Reply {
        Reply::text("withdraw is not modelled by this design")
    }

    fn quiescence(&self) -> Quiescence;
    /// Every agent session id the lanes remember now, with its lane.
    fn sessions(&self) -> Vec<(usize, String)>;
    /// A short state line for the readable trace.
    fn describe(&self) -> String;
}
