//! The state of one answer as the list of Telegram messages (HTML) that should show it now.
//!
//! Events mirror the drivers' `AgentEvent` one to one, except `Session` and `Usage`,
//! which nothing in the chat shows: the integrator maps
//! `AgentEvent::TextDelta { text }` to `ViewEvent::TextDelta { text }` and so on, and
//! `AgentOutcome` to [`ViewOutcome`] likewise.

use crate::telegram::render::{escape_text, markdown_to_html, split_html, to_plain};

/// What a driver reported that the chat shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewEvent {
    /// Partial text of the current answer segment.
    TextDelta {
        text: String,
    },
    /// A completed answer segment; its full text replaces the deltas seen so far.
    TextSegment {
        text: String,
    },
    Thinking {
        text: String,
    },
    ToolStarted {
        name: String,
        detail: String,
    },
    ToolFinished {
        name: String,
        ok: bool,
        detail: String,
    },
    Notice {
        message: String,
    },
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewOutcome {
    Completed { final_text: Option<String> },
    Failed { message: String },
    Cancelled,
    Stalled,
}

/// Tool lines kept visible in one status message; older ones are counted, not shown.
const VISIBLE_TOOL_LINES: usize = 12;
/// Long tool details (a whole script) are cut to one short line.
const TOOL_DETAIL_CHARS: usize = 120;
/// A failure's message can be a whole stderr dump; its start says what went wrong.
const FAILURE_CHARS: usize = 1500;
/// Thinking is a glimpse of what the agent is doing, not a transcript.
const THINKING_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    /// Agent Markdown of one answer segment; `complete` once its `TextSegment` arrived.
    Text {
        markdown: String,
        complete: bool,
    },
    Tools(Vec<ToolLine>),
    /// Already-rendered HTML of a closing remark (failure, stop).
    Footer(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ToolLine {
    name: String,
    detail: String,
    finished: Option<bool>,
}

/// One answer, from its first event to its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    blocks: Vec<Block>,
    /// Thinking or a notice: shown at the end until the next event replaces it.
    transient: Option<String>,
    finished: bool,
}

impl View {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Applies one event; events after the outcome are ignored, so a late event cannot reopen the answer.
    pub fn apply(&mut self, event: ViewEvent) {
        if self.finished {
            return;
        }
        self.transient = None;
        match event {
            ViewEvent::TextDelta { text } => match self.blocks.last_mut() {
                Some(Block::Text {
                    markdown,
                    complete: false,
                }) => markdown.push_str(&text),
                _ => self.blocks.push(Block::Text {
                    markdown: text,
                    complete: false,
                }),
            },
            ViewEvent::TextSegment { text } => match self.blocks.last_mut() {
                Some(Block::Text { markdown, complete }) if !*complete => {
                    *markdown = text;
                    *complete = true;
                }
                _ => self.blocks.push(Block::Text {
                    markdown: text,
                    complete: true,
                }),
            },
            ViewEvent::Thinking { text } => {
                let glimpse = shorten(text.trim(), THINKING_CHARS);
                if !glimpse.is_empty() {
                    self.transient = Some(format!("💭 <i>{}</i>", escape_text(&glimpse)));
                }
            }
            ViewEvent::Notice { message } => {
                self.transient = Some(format!("ℹ️ {}", escape_text(&message)));
            }
            ViewEvent::ToolStarted { name, detail } => {
                let line = ToolLine {
                    name,
                    detail,
                    finished: None,
                };
                match self.blocks.last_mut() {
                    Some(Block::Tools(lines)) => lines.push(line),
                    _ => self.blocks.push(Block::Tools(vec![line])),
                }
            }
            ViewEvent::ToolFinished { name, ok, detail } => {
                let running = self.blocks.iter_mut().rev().find_map(|block| match block {
                    Block::Tools(lines) => lines
                        .iter_mut()
                        .rev()
                        .find(|line| line.name == name && line.finished.is_none()),
                    _ => None,
                });
                match running {
                    Some(line) => line.finished = Some(ok),
                    // A finish without a start (a driver that reports only results) still shows.
                    None => {
                        let line = ToolLine {
                            name,
                            detail,
                            finished: Some(ok),
                        };
                        match self.blocks.last_mut() {
                            Some(Block::Tools(lines)) => lines.push(line),
                            _ => self.blocks.push(Block::Tools(vec![line])),
                        }
                    }
                }
            }
        }
    }

