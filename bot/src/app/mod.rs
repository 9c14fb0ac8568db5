//! The running bot: the core, Telegram, the drivers and the store wired
//! together. Handlers ([`router`] and its command, button and cron
//! siblings) decide, returning effects; the [`executor`] performs them;
//! runners carry out the core's tickets. Every change to the core goes
//! through the [`door`].

mod asking;
mod attachments;
mod buttons;
mod commands;
mod cron_command;
mod cron_tick;
mod door;
mod downloads;
mod effects;
mod executor;
mod file_sends;
mod incoming;
mod intake;
mod journal;
mod modes;
mod polling;
mod question_view;
mod questions;
mod queued_replies;
mod rate_limit;
mod replies;
mod router;
mod run_buttons;
mod run_diff;
mod run_inputs;
mod runner;
mod sendable;
mod shutdown;
mod usage;

#[cfg(test)]
mod cron_tests;
#[cfg(test)]
mod handler_tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_core::LaneKey;
use teloxide::Bot;
use teloxide::types::{ChatId, MessageId, ThreadId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::drivers::{ClaudeDriver, CodexDriver};
use crate::media::Intake;
use crate::media::transcribe::Transcriber;
use crate::platform::Core;
use crate::store::Store;
use crate::streaming::api::Target;
use crate::streaming::coalescer::{ChatPauses, CoalescerConfig};
use door::CoreDoor;
use downloads::Downloads;
use file_sends::FileSends;
use questions::Questions;
use queued_replies::QueuedReplies;
use rate_limit::RateLimit;
use router::{Router, Scope};
use run_diff::DiffBoard;
use run_inputs::RunInputs;
use usage::UsageBoard;

pub use cron_tick::run as cron_tick;
pub use effects::To;
pub use incoming::{FileKind, FileRef};
pub use intake::resume_intake;
pub use journal::{load as load_journal, restore};
pub use polling::poll_updates;
pub use replies::Reply;
pub use router::now_millis;
pub use shutdown::{shutdown, signal};
pub use usage::Usage;

/// Everything a handler, the executor or a runner needs, behind one `Arc`.
pub struct App {
    /// The core, behind the door that persists every change it makes.
    door: CoreDoor,
    store: Arc<Store>,
    scope: Scope,
    rate_limit: RateLimit,
    usage: UsageBoard,
    diffs: DiffBoard,
    downloads: Downloads,
    /// The runs whose agents may send files to their chat now.
    file_sends: FileSends,
    queued_replies: QueuedReplies,
    questions: Questions,
    run_inputs: RunInputs,
    intake: Intake,
    outbox: Outbox,
    agents: Agents,
    tasks: Tasks,
}

/// How messages reach Telegram.
struct Outbox {
    bot: Bot,
    coalescer: CoalescerConfig,
    pauses: ChatPauses,
}

/// The agent CLIs and where they work.
struct Agents {
    claude: ClaudeDriver,
    /// `None` when no codex binary was found.
    codex: Option<CodexDriver>,
    workdir: PathBuf,
    /// Where each item's downloaded and unpacked files are kept for the
    /// agent, one folder per item.
    files_dir: PathBuf,
    /// Runs longer than this send the end of their answer again as a new message.
    notify_after: Duration,
    /// An unanswered question of the agent is denied after this long.
    ask_timeout: Duration,
}

/// The background work, so shutdown can stop and wait for it.
struct Tasks {
    /// Cancelled when the process shuts down: stops polling, cron and downloads.
    stopping: CancellationToken,
    /// Every runner, reply and download task.
    runners: TaskTracker,
    /// Wakes the cron ticker when jobs change.
    cron_changed: Notify,
}

pub struct AppParts {
    pub config: Config,
    pub core: Core,
    pub bot: Bot,
    pub store: Store,
    pub claude: ClaudeDriver,
    pub codex: Option<CodexDriver>,
    /// The bot's own username, for commands addressed as `/stop@name`.
    pub username: String,
    /// The `baton` executable the agents start as `baton mcp` for `send_file`; `None`
    /// leaves the agents without it.
    pub baton_bin: Option<PathBuf>,
}

impl App {
    pub fn new(parts: AppParts) -> Arc<App> {
        let store = Arc::new(parts.store);
        let config = Arc::new(parts.config);
        let codex_installed = parts.codex.is_some();
        Arc::new(App {
            door: CoreDoor::new(parts.core, Arc::clone(&store)),
            store,
            rate_limit: RateLimit::new(config.rate_limit_per_minute),
            usage: UsageBoard::default(),
            diffs: DiffBoard::default(),
            downloads: Downloads::default(),
            file_sends: FileSends::new(&config.state_dir, parts.baton_bin),
            queued_replies: QueuedReplies::default(),
            questions: Questions::default(),
            run_inputs: RunInputs::default(),
            intake: Intake {
                transcriber: config.transcribe.clone().map(Transcriber::new),
                ..Default::default()
            },
            outbox: Outbox {
                bot: parts.bot,
                coalescer: CoalescerConfig {
                    edit_interval: config.edit_interval,
                    ..Default::default()
                },
                pauses: ChatPauses::default(),
            },
            agents: Agents {
                claude: parts.claude,
                codex: parts.codex,
                workdir: config.workdir.clone(),
                files_dir: config.state_dir.join("files"),
                notify_after: config.notify_after,
                ask_timeout: config.ask_timeout,
            },
            tasks: Tasks {
                stopping: CancellationToken::new(),
                runners: TaskTracker::new(),
                cron_changed: Notify::new(),
            },
            scope: Scope {
                codex_installed,
                username: parts.username,
                config,
            },
        })
    }

    /// Resolves once every store write queued so far is on disk (the last
    /// step of serving).
    pub async fn durable(&self) -> Result<(), crate::store::StoreError> {
        self.door.durable().await
    }

    /// The handlers, over this app's state.
    fn router(&self) -> Router<'_> {
        Router {
            door: &self.door,
            store: &self.store,
            scope: &self.scope,
            rate_limit: &self.rate_limit,
            usage: &self.usage,
            diffs: &self.diffs,
            downloads: &self.downloads,
            questions: &self.questions,
            intake: &self.intake,
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
