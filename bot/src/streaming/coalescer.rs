//! Brings an answer's Telegram messages to the latest wanted state with as few requests as the rate limits allow.
//!
//! [`Scheduler`] decides and knows no I/O or clock: feed it the wanted messages with
//! [`Scheduler::set_wanted`], then repeatedly take [`Scheduler::poll_request`], perform
//! it, and report with [`Scheduler::handle_response`]; when it has nothing to do now,
//! sleep until [`Scheduler::poll_timeout`] or until the wanted state changes.
//! [`run`] is that loop over a [`TelegramApi`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::types::{ChatId, MessageId};
use tokio::sync::watch;
use tokio::time::Instant;

use super::api::{ApiFailure, Format, Target, TelegramApi};
use crate::telegram::render::to_plain;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalescerConfig {
    /// Least time between two edits of one message.
    pub edit_interval: Duration,
    /// First wait after a network failure; doubled on each further failure.
    pub backoff_start: Duration,
    pub backoff_max: Duration,
    /// Network failures in a row after which one message's text is given up.
    pub max_network_attempts: u32,
}

impl Default for CoalescerConfig {
    fn default() -> Self {
        CoalescerConfig {
            edit_interval: Duration::from_millis(1500),
            backoff_start: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_network_attempts: 8,
        }
    }
}

/// One request to perform; `slot` is the message's position in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Send {
        slot: usize,
        text: String,
        format: Format,
    },
    Edit {
        slot: usize,
        message: MessageId,
        text: String,
        format: Format,
    },
    Delete {
        slot: usize,
        message: MessageId,
    },
}

/// What came of a [`Request`].
pub type Response = Result<Option<MessageId>, ApiFailure>;

#[derive(Debug, Clone, Copy)]
enum Need {
    Send,
    Edit(MessageId),
    Delete(MessageId),
}

#[derive(Debug, Clone, Default)]
struct Slot {
    message: Option<MessageId>,
    /// The HTML the message shows now, as confirmed by Telegram.
    shown: Option<String>,
    /// The HTML it should show; `None` once the answer no longer has this message.
    wanted: Option<String>,
    last_request: Option<Instant>,
    /// HTML Telegram refused to parse: that text goes out as plain text.
    plain: Option<String>,
    /// HTML Telegram rejected outright: not retried until the wanted text changes.
    rejected: Option<String>,
}

impl Slot {
    fn wanted_pending(&self) -> Option<&String> {
        let wanted = self.wanted.as_ref()?;
        let done = self.shown.as_ref() == Some(wanted) || self.rejected.as_ref() == Some(wanted);
        (!done).then_some(wanted)
    }

    /// What this message needs, if anything, and the earliest instant for it (`None`: at once).
    fn need(&self, interval: Duration) -> Option<(Option<Instant>, Need)> {
        match (self.message, self.wanted_pending()) {
            (None, Some(_)) => Some((None, Need::Send)),
            (Some(message), Some(_)) => Some((
                self.last_request.map(|last| last + interval),
                Need::Edit(message),
            )),
            (Some(message), None) if self.wanted.is_none() => Some((None, Need::Delete(message))),
            _ => None,
        }
    }

    fn request(&self, slot: usize, need: Need) -> Request {
        let html = self.wanted.as_deref().unwrap_or_default();
        match need {
            Need::Send => {
                let (text, format) = self.request_text(html);
                Request::Send { slot, text, format }
            }
            Need::Edit(message) => {
                let (text, format) = self.request_text(html);
                Request::Edit {
                    slot,
                    message,
                    text,
                    format,
                }
            }
            Need::Delete(message) => Request::Delete { slot, message },
        }
    }

    fn request_text(&self, html: &str) -> (String, Format) {
        if self.plain.as_deref() == Some(html) {
            (to_plain(html), Format::Plain)
        } else {
            (html.to_owned(), Format::Html)
        }
    }
}

