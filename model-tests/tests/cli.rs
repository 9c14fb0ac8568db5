//! baton-repro's exit codes and messages: 0 clean, 1 violation, 2 bad input.

mod common;

use std::path::PathBuf;

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn repro_rejects_an_unknown_operation_naming_file_and_line() {
    let path = scratch(
        "bad.toml",
        "id = \"x\"\ntitle = \"t\"\ninvariant = \"exclusion\"\n\n[[actor]]\nname = \"a\"\nops = [\n  \"submit A a1\",\n  \"teleport A\",\n]\n",
    );
    let child = common::repro(&[path.to_str().unwrap()]);
    assert_eq!(child.code, 2);
    assert!(child.stderr.contains("bad.toml:9:"), "{}", child.stderr);
    assert!(
        child.stderr.contains("unknown operation \"teleport\""),
        "{}",
        child.stderr
    );
    assert_eq!(child.stderr.lines().count(), 1, "{}", child.stderr);
}

#[test]
fn repro_refuses_questions_and_steering_for_the_original_bot() {
    for file in [
        "answers_double_tap_once.toml",
        "steer_cancel_races_start.toml",
    ] {
        let path = common::dir("scenarios").join(file);
        let child = common::repro(&[path.to_str().unwrap(), "--impl", "legacy"]);
        assert_eq!(child.code, 2, "{}{}", child.stdout, child.stderr);
        assert!(child.stderr.contains(file), "{}", child.stderr);
        assert!(
            child.stderr.contains("not modelled for the original bot"),
            "{}",
            child.stderr
        );
        assert_eq!(child.stderr.lines().count(), 1, "{}", child.stderr);
    }
}

#[test]
fn repro_rejects_an_unreadable_file() {
    let child = common::repro(&["/nonexistent/report.toml"]);
    assert_eq!(child.code, 2);
    assert!(
        child.stderr.contains("/nonexistent/report.toml"),
        "{}",
        child.stderr
    );
}

#[test]
fn repro_rejects_a_malformed_schedule() {
    let path = common::dir("reports").join("DQ-1.toml");
    let child = common::repro(&[path.to_str().unwrap(), "--replay", "not-a-schedule"]);
    assert_eq!(child.code, 2, "{}{}", child.stdout, child.stderr);
    assert!(child.stderr.contains("DQ-1.toml"), "{}", child.stderr);
}

#[test]
fn repro_exits_1_on_legacy_and_0_on_core() {
    let legacy = common::repro(&["--all", "--impl", "legacy", "--iterations", "200"]);
    assert_eq!(legacy.code, 1, "{}", legacy.stderr);
    for id in [
        "DQ-1", "TX-1", "TX-2", "DR-1", "DR-2", "DR-3", "CR-1", "CR-2", "ST-1", "SP-1", "SP-2",
        "VC-1",
    ] {
        assert!(
            legacy
                .stdout
                .contains(&format!("{id} (legacy, shuttle pct depth 3): VIOLATION")),
            "{id} not reported:\n{}",
            legacy.stdout
        );
    }
    let core = common::repro(&["--all", "--impl", "core", "--iterations", "200"]);
    assert_eq!(core.code, 0, "{}{}", core.stdout, core.stderr);
    assert_eq!(core.stdout.matches(": ok, ").count(), 12, "{}", core.stdout);
}

/// A journal the real core wrote: one message, queued behind another.
fn journal_file(name: &str) -> PathBuf {
    use baton_core::sync::StdSync;
    use baton_core::{Config, Core, Item, LaneKey, Millis, Outcome};
    let core: Core<StdSync> = Core::new(Config::default(), || Millis(5));
    let first = core
        .submit(Item::text("m1", LaneKey::chat(9), "p", Millis(0)))
        .unwrap()
        .ticket()
        .unwrap();
    core.submit(Item::text("m2", LaneKey::chat(9), "p", Millis(0)))
        .unwrap();
    core.spawned(first.run).unwrap();
    core.finish(first.run, Outcome::Completed).unwrap();
    let text: String = core
        .drain_journal()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    scratch(name, &text)
}

#[test]
fn repro_from_journal_writes_a_report_that_runs_clean() {
    let journal = journal_file("clean.jsonl");
    let child = common::repro(&["--from-journal", journal.to_str().unwrap()]);
    assert_eq!(child.code, 0, "{}", child.stderr);
    assert!(
        child
            .stdout
            .contains("\"submit A a1 text\",\n  \"submit A a2 text\""),
        "{}",
        child.stdout
    );
    let out = journal.with_file_name("from-journal.toml");
    let child = common::repro(&[
        "--from-journal",
        journal.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--id",
        "INC-7",
        "--invariant",
        "order",
    ]);
    assert_eq!(child.code, 0, "{}", child.stderr);
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("id = \"INC-7\""), "{written}");
    assert!(written.contains("invariant = \"order\""), "{written}");
    let run = common::repro(&[
        out.to_str().unwrap(),
        "--checker",
        "pct",
        "--iterations",
        "100",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn repro_from_journal_rejects_bad_input_with_exit_2() {
    let journal = journal_file("bad-invariant.jsonl");
    let bad = common::repro(&[
        "--from-journal",
        journal.to_str().unwrap(),
        "--invariant",
        "speed",
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("speed"), "{}", bad.stderr);
    let missing = common::repro(&["--from-journal", "/nonexistent/journal.jsonl"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/journal.jsonl"),
        "{}",
        missing.stderr
    );
}
