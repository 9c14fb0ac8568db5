//! The few Telegram requests streaming needs, behind a trait, with failures sorted by what to do next.

use std::future::Future;
use std::time::Duration;

use teloxide::prelude::*;
use teloxide::types::{ChatAction, InlineKeyboardMarkup, MessageId, ParseMode, ThreadId};
use teloxide::{ApiError, RequestError};

/// Where an answer goes: a chat, and in forum groups a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub chat: ChatId,
    pub thread: Option<ThreadId>,
}

impl Target {
    pub fn chat(chat: ChatId) -> Self {
        Target { chat, thread: None }
    }
}

/// How a message's text is to be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    /// Sent without parse mode, after Telegram refused the HTML.
    Plain,
}

/// What a message is to show: its text, how to parse it, and the keyboard under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub text: String,
    pub format: Format,
    /// `None` shows no keyboard; an edit without one removes the one shown.
    pub markup: Option<InlineKeyboardMarkup>,
}

/// A failed request, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    /// Flood control: wait this long before any request to this chat.
    #[error("telegram asked to retry after {0:?}")]
    RetryAfter(Duration),
    /// The edit changed nothing; the message already shows the text.
    #[error("telegram message is not modified")]
    NotModified,
    /// The HTML was refused; the same text may go out as plain text.
    #[error("telegram cannot parse the message html: {0}")]
    CantParse(String),
    /// The message to edit or delete no longer exists (or can no longer be edited).
    #[error("telegram message is gone")]
    Gone,
    /// Transient: try again later.
    #[error("telegram request failed in transit: {0}")]
    Network(String),
    /// Anything else; retrying the same request would fail the same way.
    #[error("telegram rejected the request: {0}")]
    Rejected(String),
}

impl From<RequestError> for ApiFailure {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::RetryAfter(seconds) => ApiFailure::RetryAfter(seconds.duration()),
            RequestError::Api(ApiError::MessageNotModified) => ApiFailure::NotModified,
            RequestError::Api(ApiError::CantParseEntities(text)) => ApiFailure::CantParse(text),
            RequestError::Api(
                ApiError::MessageToEditNotFound
                | ApiError::MessageToDeleteNotFound
                | ApiError::MessageCantBeEdited
                | ApiError::MessageCantBeDeleted,
            ) => ApiFailure::Gone,
            RequestError::Network(e) => ApiFailure::Network(e.to_string()),
            RequestError::Io(e) => ApiFailure::Network(e.to_string()),
            other => ApiFailure::Rejected(other.to_string()),
        }
    }
}

/// The requests streaming performs; [`Bot`] implements it, tests may wrap it.
pub trait TelegramApi: Clone + Send + Sync + 'static {
    fn send_text(
        &self,
        target: Target,
        body: Body,
    ) -> impl Future<Output = Result<MessageId, ApiFailure>> + Send;

    fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        body: Body,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;

    fn delete(
        &self,
        chat: ChatId,
        message: MessageId,
    ) -> impl Future<Output = Result<(), ApiFailure>> + Send;

    fn typing(&self, target: Target) -> impl Future<Output = Result<(), ApiFailure>> + Send;
}

/// The sendMessage request that shows `body` in `target`: one builder for
/// every sender, so a wrapper (answering a message, say) only adds to it.
pub fn send_request(bot: &Bot, target: Target, body: Body) -> <Bot as Requester>::SendMessage {
    let mut request = bot.send_message(target.chat, body.text);
    if let Some(thread) = target.thread {
        request = request.message_thread_id(thread);
    }
    if body.format == Format::Html {
        request = request.parse_mode(ParseMode::Html);
    }
    if let Some(markup) = body.markup {
        request = request.reply_markup(markup);
    }
    request
}

impl TelegramApi for Bot {
    async fn send_text(&self, target: Target, body: Body) -> Result<MessageId, ApiFailure> {
        Ok(send_request(self, target, body).await?.id)
    }

    async fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        body: Body,
    ) -> Result<(), ApiFailure> {
        let mut request = self.edit_message_text(chat, message, body.text);
        if body.format == Format::Html {
            request = request.parse_mode(ParseMode::Html);
        }
        if let Some(markup) = body.markup {
            request = request.reply_markup(markup);
        }
        request.await?;
        Ok(())
    }

    async fn delete(&self, chat: ChatId, message: MessageId) -> Result<(), ApiFailure> {
        self.delete_message(chat, message).await?;
        Ok(())
    }

    async fn typing(&self, target: Target) -> Result<(), ApiFailure> {
        let mut request = self.send_chat_action(target.chat, ChatAction::Typing);
        if let Some(thread) = target.thread {
            request = request.message_thread_id(thread);
        }
        request.await?;
        Ok(())
    }
}
