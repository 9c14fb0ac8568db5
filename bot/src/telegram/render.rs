//! Agent Markdown to Telegram HTML, split into messages that fit, with a plain-text fallback.

mod atoms;
mod split;
mod stream;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use atoms::{Atom, atoms, decode_entity};
pub use atoms::{is_blank, visible_len};
pub use split::{MESSAGE_LIMIT, split_html, split_html_limit};
pub use stream::MarkdownStream;

/// The Markdown extensions agents' answers use.
const MARKDOWN: Options = Options::ENABLE_STRIKETHROUGH
    .union(Options::ENABLE_TABLES)
    .union(Options::ENABLE_TASKLISTS);

/// Escapes text for an HTML text node.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute value.
fn escape_attr(text: &str) -> String {
    escape_text(text).replace('"', "&quot;")
}

/// Renders agent Markdown as HTML restricted to the tags Telegram accepts.
pub fn markdown_to_html(markdown: &str) -> String {
    let mut writer = HtmlWriter::default();
    for event in Parser::new_ext(markdown, MARKDOWN) {
        writer.event(event);
    }
    writer.finish()
}

#[derive(Debug, Clone, Default)]
struct HtmlWriter {
    out: String,
    /// HTML written before `out` began (a rendered prefix of the same answer): the
    /// first block is then separated from it like any other.
    continues: bool,
    /// One entry per open list: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// Telegram rejects nested blockquotes, so only the outermost is emitted.
    quote_depth: usize,
    /// Links whose target Telegram would not accept are rendered as text only.
    link_open: Vec<bool>,
    /// What closes the open code block: `</pre>`, or `</code></pre>` when a language was given.
    code_block_closer: &'static str,
    table: Option<Table>,
}

#[derive(Debug, Clone, Default)]
struct Table {
    rows: Vec<Vec<String>>,
    cell: Option<String>,
}

impl HtmlWriter {
    fn event(&mut self, event: Event<'_>) {
        if let Some(table) = self.table.as_mut()
            && !matches!(event, Event::End(TagEnd::Table))
        {
            table.event(event);
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.out.push_str(&escape_text(&text)),
            Event::Code(code) => {
                self.out.push_str("<code>");
                self.out.push_str(&escape_text(&code));
                self.out.push_str("</code>");
            }
            // Raw HTML from the agent is shown, not interpreted.
            Event::Html(html) | Event::InlineHtml(html) => self.out.push_str(&escape_text(&html)),
            Event::InlineMath(math) | Event::DisplayMath(math) => {
                self.out.push_str(&escape_text(&math))
            }
            Event::FootnoteReference(name) => self.out.push_str(&escape_text(&format!("[{name}]"))),
            Event::SoftBreak | Event::HardBreak => self.out.push('\n'),
            Event::Rule => {
                self.block_gap();
                self.out.push_str("──────────");
                self.block_end();
            }
            Event::TaskListMarker(done) => self.out.push_str(if done { "☑ " } else { "☐ " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block_gap(),
            Tag::Heading { .. } => {
                self.block_gap();
                self.out.push_str("<b>");
            }
            Tag::BlockQuote(_) => {
                self.block_gap();
                if self.quote_depth == 0 {
                    self.out.push_str("<blockquote>");
                }
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.block_gap();
                self.code_block_closer = "</pre>";
                match kind {
                    CodeBlockKind::Fenced(info) => {
                        let lang: String = info
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || "+-_.#".contains(*c))
                            .collect();
                        if lang.is_empty() {
                            self.out.push_str("<pre>");
                        } else {
                            self.code_block_closer = "</code></pre>";
                            self.out.push_str(&format!(
                                "<pre><code class=\"language-{}\">",
                                escape_attr(&lang)
                            ));
                        }
                    }
                    CodeBlockKind::Indented => self.out.push_str("<pre>"),
                }
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block_gap();
                } else if !self.out.ends_with('\n') {
                    self.out.push('\n');
                }
                self.lists.push(start);
            }
            Tag::Item => {
                let depth = self.lists.len().saturating_sub(1);
                self.out.push_str(&"  ".repeat(depth));
                match self.lists.last_mut() {
                    Some(Some(n)) => {
                        self.out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => self.out.push_str("• "),
                }
            }
            Tag::Emphasis => self.out.push_str("<i>"),
            Tag::Strong => self.out.push_str("<b>"),
            Tag::Strikethrough => self.out.push_str("<s>"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                let allowed = ["http://", "https://", "tg://", "mailto:"]
                    .iter()
                    .any(|scheme| dest_url.starts_with(scheme));
                if allowed {
                    self.out
                        .push_str(&format!("<a href=\"{}\">", escape_attr(&dest_url)));
                }
                self.link_open.push(allowed);
            }
            Tag::Table(_) => {
                self.block_gap();
                self.table = Some(Table::default());
            }
            Tag::HtmlBlock
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_)
            | Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.block_end(),
            TagEnd::Heading(_) => {
                self.out.push_str("</b>");
                self.block_end();
            }
            TagEnd::BlockQuote(_) => {
                self.quote_depth -= 1;
                if self.quote_depth == 0 {
                    trim_trailing_newlines(&mut self.out);
                    self.out.push_str("</blockquote>");
                }
                self.block_end();
            }
            TagEnd::CodeBlock => {
                if self.out.ends_with('\n') {
                    self.out.pop();
                }
                self.out.push_str(self.code_block_closer);
                self.block_end();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.block_end();
                }
            }
            TagEnd::Item if !self.out.ends_with('\n') => {
                self.out.push('\n');
            }
            TagEnd::Emphasis => self.out.push_str("</i>"),
            TagEnd::Strong => self.out.push_str("</b>"),
            TagEnd::Strikethrough => self.out.push_str("</s>"),
            TagEnd::Link | TagEnd::Image if self.link_open.pop() == Some(true) => {
                self.out.push_str("</a>");
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.out.push_str("<pre>");
                    self.out.push_str(&escape_text(&table.render()));
                    self.out.push_str("</pre>");
                }
                self.block_end();
            }
            _ => {}
        }
    }

    /// Blocks are separated by one blank line, except the first lines of list items.
    fn block_gap(&mut self) {
        if (self.out.is_empty() && !self.continues)
            || self.out.ends_with("<blockquote>")
            || self.in_list_item_start()
        {
            return;
        }
        while !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn in_list_item_start(&self) -> bool {
        !self.lists.is_empty() && (self.out.ends_with("• ") || self.out.ends_with(". "))
    }

    fn block_end(&mut self) {
        if !self.lists.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn finish(mut self) -> String {
        trim_trailing_newlines(&mut self.out);
        self.out
    }
}

fn trim_trailing_newlines(out: &mut String) {
    while out.ends_with('\n') {
        out.pop();
    }
}

impl Table {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(Tag::TableRow) | Event::Start(Tag::TableHead) => {
                self.rows.push(Vec::new())
            }
            Event::Start(Tag::TableCell) => self.cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                let cell = self.cell.take().unwrap_or_default();
                if let Some(row) = self.rows.last_mut() {
                    row.push(cell);
                }
            }
            Event::Text(text) | Event::Code(text) | Event::InlineHtml(text) => {
                if let Some(cell) = self.cell.as_mut() {
                    cell.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(cell) = self.cell.as_mut() {
                    cell.push(' ');
                }
            }
            _ => {}
        }
    }

    /// Plain text with columns padded to equal width, for a `<pre>` block.
    fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut lines = Vec::with_capacity(self.rows.len() + 1);
        for (index, row) in self.rows.iter().enumerate() {
            let cells: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(c, width)| {
                    let cell = row.get(c).map(String::as_str).unwrap_or("");
                    let pad = width - cell.chars().count();
                    format!("{cell}{}", " ".repeat(pad))
                })
                .collect();
            lines.push(cells.join(" | ").trim_end().to_owned());
            if index == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                lines.push(rule.join("-+-"));
            }
        }
        lines.join("\n")
    }
}

