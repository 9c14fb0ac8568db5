//! Baton's bot: Telegram, the agent CLIs and the state that survives restarts, around baton-core.

pub mod config;
pub mod cron;
pub mod instance_lock;
pub mod store;
