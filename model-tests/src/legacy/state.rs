//! The original bot's process-wide state and what one run to completion of
//! its event loop does to it. Citations are `file:line` in
//! `super_turtle/claude-telegram-bot/src/` at commit 620801b.

use std::collections::VecDeque;

use baton_core::{CronKind, Driver};

use crate::observe::{CancelBy, Cx, End, Fact, Kind, Run};
use crate::system::{Reply, Started};

/// text.ts:148 and driver-routing.ts:18: one retry after a stall or crash.
pub const MAX_RETRIES: u32 = 1;
/// deferred-queue.ts:16: the oldest queued voice note is shifted out past this.
pub const MAX_QUEUE_PER_CHAT: usize = 10;

/// Which handler started a run: each continues differently once its
/// driver call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// handlers/text.ts, sequentialized per chat (index.ts:530-555).
    Text,
    /// A `!` message: text.ts after utils.ts:215 `checkInterrupt`, not
    /// sequentialized (index.ts:537).
    Interrupt,
    /// `/retry`: re-sends `session.lastMessage` (text.ts:121-122).
    Retry,
    /// handlers/voice.ts, not sequentialized (index.ts:545).
    Voice,
    /// audio.ts, photo.ts, document.ts, video.ts: one item, sequentialized.
    Media,
    /// An album: media-group.ts, processed from a timer outside the
    /// per-chat sequence (media-group.ts:141).
    MediaGroup,
    /// An `askuser:` button answer, callback.ts:221-344.
    Button,
    /// The session-resume recap, callback.ts:431-495.
    Recap,
    /// The cron loop, index.ts:621-860.
    Cron,
    /// A voice note drained from the deferred queue, deferred-queue.ts:72-123.
    Drained,
}

/// A run as the observer sees it. The original had no run ids and decides
/// nothing by them: they only name what happened.
#[derive(Debug, Clone)]
pub struct Ghost {
    pub item: String,
    pub kind: Kind,
    pub lane: usize,
    pub driver: Driver,
    pub handler: Handler,
    pub spawned: bool,
    pub alive: bool,
    /// The abort controller fired on this run's query.
    pub aborted: bool,
    pub over: bool,
    /// Ended with the process (restart or shutdown), unreported.
    pub lost: bool,
    pub attempts: u32,
    /// Its query ended in a stall or crash and the retry loop is about to
    /// start another (text.ts:175-230).
    pub retrying: bool,
    /// The chat whose sequentialize slot this handler holds (index.ts:530).
    pub holds: Option<usize>,
    /// Cron: the rest of the due list the loop walks after this run.
    pub rest: Vec<usize>,
    pub fire: u64,
}

/// `isQueryRunning`, `abortController` and `stopRequested` of one driver's
/// session object (session.ts:202-204, codex-session.ts:603-605).
#[derive(Debug, Default)]
pub struct Query {
    pub running: Option<Run>,
    pub abort: Option<Run>,
    pub stop_requested: bool,
}

/// What `stop()` of one driver answered (session.ts:276-293,
/// codex-session.ts:657-667).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Aborted(Run),
    Pending,
    Nothing,
}

impl Stopped {
    pub fn truthy(self) -> bool {
        self != Stopped::Nothing
    }
}

#[derive(Debug)]
pub struct State {
    /// `session._isProcessing`, one flag for every chat (session.ts:205).
    pub processing: bool,
    /// `_wasInterruptedByNewMessage` (session.ts:206).
    pub interrupted: bool,
    pub claude: Query,
    /// Claude's `sessionId` (session.ts:155), one for every chat.
    pub claude_session: Option<String>,
    pub codex: Query,
    /// Codex's `thread` exists (codex-session.ts:598).
    pub codex_thread: bool,
    /// Codex's `threadId` (codex-session.ts:599).
    pub codex_thread_id: Option<String>,
    /// `session.activeDriver` (session.ts:167).
    pub active: Driver,
    /// `session.lastMessage`, one for every chat (session.ts:163).
    pub last_message: Option<(String, usize)>,
    /// `backgroundRunDepth`, `backgroundRunPreempted` (driver-routing.ts:19-20).
    pub background: u32,
    pub background_preempted: bool,
    /// deferred-queue.ts:19-20.
    pub deferred: Vec<VecDeque<String>>,
    pub draining: Vec<bool>,
    /// grammY's `sequentialize` per chat (index.ts:530-555): a handler in
    /// progress, and the updates chained behind it.
    pub seq_busy: Vec<bool>,
    pub seq_wait: Vec<VecDeque<(String, Handler, bool)>>,
    /// Albums buffered until their timer fires (media-group.ts:136-145).
    pub albums: Vec<(usize, String)>,
    /// Cron jobs still registered (cron.ts:162 `removeJob`).
    pub jobs: Vec<Option<CronKind>>,
    pub job_names: Vec<String>,
    pub job_lanes: Vec<usize>,
    /// Update ids the dedupe cache remembers (index.ts:68,502-515; a TTL
    /// of 5 minutes, update-dedupe.ts:31, longer than any scenario).
    pub seen: Vec<String>,
    /// The process has exited for good (shutdown).
    pub down: bool,
    pub lane_names: Vec<String>,
    pub runs: Vec<Ghost>,
}

