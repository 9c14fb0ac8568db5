//! How a question of the agent reads in the chat, before and after it is
//! answered.

use baton_core::{QuestionId, RunId};
use teloxide::types::InlineKeyboardMarkup;

use crate::drivers::{Ask, Decision};
use crate::telegram::keyboards::{choice_keyboard, permission_keyboard, plan_keyboard};
use crate::telegram::render::escape_text;

/// Characters of a plan shown in its message (Telegram's limit is 4,096).
const PLAN_CHARS: usize = 3_000;

/// The question's message and its buttons.
pub fn asked(run: RunId, id: QuestionId, ask: &Ask) -> (String, InlineKeyboardMarkup) {
    match ask {
        Ask::Permission { tool, detail } => (
            format!(
                "🔐 <b>{}</b> wants permission\n<pre>{}</pre>",
                escape_text(tool),
                escape_text(detail)
            ),
            permission_keyboard(run.0, id.0),
        ),
        Ask::Choice { question, options } => (
            format!(
                "❓ {}\n<i>Tap an option, or reply with your own answer.</i>",
                escape_text(question)
            ),
            choice_keyboard(run.0, id.0, options),
        ),
        Ask::Plan { plan } => {
            let shown: String = plan.chars().take(PLAN_CHARS).collect();
            let more = if shown.len() < plan.len() {
                "\n…"
            } else {
                ""
            };
            (
                format!("📋 <b>The plan</b>\n{}{more}", escape_text(&shown)),
                plan_keyboard(run.0, id.0),
            )
        }
    }
}

/// What the question's message says once `decision` was taken by `who`
/// (a button's presser; `None` for a typed reply, which shows its sender).
pub fn decided(ask: &Ask, decision: &Decision, who: Option<&str>) -> String {
    let what = ask_line(ask);
    let by = who
        .map(|who| format!(" by {}", escape_text(who)))
        .unwrap_or_default();
    match decision {
        Decision::Allow if matches!(ask, Ask::Plan { .. }) => {
            format!("{what}\n✅ Plan approved{by}")
        }
        Decision::Allow => format!("{what}\n✅ Allowed{by}"),
        Decision::AllowForSession => format!("{what}\n✅ Allowed for this session{by}"),
        Decision::Deny { reason } => {
            format!("{what}\n❌ Denied{by}: {}", escape_text(reason))
        }
        Decision::Choose { answer } => {
            format!("{what}\n✅ Answered{by}: {}", escape_text(answer))
        }
    }
}

/// A Deny pressed, its reason still to come.
pub fn denied_awaiting_reason(ask: &Ask, who: &str) -> String {
    format!(
        "{}\n❌ Denied by {}. Send the reason within a minute, or it goes without one.",
        ask_line(ask),
        escape_text(who)
    )
}

/// The question went unanswered: `why` says how it ended.
pub fn closed(ask: &Ask, why: &str) -> String {
    format!("{}\n⏹ {}", ask_line(ask), escape_text(why))
}

fn ask_line(ask: &Ask) -> String {
    match ask {
        Ask::Permission { tool, detail } => format!(
            "🔐 <b>{}</b> <code>{}</code>",
            escape_text(tool),
            escape_text(&first_line(detail))
        ),
        Ask::Choice { question, .. } => format!("❓ {}", escape_text(question)),
        Ask::Plan { .. } => "📋 <b>The plan</b>".into(),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect()
}
