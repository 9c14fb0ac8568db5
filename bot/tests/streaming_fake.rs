//! The coalescer and typing indicator against the fake Bot API, through a real teloxide Bot.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_bot::drivers::{AgentEvent, AgentOutcome};
use baton_bot::streaming::answer::AnswerStream;
use baton_bot::streaming::api::{ApiFailure, Body, Target, TelegramApi};
use baton_bot::streaming::coalescer::{self, ChatPauses, CoalescerConfig};
use baton_bot::streaming::typing::Typing;
use baton_bot::telegram::render::{markdown_to_html, split_html};
use support::fake_telegram::{Failure, FakeTelegram, parse_html};
use teloxide::Bot;
use teloxide::types::{ChatId, MessageId};
use tokio::time::Instant;

const CHAT: i64 = 42;

/// What one request was and how it ended, stamped with the test's (possibly paused) clock.
#[derive(Debug, Clone)]
struct Stamp {
    at: Instant,
    message: Option<MessageId>,
    failure: Option<ApiFailure>,
}

/// A Bot that notes when each request was made, on the clock the coalescer sees.
#[derive(Clone)]
struct StampedBot {
    bot: Bot,
    stamps: Arc<Mutex<Vec<Stamp>>>,
}

impl StampedBot {
    fn new(fake: &FakeTelegram) -> Self {
        StampedBot {
            bot: fake.bot(),
            stamps: Arc::default(),
        }
    }

    fn note<T>(&self, at: Instant, message: Option<MessageId>, result: &Result<T, ApiFailure>) {
        let failure = result.as_ref().err().cloned();
        self.stamps.lock().unwrap().push(Stamp {
            at,
            message,
            failure,
        });
    }

    fn stamps(&self) -> Vec<Stamp> {
        self.stamps.lock().unwrap().clone()
    }
}

impl TelegramApi for StampedBot {
    async fn send_text(&self, target: Target, body: Body) -> Result<MessageId, ApiFailure> {
        let at = Instant::now();
        let result = self.bot.send_text(target, body).await;
        self.note(at, None, &result);
        result
    }

    async fn edit_text(
        &self,
        chat: ChatId,
        message: MessageId,
        body: Body,
    ) -> Result<(), ApiFailure> {
        let at = Instant::now();
        let result = self.bot.edit_text(chat, message, body).await;
        self.note(at, Some(message), &result);
        result
    }

    async fn delete(&self, chat: ChatId, message: MessageId) -> Result<(), ApiFailure> {
        let at = Instant::now();
        let result = self.bot.delete(chat, message).await;
        self.note(at, Some(message), &result);
        result
    }

    async fn typing(&self, target: Target) -> Result<(), ApiFailure> {
        let at = Instant::now();
        let result = self.bot.typing(target).await;
        self.note(at, None, &result);
        result
    }
}

fn answer_text(paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|i| format!("Paragraph {i} explains **step {i}** of the fix, with `code` & <detail>; more words.\n\n"))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Streams `text` in `piece`-character deltas every `every`, then finishes.
async fn stream(
    api: StampedBot,
    config: CoalescerConfig,
    text: &str,
    piece: usize,
    every: Duration,
) {
    let target = Target::chat(ChatId(CHAT));
    let mut answer = AnswerStream::start(api, target, config, ChatPauses::default());
    let chars: Vec<char> = text.chars().collect();
    for chunk in chars.chunks(piece) {
        answer.apply(AgentEvent::TextDelta {
            text: chunk.iter().collect(),
        });
        tokio::time::sleep(every).await;
    }
    let delivery = answer
        .finish(AgentOutcome::Completed {
            final_text: Some(text.to_owned()),
        })
        .await;
    assert_eq!(delivery.abandoned, 0);
}

/// What the user sees of each message the chat shows, in order.
fn visible_texts(fake: &FakeTelegram) -> Vec<String> {
    fake.store()
        .visible(CHAT)
        .into_iter()
        .map(|m| m.text)
        .collect()
}

fn expected_texts(markdown: &str) -> Vec<String> {
    split_html(&markdown_to_html(markdown))
        .iter()
        .map(|chunk| parse_html(chunk).unwrap().0)
        .collect()
}

#[tokio::test]
async fn coalescer_through_fake_keeps_the_edit_interval() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    let interval = Duration::from_millis(100);
    let config = CoalescerConfig {
        edit_interval: interval,
        ..CoalescerConfig::default()
    };
    let text = answer_text(22);
    let started = Instant::now();
    stream(api.clone(), config, &text, 10, Duration::from_millis(5)).await;
    let elapsed = started.elapsed();

    assert_eq!(visible_texts(&fake), expected_texts(&text));
    let stamps = api.stamps();
    let edits: Vec<&Stamp> = stamps.iter().filter(|s| s.message.is_some()).collect();
    for pair in edits.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= interval,
            "edits {:?} apart",
            pair[1].at - pair[0].at
        );
    }
    let store = fake.store();
    let requests = store.count("sendMessage") + store.count("editMessageText");
    assert_eq!(requests, stamps.len());
    let intervals = (elapsed.as_millis() / interval.as_millis()) as usize;
    assert!(
        requests <= intervals + 2,
        "{requests} requests in {elapsed:?}"
    );
    assert_eq!(store.visible(CHAT)[0].edits.len() + 1, requests);
    eprintln!(
        "figure: {} chars, 200 deltas, {elapsed:?}, interval {interval:?}: {requests} requests",
        text.chars().count()
    );
}

