//! SPEC's invariants, checked over what one execution observed.
//!
//! A fact learnt from an operation's answer holds somewhere inside that
//! operation's interval, so "before" below always means "certainly before":
//! one interval ends before the other begins. Facts recorded inside a
//! system's critical section are points, and compare exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use crate::observe::{CancelBy, End, Fact, Kind, Run, Stamped};
use crate::report::Report;
use crate::system::Quiescence;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    Exclusion,
    NoLoss,
    NoDuplication,
    Order,
    Priority,
    Refusal,
    StopBinding,
    Ownership,
    Cron,
    Progress,
    Snapshot,
    Answers,
}

impl Invariant {
    pub const ALL: [Invariant; 12] = [
        Invariant::Exclusion,
        Invariant::NoLoss,
        Invariant::NoDuplication,
        Invariant::Order,
        Invariant::Priority,
        Invariant::Refusal,
        Invariant::StopBinding,
        Invariant::Ownership,
        Invariant::Cron,
        Invariant::Progress,
        Invariant::Snapshot,
        Invariant::Answers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Invariant::Exclusion => "exclusion",
            Invariant::NoLoss => "no_loss",
            Invariant::NoDuplication => "no_duplication",
            Invariant::Order => "order",
            Invariant::Priority => "priority",
            Invariant::Refusal => "refusal",
            Invariant::StopBinding => "stop_binding",
            Invariant::Ownership => "ownership",
            Invariant::Cron => "cron",
            Invariant::Progress => "progress",
            Invariant::Snapshot => "snapshot",
            Invariant::Answers => "answers",
        }
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Invariant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Invariant::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
                format!("unknown invariant {s:?} (one of {})", names.join(", "))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub message: String,
}

/// Why a run's questions can no longer be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunClosed {
    Cancelled,
    Ended,
}

impl std::fmt::Display for RunClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunClosed::Cancelled => "cancelled",
            RunClosed::Ended => "ended",
        })
    }
}

struct Checker<'a> {
    report: &'a Report,
    facts: &'a [Stamped],
    out: Vec<Violation>,
}

fn before(a: &Stamped, b: &Stamped) -> bool {
    a.end < b.begin
}

impl<'a> Checker<'a> {
    fn fail(&mut self, invariant: Invariant, message: String) {
        self.out.push(Violation { invariant, message });
    }

    fn lane(&self, lane: usize) -> &str {
        self.report.lanes.get(lane).map_or("?", String::as_str)
    }

