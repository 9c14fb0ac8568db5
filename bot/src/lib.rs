//! Baton's bot: the Telegram front, the agent drivers and the glue between them and the core.

pub mod drivers;
