//! The Stop button under a running answer, bound to its run, and the Retry
//! button under a failed one.
//!
//! Telegram drops a message's keyboard on any edit that does not repeat it,
//! so [`RunButtons`] is the [`TelegramApi`] the answer streams through: it
//! adds the keyboard to every send and edit while the run goes on and
//! remembers which messages show it. Once the run has ended, [`settle`]
//! takes the Stop button off whatever still shows it and, for a failure,
//! puts Retry under the answer's last message.
//!
//! [`settle`]: RunButtons::settle

use std::collections::HashSet;
use std::sync::Arc;

use baton_core::RunId;
use parking_lot::Mutex;
use teloxide::Bot;
use teloxide::payloads::EditMessageReplyMarkupSetters;
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InlineKeyboardMarkup, MessageId};
use tracing::debug;

use crate::streaming::api::{ApiFailure, Body, Target, TelegramApi};
use crate::telegram::keyboards::{retry_keyboard, stop_keyboard};

#[derive(Clone)]
pub struct RunButtons {
    bot: Bot,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The keyboard new sends and edits carry; `None` once the run ended.
    keyboard: Option<InlineKeyboardMarkup>,
    /// Messages whose last confirmed send or edit carried the Stop button.
    showing: HashSet<MessageId>,
}

impl RunButtons {
    /// Streams through `bot`, with a Stop button for `run`.
    pub fn new(bot: Bot, run: RunId) -> Self {
        RunButtons {
            bot,
            state: Arc::new(Mutex::new(State {
                keyboard: Some(stop_keyboard(run.0)),
                showing: HashSet::new(),
            })),
        }
    }

    /// The run ended: later edits carry no button.
    pub fn run_ended(&self) {
        self.state.lock().keyboard = None;
    }

    /// After the answer's last edit: Stop comes off every message still
    /// showing it; a failed run gets Retry under its last message.
    pub async fn settle(&self, chat: ChatId, last: Option<MessageId>, failed: bool) {
        let showing: Vec<MessageId> = self.state.lock().showing.drain().collect();
        for message in showing {
            if failed && Some(message) == last {
                continue;
            }
            if let Err(error) = self.bot.edit_message_reply_markup(chat, message).await {
                debug!(%error, "run: could not take the stop button off");
            }
        }
        if let (true, Some(last)) = (failed, last) {
            let request = self
                .bot
                .edit_message_reply_markup(chat, last)
                .reply_markup(retry_keyboard());
            if let Err(error) = request.await {
                debug!(%error, "run: could not add the retry button");
            }
        }
    }

    fn keyboard(&self) -> Option<InlineKeyboardMarkup> {
        self.state.lock().keyboard.clone()
    }

    /// The run's Stop button, unless the body brings its own keyboard.
    fn with_keyboard(&self, body: Body) -> Body {
        Body {
            markup: body.markup.or_else(|| self.keyboard()),
            ..body
        }
    }

    fn shown(&self, message: MessageId, with_keyboard: bool) {
        let mut state = self.state.lock();
        if with_keyboard {
            state.showing.insert(message);
        } else {
            state.showing.remove(&message);
        }
    }
}

impl TelegramApi for RunButtons {
    async fn send_text(&self, target: Target, body: Body) -> Result<MessageId, ApiFailure> {
        let body = self.with_keyboard(body);
        let with_keyboard = body.markup.is_some();
        let message = self.bot.send_text(target, body).await?;
        self.shown(message, with_keyboard);
        Ok(message)
    }

    async fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        body: Body,
    ) -> Result<(), ApiFailure> {
        let body = self.with_keyboard(body);
        let with_keyboard = body.markup.is_some();
        self.bot.edit_text(chat, message, body).await?;
        self.shown(message, with_keyboard);
        Ok(())
    }

    async fn delete(&self, chat: ChatId, message: MessageId) -> Result<(), ApiFailure> {
        TelegramApi::delete(&self.bot, chat, message).await?;
        self.shown(message, false);
        Ok(())
    }

    async fn typing(&self, target: Target) -> Result<(), ApiFailure> {
        self.bot.typing(target).await
    }
}
