//! Brings an answer's Telegram messages to the latest wanted state with as few requests as the rate limits allow.
//!
//! [`Pacer`] decides and knows no I/O or clock: feed it the wanted messages with
//! [`Pacer::set_wanted`], then repeatedly take [`Pacer::poll_request`], perform
//! it, and report with [`Pacer::handle_response`]; when it has nothing to do now,
//! sleep until [`Pacer::poll_timeout`] or until the wanted state changes.
//! [`run`] is that loop over a [`TelegramApi`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::types::{ChatId, InlineKeyboardMarkup, MessageId};
use tokio::sync::watch;
use tokio::time::Instant;

use super::api::{ApiFailure, Body, Format, Target, TelegramApi};
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

/// The messages an answer should consist of now, in order, and the keyboard under
/// its first message (a Stop button while it runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub messages: Vec<Arc<str>>,
    pub markup: Option<InlineKeyboardMarkup>,
}

/// One request to perform; `slot` is the message's position in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Send {
        slot: usize,
        body: Body,
    },
    Edit {
        slot: usize,
        message: MessageId,
        body: Body,
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

/// What one message shows, or should: its HTML and the keyboard under it. The HTML
/// is shared with the view, so an unchanged message compares by pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Face {
    html: Arc<str>,
    markup: Option<InlineKeyboardMarkup>,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    message: Option<MessageId>,
    /// What the message shows now, as confirmed by Telegram.
    shown: Option<Face>,
    /// What it should show; `None` once the answer no longer has this message.
    wanted: Option<Face>,
    /// What the request in flight for this message carries.
    requested: Option<Face>,
    last_request: Option<Instant>,
    /// HTML Telegram refused to parse: that text goes out as plain text.
    plain: Option<Arc<str>>,
    /// What Telegram rejected outright: not retried until the wanted state changes.
    rejected: Option<Face>,
}

impl Slot {
    fn wanted_pending(&self) -> Option<&Face> {
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
        match need {
            Need::Send => Request::Send {
                slot,
                body: self.body(),
            },
            Need::Edit(message) => Request::Edit {
                slot,
                message,
                body: self.body(),
            },
            Need::Delete(message) => Request::Delete { slot, message },
        }
    }

    fn body(&self) -> Body {
        let Some(Face { html, markup }) = &self.wanted else {
            unreachable!("only a wanted message is sent or edited");
        };
        let (text, format) = if self.plain.as_ref() == Some(html) {
            (to_plain(html), Format::Plain)
        } else {
            (html.to_string(), Format::Html)
        };
        Body {
            text,
            format,
            markup: markup.clone(),
        }
    }
}

/// The sans-I/O pacing of one answer's messages.
#[derive(Debug)]
pub struct Pacer {
    config: CoalescerConfig,
    slots: Vec<Slot>,
    /// No request before this instant (flood control or network backoff).
    resume_at: Option<Instant>,
    in_flight: Option<Request>,
    network_failures: u32,
    /// Messages given up after errors, for the report.
    abandoned: usize,
}

impl Pacer {
    pub fn new(config: CoalescerConfig) -> Self {
        Pacer {
            config,
            slots: Vec::new(),
            resume_at: None,
            in_flight: None,
            network_failures: 0,
            abandoned: 0,
        }
    }

