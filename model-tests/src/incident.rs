//! From an incident to a report: a deployment's journal (the core's events,
//! as the bot stored them) turned into a race-report TOML that replays the
//! same operations in the same order, ready for the checkers and to keep as
//! a regression.
//!
//! Lanes, items, jobs and sessions are renamed (`A`, `B`; `a1`, `a2`, `b1`;
//! `j1`; `s1`): a report carries no chat id, prompt or session of the
//! deployment. The user's operations go to the actor `user`, in journal
//! order; each run goes to a runner actor (`runner1`..`runner3`, one per run
//! in flight at once) as `take LANE`, `spawn`, `stall` (a retry), `session`,
//! `finish`. The checkers then explore the interleavings around the one the
//! journal recorded; [`Converted::order`] is that recorded one, for
//! [`crate::explore::run_in_order`].
//!
//! What each event becomes:
//! - `Admitted` of a user item: `submit LANE ITEM ORIGIN` (`recap` for a
//!   recap), or `interrupt LANE ITEM` when the lane's run is then cancelled
//!   for it (`CancelRequested` with reason `interrupt`);
//! - `CronClaimed`: `cron_tick JOB` (the job becomes a `[[cron]]` entry from
//!   its `CronRegistered`); `CronCancelled`: `cron_cancel JOB`;
//! - `CancelRequested` `stop`: `stop LANE` (`stop LANE clear` when the lane's
//!   queue is removed with it, also on an idle lane); `new_session`, or a
//!   `Removed`/`SessionForgotten` for `/new` on an idle lane: `new LANE`;
//! - `PreferencesChanged` that switches the driver: `driver LANE DRIVER`;
//! - `Started`, `Spawned`, `Retried`, `SessionRecorded` during a run,
//!   `Finished`: the runner operations above;
//! - `Moved` (**Run now**): `run_now LANE ITEM`; `Removed` with reason
//!   `cancelled` (**Cancel**): `cancel_queued LANE ITEM`;
//! - `Asked`, `Withdrawn`: the run's runner `ask QUESTION`, `withdraw
//!   QUESTION` (questions named `q1`, `q2`, ...); `Answered`: the user's
//!   `answer QUESTION`;
//! - `ShutdownBegan`: `shutdown`; a `Checkpoint` after the first entry (the
//!   journals of two process lifetimes, one after the other): `restart`,
//!   and the restored state written after it is not replayed again;
//! - a leading `Checkpoint` (the bot compacts the journal at start-up): the
//!   items it restores become the report's `setup`, submitted in order.
//!
//! Everything else (`Queued`, `Requeued`, `CronEnded`, removals by a cron
//! cancel) follows from the operations and is not an operation itself.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::Path;

use baton_core::{
    CancelReason, CronKind, Driver, Event, ItemId, JobId, JournalEntry, LaneKey, Origin, Outcome,
    QuestionId, RemovalReason, RunId,
};

/// At most this many runs in flight at once: with the user, loom's limit
/// of four actors.
pub const MAX_RUNNERS: usize = 3;

/// A journal that cannot become a report; names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IncidentError(pub String);

/// A report made from a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The report, as TOML text that `report::parse` reads.
    pub toml: String,
    /// The actor of each operation, in journal order.
    pub order: Vec<usize>,
}

