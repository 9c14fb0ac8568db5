//! Deliberately wrong designs, built only here, never in the bot: each
//! reproduces one bug, to prove the scenarios catch it. Most are planted in
//! the core itself ([`Mutation`], the `planted-bugs` feature of baton-core:
//! one wrong branch of `core/src/machine/` or of the run lifecycle the bot
//! ships); the others wrap the real core at its API seam, made of calls the
//! bot could make.

use std::sync::Mutex;

use crate::core_system::CoreSystem;
use crate::family::Model;
use crate::observe::{Cx, End, Fact, Run};
use baton_core::{Driver, Origin};

use crate::report::{Report, Timer};
use crate::system::{Quiescence, Reply, RunnerReply, System};
use baton_core::planted::Mutation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// The runner starts only what `finish` hands back for its own lane:
    /// the original drained only the chat that finished (DQ-1). Dropping
    /// the other lanes' tickets leaves their items waiting forever. The
    /// lifecycle with [`Mutation::StartOnlyOwnLane`].
    DrainOnlyFinishingLane,
    /// A stop raises a lane-level flag that any run of the lane obeys, like
    /// the original's `stopRequested`: not bound to a run id, a stop that
    /// arrives after its run ended kills the next one (SP-2, TX-1).
    LaneStopFlag,
    /// The run is handed back (lane and capacity freed) before its agent
    /// process has exited, so the next run starts while the old one still
    /// runs: the original's "stop returns before the run ended" (SP-1, DR-2).
    /// The lifecycle with [`Mutation::FinishBeforeExit`].
    CapacityBeforeExit,
    /// Session ids are written with `set_session`, which asks nothing about
    /// the reporting run: an old run overwrites the session of a `/new`.
    SessionFromAnyRun,
    /// A claimed cron fire's job is removed at once, before its run, as the
    /// original did (CR-2): a fire still queued goes with it, unreported.
    CronRemovedBeforeRun,
    /// A stalled run retries even when the core refuses (no ownership
    /// check), as the original's retry loop did (TX-1).
    RetryWithoutOwnership,
    /// Output is shown even after the run finished, as the original's
    /// unserialised status callback did (ST-1).
    OutputAfterFinish,
    /// The core with one wrong branch planted (see [`Mutation`]).
    Planted(Mutation),
}

/// Every mutation planted in the core's machine, by its variant name (the
/// lifecycle's two are the named variants above).
const PLANTED: [(Mutation, &str); 38] = [
    (Mutation::DrainCronFirst, "drain-cron-first"),
    (Mutation::PopNewestAtDepth, "pop-newest-at-depth"),
    (Mutation::FullQueueDropsOldest, "full-queue-drops-oldest"),
    (Mutation::SubmitIgnoresCapacity, "submit-ignores-capacity"),
    (Mutation::DedupeForgotten, "dedupe-forgotten"),
    (
        Mutation::InterruptCancelsNothing,
        "interrupt-cancels-nothing",
    ),
    (Mutation::RetryAfterCancel, "retry-after-cancel"),
    (Mutation::SpawnAfterCancel, "spawn-after-cancel"),
    (Mutation::SessionAfterNew, "session-after-new"),
    (
        Mutation::PreemptedRequeuedAtBack,
        "preempted-requeued-at-back",
    ),
    (Mutation::InterruptNotFirst, "interrupt-not-first"),
    (Mutation::PreemptedFireDropped, "preempted-fire-dropped"),
    (
        Mutation::NewForgetsAtOnceAfterStop,
        "new-forgets-at-once-after-stop",
    ),
    (Mutation::StopKeepsPreemption, "stop-keeps-preemption"),
    (Mutation::StopClearKeepsQueue, "stop-clear-keeps-queue"),
    (Mutation::ShutdownDropsQueue, "shutdown-drops-queue"),
    (
        Mutation::CronCancelKeepsQueuedFire,
        "cron-cancel-keeps-queued-fire",
    ),
    (Mutation::RestoreForgetsEnded, "restore-forgets-ended"),
    (
        Mutation::AdmitWhileShuttingDown,
        "admit-while-shutting-down",
    ),
    (Mutation::NoPreemptInLane, "no-preempt-in-lane"),
    (Mutation::NoPreemptForCapacity, "no-preempt-for-capacity"),
    (Mutation::InterruptAtTail, "interrupt-at-tail"),
    (Mutation::StopCancelsNothing, "stop-cancels-nothing"),
    (Mutation::NewCancelsNothing, "new-cancels-nothing"),
    (Mutation::NewKeepsQueue, "new-keeps-queue"),
    (Mutation::OutputFromAnyRun, "output-from-any-run"),
    (Mutation::SessionsKeptAfterNew, "sessions-kept-after-new"),
    (Mutation::FinishStartsNothing, "finish-starts-nothing"),
    (Mutation::ClaimWhilePending, "claim-while-pending"),
    (Mutation::CancelKeepsJob, "cancel-keeps-job"),
    (
        Mutation::RestoreKeepsInterruptedOneShot,
        "restore-keeps-interrupted-one-shot",
    ),
    (Mutation::RestoreStartsNothing, "restore-starts-nothing"),
    (Mutation::AskAfterCancel, "ask-after-cancel"),
    (Mutation::AnswerTwice, "answer-twice"),
    (Mutation::AnswerAfterCancel, "answer-after-cancel"),
    (Mutation::RefusedTapCloses, "refused-tap-closes"),
    (Mutation::RunNowRestartsStarted, "run-now-restarts-started"),
    (Mutation::CancelReportsStarted, "cancel-reports-started"),
];

