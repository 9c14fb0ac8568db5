//! Long polling with a durable inbox: each update is recorded in the store,
//! routed, and the core's journal persisted, before the next getUpdates
//! call confirms its offset to Telegram. A crash loses nothing; a
//! redelivered update is recognised and never runs twice.

use std::sync::Arc;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{AllowedUpdate, Update};
use tracing::{debug, info, warn};

use super::App;
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
            .bot
            .get_updates()
            .offset(offset as i32)
            .timeout(POLL_TIMEOUT_SECS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let updates = tokio::select! {
            _ = app.stopping.cancelled() => break,
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
            if accept(&app, &update) {
                app.route(update).await;
                // From here on the journal follows the item; the inbox only
                // remembers the id, so a redelivery is recognised.
                if let Err(error) = app.store.mark_done(id, chrono::Utc::now()) {
                    warn!(update = id, %error, "polling: could not mark the update handled");
                }
            }
        }
        // The next getUpdates tells Telegram it may forget these updates:
        // only once what they changed in the core is on disk.
        if let Err(error) = app.door.durable().await {
            warn!(%error, "polling: the batch's journal may not be durable");
        }
        if let Err(error) = app.store.confirm_update(offset - 1) {
            warn!(%error, "polling: could not record the confirmed offset");
        }
    }
    info!("polling: stopped");
}

/// Records the update in the inbox; false for a redelivery already handled.
fn accept(app: &App, update: &Update) -> bool {
    let id = i64::from(update.id.0);
    let lane = update.chat().map_or(baton_core::LaneKey::chat(0), |chat| {
        baton_core::LaneKey::chat(chat.id.0)
    });
    match app
        .store
        .record_update(id, lane, update, chrono::Utc::now())
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
        _ = app.stopping.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}
