//! One answer in flight: its view, published to the coalescer task that delivers it.

use teloxide::types::InlineKeyboardMarkup;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::api::{Target, TelegramApi};
use super::coalescer::{self, ChatPauses, CoalescerConfig, Delivery, Wanted};
use super::view::View;
use crate::drivers::{AgentEvent, AgentOutcome};

/// Feeds events into an answer's [`View`] and lets a background task deliver it.
/// Dropping it without [`finish`](Self::finish) still delivers the last state shown.
#[derive(Debug)]
pub struct AnswerStream {
    view: View,
    /// The keyboard under the answer's first message while it runs.
    markup: Option<InlineKeyboardMarkup>,
    wanted: watch::Sender<Wanted>,
    delivery: JoinHandle<Delivery>,
}

impl AnswerStream {
    pub fn start<A: TelegramApi>(
        api: A,
        target: Target,
        config: CoalescerConfig,
        pauses: ChatPauses,
    ) -> Self {
        let (wanted, receiver) = watch::channel(Wanted::default());
        let delivery = tokio::spawn(coalescer::run(api, target, config, pauses, receiver));
        AnswerStream {
            view: View::new(),
            markup: None,
            wanted,
            delivery,
        }
    }

    pub fn apply(&mut self, event: AgentEvent) {
        self.view.apply(event);
        self.publish();
    }

    /// Shows `markup` (a Stop button) under the answer's first message until the
    /// answer finishes, which removes it; `None` removes it at once.
    pub fn set_markup(&mut self, markup: Option<InlineKeyboardMarkup>) {
        self.markup = markup;
        self.publish();
    }

    /// Shows the outcome and waits until every message shows its final text.
    pub async fn finish(self, outcome: AgentOutcome) -> Delivery {
        self.finish_with_texts(outcome).await.0
    }

    /// Like [`finish`](Self::finish), also handing back the final texts of the
    /// answer's messages (to send them again as new, notifying messages).
    pub async fn finish_with_texts(mut self, outcome: AgentOutcome) -> (Delivery, Vec<String>) {
        self.view.finish(outcome);
        // The answer is over: nothing is left to stop, in the same edit as the last text.
        self.markup = None;
        self.publish();
        let texts = self.view.messages().iter().map(|m| m.to_string()).collect();
        let AnswerStream {
            wanted, delivery, ..
        } = self;
        drop(wanted);
        let delivery = match delivery.await {
            Ok(delivery) => delivery,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Delivery {
                messages: Vec::new(),
                requests: 0,
                abandoned: 0,
            },
        };
        (delivery, texts)
    }

