//! The production family built from parking_lot and std atomics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{CancelSignal, Gauge, Lock, SyncFamily};

/// Primitives for threads outside any model checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdSync;

impl SyncFamily for StdSync {
    type Mutex<T: Send + 'static> = parking_lot::Mutex<T>;
    type AtomicU64 = AtomicU64;
    type Cancel = StdCancel;
}

impl<T: Send> Lock<T> for parking_lot::Mutex<T> {
    fn new(value: T) -> Self {
        parking_lot::Mutex::new(value)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock())
    }
}

impl Gauge for AtomicU64 {
    fn new(value: u64) -> Self {
        AtomicU64::new(value)
    }
    fn load(&self) -> u64 {
        AtomicU64::load(self, Ordering::SeqCst)
    }
    fn store(&self, value: u64) {
        AtomicU64::store(self, value, Ordering::SeqCst)
    }
}

/// A shared flag; runners that need to be woken wrap the core with a family
/// whose signal can be awaited (the bot uses tokio's `CancellationToken`).
#[derive(Debug, Clone, Default)]
pub struct StdCancel(Arc<AtomicBool>);

impl CancelSignal for StdCancel {
    fn new() -> Self {
        Self::default()
    }
    fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