impl Variant {
    pub const ALL: [Variant; 7 + PLANTED.len()] = {
        let mut all = [Variant::OutputAfterFinish; 7 + PLANTED.len()];
        let named = [
            Variant::DrainOnlyFinishingLane,
            Variant::LaneStopFlag,
            Variant::CapacityBeforeExit,
            Variant::SessionFromAnyRun,
            Variant::CronRemovedBeforeRun,
            Variant::RetryWithoutOwnership,
            Variant::OutputAfterFinish,
        ];
        let mut i = 0;
        while i < named.len() {
            all[i] = named[i];
            i += 1;
        }
        let mut j = 0;
        while j < PLANTED.len() {
            all[named.len() + j] = Variant::Planted(PLANTED[j].0);
            j += 1;
        }
        all
    };

    pub fn name(self) -> &'static str {
        match self {
            Variant::DrainOnlyFinishingLane => "drain-only-finishing-lane",
            Variant::LaneStopFlag => "lane-stop-flag",
            Variant::CapacityBeforeExit => "capacity-before-exit",
            Variant::SessionFromAnyRun => "session-from-any-run",
            Variant::CronRemovedBeforeRun => "cron-removed-before-run",
            Variant::RetryWithoutOwnership => "retry-without-ownership",
            Variant::OutputAfterFinish => "output-after-finish",
            Variant::Planted(mutation) => PLANTED
                .iter()
                .find(|(m, _)| *m == mutation)
                .map_or("planted-lifecycle-mutation", |(_, name)| *name),
        }
    }

    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The bug this variant plants in the core or its lifecycle, if it is
    /// one.
    pub fn mutation(self) -> Option<Mutation> {
        match self {
            Variant::DrainOnlyFinishingLane => Some(Mutation::StartOnlyOwnLane),
            Variant::CapacityBeforeExit => Some(Mutation::FinishBeforeExit),
            Variant::Planted(mutation) => Some(mutation),
            _ => None,
        }
    }
}

pub struct VariantSystem<F: Model> {
    inner: CoreSystem<F>,
    variant: Variant,
    /// `LaneStopFlag`: the armed flag per lane.
    stop_flags: Mutex<Vec<bool>>,
}

impl<F: Model> VariantSystem<F> {
    pub fn new(report: &Report, variant: Variant) -> Self {
        VariantSystem {
            inner: CoreSystem::planted(report, variant.mutation()),
            variant,
            stop_flags: Mutex::new(vec![false; report.lanes.len()]),
        }
    }

