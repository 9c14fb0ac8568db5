//! baton-bot: the Telegram front, the agent drivers, and the glue that plugs
//! them into baton-core.

pub mod drivers;
pub mod platform;
pub mod streaming;
pub mod telegram;
