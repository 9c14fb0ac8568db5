//! Carrying out the core's tickets: one background task per run that drives
//! the core's [`Lifecycle`] over tokio and the real drivers, streaming the
//! agent's answer into its chat. The protocol (spawned, retry, the process
//! gone before finish, the tickets finish hands back) is the lifecycle's;
//! this loop only performs its steps, every core call through the door.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use baton_core::lifecycle::{AgentEnd, Answer, Call, Ending, Input, Over, Step};
use baton_core::{Driver, LaneKey, Lifecycle, Origin, Outcome, Output};
use teloxide::types::{ChatId, MessageId};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::door::NotSpawned;
use super::effects::To;
use super::replies::Reply;
use super::run_buttons::RunButtons;
use super::usage::RunTally;
use super::{App, Usage, target};
use crate::cron::silent;
use crate::drivers::process::InputLine;
use crate::drivers::{
    AgentCli, AgentEvent, AgentOutcome, AgentRequest, ToolServer, claude_control, codex,
};
use crate::platform::{RunCancel, Ticket};
use crate::store::RunUsage;
use crate::streaming::answer::AnswerStream;
use crate::streaming::api::TelegramApi;
use crate::streaming::coalescer::deliver;
use crate::streaming::typing::{TYPING_EVERY, Typing};
use crate::workspace_diff;

/// What an agent event becomes once the core has heard it.
enum Heard {
    View(AgentEvent),
    /// A session id, stored for `/resume`.
    Session(String),
}

/// What a run shows in its chat, and what it used.
struct Shown {
    /// `None` for a silent cron job, which streams nothing.
    answer: Option<AnswerStream>,
    tally: RunTally,
    /// The working tree at the run's start, when it is a git repository.
    before: Option<workspace_diff::Snapshot>,
    /// The working tree at the start and at the end, once the agent is done.
    snapshots: Option<(workspace_diff::Snapshot, workspace_diff::Snapshot)>,
}

impl Shown {
    fn apply(&mut self, event: AgentEvent) {
        if let Some(answer) = self.answer.as_mut() {
            answer.apply(event);
        }
    }
}

type AgentRun<'a> = Pin<Box<dyn Future<Output = AgentOutcome> + Send + 'a>>;

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp"];

