//! The run lifecycle: what a runner does with one ticket, from `spawned` to
//! `finish`, as a sans-I/O machine written once for the bot's runner and for
//! the model checkers' runners.
//!
//! The runner feeds [`Lifecycle::handle`] what happened ([`Input`]) and does
//! the [`Step`] it answers: a call into the core ([`Call`], whose
//! [`Answer`] is the next input), start the agent, reap it, or start the
//! tickets the run's end hands back. The machine does no I/O and calls
//! nothing; the runner makes the core calls, so the bot can route them
//! through whatever persists the journal, and a checker through its model
//! primitives.
//!
//! The protocol it keeps:
//! - the agent starts only after the core granted `spawned`; a refusal ends
//!   the run with `Cancelled` and no agent;
//! - a stalled agent runs again only when the core granted `retry`, and then
//!   only after `spawned` is granted again; it resumes the session its
//!   previous attempt reported;
//! - the agent process is gone ([`Step::Reap`] answered by
//!   [`Input::Exited`]) before `finish` is called, so the lane and the
//!   capacity are never freed while it still runs;
//! - output and session reports are shown only when the core hears them, so
//!   a late report of a stopped or finished run is dropped;
//! - every ticket `finish` hands back, of any lane, is to be started.

use crate::engine::Core;
use crate::error::Error;
use crate::item::LaneKey;
use crate::machine::{FinishReport, Output};
use crate::planted::mutated;
use crate::run::{Outcome, RunId, Ticket};
use crate::sync::SyncFamily;

/// How the agent's run ended, as the runner saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentEnd {
    Completed,
    Failed,
    /// It printed nothing for the stall timeout (it is being killed).
    Stalled,
    /// It stopped on the run's cancellation.
    Cancelled,
}

/// Why the run ended, for what the runner tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Completed,
    Failed,
    /// The agent stalled and the core granted no retry.
    Stalled,
    Cancelled,
    /// The core refused `spawned`: no agent ever ran.
    NotSpawned,
}

/// A call into the core, made by the runner for the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Spawned(RunId),
    Retry(RunId),
    Finish(RunId, Outcome),
    Output(RunId, Output),
    Session(RunId, String),
}

/// The core's answer to a [`Call`].
#[derive(Debug)]
pub enum Answer<C> {
    Spawned(Result<(), Error>),
    Retried(Result<u32, Error>),
    Finished(Result<FinishReport<C>, Error>),
    Output(Result<(), Error>),
    Session {
        id: String,
        result: Result<(), Error>,
    },
}

impl Call {
    /// Makes the call on `core`, for runners that hold it directly.
    pub fn apply<S: SyncFamily>(self, core: &Core<S>) -> Answer<S::Cancel> {
        match self {
            Call::Spawned(run) => Answer::Spawned(core.spawned(run)),
            Call::Retry(run) => Answer::Retried(core.retry(run)),
            Call::Finish(run, outcome) => Answer::Finished(core.finish(run, outcome)),
            Call::Output(run, output) => Answer::Output(core.output(run, output)),
            Call::Session(run, id) => {
                let result = core.record_agent_session(run, id.clone());
                Answer::Session { id, result }
            }
        }
    }
}

/// What happened, fed to [`Lifecycle::handle`].
#[derive(Debug)]
pub enum Input<C> {
    /// The runner holds the ticket and wants its agent to run.
    Begin,
    /// The core's answer to the last [`Step::Call`].
    Answer(Answer<C>),
    /// The agent's run ended on its own account.
    Ended(AgentEnd),
    /// The runner saw the run's cancellation signal.
    CancelSeen,
    /// The agent process is gone: the answer to [`Step::Reap`].
    Exited,
    /// The agent has output for the user.
    Output(Output),
    /// The agent reported its session id.
    Session(String),
}

