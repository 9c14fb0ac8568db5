//! Scheduled prompts: when they fire, how a silent one reports, and importing the
//! original bot's jobs.

pub mod import;
pub mod schedule;
pub mod silent;
