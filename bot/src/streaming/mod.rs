//! Streaming room: one answer turned into Telegram messages, with edits paced to the rate limits.

pub mod answer;
pub mod api;
pub mod coalescer;
pub mod typing;
pub mod view;

#[cfg(test)]
mod test_api;