fn other(driver: Driver) -> Driver {
    match driver {
        Driver::Claude => Driver::Codex,
        Driver::Codex => Driver::Claude,
    }
}

impl State {
    pub fn ghost(&mut self, run: Run) -> &mut Ghost {
        &mut self.runs[run as usize - 1]
    }

    /// `isAnyDriverRunning()` (driver-routing.ts:156-158) =
    /// `session.isRunning` (session.ts:229-231) or `codexSession.isRunning`.
    pub fn any_running(&self) -> bool {
        self.claude.running.is_some() || self.processing || self.codex.running.is_some()
    }

    /// The dedupe middleware (index.ts:502-515): a redelivered update is
    /// dropped before any handler runs.
    pub fn duplicate(&mut self, item: &str) -> bool {
        if self.seen.iter().any(|s| s == item) {
            return true;
        }
        self.seen.push(item.to_owned());
        false
    }

    /// driver-routing.ts:160-165: the check and the flag, in one go.
    pub fn preempt_check(&mut self) -> bool {
        if self.background == 0 {
            return false;
        }
        self.background_preempted = true;
        true
    }

    /// One driver's `stop()`, up to its first await.
    pub fn driver_stop(&mut self, driver: Driver) -> Stopped {
        match driver {
            // claude-driver.ts:20-26 and session.ts:276-293.
            Driver::Claude => {
                if !(self.claude.running.is_some() || self.processing) {
                    return Stopped::Nothing;
                }
                if let (Some(_), Some(run)) = (self.claude.running, self.claude.abort) {
                    self.claude.stop_requested = true;
                    self.ghost(run).aborted = true;
                    return Stopped::Aborted(run);
                }
                if self.processing {
                    self.claude.stop_requested = true;
                    return Stopped::Pending;
                }
                Stopped::Nothing
            }
            // codex-session.ts:657-667: no abort controller, nothing to stop.
            Driver::Codex => match (self.codex.running, self.codex.abort) {
                (Some(_), Some(run)) => {
                    self.codex.stop_requested = true;
                    self.ghost(run).aborted = true;
                    Stopped::Aborted(run)
                }
                _ => Stopped::Nothing,
            },
        }
    }

    /// driver-routing.ts:181: the fallback read from the preference *now*.
    pub fn fallback(&self) -> Driver {
        other(self.active)
    }

    /// After the 100 ms sleep: claude-driver.ts:27-28 clears the flag.
    pub fn after_stop_sleep(&mut self, driver: Driver) {
        if driver == Driver::Claude {
            self.claude.stop_requested = false;
        }
    }

    /// The run a pending Claude stop would cancel: one whose handler
    /// processes and whose next query has not started.
    fn pending_target(&self) -> Option<Run> {
        self.runs
            .iter()
            .position(|g| !g.over && g.driver == Driver::Claude && (!g.spawned || g.retrying))
            .map(|i| i as Run + 1)
    }

    /// Records whom a stop named, judged when the stop returns: the fact
    /// spans the whole operation, as an answer does.
    pub fn name(&mut self, cx: &Cx, by: CancelBy, lane: usize, stopped: Stopped) {
        let run = match stopped {
            Stopped::Aborted(run) => Some(run),
            Stopped::Pending => self.pending_target(),
            Stopped::Nothing => None,
        };
        let by = match (by, run) {
            (CancelBy::Preempt, Some(r)) if self.ghost(r).kind != Kind::Cron => CancelBy::Stop,
            _ => by,
        };
        let (admitted, cancel_set) = match run {
            Some(r) => {
                let stop_pending = self.claude.stop_requested;
                let g = self.ghost(r);
                (
                    !g.spawned,
                    g.aborted || (stop_pending && !g.alive && !g.over),
                )
            }
            None => (false, false),
        };
        cx.after(Fact::Named {
            by,
            lane,
            run,
            admitted,
            cancel_set,
        });
    }