    fn publish(&self) {
        let next = Wanted {
            messages: self.view.messages(),
            markup: self.markup.clone(),
        };
        self.wanted.send_if_modified(|current| {
            let changed = *current != next;
            if changed {
                *current = next;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use teloxide::types::{ChatId, MessageId};
    use tokio::time::Instant;

    use super::*;
    use crate::streaming::api::{ApiFailure, Body, Format};
    use crate::streaming::test_api::{Call, Record, RecordingApi};
    use crate::telegram::keyboards::stop_keyboard;
    use crate::telegram::render::markdown_to_html;

    const INTERVAL: Duration = Duration::from_millis(1500);

    /// A typical answer: about 2,000 characters of Markdown in a few paragraphs.
    fn answer_text() -> String {
        (0..23)
            .map(|i| format!("Paragraph {i} explains **step {i}** of the fix, with `code` and detail; more words here.\n\n"))
            .collect::<String>()
            .trim_end()
            .to_owned()
    }

    /// An answer to chat 1 at the default pacing.
    fn start(api: &RecordingApi) -> AnswerStream {
        AnswerStream::start(
            api.clone(),
            Target::chat(ChatId(1)),
            CoalescerConfig::default(),
            ChatPauses::default(),
        )
    }

    fn completed(text: &str) -> AgentOutcome {
        AgentOutcome::Completed {
            final_text: Some(text.to_owned()),
        }
    }

    /// Streams `text` in 5-character deltas every 50 ms, then finishes.
    async fn stream(api: &RecordingApi, text: &str) -> Delivery {
        let mut answer = start(api);
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(5) {
            answer.apply(AgentEvent::TextDelta {
                text: piece.iter().collect(),
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        answer.finish(completed(text)).await
    }

    /// The last text each message was given, and the instants of its edits.
    fn by_message(calls: &[Record]) -> HashMap<MessageId, (String, Vec<Instant>)> {
        let mut sent = 0;
        let mut out: HashMap<MessageId, (String, Vec<Instant>)> = HashMap::new();
        for Record { at, call, ok } in calls {
            if !ok {
                continue;
            }
            match call {
                Call::Send { body } => {
                    sent += 1;
                    out.insert(MessageId(sent), (body.text.clone(), vec![*at]));
                }
                Call::Edit { message, body } => {
                    let entry = out.get_mut(message).unwrap();
                    entry.0 = body.text.clone();
                    entry.1.push(*at);
                }
                _ => {}
            }
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn streamed_answer_edits_at_most_once_per_interval_and_ends_in_full() {
        let api = RecordingApi::default();
        let text = answer_text();
        let delivery = stream(&api, &text).await;
        let calls = api.calls();
        let messages = by_message(&calls);
        assert_eq!(delivery.messages, [MessageId(1)]);
        assert_eq!(messages[&MessageId(1)].0, markdown_to_html(&text));
        for window in messages[&MessageId(1)].1.windows(2) {
            assert!(
                window[1] - window[0] >= INTERVAL,
                "edits {:?} apart",
                window[1] - window[0]
            );
        }
        // 400 deltas over 20 s: about one request per interval, never one per delta.
        let streamed = Duration::from_millis(50) * text.chars().count().div_ceil(5) as u32;
        let intervals = (streamed.as_millis() / INTERVAL.as_millis()) as u32;
        assert!(
            delivery.requests <= intervals + 2,
            "{} requests, {intervals} intervals",
            delivery.requests
        );
        // ...and the user watches it grow: an edit in nearly every interval.
        assert!(
            delivery.requests >= intervals - 1,
            "{} requests, {intervals} intervals",
            delivery.requests
        );
        assert_eq!(delivery.requests as usize, calls.len());
        eprintln!(
            "figure: {} chars in {} deltas over {:?}: {} requests",
            text.chars().count(),
            text.chars().count().div_ceil(5),
            streamed,
            delivery.requests
        );
    }

    #[tokio::test(start_paused = true)]
    async fn flood_control_storm_loses_no_text() {
        let api = RecordingApi::default();
        api.fail_next(ApiFailure::RetryAfter(Duration::from_secs(7)), 6);
        let text = answer_text().repeat(3);
        let delivery = stream(&api, &text).await;
        let messages = by_message(&api.calls());
        let shown: Vec<String> = delivery
            .messages
            .iter()
            .map(|id| messages[id].0.clone())
            .collect();
        assert_eq!(
            shown,
            crate::telegram::render::split_html(&markdown_to_html(&text))
        );
        assert!(delivery.messages.len() >= 2);
        assert_eq!(delivery.abandoned, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_stream_still_delivers_its_last_state() {
        let api = RecordingApi::default();
        let mut answer = start(&api);
        answer.apply(AgentEvent::TextDelta {
            text: "first".into(),
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        answer.apply(AgentEvent::TextDelta {
            text: " and last".into(),
        });
        drop(answer);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let calls = api.calls();
        let last = calls.last().map(|record| record.call.clone());
        assert_eq!(
            last,
            Some(Call::Edit {
                message: MessageId(1),
                body: Body {
                    text: "first and last".into(),
                    format: Format::Html,
                    markup: None
                }
            })
        );
    }

    /// A codex answer arrives as whole segments, so finishing often changes
    /// nothing on screen; the delivery must still end, or its run never does.
    #[tokio::test(start_paused = true)]
    async fn finishing_without_a_visible_change_still_ends_the_delivery() {
        let api = RecordingApi::default();
        let mut answer = start(&api);
        answer.apply(AgentEvent::TextSegment {
            text: "All done.".into(),
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let finished = answer.finish(completed("All done."));
        let delivery = tokio::time::timeout(Duration::from_secs(60), finished)
            .await
            .expect("the delivery ends once the stream is finished");
        assert_eq!(delivery.messages, [MessageId(1)]);
    }

    /// The Stop button shows under the first message while the answer streams, and
    /// the edit that shows the final text takes it away.
    #[tokio::test(start_paused = true)]
    async fn the_stop_button_shows_while_streaming_and_goes_at_the_end() {
        let api = RecordingApi::default();
        let mut answer = start(&api);
        answer.set_markup(Some(stop_keyboard(7)));
        answer.apply(AgentEvent::TextDelta {
            text: "Working".into(),
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        answer.apply(AgentEvent::TextDelta {
            text: " on it".into(),
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let delivery = answer.finish(completed("Working on it.")).await;
        let bodies: Vec<Body> = api
            .calls()
            .into_iter()
            .filter_map(|record| match record.call {
                Call::Send { body } | Call::Edit { body, .. } => Some(body),
                _ => None,
            })
            .collect();
        let (last, streaming) = bodies.split_last().expect("requests were made");
        assert!(streaming.len() >= 2, "{bodies:?}");
        for body in streaming {
            assert_eq!(body.markup, Some(stop_keyboard(7)), "{body:?}");
        }
        assert_eq!(last.text, "Working on it.");
        assert_eq!(last.markup, None);
        assert_eq!(delivery.messages, [MessageId(1)]);
        assert_eq!(delivery.requests as usize, bodies.len());
    }
}
