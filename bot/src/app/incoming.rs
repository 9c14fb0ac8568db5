//! Telegram updates read into the few facts the handlers decide on, so
//! handlers never see teloxide's types and their tests need no Telegram.

use baton_core::{LaneKey, Origin};
use teloxide::types::{MaybeInaccessibleMessage, Message, Update, UpdateKind};

/// An update the bot acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Message(Incoming),
    Press(Press),
}

impl Input {
    /// The lane the update belongs to, with its forum topic.
    pub fn lane(&self) -> Option<LaneKey> {
        match self {
            Input::Message(message) => Some(message.lane),
            Input::Press(press) => press.lane,
        }
    }
}

/// A message sent to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub update_id: i64,
    pub lane: LaneKey,
    /// Its id in the chat: replies about it answer it.
    pub message: i32,
    /// The sender's user id; `None` for messages without one (channels).
    pub user: Option<u64>,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// A photo or document to download before it can be queued.
    File(FileRef),
    Voice,
    /// Stickers, locations, polls and the like.
    Unsupported,
}

/// A file Telegram holds for the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub id: String,
    pub size: u32,
    pub origin: Origin,
    /// The extension the saved copy gets, so the agent can tell its kind.
    pub extension: String,
    pub caption: String,
}

/// A press of one of the bot's inline buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Press {
    pub update_id: i64,
    pub query: String,
    pub user: u64,
    /// The presser as other users see them (their first name).
    pub name: String,
    /// `None` when Telegram no longer says which message the button was under.
    pub lane: Option<LaneKey>,
    /// The message that carries the button.
    pub message: Option<i32>,
    pub data: Option<String>,
}

/// Reads an update; `None` for kinds the bot does not ask for.
pub fn read(update: &Update) -> Option<Input> {
    let update_id = i64::from(update.id.0);
    match &update.kind {
        UpdateKind::Message(message) => Some(Input::Message(read_message(update_id, message))),
        UpdateKind::CallbackQuery(query) => Some(Input::Press(Press {
            update_id,
            query: query.id.0.clone(),
            user: query.from.id.0,
            name: query.from.first_name.clone(),
            lane: query.message.as_ref().map(|message| match message {
                MaybeInaccessibleMessage::Regular(message) => lane_of(message),
                MaybeInaccessibleMessage::Inaccessible(message) => LaneKey::chat(message.chat.id.0),
            }),
            message: query.message.as_ref().map(|message| message.id().0),
            data: query.data.clone(),
        })),
        _ => None,
    }
}

/// The lane a message belongs to: its chat, and in forum topics its topic.
pub fn lane_of(message: &Message) -> LaneKey {
    let topic = message
        .thread_id
        .filter(|_| message.is_topic_message)
        .map(|thread| thread.0.0);
    LaneKey {
        chat: message.chat.id.0,
        topic,
    }
}

fn read_message(update_id: i64, message: &Message) -> Incoming {
    let content = if let Some(text) = message.text() {
        Content::Text(text.to_owned())
    } else if message.voice().is_some() || message.audio().is_some() {
        Content::Voice
    } else if let Some(file) = file_of(message) {
        Content::File(file)
    } else {
        Content::Unsupported
    };
    Incoming {
        update_id,
        lane: lane_of(message),
        message: message.id.0,
        user: message.from.as_ref().map(|user| user.id.0),
        content,
    }
}

fn file_of(message: &Message) -> Option<FileRef> {
    let caption = message.caption().unwrap_or_default().to_owned();
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|size| size.width * size.height)?;
        return Some(FileRef {
            id: largest.file.id.0.clone(),
            size: largest.file.size,
            origin: Origin::Photo,
            extension: "jpg".into(),
            caption,
        });
    }
    let document = message.document()?;
    let extension = document
        .file_name
        .as_deref()
        .and_then(|name| std::path::Path::new(name).extension())
        .and_then(|ext| ext.to_str())
        .unwrap_or("bin")
        .to_owned();
    Some(FileRef {
        id: document.file.id.0.clone(),
        size: document.file.size,
        origin: Origin::Document,
        extension,
        caption,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(body: serde_json::Value) -> Update {
        let mut update = json!({ "update_id": 9 });
        update
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let update: Update = serde_json::from_str(&update.to_string()).expect("a valid update");
        assert!(
            !matches!(update.kind, UpdateKind::Error(_)),
            "teloxide reads it: {update:?}"
        );
        update
    }

    fn message(extra: serde_json::Value) -> serde_json::Value {
        let mut message = json!({
            "message_id": 5, "date": 1_700_000_000,
            "chat": { "id": -100, "type": "supergroup", "title": "g", "is_forum": true },
            "from": { "id": 42, "is_bot": false, "first_name": "A" }
        });
        message
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        message
    }

    #[test]
    fn incoming_text_in_a_forum_topic_keeps_its_topic() {
        let input = read(&update(json!({ "message": message(json!({
            "text": "hi", "message_thread_id": 7, "is_topic_message": true
        })) })));
        let expected = Incoming {
            update_id: 9,
            lane: LaneKey {
                chat: -100,
                topic: Some(7),
            },
            message: 5,
            user: Some(42),
            content: Content::Text("hi".into()),
        };
        assert_eq!(input, Some(Input::Message(expected)));
        assert_eq!(
            read(&update(
                json!({ "message": message(json!({ "text": "hi" })) })
            ))
            .unwrap()
            .lane(),
            Some(LaneKey::chat(-100))
        );
    }

    #[test]
    fn incoming_document_keeps_its_extension_and_caption() {
        let input = read(&update(json!({ "message": message(json!({
            "caption": "read this",
            "document": { "file_id": "f1", "file_unique_id": "u1", "file_size": 1234, "file_name": "notes.PDF" }
        })) })));
        let Some(Input::Message(Incoming {
            content: Content::File(file),
            ..
        })) = input
        else {
            panic!("a file: {input:?}");
        };
        assert_eq!(
            file,
            FileRef {
                id: "f1".into(),
                size: 1234,
                origin: Origin::Document,
                extension: "PDF".into(),
                caption: "read this".into()
            }
        );
    }

    #[test]
    fn incoming_press_names_its_message_and_lane() {
        let input = read(&update(json!({ "callback_query": {
            "id": "q1", "from": { "id": 42, "is_bot": false, "first_name": "A" },
            "chat_instance": "c", "data": "rt",
            "message": message(json!({ "text": "failed", "message_thread_id": 3, "is_topic_message": true }))
        } })));
        assert_eq!(
            input,
            Some(Input::Press(Press {
                update_id: 9,
                query: "q1".into(),
                user: 42,
                name: "A".into(),
                lane: Some(LaneKey {
                    chat: -100,
                    topic: Some(3)
                }),
                message: Some(5),
                data: Some("rt".into()),
            }))
        );
    }
}
