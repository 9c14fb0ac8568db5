//! Time as an input: the core never reads a clock of its own.

use serde::{Deserialize, Serialize};

/// Milliseconds since an epoch the embedder chooses (the bot uses Unix time).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    pub fn saturating_sub(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Where [`crate::Core`] gets "now" from; injected so tests and model
/// checkers control it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

impl<F: Fn() -> Millis + Send + Sync> Clock for F {
    fn now(&self) -> Millis {
        self()
    }
}
