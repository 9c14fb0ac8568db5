//! Refuses an item id seen before: queued, running, or ended recently.

use std::collections::VecDeque;

use crate::hash::FastSet;

use crate::item::ItemId;

#[derive(Debug)]
pub(crate) struct Dedupe {
    /// Queued or running: always refused, whatever the window.
    live: FastSet<ItemId>,
    /// Ended items, the newest `window` of them.
    ended: FastSet<ItemId>,
    ended_order: VecDeque<ItemId>,
    window: usize,
}

impl Dedupe {
    pub fn new(window: usize) -> Self {
        Dedupe {
            live: FastSet::default(),
            ended: FastSet::default(),
            ended_order: VecDeque::new(),
            window,
        }
    }

    pub fn contains(&self, id: &ItemId) -> bool {
        self.live.contains(id) || self.ended.contains(id)
    }

    pub fn admit(&mut self, id: ItemId) {
        self.live.insert(id);
    }

    pub fn end(&mut self, id: &ItemId) {
        if !self.live.remove(id) || self.window == 0 {
            return;
        }
        if self.ended.insert(id.clone()) {
            self.ended_order.push_back(id.clone());
        }
        while self.ended_order.len() > self.window {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
    }
}