    fn find(&self, pred: impl Fn(&Fact) -> bool) -> Vec<&'a Stamped> {
        self.facts.iter().filter(|s| pred(&s.fact)).collect()
    }

    fn admitted(&self, run: Run) -> Option<&'a Stamped> {
        self.facts
            .iter()
            .find(|s| matches!(&s.fact, Fact::Admitted { run: r, .. } if *r == run))
    }

    fn finished(&self, run: Run) -> Option<&'a Stamped> {
        self.facts
            .iter()
            .find(|s| matches!(&s.fact, Fact::Finished { run: r, .. } if *r == run))
    }

    /// **Run now** made the item an interrupt: it may go first.
    fn promoted(&self, item: &str) -> bool {
        self.facts
            .iter()
            .any(|s| matches!(&s.fact, Fact::Promoted { item: i, .. } if i == item))
    }

    fn exclusion(&mut self) {
        let mut alive: BTreeMap<Run, usize> = BTreeMap::new();
        for stamped in self.facts {
            match &stamped.fact {
                Fact::Spawned { run, lane } => {
                    if let Some((other, _)) = alive.iter().find(|(_, l)| **l == *lane) {
                        let message = format!(
                            "lane {}: r{run} spawned while r{other} is still alive",
                            self.lane(*lane)
                        );
                        self.fail(Invariant::Exclusion, message);
                    }
                    alive.insert(*run, *lane);
                    if alive.len() > self.report.capacity {
                        let message = format!(
                            "{} agents alive at once over capacity {}",
                            alive.len(),
                            self.report.capacity
                        );
                        self.fail(Invariant::Exclusion, message);
                    }
                }
                Fact::Exited { run, .. } => {
                    alive.remove(run);
                }
                _ => {}
            }
        }
    }

    fn duplication(&mut self) {
        let mut started: HashMap<&str, usize> = HashMap::new();
        for stamped in self.facts {
            match &stamped.fact {
                Fact::Admitted { item, run, .. } => {
                    let count = started.entry(item.as_str()).or_insert(0);
                    *count += 1;
                    if *count > 1 {
                        let message = format!("item {item} started twice (again as r{run})");
                        self.fail(Invariant::NoDuplication, message);
                    }
                }
                Fact::Requeued { item } => {
                    started.insert(item.as_str(), 0);
                }
                _ => {}
            }
        }
    }

    fn loss(&mut self, quiescence: Quiescence) {
        // Facts of concurrent operations may be recorded out of order, so
        // an item is open when it came in and never ended, whatever order.
        let mut came: BTreeSet<&str> = BTreeSet::new();
        let mut ended: BTreeSet<&str> = BTreeSet::new();
        for stamped in self.facts {
            match &stamped.fact {
                Fact::Admitted { item, .. } | Fact::Queued { item, .. } => {
                    came.insert(item.as_str());
                }
                Fact::Finished { item, end, .. } if *end != End::Preempted => {
                    ended.insert(item.as_str());
                }
                Fact::Removed { item } => {
                    ended.insert(item.as_str());
                }
                _ => {}
            }
        }
        for item in came.difference(&ended) {
            let message =
                format!("item {item} was admitted but neither finished nor reported removed");
            self.fail(Invariant::NoLoss, message);
        }
        // Exactly one end: an item reported removed never started, unless
        // it was a preempted fire put back in the queue.
        for removed in self.facts {
            let Fact::Removed { item } = &removed.fact else {
                continue;
            };
            let requeued = self
                .facts
                .iter()
                .any(|s| matches!(&s.fact, Fact::Requeued { item: i } if i == item));
            let run = self.facts.iter().find_map(|s| match &s.fact {
                Fact::Admitted { item: i, run, .. } if i == item => Some(*run),
                _ => None,
            });
            if let (Some(run), false) = (run, requeued) {
                let message = format!("item {item} was reported removed, and it started as r{run}");
                self.fail(Invariant::NoLoss, message);
            }
        }
        if quiescence.queued > 0 {
            let message = format!(
                "{} items still queued when all actors are done and nothing runs",
                quiescence.queued
            );
            self.fail(Invariant::NoLoss, message);
        }
        if quiescence.in_flight > 0 {
            let message = format!(
                "{} runs still in flight that no runner holds",
                quiescence.in_flight
            );
            self.fail(Invariant::NoLoss, message);
        }
    }

    fn order(&mut self) {
        // Per lane, user items in order of (certain) arrival; a redelivered
        // copy does not count as a second arrival.
        let mut seen = BTreeSet::new();
        let arrivals: Vec<(&str, usize, &Stamped)> = self
            .facts
            .iter()
            .filter_map(|s| match &s.fact {
                Fact::Arrived {
                    item,
                    lane,
                    kind: Kind::User,
                } if seen.insert(item.as_str()) => Some((item.as_str(), *lane, s)),
                _ => None,
            })
            .collect();
        let start = |item: &str| {
            self.facts
                .iter()
                .find(|s| matches!(&s.fact, Fact::Admitted { item: i, .. } if i == item))
        };
        for (i, (a, lane_a, arrived_a)) in arrivals.iter().enumerate() {
            for (b, lane_b, arrived_b) in &arrivals[i + 1..] {
                if lane_a != lane_b || a == b || !before(arrived_a, arrived_b) || self.promoted(b) {
                    continue;
                }
                if let (Some(start_a), Some(start_b)) = (start(a), start(b))
                    && before(start_b, start_a)
                {
                    let message = format!(
                        "lane {}: {b} started before {a}, which arrived first",
                        self.lane(*lane_a)
                    );
                    self.fail(Invariant::Order, message);
                }
            }
        }
    }

    /// An interrupt takes exactly the capacity its cancelled run frees: the
    /// finish of that run must not hand the slot to another lane instead.
    fn interrupt_first(&mut self) {
        let same_op = |a: &Stamped, b: &Stamped| a.begin == b.begin && a.actor == b.actor;
        for named in self.facts {
            let Fact::Named {
                by: CancelBy::Interrupt,
                lane,
                run: Some(run),
                ..
            } = named.fact
            else {
                continue;
            };
            let Some(item) = self.facts.iter().find_map(|a| match &a.fact {
                Fact::Arrived {
                    item,
                    kind: Kind::Interrupt,
                    lane: l,
                }
                | Fact::Promoted { item, lane: l }
                    if *l == lane && same_op(a, named) =>
                {
                    Some(item.as_str())
                }
                _ => None,
            }) else {
                continue;
            };
            let Some(finish) = self.finished(run) else {
                continue;
            };
            let handed: Vec<(&str, usize)> = self
                .facts
                .iter()
                .filter(|a| same_op(a, finish))
                .filter_map(|a| match &a.fact {
                    Fact::Admitted { item, lane, .. } => Some((item.as_str(), *lane)),
                    _ => None,
                })
                .collect();
            let other = handed.iter().find(|(_, l)| *l != lane);
            if let Some((other, _)) = other
                && !handed.iter().any(|(i, _)| *i == item)
            {
                let message = format!(
                    "the finish of interrupted r{run} started {other} of another lane before interrupt {item}"
                );
                self.fail(Invariant::Order, message);
            }
        }
    }

    fn stop_binding(&mut self) {
        let named: Vec<&Stamped> = self.find(|f| matches!(f, Fact::Named { .. }));
        for stamped in &named {
            let Fact::Named {
                by,
                lane,
                run,
                admitted,
                cancel_set,
            } = &stamped.fact
            else {
                unreachable!()
            };
            match run {
                Some(run) => {
                    if !cancel_set {
                        let message = format!(
                            "{by:?} named r{run} but its cancellation was not set when it returned"
                        );
                        self.fail(Invariant::StopBinding, message);
                    }
                    if *admitted {
                        for spawned in
                            self.find(|f| matches!(f, Fact::Spawned { run: r, .. } if r == run))
                        {
                            if before(stamped, spawned) {
                                let message = format!(
                                    "r{run} was stopped before it spawned, and spawned anyway"
                                );
                                self.fail(Invariant::StopBinding, message);
                            }
                        }
                    }
                }
                None if *by != CancelBy::Preempt => {
                    // A run that was certainly in flight the whole time.
                    for admitted in
                        self.find(|f| matches!(f, Fact::Admitted { lane: l, .. } if l == lane))
                    {
                        let Fact::Admitted { run, .. } = admitted.fact else {
                            unreachable!()
                        };
                        let ended_after = self.finished(run).is_none_or(|f| before(stamped, f));
                        if before(admitted, stamped) && ended_after {
                            let message = format!(
                                "{by:?} in lane {} cancelled nothing while r{run} was in flight",
                                self.lane(*lane)
                            );
                            self.fail(Invariant::StopBinding, message);
                        }
                    }
                }
                None => {}
            }
        }
        for killed in self.find(|f| matches!(f, Fact::Killed { .. })) {
            let Fact::Killed { run } = killed.fact else {
                unreachable!()
            };
            let named_before = named.iter().any(|n| {
                matches!(n.fact, Fact::Named { run: Some(r), .. } if r == run)
                    && n.begin < killed.end
            });
            if !named_before {
                let message = format!("r{run} was cancelled though no stop or interrupt named it");
                self.fail(Invariant::StopBinding, message);
            }
        }
    }

    fn ownership(&mut self, sessions: &[(usize, String)]) {
        for stamped in self.facts {
            match &stamped.fact {
                Fact::RetryAccepted { run } => {
                    // Judged from the moment the stalled agent was killed,
                    // which is before the runner asks for the retry: a
                    // cancellation that returned before that kill came
                    // certainly before the retry call.
                    let killed = self
                        .facts
                        .iter()
                        .filter(|e| {
                            matches!(e.fact, Fact::Exited { run: r, .. } if r == *run)
                                && e.end <= stamped.end
                        })
                        .max_by_key(|e| e.end)
                        .unwrap_or(stamped);
                    let cancelled = self.facts.iter().any(|n| {
                        matches!(n.fact, Fact::Named { run: Some(r), .. } if r == *run)
                            && (before(n, stamped) || before(n, killed))
                    });
                    if cancelled {
                        let message = format!(
                            "a retry of r{run} was accepted after it was cancelled (before its agent was killed)"
                        );
                        self.fail(Invariant::Ownership, message);
                    }
                }
                Fact::OutputAccepted { run }
                    if self.finished(*run).is_some_and(|f| before(f, stamped)) =>
                {
                    let message = format!("output of r{run} was accepted after r{run} finished");
                    self.fail(Invariant::Ownership, message);
                }
                Fact::SessionAccepted { run, lane, .. } => {
                    let stale_by_new = self.facts.iter().any(|n| {
                        matches!(n.fact, Fact::NewSession { lane: l } if l == *lane)
                            && before(n, stamped)
                            && self.admitted(*run).is_some_and(|a| before(a, n))
                    });
                    let finished = self.finished(*run).is_some_and(|f| before(f, stamped));
                    if stale_by_new || finished {
                        let message = format!(
                            "a session id from r{run} was accepted after {}",
                            if finished { "r{run} finished" } else { "/new" }
                        );
                        self.fail(
                            Invariant::Ownership,
                            message.replace("{run}", &run.to_string()),
                        );
                    }
                }
                Fact::Resent {
                    lane,
                    source: Some(source),
                } if source != lane => {
                    let message = format!(
                        "/retry in lane {} re-sent an item of lane {}",
                        self.lane(*lane),
                        self.lane(*source)
                    );
                    self.fail(Invariant::Ownership, message);
                }
                _ => {}
            }
        }
        // No run resumes a session that a /new of its lane forgot: every run
        // that reported it was admitted before that /new, and the /new
        // returned before this run was admitted.
        for stamped in self.facts {
            let Fact::Captured {
                run,
                lane,
                resume: Some(id),
                ..
            } = &stamped.fact
            else {
                continue;
            };
            let Some(admitted) = self.admitted(*run) else {
                continue;
            };
            let reporters: Vec<Run> = self
                .facts
                .iter()
                .filter_map(|s| match &s.fact {
                    Fact::SessionAccepted { run, id: i, .. } if i == id => Some(*run),
                    _ => None,
                })
                .collect();
            let forgotten = self.facts.iter().any(|n| {
                matches!(n.fact, Fact::NewSession { lane: l } if l == *lane)
                    && before(n, admitted)
                    && !reporters.is_empty()
                    && reporters
                        .iter()
                        .all(|r| self.admitted(*r).is_some_and(|a| before(a, n)))
            });
            if forgotten {
                let message = format!(
                    "r{run} in lane {} resumes session {id}, which a /new had forgotten",
                    self.lane(*lane)
                );
                self.fail(Invariant::Ownership, message);
            }
        }
        for (lane, id) in sessions {
            let reporter = self.facts.iter().find_map(|s| match &s.fact {
                Fact::SessionAccepted { run, id: i, .. } if i == id => Some(*run),
                _ => None,
            });
            let Some(run) = reporter else { continue };
            let reset_after = self.facts.iter().any(|n| {
                matches!(n.fact, Fact::NewSession { lane: l } if l == *lane)
                    && self.admitted(run).is_some_and(|a| before(a, n))
            });
            if reset_after {
                let message = format!(
                    "lane {} resumes session {id} of r{run}, from before its /new",
                    self.lane(*lane)
                );
                self.fail(Invariant::Ownership, message);
            }
        }
    }

    fn cron(&mut self) {
        let mut fired = BTreeSet::new();
        for stamped in self.facts {
            if let Fact::CronFire { job, item } = &stamped.fact {
                if !fired.insert(item.as_str()) {
                    self.fail(Invariant::Cron, format!("fire {item} ran twice"));
                }
                let cancelled = self.facts.iter().any(|c| {
                    matches!(c.fact, Fact::CronCancelled { job: j } if j == *job)
                        && before(c, stamped)
                });
                if cancelled {
                    let name = &self.report.cron[*job].name;
                    let message = format!("job {name} fired ({item}) after its cancel returned");
                    self.fail(Invariant::Cron, message);
                }
            }
        }
        // A preempted fire comes back, unless the user then stopped it.
        for stamped in self.facts {
            let Fact::Named {
                by: CancelBy::Preempt,
                run: Some(run),
                ..
            } = stamped.fact
            else {
                continue;
            };
            let user_stopped = self.facts.iter().any(|n| {
                matches!(n.fact, Fact::Named { by, run: Some(r), .. } if r == run && by != CancelBy::Preempt)
            });
            let Some(Fact::Admitted { item, .. }) = self.admitted(run).map(|a| &a.fact) else {
                continue;
            };
            let requeued = self
                .facts
                .iter()
                .any(|s| matches!(&s.fact, Fact::Requeued { item: i } if i == item));
            let ended_normally = self.facts.iter().any(|s| {
                matches!(&s.fact, Fact::Finished { run: r, end: End::Completed | End::Failed, .. } if *r == run)
            });
            if !user_stopped && !requeued && !ended_normally {
                let message = format!("preempted fire {item} (r{run}) was not requeued: lost");
                self.fail(Invariant::Cron, message);
            }
        }
    }

    /// A preempted fire goes back to the head of its lane's cron work:
    /// no cron item that waited in that lane when it was requeued starts
    /// before it does again.
    fn requeued_first(&mut self) {
        for requeued in self.facts {
            let Fact::Requeued { item: fire } = &requeued.fact else {
                continue;
            };
            let Some(lane) = self.facts.iter().find_map(|s| match &s.fact {
                Fact::Admitted { item, lane, .. } if item == fire && before(s, requeued) => {
                    Some(*lane)
                }
                _ => None,
            }) else {
                continue;
            };
            let again = self.facts.iter().find(|s| {
                matches!(&s.fact, Fact::Admitted { item, .. } if item == fire)
                    && before(requeued, s)
            });
            let removed = self
                .facts
                .iter()
                .find(|s| matches!(&s.fact, Fact::Removed { item } if item == fire));
            for queued in self.facts {
                let Fact::Queued {
                    item: other,
                    lane: l,
                    kind: Kind::Cron,
                } = &queued.fact
                else {
                    continue;
                };
                if *l != lane || other == fire || !before(queued, requeued) {
                    continue;
                }
                // Certainly still waiting when the fire was requeued.
                let Some(started) = self
                    .facts
                    .iter()
                    .find(|s| matches!(&s.fact, Fact::Admitted { item, .. } if item == other))
                else {
                    continue;
                };
                if !before(requeued, started) {
                    continue;
                }
                let overtaken = match (again, removed) {
                    (Some(again), _) => before(started, again),
                    (None, Some(removed)) => before(started, removed),
                    (None, None) => true,
                };
                if overtaken {
                    let message = format!(
                        "lane {}: preempted fire {fire} was requeued behind {other}, which started first",
                        self.lane(lane)
                    );
                    self.fail(Invariant::Priority, message);
                }
            }
        }
    }

    /// A fire the user stopped (or a `/new` cancelled) is not requeued,
    /// even if it had been preempted first.
    fn stopped_fire_stays_stopped(&mut self) {
        for finished in self.facts {
            let Fact::Finished {
                run,
                item,
                end: End::Preempted,
            } = &finished.fact
            else {
                continue;
            };
            let stopped = self.facts.iter().any(|n| {
                matches!(n.fact, Fact::Named { by: CancelBy::Stop | CancelBy::New, run: Some(r), .. } if r == *run)
                    && before(n, finished)
            });
            if stopped {
                let message = format!("fire {item} (r{run}) was requeued after a user stopped it");
                self.fail(Invariant::Cron, message);
            }
        }
    }

    /// What a `stop LANE clear` or a `/new` removed never starts: an item
    /// queued in the lane before it returned does not start after.
    fn cleared_stays_cleared(&mut self) {
        for cleared in self.facts {
            let (lane, by) = match cleared.fact {
                Fact::Cleared { lane } => (lane, "stop clear"),
                Fact::NewSession { lane } => (lane, "/new"),
                _ => continue,
            };
            for queued in self.facts {
                let Fact::Queued { item, lane: l, .. } = &queued.fact else {
                    continue;
                };
                if *l != lane || !before(queued, cleared) {
                    continue;
                }
                let mut admissions = self
                    .facts
                    .iter()
                    .filter(|s| matches!(&s.fact, Fact::Admitted { item: i, .. } if i == item));
                let started_late = admissions
                    .next()
                    .is_some_and(|first| before(cleared, first));
                if started_late {
                    let message = format!(
                        "{item} was queued in lane {} before a {by} returned, and started after it",
                        self.lane(lane)
                    );
                    self.fail(Invariant::StopBinding, message);
                }
            }
        }
    }

    /// No fire of a cancelled job starts once the cancel returned, even one
    /// that was already queued.
    fn cancelled_fire_never_starts(&mut self) {
        for cancel in self.facts {
            let Fact::CronCancelled { job } = cancel.fact else {
                continue;
            };
            for fire in self.facts {
                let Fact::CronFire {
                    job: j,
                    item: fired,
                } = &fire.fact
                else {
                    continue;
                };
                if *j != job {
                    continue;
                }
                let late = self.facts.iter().any(|s| {
                    matches!(&s.fact, Fact::Admitted { item, .. } if item == fired)
                        && before(cancel, s)
                });
                if late {
                    let name = &self.report.cron[job].name;
                    let message = format!(
                        "fire {fired} of job {name} started after the job's cancel returned"
                    );
                    self.fail(Invariant::Cron, message);
                }
            }
        }
    }

    /// User work goes before cron work across lanes: no cron item starts
    /// while a user item waits in a lane that is certainly idle.
    fn priority(&mut self) {
        for started in self.facts {
            let Fact::Admitted {
                item: fire,
                kind: Kind::Cron,
                ..
            } = &started.fact
            else {
                continue;
            };
            for queued in self.facts {
                let Fact::Queued {
                    item: waiting,
                    lane,
                    kind,
                } = &queued.fact
                else {
                    continue;
                };
                if *kind == Kind::Cron || !before(queued, started) {
                    continue;
                }
                let still_waiting = self.facts.iter().all(|s| match &s.fact {
                    Fact::Admitted { item, .. } | Fact::Removed { item } if item == waiting => {
                        before(started, s)
                    }
                    _ => true,
                });
                // Every run of its lane ended before, or began after.
                let idle = self.facts.iter().all(|s| match s.fact {
                    Fact::Admitted { run, lane: l, .. } if l == *lane => {
                        before(started, s) || self.finished(run).is_some_and(|f| before(f, started))
                    }
                    _ => true,
                });
                if still_waiting && idle {
                    let message = format!(
                        "cron item {fire} started while user item {waiting} waited in idle lane {}",
                        self.lane(*lane)
                    );
                    self.fail(Invariant::Priority, message);
                }
            }
        }
    }

    /// A full lane queue refuses the new item: nothing is queued while
    /// `max_queue` user items certainly wait in the lane.
    fn refusal(&mut self) {
        let user = |kind: &Kind| *kind != Kind::Cron;
        for queued in self.facts {
            let Fact::Queued { item, lane, kind } = &queued.fact else {
                continue;
            };
            if !user(kind) {
                continue;
            }
            let waiting: Vec<&str> = self
                .facts
                .iter()
                .filter_map(|s| match &s.fact {
                    Fact::Queued {
                        item: w,
                        lane: l,
                        kind: k,
                    } if l == lane && user(k) && w != item && before(s, queued) => Some(w.as_str()),
                    _ => None,
                })
                .filter(|w| {
                    self.facts.iter().all(|s| match &s.fact {
                        Fact::Admitted { item, .. } | Fact::Removed { item } if item == w => {
                            before(queued, s)
                        }
                        _ => true,
                    })
                })
                .collect();
            if waiting.len() >= self.report.max_queue {
                let message = format!(
                    "lane {}: {item} was queued while {} already filled the queue (max_queue {}); it should have been refused",
                    self.lane(*lane),
                    waiting.join(" "),
                    self.report.max_queue
                );
                self.fail(Invariant::Refusal, message);
            }
        }
    }

    /// Runs certainly in flight during the whole of `op`.
    fn in_flight_during(&self, op: &Stamped) -> Vec<(Run, usize, Kind)> {
        self.facts
            .iter()
            .filter_map(|s| match s.fact {
                Fact::Admitted {
                    run, lane, kind, ..
                } if before(s, op) && self.finished(run).is_none_or(|f| before(op, f)) => {
                    Some((run, lane, kind))
                }
                _ => None,
            })
            .collect()
    }

    /// Nothing shows the run was ever asked to stop: no operation named
    /// it, its runner saw no cancellation, it did not end cancelled. (An
    /// interrupt's preemption for capacity names no run in its answer;
    /// those two signs stand for it.)
    fn never_cancelled(&self, run: Run) -> bool {
        !self.facts.iter().any(|s| match s.fact {
            Fact::Named { run: Some(r), .. } | Fact::Killed { run: r } => r == run,
            Fact::Finished { run: r, end, .. } => {
                r == run && matches!(end, End::Cancelled | End::Preempted)
            }
            _ => false,
        })
    }

    /// User work waiting preempts cron work in its way: a cron run holding
    /// the user item's lane, or, when every slot is held by runs nobody
    /// asked to stop and the user item's lane is idle, a cron run holding
    /// one of them.
    fn preemption(&mut self) {
        for queued in self.facts {
            let Fact::Queued { item, lane, kind } = &queued.fact else {
                continue;
            };
            if *kind == Kind::Cron {
                continue;
            }
            let flying = self.in_flight_during(queued);
            let in_lane = flying
                .iter()
                .find(|(run, l, k)| l == lane && *k == Kind::Cron && self.never_cancelled(*run));
            if let Some((run, ..)) = in_lane {
                let message = format!(
                    "{item} waited behind cron run r{run} of lane {}, which was never preempted",
                    self.lane(*lane)
                );
                self.fail(Invariant::Priority, message);
                continue;
            }
            let lane_idle = flying.iter().all(|(_, l, _)| l != lane);
            let unnamed = flying.iter().all(|(run, ..)| self.never_cancelled(*run));
            let cron = flying.iter().find(|(_, _, k)| *k == Kind::Cron);
            if lane_idle
                && unnamed
                && flying.len() >= self.report.capacity
                && let Some((run, l, _)) = cron
            {
                let message = format!(
                    "{item} waited for capacity in lane {} while cron run r{run} of lane {} held a slot and none was preempted",
                    self.lane(*lane),
                    self.lane(*l)
                );
                self.fail(Invariant::Priority, message);
            }
        }
    }

    /// A `!` that cancelled its lane's run goes before the plain user items
    /// waiting in that lane.
    fn interrupt_ahead(&mut self) {
        let same_op = |a: &Stamped, b: &Stamped| a.begin == b.begin && a.actor == b.actor;
        for queued in self.facts {
            let Fact::Queued {
                item: bang,
                lane,
                kind: Kind::Interrupt,
            } = &queued.fact
            else {
                continue;
            };
            let cancelled = self.facts.iter().any(|n| {
                matches!(n.fact, Fact::Named { by: CancelBy::Interrupt, lane: l, run: Some(_), .. } if l == *lane)
                    && same_op(n, queued)
            });
            let start = |item: &str| {
                self.facts
                    .iter()
                    .find(|s| matches!(&s.fact, Fact::Admitted { item: i, .. } if i == item))
            };
            let Some(bang_start) = start(bang).filter(|_| cancelled) else {
                continue;
            };
            for other in self.facts {
                let Fact::Queued {
                    item: waiting,
                    lane: l,
                    kind: Kind::User | Kind::Copy,
                } = &other.fact
                else {
                    continue;
                };
                if l != lane || !before(other, queued) || self.promoted(waiting) {
                    continue;
                }
                if let Some(waiting_start) = start(waiting)
                    && before(queued, waiting_start)
                    && before(waiting_start, bang_start)
                {
                    let message = format!(
                        "lane {}: {waiting} started before interrupt {bang}, which goes first",
                        self.lane(*lane)
                    );
                    self.fail(Invariant::Order, message);
                }
            }
        }
    }

    /// A job has at most one fire pending: none is claimed while an earlier
    /// fire of the same job certainly waits or runs.
    fn one_fire_pending(&mut self) {
        for later in self.facts {
            let Fact::CronFire { job, item: second } = &later.fact else {
                continue;
            };
            for earlier in self.facts {
                let Fact::CronFire {
                    job: j,
                    item: first,
                } = &earlier.fact
                else {
                    continue;
                };
                if j != job || first == second || !before(earlier, later) {
                    continue;
                }
                let ended = self.facts.iter().find(|s| match &s.fact {
                    Fact::Finished { item, end, .. } => item == first && *end != End::Preempted,
                    Fact::Removed { item } => item == first,
                    _ => false,
                });
                if ended.is_none_or(|e| before(later, e)) {
                    let name = &self.report.cron[*job].name;
                    let message = format!(
                        "job {name} fired {second} while its fire {first} was still pending"
                    );
                    self.fail(Invariant::Cron, message);
                }
                // A one-shot job is gone once its fire completed or failed
                // (a run in flight at a restart ends failed).
                let retired = self.facts.iter().any(|s| {
                    matches!(&s.fact, Fact::Finished { item, end: End::Completed | End::Failed, .. } if item == first)
                        && before(s, later)
                });
                if retired && self.report.cron[*job].kind == baton_core::CronKind::OneShot {
                    let name = &self.report.cron[*job].name;
                    let message =
                        format!("one-shot job {name} fired {second} after its fire {first} ended");
                    self.fail(Invariant::Cron, message);
                }
            }
        }
    }

    /// What shows that `run` can no longer be answered: a stop, `!`,
    /// `/new`, **Run now** or preemption that named it, and its end.
    fn closed_run(&self, run: Run) -> Vec<(&'a Stamped, RunClosed)> {
        self.facts
            .iter()
            .filter_map(|s| match s.fact {
                Fact::Named { run: Some(r), .. } if r == run => Some((s, RunClosed::Cancelled)),
                Fact::Finished { run: r, .. } if r == run => Some((s, RunClosed::Ended)),
                _ => None,
            })
            .collect()
    }

    /// The accepted taps and withdrawals of `question`: what closed it.
    fn closes(&self, question: &str) -> Vec<&'a Stamped> {
        self.find(|f| {
            matches!(f, Fact::Tapped { question: q, accepted: true, .. }
                | Fact::Withdrawn { question: q, accepted: true, .. } if q == question)
        })
    }

    /// Every answer reaches exactly the question it names, of the run that
    /// asked it, at most once; nothing of a cancelled or finished run is
    /// asked or answered; a refused tap changes nothing.
    fn answers(&mut self) {
        for stamped in self.facts {
            match &stamped.fact {
                Fact::Asked { run, question } => {
                    if let Some((_, why)) = self
                        .closed_run(*run)
                        .iter()
                        .find(|(c, _)| before(c, stamped))
                    {
                        let message = format!("r{run} asked {question} after it was {why}");
                        self.fail(Invariant::Answers, message);
                    }
                }
                Fact::Tapped {
                    run,
                    question,
                    accepted,
                }
                | Fact::Withdrawn {
                    run,
                    question,
                    accepted,
                } => {
                    let tap = matches!(stamped.fact, Fact::Tapped { .. });
                    self.answer(stamped, *run, question, *accepted, tap);
                }
                _ => {}
            }
        }
        let mut labels: Vec<&str> = self
            .facts
            .iter()
            .filter_map(|s| match &s.fact {
                Fact::Asked { question, .. } => Some(question.as_str()),
                _ => None,
            })
            .collect();
        labels.dedup();
        for question in labels {
            let closes = self.closes(question);
            let taps = closes
                .iter()
                .filter(|s| matches!(s.fact, Fact::Tapped { .. }))
                .count();
            if closes.len() > 1 {
                let message = if taps == closes.len() {
                    format!("question {question} was answered {taps} times")
                } else {
                    format!(
                        "question {question} was closed {} times ({taps} answers)",
                        closes.len()
                    )
                };
                self.fail(Invariant::Answers, message);
            }
        }
    }

    fn answer(&mut self, stamped: &Stamped, run: Run, question: &str, accepted: bool, tap: bool) {
        let what = if tap { "a tap on" } else { "the withdrawal of" };
        let Some(asked) = self
            .facts
            .iter()
            .find(|s| matches!(&s.fact, Fact::Asked { question: q, .. } if q == question))
        else {
            if accepted {
                let message = format!("{what} {question} was accepted, which no run asked");
                self.fail(Invariant::Answers, message);
            }
            return;
        };
        let Fact::Asked { run: asker, .. } = asked.fact else {
            unreachable!()
        };
        if asker != run {
            let message = format!("{what} {question} named r{run}, but r{asker} asked it");
            self.fail(Invariant::Answers, message);
            return;
        }
        let closed_run = self.closed_run(run);
        if accepted {
            if let Some((_, why)) = closed_run.iter().find(|(c, _)| tap && before(c, stamped)) {
                let message =
                    format!("{what} {question} of r{run} was accepted after r{run} was {why}");
                self.fail(Invariant::Answers, message);
            }
            return;
        }
        // Refused: only a close, a cancellation or the run's end that may
        // have come first explains it. A refused tap must leave the question
        // as it was, so the runner can still withdraw it.
        let open =
            before(asked, stamped) && self.closes(question).iter().all(|c| before(stamped, c));
        let live = closed_run
            .iter()
            .all(|(c, why)| (!tap && *why == RunClosed::Cancelled) || before(stamped, c));
        let cancelled_unseen = tap && !self.never_cancelled(run);
        if open && live && !cancelled_unseen {
            let message = format!(
                "{what} {question} of r{run} was refused while it was open and r{run} was live"
            );
            self.fail(Invariant::Answers, message);
        }
    }

    fn snapshot(&mut self) {
        for stamped in self.facts {
            match &stamped.fact {
                Fact::Snapshot { problems } => {
                    for problem in problems {
                        self.fail(Invariant::Snapshot, format!("snapshot: {problem}"));
                    }
                }
                Fact::Waiting { shown } => self.waiting(stamped, shown),
                _ => {}
            }
        }
    }

    /// A snapshot shows what each run waits for: every question certainly
    /// open during it, and none that was closed, or whose run was
    /// cancelled, before it began.
    fn waiting(&mut self, snapshot: &Stamped, shown: &[(Run, String)]) {
        for (run, question) in shown {
            let closed = self
                .closes(question)
                .into_iter()
                .any(|c| before(c, snapshot));
            let cancelled = self
                .closed_run(*run)
                .iter()
                .any(|(c, why)| *why == RunClosed::Cancelled && before(c, snapshot));
            if closed || cancelled {
                let why = if closed {
                    "closed"
                } else {
                    "denied by its run's cancellation"
                };
                let message =
                    format!("a snapshot showed r{run} waiting for {question}, {why} before it");
                self.fail(Invariant::Snapshot, message);
            }
        }
        for asked in self.facts {
            let Fact::Asked { run, question } = &asked.fact else {
                continue;
            };
            let open = before(asked, snapshot)
                && self.closes(question).iter().all(|c| before(snapshot, c))
                && self
                    .closed_run(*run)
                    .iter()
                    .all(|(c, _)| before(snapshot, c))
                && self.never_cancelled(*run);
            let listed = shown.iter().any(|(r, q)| r == run && q == question);
            if open && !listed {
                let message = format!("a snapshot did not show r{run} waiting for open {question}");
                self.fail(Invariant::Snapshot, message);
            }
        }
    }
}