/// What the runner does next.
#[derive(Debug)]
pub enum Step<C> {
    /// Make this call into the core and hand back its [`Answer`].
    Call(Call),
    /// Start the agent, resuming `resume`; `attempt` is 0, or the retry's
    /// number. Then report its output, its session and how it ended.
    Spawn {
        resume: Option<String>,
        attempt: u32,
    },
    /// Kill the agent if it still runs and wait until its process has
    /// exited; then [`Input::Exited`].
    Reap,
    /// Nothing to do until the agent ends or the cancellation is seen.
    Wait,
    /// The core heard the output or session: show it, store it.
    Show,
    /// The core refused the output or session: drop it.
    Refused(Error),
    /// The run is over: start every ticket of the report.
    Over(Over<C>),
}

/// The end of a run.
#[derive(Debug)]
pub struct Over<C> {
    pub ending: Ending,
    /// What `finish` answered: the outcome the core recorded and the
    /// tickets to start.
    pub report: Result<FinishReport<C>, Error>,
}

/// What the agent's end leads to once its process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Retry,
    Finish(Outcome, Ending),
}

#[derive(Debug)]
enum Phase<C> {
    Fresh,
    Spawning,
    Running,
    Reaping(Next),
    Retrying,
    Finishing {
        ending: Ending,
        reap_after: bool,
    },
    /// The planted `FinishBeforeExit`: finished, the agent not reaped yet.
    ReapingAfterFinish(Box<Over<C>>),
    Over,
}

/// One run's lifecycle. Create it from the ticket, feed it every input,
/// do every step.
#[derive(Debug)]
pub struct Lifecycle<C> {
    run: RunId,
    lane: LaneKey,
    resume: Option<String>,
    attempt: u32,
    phase: Phase<C>,
    /// A runner bug planted on purpose (`crate::planted`): the bot never
    /// builds one.
    #[cfg(feature = "planted-bugs")]
    mutation: Option<crate::planted::Mutation>,
}

impl<C> Lifecycle<C> {
    pub fn new(ticket: &Ticket<C>) -> Self {
        Lifecycle {
            run: ticket.run,
            lane: ticket.lane(),
            resume: ticket.resume.clone(),
            attempt: 0,
            phase: Phase::Fresh,
            #[cfg(feature = "planted-bugs")]
            mutation: None,
        }
    }

    /// A lifecycle with `mutation` planted, for the model checkers only
    /// (mutations of the core itself are ignored here).
    #[cfg(feature = "planted-bugs")]
    pub fn planted(ticket: &Ticket<C>, mutation: Option<crate::planted::Mutation>) -> Self {
        Lifecycle {
            mutation,
            ..Lifecycle::new(ticket)
        }
    }

    pub fn run(&self) -> RunId {
        self.run
    }

