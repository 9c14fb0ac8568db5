//! Questions a run puts to the user (a permission prompt, the agent's own
//! question, a plan to approve). A question belongs to exactly one run; it
//! can be answered once, and only while that run is live and not cancelled,
//! so a late or doubled tap changes nothing.

use super::Machine;
use crate::clock::Millis;
use crate::error::Error;
use crate::event::Event;
use crate::planted::mutated;
use crate::run::{QuestionId, RunId};
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    /// The run waits for the user: records the question and issues its id,
    /// never reused. Refused for a run that is not current or was cancelled
    /// (the runner then denies the request itself).
    pub fn ask(&mut self, run: RunId, summary: String, now: Millis) -> Result<QuestionId, Error> {
        let id = QuestionId(self.next_question);
        let heed_cancel = !mutated!(self.config, AskAfterCancel);
        let current = self.current_run(run)?;
        if current.cancel_reason.is_some() && heed_cancel {
            return Err(Error::Cancelled(run));
        }
        current.questions.push((id, summary));
        self.next_question += 1;
        self.emit(now, Event::Asked { run, question: id });
        Ok(id)
    }

    /// The user answered `question` of `run`: accepted at most once, and
    /// only while the run is live and not cancelled.
    pub fn answer(&mut self, run: RunId, question: QuestionId, now: Millis) -> Result<(), Error> {
        self.close_question(run, question, true)?;
        self.emit(now, Event::Answered { run, question });
        Ok(())
    }

    /// The runner withdrew a question without the user's answer (the agent
    /// cancelled it, or it timed out): later taps are refused.
    pub fn withdraw_question(
        &mut self,
        run: RunId,
        question: QuestionId,
        now: Millis,
    ) -> Result<(), Error> {
        self.close_question(run, question, false)?;
        self.emit(now, Event::Withdrawn { run, question });
        Ok(())
    }

    /// Takes `question` off the open questions of the live `run`; an answer
    /// is also refused once the run was cancelled.
    fn close_question(
        &mut self,
        run: RunId,
        question: QuestionId,
        answering: bool,
    ) -> Result<(), Error> {
        let heed_cancel = !mutated!(self.config, AnswerAfterCancel);
        let keep_open = answering && mutated!(self.config, AnswerTwice);
        let refusal_closes = mutated!(self.config, RefusedTapCloses);
        let current = self.current_run(run)?;
        let index = current
            .questions
            .iter()
            .position(|(id, _)| *id == question)
            .ok_or(Error::Unanswerable(run, question))?;
        if answering && current.cancel_reason.is_some() && heed_cancel {
            if refusal_closes {
                current.questions.remove(index);
            }
            return Err(Error::Cancelled(run));
        }
        if !keep_open {
            current.questions.remove(index);
        }
        Ok(())
    }
}
