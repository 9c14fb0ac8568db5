//! Limits the core enforces.

use crate::prefs::Preferences;

#[derive(Debug, Clone)]
pub struct Config {
    /// Runs in flight at once across all lanes (at least 1).
    pub capacity: usize,
    /// User items a lane may hold queued; one more is rejected, never dropped.
    pub max_queue: usize,
    /// How many ended item ids are remembered to refuse redeliveries.
    pub dedupe_window: usize,
    /// Retries one run may take after a stall or crash.
    pub max_retries: u32,
    /// Preferences of a lane that never set any.
    pub default_preferences: Preferences,
    /// Whether to keep a journal of events for [`crate::Core::drain_journal`].
    pub journal: bool,
    /// A bug planted on purpose, for the model checkers only.
    #[cfg(feature = "planted-bugs")]
    pub mutation: Option<crate::planted::Mutation>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capacity: 1,
            max_queue: 20,
            dedupe_window: 10_000,
            max_retries: 2,
            default_preferences: Preferences::default(),
            journal: true,
            #[cfg(feature = "planted-bugs")]
            mutation: None,
        }
    }
}
