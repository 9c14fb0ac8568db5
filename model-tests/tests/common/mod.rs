//! Helpers shared by the model-test suites: the data files and the
//! `baton-repro` child process that runs one loom exploration per process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use baton_model_tests::{explore, report};
use libtest_mimic::{Arguments, Failed, Trial};

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

/// A data file's test name: its folder and stem, `reports/TX-1`.
pub fn label(path: &Path) -> String {
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{folder}/{}", name(path))
}

/// One test per data file: `{prefix}::{label}`, running `check` on it.
pub fn per_file(
    prefix: &str,
    paths: Vec<PathBuf>,
    check: impl Fn(&Path) -> Result<(), String> + Send + Sync + Clone + 'static,
) -> Vec<Trial> {
    paths
        .into_iter()
        .map(|path| {
            let check = check.clone();
            Trial::test(format!("{prefix}::{}", label(&path)), move || {
                check(&path).map_err(Failed::from)
            })
        })
        .collect()
}

/// A test that is not about one file.
pub fn single(name: &str, check: fn() -> Result<(), String>) -> Trial {
    Trial::test(name, move || check().map_err(Failed::from))
}

/// Runs the trials with libtest's command line: a filter names one file
/// (`-- TX-1`), `--exact`, `--list`, `--test-threads` as usual.
pub fn run(trials: Vec<Trial>) -> ! {
    silence_expected_panics();
    libtest_mimic::run(&Arguments::from_args(), trials).exit()
}

/// The checkers stop at a violation by panicking with this message; the
/// explorer catches it. libtest-mimic does not capture output the way
/// libtest did, so those expected panics (and the notice shuttle's own
/// hook prints first) would fill the log: they are kept quiet, every
/// other panic is reported as before.
fn silence_expected_panics() {
    // shuttle installs its hook once, on its first execution: install it
    // now so that the hook set below wraps it rather than the reverse.
    shuttle::check_random(|| {}, 1);
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
        if message != Some(explore::VIOLATION_PANIC) {
            report(info);
        }
    }));
}

/// Fails with `message` unless `ok`.
pub fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}

/// A race report, with the audit's reason it must carry.
pub fn load_report(path: &Path) -> Result<(report::Report, String), String> {
    let report = report::load(path).map_err(|e| e.to_string())?;
    let reason = report
        .reason
        .clone()
        .ok_or_else(|| format!("{}: a race report states its `reason`", path.display()))?;
    Ok((report, reason))
}
