//! baton-model-tests: runs baton-core under loom and shuttle, against race
//! scenarios written as data files, and reproduces the audit's race reports
//! against a model of the original TypeScript bot.
//!
//! The pieces, in the order a scenario flows through them:
//! - [`report`]: the TOML format of scenarios and race reports;
//! - [`family`]: the core's sync family instantiated for loom, shuttle and a
//!   witness replayer ([`trace`] records and replays interleavings);
//! - [`system`]: the seam a scenario drives; [`core_system`] is the real
//!   core behind it, run by the core's own lifecycle, [`legacy`] the
//!   original design, [`variants`] wrong designs that prove the checks have
//!   teeth;
//! - [`world`]: one execution of a scenario (actors, runners, settling);
//! - [`invariants`]: SPEC's invariants over what an execution observed;
//! - [`explore`]: the checkers (loom, shuttle PCT, random, DFS, replay);
//! - [`incident`]: a deployment's journal turned into a report.

pub mod core_system;
pub mod explore;
pub mod family;
pub mod incident;
pub mod invariants;
pub mod legacy;
pub mod observe;
pub mod report;
pub mod system;
pub mod trace;
pub mod variants;
pub mod world;
