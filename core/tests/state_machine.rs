//! Property-based state-machine test: random sequences of every operation
//! over a few lanes, each step compared against a naive reference model
//! and checked against the SPEC invariants, ending with a journal replay
//! and restore that must reproduce what the machine held.

#[path = "state_machine/invariants.rs"]
mod invariants;
#[path = "state_machine/model.rs"]
mod model;

use baton_core::journal::replay;
use baton_core::sync::{CancelSignal, StdCancel};
use baton_core::{
    Admission, Config, CronClaim, CronKind, Driver, Error, Item, ItemId, JobId, JournalEntry,
    LaneKey, Machine, Millis, Origin, Outcome, Output, Preferences, QuestionId, RunId, Ticket,
};
use proptest::prelude::*;

use invariants::{Class, Fate, Tracker, check_snapshot};
use model::{MAdmission, MClaim, MTicket, Model};

#[derive(Debug, Clone, Copy)]
struct Pick {
    stale: bool,
    n: usize,
}

#[derive(Debug, Clone)]
enum Op {
    Submit {
        lane: usize,
        origin: usize,
        redeliver: Option<usize>,
    },
    Interrupt {
        lane: usize,
        redeliver: Option<usize>,
    },
    RetryLast {
        lane: usize,
    },
    Stop {
        lane: usize,
        clear: bool,
    },
    Spawned(Pick),
    Finish(Pick, Outcome),
    Retry(Pick),
    Session(Pick),
    Output(Pick, usize),
    CronRegister {
        job: usize,
        lane: usize,
        recurring: bool,
    },
    CronClaim {
        job: usize,
        fire: u64,
        silent: bool,
    },
    CronCancel {
        job: usize,
    },
    Prefs {
        lane: usize,
        codex: bool,
        model: Option<usize>,
    },
    SetSession {
        lane: usize,
        codex: bool,
        clear: bool,
    },
    NewSession {
        lane: usize,
    },
    RunNow {
        lane: usize,
        nth: usize,
    },
    CancelQueued {
        lane: usize,
        nth: usize,
    },
    Ask(Pick),
    Answer(Pick, usize),
    Snapshot,
}

#[derive(Debug, Clone)]
struct Case {
    lanes: usize,
    config: Config,
    ops: Vec<Op>,
    /// The step before which `shutdown` is called, if any.
    shutdown_at: Option<usize>,
}

const JOBS: usize = 4;
const USER_ORIGINS: [Origin; 8] = [
    Origin::Text,
    Origin::Voice,
    Origin::Audio,
    Origin::Photo,
    Origin::Document,
    Origin::Video,
    Origin::Button,
    Origin::Recap,
];

fn pick() -> impl Strategy<Value = Pick> {
    (prop::bool::weighted(0.25), any::<usize>()).prop_map(|(stale, n)| Pick { stale, n })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::Completed),
        1 => Just(Outcome::Failed),
        2 => Just(Outcome::Cancelled),
        1 => Just(Outcome::Preempted),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let lane = 0..8usize;
    prop_oneof![
        20 => (lane.clone(), 0..USER_ORIGINS.len(), prop::option::weighted(0.2, any::<usize>()))
            .prop_map(|(lane, origin, redeliver)| Op::Submit { lane, origin, redeliver }),
        5 => (lane.clone(), prop::option::weighted(0.1, any::<usize>()))
            .prop_map(|(lane, redeliver)| Op::Interrupt { lane, redeliver }),
        2 => lane.clone().prop_map(|lane| Op::RetryLast { lane }),
        5 => (lane.clone(), any::<bool>()).prop_map(|(lane, clear)| Op::Stop { lane, clear }),
        10 => pick().prop_map(Op::Spawned),
        20 => (pick(), outcome()).prop_map(|(p, o)| Op::Finish(p, o)),
        4 => pick().prop_map(Op::Retry),
        4 => pick().prop_map(Op::Session),
        4 => (pick(), 0..3usize).prop_map(|(p, k)| Op::Output(p, k)),
        6 => (0..JOBS, lane.clone(), any::<bool>())
            .prop_map(|(job, lane, recurring)| Op::CronRegister { job, lane, recurring }),
        18 => (0..JOBS, 0..8u64, any::<bool>())
            .prop_map(|(job, fire, silent)| Op::CronClaim { job, fire, silent }),
        3 => (0..JOBS).prop_map(|job| Op::CronCancel { job }),
        3 => (lane.clone(), any::<bool>(), prop::option::of(0..3usize))
            .prop_map(|(lane, codex, model)| Op::Prefs { lane, codex, model }),
        2 => (lane.clone(), any::<bool>(), prop::bool::weighted(0.3))
            .prop_map(|(lane, codex, clear)| Op::SetSession { lane, codex, clear }),
        3 => lane.clone().prop_map(|lane| Op::NewSession { lane }),
        3 => (lane.clone(), 0..4usize).prop_map(|(lane, nth)| Op::RunNow { lane, nth }),
        3 => (lane, 0..4usize).prop_map(|(lane, nth)| Op::CancelQueued { lane, nth }),
        3 => pick().prop_map(Op::Ask),
        3 => (pick(), 0..4usize).prop_map(|(p, k)| Op::Answer(p, k)),
        2 => Just(Op::Snapshot),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        3..=5usize,
        1..=3usize,
        2..=4usize,
        4..=12usize,
        1..=2u32,
        prop::collection::vec(op(), 50..120),
        prop::option::weighted(0.15, 0..120usize),
    )
        .prop_map(
            |(lanes, capacity, max_queue, dedupe_window, max_retries, ops, shutdown_at)| Case {
                lanes,
                config: Config {
                    capacity,
                    max_queue,
                    dedupe_window,
                    max_retries,
                    ..Config::default()
                },
                ops,
                shutdown_at,
            },
        )
}

