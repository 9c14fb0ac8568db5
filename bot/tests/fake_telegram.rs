//! The fake Bot API itself, driven by a real teloxide Bot.

mod support;

use std::time::Duration;

use support::fake_telegram::{Failure, FakeTelegram};
use teloxide::prelude::*;
use teloxide::types::{ChatAction, ParseMode, UpdateKind};
use teloxide::{ApiError, RequestError};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn fake_send_edit_delete_round_trip() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let me = bot.get_me().await.unwrap();
    assert_eq!(me.username(), "baton_test_bot");

    let sent = bot
        .send_message(ChatId(42), "<b>hi</b> &amp; bye")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert_eq!(sent.text(), Some("hi & bye"));
    bot.edit_message_text(ChatId(42), sent.id, "<i>edited</i>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let unchanged = bot
        .edit_message_text(ChatId(42), sent.id, "<em>edited</em>")
        .parse_mode(ParseMode::Html)
        .await;
    assert!(
        matches!(
            unchanged,
            Err(RequestError::Api(ApiError::MessageNotModified))
        ),
        "{unchanged:?}"
    );
    bot.send_chat_action(ChatId(42), ChatAction::Typing)
        .await
        .unwrap();
    bot.delete_message(ChatId(42), sent.id).await.unwrap();
    let again = bot.delete_message(ChatId(42), sent.id).await;
    assert!(
        matches!(
            again,
            Err(RequestError::Api(ApiError::MessageToDeleteNotFound))
        ),
        "{again:?}"
    );
    let gone = bot.edit_message_text(ChatId(42), sent.id, "x").await;
    assert!(
        matches!(
            gone,
            Err(RequestError::Api(ApiError::MessageToEditNotFound))
        ),
        "{gone:?}"
    );

    let messages = fake.messages(42);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "edited");
    assert_eq!(messages[0].edits, ["hi & bye"]);
    assert!(messages[0].deleted);
    let store = fake.store();
    assert_eq!(store.count("SendMessage"), 1);
    assert_eq!(store.count("editMessageText"), 3);
    assert_eq!(store.count("sendchataction"), 1);
}

#[tokio::test]
async fn fake_retry_after_surfaces_as_request_error() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    fake.fail_next("SendMessage", Failure::RetryAfter(17), 2);
    for _ in 0..2 {
        let error = bot.send_message(ChatId(1), "x").await.unwrap_err();
        assert!(
            matches!(error, RequestError::RetryAfter(s) if s.duration() == Duration::from_secs(17)),
            "{error:?}"
        );
    }
    bot.send_message(ChatId(1), "x").await.unwrap();
    assert_eq!(fake.messages(1).len(), 1);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[tokio::test]
async fn fake_rejects_bad_html_too_long_and_empty_text() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    for html in [
        "<b>open",
        "a < b",
        "<div>x</div>",
        "<b><i>x</b></i>",
        "<pre><b>x</b></pre>",
        "AT&T",
        "<a>x</a>",
    ] {
        let error = bot
            .send_message(ChatId(1), html)
            .parse_mode(ParseMode::Html)
            .await
            .unwrap_err();
        assert!(
            matches!(error, RequestError::Api(ApiError::CantParseEntities(_))),
            "{html}: {error:?}"
        );
    }
    let long = "x".repeat(4097);
    let error = bot.send_message(ChatId(1), long).await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::MessageIsTooLong)),
        "{error:?}"
    );
    // The limit counts UTF-16 units of the parsed text: 2,048 emoji are 4,096 units.
    bot.send_message(ChatId(1), "😀".repeat(2048))
        .await
        .unwrap();
    let error = bot
        .send_message(ChatId(1), "😀".repeat(2049))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::MessageIsTooLong)),
        "{error:?}"
    );
    let html_over_limit = format!("<b>{}</b>", "x".repeat(4096));
    bot.send_message(ChatId(1), html_over_limit)
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let error = bot.send_message(ChatId(1), "  ").await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::MessageTextIsEmpty)),
        "{error:?}"
    );
    assert_eq!(fake.messages(1).len(), 2);
}