/// Every violation of every invariant in one execution.
pub fn check(
    report: &Report,
    facts: &[Stamped],
    quiescence: Quiescence,
    sessions: &[(usize, String)],
    stuck: &[String],
) -> Vec<Violation> {
    let mut checker = Checker {
        report,
        facts,
        out: Vec::new(),
    };
    checker.exclusion();
    checker.duplication();
    checker.loss(quiescence);
    checker.order();
    checker.interrupt_first();
    checker.stop_binding();
    checker.ownership(sessions);
    checker.cron();
    checker.requeued_first();
    checker.stopped_fire_stays_stopped();
    checker.cleared_stays_cleared();
    checker.cancelled_fire_never_starts();
    checker.priority();
    checker.refusal();
    checker.preemption();
    checker.interrupt_ahead();
    checker.one_fire_pending();
    checker.snapshot();
    checker.answers();
    for message in stuck {
        checker.fail(Invariant::Progress, message.clone());
    }
    checker.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn at(begin: u64, end: u64, fact: Fact) -> Stamped {
        Stamped {
            begin,
            end,
            actor: None,
            fact,
        }
    }

    fn snapshot_violations(facts: &[Stamped]) -> Vec<String> {
        let text = "id = \"x\"\ntitle = \"t\"\ninvariant = \"snapshot\"\n[[actor]]\nname = \"a\"\nops = []\n";
        let report = crate::report::parse(Path::new("r.toml"), text).unwrap();
        let quiet = Quiescence {
            queued: 0,
            in_flight: 0,
        };
        check(&report, facts, quiet, &[], &[])
            .into_iter()
            .filter(|v| v.invariant == Invariant::Snapshot)
            .map(|v| v.message)
            .collect()
    }

    fn asked() -> Stamped {
        at(
            1,
            2,
            Fact::Asked {
                run: 1,
                question: "q1".to_owned(),
            },
        )
    }

    fn shown(begin: u64, questions: &[&str]) -> Stamped {
        let shown = questions.iter().map(|q| (1, (*q).to_owned())).collect();
        at(begin, begin + 1, Fact::Waiting { shown })
    }

    #[test]
    fn snapshot_must_show_an_open_question_and_only_while_it_is_open() {
        assert!(snapshot_violations(&[asked(), shown(3, &["q1"])]).is_empty());
        let missing = snapshot_violations(&[asked(), shown(3, &[])]);
        assert!(
            missing[0].contains("did not show r1 waiting for open q1"),
            "{missing:?}"
        );
        let answered = at(
            3,
            4,
            Fact::Tapped {
                run: 1,
                question: "q1".to_owned(),
                accepted: true,
            },
        );
        let stale = snapshot_violations(&[asked(), answered, shown(5, &["q1"])]);
        assert!(stale[0].contains("q1, closed before it"), "{stale:?}");
    }

    #[test]
    fn snapshot_must_not_show_a_stopped_run_waiting() {
        let stop = at(
            3,
            4,
            Fact::Named {
                by: CancelBy::Stop,
                lane: 0,
                run: Some(1),
                admitted: false,
                cancel_set: true,
            },
        );
        let shown_after = snapshot_violations(&[asked(), stop.clone(), shown(5, &["q1"])]);
        assert!(
            shown_after[0].contains("denied by its run's cancellation"),
            "{shown_after:?}"
        );
        // Concurrent with the stop, either answer is right.
        assert!(snapshot_violations(&[asked(), stop.clone(), shown(4, &["q1"])]).is_empty());
        assert!(snapshot_violations(&[asked(), stop, shown(5, &[])]).is_empty());
    }
}
