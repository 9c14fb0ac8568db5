//! A steady stream of runs over a fixed set of lanes, all holding queued work, on one or more threads.

use std::collections::VecDeque;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use baton_core::{Item, LaneKey, Millis};

use crate::clock::BenchClock;
use crate::scheduler::{Counts, Scheduler};

/// Runs in flight at once.
pub const CAPACITY: usize = 4;
/// Items queued in every lane before measuring, so each finish must pick
/// the next lane among all of them.
pub const PREFILL: usize = 2;
/// Cycles each worker runs after the pre-fill, before measuring.
const SETTLE_CYCLES: usize = 16;

/// One scheduler and the threads that drive it. Each worker submits to its
/// own lanes and finishes whatever tickets it is handed, wherever their lane
/// belongs: a finish hands back exactly the tickets it started, to the
/// thread that called it, so every ticket is finished exactly once.
pub struct Workload<S: Scheduler> {
    scheduler: S,
    workers: Vec<Worker<S::Ticket>>,
}

struct Worker<T> {
    index: usize,
    stride: usize,
    lanes: usize,
    /// The next lane this worker submits to; it owns `index`, `index + stride`, …
    cursor: usize,
    next_id: u64,
    tickets: VecDeque<T>,
    submitted: u64,
    started: u64,
    finished: u64,
}

impl<S: Scheduler> Workload<S> {
    pub fn new(scheduler: S, lanes: usize, threads: usize) -> Self {
        assert!(lanes >= threads, "every thread owns at least one lane");
        let mut workers: Vec<_> = (0..threads)
            .map(|index| Worker::new(index, threads, lanes))
            .collect();
        for _ in 0..PREFILL {
            for lane in 0..lanes {
                workers[lane % threads].submit(&scheduler);
            }
        }
        scheduler.settle();
        // Untimed cycles pay one-off costs (the allocator tidying up after
        // the pre-fill, first growth of maps) before any batch is timed.
        for _ in 0..SETTLE_CYCLES {
            for worker in &mut workers {
                worker.cycle(&scheduler);
            }
        }
        Workload { scheduler, workers }
    }

    /// Runs `cycles` cycles split across the threads; the time they take, by
    /// `clock` on one thread and by the wall clock on several (contention
    /// shows up as waiting, which CPU time would not count).
    pub fn run(&mut self, cycles: u64, clock: BenchClock) -> Duration {
        let threads = self.workers.len() as u64;
        let scheduler = &self.scheduler;
        if threads == 1 {
            let worker = &mut self.workers[0];
            return clock.time(|| {
                for _ in 0..cycles {
                    worker.cycle(scheduler);
                }
            });
        }
        let barrier = Barrier::new(self.workers.len() + 1);
        let start = thread::scope(|scope| {
            for worker in &mut self.workers {
                let share = cycles / threads + u64::from((worker.index as u64) < cycles % threads);
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..share {
                        worker.cycle(scheduler);
                    }
                });
            }
            barrier.wait();
            Instant::now()
        });
        start.elapsed()
    }

    /// Checks the books after a run: nothing lost, nothing finished twice
    /// (a second finish of a ticket panics in the scheduler), capacity kept full.
    pub fn verify(&self) {
        let held: u64 = self.workers.iter().map(|w| w.tickets.len() as u64).sum();
        let submitted: u64 = self.workers.iter().map(|w| w.submitted).sum();
        let started: u64 = self.workers.iter().map(|w| w.started).sum();
        let finished: u64 = self.workers.iter().map(|w| w.finished).sum();
        assert!(finished > 0, "the workload ran");
        assert_eq!(
            started - finished,
            held,
            "every started ticket is held or finished"
        );
        assert_eq!(
            self.scheduler.counts(),
            Counts {
                in_flight: CAPACITY as u64,
                queued: submitted - started,
            },
            "with work always queued, capacity stays full and nothing is lost"
        );
    }
}

impl<T> Worker<T> {
    fn new(index: usize, stride: usize, lanes: usize) -> Self {
        Worker {
            index,
            stride,
            lanes,
            cursor: index,
            next_id: 0,
            tickets: VecDeque::new(),
            submitted: 0,
            started: 0,
            finished: 0,
        }
    }

    fn next_item(&mut self) -> Item {
        let lane = LaneKey::chat(self.cursor as i64);
        self.cursor += self.stride;
        if self.cursor >= self.lanes {
            self.cursor = self.index;
        }
        let id = self.next_id;
        self.next_id += 1;
        Item::text(format!("w{}-{id}", self.index), lane, "bench", Millis(id))
    }

    fn submit<S: Scheduler<Ticket = T>>(&mut self, scheduler: &S) {
        let item = self.next_item();
        self.submitted += 1;
        if let Some(ticket) = scheduler.submit(item) {
            self.start(scheduler, ticket);
        }
    }

    fn start<S: Scheduler<Ticket = T>>(&mut self, scheduler: &S, ticket: T) {
        scheduler.spawned(&ticket);
        self.started += 1;
        self.tickets.push_back(ticket);
    }

    /// One operation: a submit, and the finish of the oldest run this worker
    /// holds, spawning whatever that finish hands back.
    fn cycle<S: Scheduler<Ticket = T>>(&mut self, scheduler: &S) {
        self.submit(scheduler);
        if let Some(ticket) = self.tickets.pop_front() {
            self.finished += 1;
            for next in scheduler.finish(ticket) {
                self.start(scheduler, next);
            }
        }
    }
}
