//! What a user does to a lane besides sending work: stop, `/new`,
//! preferences; and the process-wide shutdown.

use super::{Machine, NewSessionReport, ShutdownReport, StopReport};
use crate::clock::Millis;
use crate::error::Error;
use crate::event::{Event, RemovalReason};
use crate::item::{Item, LaneKey};
use crate::planted::mutated;
use crate::prefs::{Driver, Preferences};
use crate::run::{CancelReason, RunId, RunView};
use crate::sync::CancelSignal;

impl<C: CancelSignal> Machine<C> {
    fn current_view(&self, key: LaneKey, now: Millis) -> Option<RunView> {
        self.lanes
            .get(&key)?
            .current
            .as_ref()
            .map(|run| run.view(now))
    }

    fn remove_queued(&mut self, key: LaneKey, reason: RemovalReason, now: Millis) -> Vec<Item> {
        let Some(lane) = self.lanes.get_mut(&key) else {
            return Vec::new();
        };
        let removed = lane.take_queued();
        if removed.is_empty() {
            return removed;
        }
        self.queued -= removed.len();
        let items = removed.iter().map(|item| item.id.clone()).collect();
        self.emit(
            now,
            Event::Removed {
                lane: key,
                items,
                reason,
            },
        );
        self.retire_items(&removed, now);
        self.refresh_ready(key);
        removed
    }

    /// Cancels the lane's current run, whatever its phase, and optionally
    /// empties its queues. The cancellation is bound to that run's own
    /// signal, so it can never reach a later run.
    pub fn stop(&mut self, key: LaneKey, clear_queue: bool, now: Millis) -> StopReport {
        if !mutated!(self.config, StopCancelsNothing) {
            self.cancel_current(key, CancelReason::Stop, now);
        }
        let cancelled = self.current_view(key, now);
        let removed = if clear_queue && !mutated!(self.config, StopClearKeepsQueue) {
            self.remove_queued(key, RemovalReason::Stop, now)
        } else {
            Vec::new()
        };
        StopReport { cancelled, removed }
    }

    /// Stops exactly `run` (a Stop button under its answer): refused once
    /// that run is no longer its lane's current one, so a button pressed
    /// late can never stop a later run.
    pub fn stop_run(&mut self, run: RunId, now: Millis) -> Result<RunView, Error> {
        let key = *self.runs.get(&run).ok_or(Error::StaleRun(run))?;
        self.cancel_current(key, CancelReason::Stop, now);
        self.current_view(key, now).ok_or(Error::StaleRun(run))
    }

    /// `/new`: cancels the current run, removes what is queued, and forgets
    /// the agent sessions, at once if the lane is idle or else when its run
    /// finishes (so the old run cannot write its session back).
    pub fn new_session(&mut self, key: LaneKey, now: Millis) -> NewSessionReport {
        if !mutated!(self.config, NewCancelsNothing) {
            self.cancel_current(key, CancelReason::NewSession, now);
        }
        let cancelled = self.current_view(key, now);
        let removed = if mutated!(self.config, NewKeepsQueue) {
            Vec::new()
        } else {
            self.remove_queued(key, RemovalReason::NewSession, now)
        };
        let at_once_after_stop = mutated!(self.config, NewForgetsAtOnceAfterStop);
        let lane = self.lane_mut(key);
        let stopped = lane
            .current
            .as_ref()
            .is_some_and(|run| run.cancel_reason == Some(CancelReason::Stop));
        let forgotten_now = lane.current.is_none() || (at_once_after_stop && stopped);
        if forgotten_now {
            lane.sessions = [None, None];
            self.emit(now, Event::SessionForgotten { lane: key });
        } else {
            lane.forget_sessions_on_finish = true;
            // The machine keeps them only so the old run cannot write its
            // session back; if the process dies first, that run is gone and
            // a restart must not resume what the user left.
            self.emit(now, Event::SessionForgotten { lane: key });
        }
        NewSessionReport {
            cancelled,
            removed,
            forgotten_now,
        }
    }

    /// Replaces the lane's preferences; runs in flight keep what they captured.
    pub fn set_preferences(&mut self, key: LaneKey, preferences: Preferences, now: Millis) {
        self.lane_mut(key).preferences = preferences.clone();
        self.emit(
            now,
            Event::PreferencesChanged {
                lane: key,
                preferences,
            },
        );
    }

    pub fn preferences(&self, key: LaneKey) -> Preferences {
        self.lanes
            .get(&key)
            .map(|lane| lane.preferences.clone())
            .unwrap_or_else(|| self.config.default_preferences.clone())
    }

    pub fn session(&self, key: LaneKey, driver: Driver) -> Option<String> {
        self.lanes.get(&key)?.session(driver).cloned()
    }

    /// Restores a lane's remembered agent session (after a restart, or a
    /// `/resume` pick). Refused while `/new` waits for a run to end.
    pub fn set_session(
        &mut self,
        key: LaneKey,
        driver: Driver,
        session: Option<String>,
        now: Millis,
    ) {
        let lane = self.lane_mut(key);
        if lane.forget_sessions_on_finish {
            return;
        }
        lane.sessions[driver.index()] = session.clone();
        match session {
            Some(session) => self.emit(
                now,
                Event::SessionRecorded {
                    lane: key,
                    driver,
                    session,
                },
            ),
            None => {
                // The journal only forgets a lane's sessions as a whole:
                // record again the one of the other driver, which stays.
                let others: Vec<_> = Driver::ALL
                    .into_iter()
                    .filter_map(|d| Some((d, lane.sessions[d.index()].clone()?)))
                    .collect();
                self.emit(now, Event::SessionForgotten { lane: key });
                for (driver, session) in others {
                    self.emit(
                        now,
                        Event::SessionRecorded {
                            lane: key,
                            driver,
                            session,
                        },
                    );
                }
            }
        }
    }

    /// Stops admitting work, cancels every run in flight and hands back
    /// everything queued, lane by lane. Queued items get no removal event:
    /// in the journal they are still queued, so a restart runs them.
    pub fn shutdown(&mut self, now: Millis) -> ShutdownReport {
        if !self.shutting_down {
            self.shutting_down = true;
            self.emit(now, Event::ShutdownBegan);
        }
        let mut running: Vec<LaneKey> = self.runs.values().copied().collect();
        running.sort();
        let mut cancelled = Vec::new();
        for key in running {
            self.cancel_current(key, CancelReason::Shutdown, now);
            cancelled.extend(self.current_view(key, now));
        }
        let mut keys: Vec<LaneKey> = self
            .lanes
            .iter()
            .filter(|(_, lane)| lane.queued() > 0)
            .map(|(key, _)| *key)
            .collect();
        keys.sort();
        let mut queued = Vec::new();
        for key in keys {
            let lane = self.lanes.get_mut(&key).expect("listed above");
            let items = lane.take_queued();
            lane.ready = None;
            self.queued -= items.len();
            if !mutated!(self.config, ShutdownDropsQueue) {
                queued.extend(items);
            }
        }
        ShutdownReport { queued, cancelled }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }
}
