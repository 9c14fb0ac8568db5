//! A model of the original TypeScript bot ("legacy"), written from its
//! source (github.com/Rigos0/SuperTurtle, `super_turtle/claude-telegram-bot/
//! src/` at commit 620801b, the audited one), so the audit's race reports
//! reproduce for the reasons the code gives. Every behaviour cites the
//! `file:line` it follows.
//!
//! JavaScript runs one callback at a time: the event loop is one lock, held
//! from one `await` to the next. Each `self.tick(..)` below is such a run to
//! completion; between two ticks of one handler anything may interleave.
//! A `Bun.sleep(100)` is such a point too (no checker models time). The
//! runner actors stand for the awaited driver call: `spawn` is the query
//! start, `finish`/`stall`/a seen cancellation is the driver call returning
//! or throwing, and what the handler does next runs in that operation.
//!
//! Where the model goes beyond the source, it says so: `/retry` reads
//! `session.lastMessage`, which text.ts:121-122 stores "for retry" and no
//! handler reads at 620801b; `timer` operations do nothing, the flags being
//! cleared by the handlers' own sleeps (claude-driver.ts:27-28,
//! utils.ts:232-234).

mod state;

use std::collections::VecDeque;

use baton_core::sync::Lock;
use baton_core::{Driver, Origin};

use crate::family::Model;
use crate::observe::{CancelBy, Cx, End, Fact, Kind, Run};
use crate::report::{Report, Timer};
use crate::system::{Quiescence, Reply, RunnerReply, System};
use crate::trace;

use state::{Handler, Query, State, Stopped};

pub struct LegacySystem<F: Model> {
    state: F::Mutex<State>,
}

fn over(text: impl Into<String>) -> RunnerReply {
    RunnerReply {
        reply: Reply::text(text),
        over: true,
    }
}

fn going(reply: Reply) -> RunnerReply {
    RunnerReply { reply, over: false }
}

impl<F: Model> LegacySystem<F> {
    pub fn new(report: &Report) -> Self {
        let lanes = report.lanes.len();
        LegacySystem {
            state: F::Mutex::new(State {
                processing: false,
                interrupted: false,
                claude: Query::default(),
                claude_session: None,
                codex: Query::default(),
                codex_thread: false,
                codex_thread_id: None,
                active: Driver::Claude,
                last_message: None,
                background: 0,
                background_preempted: false,
                deferred: vec![VecDeque::new(); lanes],
                draining: vec![false; lanes],
                seq_busy: vec![false; lanes],
                seq_wait: vec![VecDeque::new(); lanes],
                albums: Vec::new(),
                jobs: report.cron.iter().map(|j| Some(j.kind)).collect(),
                job_names: report.cron.iter().map(|j| j.name.clone()).collect(),
                job_lanes: report.cron.iter().map(|j| j.lane).collect(),
                seen: Vec::new(),
                down: false,
                lane_names: report.lanes.clone(),
                runs: Vec::new(),
            }),
        }
    }

