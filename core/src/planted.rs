//! Bugs planted on purpose in the core, so the model checkers can show
//! they catch each one (`model-tests`' wrong variants). Compiled only with
//! the `planted-bugs` feature, which only `baton-model-tests` enables: the
//! bot never builds one, and without the feature every mutated branch is
//! the literal `false` (see the `mutated!` macro), so the core compiles to
//! its correct logic alone.
//!
//! A mutation is carried per core instance ([`crate::Config::mutation`],
//! and per [`crate::Lifecycle`] for the runner's steps), never globally:
//! shuttle explores on parallel threads of one process.

/// One small, realistic wrong decision, planted at one branch of
/// `core/src/machine/` or of the run lifecycle.
#[cfg(feature = "planted-bugs")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutation {
    /// `machine/mod.rs` `drain`: waiting cron work is served before waiting
    /// user work of another lane.
    DrainCronFirst,
    /// `machine/mod.rs` `start_next`: once 3 or more user items wait, the
    /// lane pops its newest instead of its oldest.
    PopNewestAtDepth,
    /// `machine/submit.rs` `submit`: a full lane queue silently drops its
    /// oldest item to make room, instead of refusing the new one.
    FullQueueDropsOldest,
    /// `machine/submit.rs` `submit`: an idle lane starts its item even when
    /// capacity is full.
    SubmitIgnoresCapacity,
    /// `machine/submit.rs` `admissible`: ids that were seen are admitted
    /// again.
    DedupeForgotten,
    /// `machine/submit.rs` `interrupt`: a `!` does not cancel the lane's run.
    InterruptCancelsNothing,
    /// `machine/run_ops.rs` `retry`: a retry is granted to a run a stop
    /// already cancelled.
    RetryAfterCancel,
    /// `machine/run_ops.rs` `spawned`: a run cancelled before its spawn may
    /// spawn anyway.
    SpawnAfterCancel,
    /// `machine/run_ops.rs` `record_agent_session`: a session is recorded
    /// even after `/new` asked to forget the lane's sessions.
    SessionAfterNew,
    /// `machine/run_ops.rs` `finish`: a preempted cron fire is requeued
    /// behind its lane's other cron items instead of at their head.
    PreemptedRequeuedAtBack,
    /// `machine/run_ops.rs` `finish`: the capacity a cancelled run frees
    /// goes round robin, not to the interrupt waiting for it.
    InterruptNotFirst,
    /// `machine/run_ops.rs` `finish`: a preempted fire is not requeued (it
    /// ends as cancelled).
    PreemptedFireDropped,
    /// `machine/control.rs` `new_session`: `/new` right after a stop forgets
    /// the sessions at once, so the stopped run's late session report is
    /// kept and the next message resumes the old conversation.
    NewForgetsAtOnceAfterStop,
    /// `machine/control.rs` `cancel_current`: a user's stop does not
    /// outrank an earlier preemption, so the stopped fire comes back.
    StopKeepsPreemption,
    /// `machine/control.rs` `stop`: `stop clear` leaves the queue as it is.
    StopClearKeepsQueue,
    /// `machine/control.rs` `shutdown`: queued items are dropped, not
    /// handed back.
    ShutdownDropsQueue,
    /// `machine/cron_ops.rs` `cron_cancel`: a fire still queued stays and
    /// runs after its job was cancelled.
    CronCancelKeepsQueuedFire,
    /// `machine/restore.rs` `restore`: ids that ended before the restart are
    /// not remembered, so a redelivery runs again.
    RestoreForgetsEnded,
    /// `machine/submit.rs` `admissible`: work is admitted after shutdown
    /// began (and then waits forever: the drain is off).
    AdmitWhileShuttingDown,
    /// `machine/submit.rs` `preempt_for`: user work waiting behind a cron
    /// run of its own lane does not preempt it.
    NoPreemptInLane,
    /// `machine/submit.rs` `preempt_for_capacity`: user work waiting for
    /// capacity held by cron runs of other lanes preempts none.
    NoPreemptForCapacity,
    /// `machine/submit.rs` `interrupt`: a `!` waits behind the lane's
    /// queued items instead of at their head.
    InterruptAtTail,
    /// `machine/control.rs` `stop`: the lane's run is not cancelled.
    StopCancelsNothing,
    /// `machine/control.rs` `new_session`: the lane's run is not cancelled.
    NewCancelsNothing,
    /// `machine/control.rs` `new_session`: what was queued stays queued.
    NewKeepsQueue,
    /// `machine/run_ops.rs` `output`: output of any run id is accepted.
    OutputFromAnyRun,
    /// `machine/run_ops.rs` `finish`: the sessions a `/new` asked to forget
    /// survive the end of the run it waited for.
    SessionsKeptAfterNew,
    /// `machine/run_ops.rs` `finish`: the freed capacity starts nothing.
    FinishStartsNothing,
    /// `machine/cron_ops.rs` `cron_claim`: a fire is claimed while an
    /// earlier fire of the same job is still pending.
    ClaimWhilePending,
    /// `machine/cron_ops.rs` `cron_cancel`: the job stays registered.
    CancelKeepsJob,
    /// `machine/restore.rs` `restore`: a one-shot job whose fire was in
    /// flight at the exit stays registered, and may fire again.
    RestoreKeepsInterruptedOneShot,
    /// `machine/restore.rs` `restore`: the restored queues start nothing.
    RestoreStartsNothing,
    /// `machine/ask.rs` `ask`: a run that was cancelled may still ask, so
    /// the chat shows a question of a stopped run.
    AskAfterCancel,
    /// `machine/ask.rs` `close_question`: an answer leaves its question
    /// open, so a second tap is accepted too.
    AnswerTwice,
    /// `machine/ask.rs` `close_question`: an answer is accepted from a run
    /// that was cancelled.
    AnswerAfterCancel,
    /// `machine/ask.rs` `close_question`: a tap refused (its run was
    /// cancelled) closes the question anyway.
    RefusedTapCloses,
    /// `machine/steer.rs` `run_now`: **Run now** on a message that has
    /// already started puts it back at the head of its lane and cancels its
    /// run, so it runs again.
    RunNowRestartsStarted,
    /// `machine/steer.rs` `cancel_queued`: **Cancel** on a message that has
    /// already started reports it removed while it runs on.
    CancelReportsStarted,
    /// `lifecycle.rs` `agent_ended`: `finish` is called before the agent is
    /// reaped, so the lane and the capacity are freed while it still runs.
    FinishBeforeExit,
    /// `lifecycle.rs` `to_start`: only the finishing lane's tickets are
    /// started; the others wait forever.
    StartOnlyOwnLane,
}

/// Whether the mutation `$mutation` is planted in `$config` (a `Config` or
/// anything with a `mutation: Option<Mutation>` field). Without the
/// `planted-bugs` feature this is the literal `false` and `$config` is not
/// even evaluated.
macro_rules! mutated {
    ($config:expr, $mutation:ident) => {{
        #[cfg(feature = "planted-bugs")]
        let planted = $config.mutation == Some($crate::planted::Mutation::$mutation);
        #[cfg(not(feature = "planted-bugs"))]
        let planted = false;
        planted
    }};
}
pub(crate) use mutated;
