//! Test support: local fakes on 127.0.0.1 port 0, one per test, and helpers
//! to run the real agent CLIs against them.
#![allow(dead_code)] // each test binary uses its own part of the support code

pub mod agent_cli;
pub mod bot;
pub mod fake_anthropic;
pub mod fake_api;
pub mod fake_openai;
pub mod fake_telegram;
