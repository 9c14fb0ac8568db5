//! Handler tests: every command and button, read off the effects the
//! handlers return, without Telegram or tokio.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_core::{Driver, ItemId, LaneKey, Millis, Origin, Outcome};
use teloxide::types::{InlineKeyboardButtonKind, InlineKeyboardMarkup};

use super::door::CoreDoor;
use super::downloads::Downloads;
use super::effects::{Effect, To};
use super::incoming::{Content, FileKind, FileRef, Incoming, Input, Press};
use super::rate_limit::RateLimit;
use super::router::{Fetched, Router, Scope};
use super::run_diff::DiffBoard;
use super::usage::{Usage, UsageBoard};
use crate::config::Config;
use crate::media::transcribe::TranscribeError;
use crate::media::{Intake, Prepared, Unready};
use crate::platform::{Core, Ticket};
use crate::store::Store;
use crate::telegram::callbacks::{CallbackAction, Choice, DriverChoice, Token};

const USER: u64 = 42;
const LANE: LaneKey = LaneKey {
    chat: 7,
    topic: None,
};

struct Rig {
    door: CoreDoor,
    store: Arc<Store>,
    scope: Scope,
    rate_limit: RateLimit,
    usage: UsageBoard,
    diffs: DiffBoard,
    downloads: Downloads,
    questions: super::questions::Questions,
    intake: Intake,
    next_update: std::cell::Cell<i64>,
    _state: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(&[])
    }

    fn with(settings: &[(&str, &str)]) -> Rig {
        let state = tempfile::tempdir().unwrap();
        let project = state.path().join("project");
        std::fs::create_dir(&project).unwrap();
        let mut vars: HashMap<String, String> = [
            ("TELEGRAM_BOT_TOKEN", "1:test".to_owned()),
            ("TELEGRAM_ALLOWED_USERS", USER.to_string()),
            ("BATON_WORKDIR", project.display().to_string()),
            ("BATON_STATE_DIR", state.path().display().to_string()),
            ("CLAUDE_BIN", "/bin/sh".to_owned()),
            ("CODEX_BIN", "/nonexistent/codex".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, value) in settings {
            vars.insert((*key).to_owned(), (*value).to_owned());
        }
        let config = Config::from_map(&vars, &PathBuf::from("/")).unwrap();
        let store = Arc::new(Store::open_in(state.path()).unwrap());
        let core = Core::new(
            baton_core::Config {
                capacity: config.max_concurrent_runs,
                max_queue: config.max_queue_per_lane,
                ..Default::default()
            },
            || Millis(1_000),
        );
        let intake = Intake {
            transcriber: config
                .transcribe
                .clone()
                .map(crate::media::transcribe::Transcriber::new),
            ..Intake::default()
        };
        Rig {
            door: CoreDoor::new(core, Arc::clone(&store)),
            store,
            rate_limit: RateLimit::new(config.rate_limit_per_minute),
            scope: Scope {
                config: Arc::new(config),
                username: "baton_bot".into(),
                codex_installed: false,
            },
            usage: UsageBoard::default(),
            diffs: DiffBoard::default(),
            downloads: Downloads::default(),
            questions: Default::default(),
            intake,
            next_update: std::cell::Cell::new(100),
            _state: state,
        }
    }

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

    fn next_update(&self) -> i64 {
        let id = self.next_update.get() + 1;
        self.next_update.set(id);
        id
    }

    /// A message from the allowed user; its message id is its update id.
    fn send(&self, content: Content) -> Vec<Effect> {
        let update_id = self.next_update();
        self.router().on_input(Input::Message(Incoming {
            update_id,
            lane: LANE,
            message: update_id as i32,
            user: Some(USER),
            content,
        }))
    }

    fn text(&self, text: &str) -> Vec<Effect> {
        self.send(Content::Text(text.into()))
    }

    fn press(&self, data: &str) -> Vec<Effect> {
        self.press_as(USER, Some(LANE), Some(data))
    }

    fn press_as(&self, user: u64, lane: Option<LaneKey>, data: Option<&str>) -> Vec<Effect> {
        let update_id = self.next_update();
        self.router().on_input(Input::Press(Press {
            update_id,
            query: format!("q{update_id}"),
            user,
            name: "Ada".into(),
            lane,
            message: Some(5),
            data: data.map(str::to_owned),
        }))
    }

    /// Submits a text that starts at once; its ticket.
    fn running(&self, text: &str) -> Ticket {
        let mut tickets = started(self.text(text));
        assert_eq!(tickets.len(), 1, "{text} starts");
        tickets.remove(0)
    }
}

/// The replies' targets and HTML, in order.
fn replies(effects: &[Effect]) -> Vec<(To, String)> {
    effects
        .iter()
        .flat_map(|effect| match effect {
            Effect::Reply { to, reply } => vec![(*to, reply.html())],
            Effect::ReplyThen { to, reply, then } => {
                let mut all = vec![(*to, reply.html())];
                all.extend(replies(then));
                all
            }
            Effect::Menu { to, html, .. } => vec![(*to, html.clone())],
            _ => Vec::new(),
        })
        .collect()
}