fn as_model(t: &Ticket<StdCancel>) -> MTicket {
    MTicket {
        run: t.run,
        item: t.item.clone(),
        driver: t.driver,
        model: t.model.clone(),
        effort: t.effort.clone(),
        mode: t.mode.clone(),
        resume: t.resume.clone(),
    }
}

/// A ticket the simulated runner holds; `done` once `finish` accepted it.
struct Held {
    ticket: Ticket<StdCancel>,
    done: bool,
    /// Questions this run asked, answered or not.
    asked: Vec<QuestionId>,
}

struct Harness {
    config: Config,
    keys: Vec<LaneKey>,
    sut: Machine<StdCancel>,
    model: Model,
    journal: Vec<JournalEntry>,
    runner: Vec<Held>,
    /// User items ever submitted, for redeliveries.
    history: Vec<Item>,
    next_id: u64,
    track: Tracker,
    /// What shutdown handed back to be persisted.
    handed_back: Vec<Item>,
    now: Millis,
}

impl Harness {
    fn new(case: &Case) -> Self {
        let keys: Vec<LaneKey> = (0..case.lanes)
            .map(|n| LaneKey {
                chat: 100 + n as i64 / 2,
                topic: (n % 2 == 1).then_some(n as i32),
            })
            .collect();
        Harness {
            config: case.config.clone(),
            sut: Machine::new(case.config.clone()),
            model: Model::new(case.config.clone(), &keys),
            keys,
            journal: Vec::new(),
            runner: Vec::new(),
            history: Vec::new(),
            next_id: 0,
            track: Tracker::default(),
            handed_back: Vec::new(),
            now: Millis(0),
        }
    }

    fn lane(&self, n: usize) -> LaneKey {
        self.keys[n % self.keys.len()]
    }

    fn job(n: usize) -> JobId {
        JobId(format!("job{n}"))
    }

    fn fresh_item(&mut self, lane: LaneKey, origin: Origin, prefix: &str) -> Item {
        self.next_id += 1;
        let n = self.next_id;
        let words = (n % 4) as usize * 6;
        let prompt = format!("{prefix}{n}{}", " word".repeat(words));
        Item {
            id: ItemId(format!("u{n}")),
            lane,
            origin,
            prompt,
            attachments: Vec::new(),
            arrived_at: self.now,
        }
    }

    fn item_for(
        &mut self,
        lane: usize,
        origin: Origin,
        redeliver: Option<usize>,
        prefix: &str,
    ) -> Item {
        match redeliver {
            Some(k) if !self.history.is_empty() => self.history[k % self.history.len()].clone(),
            _ => {
                let item = self.fresh_item(self.lane(lane), origin, prefix);
                self.history.push(item.clone());
                item
            }
        }
    }