    /// One run to completion of the event loop, up to the next `await`.
    fn tick<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.state.with(f)
    }

    /// The middlewares every update passes (index.ts:502-526): a duplicate
    /// is dropped; an allowed user's update preempts background (cron)
    /// work first. `None` when the update goes no further.
    fn middleware(&self, cx: &Cx, lane: usize, item: Option<&str>) -> Option<Reply> {
        let (pass, preempt) = self.tick(|s| {
            if s.down {
                return (Some(Reply::text("the process is gone")), false);
            }
            if item.is_some_and(|i| s.duplicate(i)) {
                return (Some(Reply::text("duplicate update dropped")), false);
            }
            (None, s.preempt_check())
        });
        if pass.is_some() {
            return pass;
        }
        if preempt {
            self.preempt(cx, lane);
        }
        None
    }

    /// `preemptBackgroundRunForUserPriority()` (driver-routing.ts:160-172)
    /// past its check: the stop, then a sleep if it stopped something.
    fn preempt(&self, cx: &Cx, lane: usize) {
        let (stopped, _) = self.stop_active_driver_query();
        self.tick(|s| s.name(cx, CancelBy::Preempt, lane, stopped));
    }

    /// `stopActiveDriverQuery()` (driver-routing.ts:174-183): the target is
    /// the preference when it runs; if that driver has nothing to stop, the
    /// fallback is read again, after the await. A truthy answer sleeps
    /// 100 ms (claude-driver.ts:25-29, codex-driver.ts:136-141), then
    /// Claude's stop flag is cleared whether or not the query saw it.
    fn stop_active_driver_query(&self) -> (Stopped, Driver) {
        let (first, target) = self.tick(|s| {
            let target = s.active;
            (s.driver_stop(target), target)
        });
        if first.truthy() {
            self.tick(|s| s.after_stop_sleep(target));
            return (first, target);
        }
        let (second, fallback) = self.tick(|s| {
            let fallback = s.fallback();
            (s.driver_stop(fallback), fallback)
        });
        if second.truthy() {
            self.tick(|s| s.after_stop_sleep(fallback));
        }
        (second, fallback)
    }

    /// A sequentialized message (index.ts:530-555): it waits behind the
    /// chat's handler in progress, or runs now.
    fn sequential(&self, cx: &Cx, lane: usize, item: &str, handler: Handler, gap: bool) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        let mut reply = Reply::default();
        self.tick(|s| {
            if s.seq_busy[lane] {
                s.seq_wait[lane].push_back((item.to_owned(), handler, gap));
                cx.point(Fact::Queued {
                    item: item.to_owned(),
                    lane,
                    kind: Kind::User,
                });
                reply.text = "waits behind the chat's update in progress".to_owned();
            } else {
                s.seq_busy[lane] = true;
                s.body(cx, lane, item, handler, gap, &mut reply);
            }
        });
        reply
    }

    /// handlers/voice.ts: not sequentialized (index.ts:545).
    fn voice(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        // voice.ts:77-111: download and transcription are awaits; then
        // 121-123 preempt background work once more.
        if self.tick(|s| s.preempt_check()) {
            self.preempt(cx, lane);
        }
        let mut reply = Reply::default();
        let queued = self.tick(|s| {
            if s.any_running() {
                // voice.ts:124-136: queued in this chat's deferred queue.
                let at = s.enqueue(cx, lane, item);
                reply.text = format!("queued at {at}");
                true
            } else {
                // voice.ts:141,155: the flag, then the driver.
                s.processing = true;
                s.launch(
                    cx,
                    lane,
                    item,
                    Kind::User,
                    Handler::Voice,
                    false,
                    None,
                    &mut reply,
                );
                false
            }
        });
        if queued {
            // voice.ts:133-136 then the `finally` at 178-181: after the
            // reply is awaited, this chat is drained (if nothing runs).
            self.tick(|s| {
                if s.drain(cx, lane, None, &mut reply) {
                    reply.text.push_str(" by its own finally");
                }
            });
        }
        reply
    }

    /// callback.ts:221-344: an `askuser:` answer stops whatever runs and
    /// starts at once, with no `startProcessing()`.
    fn button(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        // callback.ts:252-287 awaits; 293-297 the stop and its sleep.
        if self.tick(|s| s.any_running()) {
            let (stopped, _) = self.stop_active_driver_query();
            self.tick(|s| s.name(cx, CancelBy::Interrupt, lane, stopped));
        }
        let mut reply = Reply::default();
        self.tick(|s| {
            s.launch(
                cx,
                lane,
                item,
                Kind::User,
                Handler::Button,
                false,
                None,
                &mut reply,
            );
        });
        reply
    }

    /// media-group.ts:111-165: the album is buffered, the handler returns
    /// (its chat's sequence moves on) and a timer processes it later with
    /// photo.ts:52-108, outside any sequence.
    fn album(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        self.tick(|s| {
            s.albums.push((lane, item.to_owned()));
            cx.point(Fact::Queued {
                item: item.to_owned(),
                lane,
                kind: Kind::User,
            });
        });
        let mut reply = Reply::text("buffered;");
        // MEDIA_GROUP_TIMEOUT (media-group.ts:141-144) fires.
        self.tick(|s| {
            let Some(at) = s.albums.iter().position(|(l, i)| *l == lane && i == item) else {
                return;
            };
            s.albums.remove(at);
            s.processing = true;
            s.launch(
                cx,
                lane,
                item,
                Kind::User,
                Handler::MediaGroup,
                false,
                None,
                &mut reply,
            );
        });
        reply
    }

    /// Text from `!` (text.ts:104, utils.ts:215-238): only Claude's session
    /// is asked, whatever the active driver; after 100 ms its stop flag is
    /// cleared and the new message runs, not sequentialized (index.ts:537).
    fn bang(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        let stopped = self.tick(|s| {
            if !(s.claude.running.is_some() || s.processing) {
                return None;
            }
            s.interrupted = true;
            Some(s.driver_stop(Driver::Claude))
        });
        let mut reply = Reply::default();
        self.tick(|s| {
            if let Some(stopped) = stopped {
                s.claude.stop_requested = false;
                s.name(cx, CancelBy::Interrupt, lane, stopped);
                reply.text = format!("{stopped:?};").to_lowercase();
            }
            s.last_message = Some((item.to_owned(), lane));
            s.processing = true;
            s.launch(
                cx,
                lane,
                item,
                Kind::Interrupt,
                Handler::Interrupt,
                false,
                None,
                &mut reply,
            );
        });
        reply
    }

    /// The driver call ended by itself: the process is gone and the
    /// session's `finally` ran (session.ts:676-681, codex-session.ts:1134);
    /// a crash before any tool is retried once (text.ts:216-230,
    /// driver-routing.ts:136-139), otherwise the handler's own code runs.
    /// The awaits in between deliver the answer (session.ts:705-710) and
    /// log it (text.ts:161): the model runs them with the handler's code,
    /// so a stop cannot land after the answer and before the handler ends,
    /// a window no report is about.
    fn ended(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        let mut reply = Reply::text(format!("{end:?}").to_lowercase());
        let retried = self.tick(|s| {
            s.exit(cx, run);
            s.query_done(run);
            if end == End::Failed {
                return s.retry(cx, run, &mut reply);
            }
            s.end_run(cx, run, end, &mut reply);
            false
        });
        RunnerReply {
            reply,
            over: !retried,
        }
    }
}