/// The one reply's HTML.
fn reply(effects: &[Effect]) -> String {
    let replies = replies(effects);
    assert_eq!(replies.len(), 1, "one reply: {effects:#?}");
    replies[0].1.clone()
}

fn started(effects: Vec<Effect>) -> Vec<Ticket> {
    effects
        .into_iter()
        .flat_map(|effect| match effect {
            Effect::Start(tickets) => tickets,
            Effect::ReplyThen { then, .. } => started(then),
            _ => Vec::new(),
        })
        .collect()
}

fn button_answer(effects: &[Effect]) -> String {
    match effects.last() {
        Some(Effect::AnswerButton { text, .. }) => text.clone(),
        other => panic!("a press ends with its answer: {other:?}"),
    }
}

fn menu_actions(effects: &[Effect]) -> Vec<CallbackAction> {
    let keyboards: Vec<&InlineKeyboardMarkup> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Menu { keyboard, .. } => Some(keyboard),
            _ => None,
        })
        .collect();
    keyboards
        .iter()
        .flat_map(|k| k.inline_keyboard.iter().flatten())
        .map(|button| match &button.kind {
            InlineKeyboardButtonKind::CallbackData(data) => CallbackAction::parse(data).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn help_and_start_answer_the_message_with_the_command_list() {
    let rig = Rig::new();
    for command in ["/help", "/start", "/help@baton_bot"] {
        let effects = rig.text(command);
        let replies = replies(&effects);
        assert_eq!(replies.len(), 1);
        let (to, html) = &replies[0];
        assert_eq!(to.message, Some(rig.next_update.get() as i32), "{command}");
        assert!(html.contains("/stop") && html.contains("/cron"), "{html}");
    }
}

#[test]
fn text_starts_a_run_and_the_next_one_queues_as_a_reply_to_itself() {
    let rig = Rig::new();
    let ticket = rig.running("first task");
    assert_eq!(ticket.item.prompt, "first task");
    assert_eq!(ticket.item.lane, LANE);
    let effects = rig.text("second task");
    let replies = replies(&effects);
    assert_eq!(
        replies[0].0,
        To::message(LANE, rig.next_update.get() as i32)
    );
    assert!(replies[0].1.contains("Queued, position 1"), "{replies:?}");
}

#[test]
fn interrupt_cancels_the_run_and_runs_next() {
    let rig = Rig::new();
    let ticket = rig.running("first");
    let html = reply(&rig.text("!use tabs"));
    assert!(html.contains("Stopping the current run"), "{html}");
    assert!(ticket.cancel.token().is_cancelled());
}

#[test]
fn stop_when_idle_says_nothing_to_stop() {
    let rig = Rig::new();
    for stop in ["/stop", "stop", "!"] {
        assert_eq!(reply(&rig.text(stop)), "Nothing to stop.", "{stop}");
    }
}

#[test]
fn stop_reply_lists_the_run_the_queue_and_the_downloads_it_removed() {
    let rig = Rig::new();
    let ticket = rig.running("long task");
    rig.text("queued one");
    rig.text("queued two");
    let download = file(&rig, "a picture caption", 10);
    let effects = rig.text("/stop");
    let html = reply(&effects);
    assert!(html.starts_with("⏹ Stopped: long task"), "{html}");
    assert!(html.contains("Removed 3 queued"), "{html}");
    for removed in ["queued one", "queued two", "a picture caption"] {
        assert!(html.contains(removed), "{removed}: {html}");
    }
    assert!(ticket.cancel.token().is_cancelled(), "the run is cancelled");
    assert!(download.cancel.is_cancelled(), "the download is cancelled");
    let late = rig.router().on_fetched(&download, Fetched::Cancelled);
    assert!(
        started(late).is_empty() && rig.door.queued() == 0,
        "a cancelled download queues nothing"
    );
}

#[test]
fn new_session_stops_clears_and_says_so() {
    let rig = Rig::new();
    rig.running("old work");
    rig.text("waiting");
    let html = reply(&rig.text("/new"));
    assert!(html.contains("New session"), "{html}");
    assert!(html.contains("Stopped: old work"), "{html}");
    assert!(
        html.contains("Removed 1 queued") && html.contains("waiting"),
        "{html}"
    );
}

#[test]
fn status_renders_driver_run_queue_session_and_usage() {
    let rig = Rig::new();
    let idle = reply(&rig.text("/status"));
    assert!(idle.contains("<b>Driver</b> claude"), "{idle}");
    assert!(idle.contains("<b>Idle</b>"), "{idle}");
    assert!(idle.contains("none yet"), "{idle}");
    assert!(idle.contains("0 running of 1, 0 queued"), "{idle}");

    let ticket = rig.running("fix <the> bug");
    rig.door
        .record_agent_session(ticket.run, "sess-1".into())
        .unwrap();
    rig.text("then this");
    rig.usage.set(
        LANE,
        Usage {
            input_tokens: 12,
            output_tokens: 34,
            cost_micro_usd: Some(1_250),
        },
    );
    let busy = reply(&rig.text("/status"));
    assert!(
        busy.contains("<b>Running</b> fix &lt;the&gt; bug"),
        "{busy}"
    );
    assert!(busy.contains("<b>Queued</b> 1\n• then this"), "{busy}");
    assert!(busy.contains("<code>sess-1</code>"), "{busy}");
    let handover = format!(
        "cd {} &amp;&amp; claude --resume sess-1",
        rig.scope.config.workdir.display()
    );
    assert!(busy.contains(&handover), "{busy}");
    assert!(busy.contains("12 in, 34 out · $0.0013"), "{busy}");
    assert!(busy.contains("1 running of 1, 1 queued"), "{busy}");
}

#[test]
fn debug_shows_the_cores_state_as_escaped_json() {
    let rig = Rig::new();
    rig.running("a <task>");
    let html = reply(&rig.text("/debug"));
    assert!(
        html.starts_with("<pre>") && html.ends_with("</pre>"),
        "{html}"
    );
    assert!(html.contains("a &lt;task&gt;"), "{html}");
}

#[test]
fn retry_runs_the_last_item_again_or_says_there_is_none() {
    let rig = Rig::new();
    assert!(reply(&rig.text("/retry")).contains("Nothing to retry"));
    let ticket = rig.running("flaky job");
    rig.door.finish(ticket.run, Outcome::Failed).unwrap();
    let again = started(rig.text("/retry"));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].item.prompt, "flaky job");
}

