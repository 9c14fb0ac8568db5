//! The whole bot end to end with the real `codex` CLI: the fake OpenAI
//! Responses API behind it, a fake Telegram Bot API in front, and the real
//! `claude` CLI against a fake Anthropic server for driver switches.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use baton_bot::config::Config;
use baton_bot::serve::{Extras, serve};
use serde_json::Value;
use support::agent_cli::{Sandbox, claude_bin, claude_env, codex_bin, codex_config, processes_in};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{FakeOpenAi, Recorded, Reply};
use support::fake_telegram::{FakeTelegram, Store, StoredMessage, TOKEN};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const USER: i64 = 42;
const CHAT: i64 = 101;
/// A turn of either CLI takes seconds at most here; leave room for a loaded machine.
const TURN: Duration = Duration::from_secs(90);
/// What the bot asks the agent for when a user wants a recap of a resumed session.
const RECAP_PROMPT_START: &str = "Give me a short recap of this session";

struct Bot {
    telegram: FakeTelegram,
    openai: FakeOpenAi,
    anthropic: FakeAnthropic,
    sandbox: Sandbox,
    _state: TempDir,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Which agent a new chat starts with.
#[derive(Clone, Copy)]
enum Start {
    Claude,
    Codex,
}

impl Bot {
    async fn start(start: Start, codex: Vec<Reply>, claude: Vec<fake_anthropic::Reply>) -> Bot {
        let telegram = FakeTelegram::start().await;
        let openai = FakeOpenAi::start(codex).await;
        let anthropic = FakeAnthropic::start(claude).await;
        let sandbox = Sandbox::new();
        let state = tempfile::tempdir().expect("state dir");
        let default_driver = match start {
            Start::Claude => "claude",
            Start::Codex => "codex",
        };
        let vars: HashMap<String, String> = [
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("TELEGRAM_ALLOWED_USERS", USER.to_string()),
            ("BATON_WORKDIR", sandbox.workdir.display().to_string()),
            ("BATON_STATE_DIR", state.path().display().to_string()),
            ("TELEGRAM_API_URL", telegram.url().to_string()),
            ("CLAUDE_BIN", claude_bin().display().to_string()),
            ("CLAUDE_ALLOWED_TOOLS", "Bash".to_owned()),
            ("CODEX_BIN", codex_bin().display().to_string()),
            ("BATON_DEFAULT_DRIVER", default_driver.to_owned()),
            ("BATON_EDIT_INTERVAL_MS", "300".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let config = Config::from_map(&vars, &PathBuf::from("/")).expect("test settings are valid");
        let codex = codex_config(&openai, &sandbox);
        let extras = Extras {
            claude_env: claude_env(&anthropic, &sandbox),
            codex_env: codex.extra_env,
            codex_home: codex.codex_home,
            codex_overrides: codex.config_overrides,
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { serve(config, extras, stop.cancelled_owned()).await }
        });
        Bot {
            telegram,
            openai,
            anthropic,
            sandbox,
            _state: state,
            stop,
            task: Some(task),
        }
    }

    /// Stops the bot as SIGTERM would and waits until it has shut down.
    async fn shut_down(mut self) {
        self.stop.cancel();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("shutdown is prompt")
            .expect("serve task")
            .expect("serve ends cleanly");
    }

    async fn wait(&self, what: &str, predicate: impl Fn(&Store) -> bool) {
        if !self.telegram.wait_for(predicate, TURN).await {
            panic!(
                "timed out waiting for {what}; the chat shows {:#?}",
                self.texts()
            );
        }
    }

    /// Waits until a visible message contains `needle`, and returns it.
    async fn wait_shown(&self, what: &str, needle: &str) -> StoredMessage {
        self.wait(what, |s| shows(s, needle)).await;
        self.find(needle)
    }

    fn send(&self, text: &str) {
        self.telegram.push_text(CHAT, USER, text);
    }

    /// The newest visible message containing `needle`.
    fn find(&self, needle: &str) -> StoredMessage {
        self.telegram
            .store()
            .visible(CHAT)
            .into_iter()
            .rev()
            .find(|m| m.text.contains(needle))
            .unwrap_or_else(|| panic!("no message shows {needle:?}: {:#?}", self.texts()))
    }

    /// The texts the chat shows now, oldest first.
    fn texts(&self) -> Vec<String> {
        self.telegram
            .store()
            .visible(CHAT)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    /// Every text the chat ever showed, edits included, oldest first.
    fn everything_shown(&self) -> Vec<String> {
        self.telegram
            .store()
            .messages(CHAT)
            .into_iter()
            .flat_map(|m| m.edits.into_iter().chain([m.text]))
            .collect()
    }

    /// Presses the button labelled `label` under `message`, as Telegram
    /// would send it, and returns the text the bot answered the press with.
    async fn press(&self, message: &StoredMessage, label: &str) -> String {
        let data = buttons(message)
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("no button {label:?} under {message:#?}"));
        self.press_data(message.id, &data).await
    }

    /// Sends a button press with `data` as its callback data and returns the
    /// text the bot answered it with.
    async fn press_data(&self, message: i32, data: &str) -> String {
        let update = self.telegram.push_callback(CHAT, USER, message, data);
        let query = format!("cb{update}");
        let answered = |s: &Store| {
            s.requests.iter().any(|r| {
                r.method == "answercallbackquery" && r.params["callback_query_id"] == query
            })
        };
        self.wait(&format!("an answer to the press of {data:?}"), answered)
            .await;
        let requests = self.telegram.requests();
        let answer = requests
            .iter()
            .find(|r| r.method == "answercallbackquery" && r.params["callback_query_id"] == query)
            .expect("answered");
        answer.params["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Sends `/status` and returns its answer.
    async fn status(&self) -> String {
        let before = self.count_shown("Driver");
        self.send("/status");
        self.wait("the status", |s| {
            s.visible(CHAT)
                .iter()
                .filter(|m| m.text.contains("Driver"))
                .count()
                > before
        })
        .await;
        self.find("Driver").text
    }

    /// Sends `/status` until the lane shows idle (a run's last events, such
    /// as its token usage, come after its answer) and returns that status.
    async fn idle_status(&self) -> String {
        for _ in 0..100 {
            let status = self.status().await;
            if status.contains("Idle") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the lane never went idle: {:#?}", self.texts());
    }

    fn count_shown(&self, needle: &str) -> usize {
        self.texts().iter().filter(|t| t.contains(needle)).count()
    }

    /// The agent CLI processes running in the lane's working directory.
    fn agents_running(&self) -> Vec<String> {
        processes_in(&self.sandbox.workdir)
            .into_iter()
            .map(|p| p.cmdline)
            .collect()
    }

    /// Waits until no process runs in the working directory any more.
    async fn wait_agents_gone(&self) {
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

    /// The codex turns (requests to the Responses API) so far.
    fn codex_turns(&self) -> Vec<Recorded> {
        self.openai.turns()
    }

    /// Waits until codex has sent `count` turns to the fake.
    async fn wait_codex_turns(&self, count: usize) {
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

    /// The claude turns (agent requests to the fake Anthropic server) so far.
    fn claude_turns(&self) -> usize {
        self.anthropic.agent_requests().len()
    }
}

/// The codex thread a turn belongs to: the CLI sends its thread id as the
/// request's prompt cache key.
fn thread_of(turn: &Recorded) -> String {
    turn.body["prompt_cache_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a turn without a prompt cache key: {}", turn.body))
        .to_owned()
}

/// The reasoning effort a turn asked the model for.
fn effort_of(turn: &Recorded) -> Value {
    turn.body["reasoning"]["effort"].clone()
}

fn shows(store: &Store, needle: &str) -> bool {
    store.visible(CHAT).iter().any(|m| m.text.contains(needle))
}

/// Every inline button under `message`, as (label, callback data).
fn buttons(message: &StoredMessage) -> Vec<(String, String)> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_turn_is_streamed_and_status_hands_over_its_thread_with_usage() {
    let chunks = ["Hello ", "from ", "codex."];
    let bot = Bot::start(Start::Codex, vec![Reply::text(&chunks)], vec![]).await;
    bot.send("say hello");
    let answer = bot.wait_shown("the answer", "Hello from codex.").await;
    assert!(
        answer
            .edits
            .first()
            .is_some_and(|first| first.contains("say hello")),
        "the answer grew in place from the run's first line: {answer:#?}"
    );
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 1, "one codex turn");
    assert!(
        turns[0].input().contains("say hello"),
        "{}",
        turns[0].input()
    );
    let thread = thread_of(&turns[0]);

    let status = bot.idle_status().await;
    assert!(status.contains("Driver codex"), "{status}");
    let workdir = bot.sandbox.workdir.display().to_string();
    assert!(
        status.contains(&format!("cd {workdir} && codex resume {thread}")),
        "the handover command resumes the thread codex used: {status}"
    );
    // The fake reports 10 input tokens and one output token per chunk.
    assert!(
        status.contains(&format!("Tokens last run: 10 in, {} out", chunks.len())),
        "{status}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_command_execution_is_shown_in_the_answer() {
    let bot = Bot::start(
        Start::Codex,
        // Long enough to outlast the edit interval: a status line lives
        // only while its command runs.
        vec![
            Reply::exec("sleep 1 && echo hi-from-codex"),
            Reply::text(&["All done."]),
        ],
        vec![],
    )
    .await;
    bot.send("run a command");
    bot.wait_shown("the final answer", "All done.").await;
    let shown = bot.everything_shown();
    assert!(
        shown
            .iter()
            .any(|t| t.contains("Shell") && t.contains("echo hi-from-codex")),
        "a status line names the command: {shown:#?}"
    );
    let turns = bot.codex_turns();
    assert_eq!(
        turns.len(),
        2,
        "the command's output went back to the model"
    );
    assert!(
        turns[1].input().contains("hi-from-codex"),
        "{}",
        turns[1].input()
    );
    bot.shut_down().await;
}

/// DR-3 end to end: a switch to claude while codex runs changes nothing for
/// that run, and /stop still stops codex, the driver the run captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mid_run_kills_codex_even_after_a_switch_and_tells_the_user() {
    let bot = Bot::start(
        Start::Codex,
        vec![Reply::Hang {
            first: "Working".into(),
        }],
        vec![],
    )
    .await;
    bot.send("a long task");
    bot.wait_codex_turns(1).await;
    let running = bot.agents_running();
    assert!(
        running.iter().any(|cmd| cmd.contains("codex")),
        "codex runs in the workdir: {running:?}"
    );

    bot.send("/switch");
    let menu = bot
        .wait_shown("the driver menu", "This chat uses codex")
        .await;
    assert_eq!(
        bot.press(&menu, "claude").await,
        "Switched to claude (from the next run)"
    );
    let status = bot.status().await;
    assert!(
        status.contains("Driver claude") && status.contains("Running a long task (codex"),
        "the run keeps its driver: {status}"
    );

    bot.send("/stop");
    bot.wait_shown("the stop report", "Stopped: a long task (codex")
        .await;
    bot.wait_agents_gone().await;
    assert_eq!(bot.claude_turns(), 0, "claude never ran");
    assert_eq!(bot.codex_turns().len(), 1);
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_drivers_applies_from_the_next_run_only() {
    let bot = Bot::start(
        Start::Claude,
        vec![Reply::text(&["Codex now."])],
        vec![fake_anthropic::Reply::slow(
            &["Claude ", "was ", "here ", "all ", "along."],
            Duration::from_millis(600),
        )],
    )
    .await;
    bot.send("first task");
    bot.wait_shown("the claude run to start", "first task")
        .await;

    bot.send("/switch");
    let menu = bot
        .wait_shown("the driver menu", "This chat uses claude")
        .await;
    let labels: Vec<String> = buttons(&menu).into_iter().map(|(label, _)| label).collect();
    assert_eq!(labels, ["✓ claude", "codex"], "{menu:#?}");
    assert_eq!(
        bot.press(&menu, "codex").await,
        "Switched to codex (from the next run)"
    );
    let status = bot.status().await;
    assert!(
        status.contains("Driver codex") && status.contains("Running first task (claude"),
        "the switch happened while claude ran: {status}"
    );

    bot.wait_shown("claude's whole answer", "Claude was here all along.")
        .await;
    assert_eq!(bot.claude_turns(), 1);
    assert!(bot.codex_turns().is_empty(), "codex did not join that run");

    bot.send("second task");
    bot.wait_shown("codex's answer", "Codex now.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 1);
    assert!(
        turns[0].input().contains("second task"),
        "{}",
        turns[0].input()
    );
    assert_eq!(bot.claude_turns(), 1, "claude got nothing more");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_menu_offers_the_active_drivers_choices_and_a_run_keeps_its_own() {
    let bot = Bot::start(
        Start::Codex,
        vec![
            Reply::exec("sleep 2"),
            Reply::text(&["Slept."]),
            Reply::text(&["Thought hard."]),
        ],
        vec![],
    )
    .await;
    bot.send("/model");
    let models = bot.wait_shown("the model menu", "Model for codex").await;
    let efforts = bot.wait_shown("the effort menu", "Effort for codex").await;
    let labels = |m: &StoredMessage| -> Vec<String> {
        buttons(m).into_iter().map(|(label, _)| label).collect()
    };
    assert_eq!(
        labels(&models),
        ["✓ default", "gpt-5-codex", "gpt-5", "gpt-5-mini"]
    );
    assert_eq!(
        labels(&efforts),
        ["✓ default", "minimal", "low", "medium", "high", "xhigh"]
    );

    // Raise the effort while a run is between its two model turns.
    bot.send("nap");
    bot.wait("the command to start", |s| shows(s, "sleep 2"))
        .await;
    assert_eq!(
        bot.press(&efforts, "high").await,
        "Effort: high (from the next run)"
    );
    bot.wait_shown("the first answer", "Slept.").await;
    bot.send("think");
    bot.wait_shown("the second answer", "Thought hard.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 3);
    assert_ne!(
        effort_of(&turns[0]),
        "high",
        "{}",
        turns[0].body["reasoning"]
    );
    assert_eq!(
        effort_of(&turns[1]),
        effort_of(&turns[0]),
        "the running run kept its effort"
    );
    assert_eq!(
        effort_of(&turns[2]),
        "high",
        "the next run took the new one"
    );

    bot.send("/switch claude");
    bot.wait_shown("the switch", "Switched to claude").await;
    bot.send("/model");
    let models = bot
        .wait_shown("claude's model menu", "Model for claude")
        .await;
    let efforts = bot
        .wait_shown("claude's effort menu", "Effort for claude")
        .await;
    assert_eq!(labels(&models), ["✓ default", "opus", "sonnet", "haiku"]);
    assert_eq!(labels(&efforts), ["✓ default", "low", "medium", "high"]);
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_codex_turn_in_a_lane_resumes_the_first_thread() {
    let bot = Bot::start(
        Start::Codex,
        vec![
            Reply::text(&["Noted kiwi."]),
            Reply::text(&["You said kiwi."]),
        ],
        vec![],
    )
    .await;
    bot.send("remember kiwi");
    bot.wait_shown("the first answer", "Noted kiwi.").await;
    bot.send("what did I say?");
    bot.wait_shown("the second answer", "You said kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 2);
    assert_eq!(thread_of(&turns[1]), thread_of(&turns[0]), "same thread");
    let history = turns[1].input();
    assert!(
        history.contains("remember kiwi") && history.contains("Noted kiwi."),
        "the second turn carries the first: {history}"
    );
    let status = bot.status().await;
    assert!(
        status.contains(&format!("codex resume {}", thread_of(&turns[0]))),
        "{status}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_lists_the_lanes_sessions_and_picking_one_continues_it() {
    let bot = Bot::start(
        Start::Codex,
        vec![
            Reply::text(&["Noted kiwi."]),
            Reply::text(&["Other."]),
            Reply::text(&["You said kiwi."]),
        ],
        vec![],
    )
    .await;
    bot.send("remember kiwi");
    bot.wait_shown("the first answer", "Noted kiwi.").await;
    bot.send("/new");
    bot.wait_shown("the new session", "New session").await;
    bot.send("another topic");
    bot.wait_shown("the second answer", "Other.").await;
    let turns = bot.codex_turns();
    let (kiwi, other) = (thread_of(&turns[0]), thread_of(&turns[1]));
    assert_ne!(kiwi, other, "/new started a new thread");

    bot.send("/resume");
    let list = bot
        .wait_shown("the session list", "Resume a codex session")
        .await;
    let listed = buttons(&list);
    for (prompt, thread) in [("remember kiwi", &kiwi), ("another topic", &other)] {
        assert!(
            listed
                .iter()
                .any(|(label, data)| label.contains(prompt) && data.contains(thread.as_str())),
            "{prompt} is listed: {listed:#?}"
        );
    }
    assert_eq!(bot.press(&list, "remember kiwi").await, "Session resumed");
    let offer = bot.wait_shown("the recap offer", "A recap?").await;
    assert!(offer.text.contains(&kiwi), "{offer:#?}");
    assert_eq!(bot.press(&offer, "No recap").await, "OK, no recap");
    assert_eq!(bot.codex_turns().len(), 2, "no recap was asked for");

    bot.send("what did I say?");
    bot.wait_shown("the resumed answer", "You said kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 3);
    assert_eq!(thread_of(&turns[2]), kiwi);
    let history = turns[2].input();
    assert!(
        history.contains("remember kiwi") && !history.contains("another topic"),
        "{history}"
    );
    let status = bot.status().await;
    assert!(status.contains(&format!("codex resume {kiwi}")), "{status}");
    bot.shut_down().await;
}

/// VC-1 end to end: a recap asked for from a button while a run is in flight
/// is queued like any message and runs after it, never beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_requested_during_a_run_waits_for_it() {
    let bot = Bot::start(
        Start::Codex,
        vec![
            Reply::text(&["Noted kiwi."]),
            Reply::exec("sleep 2"),
            Reply::text(&["Slept."]),
            Reply::text(&["Recap: kiwi."]),
        ],
        vec![],
    )
    .await;
    bot.send("remember kiwi");
    bot.wait_shown("the first answer", "Noted kiwi.").await;
    bot.send("/new");
    bot.wait_shown("the new session", "New session").await;
    bot.send("nap for a while");
    bot.wait("the command to start", |s| shows(s, "sleep 2"))
        .await;

    bot.send("/resume");
    let list = bot
        .wait_shown("the session list", "Resume a codex session")
        .await;
    assert_eq!(bot.press(&list, "remember kiwi").await, "Session resumed");
    let offer = bot.wait_shown("the recap offer", "A recap?").await;
    assert_eq!(bot.press(&offer, "Recap").await, "Recap requested");
    bot.wait_shown("the recap to be queued", "Queued, position 1")
        .await;
    assert_eq!(
        bot.codex_turns().len(),
        2,
        "the recap did not start beside the nap"
    );

    bot.wait_shown("the recap", "Recap: kiwi.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 4, "{turns:#?}");
    assert!(
        turns[2].input().contains("function_call_output"),
        "the nap finished its turns first: {}",
        turns[2].input()
    );
    let recap = &turns[3];
    assert!(
        recap.input().contains(RECAP_PROMPT_START),
        "{}",
        recap.input()
    );
    assert!(recap.input().contains("remember kiwi"), "{}", recap.input());
    assert_eq!(
        thread_of(recap),
        thread_of(&turns[0]),
        "the recap resumed kiwi"
    );
    let texts = bot.texts();
    let slept = texts.iter().position(|t| t.contains("Slept.")).unwrap();
    let recapped = texts
        .iter()
        .position(|t| t.contains("Recap: kiwi."))
        .unwrap();
    assert!(slept < recapped, "{texts:#?}");
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_garbled_buttons_get_a_clear_answer_and_change_nothing() {
    let bot = Bot::start(Start::Codex, vec![Reply::text(&["Noted."])], vec![]).await;
    bot.send("remember kiwi");
    let answer = bot.wait_shown("the answer", "Noted.").await;
    let before = bot.idle_status().await;
    let shown_before = bot.texts().len();

    let out_of_date = "This button is out of date; use the command again.";
    let too_long = format!("m:{}", "x".repeat(63));
    let presses: Vec<(&str, &str)> = vec![
        ("zz:1", out_of_date),
        ("", out_of_date),
        ("d:gemini", out_of_date),
        ("s:01", out_of_date),
        ("x:1", out_of_date),
        (&too_long, out_of_date),
        ("s:999", "That run has already ended."),
        (
            "r:not-a-session",
            "That session is not one of this chat's in this folder.",
        ),
        (
            "rc:y:not-a-session",
            "This chat has moved to another session since.",
        ),
    ];
    for (data, expected) in presses {
        assert_eq!(bot.press_data(answer.id, data).await, expected, "{data:?}");
    }
    let update = bot.telegram.push_callback(CHAT, 666, answer.id, "d:claude");
    let stranger = format!("cb{update}");
    bot.wait("the stranger's press to be answered", |s| {
        s.requests.iter().any(|r| {
            r.method == "answercallbackquery"
                && r.params["callback_query_id"] == stranger
                && r.params["text"] == "Not allowed."
        })
    })
    .await;

    assert_eq!(
        bot.texts().len(),
        shown_before,
        "nothing was said in the chat"
    );
    assert_eq!(bot.codex_turns().len(), 1, "nothing ran");
    let after = bot.status().await;
    let settled = |status: &str| -> Vec<String> {
        status
            .lines()
            .filter(|line| !line.starts_with("All chats"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(settled(&after), settled(&before), "the lane is unchanged");
    bot.shut_down().await;
}
