//! What handlers decide, as values: the executor performs them, tests read
//! them.

use std::path::PathBuf;
use std::time::Duration;

use baton_core::{ItemId, LaneKey};
use teloxide::types::InlineKeyboardMarkup;
use tokio_util::sync::CancellationToken;

use super::incoming::FileRef;
use super::questions::Open;
use super::replies::Reply;
use crate::drivers::Decision;
use crate::media::album::AlbumKey;
use crate::platform::Ticket;

/// Where a reply goes: its lane, and the message it answers, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct To {
    pub lane: LaneKey,
    pub message: Option<i32>,
}

impl To {
    /// A reply about message `message` of `lane`.
    pub fn message(lane: LaneKey, message: i32) -> Self {
        To {
            lane,
            message: Some(message),
        }
    }

    /// About `message` of `lane` when there is one.
    pub fn message_opt(lane: LaneKey, message: Option<i32>) -> Self {
        To { lane, message }
    }

    /// A reply about no message in particular (restarts, shutdown, cron).
    pub fn lane(lane: LaneKey) -> Self {
        To {
            lane,
            message: None,
        }
    }
}

/// One thing to do.
#[derive(Debug)]
pub enum Effect {
    Reply {
        to: To,
        reply: Reply,
    },
    /// A reply, and what to do once it is delivered (a transcript shown
    /// before its run starts).
    ReplyThen {
        to: To,
        reply: Reply,
        then: Vec<Effect>,
    },
    /// A message with an inline keyboard (pickers and their headers).
    Menu {
        to: To,
        html: String,
        keyboard: InlineKeyboardMarkup,
    },
    /// Drops the buttons of a message the bot sent (a queued reply after
    /// its button was pressed), rewriting its text when `html` is set.
    Edit {
        to: To,
        html: Option<String>,
    },
    /// These items no longer wait in a queue: their queued replies lose the
    /// Run now and Cancel buttons.
    Unqueued(Vec<ItemId>),
    /// Carries the user's decision to the agent that asked, and rewrites
    /// the question's message to `html` (without its buttons).
    Decide {
        open: Open,
        decision: Decision,
        html: String,
    },
    /// The lane's running claude CLI switches to this permission mode.
    SetMode {
        lane: LaneKey,
        mode: String,
    },
    /// The short answer to a button press; empty just stops its spinner.
    AnswerButton {
        query: String,
        text: String,
    },
    /// Runs the core admitted: their runners start.
    Start(Vec<Ticket>),
    /// A file to fetch; its item is submitted once it is here.
    Download(Download),
    /// Cron jobs changed: the ticker recomputes its next wake-up.
    CronChanged,
    /// A file sent as a document (a run's patch).
    Document {
        to: To,
        file_name: String,
        bytes: Vec<u8>,
    },
    /// An album's quiet time: after it, the album closes if complete.
    AlbumDue {
        album: AlbumKey,
        after: Duration,
    },
    /// These updates need nothing more: the inbox stops replaying them.
    Done(Vec<i64>),
    /// Removes the files of items no longer pending.
    SweepFiles,
}

/// A file download tied to the item it becomes.
#[derive(Debug)]
pub struct Download {
    pub update_id: i64,
    pub to: To,
    pub file: FileRef,
    /// Cancelled by a stop of the lane before the file is here.
    pub cancel: CancellationToken,
    /// The key of this download among its lane's pending ones (unused for
    /// album parts: the album is one pending download, its key kept with it).
    pub key: u64,
    /// The update whose item folder the file goes in (an album's first part).
    pub folder: i64,
    /// The album the file is a part of.
    pub album: Option<AlbumKey>,
    /// Already saved here (a transcription retried): nothing to fetch.
    pub saved: Option<PathBuf>,
}

impl Effect {
    pub fn reply(to: To, reply: Reply) -> Self {
        Effect::Reply { to, reply }
    }

    pub fn html(to: To, html: impl Into<String>) -> Self {
        Effect::Reply {
            to,
            reply: Reply::Html(html.into()),
        }
    }
}