#[test]
fn model_command_sets_a_name_or_offers_both_menus() {
    let rig = Rig::new();
    let html = reply(&rig.text("/model opus"));
    assert_eq!(html, "Model: <b>opus</b> (from the next run)");
    assert_eq!(rig.door.preferences(LANE).model.as_deref(), Some("opus"));
    let effects = rig.text("/model");
    let headers: Vec<String> = replies(&effects).into_iter().map(|r| r.1).collect();
    assert_eq!(
        headers,
        ["Model for <b>claude</b>:", "Effort for <b>claude</b>:"]
    );
    let actions = menu_actions(&effects);
    assert!(actions.contains(&CallbackAction::Model(Choice::Named(
        Token::new("opus").unwrap()
    ))));
    assert!(actions.contains(&CallbackAction::Effort(Choice::Default)));
}

#[test]
fn switch_command_switches_refuses_or_offers_the_menu() {
    let rig = Rig::new();
    assert_eq!(
        reply(&rig.text("/switch codex")),
        "codex is not installed on this machine."
    );
    assert!(reply(&rig.text("/switch gemini")).starts_with("⚠️"));
    assert_eq!(
        reply(&rig.text("/switch claude")),
        "Switched to claude (from the next run)"
    );
    let effects = rig.text("/switch");
    assert!(reply(&effects).contains("This chat uses <b>claude</b>"));
    assert_eq!(
        menu_actions(&effects),
        [
            CallbackAction::Driver(DriverChoice::Claude),
            CallbackAction::Driver(DriverChoice::Codex)
        ]
    );
}

#[test]
fn resume_lists_this_folders_sessions_or_says_there_are_none() {
    let rig = Rig::new();
    assert!(reply(&rig.text("/resume")).contains("No earlier claude sessions"));
    let now = chrono::Utc::now();
    rig.store
        .record_session(
            LANE,
            "claude",
            "s-here",
            &rig.scope.config.workdir,
            "here",
            now,
        )
        .wait()
        .unwrap();
    rig.store
        .record_session(
            LANE,
            "claude",
            "s-else",
            "/elsewhere".as_ref(),
            "there",
            now,
        )
        .wait()
        .unwrap();
    let effects = rig.text("/resume");
    assert!(reply(&effects).contains("Resume a <b>claude</b> session"));
    let actions = menu_actions(&effects);
    assert_eq!(
        actions,
        [
            CallbackAction::Resume {
                session: Token::new("s-here").unwrap()
            },
            CallbackAction::Dismiss
        ],
        "only this folder's session, and Cancel"
    );
}

#[test]
fn cron_lists_adds_and_removes_jobs() {
    let rig = Rig::new();
    assert!(reply(&rig.text("/cron")).contains("No scheduled prompts"));
    let effects = rig.text("/cron add 0 9 * * 1-5 check the build");
    assert!(
        reply(&effects).contains("Job <code>1</code>"),
        "{effects:?}"
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::CronChanged)));
    assert!(reply(&rig.text("/cron")).contains("check the build"));
    assert!(reply(&rig.text("/cron rm 2")).contains("No job 2"));
    let removed = rig.text("/cron rm 1");
    assert!(reply(&removed).contains("Removed job 1."));
    assert!(removed.iter().any(|e| matches!(e, Effect::CronChanged)));
    assert!(reply(&rig.text("/cron frobnicate")).contains("usage"));
}