/// The sans-I/O pacing of one answer's messages.
#[derive(Debug)]
pub struct Scheduler {
    config: CoalescerConfig,
    slots: Vec<Slot>,
    /// No request before this instant (flood control or network backoff).
    resume_at: Option<Instant>,
    in_flight: Option<Request>,
    network_failures: u32,
    /// Messages given up after errors, for the report.
    abandoned: usize,
}

impl Scheduler {
    pub fn new(config: CoalescerConfig) -> Self {
        Scheduler {
            config,
            slots: Vec::new(),
            resume_at: None,
            in_flight: None,
            network_failures: 0,
            abandoned: 0,
        }
    }

    /// The messages the answer should consist of now, in order.
    pub fn set_wanted(&mut self, messages: &[String]) {
        if self.slots.len() < messages.len() {
            self.slots.resize_with(messages.len(), Slot::default);
        }
        for (index, slot) in self.slots.iter_mut().enumerate() {
            slot.wanted = messages.get(index).cloned();
        }
    }

    /// No request until `until`; used for flood control reported elsewhere for the same chat.
    pub fn pause_until(&mut self, until: Instant) {
        self.resume_at = self.resume_at.max(Some(until));
    }

    /// The next request to perform now, if any. One request is in flight at a time.
    pub fn poll_request(&mut self, now: Instant) -> Option<Request> {
        if self.in_flight.is_some() || self.resume_at.is_some_and(|at| at > now) {
            return None;
        }
        let interval = self.config.edit_interval;
        // Slot order: a later message is never sent before an earlier one.
        let request = self.slots.iter().enumerate().find_map(|(index, slot)| {
            match slot.need(interval)? {
                (Some(not_before), _) if not_before > now => None,
                (_, need) => Some(slot.request(index, need)),
            }
        })?;
        self.slots[request_slot(&request)].last_request = Some(now);
        self.in_flight = Some(request.clone());
        Some(request)
    }

    /// When [`poll_request`](Self::poll_request) may next have something to do; `None`
    /// when nothing is pending or a request is in flight.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        let interval = self.config.edit_interval;
        let earliest = self
            .slots
            .iter()
            .filter_map(|slot| {
                slot.need(interval)
                    .map(|(not_before, _)| not_before.unwrap_or(now))
            })
            .min()?;
        Some(earliest.max(self.resume_at.unwrap_or(earliest)))
    }

    /// Reports how the in-flight request ended.
    pub fn handle_response(&mut self, response: Response, now: Instant) {
        let Some(request) = self.in_flight.take() else {
            return;
        };
        let index = request_slot(&request);
        let slot = &mut self.slots[index];
        match response {
            Ok(message) => {
                self.network_failures = 0;
                match request {
                    Request::Send { .. } => {
                        slot.message = message;
                        slot.shown = requested_html(slot, &request);
                    }
                    Request::Edit { .. } => slot.shown = requested_html(slot, &request),
                    Request::Delete { .. } => {
                        slot.message = None;
                        slot.shown = None;
                    }
                }
            }
            Err(ApiFailure::NotModified) => {
                self.network_failures = 0;
                slot.shown = requested_html(slot, &request);
            }
            Err(ApiFailure::RetryAfter(wait)) => self.pause_until(now + wait),
            Err(ApiFailure::CantParse(_)) => match request {
                Request::Send {
                    format: Format::Html,
                    ..
                }
                | Request::Edit {
                    format: Format::Html,
                    ..
                } => {
                    slot.plain = requested_html(slot, &request);
                }
                _ => {
                    slot.rejected = requested_html(slot, &request);
                    self.abandoned += 1;
                }
            },
            Err(ApiFailure::Gone) => {
                // Deleted by the user or too old to edit: a fresh message takes its place.
                slot.message = None;
                slot.shown = None;
            }
            Err(ApiFailure::Network(_)) => {
                self.network_failures += 1;
                if self.network_failures >= self.config.max_network_attempts {
                    self.network_failures = 0;
                    self.give_up(index, &request);
                } else {
                    let exponent = (self.network_failures - 1).min(16);
                    let wait = (self.config.backoff_start * 2u32.pow(exponent))
                        .min(self.config.backoff_max);
                    self.pause_until(now + wait);
                }
            }
            Err(ApiFailure::Rejected(reason)) => {
                tracing::warn!(slot = index, %reason, "telegram rejected an answer message");
                self.give_up(index, &request);
            }
        }
    }

    fn give_up(&mut self, index: usize, request: &Request) {
        let slot = &mut self.slots[index];
        match request {
            // A message that cannot be deleted is left, not retried forever.
            Request::Delete { .. } => slot.message = None,
            _ => slot.rejected = requested_html(slot, request),
        }
        self.abandoned += 1;
    }

    /// True when nothing is in flight and every message shows what is wanted (or was given up).
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_none()
            && self.slots.iter().all(|slot| {
                slot.wanted_pending().is_none()
                    && !(slot.wanted.is_none() && slot.message.is_some())
            })
    }

    /// The ids of the messages that show the answer, in order.
    pub fn messages(&self) -> Vec<MessageId> {
        self.slots.iter().filter_map(|slot| slot.message).collect()
    }

    pub fn abandoned(&self) -> usize {
        self.abandoned
    }
}

