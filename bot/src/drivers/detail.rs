//! Short one-line texts for tool details and error messages.

/// Tool details and results are cut to this many characters.
pub const DETAIL_CHARS: usize = 200;

/// The first line of `text`, cut to `max` characters, with "…" when anything was left out.
pub fn clip(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    let first = trimmed.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(max).collect();
    if out.len() < trimmed.len() {
        out.push('…');
    }
    out
}

/// The last `max` characters of `text`, for stderr tails.
pub fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_the_first_line_and_marks_cuts() {
        assert_eq!(clip("echo hi", 10), "echo hi");
        assert_eq!(clip("  a\nb", 10), "a…");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("héllo", 2), "hé…");
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 2), "ef");
        assert_eq!(tail("ab", 5), "ab");
    }
}
