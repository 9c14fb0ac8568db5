//! Structured logs that can never print the bot token: it is part of every
//! Bot API URL, and HTTP errors quote URLs, so every line is scrubbed.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Writes each log event to stderr with the secret replaced.
#[derive(Clone)]
pub struct Redacting {
    secret: String,
}

pub struct RedactedLine {
    secret: String,
    buffer: Vec<u8>,
}

impl Write for RedactedLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        let scrubbed = redact(&text, &self.secret);
        let _ = io::stderr().lock().write_all(scrubbed.as_bytes());
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactedLine;
    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            secret: self.secret.clone(),
            buffer: Vec::new(),
        }
    }
}

/// Replaces every occurrence of `secret` (and of its part after the colon,
/// the token's actual secret) with a marker.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let mut out = text.replace(secret, "<token>");
    if let Some((_, key)) = secret.split_once(':')
        && key.len() >= 8
    {
        out = out.replace(key, "<token>");
    }
    out
}

/// Installs the global subscriber; `filter` is a tracing filter such as `info,baton_bot=debug`.
pub fn init(filter: &str, secret: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting {
            secret: secret.to_owned(),
        })
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_the_token_and_its_secret_half() {
        let token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let line = format!(
            "error sending request for url (https://api/bot{token}/GetUpdates) key AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
        );
        let out = redact(&line, token);
        assert!(!out.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "{out}");
        assert!(out.contains("bot<token>/GetUpdates"), "{out}");
    }
}
