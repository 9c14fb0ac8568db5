//! The core's sync family instantiated three times: for loom, for shuttle,
//! and for the witness replayer on plain threads. Each also knows how to
//! spawn and join an actor, and notes every step in [`crate::trace`].

use std::cell::Cell;

use baton_core::sync::{CancelSignal, Gauge, Lock, SyncFamily};

use crate::trace;

/// A sync family plus the threads of its checker.
pub trait Model: SyncFamily + Send + Sync {
    const NAME: &'static str;
    /// Spawns an actor thread; the returned closure joins it.
    fn spawn(actor: usize, body: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()>;
    /// The actor running on the current (model) thread, if any.
    fn actor() -> Option<usize>;
    /// Marks one synchronising step of the current actor.
    fn step();
}

macro_rules! checker_family {
    ($family:ident, $name:literal, $krate:ident, $mutex:ident, $gauge:ident, $cancel:ident, $actor:ident) => {
        #[doc = concat!("Primitives of ", $name, ", noting every step for witnesses.")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $family;

        $krate::thread_local! {
            static $actor: Cell<Option<usize>> = Cell::new(None);
        }

        impl SyncFamily for $family {
            type Mutex<T: Send + 'static> = $mutex<T>;
            type AtomicU64 = $gauge;
            type Cancel = $cancel;
        }

        impl Model for $family {
            const NAME: &'static str = $name;
            fn spawn(actor: usize, body: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()> {
                let handle = $krate::thread::spawn(move || {
                    $actor.with(|cell| cell.set(Some(actor)));
                    Self::step();
                    body();
                });
                Box::new(move || handle.join().expect("actors never panic"))
            }
            fn actor() -> Option<usize> {
                $actor.with(|cell| cell.get())
            }
            fn step() {
                trace::note(Self::actor());
            }
        }

        pub struct $mutex<T>($krate::sync::Mutex<T>);

        impl<T: Send> Lock<T> for $mutex<T> {
            fn new(value: T) -> Self {
                $mutex($krate::sync::Mutex::new(value))
            }
            fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
                let mut guard = self.0.lock().expect("no actor panics while holding a lock");
                <$family as Model>::step();
                f(&mut guard)
            }
        }

        /// A sequentially consistent cell. loom models `SeqCst` atomics
        /// only as acquire/release, which lets a load return a value SC
        /// forbids; a cell behind the checker's lock is exactly SC, which is
        /// what the core's gauges and signals promise.
        pub struct $gauge($krate::sync::Mutex<u64>);

        impl Gauge for $gauge {
            fn new(value: u64) -> Self {
                $gauge($krate::sync::Mutex::new(value))
            }
            fn load(&self) -> u64 {
                let value = *self.0.lock().expect("gauges never poison");
                <$family as Model>::step();
                value
            }
            fn store(&self, value: u64) {
                *self.0.lock().expect("gauges never poison") = value;
                <$family as Model>::step();
            }
        }

        #[derive(Clone)]
        pub struct $cancel(std::sync::Arc<$krate::sync::Mutex<bool>>);

        impl CancelSignal for $cancel {
            fn new() -> Self {
                $cancel(std::sync::Arc::new($krate::sync::Mutex::new(false)))
            }
            fn cancel(&self) {
                *self.0.lock().expect("signals never poison") = true;
                <$family as Model>::step();
            }
            fn is_cancelled(&self) -> bool {
                let value = *self.0.lock().expect("signals never poison");
                <$family as Model>::step();
                value
            }
        }
    };
}

checker_family!(
    LoomSync, "loom", loom, LoomMutex, LoomGauge, LoomCancel, LOOM_ACTOR
);
checker_family!(
    ShuttleSync,
    "shuttle",
    shuttle,
    ShuttleMutex,
    ShuttleGauge,
    ShuttleCancel,
    SHUTTLE_ACTOR
);

/// Primitives for a witness replay: std threads, each step gated by
/// [`trace::gate`] so the recorded interleaving happens again.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptSync;

impl SyncFamily for ScriptSync {
    type Mutex<T: Send + 'static> = ScriptMutex<T>;
    type AtomicU64 = ScriptGauge;
    type Cancel = ScriptCancel;
}

impl Model for ScriptSync {
    const NAME: &'static str = "witness";
    fn spawn(actor: usize, body: Box<dyn FnOnce() + Send>) -> Box<dyn FnOnce()> {
        let handle = std::thread::spawn(move || {
            trace::set_script_actor(Some(actor));
            trace::gate();
            body();
            trace::exit();
        });
        Box::new(move || handle.join().expect("actors never panic"))
    }
    fn actor() -> Option<usize> {
        trace::script_actor()
    }
    fn step() {
        trace::gate();
    }
}

pub struct ScriptMutex<T>(std::sync::Mutex<T>);

impl<T: Send> Lock<T> for ScriptMutex<T> {
    fn new(value: T) -> Self {
        ScriptMutex(std::sync::Mutex::new(value))
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        trace::gate();
        let mut guard = match self.0.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                trace::blocked();
                self.0.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        f(&mut guard)
    }
}

pub struct ScriptGauge(std::sync::atomic::AtomicU64);

impl Gauge for ScriptGauge {
    fn new(value: u64) -> Self {
        ScriptGauge(std::sync::atomic::AtomicU64::new(value))
    }
    fn load(&self) -> u64 {
        trace::gate();
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn store(&self, value: u64) {
        trace::gate();
        self.0.store(value, std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(Clone)]
pub struct ScriptCancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl CancelSignal for ScriptCancel {
    fn new() -> Self {
        ScriptCancel(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
            false,
        )))
    }
    fn cancel(&self) {
        trace::gate();
        self.0.store(true, std::sync::atomic::Ordering::SeqCst)
    }
    fn is_cancelled(&self) -> bool {
        trace::gate();
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
