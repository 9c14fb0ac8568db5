//! Tests of settings validation, `.env` precedence and the command line.

use super::*;
use clap::CommandFactory;
use std::os::unix::fs::PermissionsExt;

/// A scratch directory with a fake `claude` on its own PATH.
struct Fixture {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        write_executable(&bin.join("claude"));
        let mut vars = HashMap::new();
        vars.insert("TELEGRAM_BOT_TOKEN".into(), "123:secret-token".into());
        vars.insert("TELEGRAM_ALLOWED_USERS".into(), "42, 7".into());
        vars.insert("PATH".into(), bin.display().to_string());
        vars.insert("HOME".into(), dir.path().join("home").display().to_string());
        Fixture { dir, vars }
    }

    fn set(mut self, name: &str, value: &str) -> Fixture {
        self.vars.insert(name.into(), value.into());
        self
    }

    fn unset(mut self, name: &str) -> Fixture {
        self.vars.remove(name);
        self
    }

    fn load(&self) -> Result<Config, ConfigError> {
        Config::from_map(&self.vars, self.dir.path())
    }

    fn error(&self) -> String {
        self.load()
            .expect_err("settings should be refused")
            .to_string()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn write_executable(path: &Path) {
    std::fs::write(path, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn defaults_apply_when_only_required_settings_are_given() {
    let fx = Fixture::new();
    let config = fx.load().unwrap();
    assert_eq!(config.telegram_token, "123:secret-token");
    assert_eq!(config.allowed_users, vec![42, 7]);
    assert_eq!(
        config.workdir,
        std::fs::canonicalize(fx.dir.path()).unwrap()
    );
    assert_eq!(config.state_dir, fx.path("home/.local/share/baton"));
    assert_eq!(config.telegram_api_url, None);
    assert_eq!(config.claude_bin, fx.path("bin/claude"));
    assert_eq!(config.max_concurrent_runs, 1);
    assert_eq!(config.max_queue_per_lane, 20);
    assert_eq!(config.stall_timeout, Duration::from_secs(300));
    assert_eq!(config.edit_interval, Duration::from_millis(1500));
    assert_eq!(config.rate_limit_per_minute, Some(30));
    assert_eq!(config.claude_permission_mode, None);
    assert!(config.claude_allowed_tools.is_empty());
    assert_eq!(config.codex_sandbox, CodexSandbox::WorkspaceWrite);
    assert!(!config.codex_network);
    assert_eq!(config.codex_approval_policy, "on-request");
    assert_eq!(config.default_driver, baton_core::Driver::Claude);
    assert_eq!(config.log_filter, "info");
    assert!(config.is_allowed(7));
    assert!(!config.is_allowed(8));
}

#[test]
fn every_setting_is_read_when_given() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.path("work")).unwrap();
    write_executable(&fx.path("bin/codex"));
    let fx = fx
        .set("BATON_WORKDIR", "work")
        .set("BATON_STATE_DIR", "state")
        .set("TELEGRAM_API_URL", "http://127.0.0.1:8081")
        .set("CLAUDE_BIN", "./bin/claude")
        .set("CODEX_BIN", "codex")
        .set("BATON_MAX_CONCURRENT_RUNS", "3")
        .set("BATON_MAX_QUEUE_PER_LANE", "5")
        .set("BATON_STALL_TIMEOUT_SECS", "60")
        .set("BATON_EDIT_INTERVAL_MS", "900")
        .set("BATON_RATE_LIMIT", "0")
        .set("CLAUDE_PERMISSION_MODE", "acceptEdits")
        .set("CLAUDE_ALLOWED_TOOLS", "Read, Edit,Bash(git status:*),")
        .set("CODEX_SANDBOX", "read-only")
        .set("CODEX_NETWORK", "on")
        .set("CODEX_APPROVAL_POLICY", "untrusted")
        .set("BATON_DEFAULT_DRIVER", "codex")
        .set("BATON_TZ", "Europe/Berlin")
        .set("BATON_CRON_GRACE_SECS", "3600")
        .set("BATON_LOG", "baton_bot=debug,info");
    let config = fx.load().unwrap();
    assert_eq!(config.tz, chrono_tz::Tz::Europe__Berlin);
    assert_eq!(config.cron_grace, Duration::from_secs(3600));
    assert_eq!(
        config.workdir,
        std::fs::canonicalize(fx.path("work")).unwrap()
    );
    assert_eq!(config.state_dir, fx.path("state"));
    assert_eq!(
        config.telegram_api_url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:8081/"
    );
    assert_eq!(config.claude_bin, fx.path("./bin/claude"));
    assert_eq!(config.codex_bin().unwrap(), fx.path("bin/codex"));
    assert_eq!(config.max_concurrent_runs, 3);
    assert_eq!(config.max_queue_per_lane, 5);
    assert_eq!(config.stall_timeout, Duration::from_secs(60));
    assert_eq!(config.edit_interval, Duration::from_millis(900));
    assert_eq!(config.rate_limit_per_minute, None);
    assert_eq!(
        config.claude_permission_mode.as_deref(),
        Some("acceptEdits")
    );
    assert_eq!(
        config.claude_allowed_tools,
        vec!["Read", "Edit", "Bash(git status:*)"]
    );
    assert_eq!(config.codex_sandbox, CodexSandbox::ReadOnly);
    assert!(config.codex_network);
    assert_eq!(config.codex_approval_policy, "untrusted");
    assert_eq!(config.default_driver, baton_core::Driver::Codex);
    assert_eq!(config.log_filter, "baton_bot=debug,info");
}

#[test]
fn missing_token_is_named() {
    assert_eq!(
        Fixture::new().unset("TELEGRAM_BOT_TOKEN").error(),
        "TELEGRAM_BOT_TOKEN: is not set"
    );
    assert_eq!(
        Fixture::new().set("TELEGRAM_BOT_TOKEN", "  ").error(),
        "TELEGRAM_BOT_TOKEN: is not set"
    );
}

#[test]
fn token_with_whitespace_is_refused() {
    assert_eq!(
        Fixture::new()
            .set("TELEGRAM_BOT_TOKEN", "123:abc def")
            .error(),
        "TELEGRAM_BOT_TOKEN: contains whitespace or '/', which a bot token never has"
    );
}

#[test]
fn allowed_users_errors_name_the_bad_entry() {
    assert_eq!(
        Fixture::new().unset("TELEGRAM_ALLOWED_USERS").error(),
        "TELEGRAM_ALLOWED_USERS: is not set"
    );
    assert_eq!(
        Fixture::new()
            .set("TELEGRAM_ALLOWED_USERS", "1,12a")
            .error(),
        r#"TELEGRAM_ALLOWED_USERS: "12a" is not a numeric user id"#
    );
    assert_eq!(
        Fixture::new().set("TELEGRAM_ALLOWED_USERS", "-5").error(),
        r#"TELEGRAM_ALLOWED_USERS: "-5" is not a numeric user id"#
    );
    assert_eq!(
        Fixture::new().set("TELEGRAM_ALLOWED_USERS", " , ").error(),
        "TELEGRAM_ALLOWED_USERS: lists no user id"
    );
}

#[test]
fn allowed_users_are_deduplicated_in_order() {
    let config = Fixture::new()
        .set("TELEGRAM_ALLOWED_USERS", "5,3,5")
        .load()
        .unwrap();
    assert_eq!(config.allowed_users, vec![5, 3]);
}

#[test]
fn workdir_must_be_an_existing_directory() {
    let fx = Fixture::new().set("BATON_WORKDIR", "nowhere");
    assert_eq!(
        fx.error(),
        format!(
            "BATON_WORKDIR: {} does not exist",
            fx.path("nowhere").display()
        )
    );
    let fx = Fixture::new().set("BATON_WORKDIR", "file");
    std::fs::write(fx.path("file"), "x").unwrap();
    assert_eq!(
        fx.error(),
        format!(
            "BATON_WORKDIR: {} is not a directory",
            fx.path("file").display()
        )
    );
}

#[test]
fn state_dir_defaults_follow_xdg_then_home() {
    let fx = Fixture::new().set("XDG_DATA_HOME", "/data");
    assert_eq!(fx.load().unwrap().state_dir, PathBuf::from("/data/baton"));
    let fx = Fixture::new().set("XDG_DATA_HOME", "relative");
    assert_eq!(
        fx.load().unwrap().state_dir,
        fx.path("home/.local/share/baton")
    );
    assert_eq!(
        Fixture::new().unset("HOME").error(),
        "BATON_STATE_DIR: is not set and neither XDG_DATA_HOME nor HOME gives a default"
    );
}

#[test]
fn state_dir_that_is_a_file_is_refused() {
    let fx = Fixture::new().set("BATON_STATE_DIR", "file");
    std::fs::write(fx.path("file"), "x").unwrap();
    assert_eq!(
        fx.error(),
        format!(
            "BATON_STATE_DIR: {} is not a directory",
            fx.path("file").display()
        )
    );
}

#[test]
fn api_url_must_be_http() {
    assert_eq!(
        Fixture::new().set("TELEGRAM_API_URL", "not a url").error(),
        r#"TELEGRAM_API_URL: "not a url" is not a url: relative URL without a base"#
    );
    assert_eq!(
        Fixture::new().set("TELEGRAM_API_URL", "ftp://x").error(),
        r#"TELEGRAM_API_URL: "ftp://x" is not an http or https url"#
    );
}

const CLAUDE_MISSING: &str = r#"CLAUDE_BIN: "claude" was not found on PATH or in node_modules/.bin; install it with scripts/install-agents.sh or npm install -g @anthropic-ai/claude-code"#;

#[test]
fn claude_bin_must_be_found_and_executable() {
    assert_eq!(
        Fixture::new().set("PATH", "/nonexistent").error(),
        CLAUDE_MISSING
    );
    assert_eq!(Fixture::new().unset("PATH").error(), CLAUDE_MISSING);
    let fx = Fixture::new().set("CLAUDE_BIN", "./plain");
    std::fs::write(fx.path("plain"), "x").unwrap();
    assert_eq!(
        fx.error(),
        format!(
            "CLAUDE_BIN: {} is not executable",
            fx.path("./plain").display()
        )
    );
    let fx = Fixture::new().set("CLAUDE_BIN", "/no/such/claude");
    assert_eq!(fx.error(), "CLAUDE_BIN: /no/such/claude does not exist");
    let fx = Fixture::new().set("CLAUDE_BIN", "./bin");
    assert_eq!(
        fx.error(),
        format!("CLAUDE_BIN: {} is not a file", fx.path("./bin").display())
    );
}

#[test]
fn path_lookup_skips_non_executables() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.path("first")).unwrap();
    std::fs::write(fx.path("first/claude"), "x").unwrap();
    let path = format!(
        "{}:{}",
        fx.path("first").display(),
        fx.path("bin").display()
    );
    let config = fx.set("PATH", &path).load().unwrap();
    assert_eq!(config.claude_bin, config.search.base_dir.join("bin/claude"));
}