#[tokio::test(start_paused = true)]
async fn coalescer_through_fake_loses_nothing_in_a_flood_control_storm() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    fake.fail_next("sendMessage", Failure::RetryAfter(3), 1);
    fake.fail_next("editMessageText", Failure::RetryAfter(30), 4);
    let text = answer_text(60);
    stream(
        api.clone(),
        CoalescerConfig::default(),
        &text,
        5,
        Duration::from_millis(50),
    )
    .await;

    let expected = expected_texts(&text);
    assert!(expected.len() >= 2, "the answer spans several messages");
    assert_eq!(visible_texts(&fake), expected);
    let stamps = api.stamps();
    let limited: Vec<usize> = (0..stamps.len())
        .filter(|i| matches!(stamps[*i].failure, Some(ApiFailure::RetryAfter(_))))
        .collect();
    assert_eq!(limited.len(), 5);
    for i in limited {
        let Some(ApiFailure::RetryAfter(wait)) = stamps[i].failure else {
            unreachable!()
        };
        if let Some(next) = stamps.get(i + 1) {
            assert!(
                next.at - stamps[i].at >= wait,
                "request {:?} after a {wait:?} retry-after",
                next.at - stamps[i].at
            );
        }
    }
}

#[tokio::test]
async fn coalescer_through_fake_resends_refused_html_as_plain_text() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    let refusal = "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0";
    fake.fail_next("sendMessage", Failure::BadRequest(refusal.into()), 1);
    let target = Target::chat(ChatId(CHAT));
    let mut answer = AnswerStream::start(
        api,
        target,
        CoalescerConfig::default(),
        ChatPauses::default(),
    );
    answer.apply(AgentEvent::TextSegment {
        text: "**a** < b & c".into(),
    });
    answer
        .finish(AgentOutcome::Completed { final_text: None })
        .await;

    assert_eq!(visible_texts(&fake), ["a < b & c"]);
    let sends: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "sendmessage")
        .collect();
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].params["parse_mode"], "HTML");
    assert!(
        sends[1].params.get("parse_mode").is_none(),
        "{:?}",
        sends[1].params
    );
    assert_eq!(sends[1].params["text"], "a < b & c");
}

#[tokio::test]
async fn coalescer_through_fake_replaces_thinking_and_deletes_it_at_the_end() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    let config = CoalescerConfig {
        edit_interval: Duration::from_millis(20),
        ..CoalescerConfig::default()
    };
    let target = Target::chat(ChatId(CHAT));
    let mut answer = AnswerStream::start(api, target, config, ChatPauses::default());
    answer.apply(AgentEvent::TextSegment {
        text: "Checking.".into(),
    });
    answer.apply(AgentEvent::Thinking { text: "hmm".into() });
    assert!(
        fake.wait_for(|s| s.visible(CHAT).len() == 2, Duration::from_secs(10))
            .await
    );
    answer
        .finish(AgentOutcome::Completed {
            final_text: Some("Checking.".into()),
        })
        .await;

    let messages = fake.messages(CHAT);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].text, "💭 hmm");
    assert!(messages[1].deleted);
    assert_eq!(visible_texts(&fake), ["Checking."]);
}

#[tokio::test]
async fn typing_through_fake_stops_when_dropped() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    let typing = Typing::start(
        api,
        Target::chat(ChatId(CHAT)),
        Duration::from_millis(50),
        ChatPauses::default(),
    );
    assert!(
        fake.wait_for(|s| s.count("sendChatAction") >= 3, Duration::from_secs(10))
            .await
    );
    drop(typing);
    let after_drop = fake.store().count("sendChatAction");
    // A request already in flight at the drop may still land; nothing after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.store().count("sendChatAction") <= after_drop + 1);
    let typing_requests = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "sendchataction")
        .count();
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "sendchataction")
            .all(|r| r.params["action"] == "typing")
    );
    assert!(typing_requests >= 3);
}

#[tokio::test(start_paused = true)]
async fn deliver_sends_a_long_reply_in_order_through_flood_control() {
    let fake = FakeTelegram::start().await;
    let api = StampedBot::new(&fake);
    fake.fail_next("sendMessage", Failure::RetryAfter(5), 2);
    let text = answer_text(70);
    let messages = split_html(&markdown_to_html(&text));
    let target = Target::chat(ChatId(CHAT));
    let delivery = coalescer::deliver(
        api,
        target,
        messages,
        CoalescerConfig::default(),
        ChatPauses::default(),
    )
    .await;
    assert_eq!(visible_texts(&fake), expected_texts(&text));
    assert_eq!(delivery.messages.len(), expected_texts(&text).len());
    assert_eq!(delivery.requests as usize, delivery.messages.len() + 2);
}
