//! A run's questions, from the runner's side: a question the agent asks
//! goes to the core (which issues its id, or refuses for a stopped run),
//! then to the chat as a message with buttons; it ends answered (by the
//! buttons' handler), withdrawn by the agent, overdue, or with its run.

use std::sync::Arc;

use baton_core::RunId;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::effects::To;
use super::questions::{Encode, Open, deny_without_reason};
use super::{App, question_view};
use crate::drivers::process::InputLine;
use crate::drivers::{Decision, Question};
use crate::platform::Ticket;

const STOPPED: &str = "Denied: the run was stopped.";

impl App {
    /// The agent asks: the core records it (the run now waits for the
    /// user), the chat shows it with its buttons.
    pub(super) async fn on_asked(
        self: &Arc<Self>,
        ticket: &Ticket,
        question: Question,
        answers: &UnboundedSender<InputLine>,
        encode: Encode,
    ) {
        let lane = ticket.lane();
        let id = match self.door.ask(ticket.run, question.ask.summary()) {
            Ok(id) => id,
            Err(error) => {
                // The run was stopped meanwhile: nobody will answer.
                info!(%error, "run: question refused, denied");
                let denial = Decision::Deny {
                    reason: "The user stopped this run.".into(),
                };
                let _ = answers.send(encode(&question, &denial));
                return;
            }
        };
        info!(question = %id, summary = %question.ask.summary(), "run: the agent asks");
        let (html, keyboard) = question_view::asked(ticket.run, id, &question.ask);
        self.questions.insert(Open::new(
            ticket.run,
            id,
            lane,
            question,
            answers.clone(),
            encode,
        ));
        match self.send_keyboard(To::lane(lane), html, keyboard).await {
            Some(message) => self.questions.set_message(ticket.run, id, message.0),
            None => warn!(question = %id, "run: the question could not be shown"),
        }
    }

    /// The agent withdrew a question: it was interrupted, by a stop of
    /// the run (`stopped`) or on its own.
    pub(super) fn on_withdrawn(self: &Arc<Self>, run: RunId, request_id: &str, stopped: bool) {
        if let Some(open) = self.questions.take_request(run, request_id) {
            drop(self.door.withdraw_question(run, open.id));
            let why = if stopped {
                STOPPED
            } else {
                "Withdrawn by the agent."
            };
            self.show_closed(&open, why);
        }
    }

    /// Denies what waited too long: questions past the ask timeout, and
    /// denials whose reason did not come within the minute.
    pub(super) fn expire_questions(self: &Arc<Self>, run: RunId) {
        for open in self.questions.take_overdue(run, self.agents.ask_timeout) {
            if self.door.withdraw_question(run, open.id).is_err() {
                continue;
            }
            let minutes = self.agents.ask_timeout.as_secs().div_ceil(60);
            let why = format!("No answer within {minutes} min: denied.");
            open.decide(&Decision::Deny {
                reason: format!("The user did not answer within {minutes} minutes."),
            });
            warn!(question = %open.id, "run: a question went unanswered");
            self.show_closed(&open, &why);
            self.perform(vec![super::effects::Effect::html(
                To::message_opt(open.lane, open.message),
                format!("⌛ {why}"),
            )]);
        }
        for open in self.questions.take_unreasoned(run) {
            open.decide(&deny_without_reason(&open));
        }
    }

    /// The agent of `run` is gone: whatever it still asked is closed.
    pub(super) fn close_questions(self: &Arc<Self>, run: RunId, stopped: bool) {
        for open in self.questions.take_run(run) {
            drop(self.door.withdraw_question(run, open.id));
            let why = if stopped {
                STOPPED
            } else {
                "Closed: the run ended."
            };
            self.show_closed(&open, why);
        }
    }

    fn show_closed(self: &Arc<Self>, open: &Open, why: &str) {
        let html = question_view::closed(&open.question.ask, why);
        self.edit(To::message_opt(open.lane, open.message), Some(html));
    }
}
