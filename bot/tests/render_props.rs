//! Properties of Markdown rendering and message splitting, judged by the fake's Telegram HTML parser.

mod support;

use baton_bot::telegram::render::{
    MESSAGE_LIMIT, MarkdownStream, escape_text, markdown_to_html, split_html, split_html_limit,
    to_plain,
};
use proptest::prelude::*;
use support::fake_telegram::{TEXT_LIMIT, parse_html};

/// Pieces agents' Markdown is made of, including the characters that need escaping.
const PIECES: &[&str] = &[
    "word",
    "longerword",
    " ",
    " ",
    " ",
    "\n",
    "\n\n",
    "**",
    "*",
    "_",
    "`",
    "~~",
    "```rust\n",
    "```\n",
    "\n```\n",
    "- ",
    "1. ",
    "> ",
    "# ",
    "## ",
    "[link](https://example.com/?a=1&b=\"2\")",
    "[bad](javascript:x)",
    "<",
    ">",
    "&",
    "&amp;",
    "\"",
    "'",
    "😀",
    "é",
    "日本",
    "<b>",
    "</i>",
    "|a|b|\n|-|-|\n|c|<d>|\n",
    "    indented\n",
    "- [ ] task\n",
    "---\n",
    "\\*",
    "1) ",
];

/// More block syntax whose meaning depends on the lines around it: setext underlines,
/// table rows, fences, HTML blocks, reference links and definitions, odd line ends.
const BLOCK_PIECES: &[&str] = &[
    "\n\n",
    "\n",
    "===\n",
    "---",
    "|a|b|\n",
    "|-|-|\n",
    "| x | y |",
    "~~~\n",
    "```",
    "<!-- note -->\n",
    "<div>\n",
    "[ref]",
    "[Ref][]",
    "\n[ref]: https://example.com/r\n",
    "   ",
    "\t",
    "\r\n",
    "\r",
    "  - nested\n",
    "2. ",
    "#",
    "#x",
    "> > ",
];

fn markdown(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..max_pieces)
        .prop_map(|pieces| pieces.concat())
}

/// Markdown from both piece sets, block syntax more often than in [`markdown`].
fn block_markdown(max_pieces: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        2 => prop::sample::select(PIECES),
        1 => prop::sample::select(BLOCK_PIECES),
    ];
    prop::collection::vec(piece, 0..max_pieces).prop_map(|pieces| pieces.concat())
}

/// `text` cut into deltas of the given lengths in characters, repeated until it is all sent.
fn deltas(text: &str, lengths: &[usize]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for length in lengths.iter().cycle() {
        if at >= chars.len() {
            break;
        }
        let end = (at + length).min(chars.len());
        out.push(chars[at..end].iter().collect());
        at = end;
    }
    out
}

/// The stream's messages equal the one-shot rendering of its text, and each is valid
/// Telegram HTML with at most `limit` visible UTF-16 units.
fn check_stream(stream: &MarkdownStream, limit: usize) -> Result<(), TestCaseError> {
    let shown: Vec<String> = stream.messages().iter().map(|m| m.to_string()).collect();
    let whole = split_html_limit(&markdown_to_html(stream.text()), limit);
    prop_assert_eq!(&shown, &whole, "text {:?}", stream.text());
    for message in &shown {
        let (text, _) =
            parse_html(message).map_err(|e| TestCaseError::fail(format!("{e}: {message:?}")))?;
        prop_assert!(
            utf16(&text) <= limit,
            "{} > {limit}: {message:?}",
            utf16(&text)
        );
    }
    Ok(())
}

fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Every chunk is valid Telegram HTML within the limit, and together they show exactly the original text.
fn check_split(html: &str, limit: usize) -> Result<(), TestCaseError> {
    let (text, _) = parse_html(html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
    let chunks = split_html_limit(html, limit);
    let mut joined = String::new();
    for chunk in &chunks {
        let (chunk_text, _) =
            parse_html(chunk).map_err(|e| TestCaseError::fail(format!("{e}: {chunk:?}")))?;
        // The limit is on what Telegram counts: the text after entity parsing, not the markup.
        prop_assert!(
            utf16(&chunk_text) <= limit,
            "{} > {limit}: {chunk:?}",
            utf16(&chunk_text)
        );
        prop_assert!(utf16(&chunk_text) <= TEXT_LIMIT);
        prop_assert_eq!(to_plain(chunk), chunk_text.clone());
        joined.push_str(&chunk_text);
    }
    prop_assert_eq!(joined, text);
    Ok(())
}

proptest! {
    #[test]
    fn rendered_markdown_is_valid_telegram_html(md in markdown(200)) {
        let html = markdown_to_html(&md);
        prop_assert!(parse_html(&html).is_ok(), "{:?} -> {:?}: {:?}", md, html, parse_html(&html));
    }

    #[test]
    fn split_chunks_are_valid_bounded_and_lossless(md in markdown(300), limit in 200usize..700) {
        check_split(&markdown_to_html(&md), limit)?;
    }

    #[test]
    fn split_of_long_answers_fits_telegram(md in markdown(3000)) {
        let html = markdown_to_html(&md);
        check_split(&html, MESSAGE_LIMIT)?;
        for chunk in split_html(&html) {
            let (text, _) = parse_html(&chunk).map_err(TestCaseError::fail)?;
            prop_assert!(utf16(&text) <= 4096);
        }
    }

    #[test]
    fn split_of_escaped_code_keeps_every_character(text in "[\\PC\n<>&\"]{0,1500}", limit in 100usize..400) {
        let html = format!("<pre><code class=\"language-sh\">{}</code></pre>", escape_text(&text));
        check_split(&html, limit)?;
    }
}

proptest! {
    // Each case renders every prefix whole to compare: fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn streamed_markdown_renders_like_the_whole_after_every_delta(
        md in block_markdown(300),
        lengths in prop::collection::vec(1usize..48, 1..20),
        limit in 60usize..500,
    ) {
        let mut stream = MarkdownStream::with_limit(limit);
        for delta in deltas(&md, &lengths) {
            stream.push_str(&delta);
            check_stream(&stream, limit)?;
        }
        prop_assert_eq!(stream.text(), md.as_str());
    }

    #[test]
    fn streamed_long_answers_fit_telegram(
        md in markdown(2000),
        lengths in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut stream = MarkdownStream::new();
        for delta in deltas(&md, &lengths) {
            stream.push_str(&delta);
        }
        check_stream(&stream, TEXT_LIMIT)?;
        let whole = split_html(&markdown_to_html(&md));
        prop_assert_eq!(stream.messages().len(), whole.len());
    }
}

#[test]
fn split_leaves_short_html_whole() {
    let html = markdown_to_html("Short **answer**.");
    assert_eq!(split_html(&html), [html]);
}
