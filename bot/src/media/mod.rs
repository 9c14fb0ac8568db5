//! Everything a user sends besides text, made ready for the agent: photos
//! and albums, documents (text inlined, PDF text, archives unpacked),
//! voice and audio transcribed, video passed as a path. Each item's files
//! live in its own folder under the state directory.

pub mod album;
pub mod archive;
pub mod document;
pub mod folders;
pub mod transcribe;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::app::{FileKind, FileRef, To};
use transcribe::{TranscribeError, Transcriber};

/// A downloaded file made ready: what the prompt says about it, and the
/// files the agent gets (images reach it as images).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    pub description: String,
    pub attachments: Vec<String>,
    /// For voice and audio: what was said.
    pub transcript: Option<String>,
}

/// Why a downloaded file could not be made ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unready {
    #[error("{0}")]
    Document(#[from] document::Problem),
    #[error("Could not transcribe that recording: {0}.")]
    Transcription(#[from] TranscribeError),
    #[error("Voice transcription is off")]
    VoiceOff,
}

/// What intake keeps besides the core: open albums, recordings waiting for
/// a Retry, and the transcriber.
#[derive(Debug, Default)]
pub struct Intake {
    pub transcriber: Option<Transcriber>,
    pub albums: album::Albums,
    pub held: Held,
}

/// Recordings whose transcription failed, by update id, kept until a Retry
/// transcribes them (or Baton restarts: the start-up sweep removes them).
#[derive(Debug, Default)]
pub struct Held {
    recordings: Mutex<HashMap<i64, HeldRecording>>,
}

#[derive(Debug, Clone)]
pub struct HeldRecording {
    pub to: To,
    pub file: FileRef,
    pub path: PathBuf,
}

impl Held {
    pub fn keep(&self, update_id: i64, recording: HeldRecording) {
        self.recordings.lock().insert(update_id, recording);
    }

    pub fn get(&self, update_id: i64) -> Option<HeldRecording> {
        self.recordings.lock().get(&update_id).cloned()
    }

    pub fn release(&self, update_id: i64) {
        self.recordings.lock().remove(&update_id);
    }

    pub fn update_ids(&self) -> Vec<i64> {
        self.recordings.lock().keys().copied().collect()
    }
}

/// The file at `path` (in `folder`) made ready for the agent. Blocking work
/// (unpacking, PDF text) runs on tokio's blocking pool.
pub async fn prepare(
    intake: &Intake,
    file: &FileRef,
    path: &Path,
    folder: &Path,
) -> Result<Prepared, Unready> {
    let shown = path.display();
    let attached = vec![path.to_string_lossy().into_owned()];
    match file.kind {
        FileKind::Photo => Ok(Prepared {
            description: format!("Attached photo: {shown}"),
            attachments: attached,
            transcript: None,
        }),
        FileKind::Video | FileKind::VideoNote => {
            let what = match file.kind {
                FileKind::Video => "video",
                _ => "video note",
            };
            let duration = file
                .duration
                .map(|secs| format!(", {secs} s"))
                .unwrap_or_default();
            Ok(Prepared {
                description: format!(
                    "Attached {what} ({}{duration}): {shown}",
                    file.mime.as_deref().unwrap_or("video/mp4")
                ),
                attachments: attached,
                transcript: None,
            })
        }
        FileKind::Voice | FileKind::Audio => {
            let Some(transcriber) = &intake.transcriber else {
                return Err(Unready::VoiceOff);
            };
            let text = transcriber.transcribe(path, &file.name).await?;
            Ok(Prepared {
                description: String::new(),
                attachments: Vec::new(),
                transcript: Some(text),
            })
        }
        FileKind::Document => {
            let (path, folder) = (path.to_path_buf(), folder.to_path_buf());
            let (name, mime) = (file.name.clone(), file.mime.clone());
            let described = tokio::task::spawn_blocking(move || {
                let saved = document::Saved {
                    path: &path,
                    name: &name,
                    mime: mime.as_deref(),
                };
                document::describe(&saved, &folder)
            })
            .await
            .map_err(|e| document::Problem::Unreadable(e.to_string()))??;
            Ok(Prepared {
                description: described,
                attachments: attached,
                transcript: None,
            })
        }
    }
}