#[test]
fn clis_off_path_are_found_in_the_projects_node_modules() {
    // The current directory's project, as after scripts/install-agents.sh.
    let fx = Fixture::new().set("PATH", "/nonexistent");
    std::fs::create_dir_all(fx.path("node_modules/.bin")).unwrap();
    write_executable(&fx.path("node_modules/.bin/claude"));
    let config = fx.load().unwrap();
    assert_eq!(config.claude_bin, fx.path("node_modules/.bin/claude"));

    // The executable's project: target/release/baton two levels below it.
    let fx = Fixture::new().set("PATH", "/nonexistent");
    std::fs::create_dir_all(fx.path("project/target/release")).unwrap();
    std::fs::create_dir_all(fx.path("project/node_modules/.bin")).unwrap();
    write_executable(&fx.path("project/node_modules/.bin/codex"));
    write_executable(&fx.path("bin/claude-elsewhere"));
    let settings = Settings::from_vars(&fx.vars).unwrap();
    let ambient = |exe_dir: PathBuf| Ambient {
        path: Some("/nonexistent".into()),
        home: Some(fx.path("home")),
        xdg_data_home: None,
        exe_dir: Some(exe_dir),
    };
    let settings = Settings {
        claude_bin: Some(fx.path("bin/claude").into()),
        ..settings
    };
    let config = Config::from_settings(
        &settings,
        &ambient(fx.path("project/target/release")),
        fx.dir.path(),
    )
    .unwrap();
    assert_eq!(
        config.codex_bin().unwrap(),
        fx.path("project/node_modules/.bin/codex")
    );
    // Too far above the executable is not its project.
    let config = Config::from_settings(
        &settings,
        &ambient(fx.path("project/target/release/deep/er")),
        fx.dir.path(),
    )
    .unwrap();
    assert!(config.codex_bin().is_err());
}

