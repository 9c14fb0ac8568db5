//! Baton's bot library: the rooms that main.rs wires together.

pub mod streaming;
pub mod telegram;