    /// Ends the answer; the final text is always shown in full, whatever the deltas showed.
    pub fn finish(&mut self, outcome: ViewOutcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.transient = None;
        for block in &mut self.blocks {
            if let Block::Text { complete, .. } = block {
                *complete = true;
            }
        }
        match outcome {
            ViewOutcome::Completed {
                final_text: Some(text),
            } => self.deliver_final(text),
            ViewOutcome::Completed { final_text: None } => {
                if !self.blocks.iter().any(|b| matches!(b, Block::Text { .. })) {
                    self.blocks
                        .push(Block::Footer("<i>(no answer)</i>".to_owned()));
                }
            }
            ViewOutcome::Failed { message } => self.blocks.push(Block::Footer(format!(
                "⚠️ {}",
                escape_text(&shorten(message.trim(), FAILURE_CHARS))
            ))),
            ViewOutcome::Cancelled => self.blocks.push(Block::Footer("⏹ Stopped.".to_owned())),
            ViewOutcome::Stalled => self.blocks.push(Block::Footer(
                "⏳ The agent stopped responding and was stopped.".to_owned(),
            )),
        }
    }

    fn deliver_final(&mut self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        let shown = self.blocks.iter().any(
            |block| matches!(block, Block::Text { markdown, .. } if markdown.trim() == text.trim()),
        );
        // Some agents report all the answer's segments together as the final text.
        let all_segments: String = self
            .blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text { markdown, .. } => Some(markdown.as_str()),
                _ => None,
            })
            .collect();
        if shown || without_whitespace(&all_segments) == without_whitespace(&text) {
            return;
        }
        // Deltas that stopped short of the final text are completed in place, not repeated.
        if let Some(Block::Text { markdown, .. }) = self.blocks.last_mut()
            && text.starts_with(markdown.as_str())
        {
            *markdown = text;
            return;
        }
        self.blocks.push(Block::Text {
            markdown: text,
            complete: true,
        });
    }

    /// The messages that should show this answer now, in order, each valid Telegram HTML
    /// under the message limit and never empty.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Text { markdown, .. } => out.extend(split_html(&markdown_to_html(markdown))),
                Block::Tools(lines) => out.extend(split_html(&render_tools(lines))),
                Block::Footer(html) => out.extend(split_html(html)),
            }
        }
        out.extend(self.transient.clone());
        out.retain(|html| !to_plain(html).trim().is_empty());
        out
    }
}

