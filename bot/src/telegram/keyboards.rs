//! Inline keyboards built from callback actions, so every button's data comes from one encoder.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::callbacks::{CallbackAction, Choice, DriverChoice, Pick, Token};

/// Buttons per row in choice menus; Telegram truncates wider rows on phones.
const ROW_WIDTH: usize = 3;

pub fn button(label: impl Into<String>, action: &CallbackAction) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(label, action.encode())
}

/// Marks the current choice so the user sees it in the menu.
fn label(name: &str, current: bool) -> String {
    if current {
        format!("✓ {name}")
    } else {
        name.to_owned()
    }
}

fn choice_rows(
    options: &[Token],
    current: Option<&Token>,
    action: fn(Choice) -> CallbackAction,
) -> Vec<Vec<InlineKeyboardButton>> {
    let mut buttons = vec![button(
        label("default", current.is_none()),
        &action(Choice::Default),
    )];
    buttons.extend(options.iter().map(|token| {
        button(
            label(token.as_str(), current == Some(token)),
            &action(Choice::Named(token.clone())),
        )
    }));
    buttons.chunks(ROW_WIDTH).map(<[_]>::to_vec).collect()
}

/// Model menu: the driver's default first, then the known models.
pub fn model_keyboard(models: &[Token], current: Option<&Token>) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(choice_rows(models, current, CallbackAction::Model))
}

/// Effort menu: the driver's default first, then the levels it accepts.
pub fn effort_keyboard(levels: &[Token], current: Option<&Token>) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(choice_rows(levels, current, CallbackAction::Effort))
}

/// `/mode`: the modes the operator lets users pick, the current one marked.
pub fn mode_keyboard(modes: &[Token], current: &str) -> InlineKeyboardMarkup {
    let buttons: Vec<InlineKeyboardButton> = modes
        .iter()
        .map(|mode| {
            button(
                label(mode.as_str(), mode.as_str() == current),
                &CallbackAction::Mode(mode.clone()),
            )
        })
        .collect();
    InlineKeyboardMarkup::new(buttons.chunks(2).map(<[_]>::to_vec))
}

pub fn driver_keyboard(current: DriverChoice) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([DriverChoice::ALL
        .into_iter()
        .map(|driver| {
            button(
                label(driver.as_str(), driver == current),
                &CallbackAction::Driver(driver),
            )
        })
        .collect::<Vec<_>>()])
}

/// One resumable session as listed to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub session: Token,
    /// What the user recognises the session by, e.g. its first prompt and age.
    pub label: String,
}

/// One session per row, then a row with the page arrows that apply.
pub fn resume_keyboard(
    sessions: &[SessionEntry],
    page: u16,
    has_more: bool,
) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = sessions
        .iter()
        .map(|entry| {
            vec![button(
                entry.label.clone(),
                &CallbackAction::Resume {
                    session: entry.session.clone(),
                },
            )]
        })
        .collect();
    let mut arrows = Vec::new();
    if page > 0 {
        arrows.push(button("◀", &CallbackAction::ResumePage(page - 1)));
    }
    if has_more {
        arrows.push(button("▶", &CallbackAction::ResumePage(page + 1)));
    }
    if !arrows.is_empty() {
        rows.push(arrows);
    }
    rows.push(vec![button("Cancel", &CallbackAction::Dismiss)]);
    InlineKeyboardMarkup::new(rows)
}

pub fn recap_keyboard(session: &Token) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[true, false].map(|wanted| {
        button(
            if wanted { "Recap" } else { "No recap" },
            &CallbackAction::Recap {
                session: session.clone(),
                wanted,
            },
        )
    })])
}

/// Shown under a running answer.
pub fn stop_keyboard(run: u64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[button("⏹ Stop", &CallbackAction::StopRun { run })]])
}

/// Under a permission prompt.
pub fn permission_keyboard(run: u64, question: u64) -> InlineKeyboardMarkup {
    let answer = |pick| CallbackAction::Answer {
        run,
        question,
        pick,
    };
    InlineKeyboardMarkup::new([
        vec![
            button("✅ Allow", &answer(Pick::Allow)),
            button("❌ Deny", &answer(Pick::Deny)),
        ],
        vec![button(
            "✅ Allow for this session",
            &answer(Pick::AllowForSession),
        )],
    ])
}

