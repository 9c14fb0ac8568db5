//! A deliberately naive reference model of the core, written from SPEC and
//! the crate doc: lanes in a Vec, queues as Vecs, every lookup a linear scan.

use baton_core::journal::Recovered;
use baton_core::{
    CancelReason, Config, CronKind, Driver, Error, Item, ItemId, JobId, LaneKey, LaneSnapshot,
    Millis, Origin, Outcome, Preferences, QuestionId, RunId, RunPhase, RunView, Snapshot,
};

const PREVIEW_CHARS: usize = 40;

fn slot(driver: Driver) -> usize {
    match driver {
        Driver::Claude => 0,
        Driver::Codex => 1,
    }
}

#[derive(Debug, Clone)]
pub struct MRun {
    pub id: RunId,
    pub item: Item,
    pub driver: Driver,
    pub model: Option<String>,
    pub phase: RunPhase,
    pub attempt: u32,
    pub admitted_at: Millis,
    pub tool: Option<String>,
    pub questions: Vec<(QuestionId, String)>,
    pub cancel: Option<CancelReason>,
}

impl MRun {
    fn view(&self, now: Millis) -> RunView {
        RunView {
            run: self.id,
            lane: self.item.lane,
            item: self.item.id.clone(),
            preview: self.item.preview(60),
            scheduled: self.item.origin.is_scheduled(),
            driver: self.driver,
            model: self.model.clone(),
            phase: self.phase,
            attempt: self.attempt,
            admitted_at: self.admitted_at,
            age_ms: now.0 - self.admitted_at.0,
            tool: self.tool.clone(),
            // A stop resolved a cancelled run's questions as denied.
            waiting: match self.cancel {
                Some(_) => Vec::new(),
                None => self.questions.iter().map(|(_, s)| s.clone()).collect(),
            },
            cancel: self.cancel,
        }
    }
}

/// What a ticket must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MTicket {
    pub run: RunId,
    pub item: Item,
    pub driver: Driver,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub mode: Option<String>,
    pub resume: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "mirrors Admission, compared by value"
)]
pub enum MAdmission {
    Started(MTicket),
    Queued {
        position: usize,
        cancelled: Option<RunId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "mirrors the core's CronClaim")]
pub enum MClaim {
    Admitted(MAdmission),
    AlreadyPending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MFinish {
    pub outcome: Outcome,
    pub tickets: Vec<MTicket>,
    pub cron_ended: Option<JobId>,
    pub sessions_forgotten: bool,
}

#[derive(Debug, Clone)]
pub struct MLane {
    pub key: LaneKey,
    pub prefs: Preferences,
    pub sessions: [Option<String>; 2],
    pub forget_at_finish: bool,
    pub run: Option<MRun>,
    /// User items: the first `interrupts` are `!` interrupts.
    pub user: Vec<Item>,
    pub interrupts: usize,
    pub cron: Vec<Item>,
    pub last: Option<Item>,
    /// Place in the line of idle lanes with work: (user work?, ticket number).
    pub line: Option<(bool, u64)>,
}

impl MLane {
    fn new(key: LaneKey, prefs: Preferences) -> Self {
        MLane {
            key,
            prefs,
            sessions: [None, None],
            forget_at_finish: false,
            run: None,
            user: Vec::new(),
            interrupts: 0,
            cron: Vec::new(),
            last: None,
            line: None,
        }
    }

    /// Idle with work waiting: which kind goes next.
    fn waiting_kind(&self) -> Option<bool> {
        if self.run.is_some() {
            None
        } else if !self.user.is_empty() {
            Some(true)
        } else if !self.cron.is_empty() {
            Some(false)
        } else {
            None
        }
    }

