//! The one seam through which the core touches synchronisation primitives.
//!
//! Everything in `baton-core` that needs a lock, an atomic or a cancellation
//! signal names it through [`SyncFamily`]; nothing else in the crate names
//! `std::sync`, parking_lot, tokio, loom or shuttle. Production picks
//! [`StdSync`] (or the bot's tokio family), the model checkers pick theirs,
//! and the same logic runs under all of them in one build, with no `cfg`.

mod std_family;

pub use std_family::{StdCancel, StdSync};

/// A family of primitives the core is generic over.
pub trait SyncFamily: Sized + 'static {
    /// A mutual-exclusion lock; see [`Lock`].
    type Mutex<T: Send + 'static>: Lock<T>;
    /// A 64-bit atomic cell, used for lock-free gauges.
    type AtomicU64: Gauge;
    /// The signal a run's agent watches to know it must stop.
    type Cancel: CancelSignal;
}

/// Closure-style locking: the guard never escapes `with`, so it cannot be
/// held across an `.await` in the bot or leak into a model-checked actor.
pub trait Lock<T>: Send + Sync {
    fn new(value: T) -> Self;
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

/// A counter readable without the lock (sequentially consistent).
pub trait Gauge: Send + Sync {
    fn new(value: u64) -> Self;
    fn load(&self) -> u64;
    fn store(&self, value: u64);
}

/// Cancellation handed to a run's runner together with its ticket.
///
/// The core calls `cancel` while it holds its lock; implementations must not
/// block (waking waiters is fine).
pub trait CancelSignal: Clone + Send + Sync + 'static {
    fn new() -> Self;
    fn cancel(&self);
    fn is_cancelled(&self) -> bool;
}
