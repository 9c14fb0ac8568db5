//! Handlers for what users send besides text: a file becomes a download,
//! then (once it is here and made ready) an item like a text would be.
//! Album parts gather into one item; a recording whose transcription
//! failed waits for its Retry button.

use std::time::Instant;

use baton_core::{ItemId, Origin};
use teloxide::types::InlineKeyboardMarkup;
use tracing::{info, warn};

use super::effects::{Download, Effect, To};
use super::incoming::{Content, FileKind, FileRef};
use super::replies::Reply;
use super::router::{Fetched, Router, item};
use crate::media::album::{AlbumKey, Closed, Part, QUIET};
use crate::media::{HeldRecording, Prepared, Unready};
use crate::telegram::callbacks::CallbackAction;
use crate::telegram::keyboards::button;
use crate::telegram::render::escape_text;
use crate::telegram::stop_phrases::{Intent, classify};

/// The largest file the Bot API lets a bot download.
pub const MAX_DOWNLOAD_BYTES: u32 = 20 * 1024 * 1024;

/// The answer to what Baton does not take.
pub const WHAT_BATON_TAKES: &str = "Baton takes text, voice notes and audio, photos and albums, documents (text, code, PDF, zip and tar) and video; not stickers, locations, contacts or polls.";

const VOICE_OFF: &str = "Voice notes and audio need a transcription server, which is not set up. Set BATON_TRANSCRIBE_URL (https://api.openai.com/v1 with BATON_TRANSCRIBE_KEY, or a local whisper server's address) and restart Baton; meanwhile send it as text.";

