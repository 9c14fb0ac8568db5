//! The whole bot under test: `baton`'s serve loop in-process behind a fake Telegram, the real
//! agent CLIs against their fake model servers, and what a user does (send, press, ask for the
//! status) with what they then see.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use baton_bot::config::Config;
use baton_bot::serve::{Extras, serve};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::agent_cli::{Sandbox, claude_bin, claude_env, codex_bin, codex_config, processes_in};
use super::fake_anthropic::{self, FakeAnthropic};
use super::fake_openai::{self, FakeOpenAi, Recorded};
use super::fake_telegram::{FakeTelegram, Store, StoredMessage, TOKEN};

/// The one user the bot lets in.
pub const USER: i64 = 42;
/// Someone the bot does not know.
pub const STRANGER: i64 = 666;
/// A turn of either CLI takes a few seconds here (its start-up); leave room for a loaded machine.
pub const TURN: Duration = Duration::from_secs(90);
/// The answer to a tap under a question whose run has ended.
pub const QUESTION_CLOSED: &str = "That run has ended; this question is closed.";

/// Which agent a new chat starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Claude,
    Codex,
}

/// A running bot and the fakes around it.
pub struct Bot {
    pub telegram: FakeTelegram,
    /// What claude's model answers; replace it before `serve` to script a restart.
    pub anthropic: FakeAnthropic,
    pub openai: FakeOpenAi,
    pub sandbox: Sandbox,
    state: TempDir,
    start: Start,
    /// Whether the codex CLI is installed for the bot.
    codex: bool,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Bot {
    /// A bot with claude only (codex is not installed), answering with `claude`; `settings`
    /// override the rig's environment.
    pub async fn start(claude: Vec<fake_anthropic::Reply>, settings: &[(&str, &str)]) -> Bot {
        Bot::launch(Start::Claude, None, claude, settings).await
    }

    /// A bot with both CLIs, new chats starting with codex, answering with `codex`.
    pub async fn start_codex(codex: Vec<fake_openai::Reply>) -> Bot {
        Bot::start_both(Start::Codex, codex, Vec::new()).await
    }

    /// Like [`start_codex`](Self::start_codex), with `settings` over the defaults.
    pub async fn start_codex_with(
        codex: Vec<fake_openai::Reply>,
        settings: &[(&str, &str)],
    ) -> Bot {
        Bot::launch(Start::Codex, Some(codex), Vec::new(), settings).await
    }

    /// A bot with both CLIs, new chats starting with `start`.
    pub async fn start_both(
        start: Start,
        codex: Vec<fake_openai::Reply>,
        claude: Vec<fake_anthropic::Reply>,
    ) -> Bot {
        Bot::launch(start, Some(codex), claude, &[]).await
    }

    async fn launch(
        start: Start,
        codex: Option<Vec<fake_openai::Reply>>,
        claude: Vec<fake_anthropic::Reply>,
        settings: &[(&str, &str)],
    ) -> Bot {
        let mut bot = Bot {
            telegram: FakeTelegram::start().await,
            anthropic: FakeAnthropic::start(claude).await,
            codex: codex.is_some(),
            openai: FakeOpenAi::start(codex.unwrap_or_default()).await,
            sandbox: Sandbox::new(),
            state: tempfile::tempdir().expect("state dir"),
            start,
            stop: CancellationToken::new(),
            task: None,
        };
        bot.serve(settings);
        bot
    }

    fn config(&self, settings: &[(&str, &str)]) -> Config {
        let codex_bin = match self.codex {
            true => codex_bin().display().to_string(),
            false => "/nonexistent/codex".to_owned(),
        };
        let default_driver = match self.start {
            Start::Claude => "claude",
            Start::Codex => "codex",
        };
        let mut vars: HashMap<String, String> = [
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("TELEGRAM_ALLOWED_USERS", USER.to_string()),
            ("BATON_WORKDIR", self.sandbox.workdir.display().to_string()),
            ("BATON_STATE_DIR", self.state.path().display().to_string()),
            ("TELEGRAM_API_URL", self.telegram.url().to_string()),
            ("CLAUDE_BIN", claude_bin().display().to_string()),
            ("CLAUDE_ALLOWED_TOOLS", "Bash".to_owned()),
            ("CODEX_BIN", codex_bin),
            ("BATON_DEFAULT_DRIVER", default_driver.to_owned()),
            ("BATON_EDIT_INTERVAL_MS", "300".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, value) in settings {
            vars.insert((*key).to_owned(), (*value).to_owned());
        }
        Config::from_map(&vars, &PathBuf::from("/")).expect("test settings are valid")
    }

    /// The bot's state directory (its database, and `files/` with each item's folder).
    pub fn state_dir(&self) -> &std::path::Path {
        self.state.path()
    }

    /// Starts serving (again, after `shut_down`), with the same state, workdir and fakes.
    pub fn serve(&mut self, settings: &[(&str, &str)]) {
        let config = self.config(settings);
        let codex = codex_config(&self.openai, &self.sandbox);
        let extras = Extras {
            claude_env: claude_env(&self.anthropic, &self.sandbox),
            codex_env: codex.extra_env,
            codex_home: codex.codex_home,
            codex_overrides: codex.config_overrides,
            baton_bin: Some(PathBuf::from(env!("CARGO_BIN_EXE_baton"))),
        };
        self.stop = CancellationToken::new();
        let stop = self.stop.clone();
        self.task = Some(tokio::spawn(async move {
            serve(config, extras, stop.cancelled_owned()).await
        }));
    }

    /// Stops the bot as SIGTERM would and waits until it has shut down.
    pub async fn shut_down(&mut self) {
        self.stop.cancel();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("shutdown is prompt")
            .expect("serve task")
            .expect("serve ends cleanly");
    }

    /// Waits until the fake Telegram's store satisfies `predicate`, failing after `TURN`.
    pub async fn wait(&self, what: &str, predicate: impl Fn(&Store) -> bool) {
        if !self.telegram.wait_for(predicate, TURN).await {
            let store = self.telegram.store();
            let shown: HashMap<i64, Vec<String>> = store
                .chats
                .keys()
                .map(|&chat| (chat, store.texts(chat)))
                .collect();
            panic!("timed out waiting for {what}; the chats show {shown:#?}");
        }
    }

    /// Sends `text` to `chat` as the allowed user.
    pub fn send(&self, chat: i64, text: &str) {
        self.telegram.push_text(chat, USER, text);
    }

    /// Waits until a visible message of `chat` contains `needle`, and returns it.
    pub async fn wait_shown(&self, chat: i64, what: &str, needle: &str) -> StoredMessage {
        self.wait(what, |s| shows(s, chat, needle)).await;
        self.find(chat, needle)
    }

    /// Sends `prompt` and waits for the message that shows `answer`.
    pub async fn ask(&self, chat: i64, prompt: &str, answer: &str) -> StoredMessage {
        self.send(chat, prompt);
        self.wait_shown(chat, &format!("the answer to {prompt:?}"), answer)
            .await
    }

    /// The newest visible message of `chat` containing `needle`.
    pub fn find(&self, chat: i64, needle: &str) -> StoredMessage {
        self.telegram
            .store()
            .visible(chat)
            .into_iter()
            .rev()
            .find(|m| m.text.contains(needle))
            .unwrap_or_else(|| panic!("no message shows {needle:?}: {:#?}", self.texts(chat)))
    }

    /// The texts `chat` shows now, oldest first.
    pub fn texts(&self, chat: i64) -> Vec<String> {
        self.telegram.store().texts(chat)
    }

    /// Every text `chat` ever showed, edits included, oldest first.
    pub fn everything_shown(&self, chat: i64) -> Vec<String> {
        self.telegram
            .store()
            .messages(chat)
            .into_iter()
            .flat_map(|m| m.edits.into_iter().chain([m.text]))
            .collect()
    }

    /// Asserts that `chat` shows a message containing `earlier` above one containing `later`.
    pub fn assert_shown_in_order(&self, chat: i64, earlier: &str, later: &str) {
        let texts = self.texts(chat);
        let at = |needle: &str| {
            texts
                .iter()
                .position(|t| t.contains(needle))
                .unwrap_or_else(|| panic!("nothing shows {needle:?}: {texts:#?}"))
        };
        assert!(at(earlier) < at(later), "{texts:#?}");
    }

    /// Presses the button labelled `label` under `message` as the allowed user, and returns the
    /// text the bot answered the press with.
    /// The agent's question showing `needle` in `chat` (a permission prompt,
    /// its own question or a plan, not the tool line of its answer), once it
    /// has its buttons.
    pub async fn question(&self, chat: i64, needle: &str) -> StoredMessage {
        let is_question = |m: &StoredMessage| {
            m.text.contains(needle)
                && (m.text.contains("wants permission")
                    || m.text.starts_with('❓')
                    || m.text.starts_with('📋'))
        };
        self.wait(&format!("the question {needle:?} with its buttons"), |s| {
            s.visible(chat)
                .iter()
                .any(|m| is_question(m) && m.reply_markup.is_some())
        })
        .await;
        self.telegram
            .store()
            .visible(chat)
            .into_iter()
            .find(is_question)
            .expect("shown")
    }

    /// Waits until the question `asked` says `decided` and has no buttons left.
    pub async fn settled(&self, asked: &StoredMessage, decided: &str) {
        self.wait(&format!("the question to say {decided:?}"), |s| {
            s.visible(asked.chat)
                .iter()
                .any(|m| m.id == asked.id && m.text.contains(decided) && m.reply_markup.is_none())
        })
        .await;
    }

    pub async fn press(&self, message: &StoredMessage, label: &str) -> String {
        let data = buttons(message)
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("no button {label:?} under {message:#?}"));
        self.press_as(USER, message.chat, message.id, &data).await
    }

    /// Sends a press of a button with callback `data` under message `message` of `chat`, as
    /// Telegram would for `user`, and returns the text the bot answered it with.
    pub async fn press_as(&self, user: i64, chat: i64, message: i32, data: &str) -> String {
        let update = self.telegram.push_callback(chat, user, message, data);
        let query = format!("cb{update}");
        let answer = |s: &Store| {
            s.requests
                .iter()
                .find(|r| {
                    r.method == "answercallbackquery" && r.params["callback_query_id"] == query
                })
                .map(|r| r.params["text"].as_str().unwrap_or_default().to_owned())
        };
        self.wait(&format!("an answer to the press of {data:?}"), |s| {
            answer(s).is_some()
        })
        .await;
        answer(&self.telegram.store()).expect("answered")
    }

    /// Sends `/status` to `chat` and returns its answer.
    pub async fn status(&self, chat: i64) -> String {
        let count = |s: &Store| {
            s.texts(chat)
                .iter()
                .filter(|t| t.contains("Driver"))
                .count()
        };
        let before = count(&self.telegram.store());
        self.send(chat, "/status");
        self.wait("the status", |s| count(s) > before).await;
        self.find(chat, "Driver").text
    }

    /// Sends `/status` until the lane shows idle (a run's last events, such as its token usage,
    /// come after its answer) and returns that status.
    pub async fn idle_status(&self, chat: i64) -> String {
        for _ in 0..100 {
            let status = self.status(chat).await;
            if status.contains("Idle") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the lane never went idle: {:#?}", self.texts(chat));
    }

    /// The command lines of the processes running in the bot's working directory: the agent
    /// CLIs and the tools they started.
    pub fn agents_running(&self) -> Vec<String> {
        processes_in(&self.sandbox.workdir)
            .into_iter()
            .map(|p| p.cmdline)
            .collect()
    }

    /// Waits until no process runs in the working directory any more.
    pub async fn wait_agents_gone(&self) {
        let gone = tokio::time::timeout(Duration::from_secs(20), async {
            while !self.agents_running().is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            gone.is_ok(),
            "agent processes left: {:?}",
            self.agents_running()
        );
    }

    /// What claude was asked in each of its turns: the last user message, as JSON text.
    pub fn claude_prompts(&self) -> Vec<String> {
        self.anthropic
            .agent_requests()
            .iter()
            .map(|r| r.last_user_content())
            .collect()
    }

    /// The claude turns (agent requests to the fake Anthropic server) so far.
    pub fn claude_turns(&self) -> usize {
        self.anthropic.agent_requests().len()
    }

    /// The codex turns (requests to the Responses API) so far.
    pub fn codex_turns(&self) -> Vec<Recorded> {
        self.openai.turns()
    }

    /// Waits until codex has sent `count` turns to the fake.
    pub async fn wait_codex_turns(&self, count: usize) {
        let reached = tokio::time::timeout(TURN, async {
            while self.codex_turns().len() < count {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(
            reached.is_ok(),
            "codex sent {} turns, not {count}",
            self.codex_turns().len()
        );
    }
}

/// Whether a visible message of `chat` contains `needle`.
pub fn shows(store: &Store, chat: i64, needle: &str) -> bool {
    store.visible(chat).iter().any(|m| m.text.contains(needle))
}

/// Every inline button under `message`, as (label, callback data).
pub fn buttons(message: &StoredMessage) -> Vec<(String, String)> {
    let rows = message
        .reply_markup
        .as_ref()
        .and_then(|markup| markup["inline_keyboard"].as_array().cloned())
        .unwrap_or_default();
    rows.iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|button| {
            (
                button["text"].as_str().unwrap_or_default().to_owned(),
                button["callback_data"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// The labels of the inline buttons under `message`.
pub fn button_labels(message: &StoredMessage) -> Vec<String> {
    buttons(message)
        .into_iter()
        .map(|(label, _)| label)
        .collect()
}
