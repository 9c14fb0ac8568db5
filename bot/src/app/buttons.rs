//! Inline buttons: callback data is parsed strictly, checked against the
//! sender, and turned into one core operation. Stale or unknown buttons get
//! a clear answer, never a crash.

use baton_core::{Driver, ItemId, LaneKey, Origin, RunId};
use tracing::{info, warn};

use super::effects::{Effect, To};
use super::incoming::Press;
use super::replies::{Reply, describe};
use super::router::{Router, item};
use crate::telegram::callbacks::{CallbackAction, Choice, DriverChoice};
use crate::telegram::keyboards::recap_keyboard;

const RECAP_PROMPT: &str = "Give me a short recap of this session so far: what we set out to do, what was done, and what is left.";

fn choice(value: Choice) -> Option<String> {
    match value {
        Choice::Default => None,
        Choice::Named(token) => Some(token.as_str().to_owned()),
    }
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
        let (text, mut effects) = self.on_action(press.update_id, to, action);
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
                ("Recap requested".into(), self.admitted(to, admission))
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
                (String::new(), self.admitted(to, admission))
            }
            CallbackAction::Transcribe { update } => self.retry_transcription(update, to),
            CallbackAction::Dismiss => (String::new(), Vec::new()),
        }
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
