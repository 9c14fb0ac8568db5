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