/// Reads a journal exported as JSONL: one journal entry per line, blank
/// lines skipped.
pub fn read_jsonl(path: &Path) -> Result<Vec<JournalEntry>, IncidentError> {
    let file = std::fs::File::open(path)
        .map_err(|e| IncidentError(format!("{}: cannot read: {e}", path.display())))?;
    let mut entries = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.map_err(|e| IncidentError(format!("{}: cannot read: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(&line).map_err(|e| {
            IncidentError(format!(
                "{}:{}: not a journal entry: {e}",
                path.display(),
                index + 1
            ))
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads the journal table of the bot's SQLite database, oldest first,
/// without writing to it.
pub fn read_sqlite(path: &Path) -> Result<Vec<JournalEntry>, IncidentError> {
    let fail = |e: rusqlite::Error| IncidentError(format!("{}: {e}", path.display()));
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    let mut stmt = conn
        .prepare("SELECT seq, event FROM journal ORDER BY seq")
        .map_err(fail)?;
    let rows: Vec<(i64, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(Iterator::collect)
        .map_err(fail)?;
    rows.into_iter()
        .map(|(seq, event)| {
            serde_json::from_str(&event).map_err(|e| {
                IncidentError(format!(
                    "{}: journal row {seq} is not a journal entry: {e}",
                    path.display()
                ))
            })
        })
        .collect()
}

/// Reads a journal from the bot's SQLite database or from JSONL, told
/// apart by the file's first bytes.
pub fn read(path: &Path) -> Result<Vec<JournalEntry>, IncidentError> {
    let mut head = [0u8; 16];
    let is_sqlite = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .is_ok_and(|n| n == 16 && &head == b"SQLite format 3\0");
    if is_sqlite {
        read_sqlite(path)
    } else {
        read_jsonl(path)
    }
}

/// What a report names a thing of the deployment: first seen, first named.
struct Names<K> {
    names: HashMap<K, String>,
}

impl<K> Default for Names<K> {
    fn default() -> Self {
        Names {
            names: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Names<K> {
    fn get_or(&mut self, key: &K, make: impl FnOnce(usize) -> String) -> String {
        let next = self.names.len();
        self.names
            .entry(key.clone())
            .or_insert_with(|| make(next))
            .clone()
    }
}

fn lane_name(index: usize) -> String {
    // A..Z, then A1..: lanes are few in a report.
    let letter = char::from(b'A' + (index % 26) as u8);
    match index / 26 {
        0 => letter.to_string(),
        n => format!("{letter}{n}"),
    }
}

struct Held {
    runner: usize,
    lane: LaneKey,
}

#[derive(Default)]
struct Builder {
    lanes: Names<LaneKey>,
    lane_items: HashMap<LaneKey, usize>,
    items: Names<ItemId>,
    jobs: Names<JobId>,
    sessions: Names<String>,
    questions: Names<(RunId, QuestionId)>,
    cron: Vec<(String, String, CronKind)>,
    setup: Vec<String>,
    /// Operations per actor (0 is the user), and the actor of each in order.
    ops: Vec<Vec<String>>,
    order: Vec<usize>,
    runs: HashMap<RunId, Held>,
    /// Which runners hold a run.
    busy: [bool; MAX_RUNNERS],
    capacity: usize,
    drivers: HashMap<LaneKey, Driver>,
    /// A user item admitted and queued, not yet known to be a submit or an
    /// interrupt: the next event says.
    admitted: Option<(LaneKey, String, Origin)>,
    /// Restored state after a checkpoint, not operations: the entries of
    /// the checkpoint, all written at the checkpoint's time.
    restoring: bool,
    checkpoint_index: Option<usize>,
    checkpoint_at: Option<baton_core::Millis>,
    /// The entry of the last `stop` or `/new` operation and its lane: the
    /// removals and forgetting right after it belong to it.
    last_control: Option<(usize, LaneKey)>,
    /// Lanes whose sessions `/new` forgets when their run ends.
    forget_on_finish: HashSet<LaneKey>,
}

impl Builder {
    fn lane(&mut self, key: LaneKey) -> String {
        self.lanes.get_or(&key, lane_name)
    }

    fn item(&mut self, id: &ItemId, lane: LaneKey) -> String {
        if let Some(name) = self.items.names.get(id) {
            return name.clone();
        }
        let prefix = self.lane(lane).to_lowercase();
        let counter = self.lane_items.entry(lane).or_default();
        *counter += 1;
        let name = format!("{prefix}{counter}");
        self.items.names.insert(id.clone(), name.clone());
        name
    }

    fn push(&mut self, actor: usize, op: String) {
        if self.restoring {
            // A restart restores this state itself; only the journal's
            // first lifetime needs it as setup.
            if self.checkpoint_index == Some(0) {
                self.setup.push(op);
            }
            return;
        }
        if self.ops.len() <= actor {
            self.ops.resize(actor + 1, Vec::new());
        }
        self.ops[actor].push(op);
        self.order.push(actor);
    }

    fn user(&mut self, op: String) {
        self.push(0, op);
    }

    fn runner_of(&self, run: RunId) -> Option<usize> {
        self.runs.get(&run).map(|held| held.runner)
    }

    /// The user item waiting for its verdict is a plain submit.
    fn flush_admitted(&mut self) {
        if let Some((lane, item, origin)) = self.admitted.take() {
            let lane = self.lane(lane);
            let op = match origin {
                Origin::Recap => format!("recap {lane} {item}"),
                origin => format!("submit {lane} {item} {}", origin_word(&origin)),
            };
            self.user(op);
        }
    }

    fn event(&mut self, index: usize, entry: &JournalEntry) -> Result<(), IncidentError> {
        let at = |what: String| {
            IncidentError(format!("journal entry {index} (seq {}): {what}", entry.seq))
        };
        let restored_kind = matches!(
            entry.event,
            Event::PreferencesChanged { .. }
                | Event::SessionRecorded { .. }
                | Event::Admitted { .. }
                | Event::Queued { .. }
                | Event::CronRegistered { .. }
                | Event::CronClaimed { .. }
        );
        if self.restoring && (!restored_kind || Some(entry.at) != self.checkpoint_at) {
            self.restoring = false;
        }
        // An interrupt is known by the cancel it makes right after its item.
        if let Event::CancelRequested {
            reason: CancelReason::Interrupt,
            run,
        } = &entry.event
            && let Some((lane, ..)) = self.admitted
            && self.runs.get(run).is_some_and(|h| h.lane == lane)
            && let Some((lane, item, _)) = self.admitted.take()
        {
            let lane = self.lane(lane);
            self.user(format!("interrupt {lane} {item}"));
            return Ok(());
        }
        if !matches!(entry.event, Event::Queued { .. }) {
            self.flush_admitted();
        }
        match &entry.event {
            Event::Checkpoint { .. } => {
                if index > 0 {
                    self.user("restart".to_owned());
                    // The runs in flight ended with the old process: each
                    // runner that held one lets go of it (its next step
                    // sees the run gone) before it takes another.
                    let mut held: Vec<usize> = self.runs.drain().map(|(_, h)| h.runner).collect();
                    held.sort_unstable();
                    for runner in held {
                        self.push(runner + 1, "finish completed".to_owned());
                    }
                    self.busy = [false; MAX_RUNNERS];
                }
                self.restoring = true;
                self.checkpoint_index = Some(index);
                self.checkpoint_at = Some(entry.at);
            }
            Event::PreferencesChanged { lane, preferences } => {
                let before = self.drivers.insert(*lane, preferences.driver);
                if before.unwrap_or_default() != preferences.driver {
                    let lane = self.lane(*lane);
                    self.push(0, format!("driver {lane} {}", preferences.driver));
                }
            }
            Event::Admitted { item } => {
                if item.origin.is_scheduled() {
                    // Its CronClaimed says it (before it, or in a
                    // checkpoint after the job's registration).
                    return Ok(());
                }
                let name = self.item(&item.id, item.lane);
                if self.restoring {
                    let lane = self.lane(item.lane);
                    self.push(
                        0,
                        format!("submit {lane} {name} {}", origin_word(&item.origin)),
                    );
                } else {
                    self.admitted = Some((item.lane, name, item.origin.clone()));
                }
            }
            Event::Queued { .. } => {}
            Event::CronRegistered { job, lane, kind } => {
                let known = self.jobs.names.contains_key(job);
                let name = self.jobs.get_or(job, |n| format!("j{}", n + 1));
                if !known {
                    let lane = self.lane(*lane);
                    self.cron.push((name, lane, *kind));
                }
            }
            Event::CronClaimed { job, .. } => {
                let job = self.job(job, &at)?;
                self.push(0, format!("cron_tick {job}"));
            }
            Event::CronCancelled { job } => {
                let job = self.job(job, &at)?;
                self.user(format!("cron_cancel {job}"));
            }
            Event::Started { run, lane, .. } => {
                let runner = self
                    .busy
                    .iter()
                    .position(|b| !b)
                    .ok_or_else(|| at(format!("more than {MAX_RUNNERS} runs in flight at once (a report has at most {} actors)", MAX_RUNNERS + 1)))?;
                self.busy[runner] = true;
                self.runs.insert(
                    *run,
                    Held {
                        runner,
                        lane: *lane,
                    },
                );
                self.capacity = self.capacity.max(self.busy.iter().filter(|b| **b).count());
                let lane = self.lane(*lane);
                self.push(runner + 1, format!("take {lane}"));
            }
            Event::Spawned { run } => {
                if let Some(runner) = self.runner_of(*run) {
                    self.push(runner + 1, "spawn".to_owned());
                }
            }
            Event::Retried { run, .. } => {
                if let Some(runner) = self.runner_of(*run) {
                    self.push(runner + 1, "stall".to_owned());
                }
            }
            Event::SessionRecorded { lane, session, .. } => {
                let held = self
                    .runs
                    .iter()
                    .find(|(_, h)| h.lane == *lane)
                    .map(|(_, h)| h.runner);
                if let (Some(runner), false) = (held, self.restoring) {
                    let session = self.sessions.get_or(session, |n| format!("s{}", n + 1));
                    self.push(runner + 1, format!("session {session}"));
                }
            }
            Event::Finished { run, outcome } => {
                if let Some(held) = self.runs.remove(run) {
                    self.busy[held.runner] = false;
                    let word = if *outcome == Outcome::Failed {
                        "failed"
                    } else {
                        "completed"
                    };
                    self.push(held.runner + 1, format!("finish {word}"));
                }
            }
            Event::CancelRequested { run, reason } => {
                let lane = self.runs.get(run).map(|h| h.lane);
                match (reason, lane) {
                    (CancelReason::Stop, Some(lane)) => {
                        let name = self.lane(lane);
                        self.user(format!("stop {name}"));
                        self.last_control = Some((index, lane));
                    }
                    (CancelReason::NewSession, Some(lane)) => {
                        let name = self.lane(lane);
                        self.user(format!("new {name}"));
                        self.last_control = Some((index, lane));
                        self.forget_on_finish.insert(lane);
                    }
                    // Preemption and shutdown follow from other operations.
                    _ => {}
                }
            }
            Event::Removed {
                lane,
                reason,
                items,
            } => {
                let name = self.lane(*lane);
                let same = self.continues_control(index, *lane);
                match reason {
                    RemovalReason::Stop if same => {
                        let ops = &mut self.ops[0];
                        *ops.last_mut().expect("the stop") = format!("stop {name} clear");
                    }
                    RemovalReason::Stop => self.user(format!("stop {name} clear")),
                    RemovalReason::NewSession if same => {}
                    RemovalReason::NewSession => self.user(format!("new {name}")),
                    RemovalReason::CronCancelled => {}
                    RemovalReason::Cancelled => {
                        for item in items {
                            let item = self.item(item, *lane);
                            self.user(format!("cancel_queued {name} {item}"));
                        }
                        // A tap of its own: no stop or `/new` goes on.
                        self.last_control = None;
                        return Ok(());
                    }
                }
                self.last_control = Some((index, *lane));
            }
            Event::SessionForgotten { lane } => {
                let same = self.continues_control(index, *lane);
                let run_ended = !self.runs.values().any(|h| h.lane == *lane)
                    && self.forget_on_finish.remove(lane);
                // `/new` on an idle lane with nothing queued says only this.
                if !same && !run_ended && !self.restoring {
                    let name = self.lane(*lane);
                    self.user(format!("new {name}"));
                }
                self.last_control = Some((index, *lane));
            }
            Event::ShutdownBegan => self.user("shutdown".to_owned()),
            // The run it cancels for the item, if any, follows from it.
            Event::Moved { item, lane, .. } => {
                let name = self.lane(*lane);
                let item = self.item(item, *lane);
                self.user(format!("run_now {name} {item}"));
            }
            Event::Asked { run, question } => {
                if let Some(runner) = self.runner_of(*run) {
                    let name = self
                        .questions
                        .get_or(&(*run, *question), |n| format!("q{}", n + 1));
                    self.push(runner + 1, format!("ask {name}"));
                }
            }
            Event::Answered { run, question } => {
                // Only a question this journal shows asked can be tapped.
                if let Some(name) = self.questions.names.get(&(*run, *question)).cloned() {
                    self.user(format!("answer {name}"));
                }
            }
            Event::Withdrawn { run, question } => {
                let name = self.questions.names.get(&(*run, *question)).cloned();
                if let (Some(name), Some(runner)) = (name, self.runner_of(*run)) {
                    self.push(runner + 1, format!("withdraw {name}"));
                }
            }
            Event::Requeued { .. } | Event::CronEnded { .. } => {}
        }
        Ok(())
    }

    fn continues_control(&self, index: usize, lane: LaneKey) -> bool {
        self.last_control == Some((index.wrapping_sub(1), lane))
    }

    fn job(
        &mut self,
        job: &JobId,
        at: &dyn Fn(String) -> IncidentError,
    ) -> Result<String, IncidentError> {
        self.jobs
            .names
            .get(job)
            .cloned()
            .ok_or_else(|| at(format!("cron job {:?} was never registered", job.0)))
    }
}

fn origin_word(origin: &Origin) -> &'static str {
    match origin {
        Origin::Voice => "voice",
        Origin::Audio => "audio",
        Origin::Photo => "photo",
        Origin::Document => "document",
        Origin::Video => "video",
        Origin::Button => "button",
        _ => "text",
    }
}

/// What the report is about and what it is called.
#[derive(Debug, Clone)]
pub struct Header {
    pub id: String,
    pub title: String,
    pub invariant: String,
}

/// Turns a journal into a report.
pub fn convert(entries: &[JournalEntry], header: &Header) -> Result<Converted, IncidentError> {
    let mut b = Builder {
        ops: vec![Vec::new()],
        capacity: 1,
        ..Builder::default()
    };
    for (index, entry) in entries.iter().enumerate() {
        b.event(index, entry)?;
    }
    b.flush_admitted();
    if b.order.is_empty() {
        return Err(IncidentError(
            "the journal holds no operation to replay".to_owned(),
        ));
    }
    let mut toml = String::new();
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let _ = writeln!(toml, "id = {}", quote(&header.id));
    let _ = writeln!(toml, "title = {}", quote(&header.title));
    let _ = writeln!(toml, "invariant = {}", quote(&header.invariant));
    let _ = writeln!(
        toml,
        "# The most runs the journal shows in flight at once.\ncapacity = {}",
        b.capacity
    );
    let _ = writeln!(
        toml,
        "# Made by baton-repro --from-journal from {} journal entries. The\n\
         # journal's own order, one operation per actor name: {}",
        entries.len(),
        order_text(&b.order, b.ops.len())
    );
    if !b.setup.is_empty() {
        let _ = writeln!(toml, "# Restored at the start of the journal.");
        let _ = writeln!(toml, "setup = {}", list(&b.setup));
    }
    for (job, lane, kind) in &b.cron {
        let kind = match kind {
            CronKind::OneShot => "one_shot",
            CronKind::Recurring => "recurring",
        };
        let _ = write!(
            toml,
            "\n[[cron]]\njob = {}\nlane = {}\nkind = \"{kind}\"\n",
            quote(job),
            quote(lane)
        );
    }
    for (actor, ops) in b.ops.iter().enumerate() {
        if actor > 0 && ops.is_empty() {
            continue;
        }
        let name = actor_name(actor);
        let _ = write!(
            toml,
            "\n[[actor]]\nname = \"{name}\"\nops = {}\n",
            list(ops)
        );
    }
    // Actors without operations are left out: renumber the order.
    let present: Vec<usize> = (0..b.ops.len())
        .filter(|&a| a == 0 || !b.ops[a].is_empty())
        .collect();
    let order = b
        .order
        .iter()
        .map(|a| present.iter().position(|p| p == a).expect("has ops"))
        .collect();
    Ok(Converted { toml, order })
}

fn actor_name(actor: usize) -> String {
    if actor == 0 {
        "user".to_owned()
    } else {
        format!("runner{actor}")
    }
}

fn order_text(order: &[usize], actors: usize) -> String {
    let names: Vec<String> = (0..actors).map(actor_name).collect();
    crate::trace::render(order, &names)
}

fn list(ops: &[String]) -> String {
    let items: Vec<String> = ops
        .iter()
        .map(|op| format!("  {},", toml::Value::String(op.clone())))
        .collect();
    format!("[\n{}\n]", items.join("\n"))
}