#[test]
fn cron_list_shows_next_fires_in_the_users_zone_with_a_cancel_button_each() {
    let rig = Rig::with(&[("BATON_TZ", "Asia/Tokyo")]);
    let added = reply(&rig.text("/cron every 2h check the queue"));
    assert!(added.contains("every 2h; next "), "{added}");
    assert!(
        added.contains(" JST."),
        "next fire in the user's zone: {added}"
    );
    let silent = reply(&rig.text("/cron silent in 20m watch CI"));
    assert!(silent.contains("Silent"), "{silent}");
    let list = rig.text("/cron");
    let html = reply(&list);
    assert!(html.contains("<code>1</code> every 2h · next "), "{html}");
    assert!(html.contains("<code>2</code> once at "), "{html}");
    assert!(html.contains("JST · silent · watch CI"), "{html}");
    assert_eq!(
        menu_actions(&list),
        [
            CallbackAction::CronCancel { job: 1 },
            CallbackAction::CronCancel { job: 2 }
        ]
    );
    let pressed = rig.press("cc:2");
    assert_eq!(button_answer(&pressed), "Cancelled");
    assert!(reply(&pressed).contains("Removed job 2."), "{pressed:?}");
    assert!(pressed.iter().any(|e| matches!(e, Effect::CronChanged)));
    let again = rig.press("cc:2");
    assert_eq!(button_answer(&again), "Not cancelled");
    assert!(reply(&again).contains("No job 2"), "{again:?}");
    assert_eq!(rig.store.cron_jobs().unwrap().len(), 1);
    let job = &rig.store.cron_jobs().unwrap()[0];
    assert!(!job.silent);
}

#[test]
fn cron_refuses_a_malformed_request_with_the_usage_line_and_stores_nothing() {
    let rig = Rig::new();
    for bad in [
        "/cron every",
        "/cron every 2x check",
        "/cron in soon x",
        "/cron add 0 9 * *",
    ] {
        let html = reply(&rig.text(bad));
        assert!(
            html.contains("usage: /cron")
                || html.contains("is not a delay")
                || html.contains("interval"),
            "{bad}: {html}"
        );
    }
    assert!(rig.store.cron_jobs().unwrap().is_empty());
}

#[test]
fn usage_sums_this_chat_and_all_chats_from_the_store() {
    let rig = Rig::new();
    let other = LaneKey {
        chat: 8,
        topic: None,
    };
    let run = |lane, driver: &str, outcome: &str, input, output, cost| crate::store::RunUsage {
        lane,
        driver: driver.into(),
        outcome: outcome.into(),
        input_tokens: input,
        output_tokens: output,
        cost_usd: cost,
        ended_at: chrono::Utc::now(),
    };
    rig.store
        .record_run_usage(&run(LANE, "claude", "completed", 1_200, 80, Some(0.0105)));
    rig.store
        .record_run_usage(&run(LANE, "codex", "failed", 30, 6, None));
    rig.store
        .record_run_usage(&run(other, "claude", "completed", 5, 5, Some(0.002)))
        .wait()
        .unwrap();
    let html = reply(&rig.text("/usage"));
    let chat =
        "today: 2 runs (1 completed, 1 failed) · 1,230 in · 86 out · $0.0105 (1 without a cost)";
    let all =
        "today: 3 runs (2 completed, 1 failed) · 1,235 in · 91 out · $0.0125 (1 without a cost)";
    assert!(
        html.contains(&format!("<b>This chat</b>\n{chat}")),
        "{html}"
    );
    assert!(html.contains(&format!("<b>All chats</b>\n{all}")), "{html}");
    assert!(html.contains(&chat.replace("today", "this week")), "{html}");
    assert!(html.contains(&all.replace("today", "total")), "{html}");
}

#[test]
fn a_full_queue_refuses_each_message_as_a_reply_to_it() {
    let rig = Rig::new();
    let mut refused = Vec::new();
    for i in 0..25 {
        let effects = rig.text(&format!("message {i}"));
        let message = rig.next_update.get() as i32;
        for (to, html) in replies(&effects) {
            assert_eq!(
                to,
                To::message(LANE, message),
                "each reply answers its message"
            );
            if html.contains("already has 20 messages waiting") {
                refused.push(message);
            }
        }
    }
    let first = 101;
    assert_eq!(
        refused,
        (first + 21..first + 25).collect::<Vec<_>>(),
        "one runs, twenty wait, the rest are refused one by one"
    );
}

#[test]
fn rate_limit_refuses_the_message_over_it_but_never_a_stop() {
    let rig = Rig::with(&[("BATON_RATE_LIMIT", "2")]);
    rig.running("one");
    rig.text("two");
    let effects = rig.text("three");
    let (to, html) = &replies(&effects)[0];
    assert_eq!(to.message, Some(rig.next_update.get() as i32));
    assert!(html.contains("at most 2 messages a minute"), "{html}");
    assert!(reply(&rig.text("stop")).contains("Stopped: one"));
    let status = reply(&rig.text("/status"));
    assert!(
        status.contains("<b>Driver</b>"),
        "commands are not limited: {status}"
    );
}

#[test]
fn strangers_get_nothing() {
    let rig = Rig::new();
    let effects = rig.router().on_input(Input::Message(Incoming {
        update_id: 1,
        lane: LANE,
        message: 1,
        user: Some(666),
        content: Content::Text("let me in".into()),
    }));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(rig.door.in_flight(), 0);
    let pressed = rig.press_as(666, Some(LANE), Some("rt"));
    assert_eq!(button_answer(&pressed), "Not allowed.");
    assert_eq!(pressed.len(), 1);
}

