//! One lane's state: preferences, agent sessions, its two queues, its run.

use std::collections::VecDeque;

use crate::clock::Millis;
use crate::event::QueueKind;
use crate::item::Item;
use crate::prefs::{Driver, Preferences};
use crate::run::{CancelReason, QuestionId, RunId, RunPhase, RunView};

/// The run a lane holds, from ticket to finish.
#[derive(Debug)]
pub(crate) struct Run<C> {
    pub id: RunId,
    pub item: Item,
    pub driver: Driver,
    pub model: Option<String>,
    pub phase: RunPhase,
    pub attempt: u32,
    pub admitted_at: Millis,
    pub tool: Option<String>,
    /// Questions put to the user and not yet answered, oldest first.
    pub questions: Vec<(QuestionId, String)>,
    pub cancel_reason: Option<CancelReason>,
    pub cancel: C,
}

impl<C> Run<C> {
    pub fn view(&self, now: Millis) -> RunView {
        RunView {
            run: self.id,
            lane: self.item.lane,
            item: self.item.id.clone(),
            preview: self.item.preview(60),
            scheduled: self.item.is_scheduled(),
            driver: self.driver,
            model: self.model.clone(),
            phase: self.phase,
            attempt: self.attempt,
            admitted_at: self.admitted_at,
            age_ms: now.saturating_sub(self.admitted_at),
            tool: self.tool.clone(),
            // A cancelled run's questions can no longer be answered: the
            // stop resolved them as denied, so it waits for nothing.
            waiting: if self.cancel_reason.is_some() {
                Vec::new()
            } else {
                self.questions
                    .iter()
                    .map(|(_, summary)| summary.clone())
                    .collect()
            },
            cancel: self.cancel_reason,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Lane<C> {
    pub preferences: Preferences,
    /// Agent session per driver, indexed by [`Driver::index`].
    pub sessions: [Option<String>; 2],
    /// `/new` happened while a run was in flight: forget the sessions when it ends.
    pub forget_sessions_on_finish: bool,
    pub current: Option<Run<C>>,
    /// User items; the first `interrupts` of them came from `!` interrupts.
    pub user_queue: VecDeque<Item>,
    pub interrupts: usize,
    /// Scheduled items; they start only when `user_queue` is empty.
    pub cron_queue: VecDeque<Item>,
    /// What `/retry` resubmits: this lane's own last started item.
    pub last_item: Option<Item>,
    /// Generation of this lane's valid entry in a ready ring, if any.
    pub ready: Option<(QueueKind, u64)>,
}

impl<C> Lane<C> {
    pub fn new(preferences: Preferences) -> Self {
        Lane {
            preferences,
            sessions: [None, None],
            forget_sessions_on_finish: false,
            current: None,
            user_queue: VecDeque::new(),
            interrupts: 0,
            cron_queue: VecDeque::new(),
            last_item: None,
            ready: None,
        }
    }

    pub fn queued(&self) -> usize {
        self.user_queue.len() + self.cron_queue.len()
    }

    /// Which ready ring the lane belongs in: idle with work waiting.
    pub fn ready_kind(&self) -> Option<QueueKind> {
        if self.current.is_some() {
            None
        } else if !self.user_queue.is_empty() {
            Some(QueueKind::User)
        } else if !self.cron_queue.is_empty() {
            Some(QueueKind::Cron)
        } else {
            None
        }
    }

    /// Takes the item that should start next: interrupts, then user items in
    /// arrival order, then scheduled items.
    pub fn pop_next(&mut self) -> Option<Item> {
        if let Some(item) = self.user_queue.pop_front() {
            self.interrupts = self.interrupts.saturating_sub(1);
            Some(item)
        } else {
            self.cron_queue.pop_front()
        }
    }

    /// Empties both queues, in the order they would have started.
    pub fn take_queued(&mut self) -> Vec<Item> {
        self.interrupts = 0;
        self.user_queue
            .drain(..)
            .chain(self.cron_queue.drain(..))
            .collect()
    }

    pub fn session(&self, driver: Driver) -> Option<&String> {
        self.sessions[driver.index()].as_ref()
    }

    pub fn queue_previews(&self, chars: usize) -> Vec<String> {
        self.user_queue
            .iter()
            .chain(self.cron_queue.iter())
            .map(|item| item.preview(chars))
            .collect()
    }
}
