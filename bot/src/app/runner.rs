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
use baton_core::{Driver, LaneKey, Lifecycle, Origin, Output};
use teloxide::types::{ChatId, MessageId};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::door::NotSpawned;
use super::run_buttons::RunButtons;
use super::{App, Usage, target};
use crate::drivers::{AgentCli, AgentEvent, AgentOutcome, AgentRequest};
use crate::platform::{RunCancel, Ticket};
use crate::streaming::answer::AnswerStream;
use crate::streaming::api::TelegramApi;
use crate::streaming::coalescer::deliver;
use crate::streaming::typing::{TYPING_EVERY, Typing};

/// What an agent event becomes once the core has heard it.
enum Heard {
    View(AgentEvent),
    /// A session id, stored for `/resume`.
    Session(String),
}

type AgentRun<'a> = Pin<Box<dyn Future<Output = AgentOutcome> + Send + 'a>>;

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp"];

impl App {
    /// Starts a runner task for each ticket the core handed out.
    pub fn start(self: &Arc<Self>, tickets: Vec<Ticket>) {
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
        let buttons = RunButtons::new(self.outbox.bot.clone(), ticket.run);
        let mut answer = AnswerStream::start(
            buttons.clone(),
            target(lane),
            self.outbox.coalescer.clone(),
            self.outbox.pauses.clone(),
        );
        if !matches!(ticket.item.origin, Origin::Cron { silent: true, .. }) {
            answer.apply(AgentEvent::Notice {
                message: format!("▶️ {}", ticket.item.preview(80)),
            });
        }
        let typing = Typing::start(
            self.outbox.bot.clone(),
            target(lane),
            TYPING_EVERY,
            self.outbox.pauses.clone(),
        );
        let (over, agent_view) = self.execute(&ticket, &mut answer, typing).await;
        // However it ended, the item's files are done with.
        self.sweep_files();
        match over.report {
            Ok(report) => {
                info!(outcome = ?report.outcome, next = report.tickets.len(), "run: finished");
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
        let completed = matches!(view, AgentOutcome::Completed { .. });
        let failed = matches!(view, AgentOutcome::Failed { .. } | AgentOutcome::Stalled);
        buttons.run_ended();
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
        &self,
        ticket: &Ticket,
        answer: &mut AnswerStream,
        typing: Typing,
    ) -> (Over<RunCancel>, Option<AgentOutcome>) {
        let mut life = Lifecycle::new(ticket);
        let mut typing = Some(typing);
        let mut agent_view = None;
        let mut input = Input::Begin;
        loop {
            match life.handle(input) {
                Step::Call(call) => {
                    if matches!(call, Call::Finish(..)) {
                        drop(typing.take());
                    }
                    let reply = self.call(ticket, call).await;
                    match &reply {
                        Answer::Spawned(Err(error)) => info!(%error, "run: not spawned"),
                        Answer::Retried(Ok(attempt)) => {
                            warn!(attempt, "run: agent stalled, retrying");
                            answer.apply(AgentEvent::Notice {
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
                    let (end, view) = self.agent(ticket, &mut life, answer, resume).await;
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
        &self,
        ticket: &Ticket,
        life: &mut Lifecycle<RunCancel>,
        answer: &mut AnswerStream,
        resume: Option<String>,
    ) -> (AgentEnd, Option<AgentOutcome>) {
        let request = AgentRequest {
            prompt: ticket.item.prompt.clone(),
            workdir: self.agents.workdir.clone(),
            model: ticket.model.clone(),
            effort: ticket.effort.clone(),
            resume,
            images: images(&ticket.item.attachments),
        };
        let (events, mut received) = mpsc::unbounded_channel();
        let cancel = ticket.cancel.token().clone();
        let mut agent: AgentRun<'_> = match (ticket.driver, &self.agents.codex) {
            (Driver::Claude, _) => Box::pin(self.agents.claude.run(request, events, cancel)),
            (Driver::Codex, Some(codex)) => Box::pin(codex.run(request, events, cancel)),
            (Driver::Codex, None) => {
                let message =
                    "the codex CLI is not installed on this machine (set CODEX_BIN)".to_owned();
                return (AgentEnd::Failed, Some(AgentOutcome::Failed { message }));
            }
        };
        let outcome = loop {
            tokio::select! {
                Some(event) = received.recv() => self.on_event(ticket, life, answer, event).await,
                outcome = &mut agent => {
                    while let Ok(event) = received.try_recv() {
                        self.on_event(ticket, life, answer, event).await;
                    }
                    break outcome;
                }
            }
        };
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
        &self,
        ticket: &Ticket,
        life: &mut Lifecycle<RunCancel>,
        answer: &mut AnswerStream,
        event: AgentEvent,
    ) {
        let lane = ticket.lane();
        let (report, heard) = match event {
            AgentEvent::Session { id } => (Input::Session(id.clone()), Heard::Session(id)),
            AgentEvent::Usage {
                input_tokens,
                output_tokens,
            } => {
                self.usage.set(
                    lane,
                    Usage {
                        input_tokens,
                        output_tokens,
                    },
                );
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
            (Step::Show, Heard::View(view)) => answer.apply(view),
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