#[tokio::test]
async fn fake_injected_bad_request_is_answered_once() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    fake.fail_next(
        "sendmessage",
        Failure::BadRequest("Bad Request: chat not found".into()),
        1,
    );
    let error = bot.send_message(ChatId(5), "x").await.unwrap_err();
    assert!(
        matches!(error, RequestError::Api(ApiError::ChatNotFound)),
        "{error:?}"
    );
    bot.send_message(ChatId(5), "x").await.unwrap();
}

#[tokio::test]
async fn fake_get_updates_long_polls_and_offsets_confirm() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let first = fake.push_text(7, 7, "one");
    let second = fake.push_text(7, 7, "two");
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(
        updates.iter().map(|u| u.id.0 as i64).collect::<Vec<_>>(),
        [first, second]
    );
    // Without an offset nothing is confirmed: the same updates come again.
    assert_eq!(bot.get_updates().await.unwrap().len(), 2);
    // An offset forgets everything before it.
    let rest = bot.get_updates().offset(second as i32).await.unwrap();
    assert_eq!(rest.len(), 1);
    match &rest[0].kind {
        UpdateKind::Message(message) => assert_eq!(message.text(), Some("two")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        bot.get_updates()
            .offset(second as i32 + 1)
            .timeout(0)
            .await
            .unwrap()
            .is_empty()
    );
    // A negative offset keeps only that many of the newest updates.
    let kept = [
        fake.push_text(7, 7, "a"),
        fake.push_text(7, 7, "b"),
        fake.push_text(7, 7, "c"),
    ][2];
    let newest = bot.get_updates().offset(-1).await.unwrap();
    assert_eq!(
        newest.iter().map(|u| u.id.0 as i64).collect::<Vec<_>>(),
        [kept]
    );
    let second = kept;

    // A long poll is held until an update arrives.
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move {
            bot.get_updates()
                .offset(second as i32 + 1)
                .timeout(30)
                .await
        }
    });
    assert!(fake.wait_for(|s| s.polls_waiting == 1, WAIT).await);
    assert!(!poll.is_finished());
    let third = fake.push_text_in_topic(-100, 7, 3, "three");
    let updates = tokio::time::timeout(WAIT, poll)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].id.0 as i64, third);
    match &updates[0].kind {
        UpdateKind::Message(message) => {
            assert_eq!(message.thread_id.map(|t| t.0.0), Some(3));
            assert_eq!(message.chat.id, ChatId(-100));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn fake_long_poll_times_out_empty() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let updates = bot.get_updates().timeout(1).await.unwrap();
    assert!(updates.is_empty());
}

#[tokio::test]
async fn fake_callbacks_files_and_commands() {
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let keyboard = baton_bot::telegram::keyboards::stop_keyboard(7);
    let sent = bot
        .send_message(ChatId(9), "pick")
        .reply_markup(keyboard)
        .await
        .unwrap();
    let markup = fake.messages(9)[0].reply_markup.clone().unwrap();
    assert_eq!(markup["inline_keyboard"][0][0]["callback_data"], "s:7");
    bot.edit_message_reply_markup(ChatId(9), sent.id)
        .await
        .unwrap();
    assert_eq!(fake.messages(9)[0].reply_markup, None);
    fake.push_callback(9, 9, sent.id.0, "m:opus");
    fake.push_voice(9, 9, b"OggS voice");
    fake.push_photo(9, 9, b"JPEG bytes", Some("what is this?"));
    let updates = bot.get_updates().await.unwrap();
    let UpdateKind::CallbackQuery(query) = &updates[0].kind else {
        panic!("{:?}", updates[0])
    };
    assert_eq!(query.data.as_deref(), Some("m:opus"));
    assert_eq!(query.regular_message().map(|m| m.id), Some(sent.id));
    bot.answer_callback_query(query.id.clone()).await.unwrap();
    let UpdateKind::Message(message) = &updates[1].kind else {
        panic!("{:?}", updates[1])
    };
    let voice = message.voice().unwrap();
    let file = bot.get_file(voice.file.id.clone()).await.unwrap();
    assert!(file.path.ends_with(".oga"), "{}", file.path);
    let mut bytes = Vec::new();
    teloxide::net::Download::download_file(&bot, &file.path, &mut bytes)
        .await
        .unwrap();
    assert_eq!(bytes, b"OggS voice");
    let UpdateKind::Message(photo) = &updates[2].kind else {
        panic!("{:?}", updates[2])
    };
    assert_eq!(photo.caption(), Some("what is this?"));
    let file = bot
        .get_file(photo.photo().unwrap()[0].file.id.clone())
        .await
        .unwrap();
    let mut bytes = Vec::new();
    teloxide::net::Download::download_file(&bot, &file.path, &mut bytes)
        .await
        .unwrap();
    assert_eq!(bytes, b"JPEG bytes");
    assert!(bot.get_file("nope".to_owned().into()).await.is_err());

    use teloxide::utils::command::BotCommands;
    bot.set_my_commands(baton_bot::telegram::commands::Command::bot_commands())
        .await
        .unwrap();
    let store = fake.store();
    assert_eq!(store.answered_callbacks.len(), 1);
    assert_eq!(
        store.commands.as_ref().unwrap().as_array().unwrap().len(),
        13
    );
}

#[tokio::test]
async fn fake_takes_documents_as_multipart_attachments() {
    use teloxide::types::InputFile;
    let fake = FakeTelegram::start().await;
    let bot = fake.bot();
    let sent = bot
        .send_document(
            ChatId(42),
            InputFile::memory(b"+added line\n".to_vec()).file_name("run-3.patch"),
        )
        .await
        .unwrap();
    let document = sent.document().expect("the answer is a document message");
    assert_eq!(document.file_name.as_deref(), Some("run-3.patch"));
    let documents = fake.store().documents.clone();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].text, "+added line\n");
    assert_eq!(documents[0].chat, 42);
    let refused = bot
        .send_document(
            ChatId(42),
            InputFile::file_id(teloxide::types::FileId("not-a-file".into())),
        )
        .await;
    assert!(
        refused.is_err(),
        "a document the fake cannot see is refused"
    );
}

