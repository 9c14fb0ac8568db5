//! Handlers: each message, command or button becomes core operations
//! (through the door) and a list of [`Effect`]s for the executor. Nothing
//! here awaits anything, so `/stop` is handled at once whatever else is in
//! flight, and every handler is tested without Telegram or tokio.

use std::path::PathBuf;
use std::sync::Arc;

use baton_core::{Admission, Error, Item, ItemId, LaneKey, Millis, Origin};
use teloxide::utils::command::BotCommands;
use tracing::{debug, info, warn};

use super::door::CoreDoor;
use super::downloads::Downloads;
use super::effects::{Effect, To};
use super::incoming::{Content, Incoming, Input};
use super::questions::Questions;
use super::rate_limit::RateLimit;
use super::replies::{Reply, describe, removed};
use super::run_diff::DiffBoard;
use super::usage::UsageBoard;
use crate::config::Config;
use crate::drivers::Decision;
use crate::media::{Intake, Prepared, Unready};
use crate::platform::RunCancel;
use crate::store::Store;
use crate::telegram::commands::Command;
use crate::telegram::stop_phrases::{Intent, classify};

pub fn now_millis() -> Millis {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis(since_epoch.as_millis() as u64)
}

/// What handlers know of this deployment.
pub struct Scope {
    /// Who may use the bot, and the folder the agents work in.
    pub config: Arc<Config>,
    /// The bot's own username, for commands addressed as `/stop@name`.
    pub username: String,
    /// False when no codex binary was found; switching to it then says so.
    pub codex_installed: bool,
}

/// How a file download ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Saved and made ready for the agent.
    Saved(Prepared),
    /// Saved at `path`, but not usable as it is (an archive refused, a
    /// transcription failed).
    Unready {
        path: PathBuf,
        why: Unready,
    },
    Failed(String),
    /// A stop of its lane came first.
    Cancelled,
    /// Baton began shutting down first.
    ShuttingDown,
}

/// The handlers, over the parts of the app they read and change.
pub struct Router<'a> {
    pub door: &'a CoreDoor,
    pub store: &'a Store,
    pub scope: &'a Scope,
    pub rate_limit: &'a RateLimit,
    pub usage: &'a UsageBoard,
    pub diffs: &'a DiffBoard,
    pub downloads: &'a Downloads,
    pub questions: &'a Questions,
    pub intake: &'a Intake,
}

