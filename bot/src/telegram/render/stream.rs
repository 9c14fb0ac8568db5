//! One Markdown answer rendered as it grows: what is final is rendered and split once,
//! only the open end again on each change.
//!
//! Markdown's blocks are settled line by line: once a top-level block is followed by
//! the start of another on a complete line (or a paragraph by a blank line), no later
//! text changes how it renders. Such blocks are rendered once and pushed into a
//! [`Splitter`], which keeps the messages they fill; each change re-renders only the
//! text after them. The one thing that reaches back is a link reference definition
//! (`[x]: https://…` turns an earlier `[x]` into a link): once one appears, the answer
//! is rendered whole on every change, exactly as before.

use std::sync::Arc;

use pulldown_cmark::{Event, Parser, Tag};

use super::split::{MESSAGE_LIMIT, Splitter, split_html_limit};
use super::{HtmlWriter, MARKDOWN, markdown_to_html};

/// The messages of a growing Markdown text, always equal to
/// `split_html(&markdown_to_html(text))` of the text so far.
#[derive(Debug, Clone)]
pub struct MarkdownStream {
    limit: usize,
    text: String,
    /// Text up to here has been searched for its last complete line.
    scanned: usize,
    /// End of the text's last complete line.
    complete: usize,
    /// Complete lines up to here were examined for blocks to settle.
    examined: usize,
    state: State,
    messages: Vec<Arc<str>>,
}

#[derive(Debug, Clone)]
enum State {
    Growing(Box<Settled>),
    /// A link reference definition appeared: the text is rendered whole each time.
    Whole,
}

/// The rendered part of the text that no later text can change.
#[derive(Debug, Clone)]
struct Settled {
    /// Byte offset in the text where the unsettled blocks begin (a line start).
    end: usize,
    /// Renders settled blocks; holds only the newlines after the last one, which a
    /// following block may or may not keep.
    writer: HtmlWriter,
    /// The settled HTML before those newlines, split into messages.
    splitter: Splitter,
    /// Messages the settled HTML filled; they never change.
    full: Vec<Arc<str>>,
}

impl Default for MarkdownStream {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkdownStream {
    pub fn new() -> Self {
        Self::with_limit(MESSAGE_LIMIT)
    }

    /// Messages of at most `limit` visible UTF-16 units, like [`split_html_limit`].
    pub fn with_limit(limit: usize) -> Self {
        let mut stream = MarkdownStream {
            limit,
            text: String::new(),
            scanned: 0,
            complete: 0,
            examined: 0,
            state: State::Growing(Box::new(Settled {
                end: 0,
                writer: HtmlWriter::default(),
                splitter: Splitter::new(limit),
                full: Vec::new(),
            })),
            messages: Vec::new(),
        };
        stream.render();
        stream
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text's messages now; the ones already full are the same `Arc`s each time.
    pub fn messages(&self) -> &[Arc<str>] {
        &self.messages
    }

    pub fn push_str(&mut self, more: &str) {
        if more.is_empty() {
            return;
        }
        self.text.push_str(more);
        self.render();
    }

    /// Replaces the text; one that continues the current text costs only its new part.
    pub fn set(&mut self, text: &str) {
        match text.strip_prefix(self.text.as_str()) {
            Some(more) => self.push_str(more),
            None => {
                *self = Self::with_limit(self.limit);
                self.push_str(text);
            }
        }
    }

    fn render(&mut self) {
        // A last `\r` may yet be the start of `\r\n`: its line is not complete before
        // the next character is known.
        let searchable = self.text.strip_suffix('\r').unwrap_or(&self.text).len();
        if let Some(at) = self.text[self.scanned..searchable].rfind(['\n', '\r']) {
            self.complete = self.scanned + at + 1;
        }
        self.scanned = searchable;
        if let State::Growing(settled) = &mut self.state
            && self.complete > self.examined
        {
            if !settled.settle(&self.text[..self.complete]) {
                self.state = State::Whole;
            }
            self.examined = self.complete;
        }
        let growing = match &self.state {
            State::Growing(settled) => settled.messages(&self.text),
            State::Whole => None,
        };
        self.messages = match growing {
            Some(messages) => messages,
            None => {
                self.state = State::Whole;
                whole(&self.text, self.limit)
            }
        };
    }
}

fn whole(text: &str, limit: usize) -> Vec<Arc<str>> {
    split_html_limit(&markdown_to_html(text), limit)
        .into_iter()
        .map(Arc::from)
        .collect()
}

impl Settled {
    /// Settles the blocks of `lines` (the text's complete lines) that later text can no
    /// longer change. False when they hold a link reference definition.
    fn settle(&mut self, lines: &str) -> bool {
        let region = &lines[self.end..];
        let parser = Parser::new_ext(region, MARKDOWN);
        if parser.reference_definitions().iter().next().is_some() {
            return false;
        }
        let mut depth = 0usize;
        // The events of the last top-level block seen, and where it started.
        let mut block: Vec<Event<'_>> = Vec::new();
        let mut settled_to = 0;
        let mut open = true;
        for (event, range) in parser.into_offset_iter() {
            if depth == 0 && !matches!(event, Event::End(_)) {
                // A block starts: the one before it is final, if this one starts a line.
                let Some(start) = line_start(region, range.start) else {
                    open = false;
                    break;
                };
                if !block.is_empty() {
                    self.write(block.drain(..));
                    settled_to = start;
                }
            }
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) => depth -= 1,
                _ => {}
            }
            block.push(event);
        }
        // A paragraph or heading followed by a blank line is closed too.
        let closed_by_blank = matches!(
            block.first(),
            Some(Event::Start(Tag::Paragraph | Tag::Heading { .. }))
        ) && depth == 0
            && ends_with_blank_line(region);
        if open && closed_by_blank {
            self.write(block.drain(..));
            settled_to = region.len();
        }
        self.end += settled_to;
        true
    }

