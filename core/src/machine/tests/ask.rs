//! Questions to the user: bound to one run, answered at most once.

use super::*;

fn running(m: &mut M, id: &str) -> T {
    let ticket = start(m, text(id, 1));
    m.spawned(ticket.run, Millis(0)).unwrap();
    ticket
}

#[test]
fn an_open_question_shows_in_the_snapshot_until_answered() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q = m.ask(a.run, "Bash `cargo test`".into(), Millis(0)).unwrap();
    let run = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(run.waiting, ["Bash `cargo test`"]);
    m.answer(a.run, q, Millis(0)).unwrap();
    assert!(
        m.lane_status(lane(1), Millis(0))
            .run
            .unwrap()
            .waiting
            .is_empty()
    );
}

#[test]
fn a_second_answer_to_one_question_is_refused() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q = m.ask(a.run, "Write a.txt".into(), Millis(0)).unwrap();
    assert_eq!(m.answer(a.run, q, Millis(0)), Ok(()));
    assert_eq!(
        m.answer(a.run, q, Millis(0)),
        Err(Error::Unanswerable(a.run, q))
    );
}

#[test]
fn an_answer_names_exactly_its_question() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q1 = m.ask(a.run, "first".into(), Millis(0)).unwrap();
    let q2 = m.ask(a.run, "second".into(), Millis(0)).unwrap();
    assert_ne!(q1, q2);
    m.answer(a.run, q2, Millis(0)).unwrap();
    let run = m.lane_status(lane(1), Millis(0)).run.unwrap();
    assert_eq!(run.waiting, ["first"]);
}

#[test]
fn nothing_of_a_finished_run_can_be_answered() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q = m.ask(a.run, "Bash ls".into(), Millis(0)).unwrap();
    let b = complete(&mut m, a.run);
    assert!(b.is_empty());
    assert_eq!(m.answer(a.run, q, Millis(0)), Err(Error::StaleRun(a.run)));
    // A question id is never reused by a later run.
    let c = running(&mut m, "c");
    let q2 = m.ask(c.run, "Bash ls".into(), Millis(0)).unwrap();
    assert!(q2 > q);
    assert_eq!(m.answer(a.run, q2, Millis(0)), Err(Error::StaleRun(a.run)));
}

#[test]
fn a_stop_resolves_the_question_so_a_later_tap_is_refused() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q = m.ask(a.run, "Bash rm".into(), Millis(0)).unwrap();
    m.stop(lane(1), false, Millis(0));
    assert_eq!(m.answer(a.run, q, Millis(0)), Err(Error::Cancelled(a.run)));
    assert_eq!(
        m.ask(a.run, "again".into(), Millis(0)),
        Err(Error::Cancelled(a.run))
    );
}

#[test]
fn a_withdrawn_question_cannot_be_answered() {
    let mut m = machine(1);
    let a = running(&mut m, "a");
    let q = m.ask(a.run, "Bash ls".into(), Millis(0)).unwrap();
    m.withdraw_question(a.run, q, Millis(0)).unwrap();
    assert_eq!(
        m.answer(a.run, q, Millis(0)),
        Err(Error::Unanswerable(a.run, q))
    );
    assert!(
        m.lane_status(lane(1), Millis(0))
            .run
            .unwrap()
            .waiting
            .is_empty()
    );
}
