//! `baton`: reads its settings, restores its state, and serves Telegram
//! until SIGINT or SIGTERM. Exit codes: 0 clean exit, 1 runtime failure,
//! 2 bad settings or arguments.

use std::process::ExitCode;

use baton_bot::app;
use baton_bot::config::{Action, Cli, Config, NotRun};
use baton_bot::serve::{Extras, serve};

fn main() -> ExitCode {
    let cli = match Cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(NotRun::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(NotRun::Usage(error)) => {
            eprintln!("baton: {error}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_cli(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.action() {
        Action::Serve => run_serve(config),
    }
}

fn run_serve(config: Config) -> ExitCode {
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
