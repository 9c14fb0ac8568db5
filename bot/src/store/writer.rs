//! The store's one writer: a dedicated thread that applies queued writes in order and
//! commits them in groups, so callers never wait on a disk sync unless they ask to.
//!
//! Every write gets a sequence number when it is queued. The thread takes everything
//! queued, applies it inside one open transaction (each write in its own savepoint, so a
//! failing write leaves the others), and commits when someone waits for durability, when
//! the oldest uncommitted write is `COMMIT_DELAY` old, or when the store closes. Waiters
//! are answered after the commit, with the error of any of their writes that failed.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;
use tracing::{debug, error};

use super::StoreError;
use super::pending::{Pending, Resolver};

/// How long a write nobody waits for may stay uncommitted: what a crash can lose of it.
pub const COMMIT_DELAY: Duration = Duration::from_millis(50);

/// One write, run on the writer's connection. Its error text is what waiters are told.
pub(super) type Op = Box<dyn FnOnce(&Connection) -> Result<(), String> + Send>;

struct Queued {
    seq: u64,
    op: Op,
}

/// Someone waiting until every write up to `target` is committed; told about failures of
/// writes after `since` (the ones still undecided when they asked).
struct Waiter {
    since: u64,
    target: u64,
    reply: Resolver<()>,
}

struct State {
    queue: Vec<Queued>,
    /// The sequence number of the last write queued.
    enqueued: u64,
    /// Every write up to here is committed or has failed.
    settled: u64,
    waiters: Vec<Waiter>,
    closing: bool,
    /// The thread has exited: nothing queued from now on would ever run.
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    commits: AtomicU64,
    path: PathBuf,
    commit_delay: Duration,
}

