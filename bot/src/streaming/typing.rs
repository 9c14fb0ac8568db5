//! The "typing…" indicator, repeated while a run lasts and stopped when its guard goes.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::api::{ApiFailure, Target, TelegramApi};
use super::coalescer::ChatPauses;

/// Telegram shows the indicator for 5 s; repeating a little sooner keeps it steady.
pub const TYPING_EVERY: Duration = Duration::from_secs(4);

/// Keeps the indicator on; dropping it (or [`Typing::stop`]) ends the task at once.
#[derive(Debug)]
#[must_use = "the indicator stops when this guard is dropped"]
pub struct Typing {
    task: JoinHandle<()>,
}

impl Typing {
    /// Starts sending the typing action to `target` every `every`, skipping while the chat
    /// is under flood control so the indicator never adds to it.
    pub fn start<A: TelegramApi>(
        api: A,
        target: Target,
        every: Duration,
        pauses: ChatPauses,
    ) -> Self {
        let task = tokio::spawn(async move {
            let mut next = Instant::now();
            loop {
                tokio::time::sleep_until(next).await;
                let now = Instant::now();
                if let Some(until) = pauses.paused_until(target.chat, now) {
                    next = until;
                    continue;
                }
                if let Err(ApiFailure::RetryAfter(wait)) = api.typing(target).await {
                    pauses.pause(target.chat, Instant::now() + wait);
                }
                next = now + every;
            }
        });
        Typing { task }
    }

    pub fn stop(self) {}
}

impl Drop for Typing {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use teloxide::types::ChatId;

    use super::*;
    use crate::streaming::test_api::{Call, RecordingApi};

    fn typing_calls(api: &RecordingApi) -> usize {
        api.calls()
            .iter()
            .filter(|r| r.call == Call::Typing)
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn typing_repeats_every_four_seconds_until_dropped() {
        let api = RecordingApi::default();
        let typing = Typing::start(
            api.clone(),
            Target::chat(ChatId(1)),
            TYPING_EVERY,
            ChatPauses::default(),
        );
        tokio::time::sleep(Duration::from_millis(9_000)).await;
        assert_eq!(typing_calls(&api), 3, "at 0, 4 and 8 s");
        drop(typing);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(typing_calls(&api), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn typing_waits_out_flood_control() {
        let api = RecordingApi::default();
        let pauses = ChatPauses::default();
        api.fail_next(ApiFailure::RetryAfter(Duration::from_secs(20)), 1);
        let typing = Typing::start(
            api.clone(),
            Target::chat(ChatId(1)),
            TYPING_EVERY,
            pauses.clone(),
        );
        tokio::time::sleep(Duration::from_secs(19)).await;
        assert_eq!(typing_calls(&api), 1);
        assert!(pauses.paused_until(ChatId(1), Instant::now()).is_some());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(typing_calls(&api), 2);
        typing.stop();
    }
}
