//! Carrying out the core's tickets: one background task per run, from
//! `spawned` to `finish`, streaming the agent's answer into its chat.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use baton_core::{Driver, LaneKey, Origin, Outcome, Output};
use teloxide::types::{ChatId, MessageId};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, error, info, info_span, warn};

use super::{App, Usage, target};
use crate::drivers::{AgentEvent, AgentOutcome, AgentRequest};
use crate::platform::Ticket;
use crate::streaming::answer::AnswerStream;
use crate::streaming::api::TelegramApi;
use crate::streaming::coalescer::deliver;
use crate::streaming::typing::{TYPING_EVERY, Typing};

/// How a run ended, for the core and for the chat.
struct Ended {
    outcome: Outcome,
    view: AgentOutcome,
}

impl Ended {
    fn cancelled() -> Self {
        Ended {
            outcome: Outcome::Cancelled,
            view: AgentOutcome::Cancelled,
        }
    }
    fn failed(message: String) -> Self {
        Ended {
            outcome: Outcome::Failed,
            view: AgentOutcome::Failed { message },
        }
    }
}

type AgentRun<'a> = Pin<Box<dyn Future<Output = AgentOutcome> + Send + 'a>>;

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp"];

impl App {
    /// Starts a runner task for each ticket the core handed out.
    pub fn start(self: &Arc<Self>, tickets: Vec<Ticket>) {
        for ticket in tickets {
            let span = info_span!("run", run = %ticket.run, lane = %ticket.lane(), driver = %ticket.driver);
            let app = Arc::clone(self);
            self.runners.spawn(app.run(ticket).instrument(span));
        }
    }

    async fn run(self: Arc<Self>, ticket: Ticket) {
        let started = Instant::now();
        let lane = ticket.lane();
        info!(item = %ticket.item.id, "run: admitted");
        let mut answer = AnswerStream::start(
            self.bot.clone(),
            target(lane),
            self.coalescer.clone(),
            self.pauses.clone(),
        );
        if !matches!(ticket.item.origin, Origin::Cron { silent: true, .. }) {
            answer.apply(AgentEvent::Notice {
                message: format!("▶️ {}", ticket.item.preview(80)),
            });
        }
        let typing = Typing::start(
            self.bot.clone(),
            target(lane),
            TYPING_EVERY,
            self.pauses.clone(),
        );
        let ended = self.execute(&ticket, &mut answer).await;
        drop(typing);
        // The core learns first, so the next item starts while this answer's
        // last edit is still on its way.
        match self.core.finish(ticket.run, ended.outcome) {
            Ok(report) => {
                info!(outcome = ?report.outcome, next = report.tickets.len(), "run: finished");
                self.persist_journal();
                if let Some(job) = report.cron_ended {
                    self.cron_job_ended(&job);
                }
                self.start(report.tickets);
            }
            Err(error) => error!(%error, "run: the core refused its finish"),
        }
        let completed = matches!(ended.view, AgentOutcome::Completed { .. });
        let (delivery, texts) = answer.finish_with_texts(ended.view).await;
        if delivery.abandoned > 0 {
            warn!(
                abandoned = delivery.abandoned,
                "run: some answer messages could not be delivered"
            );
        }
        if completed && started.elapsed() >= self.notify_after {
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
            self.bot.clone(),
            target(lane),
            vec![last_text.clone()],
            self.coalescer.clone(),
            self.pauses.clone(),
        )
        .await;
        if fresh.abandoned > 0 || fresh.messages.is_empty() {
            warn!("run: the end of the answer could not be sent again; the streamed copy stays");
            return;
        }
        if let Err(error) = self.bot.delete(ChatId(lane.chat), *last_streamed).await {
            warn!(%error, "run: could not remove the streamed copy of the answer's end");
        }
    }