    fn admit(&mut self, cx: &Cx, lane: usize, item: &str, kind: Kind, handler: Handler) -> Run {
        self.runs.push(Ghost {
            item: item.to_owned(),
            kind,
            lane,
            driver: self.active,
            handler,
            spawned: false,
            alive: false,
            aborted: false,
            over: false,
            lost: false,
            attempts: 0,
            retrying: false,
            holds: None,
            rest: Vec::new(),
            fire: 0,
        });
        let run = self.runs.len() as Run;
        cx.point(Fact::Admitted {
            run,
            item: item.to_owned(),
            lane,
            kind,
        });
        run
    }

    /// `sendMessageStreaming` up to `query()` (session.ts:312-406): the
    /// flag is taken, a pending stop cancels the query before it starts,
    /// then a fresh abort controller replaces whatever was there.
    pub fn claude_begin(&mut self, cx: &Cx, run: Run) -> bool {
        self.claude.running = Some(run);
        if self.claude.stop_requested {
            // session.ts:379-386.
            self.claude.stop_requested = false;
            self.claude.running = None;
            return false;
        }
        self.claude.abort = Some(run);
        self.claude.stop_requested = false;
        self.spawned(cx, run);
        true
    }

    pub fn spawned(&mut self, cx: &Cx, run: Run) {
        let g = self.ghost(run);
        g.spawned = true;
        g.alive = true;
        g.aborted = false;
        let lane = g.lane;
        cx.point(Fact::Spawned { run, lane });
    }

    /// The handler calls its driver (`runMessageWithActiveDriver`,
    /// driver-routing.ts:80-84, or text.ts:147-152): the driver is the
    /// preference at this instant. With `gap`, the handler awaits between
    /// `startProcessing()` and the call (audio.ts:66-114, video.ts:102-
    /// 130); otherwise a Claude query starts in this same run to
    /// completion (session.ts:312-406 has no await before `query()`).
    #[allow(clippy::too_many_arguments)]
    pub fn launch(
        &mut self,
        cx: &Cx,
        lane: usize,
        item: &str,
        kind: Kind,
        handler: Handler,
        gap: bool,
        holds: Option<usize>,
        reply: &mut Reply,
    ) -> Run {
        let run = self.admit(cx, lane, item, kind, handler);
        self.ghost(run).holds = holds;
        // codex-driver.ts:19 awaits an import before the query: Codex runs
        // always leave a gap for the runner.
        if self.active == Driver::Claude && !gap && !self.claude_begin(cx, run) {
            reply
                .text
                .push_str(&format!(" r{run} cancelled before start"));
            self.end_run(cx, run, End::Cancelled, reply);
            return run;
        }
        reply.text.push_str(&format!(" started r{run}"));
        reply.started.push(Started { run, lane });
        run
    }

    /// The session's `finally` (session.ts:676-681 clears both fields,
    /// whoever set them; codex-session.ts:1134-1137 clears the flag only).
    pub fn query_done(&mut self, run: Run) {
        match self.ghost(run).driver {
            Driver::Claude => {
                self.claude.running = None;
                self.claude.abort = None;
            }
            Driver::Codex => self.codex.running = None,
        }
    }

    pub fn exit(&mut self, cx: &Cx, run: Run) {
        let g = self.ghost(run);
        if g.alive {
            g.alive = false;
            let lane = g.lane;
            cx.point(Fact::Exited { run, lane });
        }
    }

    /// The retry loop's `continue` (text.ts:175-230, driver-routing.ts:
    /// 117-139): no question whether a stop or `!` came meanwhile; only
    /// a still-set Claude stop flag cuts the new query (session.ts:379).
    pub fn retry(&mut self, cx: &Cx, run: Run, reply: &mut Reply) -> bool {
        self.ghost(run).retrying = false;
        if self.ghost(run).attempts >= MAX_RETRIES {
            self.end_run(cx, run, End::Failed, reply);
            return false;
        }
        self.ghost(run).attempts += 1;
        // text.ts:203-204: a stall before any tool kills the session
        // (session.ts:718-723 forgets its id).
        if self.ghost(run).driver == Driver::Claude {
            self.claude_session = None;
            self.claude.running = Some(run);
            if self.claude.stop_requested {
                self.claude.stop_requested = false;
                self.claude.running = None;
                self.end_run(cx, run, End::Cancelled, reply);
                return false;
            }
            self.claude.abort = Some(run);
        } else {
            self.codex.running = Some(run);
            self.codex.abort = Some(run);
            self.codex.stop_requested = false;
        }
        cx.point(Fact::RetryAccepted { run });
        self.spawned(cx, run);
        true
    }

