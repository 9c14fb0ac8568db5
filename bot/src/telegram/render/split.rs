//! Telegram HTML cut into messages that fit, fed piece by piece so what is cut stays cut.
//!
//! A message holds at most [`MESSAGE_LIMIT`] UTF-16 units of visible text (after entity
//! parsing; tags count nothing), as Telegram counts. A cut falls at the last paragraph,
//! line or word boundary of the second half of a message if there is one, never inside
//! a tag or an entity; tags open at a cut are closed at the end of the message and
//! reopened at the start of the next one.

use std::sync::Arc;

use super::atoms::{Atom, atoms};

/// Telegram's limit: 4096 UTF-16 units of text after entity parsing.
pub const MESSAGE_LIMIT: usize = 4096;

/// Splits HTML into messages of at most [`MESSAGE_LIMIT`] visible UTF-16 units each.
pub fn split_html(html: &str) -> Vec<String> {
    split_html_limit(html, MESSAGE_LIMIT)
}

/// Splits HTML into messages of at most `limit` visible UTF-16 units each; HTML that
/// fits is returned as it is.
pub fn split_html_limit(html: &str, limit: usize) -> Vec<String> {
    let mut splitter = Splitter::new(limit);
    splitter.push(html);
    splitter.finish()
}

/// A tag open at some point of the HTML, kept to close and reopen it at a cut.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenTag {
    name: Arc<str>,
    raw: Arc<str>,
}

/// A place the current message may end: the byte offset in `pending` after it, and the
/// tags open there.
#[derive(Debug, Clone)]
struct Break {
    at: usize,
    open: Vec<OpenTag>,
}

/// The message split as a machine: [`push`](Self::push) HTML (whole atoms, in order),
/// [`take_cut`](Self::take_cut) the messages that are full, and [`finish`](Self::finish)
/// (on a clone, to look ahead) for the rest.
#[derive(Debug, Clone)]
pub(crate) struct Splitter {
    limit: usize,
    /// Some message was cut: the HTML no longer goes out as it is.
    cut_any: bool,
    /// Full messages, not yet taken.
    cut: Vec<String>,
    /// Tags open where the current message starts, reopened at its start.
    reopen: Vec<OpenTag>,
    /// HTML of the current message so far, without the reopened tags.
    pending: String,
    /// Tags open at the end of `pending`.
    open: Vec<OpenTag>,
    /// Visible UTF-16 units in `pending`.
    len: usize,
    /// The last break of each kind (paragraph, line, word) in the second half of
    /// `pending`; a paragraph break counts as a line and a word break too.
    breaks: [Option<Break>; 3],
    /// The last atom taken was a newline (a second one makes a paragraph break).
    after_newline: bool,
}

impl Splitter {
    pub(crate) fn new(limit: usize) -> Self {
        Splitter {
            limit,
            cut_any: false,
            cut: Vec::new(),
            reopen: Vec::new(),
            pending: String::new(),
            open: Vec::new(),
            len: 0,
            breaks: [None, None, None],
            after_newline: false,
        }
    }

    /// Adds HTML that continues what was pushed; it must not end inside a tag or an entity.
    pub(crate) fn push(&mut self, html: &str) {
        for atom in atoms(html) {
            self.feed(atom);
        }
    }

    /// The messages cut since the last call; they never change again.
    pub(crate) fn take_cut(&mut self) -> Vec<String> {
        std::mem::take(&mut self.cut)
    }

    /// Every message not taken yet, the current one last. Unless something was cut,
    /// that is the HTML exactly as pushed.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.cut_any {
            return vec![self.pending];
        }
        if !self.pending.is_empty() {
            let message = self.message(self.pending.len(), &self.open);
            self.cut.push(message);
        }
        self.cut
    }

    fn feed(&mut self, atom: Atom<'_>) {
        if self.len + atom.width() > self.limit && !self.pending.is_empty() {
            self.cut_message();
        }
        self.take(atom);
    }

    fn take(&mut self, atom: Atom<'_>) {
        self.pending.push_str(atom.raw());
        self.len += atom.width();
        match atom {
            Atom::Open { name, raw } => self.open.push(OpenTag {
                name: name.into(),
                raw: raw.into(),
            }),
            Atom::Close { name, .. } => {
                if let Some(at) = self.open.iter().rposition(|tag| &*tag.name == name) {
                    self.open.truncate(at);
                }
            }
            Atom::Text(_) => {}
        }
        if self.len * 2 >= self.limit {
            let kind = match atom {
                Atom::Text("\n") if self.after_newline => Some(0),
                Atom::Text("\n") => Some(1),
                Atom::Text(" ") => Some(2),
                _ => None,
            };
            if let Some(kind) = kind {
                let at = Break {
                    at: self.pending.len(),
                    open: self.open.clone(),
                };
                for slot in &mut self.breaks[kind..] {
                    *slot = Some(at.clone());
                }
            }
        }
        self.after_newline = atom == Atom::Text("\n");
    }

    /// Ends the current message at its best break and starts the next one after it.
    fn cut_message(&mut self) {
        let (at, open) = match self.breaks.iter().flatten().next() {
            Some(found) => (found.at, found.open.clone()),
            None => (self.pending.len(), self.open.clone()),
        };
        let message = self.message(at, &open);
        self.cut.push(message);
        self.cut_any = true;
        let rest = self.pending.split_off(at);
        self.after_newline = self.pending.ends_with('\n');
        self.pending.clear();
        self.len = 0;
        self.breaks = [None, None, None];
        self.reopen = open.clone();
        self.open = open;
        // What followed the break fits: it is at most the second half of a message.
        self.push(&rest);
    }

    /// The message made of `pending[..end]`, its open tags reopened and closed, with
    /// the elements a cut left empty removed.
    fn message(&self, end: usize, open: &[OpenTag]) -> String {
        let mut message = String::with_capacity(end + 64);
        for tag in &self.reopen {
            message.push_str(&tag.raw);
        }
        message.push_str(&self.pending[..end]);
        for tag in open.iter().rev() {
            message.push_str("</");
            message.push_str(&tag.name);
            message.push('>');
        }
        drop_empty_elements(&message)
    }
}