impl Router<'_> {
    pub fn on_input(&self, input: Input) -> Vec<Effect> {
        match input {
            Input::Message(message) => self.on_message(message),
            Input::Press(press) => self.on_press(press),
        }
    }

    pub(super) fn admit_user(&self, user: Option<u64>, chat: i64, what: &str) -> bool {
        let Some(user) = user else {
            warn!(chat, what, "router: refused an update without a sender");
            return false;
        };
        if self.scope.config.is_allowed(user) {
            return true;
        }
        warn!(
            user,
            chat, what, "router: refused a user who is not allowed"
        );
        false
    }

    pub fn on_message(&self, message: Incoming) -> Vec<Effect> {
        if !self.admit_user(message.user, message.lane.chat, "message") {
            return Vec::new();
        }
        let (lane, user, update_id) = (
            message.lane,
            message.user.unwrap_or_default(),
            message.update_id,
        );
        let to = To::message(lane, message.message);
        let text = match message.content {
            Content::Text(text) => text,
            other => {
                if let Some(refused) = self.over_rate(to, user) {
                    return vec![refused];
                }
                return self.on_attachment(update_id, to, other);
            }
        };
        if text.starts_with('/')
            && let Ok(command) = Command::parse(&text, &self.scope.username)
        {
            info!(%lane, ?command, "router: command");
            return self.on_command(update_id, to, command);
        }
        let intent = classify(&text);
        if !matches!(intent, Intent::Stop)
            && let Some(refused) = self.over_rate(to, user)
        {
            return vec![refused];
        }
        match intent {
            Intent::Stop => self.stop_lane(to),
            Intent::Interrupt(prompt) => {
                let item = item(update_id, lane, Origin::Text, prompt, Vec::new());
                let id = item.id.clone();
                self.admitted(to, Some(&id), self.door.interrupt(item))
            }
            Intent::Message(prompt) => {
                if let Some(answered) = self.answer_by_text(to, &prompt) {
                    return answered;
                }
                let item = item(update_id, lane, Origin::Text, prompt, Vec::new());
                let id = item.id.clone();
                self.admitted(to, Some(&id), self.door.submit(item))
            }
        }
    }

    /// A text that answers the agent instead of going to the queue: the
    /// reason for a Deny pressed within the minute, or a typed answer to the
    /// agent's own question.
    fn answer_by_text(&self, to: To, text: &str) -> Option<Vec<Effect>> {
        let lane = to.lane;
        let (open, decision, note) = if let Some(open) = self.questions.take_reason(lane) {
            let reason = match open.question.ask {
                crate::drivers::Ask::Plan { .. } => format!("Keep planning: {text}"),
                _ => text.to_owned(),
            };
            (
                open,
                Decision::Deny { reason },
                "Sent to the agent as the reason.",
            )
        } else {
            let (run, id) = self.questions.open_choice(lane)?;
            self.door.answer(run, id).ok()?;
            let open = self.questions.take(run, id)?;
            let answer = text.to_owned();
            (
                open,
                Decision::Choose { answer },
                "Sent to the agent as your answer.",
            )
        };
        info!(%lane, run = %open.run, question = %open.id, "router: a text answered the agent");
        let html = super::question_view::decided(&open.question.ask, &decision, None);
        Some(vec![
            Effect::Decide {
                open,
                decision,
                html,
            },
            Effect::html(to, note),
        ])
    }

    /// Counts a submission against the user's rate; the refusal when over it.
    fn over_rate(&self, to: To, user: u64) -> Option<Effect> {
        if self.rate_limit.allow(user, std::time::Instant::now()) {
            return None;
        }
        warn!(lane = %to.lane, user, "router: rate limit reached");
        let limit = self.rate_limit.per_minute().unwrap_or_default();
        Some(Effect::reply(
            to,
            Reply::Refused {
                why: format!(
                    "Slow down: at most {limit} messages a minute. This one was not queued; send it again in a moment."
                ),
            },
        ))
    }

    /// What the core's answer to a submission means for the chat.
    /// `item` names a user item, whose queued reply gets the Run now and
    /// Cancel buttons.
    pub fn admitted(
        &self,
        to: To,
        item: Option<&ItemId>,
        admission: Result<Admission<RunCancel>, Error>,
    ) -> Vec<Effect> {
        let reply = match admission {
            Ok(Admission::Started(ticket)) => return vec![Effect::Start(vec![ticket])],
            Ok(Admission::Queued {
                position,
                cancelled: Some(_),
            }) => Reply::Interrupting { position },
            Ok(Admission::Queued {
                position,
                cancelled: None,
            }) => Reply::Queued {
                position,
                item: item.cloned(),
            },
            Err(Error::Duplicate(id)) => {
                debug!(lane = %to.lane, %id, "router: duplicate item ignored");
                return Vec::new();
            }
            Err(Error::QueueFull(max)) => Reply::QueueFull { max },
            Err(Error::ShuttingDown) => Reply::ShuttingDown,
            Err(Error::NothingToRetry) => Reply::NothingToRetry,
            Err(error) => {
                warn!(lane = %to.lane, %error, "router: submission refused");
                Reply::Refused {
                    why: error.to_string(),
                }
            }
        };
        vec![Effect::reply(to, reply)]
    }

    /// Every stop intent (`/stop`, "stop", `!`): cancels the run, clears the
    /// queue and the files still downloading, telling exactly what went.
    pub fn stop_lane(&self, to: To) -> Vec<Effect> {
        let lane = to.lane;
        let downloads = self.downloads.cancel_lane(lane);
        let report = self.door.stop(lane, true);
        info!(%lane, cancelled = report.cancelled.is_some(), removed = report.removed.len(), downloads = downloads.len(), "router: stop");
        if report.cancelled.is_none() && report.removed.is_empty() && downloads.is_empty() {
            return vec![Effect::reply(to, Reply::NothingToStop)];
        }
        let run = report.cancelled.as_ref().map(describe);
        let unqueued = report.removed.iter().map(|item| item.id.clone()).collect();
        let removed = removed(&report.removed, downloads);
        vec![
            Effect::reply(to, Reply::Stopped { run, removed }),
            Effect::Unqueued(unqueued),
            Effect::SweepFiles,
        ]
    }
}

pub(super) fn item(
    update_id: i64,
    lane: LaneKey,
    origin: Origin,
    prompt: String,
    attachments: Vec<String>,
) -> Item {
    Item {
        id: ItemId::update(update_id),
        lane,
        origin,
        prompt,
        attachments,
        arrived_at: now_millis(),
    }
}
