//! A bot under measurement: the fake Telegram server, the `baton` child serving it,
//! and the log in which the fake agent records the instant each run started.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tempfile::TempDir;

use crate::agent::Ask;
use crate::bot_process::BotProcess;
use crate::clock::monotonic_ns;
use crate::fake_telegram::{FakeTelegram, Store};

/// Methods that show an answer in its chat; the bot makes no other per-chat calls for one.
pub const ANSWER_METHODS: [&str; 5] = [
    "sendmessage",
    "editmessagetext",
    "editmessagereplymarkup",
    "deletemessage",
    "sendchataction",
];

/// One answered message: when its update was offered and when its agent started.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    pub pushed_ns: u64,
    pub spawned_ns: u64,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC when the update was pushed: places the bot's
    /// log timestamps on the monotonic clock.
    pub realtime_offset_ns: i128,
}

impl Answered {
    /// From the update being handed to the pending getUpdates to the agent process running.
    pub fn overhead(&self) -> Duration {
        Duration::from_nanos(self.spawned_ns.saturating_sub(self.pushed_ns))
    }

    /// How many of `commit_times` (CLOCK_REALTIME ns) fell between push and spawn.
    pub fn commits_between(&self, commit_times: &[i128]) -> usize {
        let from = i128::from(self.pushed_ns) + self.realtime_offset_ns;
        let to = i128::from(self.spawned_ns) + self.realtime_offset_ns;
        commit_times
            .iter()
            .filter(|at| (from..=to).contains(*at))
            .count()
    }
}

pub struct Rig {
    runtime: tokio::runtime::Runtime,
    telegram: FakeTelegram,
    bot: Option<BotProcess>,
    agent_log: PathBuf,
    _dir: TempDir,
    next_id: u64,
}

impl Rig {
    /// Starts the fake and the bot with `settings`, and waits until the bot is polling.
    pub fn start(users: &[i64], settings: &[(&str, &str)]) -> anyhow::Result<Rig> {
        Rig::start_in(&std::env::temp_dir(), users, settings)
    }

    /// As `start`, with the bot's state (its SQLite database) under `root`.
    pub fn start_in(
        root: &std::path::Path,
        users: &[i64],
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Rig> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("bench runtime")?;
        let telegram = runtime.block_on(FakeTelegram::start());
        let dir = tempfile::tempdir().context("rig temp dir")?;
        let agent_log = dir.path().join("agent-starts.log");
        let url = telegram.url().to_string();
        let bot = BotProcess::start(root, &url, &agent_log, users, settings)?;
        let mut rig = Rig {
            runtime,
            telegram,
            bot: Some(bot),
            agent_log,
            _dir: dir,
            next_id: 0,
        };
        rig.wait_polling(Duration::from_secs(60))
            .context("the bot never started polling")?;
        Ok(rig)
    }

    pub fn bot(&self) -> &BotProcess {
        self.bot.as_ref().expect("the bot runs until the rig stops")
    }

    /// Waits until a getUpdates call is held open, so the next update reaches the bot
    /// the instant it is pushed.
    pub fn wait_polling(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.wait(timeout, "a held getUpdates", |store| {
            store.polls_waiting > 0
        })
    }

    /// Sends `ask` (its id filled in) from `chat`'s user and waits until the chat shows
    /// the whole answer.
    pub fn ask(
        &mut self,
        chat: i64,
        chars: usize,
        pace: u32,
        timeout: Duration,
    ) -> anyhow::Result<Answered> {
        self.next_id += 1;
        let ask = Ask {
            id: self.next_id,
            chars,
            pace,
        };
        self.wait_polling(timeout)?;
        let realtime_offset_ns = realtime_offset_ns();
        let pushed_ns = monotonic_ns();
        self.telegram.push_text(chat, chat, &ask.prompt());
        let marker = ask.end_marker();
        self.wait(timeout, "the whole answer", move |store| {
            // Read in place: the fake's lock is held meanwhile, and cloning every
            // message's edit history on each change would slow the bot's requests.
            store
                .chats
                .get(&chat)
                .and_then(|messages| messages.iter().rev().find(|m| !m.deleted))
                .is_some_and(|m| m.text.trim_end().ends_with(&marker))
        })?;
        let spawned_ns = self
            .spawned_at(ask.id)?
            .with_context(|| format!("the agent of {} never logged its start", ask.id))?;
        Ok(Answered {
            pushed_ns,
            spawned_ns,
            realtime_offset_ns,
        })
    }

    /// Waits until `chat` has seen no request for `quiet`: its answer is fully delivered.
    pub fn wait_quiet(&mut self, chat: i64, quiet: Duration) -> anyhow::Result<()> {
        let mut seen = self.requests_in(chat).len();
        loop {
            std::thread::sleep(quiet);
            let now = self.requests_in(chat).len();
            if now == seen {
                return Ok(());
            }
            seen = now;
            self.bot.as_mut().expect("running").check_alive()?;
        }
    }

    /// Requests made for `chat` so far, by lower-case method name.
    pub fn requests_by_method(&self, chat: i64) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for method in self.requests_in(chat) {
            *counts.entry(method).or_default() += 1;
        }
        counts
    }

    /// Texts the chat shows now, oldest first.
    pub fn visible_texts(&self, chat: i64) -> Vec<String> {
        self.telegram
            .store()
            .visible(chat)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    /// Stops the bot with SIGTERM; it must exit cleanly.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.bot.take().expect("running").stop()
    }

    fn requests_in(&self, chat: i64) -> Vec<String> {
        self.telegram
            .store()
            .requests
            .iter()
            .filter(|r| chat_of(&r.params) == Some(chat))
            .map(|r| r.method.clone())
            .collect()
    }

    fn spawned_at(&self, id: u64) -> anyhow::Result<Option<u64>> {
        let log = std::fs::read_to_string(&self.agent_log).context("read the agent start log")?;
        Ok(log.lines().find_map(|line| {
            let (run, ns) = line.split_once(' ')?;
            (run.parse() == Ok(id)).then(|| ns.parse().ok())?
        }))
    }

    fn wait(
        &mut self,
        timeout: Duration,
        what: &str,
        predicate: impl Fn(&Store) -> bool,
    ) -> anyhow::Result<()> {
        if self
            .runtime
            .block_on(self.telegram.wait_for(predicate, timeout))
        {
            return Ok(());
        }
        let bot = self.bot.as_mut().expect("running");
        bot.check_alive()?;
        bail!(
            "timed out after {timeout:?} waiting for {what}; bot log:\n{}",
            bot.log_tail()
        )
    }
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds, read back to back.
fn realtime_offset_ns() -> i128 {
    let before = monotonic_ns();
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let after = monotonic_ns();
    real - i128::from(before / 2 + after / 2)
}

/// `chat_id` as a number, whether the client sent JSON or a form.
fn chat_of(params: &Value) -> Option<i64> {
    match params.get("chat_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