fn request_slot(request: &Request) -> usize {
    match request {
        Request::Send { slot, .. } | Request::Edit { slot, .. } | Request::Delete { slot, .. } => {
            *slot
        }
    }
}

/// The HTML a request carried: the wanted text may have changed while it was in flight,
/// so the request, not the slot, says what the message shows now.
fn requested_html(slot: &Slot, request: &Request) -> Option<String> {
    match request {
        Request::Send {
            text,
            format: Format::Html,
            ..
        }
        | Request::Edit {
            text,
            format: Format::Html,
            ..
        } => Some(text.clone()),
        // A plain request is only ever made from the slot's refused HTML.
        Request::Send { .. } | Request::Edit { .. } => slot.plain.clone(),
        Request::Delete { .. } => None,
    }
}

/// Flood-control pauses shared by every answer and the typing indicator of a chat.
#[derive(Debug, Clone, Default)]
pub struct ChatPauses(Arc<Mutex<HashMap<ChatId, Instant>>>);

impl ChatPauses {
    pub fn pause(&self, chat: ChatId, until: Instant) {
        let mut pauses = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pauses.entry(chat).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// The instant requests to this chat may resume, if it is paused now.
    pub fn paused_until(&self, chat: ChatId, now: Instant) -> Option<Instant> {
        let mut pauses = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match pauses.get(&chat) {
            Some(until) if *until > now => Some(*until),
            Some(_) => {
                pauses.remove(&chat);
                None
            }
            None => None,
        }
    }
}

/// What became of an answer once its last state was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub messages: Vec<MessageId>,
    /// Requests performed, failed ones included.
    pub requests: u32,
    /// Message texts given up after errors that retrying could not fix.
    pub abandoned: usize,
}

/// Delivers the wanted messages of one answer until `wanted` is closed and the last
/// state is shown. Closing the sender (dropping it) is how the answer says it is finished.
pub async fn run<A: TelegramApi>(
    api: A,
    target: Target,
    config: CoalescerConfig,
    pauses: ChatPauses,
    mut wanted: watch::Receiver<Vec<String>>,
) -> Delivery {
    let mut scheduler = Scheduler::new(config);
    let mut open = true;
    let mut requests = 0;
    scheduler.set_wanted(&wanted.borrow_and_update());
    loop {
        // Take the newest state before each request, so no request carries a stale text.
        match wanted.has_changed() {
            Ok(true) => scheduler.set_wanted(&wanted.borrow_and_update()),
            Ok(false) => {}
            Err(_) if open => {
                // Closed: what was published last is the final state.
                scheduler.set_wanted(&wanted.borrow());
                open = false;
            }
            Err(_) => {}
        }
        let now = Instant::now();
        if let Some(until) = pauses.paused_until(target.chat, now) {
            scheduler.pause_until(until);
        }
        if let Some(request) = scheduler.poll_request(now) {
            requests += 1;
            let response = perform(&api, target, request).await;
            if let Err(ApiFailure::RetryAfter(wait)) = &response {
                pauses.pause(target.chat, Instant::now() + *wait);
            }
            scheduler.handle_response(response, Instant::now());
            continue;
        }
        if !open && scheduler.is_idle() {
            break;
        }
        let deadline = scheduler.poll_timeout(now);
        tokio::select! {
            // `changed` marks the value seen, so it is taken here; a close is
            // taken above. A close must wake the loop too: with nothing left
            // to send there is no deadline, and it would wait forever.
            changed = wanted.changed(), if open => {
                if changed.is_ok() {
                    scheduler.set_wanted(&wanted.borrow_and_update());
                }
            }
            () = sleep_until(deadline) => {}
        }
    }
    Delivery {
        messages: scheduler.messages(),
        requests,
        abandoned: scheduler.abandoned(),
    }
}

