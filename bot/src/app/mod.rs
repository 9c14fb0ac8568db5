//! The running bot: the core, Telegram, the drivers and the store wired
//! together. Handlers route into the core; runners carry out its tickets.

mod buttons;
mod commands;
mod cron_command;
mod cron_tick;
mod door;
mod journal;
mod polling;
mod rate_limit;
mod replies;
mod router;
mod runner;
mod shutdown;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_core::{Driver, LaneKey};
use parking_lot::Mutex;
use teloxide::Bot;
use teloxide::types::{ChatId, MessageId, ThreadId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::drivers::{ClaudeDriver, CodexDriver};
use crate::platform::Core;
use crate::store::Store;
use crate::streaming::api::Target;
use crate::streaming::coalescer::{ChatPauses, CoalescerConfig};
use door::CoreDoor;

pub use cron_tick::tick as cron_tick;
pub use journal::{load as load_journal, restore};
pub use polling::poll_updates;
pub use replies::Reply;
pub use router::now_millis;
pub use shutdown::{shutdown, signal};

/// Token usage a lane's last run reported, for `/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Everything a handler or a runner needs, shared behind one `Arc`.
pub struct App {
    /// The core, behind the door that persists every change it makes.
    door: CoreDoor,
    pub bot: Bot,
    pub store: Arc<Store>,
    pub claude: ClaudeDriver,
    /// `None` when no codex binary was found; switching to it then says so.
    pub codex: Option<CodexDriver>,
    pub workdir: PathBuf,
    /// Where downloaded photos and documents are kept for the agent.
    pub files_dir: PathBuf,
    pub allowed_users: Vec<u64>,
    /// The bot's own username, for commands addressed as `/stop@name`.
    pub username: String,
    pub capacity: usize,
    pub coalescer: CoalescerConfig,
    /// Runs longer than this send their final answer again as new messages.
    pub notify_after: std::time::Duration,
    pub pauses: ChatPauses,
    /// Cancelled when the process shuts down: stops polling and cron.
    pub stopping: CancellationToken,
    /// Every runner task, so shutdown can wait for them to report.
    pub runners: TaskTracker,
    /// Wakes the cron ticker when jobs change.
    pub cron_changed: Notify,
    usage: Mutex<HashMap<LaneKey, Usage>>,
    rate_limit: rate_limit::RateLimit,
}

pub struct AppParts {
    pub core: Core,
    pub bot: Bot,
    pub store: Store,
    pub claude: ClaudeDriver,
    pub codex: Option<CodexDriver>,
    pub workdir: PathBuf,
    pub files_dir: PathBuf,
    pub allowed_users: Vec<u64>,
    pub username: String,
    pub coalescer: CoalescerConfig,
    pub notify_after: std::time::Duration,
    /// Messages per minute per user; `None` for no limit.
    pub rate_limit: Option<u32>,
}

impl App {
    pub fn new(parts: AppParts) -> Arc<App> {
        let store = Arc::new(parts.store);
        let door = CoreDoor::new(parts.core, Arc::clone(&store));
        let capacity = door.capacity();
        Arc::new(App {
            door,
            bot: parts.bot,
            store,
            claude: parts.claude,
            codex: parts.codex,
            capacity,
            workdir: parts.workdir,
            files_dir: parts.files_dir,
            allowed_users: parts.allowed_users,
            username: parts.username,
            coalescer: parts.coalescer,
            notify_after: parts.notify_after,
            pauses: ChatPauses::default(),
            stopping: CancellationToken::new(),
            runners: TaskTracker::new(),
            cron_changed: Notify::new(),
            usage: Mutex::new(HashMap::new()),
            rate_limit: rate_limit::RateLimit::new(parts.rate_limit),
        })
    }

    pub fn is_allowed(&self, user: u64) -> bool {
        self.allowed_users.contains(&user)
    }

    pub fn usage(&self, lane: LaneKey) -> Option<Usage> {
        self.usage.lock().get(&lane).copied()
    }

    fn set_usage(&self, lane: LaneKey, usage: Usage) {
        self.usage.lock().insert(lane, usage);
    }

    pub fn driver_available(&self, driver: Driver) -> bool {
        match driver {
            Driver::Claude => true,
            Driver::Codex => self.codex.is_some(),
        }
    }
}

/// Where a lane's messages go in Telegram.
pub fn target(lane: LaneKey) -> Target {
    Target {
        chat: ChatId(lane.chat),
        thread: lane.topic.map(|topic| ThreadId(MessageId(topic))),
    }
}

/// The lane a message belongs to: its chat, and in forum topics its topic.
pub fn lane_of(message: &teloxide::types::Message) -> LaneKey {
    let topic = message
        .thread_id
        .filter(|_| message.is_topic_message)
        .map(|thread| thread.0.0);
    LaneKey {
        chat: message.chat.id.0,
        topic,
    }
}