/// Removes elements with no content, which splitting can leave at a message's edges.
fn drop_empty_elements(html: &str) -> String {
    let mut kept: Vec<Atom<'_>> = Vec::new();
    for atom in atoms(html) {
        if let Atom::Close { name, .. } = atom
            && let Some(Atom::Open { name: open, .. }) = kept.last()
            && *open == name
        {
            kept.pop();
            continue;
        }
        kept.push(atom);
    }
    kept.iter().map(Atom::raw).collect()
}

#[cfg(test)]
mod tests {
    use super::super::atoms::visible_len;
    use super::super::{escape_text, to_plain};
    use super::*;

    #[test]
    fn split_reopens_tags_across_chunks() {
        let html = format!("<b>{}</b>", "word ".repeat(40));
        let chunks = split_html_limit(&html, 60);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(
                chunk.starts_with("<b>") && chunk.ends_with("</b>"),
                "{chunk}"
            );
            assert!(visible_len(chunk) <= 60);
        }
        let text: String = chunks.iter().map(|c| to_plain(c)).collect();
        assert_eq!(text, "word ".repeat(40));
    }

    #[test]
    fn split_prefers_paragraph_boundaries() {
        let html = format!("{}\n\n{}", "a".repeat(30), "b b b b b b b b b b");
        let chunks = split_html_limit(&html, 40);
        assert_eq!(chunks[0], format!("{}\n\n", "a".repeat(30)));
    }

    #[test]
    fn split_never_cuts_an_entity() {
        let html = "&amp;".repeat(30);
        for chunk in split_html_limit(&html, 13) {
            assert!(chunk.len() % 5 == 0, "{chunk}");
        }
    }

    #[test]
    fn split_code_block_is_closed_and_reopened() {
        let body: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let html = format!(
            "<pre><code class=\"language-sh\">{}</code></pre>",
            escape_text(&body)
        );
        let chunks = split_html_limit(&html, 120);
        assert!(chunks.len() > 2);
        for chunk in &chunks {
            assert!(
                chunk.starts_with("<pre><code class=\"language-sh\">"),
                "{chunk}"
            );
            assert!(chunk.ends_with("</code></pre>"), "{chunk}");
        }
    }

    /// Tags and entities cost nothing against the limit; only what the user sees does.
    #[test]
    fn split_counts_visible_text_not_markup() {
        let html = format!("<b>{}</b>", "&lt;".repeat(4096));
        assert_eq!(split_html(&html), [html]);
        let longer = format!("<b>{}</b>", "&lt;".repeat(4097));
        let chunks = split_html(&longer);
        assert_eq!(chunks.len(), 2);
        assert_eq!(visible_len(&chunks[0]), 4096);
        assert_eq!(chunks[1], "<b>&lt;</b>");
    }

    /// Characters outside the Basic Multilingual Plane are two UTF-16 units, as Telegram counts them.
    #[test]
    fn split_counts_utf16_units() {
        let html = "😀".repeat(2049);
        let chunks = split_html(&html);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].chars().count(), 2048);
    }

    #[test]
    fn pushing_in_pieces_splits_like_pushing_at_once() {
        let html = markdown_like();
        let whole = split_html_limit(&html, 50);
        let mut splitter = Splitter::new(50);
        let mut pieces = Vec::new();
        let mut rest = html.as_str();
        // Cut the input after every closing tag: whole atoms, as the renderer pushes them.
        while let Some(at) = rest.find("</b>") {
            splitter.push(&rest[..at + 4]);
            pieces.extend(splitter.take_cut());
            rest = &rest[at + 4..];
        }
        splitter.push(rest);
        pieces.extend(splitter.finish());
        assert_eq!(pieces, whole);
    }

    fn markdown_like() -> String {
        (0..30)
            .map(|i| format!("Step {i} sets <b>flag {i}</b> &amp; checks.\n\n"))
            .collect()
    }
}
