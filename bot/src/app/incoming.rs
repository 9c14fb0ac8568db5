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
    /// A photo, document, voice note, audio, video or video note to
    /// download before it can be queued.
    File(FileRef),
    /// Stickers, locations, contacts, polls and the like.
    Unsupported,
}

/// What kind of file a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
    VideoNote,
}

/// A file Telegram holds for the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub id: String,
    pub size: u32,
    pub kind: FileKind,
    /// The name the saved copy gets in its item's folder: the sender's
    /// name made safe, so the agent can tell its kind.
    pub name: String,
    pub mime: Option<String>,
    pub caption: String,
    /// Seconds, for voice, audio and video.
    pub duration: Option<u32>,
    /// The media group (album) the message belongs to.
    pub album: Option<String>,
}

impl FileRef {
    pub fn origin(&self) -> Origin {
        match self.kind {
            FileKind::Photo => Origin::Photo,
            FileKind::Document => Origin::Document,
            FileKind::Voice => Origin::Voice,
            FileKind::Audio => Origin::Audio,
            FileKind::Video | FileKind::VideoNote => Origin::Video,
        }
    }

    /// Whether it is spoken audio to transcribe.
    pub fn is_speech(&self) -> bool {
        matches!(self.kind, FileKind::Voice | FileKind::Audio)
    }
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
    let file = |kind, file: &teloxide::types::FileMeta, name: String| FileRef {
        id: file.id.0.clone(),
        size: file.size,
        kind,
        name,
        mime: None,
        caption: message.caption().unwrap_or_default().to_owned(),
        duration: None,
        album: message.media_group_id().map(|group| group.0.clone()),
    };
    let seconds = |duration: teloxide::types::Seconds| Some(duration.seconds());
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|size| size.width * size.height)?;
        return Some(FileRef {
            mime: Some("image/jpeg".into()),
            ..file(FileKind::Photo, &largest.file, "photo.jpg".into())
        });
    }
    if let Some(voice) = message.voice() {
        return Some(FileRef {
            mime: mime(&voice.mime_type),
            duration: seconds(voice.duration),
            // Telegram's voice notes are Ogg Opus, which it names .oga.
            ..file(FileKind::Voice, &voice.file, "voice.ogg".into())
        });
    }
    if let Some(audio) = message.audio() {
        let name = safe_name(audio.file_name.as_deref(), "audio.mp3");
        return Some(FileRef {
            mime: mime(&audio.mime_type),
            duration: seconds(audio.duration),
            ..file(FileKind::Audio, &audio.file, name)
        });
    }
    if let Some(video) = message.video() {
        let name = safe_name(video.file_name.as_deref(), "video.mp4");
        return Some(FileRef {
            mime: mime(&video.mime_type),
            duration: seconds(video.duration),
            ..file(FileKind::Video, &video.file, name)
        });
    }
    if let Some(note) = message.video_note() {
        return Some(FileRef {
            mime: Some("video/mp4".into()),
            duration: seconds(note.duration),
            ..file(FileKind::VideoNote, &note.file, "video-note.mp4".into())
        });
    }
    let document = message.document()?;
    let name = safe_name(document.file_name.as_deref(), "file.bin");
    Some(FileRef {
        mime: mime(&document.mime_type),
        ..file(FileKind::Document, &document.file, name)
    })
}

fn mime<M: std::fmt::Display>(mime: &Option<M>) -> Option<String> {
    mime.as_ref().map(ToString::to_string)
}

/// The sender's file name reduced to a plain name in one folder: no path,
/// no leading dot, only characters every tool takes.
pub fn safe_name(name: Option<&str>, fallback: &str) -> String {
    let base = name
        .map(|name| name.rsplit(['/', '\\']).next().unwrap_or_default())
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '+' => c,
            _ => '_',
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        return fallback.to_owned();
    }
    // Keep the end, which carries the extension.
    let skip = cleaned.chars().count().saturating_sub(120);
    cleaned.chars().skip(skip).collect()
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
                kind: FileKind::Document,
                name: "notes.PDF".into(),
                mime: None,
                caption: "read this".into(),
                duration: None,
                album: None,
            }
        );
        assert_eq!(file.origin(), Origin::Document);
    }

    #[track_caller]
    fn file_in_message(extra: serde_json::Value) -> FileRef {
        match read(&update(json!({ "message": message(extra) }))) {
            Some(Input::Message(Incoming {
                content: Content::File(file),
                ..
            })) => file,
            other => panic!("a file: {other:?}"),
        }
    }

    #[test]
    fn incoming_voice_audio_video_and_album_parts_are_files() {
        let voice = file_in_message(json!({ "voice": {
            "file_id": "v", "file_unique_id": "uv", "duration": 3, "mime_type": "audio/ogg", "file_size": 10
        } }));
        assert_eq!(
            (voice.kind, voice.name.as_str(), voice.duration),
            (FileKind::Voice, "voice.ogg", Some(3))
        );
        assert_eq!(voice.origin(), Origin::Voice);
        let audio = file_in_message(json!({ "audio": {
            "file_id": "a", "file_unique_id": "ua", "duration": 60, "file_name": "../../talk.mp3", "mime_type": "audio/mpeg", "file_size": 10
        } }));
        assert_eq!(
            (audio.kind, audio.name.as_str()),
            (FileKind::Audio, "talk.mp3")
        );
        let video = file_in_message(json!({ "caption": "look", "video": {
            "file_id": "w", "file_unique_id": "uw", "width": 1, "height": 1, "duration": 7, "mime_type": "video/mp4", "file_size": 10
        } }));
        assert_eq!(
            (video.kind, video.duration, video.caption.as_str()),
            (FileKind::Video, Some(7), "look")
        );
        let note = file_in_message(json!({ "video_note": {
            "file_id": "n", "file_unique_id": "un", "length": 240, "duration": 4, "file_size": 10
        } }));
        assert_eq!(
            (note.kind, note.origin()),
            (FileKind::VideoNote, Origin::Video)
        );
        let part = file_in_message(json!({ "media_group_id": "g1", "photo": [
            { "file_id": "s", "file_unique_id": "us", "width": 90, "height": 90, "file_size": 1 },
            { "file_id": "l", "file_unique_id": "ul", "width": 900, "height": 900, "file_size": 9 }
        ] }));
        assert_eq!((part.id.as_str(), part.album.as_deref()), ("l", Some("g1")));
    }

    #[test]
    fn incoming_stickers_and_locations_are_unsupported() {
        let input = read(&update(json!({ "message": message(json!({
            "location": { "latitude": 1.0, "longitude": 2.0 }
        })) })));
        assert!(matches!(
            input,
            Some(Input::Message(Incoming {
                content: Content::Unsupported,
                ..
            }))
        ));
    }

    #[test]
    fn incoming_file_names_are_made_safe() {
        assert_eq!(safe_name(Some("../../etc/passwd"), "f"), "passwd");
        assert_eq!(
            safe_name(Some("C:\\x\\my report.pdf"), "f"),
            "my_report.pdf"
        );
        assert_eq!(safe_name(Some(".bashrc"), "f"), "bashrc");
        assert_eq!(safe_name(Some(".."), "file.bin"), "file.bin");
        assert_eq!(safe_name(None, "file.bin"), "file.bin");
        assert!(safe_name(Some(&format!("{}.txt", "a".repeat(500))), "f").ends_with(".txt"));
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
