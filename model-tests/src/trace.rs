//! Interleavings as data: which actor made each synchronising step, recorded
//! under a checker and replayed on plain threads without any checker.
//!
//! Every operation of the model families (lock acquired, atomic read or
//! written, actor started) is one step. Under loom and shuttle all tasks run
//! on the checker's own OS thread and only switch at those steps, so the
//! sequence of actors that made them pins the whole execution down. The
//! witness replayer ([`crate::family::ScriptSync`]) runs real threads and
//! lets exactly one through each step in the recorded order.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

std::thread_local! {
    /// Steps of the execution in progress on this OS thread (checker mode).
    static STEPS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Set while the harness reads state for a readable trace: such reads
    /// are not steps of the execution.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Forgets the steps recorded so far; called when an execution starts.
pub fn reset() {
    STEPS.with(|steps| steps.borrow_mut().clear());
}

/// Records that `actor` made a step (checker mode).
pub fn note(actor: Option<usize>) {
    if let Some(actor) = actor
        && !QUIET.get()
    {
        STEPS.with(|steps| steps.borrow_mut().push(actor));
    }
}

/// The steps recorded since the last [`reset`].
pub fn steps() -> Vec<usize> {
    STEPS.with(|steps| steps.borrow().clone())
}

/// Runs `f` with step recording and gating switched off on this thread.
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let before = QUIET.replace(true);
    let result = f();
    QUIET.set(before);
    result
}

pub fn is_quiet() -> bool {
    QUIET.get()
}

/// Renders steps as a witness: actor names, runs of one actor compressed
/// (`runner*3 user*2`).
pub fn render(steps: &[usize], names: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let mut j = i;
        while j < steps.len() && steps[j] == steps[i] {
            j += 1;
        }
        let name = &names[steps[i]];
        out.push(if j - i == 1 {
            name.clone()
        } else {
            format!("{name}*{}", j - i)
        });
        i = j;
    }
    out.join(" ")
}

/// Parses a witness back into steps; the error names the bad word.
pub fn parse(witness: &str, names: &[String]) -> Result<Vec<usize>, String> {
    let mut steps = Vec::new();
    for word in witness.split_whitespace() {
        let (name, count) = match word.split_once('*') {
            Some((name, count)) => (
                name,
                count
                    .parse::<usize>()
                    .map_err(|_| format!("bad repeat count in witness word {word:?}"))?,
            ),
            None => (word, 1),
        };
        let actor = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("witness names unknown actor {name:?}"))?;
        steps.extend(std::iter::repeat_n(actor, count));
    }
    Ok(steps)
}

/// The turnstile of a witness replay: one actor at a time, in witness order.
struct Turn {
    steps: Vec<usize>,
    pos: usize,
    holder: Option<usize>,
    actors: usize,
    waiting: BTreeSet<usize>,
    exited: BTreeSet<usize>,
    divergence: Option<String>,
    /// The execution left the witness: no more gating, threads run freely
    /// (the replay is reported as diverged, its outcome is not trusted).
    free: bool,
}

impl Turn {
    fn leave(&mut self, why: String) {
        self.divergence.get_or_insert(why);
        self.free = true;
        TURN_CHANGED.notify_all();
    }
}

static TURN: Mutex<Option<Turn>> = Mutex::new(None);
static TURN_CHANGED: Condvar = Condvar::new();
/// One replay at a time per process: the turnstile is global because the
/// family's constructors take no context.
static REPLAY: Mutex<()> = Mutex::new(());

std::thread_local! {
    static SCRIPT_ACTOR: Cell<Option<usize>> = const { Cell::new(None) };
}

fn turn() -> MutexGuard<'static, Option<Turn>> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds the turnstile for one replay; dropping it ends the replay.
pub struct Replay {
    _exclusive: MutexGuard<'static, ()>,
}

