//! Settings read from a real process environment and `.env` file, in a child process so
//! the test never changes its own environment.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use baton_bot::config::{Cli, Config};

/// Set in the child: which env file choice to load with ("cwd" or "none").
const CHILD_VAR: &str = "BATON_TEST_CONFIG_CHILD";

/// Runs only as the child of the tests below: loads the settings and prints what it got.
#[test]
#[ignore = "helper process for the tests in this file"]
fn load_settings_child() {
    let Ok(choice) = std::env::var(CHILD_VAR) else {
        return;
    };
    let args: &[&str] = match choice.as_str() {
        "cwd" => &["baton"],
        _ => &["baton", "--no-env-file"],
    };
    let cli = Cli::parse_from(args.iter().map(std::ffi::OsString::from)).expect("arguments");
    match Config::from_cli(&cli) {
        Ok(config) => println!(
            "RESULT token={} log={} queue={} users={:?}",
            config.telegram_token,
            config.log_filter,
            config.max_queue_per_lane,
            config.allowed_users
        ),
        Err(error) => println!("RESULT error: {error}"),
    }
}

fn run_child(dir: &Path, choice: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "load_settings_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir(dir)
        .env_clear()
        .env(CHILD_VAR, choice)
        .env("PATH", dir.join("bin"))
        .env("HOME", dir)
        .env("TELEGRAM_BOT_TOKEN", "1:from-process")
        .env("BATON_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let at = stdout
        .find("RESULT ")
        .unwrap_or_else(|| panic!("no result in {stdout:?}"));
    stdout[at + 7..].lines().next().unwrap().to_string()
}

fn scratch_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let claude = dir.path().join("bin/claude");
    std::fs::write(&claude, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "TELEGRAM_BOT_TOKEN=1:from-file\nTELEGRAM_ALLOWED_USERS=11,12\nBATON_MAX_QUEUE_PER_LANE=9\nBATON_LOG=trace\n",
    )
    .unwrap();
    dir
}

#[test]
fn dot_env_in_current_dir_fills_in_what_the_environment_lacks() {
    let dir = scratch_dir();
    assert_eq!(
        run_child(dir.path(), "cwd"),
        "token=1:from-process log=warn queue=9 users=[11, 12]"
    );
}

#[test]
fn no_env_file_reads_the_environment_only() {
    let dir = scratch_dir();
    assert_eq!(
        run_child(dir.path(), "none"),
        "error: TELEGRAM_ALLOWED_USERS: is not set"
    );
}
