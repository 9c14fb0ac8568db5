//! The sync family the bot instantiates the core with: parking_lot and std
//! atomics from the core's own backend, and a cancellation signal the tokio
//! tasks running agents can await.

use baton_core::sync::{CancelSignal, SyncFamily};
use tokio_util::sync::CancellationToken;

/// Primitives for the core inside the tokio runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSync;

impl SyncFamily for TokioSync {
    type Mutex<T: Send + 'static> = parking_lot::Mutex<T>;
    type AtomicU64 = std::sync::atomic::AtomicU64;
    type Cancel = RunCancel;
}

/// A run's cancellation: the core cancels it, the runner awaits it.
#[derive(Debug, Clone, Default)]
pub struct RunCancel(CancellationToken);

impl RunCancel {
    pub fn token(&self) -> &CancellationToken {
        &self.0
    }
}

impl CancelSignal for RunCancel {
    fn new() -> Self {
        Self::default()
    }
    fn cancel(&self) {
        self.0.cancel()
    }
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The core as the bot holds it.
pub type Core = baton_core::Core<TokioSync>;
/// A ticket as the bot's runners receive it.
pub type Ticket = baton_core::TicketOf<TokioSync>;

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Config, Item, LaneKey, Millis};

    #[tokio::test]
    async fn stop_wakes_the_runner_awaiting_its_ticket() {
        let core = Core::new(Config::default(), || Millis(0));
        let ticket = core
            .submit(Item::text("u1", LaneKey::chat(1), "hi", Millis(0)))
            .unwrap()
            .ticket()
            .expect("idle lane starts at once");
        let token = ticket.cancel.token().clone();
        let waiter = tokio::spawn(async move { token.cancelled().await });
        core.stop(LaneKey::chat(1), false);
        waiter.await.expect("the runner is woken by the stop");
        assert!(ticket.cancel.is_cancelled());
    }
}