impl Replay {
    pub fn begin(steps: Vec<usize>, actors: usize) -> Replay {
        let exclusive = REPLAY.lock().unwrap_or_else(|e| e.into_inner());
        *turn() = Some(Turn {
            steps,
            pos: 0,
            holder: None,
            actors,
            waiting: BTreeSet::new(),
            exited: BTreeSet::new(),
            divergence: None,
            free: false,
        });
        Replay {
            _exclusive: exclusive,
        }
    }

    /// Where the execution left the witness, if it did.
    pub fn divergence(&self) -> Option<String> {
        turn().as_ref().and_then(|t| t.divergence.clone())
    }

    /// Whether every step of the witness was used.
    pub fn unused_steps(&self) -> usize {
        turn()
            .as_ref()
            .map_or(0, |t| t.steps.len().saturating_sub(t.pos))
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        *turn() = None;
    }
}

pub fn script_actor() -> Option<usize> {
    SCRIPT_ACTOR.get()
}

pub fn set_script_actor(actor: Option<usize>) {
    SCRIPT_ACTOR.set(actor);
}

/// Waits until the witness gives this thread's actor the next step.
pub fn gate() {
    let Some(me) = SCRIPT_ACTOR.get() else {
        return;
    };
    if QUIET.get() {
        return;
    }
    let mut guard = turn();
    let Some(t) = guard.as_mut() else {
        return;
    };
    if t.holder == Some(me) {
        t.holder = None;
        t.pos += 1;
        TURN_CHANGED.notify_all();
    }
    t.waiting.insert(me);
    loop {
        let t = guard.as_mut().expect("replay in progress");
        if t.free {
            t.waiting.remove(&me);
            return;
        }
        if t.holder.is_none() && grant(t) == Some(me) {
            t.waiting.remove(&me);
            t.holder = Some(me);
            return;
        }
        let (next, timeout) = TURN_CHANGED
            .wait_timeout(guard, Duration::from_secs(5))
            .unwrap_or_else(|e| e.into_inner());
        guard = next;
        if timeout.timed_out() {
            let t = guard.as_mut().expect("replay in progress");
            let why = format!("witness stuck at step {}", t.pos + 1);
            t.leave(why);
        }
    }
}

/// The actor would block on a lock another actor holds while it waits for
/// its own step: the witness cannot be this execution's. Gating stops.
pub fn blocked() {
    if let Some(t) = turn().as_mut() {
        let why = format!(
            "witness step {} makes an actor wait for a lock held by another",
            t.pos + 1
        );
        t.leave(why);
    }
}

/// Who may make the next step: the witness's actor, or once the witness is
/// used up (or left), the lowest-numbered actor, when all others wait.
fn grant(t: &mut Turn) -> Option<usize> {
    if let Some(&next) = t.steps.get(t.pos) {
        if t.waiting.contains(&next) {
            return Some(next);
        }
        if t.exited.contains(&next) {
            t.divergence.get_or_insert_with(|| {
                format!(
                    "witness step {} names an actor that has finished",
                    t.pos + 1
                )
            });
            t.steps.truncate(t.pos);
        } else {
            return None;
        }
    }
    if t.waiting.len() + t.exited.len() == t.actors {
        t.waiting.iter().next().copied()
    } else {
        None
    }
}

/// The actor's thread is done: it gives up its step.
pub fn exit() {
    let Some(me) = SCRIPT_ACTOR.get() else {
        return;
    };
    let mut guard = turn();
    if let Some(t) = guard.as_mut() {
        if t.holder == Some(me) {
            t.holder = None;
            t.pos += 1;
        }
        t.exited.insert(me);
        TURN_CHANGED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witness_render_and_parse_round_trip() {
        let names = vec!["runner".to_owned(), "user".to_owned()];
        let steps = vec![0, 0, 1, 0, 1, 1, 1];
        let witness = render(&steps, &names);
        assert_eq!(witness, "runner*2 user runner user*3");
        assert_eq!(parse(&witness, &names).unwrap(), steps);
    }

    #[test]
    fn witness_with_a_bad_count_is_refused() {
        let names = vec!["runner".to_owned()];
        assert!(parse("runner*x", &names).unwrap_err().contains("runner*x"));
    }
}
