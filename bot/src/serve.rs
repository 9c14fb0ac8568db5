//! Building the bot from its settings and serving until told to stop.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use teloxide::Bot;
use teloxide::prelude::Requester;
use teloxide::utils::command::BotCommands;
use tracing::{info, warn};

use crate::app::{self, App, AppParts};
use crate::config::Config;
use crate::drivers::{ClaudeConfig, ClaudeDriver, CodexConfig, CodexDriver};
use crate::instance_lock::InstanceLock;
use crate::platform::Core;
use crate::store::Store;
use crate::telegram::commands::Command as BotCommand;

/// What the environment cannot express but tests need: extra environment
/// for the agent CLIs (a fake model server, a private HOME).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub claude_env: Vec<(String, String)>,
    pub codex_env: Vec<(String, String)>,
    pub codex_home: Option<std::path::PathBuf>,
    pub codex_overrides: Vec<String>,
    /// The `baton` executable the agents start as `baton mcp`; default: this process's own.
    pub baton_bin: Option<std::path::PathBuf>,
}

/// Runs the bot until `stop` resolves, then shuts down cleanly.
pub async fn serve(
    config: Config,
    extras: Extras,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let _lock = InstanceLock::acquire(&config.state_dir)?;
    let store = Store::open_in(&config.state_dir)?;
    let recovered = app::load_journal(&store)?;
    // The journal is rewritten as what is pending, so it never grows with history.
    let checkpoint = baton_core::journal::checkpoint(&recovered, app::now_millis());
    store
        .replace_journal(&checkpoint)
        .await
        .context("journal checkpoint")?;
    store.durable().await.context("journal checkpoint")?;
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
    let core = Core::new(core_config, app::now_millis);
    let claude = ClaudeDriver::new(ClaudeConfig {
        bin: config.claude_bin.clone(),
        permission_mode: config.claude_permission_mode.clone(),
        allowed_tools: config.claude_allowed_tools.clone(),
        extra_env: extras.claude_env.clone(),
        stall_timeout: config.stall_timeout,
    });
    let codex = match config.codex_bin() {
        Ok(bin) => {
            let mut codex = CodexConfig::new(bin);
            codex.sandbox = config.codex_sandbox;
            codex.network_access = config.codex_network;
            codex.approval_policy = config.codex_approval_policy.clone();
            codex.stall_timeout = config.stall_timeout;
            codex.extra_env = extras.codex_env.clone();
            codex.codex_home = extras.codex_home.clone();
            codex.config_overrides = extras.codex_overrides.clone();
            Some(CodexDriver::new(codex))
        }
        Err(error) => {
            info!(%error, "startup: codex unavailable");
            None
        }
    };
    let app = App::new(AppParts {
        config: config.clone(),
        core,
        bot,
        store,
        claude,
        codex,
        username: me.username().to_owned(),
        baton_bin: extras
            .baton_bin
            .clone()
            .or_else(|| std::env::current_exe().ok()),
    });
    info!(bot = %me.username(), workdir = %config.workdir.display(), capacity = config.max_concurrent_runs, "startup: ready");
    // Before the first run starts, so every run's agent gets send_file.
    let file_sends = app.listen_for_file_sends();
    app::restore(&app, recovered);
    app::resume_intake(&app);
    app.register_cron_jobs();
    let cron = tokio::spawn(app::cron_tick(Arc::clone(&app)));
    let polling = tokio::spawn(app::poll_updates(Arc::clone(&app)));
    stop.await;
    app::shutdown(&app).await;
    polling.await.context("polling task")?;
    cron.await.context("cron task")?;
    if let Some(file_sends) = file_sends {
        file_sends.await.context("send_file task")?;
    }
    app.durable().await.context("final commit")?;
    Ok(())
}