/// Under the agent's own question: one button per option, one per row.
pub fn choice_keyboard(run: u64, question: u64, options: &[String]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(options.iter().take(usize::from(u8::MAX)).enumerate().map(
        |(index, label)| {
            let pick = Pick::Option(index as u8);
            vec![button(
                label.clone(),
                &CallbackAction::Answer {
                    run,
                    question,
                    pick,
                },
            )]
        },
    ))
}

/// Under a plan the agent asks to carry out.
pub fn plan_keyboard(run: u64, question: u64) -> InlineKeyboardMarkup {
    let answer = |pick| CallbackAction::Answer {
        run,
        question,
        pick,
    };
    InlineKeyboardMarkup::new([[
        button("✅ Approve plan", &answer(Pick::Allow)),
        button("✏️ Keep planning", &answer(Pick::Deny)),
    ]])
}

/// Shown under the reply that says a message was queued.
pub fn queued_keyboard(item: &Token) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        button("⏭ Run now", &CallbackAction::RunNow { item: item.clone() }),
        button("✖ Cancel", &CallbackAction::Unqueue { item: item.clone() }),
    ]])
}

/// Shown under a failed answer.
pub fn retry_keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[button("↻ Retry", &CallbackAction::Retry)]])
}

/// One Cancel button per listed job, labelled with its id.
pub fn cron_keyboard(jobs: &[i64]) -> InlineKeyboardMarkup {
    let buttons: Vec<InlineKeyboardButton> = jobs
        .iter()
        .map(|job| {
            button(
                format!("✖ Cancel {job}"),
                &CallbackAction::CronCancel { job: *job },
            )
        })
        .collect();
    InlineKeyboardMarkup::new(buttons.chunks(2).map(<[_]>::to_vec).collect::<Vec<_>>())
}

/// The Diff button under a run's change summary.
pub fn diff_keyboard(run: u64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[button("Diff", &CallbackAction::Diff { run })]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    fn actions(markup: &InlineKeyboardMarkup) -> Vec<Vec<(String, CallbackAction)>> {
        markup
            .inline_keyboard
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| match &b.kind {
                        InlineKeyboardButtonKind::CallbackData(data) => {
                            (b.text.clone(), CallbackAction::parse(data).unwrap())
                        }
                        other => panic!("unexpected button {other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn model_keyboard_marks_current_and_parses_back() {
        let models = ["opus", "sonnet", "haiku"].map(|m| Token::new(m).unwrap());
        let rows = actions(&model_keyboard(&models, Some(&models[1])));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0][0],
            ("default".into(), CallbackAction::Model(Choice::Default))
        );
        assert_eq!(
            rows[0][2],
            (
                "✓ sonnet".into(),
                CallbackAction::Model(Choice::Named(models[1].clone()))
            )
        );
        assert_eq!(rows[1][0].0, "haiku");
    }

    #[test]
    fn resume_keyboard_pages_only_where_pages_exist() {
        let entry = SessionEntry {
            session: Token::new("abc").unwrap(),
            label: "fix tests".into(),
        };
        let first = actions(&resume_keyboard(std::slice::from_ref(&entry), 0, true));
        assert_eq!(first[1], vec![("▶".into(), CallbackAction::ResumePage(1))]);
        let last = actions(&resume_keyboard(&[entry], 2, false));
        assert_eq!(last[1], vec![("◀".into(), CallbackAction::ResumePage(1))]);
        assert_eq!(last[2], vec![("Cancel".into(), CallbackAction::Dismiss)]);
    }

    #[test]
    fn driver_keyboard_lists_both_drivers() {
        let rows = actions(&driver_keyboard(DriverChoice::Codex));
        assert_eq!(
            rows[0][1],
            (
                "✓ codex".into(),
                CallbackAction::Driver(DriverChoice::Codex)
            )
        );
        assert_eq!(rows[0][0].1, CallbackAction::Driver(DriverChoice::Claude));
    }
}
