//! The process runner: lines in order, stdin handling, stall and cancel kills of the whole group.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_bot::drivers::jsonl::RawLine;
use baton_bot::drivers::process::{self, Launch, LineAction, Reaction};
use tokio_util::sync::CancellationToken;

fn sh(script: &str, stdin: &str) -> Launch {
    Launch {
        program: PathBuf::from("/bin/sh"),
        args: vec![OsString::from("-c"), OsString::from(script)],
        workdir: std::env::temp_dir(),
        env: vec![],
        stdin: stdin.as_bytes().to_vec(),
        keep_stdin_open: false,
        stall_timeout: Duration::from_secs(20),
        grace: Duration::from_millis(300),
    }
}

fn text(line: RawLine) -> String {
    match line {
        RawLine::Text(text) => text,
        RawLine::TooLong { len } => panic!("unexpected long line of {len} bytes"),
    }
}

/// True once `pid` no longer runs (gone, or a zombie waiting for its new parent to reap it).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Running (non-zombie) processes whose process group is `pgid`.
fn live_group_members(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc readable")
        .flatten()
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            members.push(pid);
        }
    }
    members
}

fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn process_passes_lines_in_order_and_reports_exit_and_stderr() {
    let mut lines = Vec::new();
    let launch = sh("cat; echo two; echo oops >&2; exit 3", "one\n");
    let report = process::run(launch, &CancellationToken::new(), |line| {
        lines.push(text(line));
        LineAction::Continue
    })
    .await
    .expect("sh starts");
    assert_eq!(lines, ["one", "two"]);
    assert_eq!(report.code, Some(3));
    assert_eq!(report.stderr_tail, "oops");
    assert!(!report.cancel_requested && !report.stalled);
    assert_eq!(report.to_string(), "exit code 3, stderr: oops");
}

#[tokio::test]
async fn process_cancel_kills_the_whole_group_including_tool_children() {
    // Background jobs of a non-interactive shell ignore SIGINT, so the sleep survives the first
    // signal and only the group kill after the shell's exit ends it.
    let launch = sh("sleep 300 & echo $!; echo $$; wait", "");
    let cancel = CancellationToken::new();
    let pids = Arc::new(Mutex::new(Vec::<i32>::new()));
    let seen = pids.clone();
    let trigger = cancel.clone();
    let started = Instant::now();
    let report = process::run(launch, &cancel, move |line| {
        let mut seen = seen.lock().unwrap();
        seen.push(text(line).parse().expect("a pid"));
        if seen.len() == 2 {
            trigger.cancel();
        }
        LineAction::Continue
    })
    .await
    .expect("sh starts");
    assert!(report.cancel_requested);
    assert!(!report.stalled);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancel took {:?}",
        started.elapsed()
    );
    let pids = pids.lock().unwrap().clone();
    for pid in &pids {
        assert!(
            wait_gone(*pid),
            "process {pid} of the cancelled group still runs"
        );
    }
    // The shell led its own group: nothing but zombies may be left in it.
    assert_eq!(live_group_members(pids[1]), Vec::<i32>::new());
}

#[tokio::test]
async fn process_stop_reaches_descendants_that_left_the_group() {
    // setsid puts the sleep in a session (and group) of its own, as codex's sandbox does; it also
    // ignores SIGINT (a background job), so only the remembered-descendant kill can end it.
    let mut launch = sh("setsid sleep 300 & echo $!; wait", "");
    launch.stall_timeout = Duration::from_millis(500);
    let mut pid = 0;
    let report = process::run(launch, &CancellationToken::new(), |line| {
        pid = text(line).parse().expect("a pid");
        LineAction::Continue
    })
    .await
    .expect("sh starts");
    assert!(report.stalled);
    assert!(pid > 0);
    assert!(wait_gone(pid), "the escaped process {pid} outlived the run");
}

#[tokio::test]
async fn process_stall_kills_a_silent_run() {
    let mut launch = sh("echo hi; sleep 300", "");
    launch.stall_timeout = Duration::from_millis(400);
    let started = Instant::now();
    let report = process::run(launch, &CancellationToken::new(), |_| LineAction::Continue)
        .await
        .expect("sh starts");
    assert!(report.stalled);
    assert!(!report.cancel_requested);
    assert_eq!(report.signal, Some(libc::SIGTERM));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn process_keeps_stdin_open_until_the_handler_closes_it() {
    let mut launch = sh("read a; echo got-$a; read b; echo eof-$?", "x\n");
    launch.keep_stdin_open = true;
    launch.stall_timeout = Duration::from_secs(5);
    let mut lines = Vec::new();
    let report = process::run(launch, &CancellationToken::new(), |line| {
        let line = text(line);
        let close = line == "got-x";
        lines.push(line);
        if close {
            LineAction::CloseStdin
        } else {
            LineAction::Continue
        }
    })
    .await
    .expect("sh starts");
    assert!(!report.stalled, "stdin was never closed");
    assert_eq!(lines, ["got-x", "eof-1"]);
    assert_eq!(report.code, Some(0));
}

#[tokio::test]
async fn process_dropped_mid_run_kills_its_group() {
    let launch = sh("sleep 300 & echo $!; wait", "");
    let (tx, rx) = std::sync::mpsc::channel::<i32>();
    let task = tokio::spawn(async move {
        let _ = process::run(launch, &CancellationToken::new(), move |line| {
            let _ = tx.send(text(line).parse().expect("a pid"));
            LineAction::Continue
        })
        .await;
    });
    let pid = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the shell printed its child's pid");
    task.abort();
    let _ = task.await;
    assert!(wait_gone(pid), "process {pid} outlived the dropped run");
}

#[tokio::test]
async fn process_spawn_failure_names_the_program() {
    let mut launch = sh("", "");
    launch.program = PathBuf::from("/nonexistent/claude");
    let err = process::run(launch, &CancellationToken::new(), |_| LineAction::Continue)
        .await
        .expect_err("no such program");
    assert!(
        err.to_string()
            .starts_with("cannot start /nonexistent/claude: "),
        "{err}"
    );
}

#[tokio::test]
async fn process_answers_lines_and_a_cancel_writes_the_armed_interrupt_before_any_signal() {
    // Echoes what it reads until told to stop, then exits cleanly.
    let script = "echo ready; while read l; do echo \"got-$l\"; [ \"$l\" = stop ] && exit 0; done";
    let mut launch = sh(script, "");
    launch.keep_stdin_open = true;
    // Far longer than the test: any signal would show as the exit.
    launch.grace = Duration::from_secs(30);
    let cancel = CancellationToken::new();
    let mut lines = Vec::new();
    let report = process::run(launch, &cancel, |line| {
        let line = text(line);
        let reaction = match line.as_str() {
            "ready" => Reaction {
                action: LineAction::Continue,
                writes: vec![b"hello\n".to_vec()],
                interrupt: Some(b"stop\n".to_vec()),
            },
            "got-hello" => {
                cancel.cancel();
                LineAction::Continue.into()
            }
            _ => LineAction::Continue.into(),
        };
        lines.push(line);
        reaction
    })
    .await
    .expect("sh starts");
    assert_eq!(lines, ["ready", "got-hello", "got-stop"]);
    assert!(report.cancel_requested);
    assert_eq!((report.code, report.signal), (Some(0), None), "{report}");
}