/// The text a user would see, for sending without parse mode when Telegram rejects the HTML.
pub fn to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    for atom in atoms(html) {
        if let Atom::Text(text) = atom {
            match decode_entity(text) {
                Some(c) => out.push(c),
                None => out.push_str(text),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_inline_styles_become_telegram_tags() {
        let html = markdown_to_html("**bold** *it* ~~gone~~ `a<b` [x](https://e.com/?a=1&b=\"2\")");
        assert_eq!(
            html,
            "<b>bold</b> <i>it</i> <s>gone</s> <code>a&lt;b</code> \
             <a href=\"https://e.com/?a=1&amp;b=&quot;2&quot;\">x</a>"
        );
    }

    #[test]
    fn fenced_code_keeps_language_and_escapes_content() {
        let html = markdown_to_html("```rust\nfn f() -> &str { \"<\" }\n```");
        assert_eq!(
            html,
            "<pre><code class=\"language-rust\">fn f() -&gt; &amp;str { \"&lt;\" }</code></pre>"
        );
        assert_eq!(markdown_to_html("```\nx\n```"), "<pre>x</pre>");
    }

    #[test]
    fn headings_lists_and_quotes_render_as_lines() {
        let html = markdown_to_html("# Title\n\n- a\n- b\n  1. c\n\n> q\n> > deep\n\ntext");
        assert_eq!(
            html,
            "<b>Title</b>\n\n• a\n• b\n  1. c\n\n<blockquote>q\n\ndeep</blockquote>\n\ntext"
        );
    }

    #[test]
    fn tables_become_preformatted_columns() {
        let html = markdown_to_html("| a | bb |\n|---|---|\n| ccc | <d> |\n");
        assert_eq!(html, "<pre>a   | bb\n----+----\nccc | &lt;d&gt;</pre>");
    }

    #[test]
    fn raw_html_and_unsafe_links_are_shown_as_text() {
        assert_eq!(
            markdown_to_html("<script>x</script>\n\n[y](javascript:alert)"),
            "&lt;script&gt;x&lt;/script&gt;\n\ny"
        );
    }

    #[test]
    fn plain_decodes_entities() {
        assert_eq!(
            to_plain("<b>a &lt;&amp;&gt; &quot;&#33;&#x21;</b>"),
            "a <&> \"!!"
        );
    }
}
