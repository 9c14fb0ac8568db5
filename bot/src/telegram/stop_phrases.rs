//! Recognises messages that mean "stop" and the `!` interrupt prefix.

/// What a plain text message asks of the running agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Stop the current run.
    Stop,
    /// Cancel the current run and run this text next.
    Interrupt(String),
    /// Queue this text as ordinary work.
    Message(String),
}

/// Words that may surround "stop" without changing its meaning.
const POLITE: &[&str] = &[
    "please", "pls", "plz", "now", "it", "bot", "baton", "right", "ok", "okay",
];

/// Whole messages that mean "stop"; a longer sentence that merely contains the word does not.
pub fn is_stop_phrase(text: &str) -> bool {
    let lowered = text.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let stops = words.iter().filter(|w| **w == "stop").count();
    stops >= 1 && words.iter().all(|w| *w == "stop" || POLITE.contains(w))
}

/// Classifies a text message: `!` alone or `!stop` stops, `!text` interrupts with text.
pub fn classify(text: &str) -> Intent {
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix('!') {
        let rest = rest.trim();
        if rest.is_empty() || is_stop_phrase(rest) {
            return Intent::Stop;
        }
        return Intent::Interrupt(rest.to_owned());
    }
    if is_stop_phrase(trimmed) {
        return Intent::Stop;
    }
    Intent::Message(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_phrases_match_whole_polite_requests() {
        for text in [
            "stop",
            "Stop.",
            "please stop",
            "STOP!!",
            "/stop",
            "stop please",
            "  stop, now ",
            "stop stop",
        ] {
            assert!(is_stop_phrase(text), "{text}");
        }
    }

    #[test]
    fn stop_phrases_ignore_sentences_about_stopping() {
        for text in [
            "stop the server and restart it",
            "don't stop",
            "stopwatch",
            "",
            "please",
            "bus stop nearby",
        ] {
            assert!(!is_stop_phrase(text), "{text}");
        }
    }

    #[test]
    fn bang_prefix_interrupts_or_stops() {
        assert_eq!(classify("!"), Intent::Stop);
        assert_eq!(classify("!stop"), Intent::Stop);
        assert_eq!(classify("! Stop please"), Intent::Stop);
        assert_eq!(
            classify("!use tabs instead"),
            Intent::Interrupt("use tabs instead".into())
        );
        assert_eq!(classify("please stop"), Intent::Stop);
        assert_eq!(
            classify("fix the bug!"),
            Intent::Message("fix the bug!".into())
        );
    }
}
