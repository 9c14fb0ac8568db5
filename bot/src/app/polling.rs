//! Long polling: each update is recorded in the inbox (so a redelivery is
//! recognised and never runs twice), routed, and its effects handed to the
//! executor without waiting for any of them: a `/stop` behind a large
//! download is handled at once. The next getUpdates call, which confirms
//! the batch's offset to Telegram, waits until the core's journal entries
//! for the batch are durable.
//!
//! A file's item is submitted when its download completes; until then its
//! update stays unfinished in the inbox, so after a crash the next start
//! takes it up again (see `intake`).

use std::sync::Arc;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::AllowedUpdate;
use tracing::{debug, info, warn};

use super::App;
use super::incoming::{self, Input};
use crate::store::RecordOutcome;

/// Seconds Telegram holds a getUpdates call open while nothing happens.
const POLL_TIMEOUT_SECS: u32 = 25;
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Polls until the app starts stopping.
pub async fn poll_updates(app: Arc<App>) {
    let mut offset = match app.store.confirmed_update_id() {
        Ok(confirmed) => confirmed.map_or(0, |id| id + 1),
        Err(error) => {
            warn!(%error, "polling: could not read the confirmed offset; starting from Telegram's");
            0
        }
    };
    match app
        .store
        .prune_inbox(chrono::Utc::now() - crate::store::REDELIVERY_WINDOW)
        .await
    {
        Ok(pruned) => debug!(
            pruned,
            "polling: forgot update ids past the redelivery window"
        ),
        Err(error) => warn!(%error, "polling: could not prune the inbox"),
    }
    let mut backoff = BACKOFF_START;
    info!(offset, "polling: started");
    loop {
        let request = app
            .outbox
            .bot
            .get_updates()
            .offset(offset as i32)
            .timeout(POLL_TIMEOUT_SECS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let updates = tokio::select! {
            _ = app.tasks.stopping.cancelled() => break,
            result = request.into_future() => result,
        };
        let updates = match updates {
            Ok(updates) => {
                backoff = BACKOFF_START;
                updates
            }
            Err(RequestError::RetryAfter(wait)) => {
                warn!(seconds = wait.seconds(), "polling: flood control");
                pause(&app, wait.duration()).await;
                continue;
            }
            Err(error) => {
                warn!(%error, ?backoff, "polling: getUpdates failed");
                pause(&app, backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        for update in updates {
            let id = i64::from(update.id.0);
            offset = offset.max(id + 1);
            let Some(input) = incoming::read(&update) else {
                debug!(update = id, "polling: ignored an update of another kind");
                continue;
            };
            if accept(&app, id, &input, &update).await {
                app.route_update(id, input);
            }
        }
        // The next getUpdates tells Telegram it may forget these updates:
        // only once the batch's records and core entries are on disk.
        if let Err(error) = app.door.durable().await {
            warn!(%error, "polling: the batch's records are not durable");
        }
        app.store.confirm_update(offset - 1);
    }
    info!("polling: stopped");
}

/// Records the update in the inbox under its lane (with its forum topic);
/// false for a redelivery already handled.
async fn accept(app: &App, id: i64, input: &Input, update: &teloxide::types::Update) -> bool {
    let lane = input.lane().unwrap_or(baton_core::LaneKey::chat(0));
    match app
        .store
        .record_update(id, lane, update, chrono::Utc::now())
        .await
    {
        Ok(RecordOutcome::Inserted) => true,
        Ok(RecordOutcome::Duplicate) => {
            debug!(update = id, "polling: redelivered update ignored");
            false
        }
        Err(error) => {
            // Routing anyway keeps the bot usable; the core's own dedupe
            // still refuses a second run of the same update id.
            warn!(update = id, %error, "polling: could not record the update");
            true
        }
    }
}

async fn pause(app: &App, wait: Duration) {
    tokio::select! {
        _ = app.tasks.stopping.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}