pub(super) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread that owns `conn` from now on; a write nobody waits for is
    /// committed within `commit_delay`.
    pub(super) fn start(
        conn: Connection,
        path: &Path,
        commit_delay: Duration,
    ) -> Result<Writer, StoreError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: Vec::new(),
                enqueued: 0,
                settled: 0,
                waiters: Vec::new(),
                closing: false,
                stopped: false,
            }),
            wake: Condvar::new(),
            commits: AtomicU64::new(0),
            path: path.to_path_buf(),
            commit_delay,
        });
        let thread = std::thread::Builder::new()
            .name("baton-store".into())
            // The writer's stack holds SQLite's frames and little else.
            .stack_size(256 * 1024)
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&shared, &conn)
            })
            .map_err(|e| StoreError::Unusable {
                path: path.to_path_buf(),
                problem: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(Writer {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `op`; never blocks on the database.
    pub(super) fn enqueue(&self, op: Op) {
        let mut state = self.shared.state.lock();
        if state.stopped {
            drop(state);
            error!(database = %self.shared.path.display(), "store: a write after close was dropped");
            return;
        }
        state.enqueued += 1;
        let seq = state.enqueued;
        state.queue.push(Queued { seq, op });
        // Only an idle writer needs waking; a busy one drains the queue before it commits.
        if state.queue.len() == 1 {
            self.shared.wake.notify_one();
        }
    }

    /// Resolves once every write queued before this call is committed (at once when none
    /// is pending), with an error if any of them failed.
    pub(super) fn durable(&self) -> Pending<()> {
        let mut state = self.shared.state.lock();
        if state.settled >= state.enqueued {
            return Pending::ready(Ok(()));
        }
        if state.stopped {
            return Pending::ready(Err(StoreError::Unusable {
                path: self.shared.path.clone(),
                problem: "the writer stopped with writes uncommitted".into(),
            }));
        }
        let (pending, reply) = Pending::channel(&self.shared.path);
        let waiter = Waiter {
            since: state.settled,
            target: state.enqueued,
            reply,
        };
        state.waiters.push(waiter);
        self.shared.wake.notify_one();
        pending
    }

    /// Synced commits so far.
    pub(super) fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Commits everything queued and stops the thread.
    pub(super) fn close(&self) {
        self.shared.state.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.lock().take()
            && thread.join().is_err()
        {
            error!(database = %self.shared.path.display(), "store: the writer thread panicked");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the writer does next.
enum Step {
    Apply(Vec<Queued>),
    Commit,
    Exit,
}

/// A write that failed, or a group whose commit failed.
struct Failure {
    seqs: RangeInclusive<u64>,
    problem: String,
}

/// The uncommitted group: the writes applied since the last commit.
struct Group {
    first: u64,
    last: u64,
    opened: Instant,
    writes: usize,
}

fn run(shared: &Shared, conn: &Connection) {
    let mut group: Option<Group> = None;
    let mut failures: Vec<Failure> = Vec::new();
    loop {
        match next_step(shared, group.as_ref()) {
            Step::Apply(batch) => {
                let first = batch.first().map_or(0, |q| q.seq);
                let open = group.get_or_insert_with(|| Group {
                    first,
                    last: first.saturating_sub(1),
                    opened: Instant::now(),
                    writes: 0,
                });
                if open.writes == 0
                    && let Err(e) = conn.execute_batch("BEGIN IMMEDIATE")
                {
                    // Without a transaction the writes cannot be applied as a group.
                    let last = batch.last().map_or(first, |q| q.seq);
                    let problem = format!("cannot begin a transaction: {e}");
                    error!(database = %shared.path.display(), %problem, "store: writes lost");
                    failures.push(Failure {
                        seqs: first..=last,
                        problem,
                    });
                    group = None;
                    settle(shared, last, &mut failures);
                    continue;
                }
                for queued in batch {
                    apply(shared, conn, queued.seq, queued.op, &mut failures);
                    open.last = queued.seq;
                    open.writes += 1;
                }
            }
            Step::Commit => {
                let Some(done) = group.take() else { continue };
                commit(shared, conn, &done, &mut failures);
                settle(shared, done.last, &mut failures);
            }
            Step::Exit => return,
        }
    }
}

/// Waits for work: writes to apply first, then a commit when one is due.
fn next_step(shared: &Shared, group: Option<&Group>) -> Step {
    let mut state = shared.state.lock();
    loop {
        if !state.queue.is_empty() {
            return Step::Apply(std::mem::take(&mut state.queue));
        }
        match group {
            Some(open) => {
                let due = open.opened + shared.commit_delay;
                if !state.waiters.is_empty() || state.closing || Instant::now() >= due {
                    return Step::Commit;
                }
                shared.wake.wait_until(&mut state, due);
            }
            None if state.closing => {
                state.stopped = true;
                return Step::Exit;
            }
            None => shared.wake.wait(&mut state),
        }
    }
}

fn apply(shared: &Shared, conn: &Connection, seq: u64, op: Op, failures: &mut Vec<Failure>) {
    let result = conn
        .execute_batch("SAVEPOINT write")
        .map_err(|e| format!("cannot open a savepoint: {e}"))
        .and_then(|()| op(conn));
    let outcome = match result {
        Ok(()) => conn
            .execute_batch("RELEASE write")
            .map_err(|e| e.to_string()),
        Err(problem) => {
            // Undo this write alone; the group's other writes stay.
            let _ = conn.execute_batch("ROLLBACK TO write; RELEASE write");
            Err(problem)
        }
    };
    if let Err(problem) = outcome {
        error!(database = %shared.path.display(), write = seq, %problem, "store: a write failed");
        failures.push(Failure {
            seqs: seq..=seq,
            problem,
        });
    }
}

fn commit(shared: &Shared, conn: &Connection, group: &Group, failures: &mut Vec<Failure>) {
    if group.writes == 0 {
        return;
    }
    let started = Instant::now();
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            let commit = shared.commits.fetch_add(1, Ordering::Relaxed) + 1;
            debug!(
                commit,
                writes = group.writes,
                micros = started.elapsed().as_micros() as u64,
                "store: committed"
            );
        }
        Err(e) => {
            let problem = format!("commit failed: {e}");
            error!(database = %shared.path.display(), writes = group.writes, %problem, "store: writes lost");
            let _ = conn.execute_batch("ROLLBACK");
            failures.push(Failure {
                seqs: group.first..=group.last,
                problem,
            });
        }
    }
}

/// Everything up to `last` is decided: answers the waiters it covers.
fn settle(shared: &Shared, last: u64, failures: &mut Vec<Failure>) {
    let answered: Vec<(Waiter, Option<String>)> = {
        let mut state = shared.state.lock();
        state.settled = state.settled.max(last);
        let settled = state.settled;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut state.waiters)
            .into_iter()
            .partition(|w| w.target <= settled);
        state.waiters = waiting;
        let answered = ready
            .into_iter()
            .map(|waiter| {
                let problem = failures
                    .iter()
                    .find(|f| *f.seqs.end() > waiter.since && *f.seqs.start() <= waiter.target)
                    .map(|f| f.problem.clone());
                (waiter, problem)
            })
            .collect();
        // A failure matters only to waiters that asked while it was undecided.
        let oldest_since = state.waiters.iter().map(|w| w.since).min();
        failures.retain(|f| oldest_since.is_some_and(|since| *f.seqs.end() > since));
        answered
    };
    for (waiter, problem) in answered {
        waiter.reply.resolve(match problem {
            None => Ok(()),
            Some(problem) => Err(StoreError::Unusable {
                path: shared.path.clone(),
                problem,
            }),
        });
    }
}

#[cfg(test)]
mod tests;