    /// Renders settled events and hands their HTML to the splitter, all but the
    /// trailing newlines, which depend on what follows.
    fn write<'a>(&mut self, events: impl Iterator<Item = Event<'a>>) {
        for event in events {
            self.writer.event(event);
        }
        let out = std::mem::take(&mut self.writer.out);
        let keep = out.trim_end_matches('\n').len();
        if keep > 0 {
            self.splitter.push(&out[..keep]);
            self.writer.continues = true;
            self.full
                .extend(self.splitter.take_cut().into_iter().map(Arc::from));
        }
        self.writer.out = out[keep..].to_owned();
    }

    /// The messages of `text`: the settled ones and the rest rendered now. `None` when
    /// the unsettled text holds a link reference definition.
    fn messages(&self, text: &str) -> Option<Vec<Arc<str>>> {
        let open = &text[self.end..];
        let parser = Parser::new_ext(open, MARKDOWN);
        if parser.reference_definitions().iter().next().is_some() {
            return None;
        }
        let mut writer = HtmlWriter {
            out: self.writer.out.clone(),
            continues: self.writer.continues,
            ..HtmlWriter::default()
        };
        for event in parser {
            writer.event(event);
        }
        let mut splitter = self.splitter.clone();
        splitter.push(&writer.finish());
        let mut messages = self.full.clone();
        messages.extend(splitter.finish().into_iter().map(Arc::from));
        Some(messages)
    }
}

/// Where the line holding byte `at` starts, if only indentation precedes `at` on it.
fn line_start(text: &str, at: usize) -> Option<usize> {
    let before = &text[..at];
    let indent = before.trim_end_matches([' ', '\t']);
    match indent.chars().next_back() {
        None => Some(0),
        Some('\n' | '\r') => Some(indent.len()),
        Some(_) => None,
    }
}

/// True when the text's last complete line is blank.
fn ends_with_blank_line(lines: &str) -> bool {
    let without_end = lines
        .strip_suffix("\r\n")
        .or_else(|| lines.strip_suffix(['\n', '\r']))
        .unwrap_or(lines);
    without_end
        .trim_end_matches([' ', '\t'])
        .ends_with(['\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::render::split_html_limit;

    fn one_shot(text: &str, limit: usize) -> Vec<String> {
        split_html_limit(&markdown_to_html(text), limit)
    }

    fn shown(stream: &MarkdownStream) -> Vec<String> {
        stream.messages().iter().map(|m| m.to_string()).collect()
    }

    fn streamed(text: &str, piece: usize, limit: usize) -> MarkdownStream {
        let mut stream = MarkdownStream::with_limit(limit);
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(piece) {
            stream.push_str(&chunk.iter().collect::<String>());
            assert_eq!(shown(&stream), one_shot(stream.text(), limit));
        }
        stream
    }

    #[test]
    fn paragraphs_streamed_render_like_the_whole() {
        let text = (0..40)
            .map(|i| format!("Step {i} sets **flag {i}** with `call()`.\n\n"))
            .collect::<String>();
        let stream = streamed(&text, 7, 200);
        assert!(stream.messages().len() > 5);
        let State::Growing(settled) = &stream.state else {
            panic!("no reference definition, so the text keeps growing settled");
        };
        assert!(settled.end > text.len() - 100, "settled to {}", settled.end);
    }

    #[test]
    fn full_messages_are_kept_not_rendered_again() {
        let text = "word ".repeat(300) + "\n\nmore words here\n\n";
        let mut stream = streamed(&text, 11, 100);
        let before = stream.messages()[0].clone();
        stream.push_str("and more");
        assert!(Arc::ptr_eq(&before, &stream.messages()[0]));
    }

    #[test]
    fn a_line_still_open_settles_nothing_it_could_change() {
        // `#` alone is a heading that ends the paragraph; `#x` is not and continues it.
        let mut stream = MarkdownStream::with_limit(100);
        stream.push_str("para\n#");
        stream.push_str("x\n\nnext");
        assert_eq!(shown(&stream), one_shot("para\n#x\n\nnext", 100));
    }

    #[test]
    fn a_reference_definition_renders_the_answer_whole() {
        let text = "See [docs].\n\nMore text.\n\n[docs]: https://example.com\n\nEnd.";
        let stream = streamed(text, 3, 4096);
        assert!(matches!(stream.state, State::Whole));
        assert!(stream.messages()[0].contains("<a href=\"https://example.com\">docs</a>"));
    }

    #[test]
    fn set_replaces_or_continues_the_text() {
        let mut stream = MarkdownStream::with_limit(4096);
        stream.push_str("Hello **wor");
        stream.set("Hello **world**!");
        assert_eq!(shown(&stream), ["Hello <b>world</b>!"]);
        stream.set("Bye.");
        assert_eq!(shown(&stream), ["Bye."]);
    }
}