    /// Whether the agent has been started and not yet reaped.
    pub fn agent_runs(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::ReapingAfterFinish(_))
    }

    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Over)
    }

    /// Takes in what happened and says what to do next. An input that does
    /// not fit the run's phase (a second `Begin`, an end before a spawn) is
    /// ignored with [`Step::Wait`].
    pub fn handle(&mut self, input: Input<C>) -> Step<C> {
        let run = self.run;
        match input {
            Input::Output(output) => return Step::Call(Call::Output(run, output)),
            Input::Session(id) => return Step::Call(Call::Session(run, id)),
            Input::Answer(Answer::Output(result)) => return heard(result),
            Input::Answer(Answer::Session { id, result }) => {
                if result.is_ok() {
                    // A retry resumes what this run's agent last reported.
                    self.resume = Some(id);
                }
                return heard(result);
            }
            _ => {}
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Over);
        match (phase, input) {
            (Phase::Fresh, Input::Begin) => self.ask_spawned(),
            (Phase::Fresh, Input::CancelSeen) => self.finish(Outcome::Cancelled, Ending::Cancelled),
            (Phase::Spawning, Input::Answer(Answer::Spawned(Ok(())))) => {
                self.phase = Phase::Running;
                Step::Spawn {
                    resume: self.resume.clone(),
                    attempt: self.attempt,
                }
            }
            (Phase::Spawning, Input::Answer(Answer::Spawned(Err(_)))) => {
                self.finish(Outcome::Cancelled, Ending::NotSpawned)
            }
            (Phase::Running, Input::Ended(end)) => self.agent_ended(match end {
                AgentEnd::Completed => Next::Finish(Outcome::Completed, Ending::Completed),
                AgentEnd::Failed => Next::Finish(Outcome::Failed, Ending::Failed),
                AgentEnd::Cancelled => Next::Finish(Outcome::Cancelled, Ending::Cancelled),
                AgentEnd::Stalled => Next::Retry,
            }),
            (Phase::Running, Input::CancelSeen) => {
                self.agent_ended(Next::Finish(Outcome::Cancelled, Ending::Cancelled))
            }
            (Phase::Reaping(Next::Retry), Input::Exited) => {
                self.phase = Phase::Retrying;
                Step::Call(Call::Retry(run))
            }
            (Phase::Reaping(Next::Finish(outcome, ending)), Input::Exited) => {
                self.finish(outcome, ending)
            }
            (Phase::Retrying, Input::Answer(Answer::Retried(result))) => match result {
                Ok(attempt) => {
                    self.attempt = attempt;
                    self.ask_spawned()
                }
                Err(Error::RetryLimit(..)) => self.finish(Outcome::Failed, Ending::Stalled),
                Err(_) => self.finish(Outcome::Cancelled, Ending::Cancelled),
            },
            (Phase::Finishing { ending, reap_after }, Input::Answer(Answer::Finished(report))) => {
                let over = Over {
                    ending,
                    report: report.map(|report| self.to_start(report)),
                };
                if reap_after {
                    self.phase = Phase::ReapingAfterFinish(Box::new(over));
                    Step::Reap
                } else {
                    Step::Over(over)
                }
            }
            (Phase::ReapingAfterFinish(over), Input::Exited) => Step::Over(*over),
            (phase, _) => {
                self.phase = phase;
                Step::Wait
            }
        }
    }

    fn ask_spawned(&mut self) -> Step<C> {
        self.phase = Phase::Spawning;
        Step::Call(Call::Spawned(self.run))
    }

    fn finish(&mut self, outcome: Outcome, ending: Ending) -> Step<C> {
        self.phase = Phase::Finishing {
            ending,
            reap_after: false,
        };
        Step::Call(Call::Finish(self.run, outcome))
    }

    /// The agent is done or must be: reaped first, then what comes next.
    fn agent_ended(&mut self, next: Next) -> Step<C> {
        if let (true, Next::Finish(outcome, ending)) = (mutated!(self, FinishBeforeExit), next) {
            self.phase = Phase::Finishing {
                ending,
                reap_after: true,
            };
            return Step::Call(Call::Finish(self.run, outcome));
        }
        self.phase = Phase::Reaping(next);
        Step::Reap
    }

    fn to_start(&self, mut report: FinishReport<C>) -> FinishReport<C> {
        if mutated!(self, StartOnlyOwnLane) {
            report.tickets.retain(|ticket| ticket.lane() == self.lane);
        }
        report
    }
}

