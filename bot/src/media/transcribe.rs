//! Voice notes and audio to text through an OpenAI-compatible
//! `POST /v1/audio/transcriptions` (OpenAI itself, or a local whisper
//! server), as a multipart form with `file`, `model` and `response_format`.

use std::path::Path;

use serde::Deserialize;

use crate::config::Transcribe;

/// Why a transcription gave no text; worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscribeError {
    #[error("the transcription server did not answer within {0} s")]
    Timeout(u64),
    #[error("the transcription server could not be reached ({0})")]
    Unreachable(String),
    #[error("the transcription server answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the transcription server's answer could not be read ({0})")]
    BadAnswer(String),
    #[error("no speech was recognised")]
    Empty,
    #[error("the recording could not be read ({0})")]
    File(String),
}

#[derive(Debug, Clone)]
pub struct Transcriber {
    settings: Transcribe,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    text: String,
}

impl Transcriber {
    pub fn new(settings: Transcribe) -> Self {
        Transcriber {
            settings,
            client: reqwest::Client::new(),
        }
    }

    /// The text spoken in the recording at `path`, uploaded as `file_name`.
    pub async fn transcribe(
        &self,
        path: &Path,
        file_name: &str,
    ) -> Result<String, TranscribeError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| TranscribeError::File(e.to_string()))?;
        let file = reqwest::multipart::Part::bytes(bytes)
            .file_name(upload_name(file_name))
            .mime_str(mime_of(file_name))
            .map_err(|e| TranscribeError::File(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.settings.model.clone())
            .text("response_format", "json");
        let mut request = self
            .client
            .post(self.settings.endpoint.clone())
            .timeout(self.settings.timeout)
            .multipart(form);
        if let Some(key) = &self.settings.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| self.failure(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.failure(e))?;
        if !status.is_success() {
            return Err(TranscribeError::Status {
                status: status.as_u16(),
                message: error_message(&body),
            });
        }
        let answer: Answer =
            serde_json::from_str(&body).map_err(|e| TranscribeError::BadAnswer(e.to_string()))?;
        let text = answer.text.trim();
        if text.is_empty() {
            return Err(TranscribeError::Empty);
        }
        Ok(text.to_owned())
    }

    fn failure(&self, error: reqwest::Error) -> TranscribeError {
        if error.is_timeout() {
            TranscribeError::Timeout(self.settings.timeout.as_secs())
        } else if error.is_connect() {
            TranscribeError::Unreachable("connection refused or no route".into())
        } else {
            TranscribeError::Unreachable(error.without_url().to_string())
        }
    }
}

/// Telegram names voice notes `.oga`; servers take the same Ogg bytes as `.ogg` only.
pub fn upload_name(file_name: &str) -> String {
    match file_name.strip_suffix(".oga") {
        Some(stem) => format!("{stem}.ogg"),
        None => file_name.to_owned(),
    }
}

fn mime_of(file_name: &str) -> &'static str {
    let ext = Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("ogg" | "oga" | "opus") => "audio/ogg",
        Some("mp3" | "mpga" | "mpeg") => "audio/mpeg",
        Some("m4a" | "mp4") => "audio/mp4",
        Some("wav") => "audio/wav",
        Some("webm") => "audio/webm",
        Some("flac") => "audio/flac",
        _ => "application/octet-stream",
    }
}

/// The `error.message` of an OpenAI error body, else the body's start.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcribe_uploads_oga_as_ogg_and_reads_openai_errors() {
        assert_eq!(upload_name("voice.oga"), "voice.ogg");
        assert_eq!(upload_name("talk.mp3"), "talk.mp3");
        assert_eq!(mime_of("voice.ogg"), "audio/ogg");
        assert_eq!(
            error_message(
                r#"{"error":{"message":"Invalid file format.","type":"invalid_request_error"}}"#
            ),
            "Invalid file format."
        );
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn transcribe_endpoint_takes_base_urls_with_or_without_v1() {
        let endpoint = |base: &str| {
            crate::config::transcription_endpoint(&url::Url::parse(base).unwrap()).to_string()
        };
        for (base, expected) in [
            (
                "https://api.openai.com/v1",
                "https://api.openai.com/v1/audio/transcriptions",
            ),
            (
                "https://api.openai.com/v1/",
                "https://api.openai.com/v1/audio/transcriptions",
            ),
            (
                "http://localhost:8000",
                "http://localhost:8000/v1/audio/transcriptions",
            ),
            (
                "http://host/whisper/",
                "http://host/whisper/v1/audio/transcriptions",
            ),
        ] {
            assert_eq!(endpoint(base), expected, "{base}");
        }
    }
}
