//! Routing updates: each message, command or button becomes one core
//! operation, and what the core answers is carried out in the background.
//! Nothing here waits for an agent, so `/stop` is always handled at once.

use std::sync::Arc;

use baton_core::{Admission, Error, Item, ItemId, LaneKey, Millis, Origin};
use teloxide::net::Download;
use teloxide::prelude::Requester;
use teloxide::types::{Message, Update, UpdateKind};
use teloxide::utils::command::BotCommands;
use tracing::{debug, info, warn};

use super::replies::Reply;
use super::{App, lane_of};
use crate::telegram::commands::Command;
use crate::telegram::stop_phrases::{Intent, classify};

pub fn now_millis() -> Millis {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Millis(since_epoch.as_millis() as u64)
}

/// The largest file the Bot API lets a bot download.
const MAX_DOWNLOAD_BYTES: u32 = 20 * 1024 * 1024;

impl App {
    /// Routes one update. Only file downloads are awaited here; everything
    /// else returns after one core operation.
    pub async fn route(self: &Arc<Self>, update: Update) {
        let update_id = i64::from(update.id.0);
        match update.kind {
            UpdateKind::Message(message) => self.on_message(update_id, message).await,
            UpdateKind::CallbackQuery(query) => self.on_button(update_id, query),
            _ => debug!(update_id, "router: ignored an update of another kind"),
        }
    }

    pub(super) fn admit_user(
        &self,
        user: Option<&teloxide::types::User>,
        chat: i64,
        what: &str,
    ) -> bool {
        let Some(user) = user else {
            warn!(chat, what, "router: refused an update without a sender");
            return false;
        };
        if self.is_allowed(user.id.0) {
            return true;
        }
        warn!(user = user.id.0, username = ?user.username, chat, what, "router: refused a user who is not allowed");
        false
    }

    async fn on_message(self: &Arc<Self>, update_id: i64, message: Message) {
        if !self.admit_user(message.from.as_ref(), message.chat.id.0, "message") {
            return;
        }
        let lane = lane_of(&message);
        let user = message.from.as_ref().map_or(0, |user| user.id.0);
        if let Some(text) = message.text() {
            if text.starts_with('/')
                && let Ok(command) = Command::parse(text, &self.username)
            {
                info!(%lane, ?command, "router: command");
                self.on_command(update_id, lane, command);
                return;
            }
            let intent = classify(text);
            if !matches!(intent, Intent::Stop) && !self.within_rate(lane, user) {
                return;
            }
            match intent {
                Intent::Stop => self.stop_lane(lane),
                Intent::Interrupt(prompt) => {
                    let item = self.item(update_id, lane, Origin::Text, prompt, Vec::new());
                    let admission = self.door.interrupt(item);
                    self.admitted(lane, admission);
                }
                Intent::Message(prompt) => {
                    let item = self.item(update_id, lane, Origin::Text, prompt, Vec::new());
                    let admission = self.door.submit(item);
                    self.admitted(lane, admission);
                }
            }
            return;
        }
        if !self.within_rate(lane, user) {
            return;
        }
        if message.voice().is_some() || message.audio().is_some() {
            self.reply(
                lane,
                Reply::NotAvailable {
                    what: "Voice transcription".into(),
                },
            );
            return;
        }
        let caption = message.caption().unwrap_or_default().to_owned();
        let file = if let Some(sizes) = message.photo() {
            sizes
                .iter()
                .max_by_key(|size| size.width * size.height)
                .map(|size| (size.file.clone(), Origin::Photo, "jpg".to_owned()))
        } else if let Some(document) = message.document() {
            let extension = document
                .file_name
                .as_deref()
                .and_then(|name| std::path::Path::new(name).extension())
                .and_then(|ext| ext.to_str())
                .unwrap_or("bin")
                .to_owned();
            Some((document.file.clone(), Origin::Document, extension))
        } else {
            None
        };
        let Some((file, origin, extension)) = file else {
            self.reply(
                lane,
                Reply::Refused {
                    why: "Baton understands text, photos and documents.".into(),
                },
            );
            return;
        };
        if file.size > MAX_DOWNLOAD_BYTES {
            self.reply(
                lane,
                Reply::Refused {
                    why: "That file is over Telegram's 20 MB download limit.".into(),
                },
            );
            return;
        }
        match self.download(update_id, &file.id, &extension).await {
            Ok(path) => {
                let prompt = if caption.is_empty() {
                    "Look at the attached file.".to_owned()
                } else {
                    caption
                };
                let prompt = format!("{prompt}\n\n(Attached file: {path})");
                let item = self.item(update_id, lane, origin, prompt, vec![path]);
                let admission = self.door.submit(item);
                self.admitted(lane, admission);
            }
            Err(error) => {
                warn!(%lane, %error, "router: could not download a file");
                self.reply(
                    lane,
                    Reply::Refused {
                        why: format!("Could not download that file: {error}"),
                    },
                );
            }
        }
    }

