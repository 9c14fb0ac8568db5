//! baton-bot: the Telegram front, the agent drivers, and the glue that plugs
//! them into baton-core.

pub mod app;
pub mod config;
pub mod cron;
pub mod drivers;
pub mod export_journal;
pub mod instance_lock;
pub mod logging;
pub mod mcp;
pub mod media;
pub mod platform;
pub mod serve;
pub mod store;
pub mod streaming;
pub mod telegram;
pub mod workspace_diff;
