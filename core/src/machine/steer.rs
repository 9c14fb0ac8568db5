//! Steering a queued message from its "queued" reply: **Run now** turns it
//! into an interrupt, **Cancel** takes it out of the queue. Each is one atomic
//! step, so a message that has meanwhile started or left the queue is
//! refused, never run twice or lost.

use super::Machine;
use crate::clock::Millis;
use crate::error::Error;
use crate::event::{Event, RemovalReason};
use crate::item::{Item, ItemId, LaneKey};
use crate::planted::mutated;
use crate::run::{CancelReason, RunId};
use crate::sync::CancelSignal;

/// The answer to [`Machine::run_now`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNowReport {
    /// Its new place in the lane (1-based), behind earlier interrupts.
    pub position: usize,
    /// The run cancelled to make room, as `!` would.
    pub cancelled: Option<RunId>,
}

impl<C: CancelSignal> Machine<C> {
    fn user_index(&self, key: LaneKey, item: &ItemId) -> Result<usize, Error> {
        self.lanes
            .get(&key)
            .and_then(|lane| lane.user_queue.iter().position(|queued| &queued.id == item))
            .ok_or_else(|| Error::NotQueued(item.clone()))
    }

    /// The item the lane's run is executing, if it is `item`: a steering
    /// button tapped after its message started (planted bugs only).
    fn started_item(&self, key: LaneKey, item: &ItemId) -> Option<Item> {
        self.lanes
            .get(&key)
            .and_then(|lane| lane.current.as_ref())
            .filter(|run| &run.item.id == item)
            .map(|run| run.item.clone())
    }

    /// **Run now**: the queued user item moves to the head of its lane
    /// (behind earlier interrupts, which the user asked for first) and the
    /// lane's run is cancelled, so the item takes exactly the capacity that
    /// run frees, as a `!` message does.
    pub fn run_now(
        &mut self,
        key: LaneKey,
        item: &ItemId,
        now: Millis,
    ) -> Result<RunNowReport, Error> {
        let from = match self.user_index(key, item) {
            Ok(from) => from,
            // The running message goes back to the head of its lane, as if
            // it were still queued.
            Err(_)
                if mutated!(self.config, RunNowRestartsStarted)
                    && let Some(copy) = self.started_item(key, item) =>
            {
                let lane = self.lanes.get_mut(&key).expect("it runs there");
                lane.user_queue.insert(lane.interrupts, copy);
                lane.interrupts += 1;
                self.queued += 1;
                lane.interrupts - 1
            }
            Err(error) => return Err(error),
        };
        let lane = self.lanes.get_mut(&key).expect("found above");
        let to = if from < lane.interrupts {
            from
        } else {
            let moved = lane.user_queue.remove(from).expect("found above");
            let to = lane.interrupts;
            lane.user_queue.insert(to, moved);
            lane.interrupts += 1;
            self.emit(
                now,
                Event::Moved {
                    item: item.clone(),
                    lane: key,
                    index: to,
                },
            );
            to
        };
        let lane = self.lanes.get(&key).expect("found above");
        let reason = match &lane.current {
            Some(run) if run.item.is_scheduled() => Some(CancelReason::Preempt),
            Some(_) => Some(CancelReason::Interrupt),
            None => None,
        };
        let cancelled = reason.and_then(|reason| self.cancel_current(key, reason, now));
        self.preempt_for_capacity(now);
        self.refresh_ready(key);
        Ok(RunNowReport {
            position: to + 1,
            cancelled,
        })
    }

    /// **Cancel**: the queued item leaves its lane without running.
    pub fn cancel_queued(
        &mut self,
        key: LaneKey,
        item: &ItemId,
        now: Millis,
    ) -> Result<Item, Error> {
        let index = match self.user_index(key, item) {
            Ok(index) => index,
            // Reported removed while it runs on.
            Err(_)
                if mutated!(self.config, CancelReportsStarted)
                    && let Some(running) = self.started_item(key, item) =>
            {
                self.emit(
                    now,
                    Event::Removed {
                        lane: key,
                        items: vec![running.id.clone()],
                        reason: RemovalReason::Cancelled,
                    },
                );
                return Ok(running);
            }
            Err(error) => return Err(error),
        };
        let lane = self.lanes.get_mut(&key).expect("found above");
        let removed = lane.user_queue.remove(index).expect("found above");
        if index < lane.interrupts {
            lane.interrupts -= 1;
        }
        self.queued -= 1;
        self.emit(
            now,
            Event::Removed {
                lane: key,
                items: vec![removed.id.clone()],
                reason: RemovalReason::Cancelled,
            },
        );
        self.retire_items(std::slice::from_ref(&removed), now);
        self.refresh_ready(key);
        Ok(removed)
    }
}