#[tokio::test]
async fn fake_serves_a_teloxide_dispatcher_end_to_end() {
    use teloxide::dispatching::UpdateFilterExt;
    use teloxide::types::Update;

    let fake = FakeTelegram::start().await;
    let handler = Update::filter_message().endpoint(|bot: Bot, message: Message| async move {
        bot.send_message(
            message.chat.id,
            format!("echo: {}", message.text().unwrap_or("")),
        )
        .await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(fake.bot(), handler).build();
    let run = tokio::spawn(async move { dispatcher.dispatch().await });
    fake.push_text(5, 5, "hello");
    fake.push_text(6, 6, "world");
    let echoed = fake
        .wait_for(
            |s| {
                s.visible(5).iter().any(|m| m.text == "echo: hello")
                    && s.visible(6).iter().any(|m| m.text == "echo: world")
            },
            WAIT,
        )
        .await;
    assert!(echoed, "{:?}", fake.requests());
    // The next poll's offset confirms both updates.
    assert!(fake.wait_for(|s| s.updates.is_empty(), WAIT).await);
    let store = fake.store();
    assert_eq!(store.count("getMe"), 1);
    assert_eq!(store.polls_waiting, 1, "the dispatcher keeps polling");
    drop(store);
    run.abort();
}

#[tokio::test]
async fn fake_accepts_form_and_multipart_bodies() {
    let fake = FakeTelegram::start().await;
    let url = format!(
        "{}bot{}/sendMessage",
        fake.url(),
        support::fake_telegram::TOKEN
    );
    let client = reqwest::Client::new();
    let answer = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        response.json::<serde_json::Value>().await.unwrap()
    };
    let form = answer(
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("chat_id=3&text=a%20%3Cb%3Ex%3C%2Fb%3E+%26amp%3B&parse_mode=HTML"),
    )
    .await;
    assert_eq!(form["result"]["text"], "a x &", "{form}");
    let multipart = reqwest::multipart::Form::new()
        .text("chat_id", "3")
        .text("text", "<i>bad</b>")
        .text("parse_mode", "HTML");
    let refused = answer(client.post(&url).multipart(multipart)).await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["error_code"], 400);
    let description = refused["description"].as_str().unwrap();
    assert!(
        description.starts_with("Bad Request: can't parse entities: "),
        "{description}"
    );
    let unknown = client
        .post(format!(
            "{}bot{}/noSuchMethod",
            fake.url(),
            support::fake_telegram::TOKEN
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(fake.messages(3).len(), 1);
}
