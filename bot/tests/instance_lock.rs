//! The instance lock against a second holder in this process and in another process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use baton_bot::instance_lock::{InstanceLock, LOCK_FILE_NAME, LockError};

/// Set in the child this test file spawns of itself: the directory the child should lock.
const CHILD_DIR_VAR: &str = "BATON_TEST_LOCK_CHILD_DIR";
/// What the child prints once it holds the lock (libtest may print its own text before it
/// on the same line).
const LOCKED_MARKER: &str = "child-holds-lock";

#[test]
fn second_lock_in_same_process_is_refused_until_first_drops() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let first = InstanceLock::acquire(&state_dir).unwrap();
    assert_eq!(first.path(), state_dir.join(LOCK_FILE_NAME));
    let pid = std::fs::read_to_string(first.path()).unwrap();
    assert_eq!(pid.trim(), std::process::id().to_string());

    let error = InstanceLock::acquire(&state_dir).unwrap_err();
    assert!(matches!(error, LockError::Held { pid: Some(p), .. } if p == std::process::id()));
    assert_eq!(
        error.to_string(),
        format!(
            "another baton instance is already running with state dir {} (pid {})",
            state_dir.display(),
            std::process::id()
        )
    );

    drop(first);
    InstanceLock::acquire(&state_dir).expect("lock is free once its holder is gone");
}

#[test]
fn unusable_state_dir_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let error = InstanceLock::acquire(&file.join("state")).unwrap_err();
    assert!(matches!(error, LockError::Io { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("lock file {}", file.join("state").display())),
        "{error}"
    );
}

/// Runs only as the child of the test below: holds the lock until its stdin closes.
#[test]
#[ignore = "helper process for lock_held_by_another_process_names_its_pid_and_frees_on_exit"]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return;
    };
    let _lock = InstanceLock::acquire(dir.as_ref()).unwrap();
    println!("{LOCKED_MARKER}");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

#[test]
fn lock_held_by_another_process_names_its_pid_and_frees_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_VAR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "child ended before locking"
        );
        if line.trim_end().ends_with(LOCKED_MARKER) {
            break;
        }
    }

    let error = InstanceLock::acquire(dir.path()).unwrap_err();
    assert!(
        matches!(error, LockError::Held { pid: Some(p), .. } if p == child.id()),
        "{error:?}"
    );

    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    InstanceLock::acquire(dir.path()).expect("lock is free once the other process exited");
}
