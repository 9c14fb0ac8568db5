//! The SPEC invariants, checked on the machine itself after every step from
//! what a simulated runner and user were told.

use std::collections::{HashMap, HashSet};

use baton_core::{Item, ItemId, JobId, LaneKey, RunId, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Queued,
    Running(RunId),
    Finished,
    Removed,
    HandedBack,
}

/// How an item was admitted, for the order invariant: interrupts first (in
/// arrival order), then plain user items, then scheduled ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Interrupt = 0,
    User = 1,
    Cron = 2,
}

#[derive(Debug, Default)]
pub struct Tracker {
    pub fate: HashMap<ItemId, Fate>,
    lane_of: HashMap<ItemId, LaneKey>,
    order: HashMap<ItemId, (Class, i64)>,
    arrivals: i64,
    requeues: i64,
    /// Jobs cancelled and not registered again.
    pub cancelled_jobs: HashSet<JobId>,
}

impl Tracker {
    fn is_live(&self, id: &ItemId) -> bool {
        matches!(self.fate.get(id), Some(Fate::Queued | Fate::Running(_)))
    }

    /// An admission was accepted, starting at once as `run` or queued.
    pub fn admitted(&mut self, item: &Item, class: Class, run: Option<RunId>) {
        assert!(
            !self.is_live(&item.id),
            "no duplication: {} admitted while queued or running",
            item.id
        );
        self.arrivals += 1;
        self.lane_of.insert(item.id.clone(), item.lane);
        self.order.insert(item.id.clone(), (class, self.arrivals));
        let fate = match run {
            Some(run) => {
                self.check_first_in_lane(&item.id, item.lane);
                Fate::Running(run)
            }
            None => Fate::Queued,
        };
        self.fate.insert(item.id.clone(), fate);
    }

    /// Within a lane, the item that starts is the first waiting one:
    /// interrupts, then user items by arrival, then scheduled items with
    /// requeued ones at the head.
    fn check_first_in_lane(&self, id: &ItemId, lane: LaneKey) {
        let key = self.order[id];
        for (other, fate) in &self.fate {
            if other != id && *fate == Fate::Queued && self.lane_of[other] == lane {
                assert!(
                    self.order[other] > key,
                    "order: {id} {key:?} started before {other} {:?}",
                    self.order[other]
                );
            }
        }
    }

    /// A ticket handed out by a drain.
    pub fn started(&mut self, id: &ItemId, run: RunId) {
        assert_eq!(
            self.fate.get(id),
            Some(&Fate::Queued),
            "no duplication: {id} starts without waiting in a queue"
        );
        self.check_first_in_lane(id, self.lane_of[id]);
        self.fate.insert(id.clone(), Fate::Running(run));
    }

    pub fn finished(&mut self, id: &ItemId, run: RunId, requeued: bool) {
        assert_eq!(self.fate.get(id), Some(&Fate::Running(run)));
        if requeued {
            self.requeues += 1;
            let class = self.order[id].0;
            assert_eq!(class, Class::Cron, "only scheduled work is preempted");
            self.order.insert(id.clone(), (Class::Cron, -self.requeues));
            self.fate.insert(id.clone(), Fate::Queued);
        } else {
            self.fate.insert(id.clone(), Fate::Finished);
        }
    }

    /// Run now: a waiting user item becomes the newest interrupt, as if its
    /// `!` arrived now.
    pub fn promoted(&mut self, id: &ItemId) {
        assert_eq!(
            self.fate.get(id),
            Some(&Fate::Queued),
            "run now on {id}, not queued"
        );
        if self.order[id].0 == Class::User {
            self.arrivals += 1;
            self.order
                .insert(id.clone(), (Class::Interrupt, self.arrivals));
        }
    }

    pub fn left(&mut self, id: &ItemId, fate: Fate) {
        assert_eq!(
            self.fate.get(id),
            Some(&Fate::Queued),
            "{id} reported removed but was not queued"
        );
        self.fate.insert(id.clone(), fate);
    }

    /// No loss and no duplication: the items the user was told are queued or
    /// running are exactly what the machine holds.
    pub fn check_holdings(&self, s: &Snapshot) {
        let mut queued = HashSet::new();
        let mut running = HashMap::new();
        for lane in &s.lanes {
            for id in &lane.queued {
                assert_eq!(
                    self.lane_of.get(id),
                    Some(&lane.lane),
                    "{id} in a foreign lane"
                );
                assert!(queued.insert(id.clone()), "{id} queued twice");
            }
            if let Some(run) = &lane.run {
                running.insert(run.item.clone(), run.run);
            }
        }
        for (id, fate) in &self.fate {
            match fate {
                Fate::Queued => {
                    assert!(queued.contains(id), "no loss: {id} vanished from its queue")
                }
                Fate::Running(run) => assert_eq!(
                    running.get(id),
                    Some(run),
                    "no loss: {id} is not running as {run}"
                ),
                _ => {
                    assert!(!queued.contains(id), "{id} ended yet queued");
                    assert!(!running.contains_key(id), "{id} ended yet running");
                }
            }
        }
        let told_queued = self.fate.values().filter(|f| **f == Fate::Queued).count();
        assert_eq!(
            told_queued,
            queued.len(),
            "an item is queued that nobody admitted"
        );
        let told_running = self
            .fate
            .values()
            .filter(|f| matches!(f, Fate::Running(_)))
            .count();
        assert_eq!(told_running, running.len());
    }
}

/// Exclusion, progress, preemption and snapshot consistency.
pub fn check_snapshot(s: &Snapshot, in_flight: usize, queued: usize) {
    assert_eq!((s.in_flight, s.queued), (in_flight, queued), "gauges");
    let runs = s.lanes.iter().filter(|l| l.run.is_some()).count();
    let waiting: usize = s.lanes.iter().map(|l| l.queued.len()).sum();
    assert_eq!(s.in_flight, runs, "snapshot: in-flight count adds up");
    assert_eq!(s.queued, waiting, "snapshot: queued count adds up");
    assert!(s.in_flight <= s.capacity, "exclusion: capacity");
    assert!(
        s.lanes.windows(2).all(|w| w[0].lane < w[1].lane),
        "one entry per lane, sorted"
    );
    for l in &s.lanes {
        assert!(
            l.run.is_some() || !l.queued.is_empty(),
            "snapshot lists an idle lane"
        );
        assert_eq!(l.queued_user + l.queued_cron, l.queued.len());
        if let Some(run) = &l.run {
            assert_eq!(run.lane, l.lane);
        }
    }
    if s.shutting_down {
        return;
    }
    if s.in_flight < s.capacity {
        for l in &s.lanes {
            assert!(
                l.run.is_some() || l.queued.is_empty(),
                "progress: lane {} waits while capacity is free",
                l.lane
            );
        }
    }
    if s.in_flight == 0 {
        assert_eq!(s.queued, 0, "no loss: nothing runs yet work is queued");
    }
    let stopping =
        |l: &&baton_core::LaneSnapshot| l.run.as_ref().is_some_and(|r| r.cancel.is_some());
    let needing = s
        .lanes
        .iter()
        .filter(|l| l.queued_user > 0 && (l.run.is_none() || stopping(l)))
        .count();
    let freeing = s.capacity - s.in_flight + s.lanes.iter().filter(stopping).count();
    if needing > freeing {
        for l in &s.lanes {
            let run = l.run.as_ref();
            assert!(
                !run.is_some_and(|r| r.scheduled && r.cancel.is_none()),
                "user priority: user work waits behind scheduled run {:?}",
                run.map(|r| r.run)
            );
        }
    }
}
