//! Inline buttons: callback data is parsed strictly, checked against the
//! sender, and turned into one core operation. Stale or unknown buttons get
//! a clear answer, never a crash.

use baton_core::{Driver, Error, ItemId, LaneKey, Origin, QuestionId, RunId};
use tracing::{info, warn};

use super::effects::{Effect, To};
use super::incoming::Press;
use super::replies::{Reply, describe};
use super::router::{Router, item};
use super::{question_view, questions};
use crate::drivers::{Ask, Decision};
use crate::telegram::callbacks::{CallbackAction, Choice, DriverChoice, Pick};
use crate::telegram::keyboards::recap_keyboard;

const RECAP_PROMPT: &str = "Give me a short recap of this session so far: what we set out to do, what was done, and what is left.";

fn choice(value: Choice) -> Option<String> {
    match value {
        Choice::Default => None,
        Choice::Named(token) => Some(token.as_str().to_owned()),
    }
}

/// The pressed message, rewritten to say what the press did.
fn edit(to: To, reply: &Reply) -> Effect {
    Effect::Edit {
        to,
        html: Some(reply.html()),
    }
}

/// A Run now or Cancel on a message that no longer waits: it started, or a
/// stop or another press took it out; nothing changes but the buttons.
fn gone(to: To, error: baton_core::Error) -> (String, Vec<Effect>) {
    let text = match error {
        baton_core::Error::NotQueued(_) => {
            "That message is no longer queued: it has started or was removed."
        }
        _ => "That did not work; use the command again.",
    };
    (text.into(), vec![Effect::Edit { to, html: None }])
}

