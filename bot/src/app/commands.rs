//! Slash commands: each one a core operation or a view of the core, and
//! the replies it calls for.

use baton_core::{Driver, ItemId, LaneSnapshot};
use tracing::warn;

use super::effects::{Effect, To};
use super::replies::{Reply, describe, removed};
use super::router::Router;
use crate::telegram::callbacks::{DriverChoice, Token};
use crate::telegram::commands::Command;
use crate::telegram::keyboards::{
    SessionEntry, driver_keyboard, effort_keyboard, model_keyboard, resume_keyboard,
};
use crate::telegram::render::escape_text;

/// Sessions listed per `/resume` page.
pub const RESUME_PAGE: usize = 6;

/// Models offered in `/model`, per driver (the CLI's default is always offered too).
pub fn models(driver: Driver) -> &'static [&'static str] {
    match driver {
        Driver::Claude => &["opus", "sonnet", "haiku"],
        Driver::Codex => &["gpt-5-codex", "gpt-5", "gpt-5-mini"],
    }
}

/// Efforts offered in `/model`, per driver.
pub fn efforts(driver: Driver) -> &'static [&'static str] {
    match driver {
        Driver::Claude => &["low", "medium", "high"],
        Driver::Codex => &["minimal", "low", "medium", "high", "xhigh"],
    }
}

pub fn tokens(values: &[&str]) -> Vec<Token> {
    values
        .iter()
        .filter_map(|value| Token::new(value).ok())
        .collect()
}

pub fn driver_choice(driver: Driver) -> DriverChoice {
    match driver {
        Driver::Claude => DriverChoice::Claude,
        Driver::Codex => DriverChoice::Codex,
    }
}

/// The command a user types on the machine to continue this lane's session.
pub fn handover(driver: Driver, session: &str) -> String {
    match driver {
        Driver::Claude => format!("claude --resume {session}"),
        Driver::Codex => format!("codex resume {session}"),
    }
}

const HELP: &str = "<b>Baton</b> drives a coding agent on this machine.\n\n\
Send a message and the agent works on it; its answer streams here. Messages sent while it works wait their turn.\n\
<code>!text</code> stops the current run and runs <i>text</i> next. <code>stop</code>, <code>!</code> or /stop stop it and clear the queue.\n\n\
/new start a fresh session\n/stop stop and clear the queue\n/status the run, the queue and the session\n\
/debug the scheduler's state\n/retry run the last message again\n/resume continue an earlier session\n\
/model choose model and effort\n/mode what the agent may do without asking\n/switch choose claude or codex\n/cron scheduled prompts\n/usage tokens and cost";

