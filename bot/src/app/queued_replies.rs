//! Which message told the user an item was queued, so its Run now and
//! Cancel buttons come off once the item no longer waits (it started, or a
//! stop removed it). A press on a stale button is still answered clearly;
//! this only keeps the chat from offering what can no longer be done.

use std::collections::HashMap;

use baton_core::{ItemId, LaneKey};
use parking_lot::Mutex;

#[derive(Default)]
pub struct QueuedReplies {
    sent: Mutex<HashMap<ItemId, (LaneKey, i32)>>,
}

impl QueuedReplies {
    pub fn record(&self, item: ItemId, lane: LaneKey, message: i32) {
        self.sent.lock().insert(item, (lane, message));
    }

    /// The queued reply of `item`, forgotten.
    pub fn take(&self, item: &ItemId) -> Option<(LaneKey, i32)> {
        self.sent.lock().remove(item)
    }
}