    fn snapshot(&self, now: Millis) -> LaneSnapshot {
        let queued: Vec<&Item> = self.user.iter().chain(self.cron.iter()).collect();
        LaneSnapshot {
            lane: self.key,
            preferences: self.prefs.clone(),
            run: self.run.as_ref().map(|r| r.view(now)),
            queued: queued.iter().map(|i| i.id.clone()).collect(),
            queued_user: self.user.len(),
            queued_cron: self.cron.len(),
            previews: queued.iter().map(|i| i.preview(PREVIEW_CHARS)).collect(),
            claude_session: self.sessions[0].clone(),
            codex_session: self.sessions[1].clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MJob {
    pub id: JobId,
    pub lane: LaneKey,
    pub kind: CronKind,
    pub pending: Option<ItemId>,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub cfg: Config,
    pub lanes: Vec<MLane>,
    pub jobs: Vec<MJob>,
    /// Ids queued or running.
    pub live: Vec<ItemId>,
    /// Ids that ended, oldest first, at most `dedupe_window` of them.
    pub ended: Vec<ItemId>,
    pub next_run: u64,
    pub line_tickets: u64,
    pub next_question: u64,
    pub shutting_down: bool,
}

impl Model {
    pub fn new(cfg: Config, lanes: &[LaneKey]) -> Self {
        let mut keys = lanes.to_vec();
        keys.sort();
        Model {
            lanes: keys
                .into_iter()
                .map(|k| MLane::new(k, cfg.default_preferences.clone()))
                .collect(),
            cfg,
            jobs: Vec::new(),
            live: Vec::new(),
            ended: Vec::new(),
            next_run: 1,
            line_tickets: 0,
            next_question: 1,
            shutting_down: false,
        }
    }

    pub fn lane(&self, key: LaneKey) -> &MLane {
        self.lanes
            .iter()
            .find(|l| l.key == key)
            .expect("known lane")
    }

    fn lane_mut(&mut self, key: LaneKey) -> &mut MLane {
        self.lanes
            .iter_mut()
            .find(|l| l.key == key)
            .expect("known lane")
    }

    fn lane_of_run(&mut self, run: RunId) -> Option<&mut MLane> {
        self.lanes
            .iter_mut()
            .find(|l| l.run.as_ref().is_some_and(|r| r.id == run))
    }

    pub fn in_flight(&self) -> usize {
        self.lanes.iter().filter(|l| l.run.is_some()).count()
    }

    pub fn queued(&self) -> usize {
        self.lanes.iter().map(|l| l.user.len() + l.cron.len()).sum()
    }

    fn seen(&self, id: &ItemId) -> bool {
        self.live.contains(id) || self.ended.contains(id)
    }

    fn end_id(&mut self, id: &ItemId) {
        let Some(at) = self.live.iter().position(|x| x == id) else {
            return;
        };
        self.live.remove(at);
        if self.cfg.dedupe_window == 0 {
            return;
        }
        if !self.ended.contains(id) {
            self.ended.push(id.clone());
        }
        while self.ended.len() > self.cfg.dedupe_window {
            self.ended.remove(0);
        }
    }

    /// A lane joins the back of its kind's line when it becomes idle with
    /// work of that kind, and leaves it when it starts or has no work.
    fn relink(&mut self) {
        for lane in &mut self.lanes {
            match (lane.waiting_kind(), lane.line) {
                (None, _) => lane.line = None,
                (Some(kind), Some((had, _))) if kind == had => {}
                (Some(kind), _) => {
                    self.line_tickets += 1;
                    lane.line = Some((kind, self.line_tickets));
                }
            }
        }
    }

    fn start(&mut self, key: LaneKey, item: Item, now: Millis) -> MTicket {
        let id = RunId(self.next_run);
        self.next_run += 1;
        let lane = self.lane_mut(key);
        assert!(lane.run.is_none());
        let prefs = lane.prefs.clone();
        let resume = lane.sessions[slot(prefs.driver)].clone();
        if !item.origin.is_scheduled() {
            lane.last = Some(item.clone());
        }
        lane.line = None;
        lane.run = Some(MRun {
            id,
            item: item.clone(),
            driver: prefs.driver,
            model: prefs.model.clone(),
            phase: RunPhase::Admitted,
            attempt: 0,
            admitted_at: now,
            tool: None,
            questions: Vec::new(),
            cancel: None,
        });
        MTicket {
            run: id,
            item,
            driver: prefs.driver,
            model: prefs.model,
            effort: prefs.effort,
            mode: prefs.mode,
            resume,
        }
    }

    fn start_next(&mut self, key: LaneKey, now: Millis) -> MTicket {
        let lane = self.lane_mut(key);
        let item = if lane.user.is_empty() {
            lane.cron.remove(0)
        } else {
            lane.interrupts = lane.interrupts.saturating_sub(1);
            lane.user.remove(0)
        };
        self.start(key, item, now)
    }

    fn drain(&mut self, first: Option<LaneKey>, now: Millis) -> Vec<MTicket> {
        let mut out = Vec::new();
        if self.shutting_down {
            return out;
        }
        self.relink();
        if let Some(key) = first
            && self.in_flight() < self.cfg.capacity
            && self.lane(key).waiting_kind().is_some()
        {
            out.push(self.start_next(key, now));
        }
        while self.in_flight() < self.cfg.capacity {
            let mut best: Option<(bool, u64, LaneKey)> = None;
            for lane in &self.lanes {
                if let Some((user, ticket)) = lane.line {
                    // User lines go first, then the lowest ticket.
                    let better = match best {
                        None => true,
                        Some((best_user, best_ticket, _)) => {
                            (user && !best_user) || (user == best_user && ticket < best_ticket)
                        }
                    };
                    if better {
                        best = Some((user, ticket, lane.key));
                    }
                }
            }
            let Some((_, _, key)) = best else { break };
            out.push(self.start_next(key, now));
        }
        out
    }

    fn cancel(&mut self, key: LaneKey, reason: CancelReason) -> Option<RunId> {
        let run = self.lane_mut(key).run.as_mut()?;
        let stronger = matches!(reason, CancelReason::Stop | CancelReason::NewSession);
        match run.cancel {
            None => run.cancel = Some(reason),
            Some(CancelReason::Preempt) if stronger => run.cancel = Some(reason),
            Some(_) => {}
        }
        Some(run.id)
    }

    /// While more lanes wait with user work (and no live run) than slots
    /// being freed, the oldest uncancelled scheduled run is preempted.
    fn preempt_for_capacity(&mut self) -> Option<RunId> {
        let victim = self
            .lanes
            .iter()
            .filter_map(|l| l.run.as_ref())
            .filter(|r| r.item.origin.is_scheduled() && r.cancel.is_none())
            .map(|r| (r.id, r.item.lane))
            .min()?;
        let stopping = |l: &MLane| l.run.as_ref().is_some_and(|r| r.cancel.is_some());
        let waiting = self
            .lanes
            .iter()
            .filter(|l| !l.user.is_empty() && (l.run.is_none() || stopping(l)))
            .count();
        let freeing = self.cfg.capacity - self.in_flight()
            + self.lanes.iter().filter(|l| stopping(l)).count();
        if waiting <= freeing {
            return None;
        }
        self.cancel(victim.1, CancelReason::Preempt)
    }

    pub fn submit(&mut self, item: Item, now: Millis) -> Result<MAdmission, Error> {
        if self.shutting_down {
            return Err(Error::ShuttingDown);
        }
        if self.seen(&item.id) {
            return Err(Error::Duplicate(item.id));
        }
        let key = item.lane;
        let scheduled = item.origin.is_scheduled();
        let has_capacity = self.in_flight() < self.cfg.capacity;
        let max_queue = self.cfg.max_queue;
        let lane = self.lane_mut(key);
        if lane.run.is_none() && lane.user.is_empty() && lane.cron.is_empty() && has_capacity {
            self.live.push(item.id.clone());
            return Ok(MAdmission::Started(self.start(key, item, now)));
        }
        if !scheduled && lane.user.len() >= max_queue {
            return Err(Error::QueueFull(max_queue));
        }
        let id = item.id.clone();
        let position = if scheduled {
            lane.cron.push(item);
            lane.user.len() + lane.cron.len()
        } else {
            lane.user.push(item);
            lane.user.len()
        };
        self.live.push(id);
        let cancelled = if scheduled {
            None
        } else {
            let own = self
                .lane(key)
                .run
                .as_ref()
                .is_some_and(|r| r.item.origin.is_scheduled() && r.cancel.is_none());
            if own {
                self.cancel(key, CancelReason::Preempt)
            } else {
                self.preempt_for_capacity()
            }
        };
        self.relink();
        Ok(MAdmission::Queued {
            position,
            cancelled,
        })
    }

    pub fn interrupt(&mut self, item: Item, now: Millis) -> Result<MAdmission, Error> {
        if self.shutting_down {
            return Err(Error::ShuttingDown);
        }
        if self.seen(&item.id) {
            return Err(Error::Duplicate(item.id));
        }
        let key = item.lane;
        let max_queue = self.cfg.max_queue;
        let lane = self.lane_mut(key);
        let Some(run) = &lane.run else {
            return self.submit(item, now);
        };
        if lane.user.len() >= max_queue {
            return Err(Error::QueueFull(max_queue));
        }
        let reason = if run.item.origin.is_scheduled() {
            CancelReason::Preempt
        } else {
            CancelReason::Interrupt
        };
        let index = lane.interrupts;
        self.live.push(item.id.clone());
        let lane = self.lane_mut(key);
        lane.user.insert(index, item);
        lane.interrupts += 1;
        let cancelled = self.cancel(key, reason);
        self.preempt_for_capacity();
        Ok(MAdmission::Queued {
            position: index + 1,
            cancelled,
        })
    }

    pub fn run_now(
        &mut self,
        key: LaneKey,
        item: &ItemId,
    ) -> Result<(usize, Option<RunId>), Error> {
        let not_queued = || Error::NotQueued(item.clone());
        let from = self
            .lane(key)
            .user
            .iter()
            .position(|queued| &queued.id == item)
            .ok_or_else(not_queued)?;
        let lane = self.lane_mut(key);
        let to = if from < lane.interrupts {
            from
        } else {
            let moved = lane.user.remove(from);
            lane.user.insert(lane.interrupts, moved);
            lane.interrupts += 1;
            lane.interrupts - 1
        };
        let reason = lane.run.as_ref().map(|run| {
            if run.item.origin.is_scheduled() {
                CancelReason::Preempt
            } else {
                CancelReason::Interrupt
            }
        });
        let cancelled = reason.and_then(|reason| self.cancel(key, reason));
        self.preempt_for_capacity();
        self.relink();
        Ok((to + 1, cancelled))
    }

    pub fn cancel_queued(&mut self, key: LaneKey, item: &ItemId) -> Result<Item, Error> {
        let lane = self.lane_mut(key);
        let at = lane
            .user
            .iter()
            .position(|queued| &queued.id == item)
            .ok_or_else(|| Error::NotQueued(item.clone()))?;
        let removed = lane.user.remove(at);
        if at < lane.interrupts {
            lane.interrupts -= 1;
        }
        self.end_id(&removed.id);
        self.relink();
        Ok(removed)
    }

    fn live_run(&mut self, run: RunId) -> Result<&mut MRun, Error> {
        self.lane_of_run(run)
            .and_then(|lane| lane.run.as_mut())
            .filter(|current| current.id == run)
            .ok_or(Error::StaleRun(run))
    }

    pub fn ask(&mut self, run: RunId, summary: String) -> Result<QuestionId, Error> {
        let id = QuestionId(self.next_question);
        let current = self.live_run(run)?;
        if current.cancel.is_some() {
            return Err(Error::Cancelled(run));
        }
        current.questions.push((id, summary));
        self.next_question += 1;
        Ok(id)
    }

    pub fn answer(&mut self, run: RunId, question: QuestionId) -> Result<(), Error> {
        let current = self.live_run(run)?;
        let at = current
            .questions
            .iter()
            .position(|(id, _)| *id == question)
            .ok_or(Error::Unanswerable(run, question))?;
        if current.cancel.is_some() {
            return Err(Error::Cancelled(run));
        }
        current.questions.remove(at);
        Ok(())
    }

    pub fn retry_last(
        &mut self,
        key: LaneKey,
        id: ItemId,
        now: Millis,
    ) -> Result<MAdmission, Error> {
        let last = self.lane(key).last.clone().ok_or(Error::NothingToRetry)?;
        self.submit(
            Item {
                id,
                arrived_at: now,
                ..last
            },
            now,
        )
    }

    fn end_fire(&mut self, item: &Item) -> Option<JobId> {
        let Origin::Cron { job, .. } = &item.origin else {
            return None;
        };
        let at = self.jobs.iter().position(|j| &j.id == job)?;
        if self.jobs[at].pending.as_ref() != Some(&item.id) {
            return None;
        }
        self.jobs[at].pending = None;
        if self.jobs[at].kind == CronKind::OneShot {
            self.jobs.remove(at);
            return Some(job.clone());
        }
        None
    }

    fn remove_all(&mut self, key: LaneKey) -> Vec<Item> {
        let lane = self.lane_mut(key);
        let mut removed: Vec<Item> = lane.user.drain(..).collect();
        removed.append(&mut lane.cron);
        lane.interrupts = 0;
        for item in &removed {
            self.end_id(&item.id);
            self.end_fire(item);
        }
        self.relink();
        removed
    }

    pub fn stop(&mut self, key: LaneKey, clear: bool, now: Millis) -> (Option<RunView>, Vec<Item>) {
        self.cancel(key, CancelReason::Stop);
        let view = self.lane(key).run.as_ref().map(|r| r.view(now));
        let removed = if clear {
            self.remove_all(key)
        } else {
            Vec::new()
        };
        (view, removed)
    }

    /// Returns what was cancelled, what was removed, and whether the
    /// sessions were forgotten at once.
    pub fn new_session(&mut self, key: LaneKey, now: Millis) -> (Option<RunView>, Vec<Item>, bool) {
        self.cancel(key, CancelReason::NewSession);
        let view = self.lane(key).run.as_ref().map(|r| r.view(now));
        let removed = self.remove_all(key);
        let lane = self.lane_mut(key);
        let now_forgotten = lane.run.is_none();
        if now_forgotten {
            lane.sessions = [None, None];
        } else {
            lane.forget_at_finish = true;
        }
        (view, removed, now_forgotten)
    }

    pub fn set_preferences(&mut self, key: LaneKey, prefs: Preferences) {
        self.lane_mut(key).prefs = prefs;
    }

    pub fn set_session(&mut self, key: LaneKey, driver: Driver, session: Option<String>) {
        let lane = self.lane_mut(key);
        if !lane.forget_at_finish {
            lane.sessions[slot(driver)] = session;
        }
    }

    pub fn spawned(&mut self, run: RunId) -> Result<(), Error> {
        let lane = self.lane_of_run(run).ok_or(Error::StaleRun(run))?;
        let current = lane.run.as_mut().expect("found by its run");
        if current.cancel.is_some() {
            return Err(Error::Cancelled(run));
        }
        if current.phase == RunPhase::Running {
            return Err(Error::AlreadySpawned(run));
        }
        current.phase = RunPhase::Running;
        Ok(())
    }

    pub fn retry(&mut self, run: RunId) -> Result<u32, Error> {
        let max = self.cfg.max_retries;
        let lane = self.lane_of_run(run).ok_or(Error::StaleRun(run))?;
        let current = lane.run.as_mut().expect("found by its run");
        if current.cancel.is_some() {
            return Err(Error::Cancelled(run));
        }
        if current.attempt >= max {
            return Err(Error::RetryLimit(run, max));
        }
        current.attempt += 1;
        current.phase = RunPhase::Admitted;
        Ok(current.attempt)
    }

    pub fn record_session(&mut self, run: RunId, session: String) -> Result<(), Error> {
        let lane = self.lane_of_run(run).ok_or(Error::StaleRun(run))?;
        let current = lane.run.as_ref().expect("found by its run");
        if current.cancel == Some(CancelReason::NewSession) || lane.forget_at_finish {
            return Err(Error::Cancelled(run));
        }
        let driver = current.driver;
        lane.sessions[slot(driver)] = Some(session);
        Ok(())
    }

    pub fn output(&mut self, run: RunId, tool: Option<String>) -> Result<(), Error> {
        let lane = self.lane_of_run(run).ok_or(Error::StaleRun(run))?;
        if let Some(tool) = tool {
            lane.run.as_mut().expect("found by its run").tool = Some(tool);
        }
        Ok(())
    }

    pub fn finish(&mut self, run: RunId, outcome: Outcome, now: Millis) -> Result<MFinish, Error> {
        let live_fire = |jobs: &Vec<MJob>, id: &baton_core::ItemId| {
            jobs.iter().any(|job| job.pending.as_ref() == Some(id))
        };
        let jobs_snapshot = self.jobs.clone();
        let lane = self.lane_of_run(run).ok_or(Error::StaleRun(run))?;
        let key = lane.key;
        let done = lane.run.take().expect("found by its run");
        // A fire whose job was cancelled while it ran has nothing to return to.
        let preempted =
            done.cancel == Some(CancelReason::Preempt) && live_fire(&jobs_snapshot, &done.item.id);
        let outcome = match outcome {
            Outcome::Cancelled | Outcome::Preempted if preempted => Outcome::Preempted,
            Outcome::Preempted => Outcome::Cancelled,
            other => other,
        };
        let forgotten = std::mem::take(&mut lane.forget_at_finish);
        if forgotten {
            lane.sessions = [None, None];
        }
        let mut cron_ended = None;
        if outcome == Outcome::Preempted {
            lane.cron.insert(0, done.item);
        } else if outcome == Outcome::Cancelled && done.cancel == Some(CancelReason::Shutdown) {
            // Cut by shutdown, neither completed nor failed: the job stays.
            self.end_id(&done.item.id);
            for job in &mut self.jobs {
                if job.pending.as_ref() == Some(&done.item.id) {
                    job.pending = None;
                }
            }
        } else {
            self.end_id(&done.item.id);
            cron_ended = self.end_fire(&done.item);
        }
        let first = (self.lane(key).interrupts > 0).then_some(key);
        let tickets = self.drain(first, now);
        Ok(MFinish {
            outcome,
            tickets,
            cron_ended,
            sessions_forgotten: forgotten,
        })
    }

    pub fn cron_register(
        &mut self,
        job: JobId,
        lane: LaneKey,
        kind: CronKind,
    ) -> Result<(), Error> {
        if self.jobs.iter().any(|j| j.id == job) {
            return Err(Error::JobExists(job.0));
        }
        self.jobs.push(MJob {
            id: job,
            lane,
            kind,
            pending: None,
        });
        Ok(())
    }

    pub fn cron_claim(
        &mut self,
        job: &JobId,
        fire: Millis,
        prompt: String,
        silent: bool,
        now: Millis,
    ) -> Result<MClaim, Error> {
        let at = self
            .jobs
            .iter()
            .position(|j| &j.id == job)
            .ok_or_else(|| Error::UnknownJob(job.0.clone()))?;
        if self.jobs[at].pending.is_some() {
            return Ok(MClaim::AlreadyPending);
        }
        let item = Item {
            id: ItemId::cron_fire(job, fire),
            lane: self.jobs[at].lane,
            origin: Origin::Cron {
                job: job.clone(),
                silent,
            },
            prompt,
            attachments: Vec::new(),
            arrived_at: now,
        };
        self.jobs[at].pending = Some(item.id.clone());
        match self.submit(item, now) {
            Ok(admission) => Ok(MClaim::Admitted(admission)),
            Err(error) => {
                if let Some(j) = self.jobs.iter_mut().find(|j| &j.id == job) {
                    j.pending = None;
                }
                Err(error)
            }
        }
    }

    /// Returns the fire removed from its queue and the run of a fire running.
    pub fn cron_cancel(&mut self, job: &JobId) -> Result<(Option<ItemId>, Option<RunId>), Error> {
        let at = self
            .jobs
            .iter()
            .position(|j| &j.id == job)
            .ok_or_else(|| Error::UnknownJob(job.0.clone()))?;
        let entry = self.jobs.remove(at);
        let Some(pending) = entry.pending else {
            return Ok((None, None));
        };
        let lane = self.lane_mut(entry.lane);
        if let Some(i) = lane.cron.iter().position(|item| item.id == pending) {
            lane.cron.remove(i);
            self.end_id(&pending);
            self.relink();
            return Ok((Some(pending), None));
        }
        let running = lane
            .run
            .as_ref()
            .filter(|r| r.item.id == pending)
            .map(|r| r.id);
        Ok((None, running))
    }

    pub fn cron_kind(&self, job: &JobId) -> Option<CronKind> {
        self.jobs.iter().find(|j| &j.id == job).map(|j| j.kind)
    }

    /// Returns the runs cancelled and the items handed back.
    pub fn shutdown(&mut self, now: Millis) -> (Vec<RunView>, Vec<Item>) {
        self.shutting_down = true;
        let keys: Vec<LaneKey> = self.lanes.iter().map(|l| l.key).collect();
        let mut cancelled = Vec::new();
        for key in &keys {
            if self.cancel(*key, CancelReason::Shutdown).is_some() {
                cancelled.push(self.lane(*key).run.as_ref().unwrap().view(now));
            }
        }
        let mut queued = Vec::new();
        for lane in &mut self.lanes {
            queued.append(&mut lane.user);
            queued.append(&mut lane.cron);
            lane.interrupts = 0;
            lane.line = None;
        }
        (cancelled, queued)
    }

    pub fn snapshot(&self, now: Millis) -> Snapshot {
        Snapshot {
            capacity: self.cfg.capacity,
            in_flight: self.in_flight(),
            queued: self.queued(),
            shutting_down: self.shutting_down,
            lanes: self
                .lanes
                .iter()
                .filter(|l| l.run.is_some() || !l.user.is_empty() || !l.cron.is_empty())
                .map(|l| l.snapshot(now))
                .collect(),
        }
    }

    pub fn lane_status(&self, key: LaneKey, now: Millis) -> LaneSnapshot {
        self.lane(key).snapshot(now)
    }

    /// A fresh model loaded from a journal replay, and what it starts.
    pub fn restored(
        cfg: Config,
        lanes: &[LaneKey],
        recovered: &Recovered,
        now: Millis,
    ) -> (Model, Vec<MTicket>) {
        let mut m = Model::new(cfg, lanes);
        for id in recovered
            .ended
            .iter()
            .chain(recovered.in_flight.values().map(|i| &i.id))
        {
            m.live.push(id.clone());
            m.end_id(id);
        }
        for (key, saved) in &recovered.lanes {
            let lane = m.lane_mut(*key);
            if let Some(prefs) = &saved.preferences {
                lane.prefs = prefs.clone();
            }
            lane.sessions = saved.sessions.clone();
            lane.user.extend(saved.user.iter().cloned());
            lane.cron.extend(saved.cron.iter().cloned());
            let ids: Vec<ItemId> = saved
                .user
                .iter()
                .chain(saved.cron.iter())
                .map(|i| i.id.clone())
                .collect();
            m.live.extend(ids);
        }
        for (job, saved) in &recovered.cron {
            let queued = saved
                .pending
                .as_ref()
                .is_some_and(|p| m.lane(saved.lane).cron.iter().any(|i| &i.id == p));
            m.jobs.push(MJob {
                id: job.clone(),
                lane: saved.lane,
                kind: saved.kind,
                pending: if queued { saved.pending.clone() } else { None },
            });
        }
        m.next_run = m.next_run.max(recovered.next_run);
        let tickets = m.drain(None, now);
        (m, tickets)
    }
}