fn file_ref(kind: FileKind, name: &str, caption: &str, size: u32) -> FileRef {
    FileRef {
        id: "f1".into(),
        size,
        kind,
        name: name.into(),
        mime: None,
        caption: caption.into(),
        duration: None,
        album: None,
    }
}

fn download_of(effects: Vec<Effect>) -> super::effects::Download {
    match effects.into_iter().next() {
        Some(Effect::Download(download)) => download,
        other => panic!("a download: {other:?}"),
    }
}

fn file(rig: &Rig, caption: &str, size: u32) -> super::effects::Download {
    download_of(rig.send(Content::File(file_ref(
        FileKind::Photo,
        "photo.jpg",
        caption,
        size,
    ))))
}

fn prepared(description: &str, attachments: &[&str]) -> Prepared {
    Prepared {
        description: description.into(),
        attachments: attachments.iter().map(|a| a.to_string()).collect(),
        transcript: None,
    }
}

fn done(effects: &[Effect]) -> Vec<i64> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Done(ids) => Some(ids.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn files_download_first_and_queue_when_saved() {
    let rig = Rig::new();
    let download = file(&rig, "what is this", 1000);
    assert_eq!(download.to.message, Some(rig.next_update.get() as i32));
    assert_eq!(
        rig.door.in_flight(),
        0,
        "nothing runs before the file is here"
    );
    let saved = prepared(
        "Attached photo: /state/files/u1/photo.jpg",
        &["/state/files/u1/photo.jpg"],
    );
    let effects = rig.router().on_fetched(&download, Fetched::Saved(saved));
    assert_eq!(
        done(&effects),
        [download.update_id],
        "the inbox stops replaying it"
    );
    let tickets = started(effects);
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        tickets[0].item.prompt,
        "what is this\n\nAttached photo: /state/files/u1/photo.jpg"
    );
    assert_eq!(tickets[0].item.attachments, ["/state/files/u1/photo.jpg"]);

    let failed = file(&rig, "", 1000);
    let html = reply(
        &rig.router()
            .on_fetched(&failed, Fetched::Failed("timed out".into())),
    );
    assert!(
        html.contains("Could not download that file: timed out"),
        "{html}"
    );
}

#[test]
fn oversized_files_voice_without_a_server_and_stickers_are_refused() {
    let rig = Rig::new();
    let big = rig.send(Content::File(file_ref(
        FileKind::Document,
        "big.zip",
        "",
        21 * 1024 * 1024,
    )));
    assert!(
        reply(&big).contains("over Telegram's 20 MB download limit"),
        "{}",
        reply(&big)
    );
    let voice = rig.send(Content::File(file_ref(
        FileKind::Voice,
        "voice.ogg",
        "",
        10,
    )));
    assert!(
        reply(&voice).contains("BATON_TRANSCRIBE_URL"),
        "{}",
        reply(&voice)
    );
    assert!(
        reply(&rig.send(Content::Unsupported))
            .contains("not stickers, locations, contacts or polls")
    );
}

#[test]
fn a_shutdown_mid_download_leaves_the_update_to_replay() {
    let rig = Rig::new();
    let download = file(&rig, "", 10);
    let effects = rig.router().on_fetched(&download, Fetched::ShuttingDown);
    assert!(
        done(&effects).is_empty(),
        "not done: replayed at the next start"
    );
    assert!(reply(&effects).contains("taken up again"));
    assert_eq!(rig.downloads.pending(LANE), 0);
}

#[test]
fn a_transcript_is_shown_then_queued_and_can_stop_or_interrupt() {
    let rig = Rig::new();
    let voice = |said: &str| {
        let update_id = rig.next_update();
        let download = super::effects::Download {
            update_id,
            to: super::effects::To::message(LANE, update_id as i32),
            file: file_ref(FileKind::Voice, "voice.ogg", "", 10),
            cancel: Default::default(),
            key: 0,
            folder: update_id,
            album: None,
            saved: None,
        };
        let heard = Prepared {
            transcript: Some(said.into()),
            ..Prepared::default()
        };
        rig.router().on_fetched(&download, Fetched::Saved(heard))
    };
    let first = voice("fix the tests");
    assert!(
        reply(&first).starts_with("🎤 fix the tests"),
        "{}",
        reply(&first)
    );
    assert!(
        !first.iter().any(|e| matches!(e, Effect::Start(_))),
        "the run starts only once the transcript is shown: {first:?}"
    );
    let tickets = started(first);
    assert_eq!(tickets[0].item.prompt, "fix the tests");
    assert_eq!(tickets[0].item.origin, Origin::Voice);
    let queued = voice("then the docs");
    let shown: Vec<String> = replies(&queued).into_iter().map(|(_, html)| html).collect();
    assert_eq!(shown, ["🎤 then the docs", "⏳ Queued, position 1."]);
    let interrupt = voice("! do this first");
    assert!(
        replies(&interrupt)[1]
            .1
            .starts_with("⏭ Stopping the current run"),
        "{interrupt:?}"
    );
    let stop = voice("Stop.");
    assert!(replies(&stop)[1].1.starts_with("⏹ Stopped"), "{stop:?}");
}