    /// The held ticket a runner operation is about, if any.
    fn pick(&self, pick: Pick) -> Option<usize> {
        let live: Vec<usize> = (0..self.runner.len())
            .filter(|&i| !self.runner[i].done)
            .collect();
        let stale: Vec<usize> = (0..self.runner.len())
            .filter(|&i| self.runner[i].done)
            .collect();
        let (first, second) = if pick.stale {
            (stale, live)
        } else {
            (live, stale)
        };
        let from = if first.is_empty() { second } else { first };
        (!from.is_empty()).then(|| from[pick.n % from.len()])
    }

    fn hold(&mut self, ticket: Ticket<StdCancel>) {
        self.runner.push(Held {
            asked: Vec::new(),
            ticket,
            done: false,
        });
    }

    /// Compares an admission, records it, and holds its ticket.
    fn admission(
        &mut self,
        item: &Item,
        class: Class,
        got: Result<Admission<StdCancel>, Error>,
        want: Result<MAdmission, Error>,
    ) {
        match (got, want) {
            (Ok(Admission::Started(ticket)), Ok(MAdmission::Started(expected))) => {
                assert_eq!(as_model(&ticket), expected);
                assert!(!ticket.cancel.is_cancelled());
                self.track.admitted(item, class, Some(ticket.run));
                self.hold(ticket);
            }
            (
                Ok(Admission::Queued {
                    position,
                    cancelled,
                }),
                Ok(expected),
            ) => {
                assert_eq!(
                    MAdmission::Queued {
                        position,
                        cancelled
                    },
                    expected
                );
                self.track.admitted(item, class, None);
            }
            (Err(got), Err(want)) => assert_eq!(got, want),
            (got, want) => panic!("admission of {}: core {got:?}, model {want:?}", item.id),
        }
    }

