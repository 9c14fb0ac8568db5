//! `baton`: reads its settings, restores its state, and serves Telegram
//! until SIGINT or SIGTERM. Exit codes: 0 clean exit, 1 runtime failure,
//! 2 bad settings or arguments.

use std::process::ExitCode;

use baton_bot::app;
use baton_bot::config::{Command, Config, help_text};
use baton_bot::serve::{Extras, serve};

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
    match runtime.block_on(serve(config, Extras::default(), app::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}