    fn flags(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        self.stop_flags.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<F: Model> System for VariantSystem<F> {
    fn submit(&self, cx: &Cx, lane: usize, item: &str, origin: &Origin) -> Reply {
        self.inner.submit(cx, lane, item, origin)
    }
    fn interrupt(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.interrupt(cx, lane, item)
    }
    fn stop(&self, cx: &Cx, lane: usize, clear: bool) -> Reply {
        if self.variant == Variant::LaneStopFlag {
            self.flags()[lane] = true;
        }
        self.inner.stop(cx, lane, clear)
    }
    fn new_session(&self, cx: &Cx, lane: usize) -> Reply {
        self.inner.new_session(cx, lane)
    }
    fn set_driver(&self, cx: &Cx, lane: usize, driver: Driver) -> Reply {
        self.inner.set_driver(cx, lane, driver)
    }
    fn retry_last(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.retry_last(cx, lane, item)
    }
    fn recap(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.recap(cx, lane, item)
    }
    fn cron_tick(&self, cx: &Cx, jobs: &[usize], fire: u64) -> Reply {
        let reply = self.inner.cron_tick(cx, jobs, fire);
        if self.variant == Variant::CronRemovedBeforeRun {
            for &job in jobs {
                // Removed as soon as claimed; what this removes is not
                // reported to anyone.
                let _ = self.inner.core.cron_cancel(&self.inner.job_id(job));
            }
        }
        reply
    }
    fn cron_cancel(&self, cx: &Cx, job: usize) -> Reply {
        self.inner.cron_cancel(cx, job)
    }
    fn timer(&self, cx: &Cx, timer: Timer) -> Reply {
        self.inner.timer(cx, timer)
    }
    fn snapshot(&self, cx: &Cx) -> Reply {
        self.inner.snapshot(cx)
    }
    fn spawn(&self, cx: &Cx, run: Run) -> RunnerReply {
        self.inner.spawn(cx, run)
    }
    fn finish(&self, cx: &Cx, run: Run, end: End) -> RunnerReply {
        self.inner.finish(cx, run, end)
    }
    fn stall(&self, cx: &Cx, run: Run) -> RunnerReply {
        if self.variant != Variant::RetryWithoutOwnership {
            return self.inner.stall(cx, run);
        }
        self.inner.kill(cx, run);
        let _ = self.inner.core.retry(baton_core::RunId(run));
        cx.after(Fact::RetryAccepted { run });
        // Respawns whatever the core said; `spawned` may refuse, the
        // process starts anyway.
        let _ = self.inner.core.spawned(baton_core::RunId(run));
        let lane = self.inner.lane_of(run).unwrap_or(0);
        self.inner.mark_alive(run);
        cx.point(Fact::Spawned { run, lane });
        RunnerReply {
            reply: Reply::text("respawned without asking"),
            over: false,
        }
    }
    fn cancelled(&self, run: Run) -> bool {
        if self.variant == Variant::LaneStopFlag
            && let Some(lane) = self.inner.lane_of(run)
            && self.flags()[lane]
        {
            return true;
        }
        self.inner.cancelled(run)
    }
    fn on_cancel(&self, cx: &Cx, run: Run) -> RunnerReply {
        if self.variant == Variant::LaneStopFlag
            && let Some(lane) = self.inner.lane_of(run)
        {
            // The run that obeys the flag lowers it.
            self.flags()[lane] = false;
        }
        self.inner.on_cancel(cx, run)
    }
    fn output(&self, cx: &Cx, run: Run) -> Reply {
        if self.variant == Variant::OutputAfterFinish {
            let _ = self
                .inner
                .core
                .output(baton_core::RunId(run), baton_core::Output::Text);
            cx.after(Fact::OutputAccepted { run });
            return Reply::text("shown");
        }
        self.inner.output(cx, run)
    }
    fn session(&self, cx: &Cx, run: Run, id: &str) -> Reply {
        if self.variant == Variant::SessionFromAnyRun
            && let Some(lane) = self.inner.lane_of(run)
        {
            self.inner.core.set_session(
                crate::core_system::lane_key(lane),
                Driver::Claude,
                Some(id.to_owned()),
            );
            return self.inner.record_session(cx, run, id, true);
        }
        self.inner.session(cx, run, id)
    }
    fn media_group(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.media_group(cx, lane, item)
    }
    fn restart(&self, cx: &Cx) -> Reply {
        self.inner.restart(cx)
    }
    fn shutdown(&self, cx: &Cx) -> Reply {
        self.inner.shutdown(cx)
    }
    fn run_now(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.run_now(cx, lane, item)
    }
    fn cancel_queued(&self, cx: &Cx, lane: usize, item: &str) -> Reply {
        self.inner.cancel_queued(cx, lane, item)
    }
    fn ask(&self, cx: &Cx, run: Run, question: &str) -> Reply {
        self.inner.ask(cx, run, question)
    }
    fn answer(&self, cx: &Cx, question: &str) -> Reply {
        self.inner.answer(cx, question)
    }
    fn withdraw(&self, cx: &Cx, run: Run, question: &str) -> Reply {
        self.inner.withdraw(cx, run, question)
    }
    fn quiescence(&self) -> Quiescence {
        self.inner.quiescence()
    }
    fn sessions(&self) -> Vec<(usize, String)> {
        self.inner.sessions()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}