impl Router<'_> {
    /// A button press: its effects, always ending with the press's answer.
    pub(super) fn on_press(&self, press: Press) -> Vec<Effect> {
        let answer = |text: &str| Effect::AnswerButton {
            query: press.query.clone(),
            text: text.to_owned(),
        };
        let chat = press.lane.map_or(0, |lane| lane.chat);
        if !self.admit_user(Some(press.user), chat, "button") {
            return vec![answer("Not allowed.")];
        }
        let Some(lane) = press.lane else {
            return vec![answer("This button is too old; use the command again.")];
        };
        let action = match press.data.as_deref().map(CallbackAction::parse) {
            Some(Ok(action)) => action,
            Some(Err(error)) => {
                warn!(%lane, %error, "buttons: unusable callback data");
                return vec![answer("This button is out of date; use the command again.")];
            }
            None => return vec![answer("This button carries no action.")],
        };
        info!(%lane, ?action, "buttons: pressed");
        let to = To {
            lane,
            message: press.message,
        };
        let (text, mut effects) = match action {
            CallbackAction::Answer {
                run,
                question,
                pick,
            } => self.on_answer(to, &press.name, RunId(run), QuestionId(question), pick),
            action => self.on_action(press.update_id, to, action),
        };
        effects.push(answer(&text));
        effects
    }

    /// One button's action: the short text shown to the presser, and what else to do.
    fn on_action(&self, update_id: i64, to: To, action: CallbackAction) -> (String, Vec<Effect>) {
        let lane = to.lane;
        match action {
            CallbackAction::Model(value) => {
                let prefs = self
                    .door
                    .update_preferences(lane, |prefs| prefs.model = choice(value));
                let text = format!(
                    "Model: {} (from the next run)",
                    prefs.model.as_deref().unwrap_or("default")
                );
                (text, Vec::new())
            }
            CallbackAction::Effort(value) => {
                let prefs = self
                    .door
                    .update_preferences(lane, |prefs| prefs.effort = choice(value));
                let text = format!(
                    "Effort: {} (from the next run)",
                    prefs.effort.as_deref().unwrap_or("default")
                );
                (text, Vec::new())
            }
            CallbackAction::Driver(choice) => {
                let driver = match choice {
                    DriverChoice::Claude => Driver::Claude,
                    DriverChoice::Codex => Driver::Codex,
                };
                (self.switch_driver(lane, driver), Vec::new())
            }
            CallbackAction::ResumePage(page) => (String::new(), self.show_sessions(to, page)),
            CallbackAction::Resume { session } => {
                let driver = self.door.preferences(lane).driver;
                let known = self
                    .store
                    .session(lane, driver.as_str(), session.as_str())
                    .ok()
                    .flatten();
                if known.is_none_or(|record| record.workdir != self.scope.config.workdir) {
                    return (
                        "That session is not one of this chat's in this folder.".into(),
                        Vec::new(),
                    );
                }
                self.door
                    .set_session(lane, driver, Some(session.as_str().to_owned()));
                let menu = Effect::Menu {
                    to,
                    html: format!("Resuming <code>{}</code>. A recap?", session.as_str()),
                    keyboard: recap_keyboard(&session),
                };
                ("Session resumed".into(), vec![menu])
            }
            CallbackAction::Recap { session, wanted } => {
                if !wanted {
                    return ("OK, no recap".into(), Vec::new());
                }
                let driver = self.door.preferences(lane).driver;
                if self.door.session(lane, driver).as_deref() != Some(session.as_str()) {
                    return (
                        "This chat has moved to another session since.".into(),
                        Vec::new(),
                    );
                }
                // The recap is an item like any other: it waits its turn and
                // never starts beside a running run.
                let mut item = item(
                    update_id,
                    lane,
                    Origin::Recap,
                    RECAP_PROMPT.into(),
                    Vec::new(),
                );
                item.id = ItemId(format!("b{update_id}"));
                let admission = self.door.submit(item);
                ("Recap requested".into(), self.admitted(to, None, admission))
            }
            CallbackAction::StopRun { run } => match self.door.stop_run(RunId(run)) {
                Ok(view) => {
                    let stopped = Reply::Stopped {
                        run: Some(describe(&view)),
                        removed: Vec::new(),
                    };
                    ("Stopping".into(), vec![Effect::reply(to, stopped)])
                }
                Err(_) => ("That run has already ended.".into(), Vec::new()),
            },
            CallbackAction::Retry => {
                let admission = self.door.retry_last(lane, ItemId::update(update_id));
                (String::new(), self.admitted(to, None, admission))
            }
            CallbackAction::RunNow { item } => {
                let item = ItemId(item.as_str().to_owned());
                match self.door.run_now(lane, &item) {
                    Ok(report) => {
                        info!(%lane, %item, cancelled = ?report.cancelled, "buttons: run now");
                        let reply = Reply::Interrupting {
                            position: report.position,
                        };
                        ("Runs next".into(), vec![edit(to, &reply)])
                    }
                    Err(error) => gone(to, error),
                }
            }
            CallbackAction::Unqueue { item } => {
                let item = ItemId(item.as_str().to_owned());
                match self.door.cancel_queued(lane, &item) {
                    Ok(_) => {
                        info!(%lane, %item, "buttons: removed from the queue");
                        ("Cancelled".into(), vec![edit(to, &Reply::Unqueued)])
                    }
                    Err(error) => gone(to, error),
                }
            }
            CallbackAction::CronCancel { job } => {
                let (reply, changed) = self.remove_cron(lane, job);
                let text = if changed {
                    "Cancelled"
                } else {
                    "Not cancelled"
                };
                let mut effects = vec![Effect::reply(to, reply)];
                if changed {
                    effects.push(Effect::CronChanged);
                }
                (text.into(), effects)
            }
            CallbackAction::Diff { run } => (String::new(), self.send_diff(to, run)),
            CallbackAction::Transcribe { update } => self.retry_transcription(update, to),
            CallbackAction::Dismiss => (String::new(), Vec::new()),
            CallbackAction::Mode(mode) => self.set_mode(lane, mode.as_str()),
            CallbackAction::Answer { .. } => unreachable!("answers are routed by on_press"),
        }
    }

    /// A tap under a question of the agent: the core accepts it once, and
    /// only while the run is live; then the decision goes to the agent.
    fn on_answer(
        &self,
        to: To,
        who: &str,
        run: RunId,
        id: QuestionId,
        pick: Pick,
    ) -> (String, Vec<Effect>) {
        if let Err(error) = self.door.answer(run, id) {
            let text = match error {
                Error::StaleRun(_) => "That run has ended; this question is closed.",
                Error::Cancelled(_) => "That run was stopped; the question was denied.",
                _ => "This question was already answered.",
            };
            return (text.into(), vec![Effect::Edit { to, html: None }]);
        }
        let Some(mut open) = self.questions.take(run, id) else {
            warn!(%run, %id, "buttons: the core took an answer it has no question for");
            return (
                "This question is closed.".into(),
                vec![Effect::Edit { to, html: None }],
            );
        };
        // A tap can come before the runner has heard which message shows the question.
        open.message = open.message.or(to.message);
        info!(lane = %to.lane, %run, %id, ?pick, "buttons: question answered");
        let decision = match (pick, &open.question.ask) {
            (Pick::Allow, _) => Decision::Allow,
            (Pick::AllowForSession, Ask::Permission { .. }) => Decision::AllowForSession,
            (Pick::Option(index), Ask::Choice { options, .. })
                if usize::from(index) < options.len() =>
            {
                Decision::Choose {
                    answer: options[usize::from(index)].clone(),
                }
            }
            (Pick::Deny, Ask::Permission { .. } | Ask::Plan { .. }) => {
                let html = question_view::denied_awaiting_reason(&open.question.ask, who);
                self.questions.await_reason(open);
                return (
                    "Denied".into(),
                    vec![Effect::Edit {
                        to,
                        html: Some(html),
                    }],
                );
            }
            _ => {
                // A pick that does not fit its question (a forged button):
                // the core took the answer, so the agent hears a denial.
                let decision = questions::deny_without_reason(&open);
                let html = question_view::decided(&open.question.ask, &decision, Some(who));
                return (
                    "That answer does not fit the question; denied.".into(),
                    vec![Effect::Decide {
                        open,
                        decision,
                        html,
                    }],
                );
            }
        };
        let html = question_view::decided(&open.question.ask, &decision, Some(who));
        let text = match decision {
            Decision::Allow | Decision::AllowForSession => "Allowed",
            _ => "Answered",
        };
        (
            text.into(),
            vec![Effect::Decide {
                open,
                decision,
                html,
            }],
        )
    }

    /// Switches a lane's driver. Model and effort names differ between
    /// drivers, so a switch starts from the new driver's defaults; a run in
    /// flight keeps the driver it captured.
    pub(super) fn switch_driver(&self, lane: LaneKey, driver: Driver) -> String {
        if driver == Driver::Codex && !self.scope.codex_installed {
            return format!("{driver} is not installed on this machine.");
        }
        self.door.update_preferences(lane, |prefs| {
            if prefs.driver != driver {
                prefs.driver = driver;
                prefs.model = None;
                prefs.effort = None;
            }
        });
        format!("Switched to {driver} (from the next run)")
    }
}
