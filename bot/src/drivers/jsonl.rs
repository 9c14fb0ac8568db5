//! Lenient JSONL reading: agent output lines in, typed events or notices out, never a panic.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::AgentEvent;

/// Longest line kept whole; a tool result can be large, but a runaway line must not eat memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// What one output line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    Blank,
    Event(T),
    /// Not JSON or not the expected shape: the message says why, for a `Notice`.
    Unreadable(String),
}

/// Decodes one line; unknown event types and fields are left to `T`'s serde attributes to ignore.
pub fn decode<T: DeserializeOwned>(agent: &str, line: &str) -> Decoded<T> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Decoded::Blank;
    }
    match serde_json::from_str(trimmed) {
        Ok(event) => Decoded::Event(event),
        Err(err) => Decoded::Unreadable(format!(
            "{agent} printed an unreadable line ({err}): {}",
            crate::drivers::detail::clip(trimmed, 120)
        )),
    }
}

/// Token counts as both CLIs print them. Claude counts cache reads and writes apart from
/// `input_tokens`; codex counts them within it (its `cached_input_tokens` is a part, not added).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    /// The event for these counts and, where the CLI reports it, the cost in US dollars.
    pub fn event(self, cost_usd: Option<f64>) -> AgentEvent {
        AgentEvent::Usage {
            input_tokens: self.input_tokens
                + self.cache_creation_input_tokens
                + self.cache_read_input_tokens,
            output_tokens: self.output_tokens,
            cost_micro_usd: cost_usd
                .filter(|usd| usd.is_finite() && *usd >= 0.0)
                .map(|usd| (usd * 1_000_000.0).round() as u64),
        }
    }
}

/// One line from a byte stream: lossy UTF-8, trailing newline removed, over-long lines cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawLine {
    Text(String),
    /// The line was longer than the limit and was dropped; `len` bytes were skipped.
    TooLong {
        len: usize,
    },
}

/// Splits a byte stream into lines without trusting its encoding or its line lengths.
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LINE_BYTES)
    }

    pub fn with_limit(inner: R, max: usize) -> Self {
        Self {
            inner: BufReader::new(inner),
            max,
        }
    }

    /// The next line, or `None` at end of stream (a read error counts as the end).
    pub async fn next_line(&mut self) -> Option<RawLine> {
        let mut line = Vec::new();
        let mut skipped = 0usize;
        loop {
            let chunk = match self.inner.fill_buf().await {
                Ok(chunk) => chunk,
                Err(_) => return None,
            };
            if chunk.is_empty() {
                if line.is_empty() && skipped == 0 {
                    return None;
                }
                break;
            }
            let (taken, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(pos) => (pos + 1, true),
                None => (chunk.len(), false),
            };
            let piece = &chunk[..taken];
            if skipped > 0 || line.len() + piece.len() > self.max + 1 {
                skipped += line.len() + piece.len();
                line.clear();
            } else {
                line.extend_from_slice(piece);
            }
            self.inner.consume(taken);
            if done {
                break;
            }
        }
        if skipped > 0 {
            return Some(RawLine::TooLong { len: skipped });
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(RawLine::Text(String::from_utf8_lossy(&line).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq, Eq)]
    #[serde(tag = "type")]
    enum Ev {
        #[serde(rename = "a")]
        A { n: u32 },
        #[serde(other)]
        Other,
    }

    #[test]
    fn decode_ignores_unknown_types_and_fields() {
        assert_eq!(
            decode::<Ev>("t", r#"{"type":"zzz","x":1}"#),
            Decoded::Event(Ev::Other)
        );
        assert_eq!(
            decode::<Ev>("t", r#"{"type":"a","n":2,"extra":[1]}"#),
            Decoded::Event(Ev::A { n: 2 })
        );
        assert_eq!(decode::<Ev>("t", "   "), Decoded::Blank);
    }

    #[test]
    fn decode_reports_bad_lines_as_unreadable() {
        let Decoded::Unreadable(msg) = decode::<Ev>("claude", "not json {") else {
            panic!("a bad line must be unreadable");
        };
        assert!(
            msg.starts_with("claude printed an unreadable line"),
            "{msg}"
        );
        assert!(matches!(
            decode::<Ev>("t", r#"{"type":"a","n":"x"}"#),
            Decoded::Unreadable(_)
        ));
    }

    #[tokio::test]
    async fn line_reader_splits_lossy_and_cuts_long_lines() {
        let input: &[u8] = b"one\r\n\xff\xfetwo\n0123456789abcdef\nlast";
        let mut reader = LineReader::with_limit(input, 8);
        assert_eq!(reader.next_line().await, Some(RawLine::Text("one".into())));
        assert_eq!(
            reader.next_line().await,
            Some(RawLine::Text("\u{fffd}\u{fffd}two".into()))
        );
        assert_eq!(reader.next_line().await, Some(RawLine::TooLong { len: 17 }));
        assert_eq!(reader.next_line().await, Some(RawLine::Text("last".into())));
        assert_eq!(reader.next_line().await, None);
    }
}