    fn step(&mut self, op: &Op) {
        let now = self.now;
        match op.clone() {
            Op::Submit {
                lane,
                origin,
                redeliver,
            } => {
                let item = self.item_for(lane, USER_ORIGINS[origin].clone(), redeliver, "p");
                let got = self.sut.submit(item.clone(), now);
                let want = self.model.submit(item.clone(), now);
                self.admission(&item, Class::User, got, want);
            }
            Op::Interrupt { lane, redeliver } => {
                let item = self.item_for(lane, Origin::Text, redeliver, "!");
                let busy = self.model.lane(item.lane).run.is_some();
                let class = if busy { Class::Interrupt } else { Class::User };
                let got = self.sut.interrupt(item.clone(), now);
                let want = self.model.interrupt(item.clone(), now);
                self.admission(&item, class, got, want);
            }
            Op::RetryLast { lane } => {
                let key = self.lane(lane);
                self.next_id += 1;
                let id = ItemId(format!("u{}", self.next_id));
                let got = self.sut.retry_last(key, id.clone(), now);
                let want = self.model.retry_last(key, id.clone(), now);
                if let Some(last) = self.model.lane(key).last.clone() {
                    let item = Item {
                        id,
                        arrived_at: now,
                        ..last
                    };
                    self.history.push(item.clone());
                    self.admission(&item, Class::User, got, want);
                } else {
                    assert_eq!(got.err(), want.err());
                }
            }
            Op::Stop { lane, clear } => {
                let key = self.lane(lane);
                let flags = self.cancel_flags();
                let got = self.sut.stop(key, clear, now);
                self.check_only_cancelled(&flags, got.cancelled.as_ref().map(|v| v.run));
                let (cancelled, removed) = self.model.stop(key, clear, now);
                assert_eq!(got.cancelled, cancelled);
                assert_eq!(got.removed, removed);
                for item in &got.removed {
                    self.track.left(&item.id, Fate::Removed);
                }
            }
            Op::Spawned(p) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let was_cancelled = self.runner[i].ticket.cancel.is_cancelled();
                let got = self.sut.spawned(run, now);
                assert_eq!(got, self.model.spawned(run));
                if got.is_ok() {
                    assert!(!self.runner[i].done, "ownership: a finished run spawned");
                    assert!(!was_cancelled, "stop binding: a cancelled run spawned");
                }
            }
            Op::Finish(p, outcome) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let got = self.sut.finish(run, outcome, now);
                let want = self.model.finish(run, outcome, now);
                match (got, want) {
                    (Ok(got), Ok(want)) => {
                        assert!(!self.runner[i].done);
                        assert_eq!(got.outcome, want.outcome);
                        assert_eq!(got.cron_ended, want.cron_ended);
                        assert_eq!(got.sessions_forgotten, want.sessions_forgotten);
                        let tickets: Vec<MTicket> = got.tickets.iter().map(as_model).collect();
                        assert_eq!(tickets, want.tickets);
                        self.runner[i].done = true;
                        let item = self.runner[i].ticket.item.id.clone();
                        let preempted = got.outcome == Outcome::Preempted;
                        if preempted {
                            assert!(
                                self.runner[i].ticket.cancel.is_cancelled(),
                                "only a run the core preempted ends preempted"
                            );
                        }
                        self.track.finished(&item, run, preempted);
                        for ticket in got.tickets {
                            assert!(!ticket.cancel.is_cancelled());
                            self.track.started(&ticket.item.id, ticket.run);
                            self.hold(ticket);
                        }
                    }
                    (Err(got), Err(want)) => {
                        assert_eq!(got, want);
                        assert!(self.runner[i].done, "a live run's finish was refused");
                    }
                    (got, want) => panic!("finish {run}: core {got:?}, model {want:?}"),
                }
            }
            Op::Retry(p) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let got = self.sut.retry(run, now);
                assert_eq!(got, self.model.retry(run));
                if got.is_ok() {
                    assert!(!self.runner[i].done, "ownership: a finished run retried");
                    assert!(!self.runner[i].ticket.cancel.is_cancelled());
                }
            }
            Op::Session(p) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let session = format!("s{}-{}", run.0, now.0);
                let got = self.sut.record_agent_session(run, session.clone(), now);
                assert_eq!(got, self.model.record_session(run, session));
                if got.is_ok() {
                    assert!(
                        !self.runner[i].done,
                        "ownership: a finished run set the session"
                    );
                }
            }
            Op::Output(p, kind) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let (output, tool) = match kind {
                    0 => (Output::Text, None),
                    1 => (Output::Thinking, None),
                    _ => {
                        let tool = format!("tool{}", now.0);
                        (Output::Tool(tool.clone()), Some(tool))
                    }
                };
                let got = self.sut.output(run, output);
                assert_eq!(got, self.model.output(run, tool));
                assert_eq!(
                    got.is_ok(),
                    !self.runner[i].done,
                    "output accepted only in flight"
                );
            }
            Op::CronRegister {
                job,
                lane,
                recurring,
            } => {
                let (job, key) = (Self::job(job), self.lane(lane));
                let kind = if recurring {
                    CronKind::Recurring
                } else {
                    CronKind::OneShot
                };
                let got = self.sut.cron_register(job.clone(), key, kind, now);
                assert_eq!(got, self.model.cron_register(job.clone(), key, kind));
                if got.is_ok() {
                    self.track.cancelled_jobs.remove(&job);
                }
            }
            Op::CronClaim { job, fire, silent } => {
                let job = Self::job(job);
                let prompt = format!("cron {job}");
                let got = self
                    .sut
                    .cron_claim(&job, Millis(fire), prompt.clone(), silent, now);
                let want = self
                    .model
                    .cron_claim(&job, Millis(fire), prompt.clone(), silent, now);
                if self.track.cancelled_jobs.contains(&job) {
                    assert!(
                        matches!(got, Err(Error::UnknownJob(_))),
                        "cron: a cancelled job was claimed"
                    );
                }
                let lane = self.model.jobs.iter().find(|j| j.id == job).map(|j| j.lane);
                match (got, want) {
                    (Ok(CronClaim::AlreadyPending), Ok(MClaim::AlreadyPending)) => {}
                    (Ok(CronClaim::Admitted(got)), Ok(MClaim::Admitted(want))) => {
                        let item = Item {
                            id: ItemId::cron_fire(&job, Millis(fire)),
                            lane: lane.expect("admitted fires have a job"),
                            origin: Origin::Cron {
                                job: job.clone(),
                                silent,
                            },
                            prompt,
                            attachments: Vec::new(),
                            arrived_at: now,
                        };
                        self.admission(&item, Class::Cron, Ok(got), Ok(want));
                    }
                    (Err(got), Err(want)) => assert_eq!(got, want),
                    (got, want) => panic!("claim of {job}: core {got:?}, model {want:?}"),
                }
            }
            Op::CronCancel { job } => {
                let job = Self::job(job);
                let got = self.sut.cron_cancel(&job, now);
                let want = self.model.cron_cancel(&job);
                match (got, want) {
                    (Ok(got), Ok((removed, running))) => {
                        assert_eq!((got.removed.clone(), got.running), (removed, running));
                        if let Some(id) = got.removed {
                            self.track.left(&id, Fate::Removed);
                        }
                        self.track.cancelled_jobs.insert(job);
                    }
                    (Err(got), Err(want)) => assert_eq!(got, want),
                    (got, want) => panic!("cancel of {job}: core {got:?}, model {want:?}"),
                }
            }
            Op::Prefs { lane, codex, model } => {
                let key = self.lane(lane);
                let prefs = Preferences {
                    driver: if codex { Driver::Codex } else { Driver::Claude },
                    model: model.map(|m| format!("model{m}")),
                    effort: model.map(|m| format!("effort{m}")),
                    mode: model.map(|m| format!("mode{m}")),
                };
                self.sut.set_preferences(key, prefs.clone(), now);
                self.model.set_preferences(key, prefs);
            }
            Op::SetSession { lane, codex, clear } => {
                let key = self.lane(lane);
                let driver = if codex { Driver::Codex } else { Driver::Claude };
                let session = (!clear).then(|| format!("restored{}", now.0));
                self.sut.set_session(key, driver, session.clone(), now);
                self.model.set_session(key, driver, session);
            }
            Op::NewSession { lane } => {
                let key = self.lane(lane);
                let flags = self.cancel_flags();
                let got = self.sut.new_session(key, now);
                self.check_only_cancelled(&flags, got.cancelled.as_ref().map(|v| v.run));
                let (cancelled, removed, forgotten_now) = self.model.new_session(key, now);
                assert_eq!(got.cancelled, cancelled);
                assert_eq!(got.removed, removed);
                assert_eq!(got.forgotten_now, forgotten_now);
                for item in &got.removed {
                    self.track.left(&item.id, Fate::Removed);
                }
            }
            Op::RunNow { lane, nth } => {
                let key = self.lane(lane);
                let item = self.queued_or_gone(key, nth);
                let flags = self.cancel_flags();
                let got = self.sut.run_now(key, &item, now);
                let want = self.model.run_now(key, &item);
                match (got, want) {
                    (Ok(got), Ok((position, cancelled))) => {
                        assert_eq!((got.position, got.cancelled), (position, cancelled));
                        // Besides the lane's run, only a preempted scheduled
                        // run may be cancelled; the snapshot comparison with
                        // the model checks which.
                        if let Some(run) = got.cancelled {
                            let held = self.runner.iter().find(|h| h.ticket.run == run);
                            assert!(held.is_some_and(|h| h.ticket.cancel.is_cancelled()));
                        }
                        self.track.promoted(&item);
                    }
                    (got, want) => {
                        assert_eq!(got.err(), want.err());
                        self.check_only_cancelled(&flags, None);
                    }
                }
            }
            Op::CancelQueued { lane, nth } => {
                let key = self.lane(lane);
                let item = self.queued_or_gone(key, nth);
                let flags = self.cancel_flags();
                let got = self.sut.cancel_queued(key, &item, now);
                assert_eq!(got, self.model.cancel_queued(key, &item));
                self.check_only_cancelled(&flags, None);
                if let Ok(removed) = got {
                    self.track.left(&removed.id, Fate::Removed);
                }
            }
            Op::Ask(p) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let summary = format!("question of {run}");
                let got = self.sut.ask(run, summary.clone(), now);
                assert_eq!(got, self.model.ask(run, summary));
                if let Ok(question) = got {
                    assert!(!self.runner[i].done, "ownership: a finished run asked");
                    self.runner[i].asked.push(question);
                }
            }
            Op::Answer(p, k) => {
                let Some(i) = self.pick(p) else { return };
                let run = self.runner[i].ticket.run;
                let asked = &self.runner[i].asked;
                // Now and then a question of another run, which must be refused.
                let question = match asked.len() {
                    0 => QuestionId(k as u64 + 1),
                    n => asked[k % n],
                };
                let got = self.sut.answer(run, question, now);
                assert_eq!(got, self.model.answer(run, question));
                if got.is_ok() {
                    assert!(
                        !self.runner[i].done,
                        "ownership: a finished run was answered"
                    );
                    assert!(
                        asked.contains(&question),
                        "an answer reached another run's question"
                    );
                }
            }
            Op::Snapshot => {}
        }
    }

    /// The `nth` queued user item of a lane, or an id that is not queued
    /// (one that started or left), for the refusals.
    fn queued_or_gone(&self, key: LaneKey, nth: usize) -> ItemId {
        let queued = &self.model.lane(key).user;
        match queued.get(nth) {
            Some(item) => item.id.clone(),
            None => self
                .history
                .get(nth)
                .map(|item| item.id.clone())
                .unwrap_or_else(|| ItemId("never".into())),
        }
    }

    fn cancel_flags(&self) -> Vec<(RunId, bool)> {
        self.runner
            .iter()
            .map(|h| (h.ticket.run, h.ticket.cancel.is_cancelled()))
            .collect()
    }

    /// Stop binding: a stop or `/new` reaches exactly the run it reports.
    fn check_only_cancelled(&self, before: &[(RunId, bool)], target: Option<RunId>) {
        for (held, (run, was)) in self.runner.iter().zip(before) {
            if Some(*run) != target {
                assert_eq!(
                    held.ticket.cancel.is_cancelled(),
                    *was,
                    "stop binding: {run} was reached by a stop aimed at {target:?}"
                );
            } else {
                assert!(
                    held.ticket.cancel.is_cancelled(),
                    "stop binding: {run} not cancelled"
                );
            }
        }
    }

    fn shutdown(&mut self) {
        let got = self.sut.shutdown(self.now);
        let (cancelled, queued) = self.model.shutdown(self.now);
        assert_eq!(got.cancelled, cancelled);
        assert_eq!(got.queued, queued);
        for item in &got.queued {
            self.track.left(&item.id, Fate::HandedBack);
        }
        self.handed_back.extend(got.queued);
        let late = self.fresh_item(self.keys[0], Origin::Text, "late");
        let refused = self.sut.submit(late, self.now).err();
        assert_eq!(refused, Some(Error::ShuttingDown));
    }

    /// Everything observable agrees with the model, and every invariant holds.
    fn check(&mut self) {
        self.journal.extend(self.sut.drain_journal());
        let now = self.now;
        let snapshot = self.sut.snapshot(now);
        assert_eq!(snapshot, self.model.snapshot(now), "snapshot");
        for key in &self.keys {
            assert_eq!(
                self.sut.lane_status(*key, now),
                self.model.lane_status(*key, now)
            );
            for driver in Driver::ALL {
                assert_eq!(
                    self.sut.session(*key, driver),
                    self.model
                        .lane_status(*key, now)
                        .claude_session
                        .filter(|_| driver == Driver::Claude)
                        .or(self
                            .model
                            .lane_status(*key, now)
                            .codex_session
                            .filter(|_| driver == Driver::Codex))
                );
            }
            assert_eq!(self.sut.preferences(*key), self.model.lane(*key).prefs);
        }
        for j in 0..JOBS {
            assert_eq!(
                self.sut.cron_kind(&Self::job(j)),
                self.model.cron_kind(&Self::job(j))
            );
        }
        check_snapshot(&snapshot, self.sut.in_flight(), self.sut.queued());
        self.track.check_holdings(&snapshot);
        // Exclusion from the runner's side, and cancellation signals bound
        // to exactly the runs the core cancelled.
        let live: Vec<&Held> = self.runner.iter().filter(|h| !h.done).collect();
        assert!(live.len() <= self.config.capacity, "exclusion: capacity");
        for held in &live {
            let lane = snapshot
                .lanes
                .iter()
                .find(|l| l.lane == held.ticket.lane())
                .expect("a held run's lane is active");
            let view = lane.run.as_ref().expect("a held run is in flight");
            assert_eq!(view.run, held.ticket.run, "exclusion: one run per lane");
            assert_eq!(held.ticket.cancel.is_cancelled(), view.cancel.is_some());
        }
        assert_eq!(live.len(), snapshot.in_flight);
    }

    /// Replaying the journal reproduces what the machine holds; restoring it
    /// starts the queued work and never reruns what was in flight.
    fn check_journal(&mut self) {
        self.journal.extend(self.sut.drain_journal());
        let seqs: Vec<u64> = self.journal.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
        let recovered = replay(&self.journal);
        let now = self.now;
        let snapshot = self.sut.snapshot(now);
        let shut = snapshot.shutting_down;
        for key in &self.keys {
            let status = self.sut.lane_status(*key, now);
            let saved = recovered.lanes.get(key).cloned().unwrap_or_default();
            let mut user: Vec<ItemId> = saved.user.iter().map(|i| i.id.clone()).collect();
            let mut cron: Vec<ItemId> = saved.cron.iter().map(|i| i.id.clone()).collect();
            let (mut want_user, mut want_cron): (Vec<ItemId>, Vec<ItemId>) = (
                status.queued[..status.queued_user].to_vec(),
                status.queued[status.queued_user..].to_vec(),
            );
            if shut {
                // Handed-back items stay queued in the journal, to run after
                // a restart.
                for item in self.handed_back.iter().filter(|i| i.lane == *key) {
                    if item.origin.is_scheduled() {
                        want_cron.push(item.id.clone());
                    } else {
                        want_user.push(item.id.clone());
                    }
                }
                for v in [&mut user, &mut cron, &mut want_user, &mut want_cron] {
                    v.sort();
                }
            }
            assert_eq!(
                (user, cron),
                (want_user, want_cron),
                "replayed queues of {key}"
            );
            // A `/new` waiting for its run forgets the sessions in the
            // journal at once: that run is gone after a restart.
            let sessions = if self.model.lane(*key).forget_at_finish {
                [None, None]
            } else {
                [status.claude_session.clone(), status.codex_session.clone()]
            };
            assert_eq!(saved.sessions, sessions, "replayed sessions of {key}");
            assert_eq!(saved.preferences.unwrap_or_default(), status.preferences);
        }
        let in_flight: Vec<(RunId, ItemId)> = recovered
            .in_flight
            .iter()
            .map(|(run, item)| (*run, item.id.clone()))
            .collect();
        let mut want: Vec<(RunId, ItemId)> = snapshot
            .lanes
            .iter()
            .filter_map(|l| l.run.as_ref().map(|r| (r.run, r.item.clone())))
            .collect();
        want.sort();
        assert_eq!(in_flight, want, "replayed in-flight runs");
        let jobs: Vec<_> = recovered
            .cron
            .iter()
            .map(|(id, j)| (id.clone(), j.lane, j.kind, j.pending.clone()))
            .collect();
        let mut want_jobs: Vec<_> = self
            .model
            .jobs
            .iter()
            .map(|j| (j.id.clone(), j.lane, j.kind, j.pending.clone()))
            .collect();
        want_jobs.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(jobs, want_jobs, "replayed cron jobs");

        let mut fresh = Machine::<StdCancel>::new(self.config.clone());
        let later = Millis(now.0 + 1);
        let tickets = fresh.restore(recovered.clone(), later);
        let (restored, want_tickets) =
            Model::restored(self.config.clone(), &self.keys, &recovered, later);
        let got: Vec<MTicket> = tickets.iter().map(as_model).collect();
        assert_eq!(got, want_tickets, "restore starts");
        assert_eq!(
            fresh.snapshot(later),
            restored.snapshot(later),
            "restored state"
        );
        let max_run = self.runner.iter().map(|h| h.ticket.run).max();
        for t in &tickets {
            assert!(Some(t.run) > max_run, "run ids stay unique across restarts");
            assert!(
                !want.iter().any(|(_, id)| *id == t.item.id),
                "restore reran {}",
                t.item.id
            );
        }
        check_snapshot(&fresh.snapshot(later), fresh.in_flight(), fresh.queued());
        for item in recovered.in_flight.values() {
            let again = fresh.submit(item.clone(), later);
            assert_eq!(
                again.err(),
                Some(Error::Duplicate(item.id.clone())),
                "redelivery of an in-flight item"
            );
        }
    }
}

fn run_case(case: &Case) {
    let mut h = Harness::new(case);
    h.check();
    for (step, op) in case.ops.iter().enumerate() {
        h.now = Millis(step as u64 * 7 + 1);
        if case.shutdown_at == Some(step) {
            h.shutdown();
            h.check();
        }
        h.step(op);
        h.check();
    }
    h.check_journal();
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn machine_matches_model_and_keeps_invariants(case in case()) {
        run_case(&case);
    }
}
