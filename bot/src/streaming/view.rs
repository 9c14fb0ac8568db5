//! The state of one answer as the list of Telegram messages (HTML) that should show it now.
//!
//! It takes the drivers' [`AgentEvent`]s and [`AgentOutcome`] as they are; `Session`
//! and `Usage`, which nothing in the chat shows, are ignored. Each block keeps its
//! rendered messages, so an event costs the rendering of what it changed, not of the
//! whole answer.

use std::sync::Arc;

use crate::drivers::{AgentEvent, AgentOutcome};
use crate::telegram::render::{MarkdownStream, escape_text, is_blank, split_html};

/// Tool lines kept visible in one status message; older ones are counted, not shown.
const VISIBLE_TOOL_LINES: usize = 12;
/// Long tool details (a whole script) are cut to one short line.
const TOOL_DETAIL_CHARS: usize = 120;
/// A failure's message can be a whole stderr dump; its start says what went wrong.
const FAILURE_CHARS: usize = 1500;
/// Thinking is a glimpse of what the agent is doing, not a transcript.
const THINKING_CHARS: usize = 300;

#[derive(Debug, Clone)]
enum Block {
    /// Agent Markdown of one answer segment; `complete` once its `TextSegment` arrived.
    Text {
        markdown: Box<MarkdownStream>,
        complete: bool,
    },
    Tools(Tools),
    /// Messages of a closing remark (failure, stop).
    Footer(Vec<Arc<str>>),
}

impl Block {
    fn text(markdown: &str, complete: bool) -> Block {
        let mut stream = MarkdownStream::new();
        stream.push_str(markdown);
        Block::Text {
            markdown: Box::new(stream),
            complete,
        }
    }

    fn footer(html: &str) -> Block {
        Block::Footer(split_html(html).into_iter().map(Arc::from).collect())
    }

    fn messages(&self) -> &[Arc<str>] {
        match self {
            Block::Text { markdown, .. } => markdown.messages(),
            Block::Tools(tools) => &tools.messages,
            Block::Footer(messages) => messages,
        }
    }
}

/// Tool calls between two answer segments, and their rendered messages.
#[derive(Debug, Clone)]
struct Tools {
    lines: Vec<ToolLine>,
    messages: Vec<Arc<str>>,
}

impl Tools {
    fn new(line: ToolLine) -> Tools {
        let mut tools = Tools {
            lines: vec![line],
            messages: Vec::new(),
        };
        tools.render();
        tools
    }

    fn push(&mut self, line: ToolLine) {
        self.lines.push(line);
        self.render();
    }

