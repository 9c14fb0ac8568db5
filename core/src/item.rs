//! Items: units of user or scheduled work, and the lanes they belong to.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::cron::JobId;

/// One agent conversation: a Telegram chat, and in forum groups a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LaneKey {
    pub chat: i64,
    pub topic: Option<i32>,
}

impl LaneKey {
    pub fn chat(chat: i64) -> Self {
        Self { chat, topic: None }
    }
}

impl std::fmt::Display for LaneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.topic {
            Some(topic) => write!(f, "{}/{}", self.chat, topic),
            None => write!(f, "{}", self.chat),
        }
    }
}

/// Stable across redelivery: a Telegram `update_id`, or a cron job and fire
/// time, rendered as a string so both fit one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId(pub String);

impl ItemId {
    pub fn update(update_id: i64) -> Self {
        ItemId(format!("u{update_id}"))
    }
    pub fn cron_fire(job: &JobId, fire_at: Millis) -> Self {
        ItemId(format!("c{}@{}", job.0, fire_at.0))
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an item came from. Only `Cron` is scheduled work; everything else is
/// user work and has priority over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    Text,
    Voice,
    Audio,
    Photo,
    Document,
    Video,
    Button,
    Recap,
    Cron { job: JobId, silent: bool },
}

impl Origin {
    pub fn is_scheduled(&self) -> bool {
        matches!(self, Origin::Cron { .. })
    }

    pub fn cron_job(&self) -> Option<&JobId> {
        match self {
            Origin::Cron { job, .. } => Some(job),
            _ => None,
        }
    }
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub lane: LaneKey,
    pub origin: Origin,
    pub prompt: String,
    /// Local paths of downloaded files (photos, documents) the agent may read.
    #[serde(default)]
    pub attachments: Vec<String>,
    pub arrived_at: Millis,
}

impl Item {
    /// A text item; the common case, and handy in tests.
    pub fn text(
        id: impl Into<String>,
        lane: LaneKey,
        prompt: impl Into<String>,
        at: Millis,
    ) -> Self {
        Item {
            id: ItemId(id.into()),
            lane,
            origin: Origin::Text,
            prompt: prompt.into(),
            attachments: Vec::new(),
            arrived_at: at,
        }
    }

    pub fn is_scheduled(&self) -> bool {
        self.origin.is_scheduled()
    }

    /// The first characters of the prompt, for queue listings.
    pub fn preview(&self, chars: usize) -> String {
        let mut out: String = self.prompt.chars().take(chars).collect();
        if self.prompt.chars().nth(chars).is_some() {
            out.push('…');
        }
        out
    }
}