#[test]
fn missing_codex_is_reported_only_when_asked() {
    let config = Fixture::new().load().unwrap();
    assert_eq!(
        config.codex_bin().unwrap_err().to_string(),
        r#"CODEX_BIN: "codex" was not found on PATH or in node_modules/.bin; install it with scripts/install-agents.sh or npm install -g @openai/codex"#
    );
}

#[test]
fn numbers_are_checked_for_form_and_minimum() {
    assert_eq!(
        Fixture::new()
            .set("BATON_MAX_CONCURRENT_RUNS", "two")
            .error(),
        r#"BATON_MAX_CONCURRENT_RUNS: "two" is not a whole number"#
    );
    assert_eq!(
        Fixture::new().set("BATON_MAX_CONCURRENT_RUNS", "0").error(),
        "BATON_MAX_CONCURRENT_RUNS: 0 is below the minimum of 1"
    );
    assert_eq!(
        Fixture::new().set("BATON_MAX_QUEUE_PER_LANE", "-1").error(),
        r#"BATON_MAX_QUEUE_PER_LANE: "-1" is not a whole number"#
    );
    assert_eq!(
        Fixture::new().set("BATON_STALL_TIMEOUT_SECS", "0").error(),
        "BATON_STALL_TIMEOUT_SECS: 0 is below the minimum of 1"
    );
    assert_eq!(
        Fixture::new().set("BATON_EDIT_INTERVAL_MS", "50").error(),
        "BATON_EDIT_INTERVAL_MS: 50 is below the minimum of 100"
    );
    assert_eq!(
        Fixture::new().set("BATON_RATE_LIMIT", "1.5").error(),
        r#"BATON_RATE_LIMIT: "1.5" is not a whole number"#
    );
    assert_eq!(
        Fixture::new()
            .set("BATON_RATE_LIMIT", "99999999999")
            .error(),
        "BATON_RATE_LIMIT: 99999999999 is too large"
    );
}