#[test]
fn a_failed_transcription_keeps_the_recording_for_its_retry_button() {
    let rig = Rig::new();
    let update_id = rig.next_update();
    let download = super::effects::Download {
        update_id,
        to: super::effects::To::message(LANE, update_id as i32),
        file: file_ref(FileKind::Voice, "voice.ogg", "", 10),
        cancel: Default::default(),
        key: 0,
        folder: update_id,
        album: None,
        saved: None,
    };
    let failed = Fetched::Unready {
        path: "/state/files/u1/voice.ogg".into(),
        why: Unready::Transcription(TranscribeError::Timeout(5)),
    };
    let effects = rig.router().on_fetched(&download, failed);
    let Some(Effect::Menu { html, keyboard, .. }) = effects.first() else {
        panic!("a reply with a button: {effects:?}");
    };
    assert!(html.contains("did not answer within 5 s"), "{html}");
    let retry = keyboard.inline_keyboard[0][0].clone();
    let teloxide::types::InlineKeyboardButtonKind::CallbackData(data) = retry.kind else {
        panic!("a callback button");
    };
    assert_eq!(done(&effects), [update_id]);

    let pressed = rig.press(&data);
    assert_eq!(button_answer(&pressed), "Transcribing again");
    let again = download_of(pressed);
    assert_eq!(
        again.saved.as_deref(),
        Some(std::path::Path::new("/state/files/u1/voice.ogg"))
    );
    let heard = Prepared {
        transcript: Some("hello".into()),
        ..Prepared::default()
    };
    assert_eq!(
        started(rig.router().on_fetched(&again, Fetched::Saved(heard))).len(),
        1
    );
    let stale = rig.press(&data);
    assert!(
        button_answer(&stale).contains("no longer kept"),
        "released once it ran"
    );
}

#[test]
fn album_parts_become_one_item_with_every_photo_and_the_caption() {
    let rig = Rig::new();
    let part = |caption: &str| {
        let mut file = file_ref(FileKind::Photo, "photo.jpg", caption, 10);
        file.album = Some("g1".into());
        let effects = rig.send(Content::File(file));
        assert!(effects.iter().any(|e| matches!(e, Effect::AlbumDue { .. })));
        download_of(effects)
    };
    let parts = [part(""), part("compare these"), part("")];
    assert_eq!(
        parts[1].folder, parts[0].update_id,
        "one folder: the first part's"
    );
    assert_eq!(
        rig.downloads.pending(LANE),
        1,
        "the album is one pending download"
    );
    let mut effects = Vec::new();
    for (n, download) in parts.iter().enumerate() {
        let path = format!("/f/{n}.jpg");
        let fetched = rig
            .router()
            .on_fetched(download, Fetched::Saved(prepared(&path, &[&path])));
        // Only the last part's end can close it (once its quiet time is
        // over: album.rs tests the timing with explicit instants).
        assert!(
            n == 2 || fetched.is_empty(),
            "not while parts are downloading: {fetched:?}"
        );
        effects.extend(fetched);
    }
    let key = parts[0].album.clone().unwrap();
    std::thread::sleep(crate::media::album::QUIET);
    effects.extend(rig.router().on_album_due(&key));
    let ids: Vec<i64> = parts.iter().map(|p| p.update_id).collect();
    assert_eq!(done(&effects), ids);
    let tickets = started(effects);
    assert_eq!(tickets.len(), 1, "one run for the album");
    let item = &tickets[0].item;
    assert_eq!(item.id, ItemId::update(parts[0].update_id));
    assert_eq!(item.attachments, ["/f/0.jpg", "/f/1.jpg", "/f/2.jpg"]);
    assert!(
        item.prompt.starts_with("compare these\n\n/f/0.jpg"),
        "{}",
        item.prompt
    );
    assert_eq!(rig.downloads.pending(LANE), 0);
    assert!(rig.router().on_album_due(&key).is_empty(), "closed once");
}

#[test]
fn an_album_of_audio_files_is_one_item_with_each_transcript() {
    let rig = Rig::with(&[("BATON_TRANSCRIBE_URL", "http://127.0.0.1:9")]);
    let mut parts = Vec::new();
    for _ in 0..2 {
        let mut file = file_ref(FileKind::Audio, "talk.mp3", "", 10);
        file.album = Some("g3".into());
        parts.push(download_of(rig.send(Content::File(file))));
    }
    let mut effects = Vec::new();
    for (n, download) in parts.iter().enumerate() {
        let heard = Prepared {
            transcript: Some(format!("part {n}")),
            ..Prepared::default()
        };
        effects.extend(rig.router().on_fetched(download, Fetched::Saved(heard)));
    }
    std::thread::sleep(crate::media::album::QUIET);
    effects.extend(rig.router().on_album_due(parts[0].album.as_ref().unwrap()));
    let tickets = started(effects);
    assert_eq!(tickets.len(), 1);
    let prompt = &tickets[0].item.prompt;
    assert!(
        prompt.contains("Transcript: part 0\nTranscript: part 1"),
        "{prompt}"
    );
}

