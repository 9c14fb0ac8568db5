//! Clean shutdown on SIGINT or SIGTERM: stop polling, stop admitting, stop
//! the runs in flight and tell their chats; queued items stay in the journal
//! and run after the restart.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::App;
use super::replies::Reply;

/// How long runners get to report their stopped runs.
const GRACE: Duration = Duration::from_secs(10);

pub async fn shutdown(app: &Arc<App>) {
    app.stopping.cancel();
    let report = app.door.shutdown();
    info!(
        cancelled = report.cancelled.len(),
        queued = report.queued.len(),
        "shutdown: began"
    );
    for run in &report.cancelled {
        app.reply(
            run.lane,
            Reply::StoppedForShutdown {
                preview: run.preview.clone(),
            },
        );
    }
    app.runners.close();
    if tokio::time::timeout(GRACE, app.runners.wait())
        .await
        .is_err()
    {
        warn!("shutdown: some runners did not end in time");
    }
    if let Err(error) = app.door.durable().await {
        warn!(%error, "shutdown: the journal may not be durable");
    }
    info!("shutdown: done");
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                warn!(%error, "shutdown: cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("shutdown: SIGINT"),
        _ = terminate.recv() => info!("shutdown: SIGTERM"),
    }
}
