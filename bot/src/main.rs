//! `baton`: reads its settings, restores its state, and serves Telegram
//! until SIGINT or SIGTERM. Exit codes: 0 clean exit, 1 runtime failure,
//! 2 bad settings or arguments.

use std::process::ExitCode;

use baton_bot::app;
use baton_bot::config::{Action, Cli, Config, NotRun};
use baton_bot::cron::import::import_file;
use baton_bot::instance_lock::InstanceLock;
use baton_bot::serve::{Extras, serve};
use baton_bot::store::Store;

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
    let action = cli.action();
    // Started by an agent CLI, in the agent's working directory: it needs no settings.
    if matches!(action, Action::Mcp) {
        return run_mcp();
    }
    // Reading the state needs no token or agent CLI: only the state dir.
    if let Action::ExportJournal { out } = &action {
        return match Config::state_dir_from_cli(&cli) {
            Ok(state_dir) => run_export_journal(&state_dir, out.as_deref()),
            Err(error) => {
                eprintln!("baton: {error}");
                ExitCode::from(2)
            }
        };
    }
    let config = match Config::from_cli(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("baton: {error}");
            return ExitCode::from(2);
        }
    };
    match action {
        Action::Serve => run_serve(config),
        Action::ImportCron { file } => run_import_cron(&config, &file),
        Action::Mcp => run_mcp(),
        Action::ExportJournal { out } => run_export_journal(&config.state_dir, out.as_deref()),
    }
}

/// Imports the original bot's cron-jobs.json while no instance serves this state
/// directory (a running one would not see the new jobs until restarted).
fn run_import_cron(config: &Config, file: &std::path::Path) -> ExitCode {
    let imported = InstanceLock::acquire(&config.state_dir)
        .map_err(anyhow::Error::from)
        .and_then(|lock| {
            let store = Store::open_in(&config.state_dir)?;
            let default_chat = config.allowed_users.first().map_or(0, |user| *user as i64);
            let summary = import_file(&store, file, default_chat)?;
            store.flush()?;
            drop(lock);
            Ok(summary)
        });
    match imported {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("baton: import-cron: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_mcp() -> ExitCode {
    let link = match baton_bot::mcp::Link::from_env() {
        Ok(link) => link,
        Err(error) => {
            eprintln!("baton mcp: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("baton mcp: tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(baton_bot::mcp::serve_stdio(link)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton mcp: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exit codes as `serve`'s: 1 when the journal cannot be read or written.
fn run_export_journal(state_dir: &std::path::Path, out: Option<&std::path::Path>) -> ExitCode {
    let result = match out {
        // Read whole first: a journal that cannot be read leaves no file behind.
        Some(path) => {
            let mut jsonl = Vec::new();
            baton_bot::export_journal::export(state_dir, &mut jsonl).and_then(|count| {
                std::fs::write(path, &jsonl)
                    .map(|()| count)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            })
        }
        None => baton_bot::export_journal::export(state_dir, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(count) => {
            eprintln!("baton: exported {count} journal entries");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("baton: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Blocking-pool threads (file I/O, DNS) at most: a burst of downloads must not
/// leave dozens of idle threads and their stacks behind.
const MAX_BLOCKING_THREADS: usize = 4;

fn run_serve(config: Config) -> ExitCode {
    small_heap();
    baton_bot::logging::init(&config.log_filter, &config.telegram_token);
    // One thread is plenty for a bot that mostly waits on the network: every worker
    // thread would cost its own stack and malloc arena. Disk syncs run on the store's
    // own thread, agents in their own processes.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
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

/// Keeps glibc's heap small at rest: one arena for every thread (each arena keeps the
/// memory its thread freed), and fixed thresholds, so a long answer's large buffers are
/// given back when freed instead of raising the thresholds for good.
fn small_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}