#[test]
fn a_stop_cancels_an_album_still_arriving() {
    let rig = Rig::new();
    let mut file = file_ref(FileKind::Photo, "photo.jpg", "", 10);
    file.album = Some("g2".into());
    let download = download_of(rig.send(Content::File(file)));
    let stopped = rig.text("/stop");
    assert!(
        reply(&stopped).contains("album, still arriving"),
        "{}",
        reply(&stopped)
    );
    let effects = rig.router().on_fetched(&download, Fetched::Cancelled);
    assert_eq!(done(&effects), [download.update_id]);
    assert!(started(effects).is_empty());
}

#[test]
fn model_and_effort_buttons_set_the_choice() {
    let rig = Rig::new();
    let set =
        rig.press(&CallbackAction::Model(Choice::Named(Token::new("haiku").unwrap())).encode());
    assert_eq!(button_answer(&set), "Model: haiku (from the next run)");
    let effort =
        rig.press(&CallbackAction::Effort(Choice::Named(Token::new("high").unwrap())).encode());
    assert_eq!(button_answer(&effort), "Effort: high (from the next run)");
    let reset = rig.press(&CallbackAction::Model(Choice::Default).encode());
    assert_eq!(button_answer(&reset), "Model: default (from the next run)");
    let prefs = rig.door.preferences(LANE);
    assert_eq!((prefs.model, prefs.effort.as_deref()), (None, Some("high")));
}

#[test]
fn driver_button_switches_or_says_it_is_missing() {
    let rig = Rig::new();
    let codex = rig.press(&CallbackAction::Driver(DriverChoice::Codex).encode());
    assert_eq!(
        button_answer(&codex),
        "codex is not installed on this machine."
    );
    let claude = rig.press(&CallbackAction::Driver(DriverChoice::Claude).encode());
    assert_eq!(
        button_answer(&claude),
        "Switched to claude (from the next run)"
    );
    assert_eq!(rig.door.preferences(LANE).driver, Driver::Claude);
}

#[test]
fn resume_buttons_page_resume_and_offer_a_recap() {
    let rig = Rig::new();
    let page = rig.press(&CallbackAction::ResumePage(1).encode());
    assert!(reply(&page).contains("No earlier claude sessions"));
    let unknown = rig.press("r:nope");
    assert_eq!(
        button_answer(&unknown),
        "That session is not one of this chat's in this folder."
    );
    rig.store
        .record_session(
            LANE,
            "claude",
            "s1",
            &rig.scope.config.workdir,
            "p",
            chrono::Utc::now(),
        )
        .wait()
        .unwrap();
    let resumed = rig.press("r:s1");
    assert_eq!(button_answer(&resumed), "Session resumed");
    assert!(reply(&resumed).contains("Resuming <code>s1</code>"));
    assert_eq!(
        rig.door.session(LANE, Driver::Claude).as_deref(),
        Some("s1")
    );
    assert_eq!(button_answer(&rig.press("rc:n:s1")), "OK, no recap");
    assert_eq!(
        button_answer(&rig.press("rc:y:other")),
        "This chat has moved to another session since."
    );
    let recap = rig.press("rc:y:s1");
    assert_eq!(button_answer(&recap), "Recap requested");
    let tickets = started(recap);
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].item.origin, Origin::Recap);
}

#[test]
fn stop_button_stops_its_run_and_is_stale_after_it() {
    let rig = Rig::new();
    let ticket = rig.running("streaming answer");
    let data = CallbackAction::StopRun { run: ticket.run.0 }.encode();
    let pressed = rig.press(&data);
    assert_eq!(button_answer(&pressed), "Stopping");
    assert!(reply(&pressed).contains("Stopped: streaming answer"));
    assert!(ticket.cancel.token().is_cancelled());
    rig.door.finish(ticket.run, Outcome::Cancelled).unwrap();
    let next = rig.running("next one");
    let stale = rig.press(&data);
    assert_eq!(button_answer(&stale), "That run has already ended.");
    assert!(
        !next.cancel.token().is_cancelled(),
        "an old button never stops a later run"
    );
}

/// The item a queued reply's buttons act on, checked to be its own.
fn queued_item(effects: &[Effect]) -> Token {
    let items: Vec<_> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Reply {
                reply: super::Reply::Queued { item, .. },
                ..
            } => item.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        items.len(),
        1,
        "one queued reply with buttons: {effects:#?}"
    );
    Token::new(&items[0].0).unwrap()
}

