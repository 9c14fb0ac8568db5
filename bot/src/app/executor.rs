//! The executor: performs what handlers decided. Each effect that waits
//! (a send, a download, a run) becomes a background task, so the caller,
//! the polling loop above all, never waits for one.

use std::sync::Arc;

use baton_core::ItemId;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, SendDocumentSetters, SendMessageSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, InputFile, MessageId, ParseMode, ReplyParameters,
};
use teloxide::{Bot, RequestError};
use tracing::{debug, warn};

use super::effects::{Effect, To};
use super::replies::Reply;
use super::{App, target};
use crate::drivers::claude_control;
use crate::streaming::api::{ApiFailure, Body, Target, TelegramApi, send_request};
use crate::streaming::coalescer::deliver;
use crate::telegram::callbacks::Token;
use crate::telegram::keyboards::queued_keyboard;
use crate::telegram::render::split_html;

impl App {
    /// Performs `effects` in order; none is awaited here.
    pub fn perform(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply { to, reply } => self.reply(to, reply),
                Effect::ReplyThen { to, reply, then } => self.reply_then(to, reply, then),
                Effect::Menu { to, html, keyboard } => self.menu(to, html, keyboard),
                Effect::Edit { to, html } => self.edit(to, html),
                Effect::Unqueued(items) => self.unqueued(&items),
                Effect::SetMode { lane, mode } => {
                    self.run_inputs.send(lane, claude_control::set_mode(&mode));
                }
                Effect::Decide {
                    open,
                    decision,
                    html,
                } => {
                    open.decide(&decision);
                    self.edit(To::message_opt(open.lane, open.message), Some(html));
                }
                Effect::AnswerButton { query, text } => self.answer_button(query, text),
                Effect::Start(tickets) => self.start(tickets),
                Effect::Download(download) => self.download(download),
                Effect::CronChanged => self.tasks.cron_changed.notify_one(),
                Effect::Document {
                    to,
                    file_name,
                    bytes,
                } => self.document(to, file_name, bytes),
                Effect::AlbumDue { album, after } => self.album_due(album, after),
                Effect::Done(updates) => self.done(updates),
                Effect::SweepFiles => self.sweep_files(),
            }
        }
    }

    /// Sends a reply in the background, as an answer to its message.
    pub fn reply(self: &Arc<Self>, to: To, reply: Reply) {
        if let Reply::Queued {
            item: Some(item), ..
        } = &reply
            && let Ok(token) = Token::new(&item.0)
        {
            return self.queued_reply(to, item.clone(), reply.html(), &token);
        }
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
        let app = Arc::clone(self);
        self.tasks.runners.spawn(async move {
            app.send_keyboard(to, html, keyboard).await;
        });
    }

    /// One message with an inline keyboard; its id once sent.
    pub(super) async fn send_keyboard(
        &self,
        to: To,
        html: String,
        keyboard: InlineKeyboardMarkup,
    ) -> Option<MessageId> {
        let target = target(to.lane);
        let mut request = self
            .outbox
            .bot
            .send_message(target.chat, html)
            .parse_mode(ParseMode::Html)
            .reply_markup(keyboard);
        if let Some(thread) = target.thread {
            request = request.message_thread_id(thread);
        }
        if let Some(message) = to.message {
            request = request.reply_parameters(answering(MessageId(message)));
        }
        match request.await {
            Ok(sent) => Some(sent.id),
            Err(error) => {
                warn!(lane = %to.lane, %error, "reply: could not send a keyboard");
                None
            }
        }
    }

    /// The queued reply, with its Run now and Cancel buttons; remembered so
    /// the buttons come off once the item no longer waits.
    fn queued_reply(self: &Arc<Self>, to: To, item: ItemId, html: String, token: &Token) {
        let app = Arc::clone(self);
        let keyboard = queued_keyboard(token);
        self.tasks.runners.spawn(async move {
            let sent = app.send_keyboard(to, html, keyboard).await;
            let Some(message) = sent else { return };
            // Recorded before the check, so an item that starts meanwhile
            // loses its buttons either here or when its run starts.
            app.queued_replies.record(item.clone(), to.lane, message.0);
            let waiting = app.door.lane_status(to.lane).queued.contains(&item);
            if !waiting {
                app.unqueued(&[item]);
            }
        });
    }

    /// Takes the Run now and Cancel buttons off the queued replies of items
    /// that no longer wait.
    pub(super) fn unqueued(self: &Arc<Self>, items: &[ItemId]) {
        for item in items {
            if let Some((lane, message)) = self.queued_replies.take(item) {
                self.edit(To::message(lane, message), None);
            }
        }
    }

    /// Drops a message's buttons, and rewrites its text when `html` is set.
    pub(super) fn edit(self: &Arc<Self>, to: To, html: Option<String>) {
        let Some(message) = to.message else { return };
        let bot = self.outbox.bot.clone();
        let chat = ChatId(to.lane.chat);
        self.tasks.runners.spawn(async move {
            let result = match html {
                Some(html) => bot
                    .edit_message_text(chat, MessageId(message), html)
                    .parse_mode(ParseMode::Html)
                    .await
                    .map(drop),
                None => bot
                    .edit_message_reply_markup(chat, MessageId(message))
                    .await
                    .map(drop),
            };
            if let Err(error) = result {
                debug!(lane = %to.lane, %error, "reply: could not edit a message");
            }
        });
    }

    fn document(self: &Arc<Self>, to: To, file_name: String, bytes: Vec<u8>) {
        let bot = self.outbox.bot.clone();
        self.tasks.runners.spawn(async move {
            let target = target(to.lane);
            let file = InputFile::memory(bytes).file_name(file_name);
            let mut request = bot.send_document(target.chat, file);
            if let Some(thread) = target.thread {
                request = request.message_thread_id(thread);
            }
            if let Some(message) = to.message {
                request = request.reply_parameters(answering(MessageId(message)));
            }
            if let Err(error) = request.await {
                warn!(lane = %to.lane, %error, "reply: could not send a document");
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
