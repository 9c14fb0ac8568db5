//! Admission: submit, interrupt, and `/retry` of a lane's last item.

use super::{Admission, Machine};
use crate::clock::Millis;
use crate::error::Error;
use crate::event::{Event, QueueKind};
use crate::item::{Item, ItemId, LaneKey};
use crate::planted::mutated;
use crate::run::{CancelReason, RunId};
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    pub(super) fn admissible(&self, item: &Item) -> Result<(), Error> {
        if self.shutting_down && !mutated!(self.config, AdmitWhileShuttingDown) {
            return Err(Error::ShuttingDown);
        }
        if self.dedupe.contains(&item.id) && !mutated!(self.config, DedupeForgotten) {
            return Err(Error::Duplicate(item.id.clone()));
        }
        Ok(())
    }

    /// Submits an item: starts it if its lane is idle and capacity is free,
    /// queues it otherwise (preempting a scheduled run that stands in the
    /// way of user work).
    pub fn submit(&mut self, item: Item, now: Millis) -> Result<Admission<C>, Error> {
        self.admissible(&item)?;
        let key = item.lane;
        let scheduled = item.is_scheduled();
        let has_capacity = self.has_capacity() || mutated!(self.config, SubmitIgnoresCapacity);
        let max_queue = self.config.max_queue;
        let drop_oldest = mutated!(self.config, FullQueueDropsOldest);
        let mut dropped = 0;
        let lane = self.lane_mut(key);
        if lane.current.is_none() && lane.queued() == 0 && has_capacity {
            self.dedupe.admit(item.id.clone());
            self.emit(now, Event::Admitted { item: item.clone() });
            return Ok(Admission::Started(self.start_item(key, item, now)));
        }
        if !scheduled && lane.user_queue.len() >= max_queue {
            if !drop_oldest {
                return Err(Error::QueueFull(max_queue));
            }
            lane.user_queue.pop_front();
            lane.interrupts = lane.interrupts.saturating_sub(1);
            dropped = 1;
        }
        // An idle lane with work queued is only possible while capacity is
        // full: the drain leaves nothing startable behind.
        debug_assert!(lane.current.is_some() || !has_capacity || lane.queued() == 0);
        let (queue, index, position) = if scheduled {
            lane.cron_queue.push_back(item.clone());
            let index = lane.cron_queue.len() - 1;
            (QueueKind::Cron, index, lane.user_queue.len() + index + 1)
        } else {
            lane.user_queue.push_back(item.clone());
            let index = lane.user_queue.len() - 1;
            (QueueKind::User, index, index + 1)
        };
        self.queued += 1;
        self.queued -= dropped;
        self.dedupe.admit(item.id.clone());
        let id = item.id.clone();
        self.emit(now, Event::Admitted { item });
        self.emit(
            now,
            Event::Queued {
                item: id,
                lane: key,
                queue,
                index,
            },
        );
        let cancelled = if scheduled {
            None
        } else {
            self.preempt_for(key, now)
        };
        self.refresh_ready(key);
        Ok(Admission::Queued {
            position,
            cancelled,
        })
    }

    /// User work waiting behind scheduled work cancels that scheduled run:
    /// the one holding its lane, or, when capacity is what blocks it, the
    /// oldest scheduled run in flight.
    fn preempt_for(&mut self, key: LaneKey, now: Millis) -> Option<RunId> {
        let in_lane = !mutated!(self.config, NoPreemptInLane);
        let lane = self.lanes.get(&key)?;
        if let Some(run) = &lane.current
            && run.item.is_scheduled()
            && run.cancel_reason.is_none()
            && in_lane
        {
            return self.cancel_current(key, CancelReason::Preempt, now);
        }
        self.preempt_for_capacity(now)
    }

    /// Every lane with user work waiting and no live run needs one slot; the
    /// runs already asked to stop, and free capacity, will provide some.
    /// While the need is larger, the oldest scheduled run in flight is
    /// preempted. Counting only when a scheduled run is in flight keeps this
    /// off the common path.
    pub(super) fn preempt_for_capacity(&mut self, now: Millis) -> Option<RunId> {
        if mutated!(self.config, NoPreemptForCapacity) {
            return None;
        }
        let victim = *self.preemptible.iter().next()?;
        let stopping = |lane: &crate::lane::Lane<C>| {
            lane.current
                .as_ref()
                .is_some_and(|run| run.cancel_reason.is_some())
        };
        let waiting = self
            .lanes
            .values()
            .filter(|lane| {
                !lane.user_queue.is_empty() && (lane.current.is_none() || stopping(lane))
            })
            .count();
        let freeing = self.config.capacity.saturating_sub(self.in_flight)
            + self.lanes.values().filter(|lane| stopping(lane)).count();
        if waiting <= freeing {
            return None;
        }
        let victim_lane = *self.runs.get(&victim)?;
        self.cancel_current(victim_lane, CancelReason::Preempt, now)
    }

    /// A `!` message: cancels the lane's run and waits at the head of the
    /// lane (after earlier interrupts) for exactly the capacity that run
    /// frees. On an idle lane it is a plain submit.
    pub fn interrupt(&mut self, item: Item, now: Millis) -> Result<Admission<C>, Error> {
        self.admissible(&item)?;
        let key = item.lane;
        let max_queue = self.config.max_queue;
        let at_tail = mutated!(self.config, InterruptAtTail);
        let lane = self.lane_mut(key);
        if lane.current.is_none() {
            return self.submit(item, now);
        }
        if lane.user_queue.len() >= max_queue {
            return Err(Error::QueueFull(max_queue));
        }
        let scheduled = lane
            .current
            .as_ref()
            .is_some_and(|run| run.item.is_scheduled());
        let index = if at_tail {
            lane.user_queue.len()
        } else {
            lane.interrupts
        };
        lane.user_queue.insert(index, item.clone());
        lane.interrupts += 1;
        self.queued += 1;
        self.dedupe.admit(item.id.clone());
        let id = item.id.clone();
        self.emit(now, Event::Admitted { item });
        self.emit(
            now,
            Event::Queued {
                item: id,
                lane: key,
                queue: QueueKind::User,
                index,
            },
        );
        // User work displacing a scheduled run preempts it, so the fire is
        // requeued rather than lost.
        let reason = if scheduled {
            CancelReason::Preempt
        } else {
            CancelReason::Interrupt
        };
        let cancelled = if mutated!(self.config, InterruptCancelsNothing) {
            None
        } else {
            self.cancel_current(key, reason, now)
        };
        // A run already stopping frees no slot for this item beyond its own.
        self.preempt_for_capacity(now);
        Ok(Admission::Queued {
            position: index + 1,
            cancelled,
        })
    }

    /// `/retry`: submits the lane's own last started user item again, under
    /// a new id.
    pub fn retry_last(
        &mut self,
        lane: LaneKey,
        id: ItemId,
        now: Millis,
    ) -> Result<Admission<C>, Error> {
        let last = self
            .lanes
            .get(&lane)
            .and_then(|l| l.last_item.clone())
            .ok_or(Error::NothingToRetry)?;
        let item = Item {
            id,
            arrived_at: now,
            ..last
        };
        self.submit(item, now)
    }
}
