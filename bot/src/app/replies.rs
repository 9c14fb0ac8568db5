//! Every short reply the bot sends besides streamed answers, in one place:
//! what the user can see, worded once.

use baton_core::{ItemId, RunView};

use crate::telegram::render::escape_text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `item`, when set, gets the Run now and Cancel buttons.
    Queued {
        position: usize,
        item: Option<ItemId>,
    },
    /// Cancel pressed: the queued message left without running.
    Unqueued,
    Interrupting {
        position: usize,
    },
    QueueFull {
        max: usize,
    },
    ShuttingDown,
    Stopped {
        run: Option<String>,
        removed: Vec<String>,
    },
    NothingToStop,
    NewSession {
        run: Option<String>,
        removed: Vec<String>,
    },
    NothingToRetry,
    InterruptedByRestart {
        preview: String,
    },
    StoppedForShutdown {
        preview: String,
    },
    NotAvailable {
        what: String,
    },
    Refused {
        why: String,
    },
    /// Already-rendered HTML (status, help, pickers' headers).
    Html(String),
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|preview| format!("\n• {}", escape_text(preview)))
        .collect()
}

impl Reply {
    pub fn html(&self) -> String {
        match self {
            Reply::Queued { position, .. } => format!("⏳ Queued, position {position}."),
            Reply::Unqueued => "✖ Cancelled; this message will not run.".into(),
            Reply::Interrupting { position } => {
                format!("⏭ Stopping the current run; this runs next (position {position}).")
            }
            Reply::QueueFull { max } => format!(
                "⚠️ This chat already has {max} messages waiting. Not queued: send it again later, or /stop."
            ),
            Reply::ShuttingDown => {
                "⚠️ Baton is shutting down; not queued. Send it again once it is back.".into()
            }
            Reply::Stopped { run, removed } => {
                let mut out = match run {
                    Some(run) => format!("⏹ Stopped: {}", escape_text(run)),
                    None => "⏹ Nothing was running.".into(),
                };
                if !removed.is_empty() {
                    out.push_str(&format!(
                        "\nRemoved {} queued:{}",
                        removed.len(),
                        list(removed)
                    ));
                }
                out
            }
            Reply::NothingToStop => "Nothing to stop.".into(),
            Reply::NewSession { run, removed } => {
                let mut out =
                    String::from("🆕 New session: the next message starts a fresh conversation.");
                if let Some(run) = run {
                    out.push_str(&format!("\nStopped: {}", escape_text(run)));
                }
                if !removed.is_empty() {
                    out.push_str(&format!(
                        "\nRemoved {} queued:{}",
                        removed.len(),
                        list(removed)
                    ));
                }
                out
            }
            Reply::NothingToRetry => "Nothing to retry in this chat yet.".into(),
            Reply::InterruptedByRestart { preview } => format!(
                "⚠️ Baton restarted while this was running, so it was cut off and not rerun: {}\nSend /retry to run it again.",
                escape_text(preview)
            ),
            Reply::StoppedForShutdown { preview } => format!(
                "⚠️ Baton is shutting down; stopped: {}\nQueued messages will run when it is back.",
                escape_text(preview)
            ),
            Reply::NotAvailable { what } => {
                format!("⚠️ {} is not available here.", escape_text(what))
            }
            Reply::Refused { why } => format!("⚠️ {}", escape_text(why)),
            Reply::Html(html) => html.clone(),
        }
    }
}

/// What a stop or `/new` took away, as the user sees it: the queued items,
/// then the downloads still on their way.
pub fn removed(items: &[baton_core::Item], downloads: Vec<String>) -> Vec<String> {
    items
        .iter()
        .map(|item| item.preview(60))
        .chain(downloads)
        .collect()
}

/// How a run is named to the user.
pub fn describe(run: &RunView) -> String {
    format!("{} ({}, {}s)", run.preview, run.driver, run.age_ms / 1000)
}