/// How often a run waiting on its questions looks for overdue ones.
const QUESTION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl App {
    /// Starts a runner task for each ticket the core handed out.
    pub fn start(self: &Arc<Self>, tickets: Vec<Ticket>) {
        let started: Vec<_> = tickets.iter().map(|t| t.item.id.clone()).collect();
        self.unqueued(&started);
        for ticket in tickets {
            let span = info_span!("run", run = %ticket.run, lane = %ticket.lane(), driver = %ticket.driver);
            let app = Arc::clone(self);
            self.tasks.runners.spawn(app.run(ticket).instrument(span));
        }
    }

    async fn run(self: Arc<Self>, ticket: Ticket) {
        let started = Instant::now();
        let lane = ticket.lane();
        info!(item = %ticket.item.id, "run: admitted");
        let silent = matches!(ticket.item.origin, Origin::Cron { silent: true, .. });
        let buttons = RunButtons::new(self.outbox.bot.clone(), ticket.run);
        let mut shown = Shown {
            answer: (!silent).then(|| {
                AnswerStream::start(
                    buttons.clone(),
                    target(lane),
                    self.outbox.coalescer.clone(),
                    self.outbox.pauses.clone(),
                )
            }),
            tally: RunTally::default(),
            // Before the agent spawns, so only this run's changes show.
            before: workspace_diff::snapshot(&self.agents.workdir).await,
            snapshots: None,
        };
        shown.apply(AgentEvent::Notice {
            message: format!("▶️ {}", ticket.item.preview(80)),
        });
        let typing = (!silent).then(|| {
            Typing::start(
                self.outbox.bot.clone(),
                target(lane),
                TYPING_EVERY,
                self.outbox.pauses.clone(),
            )
        });
        let (registration, tool_server) = self.register_file_sends(&ticket).unzip();
        let (over, agent_view) = self
            .execute(&ticket, &mut shown, typing, tool_server.as_ref())
            .await;
        // The run is over: its agent's send_file calls are refused from here on.
        drop(registration);
        // However it ended, the item's files are done with.
        self.sweep_files();
        let snapshots = shown.snapshots.take();
        let mut preempted = false;
        match over.report {
            Ok(report) => {
                info!(outcome = ?report.outcome, next = report.tickets.len(), "run: finished");
                preempted = report.outcome == Outcome::Preempted;
                if let Some(job) = report.cron_ended {
                    self.cron_job_ended(&job);
                }
                self.start(report.tickets);
            }
            Err(error) => error!(%error, "run: the core refused its finish"),
        }
        let view = match over.ending {
            Ending::Completed | Ending::Failed => agent_view.unwrap_or(AgentOutcome::Cancelled),
            Ending::Stalled => AgentOutcome::Stalled,
            Ending::Cancelled | Ending::NotSpawned => AgentOutcome::Cancelled,
        };
        self.record_usage(&ticket, &view, preempted, shown.tally.total());
        let completed = matches!(view, AgentOutcome::Completed { .. });
        let failed = matches!(view, AgentOutcome::Failed { .. } | AgentOutcome::Stalled);
        buttons.run_ended();
        let Some(answer) = shown.answer else {
            // A preempted fire runs again later; its line comes then.
            if !preempted {
                let job = ticket
                    .item
                    .origin
                    .cron_job()
                    .map_or("", |job| job.0.as_str());
                let html = silent::result(job, &view, started.elapsed());
                self.reply(To::lane(lane), Reply::Html(html));
            }
            if let Some(snapshots) = snapshots {
                self.report_changes(lane, ticket.run, snapshots).await;
            }
            return;
        };
        let (delivery, texts) = answer.finish_with_texts(view).await;
        buttons
            .settle(ChatId(lane.chat), delivery.messages.last().copied(), failed)
            .await;
        if delivery.abandoned > 0 {
            warn!(
                abandoned = delivery.abandoned,
                "run: some answer messages could not be delivered"
            );
        }
        if completed && started.elapsed() >= self.agents.notify_after {
            self.renotify(lane, delivery.messages, texts).await;
        }
        if let Some(snapshots) = snapshots {
            self.report_changes(lane, ticket.run, snapshots).await;
        }
    }

    /// Keeps what the run used, for `/usage`, and shows it in `/status`.
    fn record_usage(
        &self,
        ticket: &Ticket,
        view: &AgentOutcome,
        preempted: bool,
        usage: Option<Usage>,
    ) {
        let outcome = match view {
            _ if preempted => "preempted",
            AgentOutcome::Completed { .. } => "completed",
            AgentOutcome::Failed { .. } => "failed",
            AgentOutcome::Stalled => "stalled",
            AgentOutcome::Cancelled => "cancelled",
        };
        let lane = ticket.lane();
        if let Some(usage) = usage {
            self.usage.set(lane, usage);
        }
        let usage = usage.unwrap_or_default();
        // A failure is logged by the store.
        drop(self.store.record_run_usage(&RunUsage {
            lane,
            driver: ticket.driver.as_str().to_owned(),
            outcome: outcome.to_owned(),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd: usage.cost_usd(),
            ended_at: chrono::Utc::now(),
        }));
    }

    /// Edits never notify: a long run's last message (the end of its answer)
    /// goes out again as a new message, which does, and its streamed copy is
    /// removed. Only the last one, so a long answer costs two requests, not a
    /// burst against the chat's rate limit.
    async fn renotify(&self, lane: LaneKey, streamed: Vec<MessageId>, texts: Vec<String>) {
        let (Some(last_text), Some(last_streamed)) = (texts.last(), streamed.last()) else {
            return;
        };
        let fresh = deliver(
            self.outbox.bot.clone(),
            target(lane),
            vec![last_text.clone()],
            self.outbox.coalescer.clone(),
            self.outbox.pauses.clone(),
        )
        .await;
        if fresh.abandoned > 0 || fresh.messages.is_empty() {
            warn!("run: the end of the answer could not be sent again; the streamed copy stays");
            return;
        }
        if let Err(error) = self
            .outbox
            .bot
            .delete(ChatId(lane.chat), *last_streamed)
            .await
        {
            warn!(%error, "run: could not remove the streamed copy of the answer's end");
        }
    }

    /// Drives the run's lifecycle to its end: the end, and how the last
    /// agent attempt ended for the chat. The core learns of the end first
    /// (the typing stops just before), so the next item starts while this
    /// answer's last edit is still on its way.
    async fn execute(
        self: &Arc<Self>,
        ticket: &Ticket,
        shown: &mut Shown,
        mut typing: Option<Typing>,
        tool_server: Option<&ToolServer>,
    ) -> (Over<RunCancel>, Option<AgentOutcome>) {
        let mut life = Lifecycle::new(ticket);
        let mut agent_view = None;
        let mut input = Input::Begin;
        loop {
            match life.handle(input) {
                Step::Call(call) => {
                    if matches!(call, Call::Finish(..)) {
                        drop(typing.take());
                        // While the lane is still this run's, so the next run's
                        // changes cannot count as this one's.
                        if let Some(before) = shown.before.take() {
                            shown.snapshots = workspace_diff::snapshot(&self.agents.workdir)
                                .await
                                .map(|after| (before, after));
                        }
                    }
                    let reply = self.call(ticket, call).await;
                    match &reply {
                        Answer::Spawned(Err(error)) => info!(%error, "run: not spawned"),
                        Answer::Retried(Ok(attempt)) => {
                            warn!(attempt, "run: agent stalled, retrying");
                            shown.apply(AgentEvent::Notice {
                                message: format!("⚠️ The agent stalled; retry {attempt}…"),
                            });
                        }
                        Answer::Retried(Err(error)) => {
                            warn!(%error, "run: agent stalled, no retry")
                        }
                        _ => {}
                    }
                    input = Input::Answer(reply);
                }
                Step::Spawn { resume, .. } => {
                    let (end, view) = self
                        .agent(ticket, &mut life, shown, resume, tool_server)
                        .await;
                    agent_view = view;
                    input = Input::Ended(end);
                }
                // The drivers return only once the agent's process has exited.
                Step::Reap => input = Input::Exited,
                Step::Over(over) => return (over, agent_view),
                Step::Wait | Step::Show | Step::Refused(_) => {
                    unreachable!("the runner feeds only inputs that move its run on")
                }
            }
        }
    }

    /// A core call the lifecycle asks for, made through the door.
    async fn call(&self, ticket: &Ticket, call: Call) -> Answer<RunCancel> {
        match call {
            Call::Spawned(run) => Answer::Spawned(match self.door.spawned(ticket).await {
                Ok(()) => Ok(()),
                Err(NotSpawned::Refused(error)) => Err(error),
                // Not spawning is the safe answer: a crash could otherwise
                // rerun work the agent already did.
                Err(error @ NotSpawned::NotDurable(_)) => {
                    error!(%error, "run: not spawning");
                    Err(baton_core::Error::Cancelled(run))
                }
            }),
            Call::Retry(run) => Answer::Retried(self.door.retry(run)),
            Call::Finish(run, outcome) => Answer::Finished(self.door.finish(run, outcome)),
            Call::Output(run, output) => Answer::Output(self.door.output(run, output)),
            Call::Session(run, id) => {
                let result = self.door.record_agent_session(run, id.clone());
                Answer::Session { id, result }
            }
        }
    }

    /// Runs one agent attempt, streaming its events, until its process has
    /// exited: how it ended, and what the chat shows for a completion or a
    /// failure.
    async fn agent(
        self: &Arc<Self>,
        ticket: &Ticket,
        life: &mut Lifecycle<RunCancel>,
        shown: &mut Shown,
        resume: Option<String>,
        tool_server: Option<&ToolServer>,
    ) -> (AgentEnd, Option<AgentOutcome>) {
        let request = AgentRequest {
            prompt: ticket.item.prompt.clone(),
            workdir: self.agents.workdir.clone(),
            model: ticket.model.clone(),
            effort: ticket.effort.clone(),
            resume,
            images: images(&ticket.item.attachments),
            tool_server: tool_server.cloned(),
            asks: match (ticket.driver, &self.agents.codex) {
                (Driver::Claude, _) => self.agents.claude.asks(ticket.mode.as_deref()),
                (Driver::Codex, codex) => codex.as_ref().is_some_and(|codex| codex.asks()),
            },
            mode: ticket.mode.clone(),
        };
        let (events, mut received) = mpsc::unbounded_channel();
        let (answers, to_agent) = mpsc::unbounded_channel();
        let cancel = ticket.cancel.token().clone();
        let mut agent: AgentRun<'_> = match (ticket.driver, &self.agents.codex) {
            (Driver::Claude, _) => Box::pin(self.agents.claude.run_with(
                request,
                events,
                cancel,
                Some(to_agent),
            )),
            (Driver::Codex, Some(codex)) => {
                Box::pin(codex.run_with(request, events, cancel, Some(to_agent)))
            }
            (Driver::Codex, None) => {
                let message =
                    "the codex CLI is not installed on this machine (set CODEX_BIN)".to_owned();
                return (AgentEnd::Failed, Some(AgentOutcome::Failed { message }));
            }
        };
        // The lane's stdin is for `/mode`, which only claude understands; codex's answers go
        // through each question's own sender.
        if ticket.driver == Driver::Claude {
            self.run_inputs
                .attach(ticket.run, ticket.lane(), answers.clone());
        }
        // Overdue questions are looked for once a second while there are any.
        let mut expiry = tokio::time::interval(QUESTION_CHECK);
        let outcome = loop {
            tokio::select! {
                Some(event) = received.recv() => {
                    self.on_event(ticket, life, shown, event, &answers).await
                }
                _ = expiry.tick(), if self.questions.has_run(ticket.run) => {
                    self.expire_questions(ticket.run);
                }
                outcome = &mut agent => {
                    while let Ok(event) = received.try_recv() {
                        self.on_event(ticket, life, shown, event, &answers).await;
                    }
                    break outcome;
                }
            }
        };
        shown.tally.attempt_ended();
        self.run_inputs.detach(ticket.run);
        let stopped = ticket.cancel.token().is_cancelled();
        self.close_questions(ticket.run, stopped);
        match outcome {
            AgentOutcome::Completed { final_text } => (
                AgentEnd::Completed,
                Some(AgentOutcome::Completed { final_text }),
            ),
            AgentOutcome::Failed { message } => {
                (AgentEnd::Failed, Some(AgentOutcome::Failed { message }))
            }
            AgentOutcome::Cancelled => (AgentEnd::Cancelled, None),
            AgentOutcome::Stalled => (AgentEnd::Stalled, None),
        }
    }

    /// One agent event: heard by the core through the lifecycle, then shown.
    async fn on_event(
        self: &Arc<Self>,
        ticket: &Ticket,
        life: &mut Lifecycle<RunCancel>,
        shown: &mut Shown,
        event: AgentEvent,
        answers: &mpsc::UnboundedSender<InputLine>,
    ) {
        let lane = ticket.lane();
        let (report, heard) = match event {
            AgentEvent::Asked(question) => {
                let encode = match ticket.driver {
                    Driver::Claude => claude_control::answer,
                    Driver::Codex => codex::answer,
                };
                return self.on_asked(ticket, question, answers, encode).await;
            }
            AgentEvent::Withdrawn { request_id } => {
                let stopped = ticket.cancel.token().is_cancelled();
                return self.on_withdrawn(ticket.run, &request_id, stopped);
            }
            AgentEvent::Session { id } => (Input::Session(id.clone()), Heard::Session(id)),
            AgentEvent::Usage {
                input_tokens,
                output_tokens,
                cost_micro_usd,
            } => {
                shown.tally.add(input_tokens, output_tokens, cost_micro_usd);
                return;
            }
            AgentEvent::TextDelta { text } => (
                Input::Output(Output::Text),
                Heard::View(AgentEvent::TextDelta { text }),
            ),
            AgentEvent::TextSegment { text } => (
                Input::Output(Output::Text),
                Heard::View(AgentEvent::TextSegment { text }),
            ),
            AgentEvent::Thinking { text } => (
                Input::Output(Output::Thinking),
                Heard::View(AgentEvent::Thinking { text }),
            ),
            AgentEvent::ToolStarted { name, detail } => (
                Input::Output(Output::Tool(format!("{name} {detail}"))),
                Heard::View(AgentEvent::ToolStarted { name, detail }),
            ),
            AgentEvent::ToolFinished { name, ok, detail } => (
                Input::Output(Output::Text),
                Heard::View(AgentEvent::ToolFinished { name, ok, detail }),
            ),
            AgentEvent::Notice { message } => (
                Input::Output(Output::Text),
                Heard::View(AgentEvent::Notice { message }),
            ),
        };
        let Step::Call(call) = life.handle(report) else {
            unreachable!("a report is a core call");
        };
        let reply = self.call(ticket, call).await;
        match (life.handle(Input::Answer(reply)), heard) {
            (Step::Show, Heard::View(view)) => shown.apply(view),
            (Step::Show, Heard::Session(session)) => {
                // A failure is logged by the store.
                drop(self.store.record_session(
                    lane,
                    ticket.driver.as_str(),
                    &session,
                    &self.agents.workdir,
                    &ticket.item.prompt,
                    chrono::Utc::now(),
                ));
            }
            (Step::Refused(error), Heard::View(_)) => debug!(%error, "run: late output refused"),
            (Step::Refused(error), Heard::Session(_)) => {
                debug!(%error, "run: session report refused")
            }
            _ => unreachable!("a report is heard or refused"),
        }
    }
}

fn images(attachments: &[String]) -> Vec<PathBuf> {
    attachments
        .iter()
        .map(PathBuf::from)
        .filter(|path| {
            path.extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
        })
        .collect()
}
