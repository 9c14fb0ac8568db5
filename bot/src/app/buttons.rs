//! Inline buttons: callback data is parsed strictly, checked against the
//! sender, and turned into one core operation. Stale or unknown buttons get
//! a clear answer, never a crash.

use std::sync::Arc;

use baton_core::{Driver, ItemId, LaneKey, Origin, RunId};
use teloxide::payloads::AnswerCallbackQuerySetters;
use teloxide::prelude::Requester;
use teloxide::types::{CallbackQuery, MaybeInaccessibleMessage};
use tracing::{info, warn};

use super::App;
use super::replies::{Reply, describe};
use crate::telegram::callbacks::{CallbackAction, DriverChoice, Setting};
use crate::telegram::keyboards::recap_keyboard;

const RECAP_PROMPT: &str = "Give me a short recap of this session so far: what we set out to do, what was done, and what is left.";

fn lane_of_button(message: &MaybeInaccessibleMessage) -> LaneKey {
    match message {
        MaybeInaccessibleMessage::Regular(message) => super::lane_of(message),
        MaybeInaccessibleMessage::Inaccessible(message) => LaneKey::chat(message.chat.id.0),
    }
}

fn setting(value: Setting) -> Option<String> {
    match value {
        Setting::Default => None,
        Setting::Named(token) => Some(token.as_str().to_owned()),
    }
}

impl App {
    pub(super) fn on_button(self: &Arc<Self>, update_id: i64, query: CallbackQuery) {
        if !self.admit_user(
            Some(&query.from),
            query.message.as_ref().map_or(0, |m| m.chat().id.0),
            "button",
        ) {
            self.answer_button(query.id.0, "Not allowed.".into());
            return;
        }
        let Some(lane) = query.message.as_ref().map(lane_of_button) else {
            self.answer_button(
                query.id.0,
                "This button is too old; use the command again.".into(),
            );
            return;
        };
        let action = match query.data.as_deref().map(CallbackAction::parse) {
            Some(Ok(action)) => action,
            Some(Err(error)) => {
                warn!(%lane, %error, "buttons: unusable callback data");
                self.answer_button(
                    query.id.0,
                    "This button is out of date; use the command again.".into(),
                );
                return;
            }
            None => {
                self.answer_button(query.id.0, "This button carries no action.".into());
                return;
            }
        };
        info!(%lane, ?action, "buttons: pressed");
        let answer = self.on_action(update_id, lane, action);
        self.answer_button(query.id.0, answer);
    }

    /// Carries out one button's action; returns the short text shown to the presser.
    fn on_action(
        self: &Arc<Self>,
        update_id: i64,
        lane: LaneKey,
        action: CallbackAction,
    ) -> String {
        match action {
            CallbackAction::Model(value) => {
                let prefs = self
                    .door
                    .update_preferences(lane, |prefs| prefs.model = setting(value));
                format!(
                    "Model: {} (from the next run)",
                    prefs.model.as_deref().unwrap_or("default")
                )
            }
            CallbackAction::Effort(value) => {
                let prefs = self
                    .door
                    .update_preferences(lane, |prefs| prefs.effort = setting(value));
                format!(
                    "Effort: {} (from the next run)",
                    prefs.effort.as_deref().unwrap_or("default")
                )
            }
            CallbackAction::Driver(choice) => {
                let driver = match choice {
                    DriverChoice::Claude => Driver::Claude,
                    DriverChoice::Codex => Driver::Codex,
                };
                self.switch_driver(lane, driver)
            }
            CallbackAction::ResumePage(page) => {
                self.show_sessions(lane, page);
                String::new()
            }
            CallbackAction::Resume { session } => {
                let driver = self.door.preferences(lane).driver;
                let known = self
                    .store
                    .session(lane, driver.as_str(), session.as_str())
                    .ok()
                    .flatten();
                if known.is_none_or(|record| record.workdir != self.workdir) {
                    return "That session is not one of this chat's in this folder.".into();
                }
                self.door
                    .set_session(lane, driver, Some(session.as_str().to_owned()));
                self.reply_with_keyboard(
                    lane,
                    format!("Resuming <code>{}</code>. A recap?", session.as_str()),
                    recap_keyboard(&session),
                );
                "Session resumed".into()
            }
            CallbackAction::Recap { session, wanted } => {
                if !wanted {
                    return "OK, no recap".into();
                }
                let driver = self.door.preferences(lane).driver;
                if self.door.session(lane, driver).as_deref() != Some(session.as_str()) {
                    return "This chat has moved to another session since.".into();
                }
                // The recap is an item like any other: it waits its turn and
                // never starts beside a running run.
                let mut item = self.item(
                    update_id,
                    lane,
                    Origin::Recap,
                    RECAP_PROMPT.into(),
                    Vec::new(),
                );
                item.id = ItemId(format!("b{update_id}"));
                let admission = self.door.submit(item);
                self.admitted(lane, admission);
                "Recap requested".into()
            }
            CallbackAction::StopRun { run } => match self.door.stop_run(RunId(run)) {
                Ok(view) => {
                    self.reply(
                        lane,
                        Reply::Stopped {
                            run: Some(describe(&view)),
                            removed: Vec::new(),
                        },
                    );
                    "Stopping".into()
                }
                Err(_) => "That run has already ended.".into(),
            },
            CallbackAction::Retry => {
                let admission = self.door.retry_last(lane, ItemId::update(update_id));
                self.admitted(lane, admission);
                String::new()
            }
            CallbackAction::Dismiss => String::new(),
        }
    }

    /// Switches a lane's driver. Model and effort names differ between
    /// drivers, so a switch starts from the new driver's defaults; a run in
    /// flight keeps the driver it captured.
    pub(super) fn switch_driver(self: &Arc<Self>, lane: LaneKey, driver: Driver) -> String {
        if !self.driver_available(driver) {
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

    fn answer_button(self: &Arc<Self>, query_id: String, text: String) {
        let bot = self.bot.clone();
        self.runners.spawn(async move {
            let mut request = bot.answer_callback_query(teloxide::types::CallbackQueryId(query_id));
            if !text.is_empty() {
                request = request.text(text);
            }
            if let Err(error) = request.await {
                warn!(%error, "buttons: could not answer a callback query");
            }
        });
    }
}