    /// The handler's code after its driver call returned or threw.
    pub fn end_run(&mut self, cx: &Cx, run: Run, end: End, reply: &mut Reply) {
        let g = self.ghost(run);
        if g.over {
            return;
        }
        g.over = true;
        let end = if g.aborted { End::Cancelled } else { end };
        let (lane, item, handler, holds) = (g.lane, g.item.clone(), g.handler, g.holds);
        cx.point(Fact::Finished { run, item, end });
        if end == End::Cancelled && self.interrupted {
            // text.ts:242, voice.ts:171, media-group.ts:200: the catch
            // consumes the interrupt flag, which clears the stop flag too
            // (session.ts:237-245).
            self.interrupted = false;
            self.claude.stop_requested = false;
        }
        match handler {
            // text.ts:252-257: the flag down, then only this chat drained;
            // the chat's sequence waits for the drain.
            Handler::Text | Handler::Interrupt | Handler::Retry => {
                self.processing = false;
                if !self.drain(cx, lane, holds, reply) {
                    self.release(cx, holds, reply);
                }
            }
            // voice.ts:178-181.
            Handler::Voice => {
                self.processing = false;
                self.drain(cx, lane, None, reply);
            }
            // photo.ts:104-105, document.ts:375-376, audio.ts:136-137,
            // video.ts:164-165: the flag down, no drain.
            Handler::Media => {
                self.processing = false;
                self.release(cx, holds, reply);
            }
            Handler::MediaGroup => self.processing = false,
            // callback.ts:340-343, 492-495: only the typing indicator.
            Handler::Button | Handler::Recap => {}
            // deferred-queue.ts:108-121: the flag down; on success the loop
            // goes on while nothing runs, on an error it breaks; then the
            // handler that drained ends, and its chat's sequence moves on.
            Handler::Drained => {
                self.processing = false;
                let more = matches!(end, End::Completed) && self.drain_next(cx, lane, holds, reply);
                if !more {
                    self.draining[lane] = false;
                    self.release(cx, holds, reply);
                }
            }
            // index.ts:829-831 `endBackgroundRun` (driver-routing.ts:65-70),
            // and the loop goes on with its stale due list.
            Handler::Cron => {
                self.background = self.background.saturating_sub(1);
                if self.background == 0 {
                    self.background_preempted = false;
                }
                let (rest, fire) = {
                    let g = self.ghost(run);
                    (std::mem::take(&mut g.rest), g.fire)
                };
                self.cron_loop(cx, rest, fire, reply);
            }
        }
    }

    /// The chat's next chained update starts once this handler's promise
    /// settles (grammY runner's `sequentialize`).
    pub fn release(&mut self, cx: &Cx, holds: Option<usize>, reply: &mut Reply) {
        let Some(lane) = holds else { return };
        match self.seq_wait[lane].pop_front() {
            Some((item, handler, gap)) => self.body(cx, lane, &item, handler, gap, reply),
            None => self.seq_busy[lane] = false,
        }
    }

    /// A sequentialized handler's body once its turn has come.
    pub fn body(
        &mut self,
        cx: &Cx,
        lane: usize,
        item: &str,
        handler: Handler,
        gap: bool,
        reply: &mut Reply,
    ) {
        match handler {
            // text.ts:122 `session.lastMessage = message`, 133
            // `startProcessing()` with no check whether anything runs, 152.
            Handler::Text => {
                self.last_message = Some((item.to_owned(), lane));
                self.processing = true;
                self.launch(
                    cx,
                    lane,
                    item,
                    Kind::User,
                    Handler::Text,
                    false,
                    Some(lane),
                    reply,
                );
            }
            // photo.ts:61,92; document.ts:322,357: `startProcessing()` then
            // the driver, no busy check. Audio and video await first.
            _ => {
                self.processing = true;
                self.launch(
                    cx,
                    lane,
                    item,
                    Kind::User,
                    Handler::Media,
                    gap,
                    Some(lane),
                    reply,
                );
            }
        }
    }

    /// `drainDeferredQueue(ctx, chatId)` (deferred-queue.ts:72-77): only the
    /// given chat, and nothing while any driver runs.
    pub fn drain(&mut self, cx: &Cx, lane: usize, holds: Option<usize>, reply: &mut Reply) -> bool {
        if self.draining[lane] || self.any_running() {
            return false;
        }
        self.draining[lane] = true;
        let started = self.drain_next(cx, lane, holds, reply);
        if !started {
            self.draining[lane] = false;
        }
        started
    }