/// Delivers a finished reply (help, status, a menu's text) with the same retries,
/// flood-control pauses and plain-text fallback as a streamed answer.
pub async fn deliver<A: TelegramApi>(
    api: A,
    target: Target,
    messages: Vec<String>,
    config: CoalescerConfig,
    pauses: ChatPauses,
) -> Delivery {
    let (_, wanted) = watch::channel(messages);
    run(api, target, config, pauses, wanted).await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn perform<A: TelegramApi>(api: &A, target: Target, request: Request) -> Response {
    match request {
        Request::Send { text, format, .. } => api.send_text(target, text, format).await.map(Some),
        Request::Edit {
            message,
            text,
            format,
            ..
        } => api
            .edit_text(target.chat, message, text, format)
            .await
            .map(|()| None),
        Request::Delete { message, .. } => api.delete(target.chat, message).await.map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(1500);

    fn scheduler() -> Scheduler {
        Scheduler::new(CoalescerConfig::default())
    }

    fn wanted(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    fn send(slot: usize, text: &str) -> Request {
        Request::Send {
            slot,
            text: text.into(),
            format: Format::Html,
        }
    }

    fn edit(slot: usize, message: i32, text: &str) -> Request {
        Request::Edit {
            slot,
            message: MessageId(message),
            text: text.into(),
            format: Format::Html,
        }
    }

    #[test]
    fn first_text_is_sent_at_once_and_edits_wait_for_the_interval() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        assert_eq!(s.poll_request(t0), Some(send(0, "a")));
        assert_eq!(s.poll_request(t0), None, "one request in flight at a time");
        s.handle_response(Ok(Some(MessageId(7))), t0);
        assert!(s.is_idle());
        s.set_wanted(&wanted(&["ab"]));
        s.set_wanted(&wanted(&["abc"]));
        assert_eq!(s.poll_request(t0 + INTERVAL / 2), None);
        assert_eq!(s.poll_timeout(t0 + INTERVAL / 2), Some(t0 + INTERVAL));
        assert_eq!(s.poll_request(t0 + INTERVAL), Some(edit(0, 7, "abc")));
        s.handle_response(Ok(None), t0 + INTERVAL);
        assert!(s.is_idle());
        assert_eq!(s.poll_timeout(t0 + INTERVAL), None);
    }

    #[test]
    fn unchanged_text_is_not_edited() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.handle_response(Ok(Some(MessageId(1))), t0);
        s.set_wanted(&wanted(&["a"]));
        assert_eq!(s.poll_request(t0 + INTERVAL * 10), None);
        assert!(s.is_idle());
    }

    #[test]
    fn retry_after_pauses_then_repeats_the_request() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.handle_response(Err(ApiFailure::RetryAfter(Duration::from_secs(30))), t0);
        assert_eq!(s.poll_request(t0 + Duration::from_secs(29)), None);
        assert_eq!(
            s.poll_timeout(t0 + Duration::from_secs(29)),
            Some(t0 + Duration::from_secs(30))
        );
        assert_eq!(
            s.poll_request(t0 + Duration::from_secs(30)),
            Some(send(0, "a"))
        );
    }

    #[test]
    fn not_modified_counts_as_shown() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.handle_response(Ok(Some(MessageId(1))), t0);
        s.set_wanted(&wanted(&["b"]));
        s.poll_request(t0 + INTERVAL);
        s.handle_response(Err(ApiFailure::NotModified), t0 + INTERVAL);
        assert!(s.is_idle());
    }

    #[test]
    fn refused_html_is_resent_as_plain_text() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["<b>x &amp; y</b>"]));
        s.poll_request(t0);
        s.handle_response(
            Err(ApiFailure::CantParse(
                "Bad Request: can't parse entities".into(),
            )),
            t0,
        );
        assert_eq!(
            s.poll_request(t0),
            Some(Request::Send {
                slot: 0,
                text: "x & y".into(),
                format: Format::Plain
            })
        );
        s.handle_response(Ok(Some(MessageId(3))), t0);
        assert!(s.is_idle());
        // New text is tried as HTML again.
        s.set_wanted(&wanted(&["<b>x</b>"]));
        assert_eq!(s.poll_request(t0 + INTERVAL), Some(edit(0, 3, "<b>x</b>")));
    }

    #[test]
    fn network_failures_back_off_exponentially_then_give_up() {
        let t0 = Instant::now();
        let config = CoalescerConfig {
            max_network_attempts: 4,
            ..CoalescerConfig::default()
        };
        let mut s = Scheduler::new(config);
        s.set_wanted(&wanted(&["a"]));
        let mut now = t0;
        for wait in [1, 2, 4] {
            assert_eq!(s.poll_request(now), Some(send(0, "a")));
            s.handle_response(Err(ApiFailure::Network("reset".into())), now);
            assert_eq!(s.poll_timeout(now), Some(now + Duration::from_secs(wait)));
            now += Duration::from_secs(wait);
        }
        assert_eq!(s.poll_request(now), Some(send(0, "a")));
        s.handle_response(Err(ApiFailure::Network("reset".into())), now);
        assert!(s.is_idle());
        assert_eq!(s.abandoned(), 1);
    }

    #[test]
    fn later_messages_wait_for_earlier_ones_and_removed_ones_are_deleted() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["one", "two"]));
        assert_eq!(s.poll_request(t0), Some(send(0, "one")));
        s.handle_response(Err(ApiFailure::RetryAfter(Duration::from_secs(1))), t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(s.poll_request(t1), Some(send(0, "one")));
        s.handle_response(Ok(Some(MessageId(1))), t1);
        assert_eq!(s.poll_request(t1), Some(send(1, "two")));
        s.handle_response(Ok(Some(MessageId(2))), t1);
        s.set_wanted(&wanted(&["one"]));
        assert_eq!(
            s.poll_request(t1),
            Some(Request::Delete {
                slot: 1,
                message: MessageId(2)
            })
        );
        s.handle_response(Ok(None), t1);
        assert!(s.is_idle());
        assert_eq!(s.messages(), [MessageId(1)]);
    }

    #[test]
    fn a_vanished_message_is_sent_anew() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.handle_response(Ok(Some(MessageId(1))), t0);
        s.set_wanted(&wanted(&["ab"]));
        s.poll_request(t0 + INTERVAL);
        s.handle_response(Err(ApiFailure::Gone), t0 + INTERVAL);
        assert_eq!(s.poll_request(t0 + INTERVAL), Some(send(0, "ab")));
    }

    #[test]
    fn text_changed_during_a_request_is_edited_afterwards() {
        let t0 = Instant::now();
        let mut s = scheduler();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.set_wanted(&wanted(&["ab"]));
        s.handle_response(Ok(Some(MessageId(1))), t0);
        assert!(!s.is_idle());
        assert_eq!(s.poll_request(t0 + INTERVAL), Some(edit(0, 1, "ab")));
    }
}
