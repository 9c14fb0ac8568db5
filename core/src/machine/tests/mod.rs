//! Unit tests of each operation of [`Machine`], one behaviour per test.

mod ask;
mod cron;
mod drain;
mod interrupt;
mod journal;
mod preempt;
mod prefs;
mod runs;
mod shutdown;
mod snapshot;
mod steer;
mod stop;
mod submit;

use super::*;
use crate::sync::StdCancel;
use crate::{Driver, Error, Item, ItemId, LaneKey, Origin, Outcome, Preferences};

type M = Machine<StdCancel>;
type T = Ticket<StdCancel>;

fn config(capacity: usize) -> Config {
    Config {
        capacity,
        ..Config::default()
    }
}

fn machine(capacity: usize) -> M {
    Machine::new(config(capacity))
}

fn lane(chat: i64) -> LaneKey {
    LaneKey::chat(chat)
}

fn text(id: &str, chat: i64) -> Item {
    Item::text(id, lane(chat), format!("prompt {id}"), Millis(0))
}

/// Submits an item that must start at once.
fn start(m: &mut M, item: Item) -> T {
    match m.submit(item, Millis(0)).expect("admitted") {
        Admission::Started(ticket) => ticket,
        other => panic!("expected a start, got {other:?}"),
    }
}

/// Submits an item that must wait; returns its position.
fn queue(m: &mut M, item: Item) -> usize {
    match m.submit(item, Millis(0)).expect("admitted") {
        Admission::Queued { position, .. } => position,
        other => panic!("expected a queued item, got {other:?}"),
    }
}

/// Finishes a run as completed and returns the ids of what started.
fn complete(m: &mut M, run: RunId) -> Vec<T> {
    m.finish(run, Outcome::Completed, Millis(0))
        .expect("current run")
        .tickets
}

fn ids(tickets: &[T]) -> Vec<&str> {
    tickets.iter().map(|t| t.item.id.0.as_str()).collect()
}

fn item_ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.0.as_str()).collect()
}

/// Registers a job and claims one fire of it.
fn cron_fire(m: &mut M, job: &str, chat: i64, kind: CronKind, fire: u64) -> Admission<StdCancel> {
    let id = JobId(job.to_owned());
    if m.cron_kind(&id).is_none() {
        m.cron_register(id.clone(), lane(chat), kind, Millis(0))
            .expect("new job");
    }
    match m
        .cron_claim(&id, Millis(fire), format!("job {job}"), false, Millis(fire))
        .expect("claimable")
    {
        CronClaim::Admitted(admission) => admission,
        CronClaim::AlreadyPending => panic!("fire of {job} already pending"),
    }
}

fn fire_id(job: &str, fire: u64) -> String {
    ItemId::cron_fire(&JobId(job.to_owned()), Millis(fire)).0
}

/// The queued ids of a lane, in start order.
fn queued_ids(m: &M, chat: i64) -> Vec<String> {
    m.lane_status(lane(chat), Millis(0))
        .queued
        .into_iter()
        .map(|id| id.0)
        .collect()
}
