//! The round-robin rings of lanes that are idle with work waiting.
//!
//! Finding the next item is O(1) amortized whatever the number of lanes: a
//! lane is pushed when it becomes ready and popped when it starts. Instead of
//! deleting an entry when a lane stops being ready, entries carry a
//! generation and a popped entry counts only if it is still the lane's own.

use std::collections::VecDeque;

use crate::event::QueueKind;
use crate::item::LaneKey;

#[derive(Debug, Default)]
pub(crate) struct ReadyRings {
    user: VecDeque<(LaneKey, u64)>,
    cron: VecDeque<(LaneKey, u64)>,
    next_generation: u64,
}

impl ReadyRings {
    /// Puts a lane at the back of `kind`'s ring; returns the mark the lane
    /// must keep for its entry to stay valid.
    pub fn push(&mut self, lane: LaneKey, kind: QueueKind) -> (QueueKind, u64) {
        self.next_generation += 1;
        let entry = (lane, self.next_generation);
        match kind {
            QueueKind::User => self.user.push_back(entry),
            QueueKind::Cron => self.cron.push_back(entry),
        }
        (kind, self.next_generation)
    }

    /// Pops front entries of `kind` until `is_current` accepts one.
    pub fn pop(
        &mut self,
        kind: QueueKind,
        mut is_current: impl FnMut(LaneKey, (QueueKind, u64)) -> bool,
    ) -> Option<LaneKey> {
        let ring = match kind {
            QueueKind::User => &mut self.user,
            QueueKind::Cron => &mut self.cron,
        };
        while let Some((lane, generation)) = ring.pop_front() {
            if is_current(lane, (kind, generation)) {
                return Some(lane);
            }
        }
        None
    }
}
