//! baton-bot: Telegram and the agent CLIs around baton-core.

pub mod platform;
