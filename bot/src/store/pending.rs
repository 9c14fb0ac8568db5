//! The answer to one queued write: awaited by async code, or waited for by a plain thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::{Condvar, Mutex};

use super::StoreError;

/// A result the store's writer will deliver: `.await` it, [`Pending::wait`] for it, or
/// drop it. Unlike most futures it is not lazy: the write happens whether or not anyone
/// awaits its answer, and a failure is logged either way.
pub struct Pending<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    Ready(Option<Result<T, StoreError>>),
    Waiting(Arc<Slot<T>>),
}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
    filled: Condvar,
}

struct SlotState<T> {
    value: Option<Result<T, StoreError>>,
    waker: Option<Waker>,
}

/// The writer's end: fills the answer once. Dropped unfilled (the writer died), it
/// answers with an error rather than leaving the waiter hanging.
pub(super) struct Resolver<T> {
    slot: Option<Arc<Slot<T>>>,
    path: std::path::PathBuf,
}

impl<T> Pending<T> {
    /// An answer known at once (e.g. nothing to wait for, or a write refused before queueing).
    pub(super) fn ready(value: Result<T, StoreError>) -> Pending<T> {
        Pending {
            inner: Inner::Ready(Some(value)),
        }
    }

    pub(super) fn channel(path: &std::path::Path) -> (Pending<T>, Resolver<T>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(SlotState {
                value: None,
                waker: None,
            }),
            filled: Condvar::new(),
        });
        (
            Pending {
                inner: Inner::Waiting(Arc::clone(&slot)),
            },
            Resolver {
                slot: Some(slot),
                path: path.to_path_buf(),
            },
        )
    }

    /// Blocks the calling thread until the answer is there. For threads that may block
    /// (start-up, tests); async code awaits instead.
    pub fn wait(self) -> Result<T, StoreError> {
        match self.inner {
            Inner::Ready(value) => value.expect("a ready answer is taken once"),
            Inner::Waiting(slot) => {
                let mut state = slot.state.lock();
                loop {
                    if let Some(value) = state.value.take() {
                        return value;
                    }
                    slot.filled.wait(&mut state);
                }
            }
        }
    }
}

// The answer is only ever moved out, never pinned in place.
impl<T> Unpin for Pending<T> {}

impl<T> Future for Pending<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Ready(value) => Poll::Ready(value.take().expect("polled after completion")),
            Inner::Waiting(slot) => {
                let mut state = slot.state.lock();
                match state.value.take() {
                    Some(value) => Poll::Ready(value),
                    None => {
                        state.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            }
        }
    }
}

impl<T> Resolver<T> {
    pub(super) fn resolve(mut self, value: Result<T, StoreError>) {
        self.fill(value);
    }

    fn fill(&mut self, value: Result<T, StoreError>) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let waker = {
            let mut state = slot.state.lock();
            state.value = Some(value);
            state.waker.take()
        };
        slot.filled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for Resolver<T> {
    fn drop(&mut self) {
        if self.slot.is_some() {
            let path = self.path.clone();
            self.fill(Err(StoreError::Unusable {
                path,
                problem: "the writer stopped before this write was applied".into(),
            }));
        }
    }
}
