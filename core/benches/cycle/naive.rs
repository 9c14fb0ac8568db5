//! The baseline: one mutex over a map of lane queues, and a scan of every lane on each finish.

use std::collections::{HashMap, VecDeque};

use baton_core::{Item, LaneKey};
use parking_lot::Mutex;

use crate::scheduler::{Counts, Scheduler};

/// What the original bot's design grows into once it drains across lanes:
/// nothing remembers which lanes are ready, so every finish scans them all.
/// It skips what baton-core also does per step (dedupe, preferences,
/// sessions, cron priority), so it is, if anything, flattered.
pub struct Naive {
    state: Mutex<State>,
    capacity: usize,
}

struct State {
    lanes: HashMap<LaneKey, Lane>,
    runs: HashMap<u64, LaneKey>,
    next_run: u64,
    /// Arrival order across lanes: the scan starts the oldest waiting item,
    /// so no lane starves.
    next_seq: u64,
    in_flight: usize,
    queued: usize,
}

#[derive(Default)]
struct Lane {
    queue: VecDeque<(u64, Item)>,
    busy: bool,
}

pub struct NaiveTicket {
    run: u64,
    // Held as a runner would hold it, so both contenders move the same data.
    _item: Item,
}

impl Naive {
    pub fn new(capacity: usize) -> Self {
        Naive {
            state: Mutex::new(State {
                lanes: HashMap::new(),
                runs: HashMap::new(),
                next_run: 1,
                next_seq: 0,
                in_flight: 0,
                queued: 0,
            }),
            capacity,
        }
    }
}

impl State {
    fn start(&mut self, key: LaneKey, item: Item) -> NaiveTicket {
        let run = self.next_run;
        self.next_run += 1;
        self.lanes.get_mut(&key).expect("lane exists").busy = true;
        self.runs.insert(run, key);
        self.in_flight += 1;
        NaiveTicket { run, _item: item }
    }

    /// The full scan: the idle lane whose head item has waited longest.
    fn oldest_ready(&self) -> Option<LaneKey> {
        self.lanes
            .iter()
            .filter(|(_, lane)| !lane.busy)
            .filter_map(|(key, lane)| lane.queue.front().map(|(seq, _)| (*seq, *key)))
            .min()
            .map(|(_, key)| key)
    }
}

impl Scheduler for Naive {
    type Ticket = NaiveTicket;

    fn submit(&self, item: Item) -> Option<NaiveTicket> {
        let mut state = self.state.lock();
        let key = item.lane;
        let has_capacity = state.in_flight < self.capacity;
        let seq = state.next_seq;
        state.next_seq += 1;
        let lane = state.lanes.entry(key).or_default();
        if !lane.busy && lane.queue.is_empty() && has_capacity {
            return Some(state.start(key, item));
        }
        lane.queue.push_back((seq, item));
        state.queued += 1;
        None
    }

    fn spawned(&self, ticket: &NaiveTicket) {
        let state = self.state.lock();
        assert!(
            state.runs.contains_key(&ticket.run),
            "only a live run spawns"
        );
    }

    fn finish(&self, ticket: NaiveTicket) -> Vec<NaiveTicket> {
        let mut state = self.state.lock();
        let key = state
            .runs
            .remove(&ticket.run)
            .expect("every ticket is finished exactly once");
        state.lanes.get_mut(&key).expect("lane exists").busy = false;
        state.in_flight -= 1;
        let mut tickets = Vec::new();
        while state.in_flight < self.capacity {
            let Some(next) = state.oldest_ready() else {
                break;
            };
            let (_, item) = state
                .lanes
                .get_mut(&next)
                .and_then(|lane| lane.queue.pop_front())
                .expect("the scan found a waiting item");
            state.queued -= 1;
            tickets.push(state.start(next, item));
        }
        tickets
    }

    fn counts(&self) -> Counts {
        let state = self.state.lock();
        Counts {
            in_flight: state.in_flight as u64,
            queued: state.queued as u64,
        }
    }
}
