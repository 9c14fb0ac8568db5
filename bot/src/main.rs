//! `baton`: reads its settings, restores its state, and serves Telegram
//! until SIGINT or SIGTERM. Exit codes: 0 clean exit, 1 runtime failure,
//! 2 bad settings or arguments.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use baton_bot::app::{self, App, AppParts};
use baton_bot::config::{Command, Config, help_text};
use baton_bot::drivers::{ClaudeConfig, ClaudeDriver, CodexConfig, CodexDriver};
use baton_bot::instance_lock::InstanceLock;
use baton_bot::platform::Core;
use baton_bot::store::Store;
use baton_bot::streaming::coalescer::CoalescerConfig;
use baton_bot::telegram::commands::Command as BotCommand;
use teloxide::Bot;
use teloxide::prelude::Requester;
use teloxide::utils::command::BotCommands;
use tracing::{info, warn};

fn main() -> ExitCode {
    let command = match Command::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(2);
        }
    };
    let env_file = match command {
        Command::Help => {
            println!("{}", help_text());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("baton {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Run { env_file } => env_file,
    };
    let config = match Config::load(&env_file) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(2);
        }
    };
    baton_bot::logging::init(&config.log_filter, &config.telegram_token);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton: tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _lock = InstanceLock::acquire(&config.state_dir)?;
    let store = Store::open_in(&config.state_dir)?;
    let recovered = app::load_journal(&store)?;
    let mut bot = Bot::new(&config.telegram_token);
    if let Some(url) = &config.telegram_api_url {
        bot = bot.set_api_url(url.clone());
    }
    let me = bot
        .get_me()
        .await
        .context("telegram getMe (is TELEGRAM_BOT_TOKEN right?)")?;
    if let Err(error) = bot.set_my_commands(BotCommand::bot_commands()).await {
        warn!(%error, "startup: could not register the command list");
    }
    let core_config = baton_core::Config {
        capacity: config.max_concurrent_runs,
        max_queue: config.max_queue_per_lane,
        default_preferences: baton_core::Preferences {
            driver: config.default_driver,
            ..Default::default()
        },
        ..Default::default()
    };
    let core = Core::new(core_config, Arc::new(app::now_millis));
    let claude = ClaudeDriver::new(ClaudeConfig {
        bin: config.claude_bin.clone(),
        permission_mode: config.claude_permission_mode.clone(),
        allowed_tools: config.claude_allowed_tools.clone(),
        extra_env: Vec::new(),
        stall_timeout: config.stall_timeout,
    });
    let codex = match config.codex_bin() {
        Ok(bin) => Some(CodexDriver::new(CodexConfig::new(bin))),
        Err(error) => {
            info!(%error, "startup: codex unavailable");
            None
        }
    };
    let app = App::new(AppParts {
        core,
        bot,
        store,
        claude,
        codex,
        workdir: config.workdir.clone(),
        files_dir: config.state_dir.join("files"),
        allowed_users: config.allowed_users.clone(),
        username: me.username().to_owned(),
        coalescer: CoalescerConfig {
            edit_interval: config.edit_interval,
            ..Default::default()
        },
    });
    info!(bot = %me.username(), workdir = %config.workdir.display(), capacity = config.max_concurrent_runs, "startup: ready");
    app::restore(&app, recovered);
    app.register_cron_jobs();
    let cron = tokio::spawn(app::cron_tick(Arc::clone(&app)));
    let polling = tokio::spawn(app::poll_updates(Arc::clone(&app)));
    app::signal().await;
    app::shutdown(&app).await;
    polling.await.context("polling task")?;
    cron.await.context("cron task")?;
    Ok(())
}
