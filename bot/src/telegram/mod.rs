//! Telegram room: rendering, callback data, keyboards, commands and stop phrases.

pub mod callbacks;
pub mod commands;
pub mod keyboards;
pub mod render;
pub mod stop_phrases;
