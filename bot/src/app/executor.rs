//! The executor: performs what handlers decided. Each effect that waits
//! (a send, a download, a run) becomes a background task, so the caller,
//! the polling loop above all, never waits for one.

use std::sync::Arc;

use teloxide::payloads::{AnswerCallbackQuerySetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, MessageId, ParseMode, ReplyParameters,
};
use teloxide::{Bot, RequestError};
use tracing::warn;

use super::effects::{Effect, To};
use super::replies::Reply;
use super::{App, target};
use crate::streaming::api::{ApiFailure, Body, Target, TelegramApi, send_request};
use crate::streaming::coalescer::deliver;
use crate::telegram::render::split_html;

impl App {
    /// Performs `effects` in order; none is awaited here.
    pub fn perform(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply { to, reply } => self.reply(to, reply),
                Effect::ReplyThen { to, reply, then } => self.reply_then(to, reply, then),
                Effect::Menu { to, html, keyboard } => self.menu(to, html, keyboard),
                Effect::AnswerButton { query, text } => self.answer_button(query, text),
                Effect::Start(tickets) => self.start(tickets),
                Effect::Download(download) => self.download(download),
                Effect::CronChanged => self.tasks.cron_changed.notify_one(),
                Effect::AlbumDue { album, after } => self.album_due(album, after),
                Effect::Done(updates) => self.done(updates),
                Effect::SweepFiles => self.sweep_files(),
            }
        }
    }

    /// Sends a reply in the background, as an answer to its message.
    pub fn reply(self: &Arc<Self>, to: To, reply: Reply) {
        self.reply_then(to, reply, Vec::new());
    }

    /// Sends a reply in the background, then performs `then`.
    fn reply_then(self: &Arc<Self>, to: To, reply: Reply, then: Vec<Effect>) {
        let app = Arc::clone(self);
        let api = Answering {
            bot: self.outbox.bot.clone(),
            to: to.message.map(MessageId),
        };
        let (config, pauses) = (self.outbox.coalescer.clone(), self.outbox.pauses.clone());
        self.tasks.runners.spawn(async move {
            // Through the coalescer: long replies (/debug) are split, flood
            // control is waited out, refused HTML goes out plain.
            let messages = split_html(&reply.html());
            let delivery = deliver(api, target(to.lane), messages, config, pauses).await;
            if delivery.abandoned > 0 {
                warn!(lane = %to.lane, abandoned = delivery.abandoned, "reply: could not send");
            }
            app.perform(then);
        });
    }

    fn menu(self: &Arc<Self>, to: To, html: String, keyboard: InlineKeyboardMarkup) {
        let bot = self.outbox.bot.clone();
        self.tasks.runners.spawn(async move {
            let target = target(to.lane);
            let mut request = bot
                .send_message(target.chat, html)
                .parse_mode(ParseMode::Html)
                .reply_markup(keyboard);
            if let Some(thread) = target.thread {
                request = request.message_thread_id(thread);
            }
            if let Some(message) = to.message {
                request = request.reply_parameters(answering(MessageId(message)));
            }
            if let Err(error) = request.await {
                warn!(lane = %to.lane, %error, "reply: could not send a keyboard");
            }
        });
    }

    fn answer_button(self: &Arc<Self>, query: String, text: String) {
        let bot = self.outbox.bot.clone();
        self.tasks.runners.spawn(async move {
            let mut request = bot.answer_callback_query(CallbackQueryId(query));
            if !text.is_empty() {
                request = request.text(text);
            }
            if let Err(error) = request.await {
                warn!(%error, "buttons: could not answer a callback query");
            }
        });
    }
}

fn answering(message: MessageId) -> ReplyParameters {
    // The message may be gone by the time the reply goes out; the reply
    // still matters.
    ReplyParameters::new(message).allow_sending_without_reply()
}

/// The bot, sending each new message as an answer to one message.
#[derive(Clone)]
struct Answering {
    bot: Bot,
    to: Option<MessageId>,
}

impl TelegramApi for Answering {
    async fn send_text(&self, target: Target, body: Body) -> Result<MessageId, ApiFailure> {
        let Some(to) = self.to else {
            return self.bot.send_text(target, body).await;
        };
        let request = send_request(&self.bot, target, body).reply_parameters(answering(to));
        let sent: Result<_, RequestError> = request.await;
        Ok(sent?.id)
    }

    async fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        body: Body,
    ) -> Result<(), ApiFailure> {
        self.bot.edit_text(chat, message, body).await
    }

    async fn delete(&self, chat: ChatId, message: MessageId) -> Result<(), ApiFailure> {
        TelegramApi::delete(&self.bot, chat, message).await
    }

    async fn typing(&self, target: Target) -> Result<(), ApiFailure> {
        self.bot.typing(target).await
    }
}