fn edits(effects: &[Effect]) -> Vec<Option<String>> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Edit { html, .. } => Some(html.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn run_now_on_a_queued_message_stops_the_run_and_runs_it_next() {
    let rig = Rig::new();
    let first = rig.running("first");
    rig.text("second");
    let third = queued_item(&rig.text("third"));
    let pressed = rig.press(
        &CallbackAction::RunNow {
            item: third.clone(),
        }
        .encode(),
    );
    assert_eq!(button_answer(&pressed), "Runs next");
    let edited = edits(&pressed);
    assert!(
        matches!(edited.as_slice(), [Some(html)] if html.contains("runs next (position 1)")),
        "{edited:?}"
    );
    assert!(first.cancel.token().is_cancelled());
    let report = rig.door.finish(first.run, Outcome::Cancelled).unwrap();
    assert_eq!(report.tickets.len(), 1);
    assert_eq!(report.tickets[0].item.prompt, "third");
    // The message has started: a second tap changes nothing.
    let again = rig.press(&CallbackAction::RunNow { item: third }.encode());
    assert_eq!(
        button_answer(&again),
        "That message is no longer queued: it has started or was removed."
    );
    assert_eq!(edits(&again), [None], "its buttons come off");
    assert!(!report.tickets[0].cancel.token().is_cancelled());
}

#[test]
fn cancel_on_a_queued_message_removes_only_it_and_answers_once() {
    let rig = Rig::new();
    let first = rig.running("first");
    let second = queued_item(&rig.text("second"));
    rig.text("third");
    let data = CallbackAction::Unqueue { item: second }.encode();
    let pressed = rig.press(&data);
    assert_eq!(button_answer(&pressed), "Cancelled");
    assert!(matches!(edits(&pressed).as_slice(), [Some(html)] if html.contains("will not run")));
    assert!(!first.cancel.token().is_cancelled(), "the run goes on");
    assert_eq!(rig.door.lane_status(LANE).queued.len(), 1);
    assert_eq!(
        button_answer(&rig.press(&data)),
        "That message is no longer queued: it has started or was removed."
    );
    let report = rig.door.finish(first.run, Outcome::Completed).unwrap();
    assert_eq!(report.tickets[0].item.prompt, "third");
}

#[test]
fn a_stop_takes_the_buttons_off_what_it_removed() {
    let rig = Rig::new();
    rig.running("first");
    let second = queued_item(&rig.text("second"));
    let effects = rig.text("/stop");
    let unqueued: Vec<_> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Unqueued(items) => Some(items.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(unqueued, [vec![baton_core::ItemId(second.to_string())]]);
}

#[test]
fn retry_button_resubmits_the_failed_item() {
    let rig = Rig::new();
    let ticket = rig.running("try me");
    rig.door.finish(ticket.run, Outcome::Failed).unwrap();
    let pressed = rig.press(&CallbackAction::Retry.encode());
    let tickets = started(pressed);
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].item.prompt, "try me");
}

#[test]
fn stale_garbled_and_empty_buttons_get_a_clear_answer() {
    let rig = Rig::new();
    assert_eq!(button_answer(&rig.press("x")), "");
    assert_eq!(
        button_answer(&rig.press("model:opus")),
        "This button is out of date; use the command again."
    );
    assert_eq!(
        button_answer(&rig.press("s:01")),
        "This button is out of date; use the command again."
    );
    assert_eq!(
        button_answer(&rig.press_as(USER, Some(LANE), None)),
        "This button carries no action."
    );
    assert_eq!(
        button_answer(&rig.press_as(USER, None, Some("rt"))),
        "This button is too old; use the command again."
    );
}

#[test]
fn mode_sets_what_the_operator_allows_and_status_shows_it() {
    let rig = Rig::new();
    let menu = rig.text("/mode");
    let offered: Vec<CallbackAction> = menu_actions(&menu);
    let names: Vec<String> = offered
        .iter()
        .map(|action| match action {
            CallbackAction::Mode(mode) => mode.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["default", "acceptEdits", "plan", "auto", "dontAsk"]);
    assert!(reply(&rig.text("/mode plan")).contains("Mode: plan"));
    assert!(reply(&rig.text("/status")).contains("<b>mode</b> plan"));
    let refused = reply(&rig.text("/mode bypassPermissions"));
    assert!(refused.contains("not a mode this bot offers"), "{refused}");
    assert_eq!(rig.door.preferences(LANE).mode.as_deref(), Some("plan"));
    let pressed = rig.press(&CallbackAction::Mode(Token::new("acceptEdits").unwrap()).encode());
    assert_eq!(button_answer(&pressed), "Mode: acceptEdits");
    let ticket = rig.running("edit it");
    assert_eq!(
        ticket.mode.as_deref(),
        Some("acceptEdits"),
        "a run captures the mode"
    );
}

#[test]
fn mode_switches_a_running_session_but_bypass_only_from_the_next_run() {
    let rig = Rig::with(&[(
        "CLAUDE_ALLOWED_MODES",
        "default,acceptEdits,bypassPermissions",
    )]);
    rig.running("long task");
    let effects = rig.text("/mode acceptEdits");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::SetMode { mode, .. } if mode == "acceptEdits")),
        "{effects:#?}"
    );
    let effects = rig.text("/mode bypassPermissions");
    assert!(reply(&effects).contains("from the next run"));
    assert!(!effects.iter().any(|e| matches!(e, Effect::SetMode { .. })));
}

#[test]
fn a_question_answer_for_a_run_that_ended_is_refused() {
    let rig = Rig::new();
    let ticket = rig.running("ask me");
    let question = rig
        .door
        .ask(ticket.run, "your approval: Bash `ls`".into())
        .unwrap();
    assert!(reply(&rig.text("/status")).contains("Waiting</b> for your approval: Bash `ls`"));
    rig.door.finish(ticket.run, Outcome::Completed).unwrap();
    let data = CallbackAction::Answer {
        run: ticket.run.0,
        question: question.0,
        pick: crate::telegram::callbacks::Pick::Allow,
    }
    .encode();
    assert_eq!(
        button_answer(&rig.press(&data)),
        "That run has ended; this question is closed."
    );
}
