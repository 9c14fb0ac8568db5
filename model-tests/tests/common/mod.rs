//! Helpers shared by the model-test suites: the data files and the
//! `baton-repro` child process that runs one loom exploration per process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

pub fn files(name: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir(name))
        .expect("data directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
}

/// The 12 race reports and the per-invariant scenarios.
pub fn all_files() -> Vec<PathBuf> {
    let mut all = files("reports");
    all.extend(files("scenarios"));
    all
}

pub struct Child {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `baton-repro` in its own process: a loom deadlock aborts the
/// process it happens in, so each exploration gets one.
pub fn repro(args: &[&str]) -> Child {
    let output = Command::new(env!("CARGO_BIN_EXE_baton-repro"))
        .args(args)
        .output()
        .expect("baton-repro runs");
    Child {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn name(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Each race report, the invariant it is about, and a piece of the
/// violation that says the audit's reason (not some other bug of the
/// original that the same scenario happens to hit).
pub const REASONS: [(&str, &str, &str); 12] = [
    (
        "CR-1",
        "cron",
        "job j1 fired (cj1@1) after its cancel returned",
    ),
    (
        "CR-2",
        "cron",
        "preempted fire cj1@1 (r1) was not requeued: lost",
    ),
    (
        "DQ-1",
        "no_loss",
        "item b1 was admitted but neither finished nor reported removed",
    ),
    (
        "DR-1",
        "stop_binding",
        "cancelled nothing while r1 was in flight",
    ),
    (
        "DR-2",
        "exclusion",
        "lane A: r2 spawned while r1 is still alive",
    ),
    (
        "DR-3",
        "stop_binding",
        "Stop in lane A cancelled nothing while r1 was in flight",
    ),
    (
        "SP-1",
        "exclusion",
        "lane A: r2 spawned while r1 is still alive",
    ),
    (
        "SP-2",
        "stop_binding",
        "r1 was stopped before it spawned, and spawned anyway",
    ),
    (
        "ST-1",
        "ownership",
        "output of r1 was accepted after r1 finished",
    ),
    (
        "TX-1",
        "ownership",
        "a retry of r1 was accepted after it was cancelled",
    ),
    (
        "TX-2",
        "ownership",
        "/retry in lane A re-sent an item of lane B",
    ),
    (
        "VC-1",
        "exclusion",
        "lane A: r2 spawned while r1 is still alive",
    ),
];

/// The reason a report is about, by its id.
pub fn reason(id: &str) -> (&'static str, &'static str) {
    let (_, invariant, reason) = REASONS
        .iter()
        .find(|(i, ..)| *i == id)
        .unwrap_or_else(|| panic!("{id} has no stated reason"));
    (invariant, reason)
}