#[test]
fn choices_are_checked() {
    assert_eq!(
        Fixture::new().set("CLAUDE_PERMISSION_MODE", "yolo").error(),
        r#"CLAUDE_PERMISSION_MODE: "yolo" is not one of default, acceptEdits, auto, plan, dontAsk, bypassPermissions"#
    );
    assert_eq!(
        Fixture::new().set("CODEX_SANDBOX", "none").error(),
        r#"CODEX_SANDBOX: "none" is not one of read-only, workspace-write, danger-full-access"#
    );
    assert_eq!(
        Fixture::new().set("CODEX_NETWORK", "maybe").error(),
        r#"CODEX_NETWORK: "maybe" is not on or off"#
    );
    assert_eq!(
        Fixture::new()
            .set("CODEX_APPROVAL_POLICY", "always")
            .error(),
        r#"CODEX_APPROVAL_POLICY: "always" is not one of untrusted, on-request, never"#
    );
    assert_eq!(
        Fixture::new().set("BATON_DEFAULT_DRIVER", "gpt").error(),
        r#"BATON_DEFAULT_DRIVER: "gpt" is not claude or codex"#
    );
    assert_eq!(
        Fixture::new().set("BATON_TZ", "Mars/Olympus").error(),
        r#"BATON_TZ: time zone "Mars/Olympus": not a known IANA time zone name (e.g. Europe/Berlin, UTC)"#
    );
    assert_eq!(
        Fixture::new().set("BATON_CRON_GRACE_SECS", "a day").error(),
        r#"BATON_CRON_GRACE_SECS: "a day" is not a whole number"#
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let config = Fixture::new().load().unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("secret-token"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn process_environment_wins_over_env_file() {
    let fx = Fixture::new();
    let env_path = fx.path(".env");
    std::fs::write(
        &env_path,
        "# comment\nTELEGRAM_BOT_TOKEN=from-file\nBATON_MAX_QUEUE_PER_LANE=9\nexport BATON_LOG=\"debug\"\n",
    )
    .unwrap();
    let file_vars = read_env_file(&env_path).unwrap();
    // Given on the command line, as the process environment would give them (see
    // tests/config_env.rs for a real environment).
    let mut args = vec![
        "baton".to_string(),
        "--log=warn".to_string(),
        "--no-env-file".to_string(),
    ];
    args.extend(
        fx.vars
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "PATH" | "HOME"))
            .map(|(name, value)| {
                let flag = name.to_lowercase().replace('_', "-");
                format!("--{flag}={value}")
            }),
    );
    let cli = Cli::parse_from(args.iter().map(OsString::from)).unwrap();
    let settings = cli.settings_with(&file_vars).unwrap();
    let ambient = Ambient {
        path: fx.vars.get("PATH").map(OsString::from),
        home: fx.vars.get("HOME").map(PathBuf::from),
        xdg_data_home: None,
        exe_dir: None,
    };
    let config = Config::from_settings(&settings, &ambient, fx.dir.path()).unwrap();
    assert_eq!(
        config.telegram_token, "123:secret-token",
        "process value wins"
    );
    assert_eq!(config.log_filter, "warn", "process value wins");
    assert_eq!(
        config.max_queue_per_lane, 9,
        "file fills in what the process lacks"
    );
}

#[test]
fn env_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.env");
    let cli = Cli::parse_from([
        OsString::from("baton"),
        OsString::from("--env-file"),
        missing.clone().into(),
    ])
    .unwrap();
    let error = Config::from_cli(&cli).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "env file {}: no such file or directory (os error 2)",
            missing.display()
        )
    );
    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "GOOD=1\nNOT VALID LINE\n").unwrap();
    let error = read_env_file(&bad).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("env file {}: cannot parse", bad.display())),
        "{error}"
    );
}