fn render_tools(lines: &[ToolLine]) -> String {
    let hidden = lines.len().saturating_sub(VISIBLE_TOOL_LINES);
    let mut out = Vec::with_capacity(VISIBLE_TOOL_LINES + 1);
    if hidden > 0 {
        out.push(format!("<i>… {hidden} earlier</i>"));
    }
    for line in &lines[hidden..] {
        let detail = shorten(
            line.detail.lines().next().unwrap_or("").trim(),
            TOOL_DETAIL_CHARS,
        );
        let mark = match line.finished {
            None => "",
            Some(true) => " ✓",
            Some(false) => " ✗",
        };
        let text = if detail.is_empty() {
            format!("🔧 {}{mark}", line.name)
        } else {
            format!("🔧 {}: {detail}{mark}", line.name)
        };
        out.push(escape_text(&text));
    }
    out.join("\n")
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(text: &str) -> ViewEvent {
        ViewEvent::TextDelta { text: text.into() }
    }

    #[test]
    fn deltas_grow_one_message_until_the_segment_completes() {
        let mut view = View::new();
        view.apply(delta("Hello "));
        view.apply(delta("**world**"));
        assert_eq!(view.messages(), ["Hello <b>world</b>"]);
        view.apply(ViewEvent::TextSegment {
            text: "Hello **world**!".into(),
        });
        assert_eq!(view.messages(), ["Hello <b>world</b>!"]);
        view.apply(delta("Next"));
        assert_eq!(view.messages(), ["Hello <b>world</b>!", "Next"]);
    }

    #[test]
    fn tools_group_between_segments_and_mark_results() {
        let mut view = View::new();
        view.apply(ViewEvent::TextSegment {
            text: "Let me check.".into(),
        });
        view.apply(ViewEvent::ToolStarted {
            name: "Bash".into(),
            detail: "echo <hi>\nmore".into(),
        });
        view.apply(ViewEvent::ToolStarted {
            name: "Read".into(),
            detail: "src/a.rs".into(),
        });
        view.apply(ViewEvent::ToolFinished {
            name: "Bash".into(),
            ok: true,
            detail: String::new(),
        });
        view.apply(ViewEvent::ToolFinished {
            name: "Read".into(),
            ok: false,
            detail: String::new(),
        });
        assert_eq!(
            view.messages(),
            [
                "Let me check.",
                "🔧 Bash: echo &lt;hi&gt; ✓\n🔧 Read: src/a.rs ✗"
            ]
        );
    }

    #[test]
    fn thinking_is_shown_until_the_next_event_replaces_it() {
        let mut view = View::new();
        view.apply(ViewEvent::Thinking {
            text: "pondering <x>".into(),
        });
        assert_eq!(view.messages(), ["💭 <i>pondering &lt;x&gt;</i>"]);
        view.apply(delta("Answer"));
        assert_eq!(view.messages(), ["Answer"]);
    }

    #[test]
    fn final_text_completes_partial_deltas_in_place() {
        let mut view = View::new();
        view.apply(delta("The answer is"));
        view.finish(ViewOutcome::Completed {
            final_text: Some("The answer is 42.".into()),
        });
        assert_eq!(view.messages(), ["The answer is 42."]);
    }

    #[test]
    fn final_text_never_shown_is_appended_and_long_text_is_split() {
        let mut view = View::new();
        view.apply(ViewEvent::ToolStarted {
            name: "Bash".into(),
            detail: "ls".into(),
        });
        let long = "word ".repeat(2000);
        view.finish(ViewOutcome::Completed {
            final_text: Some(long.clone()),
        });
        let messages = view.messages();
        assert_eq!(messages.len(), 4);
        let shown: String = messages[1..].iter().map(|m| to_plain(m)).collect();
        assert_eq!(shown, long.trim_end());
    }

    #[test]
    fn final_text_made_of_all_segments_is_not_repeated() {
        let mut view = View::new();
        view.apply(ViewEvent::TextSegment {
            text: "First part.".into(),
        });
        view.apply(ViewEvent::ToolStarted {
            name: "Bash".into(),
            detail: "ls".into(),
        });
        view.apply(ViewEvent::TextSegment {
            text: "Second part.".into(),
        });
        view.finish(ViewOutcome::Completed {
            final_text: Some("First part.\n\nSecond part.".into()),
        });
        assert_eq!(
            view.messages(),
            ["First part.", "🔧 Bash: ls", "Second part."]
        );
    }

    #[test]
    fn events_after_finish_are_ignored() {
        let mut view = View::new();
        view.apply(delta("partial"));
        view.finish(ViewOutcome::Cancelled);
        view.apply(delta(" resurrected"));
        view.apply(ViewEvent::Thinking {
            text: "late".into(),
        });
        assert_eq!(view.messages(), ["partial", "⏹ Stopped."]);
    }

    #[test]
    fn empty_answer_says_so_and_failure_is_escaped() {
        let mut view = View::new();
        view.finish(ViewOutcome::Completed { final_text: None });
        assert_eq!(view.messages(), ["<i>(no answer)</i>"]);
        let mut view = View::new();
        view.finish(ViewOutcome::Failed {
            message: "exit <1>".into(),
        });
        assert_eq!(view.messages(), ["⚠️ exit &lt;1&gt;"]);
        let mut view = View::new();
        view.finish(ViewOutcome::Failed {
            message: "<err>".repeat(5000),
        });
        let messages = view.messages();
        assert_eq!(messages.len(), 1, "its first 1,500 characters");
        assert!(messages[0].ends_with("&gt;…"), "{}", messages[0]);
    }
}
