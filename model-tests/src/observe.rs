//! What an execution observed: a log of facts, each stamped with the
//! interval of the operation that produced it, so invariants can tell
//! "certainly before" from "concurrent".
//!
//! The log is a plain std lock: under loom and shuttle every task runs on
//! one OS thread and the log is never held across a model step, so it adds
//! no interleavings of its own.

use std::sync::Mutex;

pub type Run = u64;

/// How an item came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Interrupt,
    Cron,
    /// `/retry` or the recap button: a copy of earlier work.
    Copy,
}

/// Who asked a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelBy {
    Stop,
    Interrupt,
    Preempt,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Completed,
    Failed,
    Cancelled,
    Preempted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A user sent the item: the operation's interval holds its arrival.
    Arrived {
        item: String,
        lane: usize,
        kind: Kind,
    },
    /// A run was admitted for the item (a ticket was issued).
    Admitted {
        run: Run,
        item: String,
        lane: usize,
        kind: Kind,
    },
    /// What the run's ticket captured when it was issued: the driver its
    /// agent runs on and the session it resumes.
    Captured {
        run: Run,
        lane: usize,
        driver: baton_core::Driver,
        resume: Option<String>,
    },
    Queued {
        item: String,
        lane: usize,
        kind: Kind,
    },
    /// An agent process started for the run.
    Spawned {
        run: Run,
        lane: usize,
    },
    /// The run's agent process is gone.
    Exited {
        run: Run,
        lane: usize,
    },
    /// The run's runner saw its cancellation.
    Killed {
        run: Run,
    },
    Finished {
        run: Run,
        item: String,
        end: End,
    },
    Requeued {
        item: String,
    },
    /// Queued items that a stop, `/new` or cron cancel removed and reported.
    Removed {
        item: String,
    },
    /// A stop, interrupt, `/new` or preemption named the run it cancels:
    /// `admitted` if it had not spawned yet, `cancel_set` whether the run's
    /// cancellation was visible when the operation returned.
    Named {
        by: CancelBy,
        lane: usize,
        run: Option<Run>,
        admitted: bool,
        cancel_set: bool,
    },
    RetryAccepted {
        run: Run,
    },
    SessionAccepted {
        run: Run,
        lane: usize,
        id: String,
    },
    OutputAccepted {
        run: Run,
    },
    /// `/retry` in `lane` re-sent work that came from `source`.
    Resent {
        lane: usize,
        source: Option<usize>,
    },
    /// A `stop LANE clear` returned: what was queued in the lane is gone.
    Cleared {
        lane: usize,
    },
    CronFire {
        job: usize,
        item: String,
    },
    CronCancelled {
        job: usize,
    },
    NewSession {
        lane: usize,
    },
    Snapshot {
        problems: Vec<String>,
    },
    /// **Run now** was accepted: the queued item became its lane's
    /// interrupt.
    Promoted {
        item: String,
        lane: usize,
    },
    /// The core issued the run's question (labelled as the scenario names
    /// it).
    Asked {
        run: Run,
        question: String,
    },
    /// A tap on the question, naming its run: accepted or refused.
    Tapped {
        run: Run,
        question: String,
        accepted: bool,
    },
    /// What a `/status` snapshot showed each run waiting for.
    Waiting {
        shown: Vec<(Run, String)>,
    },
    /// The runner withdrew the question: accepted or refused.
    Withdrawn {
        run: Run,
        question: String,
        accepted: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// Log clock when the producing operation began, and when the fact was
    /// recorded. Facts recorded inside the system's critical section are
    /// points (`begin == end`).
    pub begin: u64,
    pub end: u64,
    pub actor: Option<usize>,
    pub fact: Fact,
}

/// One line of the readable trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub actor: Option<usize>,
    pub op: String,
    pub result: String,
    pub state: String,
}

#[derive(Debug, Default)]
struct Log {
    clock: u64,
    facts: Vec<Stamped>,
    lines: Vec<Line>,
}

#[derive(Debug, Default)]
pub struct Recorder {
    log: Mutex<Log>,
}

impl Recorder {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn tick(&self) -> u64 {
        let mut log = self.log();
        log.clock += 1;
        log.clock
    }

    fn push(&self, begin: Option<u64>, actor: Option<usize>, fact: Fact) {
        let mut log = self.log();
        log.clock += 1;
        let end = log.clock;
        log.facts.push(Stamped {
            begin: begin.unwrap_or(end),
            end,
            actor,
            fact,
        });
    }

    pub fn line(&self, line: Line) {
        self.log().lines.push(line);
    }

    pub fn facts(&self) -> Vec<Stamped> {
        self.log().facts.clone()
    }

    pub fn lines(&self) -> Vec<Line> {
        self.log().lines.clone()
    }
}

/// The context of one operation: who runs it and when it began.
pub struct Cx<'a> {
    pub rec: &'a Recorder,
    pub actor: Option<usize>,
    pub begin: u64,
}

impl<'a> Cx<'a> {
    pub fn new(rec: &'a Recorder, actor: Option<usize>) -> Self {
        Cx {
            rec,
            actor,
            begin: rec.tick(),
        }
    }

    /// A fact learnt from an operation's answer: it holds somewhere within
    /// the operation's interval.
    pub fn after(&self, fact: Fact) {
        self.rec.push(Some(self.begin), self.actor, fact);
    }

    /// A fact recorded at the instant it happened.
    pub fn point(&self, fact: Fact) {
        self.rec.push(None, self.actor, fact);
    }

    /// A fresh interval for a sub-operation (one claim of a cron tick).
    pub fn sub(&self) -> Cx<'a> {
        Cx::new(self.rec, self.actor)
    }
}