/// Every setting's clap argument: its id and its variable.
fn setting_args() -> Vec<(String, String)> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_string();
            Some((arg.get_id().to_string(), env))
        })
        .collect()
}

fn help() -> String {
    match Cli::parse_from(["baton", "--help"].map(OsString::from)) {
        Err(NotRun::Print(text)) => text,
        other => panic!("--help gave {other:?}"),
    }
}

#[test]
fn help_lists_every_setting_with_its_default() {
    let help = help();
    let command = Cli::command();
    let settings = setting_args();
    assert_eq!(settings.len(), 28, "{settings:?}");
    for arg in command.get_arguments().filter(|a| a.get_env().is_some()) {
        let env = arg.get_env().unwrap().to_str().unwrap();
        let meaning = arg
            .get_help()
            .expect("every setting says what it means")
            .to_string();
        let (_, default) = meaning
            .split_once("; default: ")
            .unwrap_or_else(|| panic!("{env} gives no default: {meaning}"));
        assert!(!default.is_empty(), "{env}");
        assert!(help.contains(&format!("[env: {env}]")), "{env} missing");
        assert!(help.contains(&format!("default: {default}")), "{env}");
        assert!(help.contains(&format!("--{}", arg.get_long().unwrap())));
    }
    assert!(help.contains("--env-file <PATH>"));
    assert!(help.contains("--no-env-file"));
    assert!(help.contains("serve"));
    assert!(help.contains("Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad settings"));
    assert!(!help.contains("secret"), "no value is shown");
}

#[test]
fn every_variable_read_is_documented() {
    // rustfmt may break a call over lines.
    let source: String = include_str!("../config.rs").split_whitespace().collect();
    let settings = setting_args();
    // Settings are read through `get(&settings.FIELD, "NAME")`: the name an error
    // shows must be the variable clap reads into that field.
    let mut reads = 0;
    for (at, _) in source.match_indices("get(&settings.") {
        let rest = &source[at + "get(&settings.".len()..];
        let field = &rest[..rest.find(',').unwrap()];
        let name_at = rest.find('"').unwrap() + 1;
        let name = &rest[name_at..name_at + rest[name_at..].find('"').unwrap()];
        assert!(
            settings.iter().any(|(id, env)| id == field && env == name),
            "{field} is read as {name}, which is not its variable"
        );
        reads += 1;
    }
    assert!(reads >= settings.len(), "only {reads} reads found");
}

