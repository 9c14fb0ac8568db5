//! Streaming room: one answer turned into Telegram messages, with edits paced to the rate limits.

pub mod view;