    fn render(&mut self) {
        self.messages = split_html(&render_tools(&self.lines))
            .into_iter()
            .map(Arc::from)
            .collect();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ToolLine {
    name: String,
    detail: String,
    finished: Option<bool>,
}

/// One answer, from its first event to its outcome.
#[derive(Debug, Clone, Default)]
pub struct View {
    blocks: Vec<Block>,
    /// Thinking or a notice: shown at the end until the next event replaces it.
    transient: Option<Arc<str>>,
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
    pub fn apply(&mut self, event: AgentEvent) {
        if self.finished {
            return;
        }
        // Questions get their own message with buttons, sent by the runner.
        if matches!(
            event,
            AgentEvent::Session { .. }
                | AgentEvent::Usage { .. }
                | AgentEvent::Asked(_)
                | AgentEvent::Withdrawn { .. }
        ) {
            return;
        }
        self.transient = None;
        match event {
            AgentEvent::TextDelta { text } => match self.blocks.last_mut() {
                Some(Block::Text {
                    markdown,
                    complete: false,
                }) => markdown.push_str(&text),
                _ => self.blocks.push(Block::text(&text, false)),
            },
            AgentEvent::TextSegment { text } => match self.blocks.last_mut() {
                Some(Block::Text { markdown, complete }) if !*complete => {
                    markdown.set(&text);
                    *complete = true;
                }
                _ => self.blocks.push(Block::text(&text, true)),
            },
            AgentEvent::Thinking { text } => {
                let glimpse = shorten(text.trim(), THINKING_CHARS);
                if !glimpse.is_empty() {
                    self.transient = Some(format!("💭 <i>{}</i>", escape_text(&glimpse)).into());
                }
            }
            AgentEvent::Notice { message } => {
                self.transient = Some(format!("ℹ️ {}", escape_text(&message)).into());
            }
            AgentEvent::ToolStarted { name, detail } => self.push_tool(ToolLine {
                name,
                detail,
                finished: None,
            }),
            AgentEvent::ToolFinished { name, ok, detail } => {
                let running = self.blocks.iter_mut().rev().find_map(|block| match block {
                    Block::Tools(tools) => tools
                        .lines
                        .iter()
                        .rposition(|line| line.name == name && line.finished.is_none())
                        .map(|at| (tools, at)),
                    _ => None,
                });
                match running {
                    Some((tools, at)) => {
                        tools.lines[at].finished = Some(ok);
                        tools.render();
                    }
                    // A finish without a start (a driver that reports only results) still shows.
                    None => self.push_tool(ToolLine {
                        name,
                        detail,
                        finished: Some(ok),
                    }),
                }
            }
            AgentEvent::Session { .. }
            | AgentEvent::Usage { .. }
            | AgentEvent::Asked(_)
            | AgentEvent::Withdrawn { .. } => {}
        }
    }

    fn push_tool(&mut self, line: ToolLine) {
        match self.blocks.last_mut() {
            Some(Block::Tools(tools)) => tools.push(line),
            _ => self.blocks.push(Block::Tools(Tools::new(line))),
        }
    }

    /// Ends the answer; the final text is always shown in full, whatever the deltas showed.
    pub fn finish(&mut self, outcome: AgentOutcome) {
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
            AgentOutcome::Completed {
                final_text: Some(text),
            } => self.deliver_final(text),
            AgentOutcome::Completed { final_text: None } => {
                if !self.blocks.iter().any(|b| matches!(b, Block::Text { .. })) {
                    self.blocks.push(Block::footer("<i>(no answer)</i>"));
                }
            }
            AgentOutcome::Failed { message } => self.blocks.push(Block::footer(&format!(
                "⚠️ {}",
                escape_text(&shorten(message.trim(), FAILURE_CHARS))
            ))),
            AgentOutcome::Cancelled => self.blocks.push(Block::footer("⏹ Stopped.")),
            AgentOutcome::Stalled => self.blocks.push(Block::footer(
                "⏳ The agent stopped responding and was stopped.",
            )),
        }
    }

    fn deliver_final(&mut self, text: String) {
        if text.trim().is_empty() {
            return;
        }
        let shown = self.blocks.iter().any(
            |block| matches!(block, Block::Text { markdown, .. } if markdown.text().trim() == text.trim()),
        );
        // Some agents report all the answer's segments together as the final text.
        let all_segments: String = self
            .blocks
            .iter()
            .filter_map(|block| match block {
                Block::Text { markdown, .. } => Some(markdown.text()),
                _ => None,
            })
            .collect();
        if shown || without_whitespace(&all_segments) == without_whitespace(&text) {
            return;
        }
        // Deltas that stopped short of the final text are completed in place, not repeated.
        if let Some(Block::Text { markdown, .. }) = self.blocks.last_mut()
            && text.starts_with(markdown.text())
        {
            markdown.set(&text);
            return;
        }
        self.blocks.push(Block::text(&text, true));
    }

    /// The messages that should show this answer now, in order, each valid Telegram HTML
    /// under the message limit and never blank. Messages that did not change are the
    /// same `Arc`s as before, which makes comparing them cheap.
    pub fn messages(&self) -> Vec<Arc<str>> {
        self.blocks
            .iter()
            .flat_map(Block::messages)
            .chain(&self.transient)
            .filter(|html| !is_blank(html))
            .cloned()
            .collect()
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
    use crate::telegram::render::{markdown_to_html, to_plain};

    fn delta(text: &str) -> AgentEvent {
        AgentEvent::TextDelta { text: text.into() }
    }

    fn segment(text: &str) -> AgentEvent {
        AgentEvent::TextSegment { text: text.into() }
    }

    fn tool(name: &str, detail: &str) -> AgentEvent {
        AgentEvent::ToolStarted {
            name: name.into(),
            detail: detail.into(),
        }
    }

    fn tool_done(name: &str, ok: bool) -> AgentEvent {
        AgentEvent::ToolFinished {
            name: name.into(),
            ok,
            detail: String::new(),
        }
    }

    fn completed(text: &str) -> AgentOutcome {
        AgentOutcome::Completed {
            final_text: Some(text.into()),
        }
    }

    /// The messages as plain strings, to compare with literals.
    fn texts(view: &View) -> Vec<String> {
        view.messages().iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn deltas_grow_one_message_until_the_segment_completes() {
        let mut view = View::new();
        view.apply(delta("Hello "));
        view.apply(delta("**world**"));
        assert_eq!(texts(&view), ["Hello <b>world</b>"]);
        view.apply(segment("Hello **world**!"));
        assert_eq!(texts(&view), ["Hello <b>world</b>!"]);
        view.apply(delta("Next"));
        assert_eq!(texts(&view), ["Hello <b>world</b>!", "Next"]);
    }

    #[test]
    fn tools_group_between_segments_and_mark_results() {
        let mut view = View::new();
        view.apply(segment("Let me check."));
        view.apply(tool("Bash", "echo <hi>\nmore"));
        view.apply(tool("Read", "src/a.rs"));
        view.apply(tool_done("Bash", true));
        view.apply(tool_done("Read", false));
        assert_eq!(
            texts(&view),
            [
                "Let me check.",
                "🔧 Bash: echo &lt;hi&gt; ✓\n🔧 Read: src/a.rs ✗"
            ]
        );
    }

    #[test]
    fn thinking_is_shown_until_the_next_event_replaces_it() {
        let mut view = View::new();
        view.apply(AgentEvent::Thinking {
            text: "pondering <x>".into(),
        });
        assert_eq!(texts(&view), ["💭 <i>pondering &lt;x&gt;</i>"]);
        view.apply(delta("Answer"));
        assert_eq!(texts(&view), ["Answer"]);
    }

    #[test]
    fn final_text_completes_partial_deltas_in_place() {
        let mut view = View::new();
        view.apply(delta("The answer is"));
        view.finish(completed("The answer is 42."));
        assert_eq!(texts(&view), ["The answer is 42."]);
    }

    #[test]
    fn final_text_never_shown_is_appended_and_long_text_is_split() {
        let mut view = View::new();
        view.apply(tool("Bash", "ls"));
        let long = "word ".repeat(2000);
        view.finish(completed(&long));
        let messages = view.messages();
        assert_eq!(messages.len(), 4);
        let shown: String = messages[1..].iter().map(|m| to_plain(m)).collect();
        assert_eq!(shown, long.trim_end());
    }

    #[test]
    fn final_text_made_of_all_segments_is_not_repeated() {
        let mut view = View::new();
        view.apply(segment("First part."));
        view.apply(tool("Bash", "ls"));
        view.apply(segment("Second part."));
        view.finish(completed("First part.\n\nSecond part."));
        assert_eq!(texts(&view), ["First part.", "🔧 Bash: ls", "Second part."]);
    }

    #[test]
    fn events_after_finish_are_ignored() {
        let mut view = View::new();
        view.apply(delta("partial"));
        view.finish(AgentOutcome::Cancelled);
        view.apply(delta(" resurrected"));
        view.apply(AgentEvent::Thinking {
            text: "late".into(),
        });
        assert_eq!(texts(&view), ["partial", "⏹ Stopped."]);
    }

    #[test]
    fn empty_answer_says_so_and_failure_is_escaped() {
        let mut view = View::new();
        view.finish(AgentOutcome::Completed { final_text: None });
        assert_eq!(texts(&view), ["<i>(no answer)</i>"]);
        let mut view = View::new();
        view.finish(AgentOutcome::Failed {
            message: "exit <1>".into(),
        });
        assert_eq!(texts(&view), ["⚠️ exit &lt;1&gt;"]);
        let mut view = View::new();
        view.finish(AgentOutcome::Failed {
            message: "<err>".repeat(5000),
        });
        let messages = view.messages();
        assert_eq!(messages.len(), 1, "its first 1,500 characters");
        assert!(messages[0].ends_with("&gt;…"), "{}", messages[0]);
    }

    #[test]
    fn streamed_deltas_show_what_the_whole_answer_renders() {
        let answer: String = (0..200)
            .map(|i| format!("Step {i} sets **flag {i}** and `call_{i}()`.\n\n"))
            .collect();
        let mut view = View::new();
        let chars: Vec<char> = answer.chars().collect();
        for piece in chars.chunks(32) {
            view.apply(delta(&piece.iter().collect::<String>()));
        }
        let expected = split_html(&markdown_to_html(&answer));
        assert!(expected.len() >= 2);
        assert_eq!(texts(&view), expected);
        view.finish(completed(&answer));
        assert_eq!(texts(&view), expected);
    }

    #[test]
    fn unchanged_messages_are_shared_not_copied() {
        let mut view = View::new();
        view.apply(delta(&"word ".repeat(1000)));
        view.apply(delta("\n\nNext paragraph\n\n"));
        let before = view.messages();
        view.apply(delta("grows"));
        let after = view.messages();
        assert!(before.len() >= 2);
        assert!(Arc::ptr_eq(&before[0], &after[0]));
    }
}