impl<F: Model> System for LegacySystem<F> {
    fn submit(&self, cx: &Cx, lane: usize, item: &str, origin: &Origin) -> Reply {
        match origin {
            Origin::Text | Origin::Recap | Origin::Cron { .. } => {
                self.sequential(cx, lane, item, Handler::Text, false)
            }
            Origin::Voice => self.voice(cx, lane, item),
            Origin::Button => self.button(cx, lane, item),
            // audio.ts:66-114 and video.ts:102-130 await between the flag
            // and the driver; photo.ts:61-92 and document.ts:322-357 do not.
            Origin::Audio | Origin::Video => self.sequential(cx, lane, item, Handler::Media, true),
            Origin::Photo | Origin::Document => {
                self.sequential(cx, lane, item, Handler::Media, false)
            }
        }
    }

    fn media_group(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.album(cx, lane, item)
    }

    fn interrupt(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.bang(cx, lane, item)
    }

    /// A bare "stop" (text.ts:96-101; not sequentialized, index.ts:541):
    /// `stopAllRunningWork()` (stop.ts:71-79). The original has no way to
    /// clear a queue, so `clear` removes nothing.
    fn stop(&self, cx: &Cx, lane: usize, _clear: bool) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, None) {
            return dropped;
        }
        let (stopped, target) = self.stop_active_driver_query();
        self.tick(|s| s.name(cx, CancelBy::Stop, lane, stopped));
        Reply::text(format!("{target:?}: {stopped:?}").to_lowercase())
    }

    /// `/new` (commands.ts:304-334): stop if anything runs, sleep, clear
    /// the flag, then forget both sessions. The deferred queue stays.
    fn new_session(&self, cx: &Cx, lane: usize) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, None) {
            return dropped;
        }
        let mut text = String::from("new session");
        if self.tick(|s| s.any_running()) {
            let (stopped, target) = self.stop_active_driver_query();
            if stopped.truthy() {
                // commands.ts:324-327: a second sleep and clear.
                self.tick(|s| s.claude.stop_requested = false);
            }
            self.tick(|s| s.name(cx, CancelBy::New, lane, stopped));
            text = format!("{target:?}: {stopped:?}, new session").to_lowercase();
        }
        self.tick(|s| {
            // session.ts:718-723, codex-session.ts:1279-1292.
            s.claude_session = None;
            s.codex_thread = false;
            s.codex_thread_id = None;
            cx.point(Fact::NewSession { lane });
        });
        Reply::text(text)
    }

    /// The preference's setter (session.ts:186-190), as the agent's own
    /// `switch_driver` tool calls it mid-run (streaming.ts:309-331): no
    /// stop, unlike `/switch` (commands.ts:608-625).
    fn set_driver(&self, _cx: &Cx, _lane: usize, driver: Driver) -> Reply {
        self.tick(|s| s.active = driver);
        Reply::text(format!("active driver {driver:?}").to_lowercase())
    }

    /// `/retry` re-sends the one global `session.lastMessage` (text.ts:122,
    /// session.ts:163) through the text path: a command, not sequentialized
    /// (index.ts:533).
    fn retry_last(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, None) {
            return dropped;
        }
        let mut reply = Reply::default();
        self.tick(|s| match s.last_message.clone() {
            Some((_, source)) => {
                cx.point(Fact::Resent {
                    lane,
                    source: Some(source),
                });
                s.processing = true;
                s.launch(
                    cx,
                    lane,
                    item,
                    Kind::Copy,
                    Handler::Retry,
                    false,
                    None,
                    &mut reply,
                );
            }
            None => reply.text = "nothing to retry".to_owned(),
        });
        reply
    }

    /// The resume button (callback.ts:431-495): after its awaits it sets
    /// the driver to Claude (480) and runs the recap prompt (481) with no
    /// busy check and no `startProcessing()`.
    fn recap(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        if let Some(dropped) = self.middleware(cx, lane, Some(item)) {
            return dropped;
        }
        let mut reply = Reply::default();
        self.tick(|s| {
            s.active = Driver::Claude;
            s.launch(
                cx,
                lane,
                item,
                Kind::Copy,
                Handler::Recap,
                false,
                None,
                &mut reply,
            );
        });
        reply
    }

    /// The cron timer (index.ts:621-627): `getDueJobs()` once; the loop then
    /// walks that list (see `State::cron_loop`).
    fn cron_tick(&self, cx: &Cx, jobs: &[usize], fire: u64) -> Reply {
        let mut reply = Reply::default();
        self.tick(|s| {
            if s.down {
                reply.text = "the process is gone".to_owned();
                return;
            }
            let due: Vec<usize> = jobs
                .iter()
                .copied()
                .filter(|&j| s.jobs[j].is_some())
                .collect();
            s.cron_loop(cx, due, fire, &mut reply);
        });
        reply
    }

    /// The `cron_cancel:` button (callback.ts:203) removes the job
    /// (cron.ts:162); a list already read is not told.
    fn cron_cancel(&self, cx: &Cx, job: usize) -> Reply {
        let lane = self.tick(|s| s.job_lanes[job]);
        if let Some(dropped) = self.middleware(cx, lane, None) {
            return dropped;
        }
        self.tick(|s| {
            if s.jobs[job].take().is_some() {
                cx.point(Fact::CronCancelled { job });
                Reply::text("cancelled")
            } else {
                Reply::text("no such job")
            }
        })
    }

    /// The original's flags are cleared by the handlers that set them,
    /// after their own sleeps: no separate timer exists to fire.
    fn timer(&self, _cx: &Cx, _timer: Timer) -> Reply {
        Reply::text("no separate timer: the flags clear after their handlers' sleeps")
    }

    /// `/status` shows "idle" from the flags while a query may still run
    /// (commands.ts:340-350; the drivers' snapshots, claude-driver.ts:50-66).
    fn snapshot(&self, cx: &Cx) -> Reply {
        self.tick(|s| {
            let mut problems = Vec::new();
            let alive = s.runs.iter().filter(|g| g.alive).count();
            if !s.any_running() && alive > 0 {
                problems.push(format!("status shows idle while {alive} agents run"));
            }
            cx.after(Fact::Snapshot { problems });
            Reply::text(if s.any_running() { "busy" } else { "idle" })
        })
    }

    fn spawn(&self, cx: &Cx, run: Run) -> RunnerReply {
        let (lost, spawned, driver) = self.tick(|s| {
            let g = s.ghost(run);
            (g.lost || g.over, g.spawned, g.driver)
        });
        if lost {
            return over(format!("r{run} is gone"));
        }
        if spawned {
            return going(Reply::text("already running"));
        }
        match driver {
            Driver::Claude => {
                let mut reply = Reply::default();
                let started = self.tick(|s| {
                    if s.claude_begin(cx, run) {
                        return true;
                    }
                    s.end_run(cx, run, End::Cancelled, &mut reply);
                    false
                });
                if started {
                    going(Reply::text("spawned"))
                } else {
                    reply.text = format!("cancelled before start,{}", reply.text);
                    RunnerReply { reply, over: true }
                }
            }
            Driver::Codex => {
                // codex-session.ts:809: the flag first; 811-823: a first turn
                // awaits the thread's creation; only then (857-858) is there
                // an abort controller, and the turn starts (862).
                let first_turn = self.tick(|s| {
                    s.codex.running = Some(run);
                    !s.codex_thread
                });
                self.tick(|s| {
                    if first_turn {
                        s.codex_thread = true;
                    }
                    s.codex.abort = Some(run);
                    s.codex.stop_requested = false;
                    s.spawned(cx, run);
                });
                going(Reply::text("spawned"))
            }
        }
    }

    fn finish(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        if self.tick(|s| s.ghost(run).over) {
            return over(format!("r{run} is gone"));
        }
        self.ended(cx, run, end)
    }

    /// The stall timer (session.ts:438-444): the session aborts its own
    /// query, its `finally` runs, the stall error reaches the retry loop
    /// after the handler's awaited reply (text.ts:195-201).
    fn stall(&self, cx: &Cx, run: Run) -> RunnerReply {
        if self.tick(|s| s.ghost(run).over) {
            return over(format!("r{run} is gone"));
        }
        self.tick(|s| {
            s.exit(cx, run);
            s.query_done(run);
            s.ghost(run).retrying = true;
        });
        let mut reply = Reply::text("stalled;");
        let retried = self.tick(|s| s.retry(cx, run, &mut reply));
        if retried {
            reply.text.push_str(" retried, respawned");
        }
        RunnerReply {
            reply,
            over: !retried,
        }
    }

    fn cancelled(&self, run: Run) -> bool {
        self.tick(|s| {
            let g = s.ghost(run);
            g.lost || (g.aborted && !g.over)
        })
    }

    /// The abort rejects the pending read at once: the session's `finally`
    /// (session.ts:676-681) and the handler's own code run, while the agent
    /// process, signalled, exits on its own schedule. Nothing waits for it.
    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply {
        if self.tick(|s| s.ghost(run).lost) {
            return over(format!("r{run} ended with the process"));
        }
        cx.point(Fact::Killed { run });
        let mut reply = Reply::text("aborted;");
        self.tick(|s| {
            s.query_done(run);
            s.end_run(cx, run, End::Cancelled, &mut reply);
        });
        self.tick(|s| s.exit(cx, run));
        RunnerReply { reply, over: true }
    }

    /// The streaming status callback (streaming.ts:524-707) has no
    /// "finalized" state: output after "done" (662) is shown all the same.
    fn output(&self, cx: &Cx, run: Run) -> Reply {
        self.tick(|_| cx.point(Fact::OutputAccepted { run }));
        Reply::text("accepted")
    }

    /// session.ts:459-463 keeps the first id it sees; Codex's comes with its
    /// thread (codex-session.ts:732). One of each for every chat.
    fn session(&self, cx: &Cx, run: Run, id: &str) -> Reply {
        self.tick(|s| {
            let (lane, driver) = {
                let g = s.ghost(run);
                (g.lane, g.driver)
            };
            let slot = match driver {
                Driver::Claude => &mut s.claude_session,
                Driver::Codex => &mut s.codex_thread_id,
            };
            if slot.is_some() {
                return Reply::text("kept the session it had");
            }
            *slot = Some(id.to_owned());
            cx.point(Fact::SessionAccepted {
                run,
                lane,
                id: id.to_owned(),
            });
            Reply::text("accepted")
        })
    }

    /// The process exits and starts again (`/restart`, commands.ts:1384-
    /// 1413, or a crash): see `State::exit_process` for what is kept.
    fn restart(&self, cx: &Cx) -> Reply {
        self.tick(|s| {
            if s.down {
                return Reply::text("the process is gone");
            }
            Reply::text(format!("restarted; {}", s.exit_process(cx)))
        })
    }

    /// SIGTERM (index.ts:949-953): the runner stops and the process exits
    /// at once; nothing is handed back or reported.
    fn shutdown(&self, cx: &Cx) -> Reply {
        self.tick(|s| {
            let text = s.exit_process(cx);
            s.down = true;
            Reply::text(format!("exited; {text}"))
        })
    }

    fn quiescence(&self) -> Quiescence {
        trace::quietly(|| {
            self.tick(|s| Quiescence {
                queued: s.deferred.iter().map(VecDeque::len).sum::<usize>()
                    + s.seq_wait.iter().map(VecDeque::len).sum::<usize>()
                    + s.albums.len(),
                in_flight: s.runs.iter().filter(|g| !g.over).count(),
            })
        })
    }

    /// The two session ids are process-wide: every chat resumes them.
    fn sessions(&self) -> Vec<(usize, String)> {
        trace::quietly(|| {
            self.tick(|s| {
                let ids: Vec<String> = [&s.claude_session, &s.codex_thread_id]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                (0..s.lane_names.len())
                    .flat_map(|lane| ids.iter().map(move |id| (lane, id.clone())))
                    .collect()
            })
        })
    }

    fn describe(&self) -> String {
        trace::quietly(|| {
            self.tick(|s| {
                let run = |r: Option<Run>| r.map_or("-".to_owned(), |r| format!("r{r}"));
                let mut parts = vec![
                    format!(
                        "processing={} active={:?} claude(query={} stop={}) codex(query={} abort={})",
                        s.processing,
                        s.active,
                        run(s.claude.running),
                        s.claude.stop_requested,
                        run(s.codex.running),
                        run(s.codex.abort),
                    )
                    .to_lowercase(),
                ];
                for (lane, name) in s.lane_names.iter().enumerate() {
                    let live: Vec<String> = s
                        .runs
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| g.lane == lane && !g.over)
                        .map(|(i, g)| {
                            format!(
                                "r{} {}{}",
                                i + 1,
                                if g.alive { "running" } else { "admitted" },
                                if g.aborted { " (aborted)" } else { "" }
                            )
                        })
                        .collect();
                    let queued: Vec<&str> = s.deferred[lane]
                        .iter()
                        .map(String::as_str)
                        .chain(s.seq_wait[lane].iter().map(|(i, ..)| i.as_str()))
                        .collect();
                    let runs = if live.is_empty() {
                        "idle".to_owned()
                    } else {
                        live.join(", ")
                    };
                    parts.push(format!("{name}: {runs}, queue [{}]", queued.join(" ")));
                }
                parts.join("; ")
            })
        })
    }
}