impl Router<'_> {
    pub(super) fn on_command(&self, update_id: i64, to: To, command: Command) -> Vec<Effect> {
        let lane = to.lane;
        match command {
            Command::Start | Command::Help => vec![Effect::html(to, HELP)],
            Command::Stop => self.stop_lane(to),
            Command::New => {
                let downloads = self.downloads.cancel_lane(lane);
                let report = self.door.new_session(lane);
                let run = report.cancelled.as_ref().map(describe);
                let unqueued = report.removed.iter().map(|item| item.id.clone()).collect();
                let removed = removed(&report.removed, downloads);
                vec![
                    Effect::reply(to, Reply::NewSession { run, removed }),
                    Effect::Unqueued(unqueued),
                ]
            }
            Command::Status => {
                let status = self.door.lane_status(lane);
                vec![Effect::html(to, self.status_html(&status))]
            }
            Command::Debug => {
                let snapshot = self.door.snapshot();
                let json =
                    serde_json::to_string_pretty(&snapshot).unwrap_or_else(|e| e.to_string());
                vec![Effect::html(
                    to,
                    format!("<pre>{}</pre>", escape_text(&json)),
                )]
            }
            Command::Retry => {
                let admission = self.door.retry_last(lane, ItemId::update(update_id));
                self.admitted(to, None, admission)
            }
            Command::Cron(args) => self.on_cron(to, &args),
            Command::Usage => self.on_usage(to),
            Command::Resume(_) => self.show_sessions(to, 0),
            Command::Model(name) if !name.trim().is_empty() => {
                let name = name.trim().to_owned();
                let prefs = self
                    .door
                    .update_preferences(lane, |prefs| prefs.model = Some(name));
                vec![Effect::html(
                    to,
                    format!(
                        "Model: <b>{}</b> (from the next run)",
                        escape_text(prefs.model.as_deref().unwrap_or("default"))
                    ),
                )]
            }
            Command::Mode(name) if !name.trim().is_empty() => {
                let (text, mut effects) = self.set_mode(lane, name.trim());
                effects.insert(0, Effect::html(to, escape_text(&text)));
                effects
            }
            Command::Mode(_) => self.mode_menu(to),
            Command::Model(_) => {
                let prefs = self.door.preferences(lane);
                let current_model = prefs.model.as_deref().and_then(|m| Token::new(m).ok());
                let current_effort = prefs.effort.as_deref().and_then(|e| Token::new(e).ok());
                vec![
                    Effect::Menu {
                        to,
                        html: format!("Model for <b>{}</b>:", prefs.driver),
                        keyboard: model_keyboard(
                            &tokens(models(prefs.driver)),
                            current_model.as_ref(),
                        ),
                    },
                    Effect::Menu {
                        to,
                        html: format!("Effort for <b>{}</b>:", prefs.driver),
                        keyboard: effort_keyboard(
                            &tokens(efforts(prefs.driver)),
                            current_effort.as_ref(),
                        ),
                    },
                ]
            }
            Command::Switch(name) if !name.trim().is_empty() => {
                match name.trim().parse::<Driver>() {
                    Ok(driver) => {
                        let answer = self.switch_driver(lane, driver);
                        vec![Effect::html(to, escape_text(&answer))]
                    }
                    Err(error) => vec![Effect::reply(
                        to,
                        Reply::Refused {
                            why: error.to_string(),
                        },
                    )],
                }
            }
            Command::Switch(_) => {
                let prefs = self.door.preferences(lane);
                vec![Effect::Menu {
                    to,
                    html: format!("This chat uses <b>{}</b>. Switch to:", prefs.driver),
                    keyboard: driver_keyboard(driver_choice(prefs.driver)),
                }]
            }
        }
    }

    /// A page of this lane's past sessions of the active driver, newest first.
    pub(super) fn show_sessions(&self, to: To, page: u16) -> Vec<Effect> {
        let lane = to.lane;
        let driver = self.door.preferences(lane).driver;
        let skip = usize::from(page) * RESUME_PAGE;
        let sessions = match self
            .store
            .sessions(lane, driver.as_str(), skip + RESUME_PAGE + 1)
        {
            Ok(sessions) => sessions,
            Err(error) => {
                warn!(%lane, %error, "resume: could not list sessions");
                return vec![Effect::reply(
                    to,
                    Reply::Refused {
                        why: format!("Could not list sessions: {error}"),
                    },
                )];
            }
        };
        let workdir = &self.scope.config.workdir;
        let listed: Vec<SessionEntry> = sessions
            .iter()
            .filter(|record| &record.workdir == workdir)
            .skip(skip)
            .take(RESUME_PAGE)
            .filter_map(|record| {
                let session = Token::new(&record.session_id).ok()?;
                let label = format!(
                    "{} · {}",
                    record.last_used_at.format("%m-%d %H:%M"),
                    record.preview
                );
                Some(SessionEntry { session, label })
            })
            .collect();
        if listed.is_empty() {
            return vec![Effect::html(
                to,
                format!("No earlier {driver} sessions in this chat for this folder."),
            )];
        }
        let has_more = sessions.len() > skip + RESUME_PAGE;
        vec![Effect::Menu {
            to,
            html: format!("Resume a <b>{driver}</b> session:"),
            keyboard: resume_keyboard(&listed, page, has_more),
        }]
    }

    fn status_html(&self, status: &LaneSnapshot) -> String {
        let prefs = &status.preferences;
        let mut out = format!(
            "<b>Driver</b> {} · <b>model</b> {} · <b>effort</b> {} · <b>mode</b> {}",
            prefs.driver,
            escape_text(prefs.model.as_deref().unwrap_or("default")),
            escape_text(prefs.effort.as_deref().unwrap_or("default")),
            escape_text(&self.mode(status.lane)),
        );
        match &status.run {
            Some(run) => {
                out.push_str(&format!("\n<b>Running</b> {}", escape_text(&describe(run))));
                if let Some(tool) = &run.tool {
                    out.push_str(&format!("\n<b>Tool</b> {}", escape_text(tool)));
                }
                for waiting in &run.waiting {
                    out.push_str(&format!("\n<b>Waiting</b> for {}", escape_text(waiting)));
                }
            }
            None => out.push_str("\n<b>Idle</b>"),
        }
        if !status.previews.is_empty() {
            out.push_str(&format!("\n<b>Queued</b> {}", status.previews.len()));
            for preview in &status.previews {
                out.push_str(&format!("\n• {}", escape_text(preview)));
            }
        }
        let session = match prefs.driver {
            Driver::Claude => &status.claude_session,
            Driver::Codex => &status.codex_session,
        };
        match session {
            Some(session) => out.push_str(&format!(
                "\n<b>Session</b> <code>{}</code>\nOn the machine: <code>cd {} &amp;&amp; {}</code>",
                escape_text(session),
                escape_text(&self.scope.config.workdir.display().to_string()),
                escape_text(&handover(prefs.driver, session)),
            )),
            None => out.push_str("\n<b>Session</b> none yet (the next message starts one)"),
        }
        if let Some(usage) = self.usage.get(status.lane) {
            out.push_str(&format!(
                "\n<b>Tokens</b> last run: {} in, {} out",
                usage.input_tokens, usage.output_tokens
            ));
            if let Some(cost) = usage.cost_usd() {
                out.push_str(&format!(" · ${cost:.4}"));
            }
        }
        out.push_str(&format!(
            "\n<b>All chats</b> {} running of {}, {} queued",
            self.door.in_flight(),
            self.door.capacity(),
            self.door.queued()
        ));
        out
    }
}