    /// Counts a submission against the user's rate; tells the user when refused.
    fn within_rate(self: &Arc<Self>, lane: LaneKey, user: u64) -> bool {
        if self.rate_limit.allow(user, std::time::Instant::now()) {
            return true;
        }
        warn!(%lane, user, "router: rate limit reached");
        let limit = self.rate_limit.per_minute().unwrap_or_default();
        self.reply(lane, Reply::Refused { why: format!("Slow down: at most {limit} messages a minute. This one was not queued; send it again in a moment.") });
        false
    }

    async fn download(
        &self,
        update_id: i64,
        file_id: &teloxide::types::FileId,
        extension: &str,
    ) -> anyhow::Result<String> {
        let file = self.bot.get_file(file_id.clone()).await?;
        let dir = self.files_dir.clone();
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{update_id}.{extension}"));
        let mut out = tokio::fs::File::create(&path).await?;
        self.bot.download_file(&file.path, &mut out).await?;
        Ok(path.to_string_lossy().into_owned())
    }

    pub(super) fn item(
        &self,
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

    /// Carries out the core's answer to a submission.
    pub(super) fn admitted(
        self: &Arc<Self>,
        lane: LaneKey,
        admission: Result<Admission<crate::platform::RunCancel>, Error>,
    ) {
        match admission {
            Ok(Admission::Started(ticket)) => self.start(vec![ticket]),
            Ok(Admission::Queued {
                position,
                cancelled: Some(_),
            }) => self.reply(lane, Reply::Interrupting { position }),
            Ok(Admission::Queued {
                position,
                cancelled: None,
            }) => self.reply(lane, Reply::Queued { position }),
            Err(Error::Duplicate(id)) => debug!(%lane, %id, "router: duplicate item ignored"),
            Err(Error::QueueFull(max)) => self.reply(lane, Reply::QueueFull { max }),
            Err(Error::ShuttingDown) => self.reply(lane, Reply::ShuttingDown),
            Err(Error::NothingToRetry) => self.reply(lane, Reply::NothingToRetry),
            Err(error) => {
                warn!(%lane, %error, "router: submission refused");
                self.reply(
                    lane,
                    Reply::Refused {
                        why: error.to_string(),
                    },
                );
            }
        }
    }

    /// Every stop intent (`/stop`, "stop", `!`): cancels the run and clears
    /// the queue, telling exactly what was cancelled and removed.
    pub(super) fn stop_lane(self: &Arc<Self>, lane: LaneKey) {
        let report = self.door.stop(lane, true);
        info!(%lane, cancelled = report.cancelled.is_some(), removed = report.removed.len(), "router: stop");
        if report.cancelled.is_none() && report.removed.is_empty() {
            self.reply(lane, Reply::NothingToStop);
            return;
        }
        let run = report.cancelled.as_ref().map(super::replies::describe);
        let removed = report.removed.iter().map(|item| item.preview(60)).collect();
        self.reply(lane, Reply::Stopped { run, removed });
    }
}