    /// Spawns the agent (again after a stall, while the core allows) and
    /// streams its events until it ends.
    async fn execute(&self, ticket: &Ticket, answer: &mut AnswerStream) -> Ended {
        let lane = ticket.lane();
        let mut resume = ticket.resume.clone();
        loop {
            if let Err(error) = self.core.spawned(ticket.run) {
                info!(%error, "run: not spawned");
                return Ended::cancelled();
            }
            self.persist_journal();
            let request = AgentRequest {
                prompt: ticket.item.prompt.clone(),
                workdir: self.workdir.clone(),
                model: ticket.model.clone(),
                effort: ticket.effort.clone(),
                resume: resume.clone(),
                images: images(&ticket.item.attachments),
            };
            let (events, mut received) = mpsc::unbounded_channel();
            let cancel = ticket.cancel.token().clone();
            let mut agent: AgentRun<'_> = match (ticket.driver, &self.codex) {
                (Driver::Claude, _) => Box::pin(self.claude.run(request, events, cancel)),
                (Driver::Codex, Some(codex)) => Box::pin(codex.run(request, events, cancel)),
                (Driver::Codex, None) => {
                    return Ended::failed(
                        "the codex CLI is not installed on this machine (set CODEX_BIN)".into(),
                    );
                }
            };
            let outcome = loop {
                tokio::select! {
                    Some(event) = received.recv() => self.on_event(ticket, answer, event),
                    outcome = &mut agent => {
                        while let Ok(event) = received.try_recv() {
                            self.on_event(ticket, answer, event);
                        }
                        break outcome;
                    }
                }
            };
            return match outcome {
                AgentOutcome::Completed { final_text } => Ended {
                    outcome: Outcome::Completed,
                    view: AgentOutcome::Completed { final_text },
                },
                AgentOutcome::Failed { message } => Ended::failed(message),
                AgentOutcome::Cancelled => Ended::cancelled(),
                AgentOutcome::Stalled => match self.core.retry(ticket.run) {
                    Ok(attempt) => {
                        warn!(attempt, "run: agent stalled, retrying");
                        self.persist_journal();
                        answer.apply(AgentEvent::Notice {
                            message: format!("⚠️ The agent stalled; retry {attempt}…"),
                        });
                        resume = self.core.session(lane, ticket.driver).or(resume);
                        continue;
                    }
                    Err(error) => {
                        warn!(%error, "run: agent stalled, no retry");
                        Ended {
                            outcome: Outcome::Failed,
                            view: AgentOutcome::Stalled,
                        }
                    }
                },
            };
        }
    }

    /// One agent event: ownership-checked by the core, then shown.
    fn on_event(&self, ticket: &Ticket, answer: &mut AnswerStream, event: AgentEvent) {
        let lane = ticket.lane();
        let shown = match event {
            AgentEvent::Session { id } => {
                match self.core.record_agent_session(ticket.run, id.clone()) {
                    Ok(()) => {
                        self.persist_journal();
                        let stored = self.store.record_session(
                            lane,
                            ticket.driver.as_str(),
                            &id,
                            &self.workdir,
                            &ticket.item.prompt,
                            chrono::Utc::now(),
                        );
                        if let Err(error) = stored {
                            warn!(%error, "run: could not store the session for /resume");
                        }
                    }
                    Err(error) => debug!(%error, "run: session report refused"),
                }
                return;
            }
            AgentEvent::Usage {
                input_tokens,
                output_tokens,
            } => {
                self.set_usage(
                    lane,
                    Usage {
                        input_tokens,
                        output_tokens,
                    },
                );
                return;
            }
            AgentEvent::TextDelta { text } => (Output::Text, AgentEvent::TextDelta { text }),
            AgentEvent::TextSegment { text } => (Output::Text, AgentEvent::TextSegment { text }),
            AgentEvent::Thinking { text } => (Output::Thinking, AgentEvent::Thinking { text }),
            AgentEvent::ToolStarted { name, detail } => (
                Output::Tool(format!("{name} {detail}")),
                AgentEvent::ToolStarted { name, detail },
            ),
            AgentEvent::ToolFinished { name, ok, detail } => {
                (Output::Text, AgentEvent::ToolFinished { name, ok, detail })
            }
            AgentEvent::Notice { message } => (Output::Text, AgentEvent::Notice { message }),
        };
        let (output, view) = shown;
        match self.core.output(ticket.run, output) {
            Ok(()) => answer.apply(view),
            Err(error) => debug!(%error, "run: late output refused"),
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