    /// The state the answer's messages should reach.
    pub fn set_wanted(&mut self, wanted: &Wanted) {
        if self.slots.len() < wanted.messages.len() {
            self.slots.resize_with(wanted.messages.len(), Slot::default);
        }
        for (index, slot) in self.slots.iter_mut().enumerate() {
            slot.wanted = wanted.messages.get(index).map(|html| Face {
                html: Arc::clone(html),
                markup: if index == 0 {
                    wanted.markup.clone()
                } else {
                    None
                },
            });
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
        let slot = &mut self.slots[request_slot(&request)];
        slot.last_request = Some(now);
        slot.requested = match request {
            Request::Delete { .. } => None,
            Request::Send { .. } | Request::Edit { .. } => slot.wanted.clone(),
        };
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
        // The wanted state may have changed while the request was in flight, so the
        // request, not the slot, says what the message shows now.
        let requested = slot.requested.take();
        match response {
            Ok(message) => {
                self.network_failures = 0;
                match request {
                    Request::Send { .. } => {
                        slot.message = message;
                        slot.shown = requested;
                    }
                    Request::Edit { .. } => slot.shown = requested,
                    Request::Delete { .. } => {
                        slot.message = None;
                        slot.shown = None;
                    }
                }
            }
            Err(ApiFailure::NotModified) => {
                self.network_failures = 0;
                slot.shown = requested;
            }
            Err(ApiFailure::RetryAfter(wait)) => self.pause_until(now + wait),
            Err(ApiFailure::CantParse(_)) => match request {
                Request::Send { body, .. } | Request::Edit { body, .. }
                    if body.format == Format::Html =>
                {
                    slot.plain = requested.map(|face| face.html);
                }
                _ => {
                    slot.rejected = requested;
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
                    self.give_up(index, &request, requested);
                } else {
                    let exponent = (self.network_failures - 1).min(16);
                    let wait = (self.config.backoff_start * 2u32.pow(exponent))
                        .min(self.config.backoff_max);
                    self.pause_until(now + wait);
                }
            }
            Err(ApiFailure::Rejected(reason)) => {
                tracing::warn!(slot = index, %reason, "telegram rejected an answer message");
                self.give_up(index, &request, requested);
            }
        }
    }

    fn give_up(&mut self, index: usize, request: &Request, requested: Option<Face>) {
        let slot = &mut self.slots[index];
        match request {
            // A message that cannot be deleted is left, not retried forever.
            Request::Delete { .. } => slot.message = None,
            _ => slot.rejected = requested,
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
    mut wanted: watch::Receiver<Wanted>,
) -> Delivery {
    let mut pacer = Pacer::new(config);
    let mut open = true;
    let mut requests = 0;
    pacer.set_wanted(&wanted.borrow_and_update());
    loop {
        // Take the newest state before each request, so no request carries a stale text.
        match wanted.has_changed() {
            Ok(true) => pacer.set_wanted(&wanted.borrow_and_update()),
            Ok(false) => {}
            Err(_) if open => {
                // Closed: what was published last is the final state.
                pacer.set_wanted(&wanted.borrow());
                open = false;
            }
            Err(_) => {}
        }
        let now = Instant::now();
        if let Some(until) = pauses.paused_until(target.chat, now) {
            pacer.pause_until(until);
        }
        if let Some(request) = pacer.poll_request(now) {
            requests += 1;
            let response = perform(&api, target, request).await;
            if let Err(ApiFailure::RetryAfter(wait)) = &response {
                pauses.pause(target.chat, Instant::now() + *wait);
            }
            pacer.handle_response(response, Instant::now());
            continue;
        }
        if !open && pacer.is_idle() {
            break;
        }
        let deadline = pacer.poll_timeout(now);
        tokio::select! {
            // `changed` marks the value seen, so it is taken here; a close is
            // taken above. A close must wake the loop too: with nothing left
            // to send there is no deadline, and it would wait forever.
            changed = wanted.changed(), if open => {
                if changed.is_ok() {
                    pacer.set_wanted(&wanted.borrow_and_update());
                }
            }
            () = sleep_until(deadline) => {}
        }
    }
    Delivery {
        messages: pacer.messages(),
        requests,
        abandoned: pacer.abandoned(),
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
    let (_, wanted) = watch::channel(Wanted {
        messages: messages.into_iter().map(Arc::from).collect(),
        markup: None,
    });
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
        Request::Send { body, .. } => api.send_text(target, body).await.map(Some),
        Request::Edit { message, body, .. } => api
            .edit_text(target.chat, message, body)
            .await
            .map(|()| None),
        Request::Delete { message, .. } => api.delete(target.chat, message).await.map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(1500);

    fn pacer() -> Pacer {
        Pacer::new(CoalescerConfig::default())
    }

    fn wanted(texts: &[&str]) -> Wanted {
        Wanted {
            messages: texts.iter().map(|t| Arc::from(*t)).collect(),
            markup: None,
        }
    }

    fn html(text: &str) -> Body {
        Body {
            text: text.into(),
            format: Format::Html,
            markup: None,
        }
    }

    fn send(slot: usize, text: &str) -> Request {
        Request::Send {
            slot,
            body: html(text),
        }
    }

    fn edit(slot: usize, message: i32, text: &str) -> Request {
        Request::Edit {
            slot,
            message: MessageId(message),
            body: html(text),
        }
    }

    #[test]
    fn first_text_is_sent_at_once_and_edits_wait_for_the_interval() {
        let t0 = Instant::now();
        let mut s = pacer();
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
        let mut s = pacer();
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
        let mut s = pacer();
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
        let mut s = pacer();
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
        let mut s = pacer();
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
                body: Body {
                    text: "x & y".into(),
                    format: Format::Plain,
                    markup: None
                }
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
        let mut s = Pacer::new(config);
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
        let mut s = pacer();
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
        let mut s = pacer();
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
        let mut s = pacer();
        s.set_wanted(&wanted(&["a"]));
        s.poll_request(t0);
        s.set_wanted(&wanted(&["ab"]));
        s.handle_response(Ok(Some(MessageId(1))), t0);
        assert!(!s.is_idle());
        assert_eq!(s.poll_request(t0 + INTERVAL), Some(edit(0, 1, "ab")));
    }

    fn stop_button() -> InlineKeyboardMarkup {
        crate::telegram::keyboards::stop_keyboard(7)
    }

    #[test]
    fn the_keyboard_rides_on_the_first_message_and_goes_with_the_last_edit() {
        let t0 = Instant::now();
        let mut s = pacer();
        let mut state = wanted(&["a"]);
        state.markup = Some(stop_button());
        s.set_wanted(&state);
        let Some(Request::Send { slot: 0, body }) = s.poll_request(t0) else {
            panic!("the first message is sent");
        };
        assert_eq!(body.markup, Some(stop_button()));
        s.handle_response(Ok(Some(MessageId(1))), t0);
        // A second message carries no keyboard; edits of the first keep it.
        state.messages = wanted(&["ab", "c"]).messages;
        s.set_wanted(&state);
        let mut first = None;
        for now in [t0, t0 + INTERVAL] {
            while let Some(request) = s.poll_request(now) {
                match &request {
                    Request::Send { slot: 1, body } => assert_eq!(body.markup, None),
                    Request::Edit { slot: 0, body, .. } => first = Some(body.clone()),
                    other => panic!("unexpected {other:?}"),
                }
                let id = matches!(request, Request::Send { .. }).then_some(MessageId(2));
                s.handle_response(Ok(id), now);
            }
        }
        assert_eq!(first.map(|body| body.markup), Some(Some(stop_button())));
        assert!(s.is_idle());
        // The run ends: the same text without the keyboard is one more edit.
        state.markup = None;
        s.set_wanted(&state);
        assert!(!s.is_idle());
        assert_eq!(s.poll_request(t0 + INTERVAL * 2), Some(edit(0, 1, "ab")));
        s.handle_response(Ok(None), t0 + INTERVAL * 2);
        assert!(s.is_idle());
    }
}
