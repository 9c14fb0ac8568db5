//! Local fakes the integration tests run against, one instance per test.
#![allow(dead_code)]

pub mod fake_telegram;
