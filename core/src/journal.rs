//! Replaying the journal: rebuilds, from events alone, what the core held,
//! so a restarted bot resumes every queued item and reports every run that
//! was in flight when the process died.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::cron::{CronKind, JobId};
use crate::event::{Event, JournalEntry, QueueKind};
use crate::item::{Item, ItemId, LaneKey};
use crate::prefs::Driver;
use crate::prefs::Preferences;
use crate::run::{Outcome, RunId};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveredLane {
    pub user: VecDeque<Item>,
    pub cron: VecDeque<Item>,
    pub preferences: Option<Preferences>,
    pub sessions: [Option<String>; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveredJob {
    pub lane: LaneKey,
    pub kind: CronKind,
    pub pending: Option<ItemId>,
}

/// What the journal says the core held after its last entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovered {
    pub lanes: BTreeMap<LaneKey, RecoveredLane>,
    /// Runs started and never finished: in flight when the journal ends.
    pub in_flight: BTreeMap<RunId, Item>,
    pub cron: BTreeMap<JobId, RecoveredJob>,
    /// Ids of items that ended (finished or removed), so redeliveries of
    /// them are refused after the restart.
    pub ended: Vec<ItemId>,
    pub next_seq: u64,
    /// The first run id never used, so ids stay unique across restarts.
    pub next_run: u64,
}

impl Recovered {
    pub fn queued(&self) -> usize {
        self.lanes
            .values()
            .map(|lane| lane.user.len() + lane.cron.len())
            .sum()
    }
}

/// The shortest journal that replays to what `recovered` holds, minus the
/// runs that were in flight (they ended with the process) and the ids of
/// ended items (redeliveries are the inbox's to refuse). Written in place
/// of the old journal at start-up, so the journal grows with what is
/// pending, not with history.
pub fn checkpoint(recovered: &Recovered, at: Millis) -> Vec<JournalEntry> {
    let mut events = vec![Event::Checkpoint {
        next_run: recovered.next_run,
    }];
    for (lane, saved) in &recovered.lanes {
        if let Some(preferences) = &saved.preferences {
            events.push(Event::PreferencesChanged {
                lane: *lane,
                preferences: preferences.clone(),
            });
        }
        for driver in Driver::ALL {
            if let Some(session) = &saved.sessions[driver.index()] {
                events.push(Event::SessionRecorded {
                    lane: *lane,
                    driver,
                    session: session.clone(),
                });
            }
        }
        for (queue, items) in [
            (QueueKind::User, &saved.user),
            (QueueKind::Cron, &saved.cron),
        ] {
            for (index, item) in items.iter().enumerate() {
                events.push(Event::Admitted { item: item.clone() });
                events.push(Event::Queued {
                    item: item.id.clone(),
                    lane: *lane,
                    queue,
                    index,
                });
            }
        }
    }
    let queued = |id: &ItemId| {
        recovered
            .lanes
            .values()
            .any(|lane| lane.cron.iter().any(|item| &item.id == id))
    };
    for (job, saved) in &recovered.cron {
        events.push(Event::CronRegistered {
            job: job.clone(),
            lane: saved.lane,
            kind: saved.kind,
        });
        if let Some(pending) = saved.pending.as_ref().filter(|pending| queued(pending)) {
            events.push(Event::CronClaimed {
                job: job.clone(),
                item: pending.clone(),
            });
        }
    }
    events
        .into_iter()
        .enumerate()
        .map(|(seq, event)| JournalEntry {
            seq: seq as u64,
            at,
            event,
        })
        .collect()
}

/// Folds journal entries, in `seq` order, into what they describe.
pub fn replay<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> Recovered {
    let mut out = Recovered::default();
    let mut items: HashMap<ItemId, Item> = HashMap::new();
    for entry in entries {
        out.next_seq = entry.seq + 1;
        apply(&mut out, &mut items, &entry.event);
    }
    out
}

fn remove_queued(lane: &mut RecoveredLane, id: &ItemId) {
    lane.user.retain(|item| &item.id != id);
    lane.cron.retain(|item| &item.id != id);
}

fn apply(out: &mut Recovered, items: &mut HashMap<ItemId, Item>, event: &Event) {
    let ended_before = out.ended.len();
    match event {
        Event::Admitted { item } => {
            items.insert(item.id.clone(), item.clone());
        }
        Event::Queued {
            item,
            lane,
            queue,
            index,
        } => {
            let Some(item) = items.get(item).cloned() else {
                return;
            };
            let lane = out.lanes.entry(*lane).or_default();
            let queue = match queue {
                QueueKind::User => &mut lane.user,
                QueueKind::Cron => &mut lane.cron,
            };
            queue.insert((*index).min(queue.len()), item);
        }
        Event::Started {
            run, item, lane, ..
        } => {
            out.next_run = out.next_run.max(run.0 + 1);
            remove_queued(out.lanes.entry(*lane).or_default(), item);
            if let Some(item) = items.get(item) {
                out.in_flight.insert(*run, item.clone());
            }
        }
        Event::Finished { run, outcome } => {
            if let Some(item) = out.in_flight.remove(run)
                && *outcome != Outcome::Preempted
            {
                items.remove(&item.id);
                out.ended.push(item.id);
            }
        }
        Event::Requeued { item, lane, .. } => {
            if let Some(item) = items.get(item) {
                out.lanes
                    .entry(*lane)
                    .or_default()
                    .cron
                    .push_front(item.clone());
            }
        }
        Event::Moved { item, lane, index } => {
            let lane = out.lanes.entry(*lane).or_default();
            if let Some(at) = lane.user.iter().position(|queued| &queued.id == item) {
                let moved = lane.user.remove(at).expect("found above");
                lane.user.insert((*index).min(lane.user.len()), moved);
            }
        }
        Event::Removed {
            lane,
            items: removed,
            ..
        } => {
            let lane = out.lanes.entry(*lane).or_default();
            for id in removed {
                remove_queued(lane, id);
                items.remove(id);
                out.ended.push(id.clone());
            }
        }
        Event::SessionRecorded {
            lane,
            driver,
            session,
        } => {
            out.lanes.entry(*lane).or_default().sessions[driver.index()] = Some(session.clone());
        }
        Event::SessionForgotten { lane } => {
            out.lanes.entry(*lane).or_default().sessions = [None, None];
        }
        Event::PreferencesChanged { lane, preferences } => {
            out.lanes.entry(*lane).or_default().preferences = Some(preferences.clone());
        }
        Event::CronRegistered { job, lane, kind } => {
            out.cron.insert(
                job.clone(),
                RecoveredJob {
                    lane: *lane,
                    kind: *kind,
                    pending: None,
                },
            );
        }
        Event::CronClaimed { job, item } => {
            if let Some(entry) = out.cron.get_mut(job) {
                entry.pending = Some(item.clone());
            }
        }
        Event::CronCancelled { job } | Event::CronEnded { job } => {
            out.cron.remove(job);
        }
        Event::Checkpoint { next_run } => out.next_run = out.next_run.max(*next_run),
        Event::Spawned { .. }
        | Event::CancelRequested { .. }
        | Event::Retried { .. }
        | Event::Asked { .. }
        | Event::Answered { .. }
        | Event::Withdrawn { .. }
        | Event::ShutdownBegan => {}
    }
    // A fire that ended frees its job for the next one (a stop may end
    // several fires at once).
    let ended = &out.ended[ended_before..];
    if !ended.is_empty() {
        for job in out.cron.values_mut() {
            if job.pending.as_ref().is_some_and(|p| ended.contains(p)) {
                job.pending = None;
            }
        }
    }
}