    /// One turn of the drain loop (deferred-queue.ts:79-92).
    fn drain_next(
        &mut self,
        cx: &Cx,
        lane: usize,
        holds: Option<usize>,
        reply: &mut Reply,
    ) -> bool {
        if self.any_running() {
            return false;
        }
        let Some(item) = self.deferred[lane].pop_front() else {
            return false;
        };
        self.processing = true;
        reply.text.push_str(", drained");
        self.launch(
            cx,
            lane,
            &item,
            Kind::User,
            Handler::Drained,
            false,
            holds,
            reply,
        );
        true
    }

    /// `enqueueDeferredMessage` (deferred-queue.ts:22-41): the oldest is
    /// shifted out, unreported, past ten.
    pub fn enqueue(&mut self, cx: &Cx, lane: usize, item: &str) -> usize {
        self.deferred[lane].push_back(item.to_owned());
        cx.point(Fact::Queued {
            item: item.to_owned(),
            lane,
            kind: Kind::User,
        });
        if self.deferred[lane].len() > MAX_QUEUE_PER_CHAT {
            self.deferred[lane].pop_front();
        }
        self.deferred[lane].len()
    }

    /// The cron loop over its due list (index.ts:629-832), up to the first
    /// run it starts: the loop awaits that run, and goes on in its `finally`.
    pub fn cron_loop(&mut self, cx: &Cx, due: Vec<usize>, fire: u64, reply: &mut Reply) {
        let mut due = due.into_iter();
        while let Some(job) = due.next() {
            let name = self.job_names[job].clone();
            // index.ts:633-635: skipped while anything runs; it stays due.
            if self.any_running() {
                reply.text.push_str(&format!("{name}: skipped, busy; "));
                continue;
            }
            // index.ts:637-642: advanced or removed *before* it runs, and
            // never asked whether it still exists: the list is stale.
            if let Some(CronKind::OneShot) = self.jobs[job] {
                self.jobs[job] = None;
            }
            let item = format!("c{name}@{fire}");
            cx.point(Fact::CronFire {
                job,
                item: item.clone(),
            });
            // index.ts:787-792.
            self.background += 1;
            if self.background_preempted {
                self.background -= 1;
                reply
                    .text
                    .push_str(&format!("{name}: skipped, preempted; "));
                continue;
            }
            reply.text.push_str(&format!("{name}:"));
            let lane = self.job_lanes[job];
            let run = self.launch(
                cx,
                lane,
                &item,
                Kind::Cron,
                Handler::Cron,
                false,
                None,
                reply,
            );
            let g = self.ghost(run);
            if !g.over {
                g.rest = due.collect();
                g.fire = fire;
            }
            return;
        }
    }

    /// What the process loses when it exits: everything in memory.
    /// Kept on disk: the active driver (session.ts:112-135,196), Codex's
    /// thread id (codex-session.ts:41-56,641-642), the cron jobs
    /// (cron.ts:79,111). Lost: runs in flight, unreported
    /// (index.ts:943-953 exits at once); the deferred queues
    /// (deferred-queue.ts:19); chained and buffered updates; the dedupe
    /// cache (index.ts:68); Claude's session id, which the constructor
    /// does not load (session.ts:192-200); `lastMessage`.
    pub fn exit_process(&mut self, cx: &Cx) -> String {
        let mut lost = Vec::new();
        for i in 0..self.runs.len() {
            let run = i as Run + 1;
            if self.runs[i].over {
                continue;
            }
            self.exit(cx, run);
            let g = self.ghost(run);
            g.over = true;
            g.lost = true;
            lost.push(format!("r{run}"));
        }
        for queue in &mut self.deferred {
            lost.extend(queue.drain(..));
        }
        for queue in &mut self.seq_wait {
            lost.extend(queue.drain(..).map(|(item, ..)| item));
        }
        lost.extend(self.albums.drain(..).map(|(_, item)| item));
        let lanes = self.lane_names.len();
        self.draining = vec![false; lanes];
        self.seq_busy = vec![false; lanes];
        self.processing = false;
        self.interrupted = false;
        self.claude = Query::default();
        self.claude_session = None;
        self.codex = Query::default();
        self.codex_thread = false;
        self.last_message = None;
        self.background = 0;
        self.background_preempted = false;
        self.seen.clear();
        format!("lost unreported: [{}]", lost.join(" "))
    }
}
