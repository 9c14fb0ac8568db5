//! Properties of Markdown rendering and message splitting, judged by the fake's Telegram HTML parser.

mod support;

use baton_bot::telegram::render::{
    MESSAGE_LIMIT, escape_text, markdown_to_html, split_html, split_html_limit, to_plain,
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

fn markdown(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..max_pieces)
        .prop_map(|pieces| pieces.concat())
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
        prop_assert!(
            utf16(chunk) <= limit,
            "{} > {limit}: {chunk:?}",
            utf16(chunk)
        );
        let (chunk_text, _) =
            parse_html(chunk).map_err(|e| TestCaseError::fail(format!("{e}: {chunk:?}")))?;
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
            prop_assert!(utf16(&chunk) < 4096);
        }
    }

    #[test]
    fn split_of_escaped_code_keeps_every_character(text in "[\\PC\n<>&\"]{0,1500}", limit in 100usize..400) {
        let html = format!("<pre><code class=\"language-sh\">{}</code></pre>", escape_text(&text));
        check_split(&html, limit)?;
    }
}

#[test]
fn split_leaves_short_html_whole() {
    let html = markdown_to_html("Short **answer**.");
    assert_eq!(split_html(&html), [html]);
}