impl Router<'_> {
    pub(super) fn on_attachment(&self, update_id: i64, to: To, content: Content) -> Vec<Effect> {
        let Content::File(file) = content else {
            return vec![Effect::reply(
                to,
                Reply::Refused {
                    why: WHAT_BATON_TAKES.into(),
                },
            )];
        };
        if file.is_speech() && self.intake.transcriber.is_none() {
            return vec![Effect::reply(
                to,
                Reply::Refused {
                    why: VOICE_OFF.into(),
                },
            )];
        }
        if file.size > MAX_DOWNLOAD_BYTES {
            return vec![Effect::reply(
                to,
                Reply::Refused {
                    why: format!(
                        "That file is {:.1} MB, over Telegram's 20 MB download limit for bots. Send a smaller one, or put it in the working folder another way.",
                        f64::from(file.size) / (1024.0 * 1024.0)
                    ),
                },
            )];
        }
        if let Some(group) = file.album.clone() {
            return self.album_part(update_id, to, file, (to.lane, group));
        }
        let (key, cancel) =
            self.downloads
                .begin(to.lane, file_preview(&file), ItemId::update(update_id));
        vec![Effect::Download(Download {
            update_id,
            folder: update_id,
            to,
            file,
            cancel,
            key,
            album: None,
            saved: None,
        })]
    }

    fn album_part(&self, update_id: i64, to: To, file: FileRef, album: AlbumKey) -> Vec<Effect> {
        let joined =
            self.intake
                .albums
                .arrive(album.clone(), update_id, to, Instant::now(), || {
                    self.downloads.begin(
                        to.lane,
                        "(album, still arriving)".into(),
                        ItemId::update(update_id),
                    )
                });
        info!(lane = %to.lane, first = joined.first, part = update_id, "intake: album part");
        vec![
            Effect::Download(Download {
                update_id,
                folder: joined.first,
                to,
                file,
                cancel: joined.cancel,
                key: 0,
                album: Some(album.clone()),
                saved: None,
            }),
            Effect::AlbumDue {
                album,
                after: QUIET,
            },
        ]
    }

    /// A download ended: a file made ready becomes an item like a text would.
    pub fn on_fetched(&self, download: &Download, fetched: Fetched) -> Vec<Effect> {
        if let Some(album) = &download.album {
            return self.on_album_part(download, album, fetched);
        }
        let (lane, to, update_id) = (download.to.lane, download.to, download.update_id);
        let done = Effect::Done(vec![update_id]);
        let mut effects = match fetched {
            Fetched::Saved(prepared) => {
                self.intake.held.release(update_id);
                self.submit_prepared(download, prepared)
            }
            Fetched::Unready {
                path,
                why: Unready::Transcription(error),
            } => {
                warn!(%lane, %error, "intake: transcription failed");
                self.intake.held.keep(
                    update_id,
                    HeldRecording {
                        to,
                        file: download.file.clone(),
                        path,
                    },
                );
                vec![Effect::Menu {
                    to,
                    html: format!(
                        "⚠️ Could not transcribe that recording: {}.\nIt is kept: press Retry to transcribe it again.",
                        escape_text(&error.to_string())
                    ),
                    keyboard: retry_transcription_keyboard(update_id),
                }]
            }
            Fetched::Unready { why, .. } => {
                warn!(%lane, %why, "intake: a file could not be made ready");
                vec![refused(to, why.to_string()), Effect::SweepFiles]
            }
            Fetched::Failed(error) => {
                warn!(%lane, %error, "intake: could not download a file");
                let why = format!("Could not download that file: {error}");
                vec![refused(to, why), Effect::SweepFiles]
            }
            Fetched::Cancelled => {
                info!(%lane, "intake: a stop cancelled a download");
                vec![Effect::SweepFiles]
            }
            Fetched::ShuttingDown => {
                // Not done: the inbox replays it once Baton is back. A
                // retried recording was done already, and its copy goes
                // with this process.
                self.downloads.end(lane, download.key);
                let why = match download.saved {
                    None => "Baton is shutting down; this file is taken up again when it is back.",
                    Some(_) => "Baton is shutting down; send the recording again once it is back.",
                };
                return vec![refused(to, why.into())];
            }
        };
        // Only now, after the submission: a file sweep in between keeps its folder.
        self.downloads.end(lane, download.key);
        effects.push(done);
        effects
    }

    fn submit_prepared(&self, download: &Download, prepared: Prepared) -> Vec<Effect> {
        let (lane, to, update_id) = (download.to.lane, download.to, download.update_id);
        let file = &download.file;
        let origin = file.origin();
        let Some(transcript) = prepared.transcript else {
            let ask = if file.caption.is_empty() {
                default_ask(file.kind)
            } else {
                &file.caption
            };
            let prompt = format!("{ask}\n\n{}", prepared.description);
            let item = item(update_id, lane, origin, prompt, prepared.attachments);
            return self.admitted(to, Some(&item.id.clone()), self.door.submit(item));
        };
        let with_caption = |said: String| match file.caption.is_empty() {
            true => said,
            false => format!("{}\n\n{said}", file.caption),
        };
        let effects = match classify(&transcript) {
            Intent::Stop => self.stop_lane(to),
            Intent::Interrupt(said) => {
                let item = item(update_id, lane, origin, with_caption(said), Vec::new());
                self.admitted(to, Some(&item.id.clone()), self.door.interrupt(item))
            }
            Intent::Message(said) => {
                let item = item(update_id, lane, origin, with_caption(said), Vec::new());
                self.admitted(to, Some(&item.id.clone()), self.door.submit(item))
            }
        };
        // Shown first, so the user sees what Baton heard before its run
        // starts (or its queue position): the rest waits for its delivery.
        vec![Effect::ReplyThen {
            to,
            reply: Reply::Html(format!("🎤 {}", escape_text(&transcript))),
            then: effects,
        }]
    }

    fn on_album_part(
        &self,
        download: &Download,
        album: &AlbumKey,
        fetched: Fetched,
    ) -> Vec<Effect> {
        let part = match fetched {
            Fetched::Saved(prepared) => Part::Ready {
                prepared,
                caption: download.file.caption.clone(),
                origin: download.file.origin(),
            },
            Fetched::Unready { why, .. } => Part::Failed(why.to_string()),
            Fetched::Failed(error) => Part::Failed(error),
            Fetched::Cancelled => Part::Failed("cancelled".into()),
            // Not done: the inbox replays the album's parts once Baton is back.
            Fetched::ShuttingDown => return Vec::new(),
        };
        self.intake.albums.settle(album, download.update_id, part);
        self.close_album(album)
    }

    /// The album's quiet time after a part passed: it closes if complete.
    pub fn on_album_due(&self, album: &AlbumKey) -> Vec<Effect> {
        self.close_album(album)
    }

    fn close_album(&self, album: &AlbumKey) -> Vec<Effect> {
        let Some(closed) = self
            .intake
            .albums
            .close_if_due(album, Instant::now(), QUIET)
        else {
            return Vec::new();
        };
        let lane = album.0;
        let done = Effect::Done(closed.update_ids());
        if closed.cancelled {
            info!(%lane, "intake: a stop cancelled an album");
            self.downloads.end(lane, closed.download);
            return vec![done, Effect::SweepFiles];
        }
        let mut effects = self.submit_album(&closed);
        self.downloads.end(lane, closed.download);
        effects.push(done);
        effects
    }

    fn submit_album(&self, closed: &Closed) -> Vec<Effect> {
        let (mut captions, mut descriptions, mut attachments, mut failures) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut origin = Origin::Photo;
        for (_, part) in &closed.parts {
            match part {
                Part::Ready {
                    prepared,
                    caption,
                    origin: of_part,
                } => {
                    if !caption.is_empty() {
                        captions.push(caption.clone());
                    }
                    if *of_part != Origin::Photo {
                        origin = of_part.clone();
                    }
                    // Albums of audio files are transcribed part by part.
                    match &prepared.transcript {
                        Some(said) => descriptions.push(format!("Transcript: {said}")),
                        None => descriptions.push(prepared.description.clone()),
                    }
                    attachments.extend(prepared.attachments.iter().cloned());
                }
                Part::Failed(why) => failures.push(why.clone()),
                Part::Arriving => {}
            }
        }
        let to = closed.to;
        info!(lane = %to.lane, parts = closed.parts.len(), failed = failures.len(), "intake: album complete");
        if descriptions.is_empty() {
            let why = format!("Could not download that album: {}", failures.join("; "));
            return vec![refused(to, why), Effect::SweepFiles];
        }
        let ask = match captions.is_empty() {
            true => format!("Look at these {} attached files.", descriptions.len()),
            false => captions.join("\n"),
        };
        let prompt = format!("{ask}\n\n{}", descriptions.join("\n"));
        let item = item(closed.first, to.lane, origin, prompt, attachments);
        let mut effects = Vec::new();
        if !failures.is_empty() {
            let why = format!(
                "{} of the album's files could not be downloaded ({}); the rest is queued.",
                failures.len(),
                failures.join("; ")
            );
            effects.push(refused(to, why));
        }
        effects.extend(self.admitted(to, Some(&item.id.clone()), self.door.submit(item)));
        effects
    }

    /// The Retry button under a failed transcription: transcribes the kept recording again.
    pub(super) fn retry_transcription(&self, update_id: i64, to: To) -> (String, Vec<Effect>) {
        let Some(held) = self.intake.held.get(update_id) else {
            return (
                "That recording is no longer kept (Baton restarted since); send it again.".into(),
                Vec::new(),
            );
        };
        let (key, cancel) = self.downloads.begin(
            to.lane,
            "(recording, being transcribed)".into(),
            ItemId::update(update_id),
        );
        let download = Download {
            update_id,
            folder: update_id,
            to: held.to,
            file: held.file,
            cancel,
            key,
            album: None,
            saved: Some(held.path),
        };
        (
            "Transcribing again".into(),
            vec![Effect::Download(download)],
        )
    }
}

fn refused(to: To, why: String) -> Effect {
    Effect::reply(to, Reply::Refused { why })
}

fn default_ask(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Photo => "Look at the attached photo.",
        FileKind::Video | FileKind::VideoNote => "Look at the attached video.",
        _ => "Look at the attached file.",
    }
}

fn retry_transcription_keyboard(update_id: i64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[button(
        "🔁 Retry",
        &CallbackAction::Transcribe { update: update_id },
    )]])
}

fn file_preview(file: &FileRef) -> String {
    let kind = match file.kind {
        FileKind::Photo => "photo",
        FileKind::Voice => "voice note",
        FileKind::Audio => "audio",
        FileKind::Video | FileKind::VideoNote => "video",
        FileKind::Document => "file",
    };
    let caption: String = file.caption.chars().take(50).collect();
    if caption.is_empty() {
        format!("({kind}, still downloading)")
    } else {
        format!("{caption} ({kind}, still downloading)")
    }
}
