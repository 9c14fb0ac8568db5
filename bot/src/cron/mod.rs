//! Scheduled prompts: when they fire, and the task that fires them.

pub mod schedule;