fn heard<C>(result: Result<(), Error>) -> Step<C> {
    match result {
        Ok(()) => Step::Show,
        Err(error) => Step::Refused(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{CancelSignal, StdCancel, StdSync};
    use crate::{Admission, Config, Item, Millis, Outcome};

    type Life = Lifecycle<StdCancel>;
    type T = Ticket<StdCancel>;

    fn core(capacity: usize, max_retries: u32) -> Core<StdSync> {
        Core::new(
            Config {
                capacity,
                max_retries,
                ..Config::default()
            },
            || Millis(0),
        )
    }

    fn submit(core: &Core<StdSync>, id: &str, chat: i64) -> Option<T> {
        let item = Item::text(id, LaneKey::chat(chat), format!("prompt {id}"), Millis(0));
        match core.submit(item).expect("admitted") {
            Admission::Started(ticket) => Some(ticket),
            Admission::Queued { .. } => None,
        }
    }

    /// Makes the step's core call and feeds its answer back.
    fn call(core: &Core<StdSync>, life: &mut Life, step: Step<StdCancel>) -> Step<StdCancel> {
        match step {
            Step::Call(call) => life.handle(Input::Answer(call.apply(core))),
            other => panic!("expected a core call, got {other:?}"),
        }
    }

    /// From a fresh ticket to a running agent.
    fn running(core: &Core<StdSync>, ticket: &T) -> Life {
        let mut life = Life::new(ticket);
        let step = life.handle(Input::Begin);
        assert!(matches!(step, Step::Call(Call::Spawned(run)) if run == ticket.run));
        match call(core, &mut life, step) {
            Step::Spawn { attempt: 0, .. } => {}
            other => panic!("expected the agent to start, got {other:?}"),
        }
        assert!(life.agent_runs());
        life
    }

    fn over(step: Step<StdCancel>) -> Over<StdCancel> {
        match step {
            Step::Over(over) => over,
            other => panic!("expected the run to be over, got {other:?}"),
        }
    }

    #[test]
    fn a_completed_run_is_reaped_then_finished_and_hands_back_the_next_ticket() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        assert!(submit(&core, "b1", 2).is_none());
        let mut life = running(&core, &ticket);
        assert!(matches!(
            life.handle(Input::Ended(AgentEnd::Completed)),
            Step::Reap
        ));
        // The process is not gone yet: the core still counts the run.
        assert_eq!(core.in_flight(), 1);
        let step = life.handle(Input::Exited);
        assert!(matches!(
            step,
            Step::Call(Call::Finish(_, Outcome::Completed))
        ));
        let over = over(call(&core, &mut life, step));
        assert_eq!(over.ending, Ending::Completed);
        let report = over.report.unwrap();
        assert_eq!(report.outcome, Outcome::Completed);
        let next: Vec<&str> = report
            .tickets
            .iter()
            .map(|t| t.item.id.0.as_str())
            .collect();
        assert_eq!(next, ["b1"], "another lane's ticket is handed back too");
        assert!(life.is_over());
    }

    #[test]
    fn a_failed_agent_finishes_failed() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        life.handle(Input::Ended(AgentEnd::Failed));
        let step = life.handle(Input::Exited);
        let over = over(call(&core, &mut life, step));
        assert_eq!(over.ending, Ending::Failed);
        assert_eq!(over.report.unwrap().outcome, Outcome::Failed);
    }

    #[test]
    fn a_stall_with_a_retry_granted_respawns_resuming_the_reported_session() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        let step = life.handle(Input::Session("s1".into()));
        assert!(matches!(call(&core, &mut life, step), Step::Show));
        assert!(matches!(
            life.handle(Input::Ended(AgentEnd::Stalled)),
            Step::Reap
        ));
        let step = life.handle(Input::Exited);
        assert!(matches!(step, Step::Call(Call::Retry(_))));
        let step = call(&core, &mut life, step);
        assert!(
            matches!(step, Step::Call(Call::Spawned(_))),
            "a retry asks spawned again"
        );
        match call(&core, &mut life, step) {
            Step::Spawn { resume, attempt } => {
                assert_eq!(attempt, 1);
                assert_eq!(resume.as_deref(), Some("s1"));
            }
            other => panic!("expected a respawn, got {other:?}"),
        }
    }

    #[test]
    fn a_stall_without_a_retry_left_finishes_failed_as_stalled() {
        let core = core(1, 0);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        life.handle(Input::Ended(AgentEnd::Stalled));
        let step = life.handle(Input::Exited);
        let step = call(&core, &mut life, step);
        assert!(matches!(step, Step::Call(Call::Finish(_, Outcome::Failed))));
        let over = over(call(&core, &mut life, step));
        assert_eq!(over.ending, Ending::Stalled);
        assert_eq!(over.report.unwrap().outcome, Outcome::Failed);
    }

    #[test]
    fn a_stall_of_a_stopped_run_is_not_retried_and_finishes_cancelled() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        life.handle(Input::Ended(AgentEnd::Stalled));
        core.stop(ticket.lane(), false);
        let step = life.handle(Input::Exited);
        let step = call(&core, &mut life, step);
        assert!(matches!(
            step,
            Step::Call(Call::Finish(_, Outcome::Cancelled))
        ));
        let over = over(call(&core, &mut life, step));
        assert_eq!(over.ending, Ending::Cancelled);
    }

    #[test]
    fn a_run_stopped_before_its_spawn_never_starts_an_agent() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        core.stop(ticket.lane(), false);
        let mut life = Life::new(&ticket);
        let step = life.handle(Input::Begin);
        let step = call(&core, &mut life, step);
        assert!(matches!(
            step,
            Step::Call(Call::Finish(_, Outcome::Cancelled))
        ));
        assert!(!life.agent_runs());
        let over = over(call(&core, &mut life, step));
        assert_eq!(over.ending, Ending::NotSpawned);
        assert_eq!(over.report.unwrap().outcome, Outcome::Cancelled);
    }

    #[test]
    fn a_cancellation_seen_before_the_spawn_finishes_without_asking_spawned() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        core.stop(ticket.lane(), false);
        assert!(ticket.cancel.is_cancelled());
        let mut life = Life::new(&ticket);
        let step = life.handle(Input::CancelSeen);
        assert!(matches!(
            step,
            Step::Call(Call::Finish(_, Outcome::Cancelled))
        ));
        assert_eq!(over(call(&core, &mut life, step)).ending, Ending::Cancelled);
    }

    #[test]
    fn a_cancellation_seen_while_running_reaps_the_agent_before_finish() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        core.stop(ticket.lane(), false);
        assert!(matches!(life.handle(Input::CancelSeen), Step::Reap));
        assert!(matches!(life.handle(Input::Begin), Step::Wait));
        let step = life.handle(Input::Exited);
        assert!(matches!(
            step,
            Step::Call(Call::Finish(_, Outcome::Cancelled))
        ));
        assert_eq!(over(call(&core, &mut life, step)).ending, Ending::Cancelled);
    }

    #[test]
    fn a_second_begin_while_running_is_ignored() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        assert!(matches!(life.handle(Input::Begin), Step::Wait));
        assert!(life.agent_runs());
    }

    #[test]
    fn output_is_shown_while_the_run_is_current_and_refused_once_it_finished() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        let step = life.handle(Input::Output(Output::Text));
        assert!(matches!(call(&core, &mut life, step), Step::Show));
        life.handle(Input::Ended(AgentEnd::Completed));
        let step = life.handle(Input::Exited);
        over(call(&core, &mut life, step));
        let step = life.handle(Input::Output(Output::Text));
        assert!(matches!(
            call(&core, &mut life, step),
            Step::Refused(Error::StaleRun(_))
        ));
        let step = life.handle(Input::Session("late".into()));
        assert!(matches!(call(&core, &mut life, step), Step::Refused(_)));
        assert_eq!(core.session(ticket.lane(), ticket.driver), None);
    }

    #[test]
    fn a_session_reported_after_new_is_refused() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = running(&core, &ticket);
        core.new_session(ticket.lane());
        let step = life.handle(Input::Session("old".into()));
        assert!(matches!(call(&core, &mut life, step), Step::Refused(_)));
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn the_finish_before_exit_bug_frees_the_lane_while_the_agent_runs() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        let mut life = Life::planted(&ticket, Some(crate::planted::Mutation::FinishBeforeExit));
        let step = life.handle(Input::Begin);
        call(&core, &mut life, step);
        let step = life.handle(Input::CancelSeen);
        assert!(matches!(step, Step::Call(Call::Finish(..))));
        assert!(matches!(call(&core, &mut life, step), Step::Reap));
        assert!(life.agent_runs());
        assert_eq!(core.in_flight(), 0, "the capacity is free already");
        assert_eq!(over(life.handle(Input::Exited)).ending, Ending::Cancelled);
    }

    #[cfg(feature = "planted-bugs")]
    #[test]
    fn the_start_only_own_lane_bug_drops_other_lanes_tickets() {
        let core = core(1, 2);
        let ticket = submit(&core, "a1", 1).unwrap();
        assert!(submit(&core, "b1", 2).is_none());
        let mut life = Life::planted(&ticket, Some(crate::planted::Mutation::StartOnlyOwnLane));
        let step = life.handle(Input::Begin);
        call(&core, &mut life, step);
        life.handle(Input::Ended(AgentEnd::Completed));
        let step = life.handle(Input::Exited);
        let report = over(call(&core, &mut life, step)).report.unwrap();
        assert!(report.tickets.is_empty());
    }
}