#[test]
fn command_line_is_parsed() {
    let parse = |args: &[&str]| {
        Cli::parse_from(
            std::iter::once("baton")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    };
    let env_file = |args: &[&str]| parse(args).map(|cli| (cli.env_file(), cli.action()));
    assert_eq!(env_file(&[]), Ok((EnvFile::CurrentDir, Action::Serve)));
    assert_eq!(
        env_file(&["serve"]),
        Ok((EnvFile::CurrentDir, Action::Serve))
    );
    assert_eq!(
        env_file(&["--no-env-file"]),
        Ok((EnvFile::Disabled, Action::Serve))
    );
    assert!(
        matches!(parse(&["--help"]), Err(NotRun::Print(text)) if text.contains("Usage: baton"))
    );
    assert_eq!(
        parse(&["-V"]).unwrap_err(),
        NotRun::Print(format!("baton {}\n", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        env_file(&["--env-file", "/etc/baton.env"]),
        Ok((EnvFile::Path("/etc/baton.env".into()), Action::Serve))
    );
    assert_eq!(
        env_file(&["--env-file=x.env"]),
        Ok((EnvFile::Path("x.env".into()), Action::Serve))
    );
    let usage = |args: &[&str]| match parse(args) {
        Err(NotRun::Usage(error)) => error.to_string(),
        other => panic!("{args:?} gave {other:?}"),
    };
    assert_eq!(usage(&["--env-file"]), "--env-file: a path is required");
    assert_eq!(usage(&["--env-file="]), "--env-file: a path is required");
    assert_eq!(
        usage(&["--verbose"]),
        r#"unknown argument "--verbose" (try --help)"#
    );
    assert_eq!(usage(&["fly"]), r#"unknown command "fly" (try --help)"#);
    assert_eq!(
        env_file(&["--no-env-file", "import-cron", "cron-jobs.json"]),
        Ok((
            EnvFile::Disabled,
            Action::ImportCron {
                file: "cron-jobs.json".into()
            }
        ))
    );
    assert_eq!(usage(&["import-cron"]), "<FILE> is required (try --help)");
    assert!(
        usage(&["--env-file=x", "--no-env-file"]).contains("cannot be used with"),
        "conflict"
    );
}

#[test]
fn settings_come_from_flags_too_and_an_env_file_only_fills_gaps() {
    let fx = Fixture::new();
    let cli = Cli::parse_from(
        ["baton", "--max-queue-per-lane=4", "--log", "debug", "serve"].map(OsString::from),
    )
    .unwrap();
    let file: HashMap<String, String> = [
        ("BATON_MAX_QUEUE_PER_LANE", "9"),
        ("BATON_MAX_CONCURRENT_RUNS", "2"),
        ("TELEGRAM_BOT_TOKEN", "1:file"),
        ("TELEGRAM_ALLOWED_USERS", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = cli.settings_with(&file).unwrap();
    let ambient = Ambient {
        path: fx.vars.get("PATH").map(OsString::from),
        home: Some(fx.path("home")),
        xdg_data_home: None,
        exe_dir: None,
    };
    let config = Config::from_settings(&settings, &ambient, fx.dir.path()).unwrap();
    assert_eq!(config.max_queue_per_lane, 4, "the flag wins");
    assert_eq!(config.log_filter, "debug");
    assert_eq!(config.max_concurrent_runs, 2, "the file fills in");
    assert_eq!(config.allowed_users, vec![5]);
    assert_eq!(
        cli.action(),
        Action::Serve,
        "the subcommand survives the fill"
    );
}

#[test]
fn is_allowed_is_the_one_check() {
    assert!(is_allowed(&[3, 9], 9));
    assert!(!is_allowed(&[3, 9], 4));
    assert!(!is_allowed(&[], 0));
}

#[test]
fn transcription_settings_are_read_and_checked() {
    assert!(
        Fixture::new().load().unwrap().transcribe.is_none(),
        "voice is off by default"
    );
    let config = Fixture::new()
        .set("BATON_TRANSCRIBE_URL", "http://localhost:8000/")
        .set("BATON_TRANSCRIBE_KEY", "sk-secret")
        .load()
        .unwrap();
    let transcribe = config.transcribe.clone().expect("voice on");
    assert_eq!(
        transcribe.endpoint.as_str(),
        "http://localhost:8000/v1/audio/transcriptions"
    );
    assert_eq!(transcribe.model, "gpt-4o-transcribe");
    assert_eq!(transcribe.timeout, Duration::from_secs(120));
    assert!(
        !format!("{config:?}").contains("sk-secret"),
        "the key is never logged"
    );
    let model = Fixture::new()
        .set("BATON_TRANSCRIBE_URL", "https://api.openai.com/v1")
        .set("BATON_TRANSCRIBE_MODEL", "whisper-1")
        .load()
        .unwrap();
    assert_eq!(model.transcribe.unwrap().model, "whisper-1");
    assert!(
        Fixture::new()
            .set("BATON_TRANSCRIBE_URL", "ftp://x")
            .error()
            .starts_with("BATON_TRANSCRIBE_URL: ")
    );
}
