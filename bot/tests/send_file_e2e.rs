//! `send_file` end to end: the fake model asks the real claude CLI for Baton's MCP tool,
//! claude starts `baton mcp`, the call reaches the bot over its socket, and the file reaches
//! the fake Telegram, or the refusal reaches the model.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use support::agent_cli::{TINY_PNG, processes_in};
use support::bot::{Bot, USER, shows};
use support::fake_anthropic::Reply;
use support::fake_openai;
use support::fake_telegram::Failure;

const CHAT: i64 = 101;

/// The text of a tool result block, whichever form claude sent it in.
fn result_text(block: &Value) -> String {
    match &block["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

fn is_error(block: &Value) -> bool {
    block["is_error"] == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_arrives_as_a_photo_and_a_text_file_as_a_document() {
    let mut bot = Bot::start(
        vec![
            Reply::send_file(json!({"path": "chart.png", "caption": "the chart"})),
            Reply::send_file(json!({"path": "notes/report.txt"})),
            Reply::text(&["Both files are in the chat."]),
        ],
        &[],
    )
    .await;
    let workdir = &bot.sandbox.workdir;
    std::fs::write(workdir.join("chart.png"), TINY_PNG).unwrap();
    std::fs::create_dir_all(workdir.join("notes")).unwrap();
    std::fs::write(workdir.join("notes/report.txt"), "quarterly numbers\n").unwrap();

    bot.ask(
        CHAT,
        "send me the chart and the report",
        "Both files are in the chat.",
    )
    .await;

    assert!(
        bot.everything_shown(CHAT)
            .contains(&"🔧 mcp__baton__send_file: chart.png".to_owned()),
        "the chat shows the call by its path: {:#?}",
        bot.everything_shown(CHAT)
    );
    let uploads = bot.telegram.store().uploads.clone();
    assert_eq!(uploads.len(), 2, "{uploads:#?}");
    let (photo, document) = (&uploads[0], &uploads[1]);
    assert_eq!(
        (photo.kind, photo.chat, photo.file_name.as_str()),
        ("photo", CHAT, "chart.png")
    );
    assert_eq!(photo.bytes, TINY_PNG);
    assert_eq!(photo.caption.as_deref(), Some("the chart"));
    assert_eq!(
        (document.kind, document.chat, document.file_name.as_str()),
        ("document", CHAT, "report.txt")
    );
    assert_eq!(document.bytes, b"quarterly numbers\n");
    assert_eq!(document.caption, None);

    let results = bot.anthropic.tool_results();
    assert_eq!(results.len(), 2, "{results:#?}");
    assert!(
        !is_error(&results[0]) && !is_error(&results[1]),
        "{results:#?}"
    );
    assert!(
        result_text(&results[0]).contains(&format!(
            "Sent chart.png ({} B) to the chat as a photo",
            TINY_PNG.len()
        )),
        "{results:#?}"
    );
    assert!(
        result_text(&results[1]).contains("Sent report.txt (18 B) to the chat as a document"),
        "{results:#?}"
    );
    bot.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_outside_the_working_directory_is_refused_with_the_reason() {
    let outside = tempfile::tempdir().unwrap();
    let secret = std::fs::canonicalize(outside.path())
        .unwrap()
        .join("secret.txt");
    std::fs::write(&secret, "not for the chat").unwrap();
    let mut bot = Bot::start(
        vec![
            Reply::send_file(json!({"path": secret.display().to_string()})),
            Reply::send_file(json!({"path": "innocent.txt"})),
            Reply::text(&["Could not send it."]),
        ],
        &[],
    )
    .await;
    // A link inside the working directory does not make the file behind it sendable.
    std::os::unix::fs::symlink(&secret, bot.sandbox.workdir.join("innocent.txt")).unwrap();

    bot.ask(CHAT, "send me the secret", "Could not send it.")
        .await;

    assert!(
        bot.telegram.store().uploads.is_empty(),
        "nothing was uploaded"
    );
    let results = bot.anthropic.tool_results();
    assert_eq!(results.len(), 2, "{results:#?}");
    for (result, given) in results
        .iter()
        .zip([secret.display().to_string(), "innocent.txt".into()])
    {
        assert!(is_error(result), "a refusal is a tool error: {result:#?}");
        let text = result_text(result);
        assert!(
            text.contains(&format!(
                "Not sent: {given} resolves to {}",
                secret.display()
            )) && text.contains("outside the working directory"),
            "the model is told why: {text}"
        );
    }
    bot.shut_down().await;
}

/// In a forum topic the file goes to that topic; when Telegram refuses an upload, the agent
/// is told Telegram's reason and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_to_the_topic_and_telegrams_refusal_reaches_the_agent() {
    const TOPIC: i32 = 7;
    let mut bot = Bot::start(
        vec![
            Reply::send_file(json!({"path": "first.txt"})),
            Reply::send_file(json!({"path": "second.txt"})),
            Reply::text(&["One of two arrived."]),
        ],
        &[],
    )
    .await;
    std::fs::write(bot.sandbox.workdir.join("first.txt"), "1").unwrap();
    std::fs::write(bot.sandbox.workdir.join("second.txt"), "2").unwrap();
    bot.telegram.fail_next(
        "sendDocument",
        Failure::BadRequest("Bad Request: not enough rights to send documents to the chat".into()),
        1,
    );

    bot.telegram
        .push_text_in_topic(CHAT, USER, TOPIC, "send both files");
    bot.wait_shown(CHAT, "the answer", "One of two arrived.")
        .await;

    let uploads = bot.telegram.store().uploads.clone();
    assert_eq!(uploads.len(), 1, "{uploads:#?}");
    assert_eq!(
        (uploads[0].file_name.as_str(), uploads[0].thread),
        ("second.txt", Some(TOPIC))
    );
    let results = bot.anthropic.tool_results();
    assert_eq!(results.len(), 2, "{results:#?}");
    assert!(is_error(&results[0]), "{results:#?}");
    let refusal = result_text(&results[0]);
    assert!(
        refusal.starts_with("Not sent: Telegram did not take first.txt")
            && refusal.contains("not enough rights to send documents to the chat"),
        "the agent is told Telegram's reason: {refusal}"
    );
    assert!(!is_error(&results[1]), "{results:#?}");
    bot.shut_down().await;
}

/// A stop while a file is uploading abandons the upload, and the call is answered that the
/// run was stopped. The call is made with the run's own key by a `baton mcp` the test starts,
/// which (unlike the one claude started) outlives the stop and reads the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_an_upload_abandons_it() {
    let mut bot = Bot::start(vec![Reply::hang("Working on it")], &[]).await;
    std::fs::write(bot.sandbox.workdir.join("big.txt"), "a big file").unwrap();
    bot.ask(CHAT, "a long task", "Working on it").await;
    let link = tool_server_env(&bot.sandbox.workdir).await;
    bot.telegram.hold_uploads();
    let workdir = bot.sandbox.workdir.clone();
    let call = tokio::spawn(async move { call_send_file(&workdir, &link, "big.txt").await });
    bot.wait("the upload to reach Telegram", |s| s.uploads_waiting == 1)
        .await;

    bot.send(CHAT, "/stop");
    let answer = call.await.unwrap();
    assert_eq!(answer["isError"], json!(true), "{answer}");
    assert!(
        answer["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("the run this call belongs to was stopped")),
        "{answer}"
    );
    bot.wait("the upload to be abandoned", |s| s.uploads_abandoned == 1)
        .await;
    bot.telegram.release_uploads();
    bot.wait_agents_gone().await;
    assert!(bot.telegram.store().uploads.is_empty());
    bot.shut_down().await;
}

/// A `send_file` call that arrives after its run was stopped is refused, even with the run's
/// own key: the key is taken from the `baton mcp` process claude started, shown to work while
/// the run goes, and used again by a fresh `baton mcp` once the run is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_send_file_after_stop_is_refused() {
    let mut bot = Bot::start(vec![Reply::hang("Working on it")], &[]).await;
    std::fs::write(bot.sandbox.workdir.join("late.txt"), "late").unwrap();
    bot.ask(CHAT, "a long task", "Working on it").await;

    let link = tool_server_env(&bot.sandbox.workdir).await;
    let live = call_send_file(&bot.sandbox.workdir, &link, "late.txt").await;
    assert_eq!(
        live["isError"],
        json!(false),
        "the run's key works while it runs: {live}"
    );
    bot.wait("the upload while running", |s| s.uploads.len() == 1)
        .await;

    bot.send(CHAT, "/stop");
    bot.wait("the stop report", |s| {
        shows(s, CHAT, "Stopped: a long task")
    })
    .await;
    bot.wait_agents_gone().await;

    let late = call_send_file(&bot.sandbox.workdir, &link, "late.txt").await;
    assert_eq!(late["isError"], json!(true), "{late}");
    let text = late["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Not sent: the run this call belongs to")
            && (text.contains("was stopped") || text.contains("is over")),
        "the agent is told why: {text}"
    );
    assert_eq!(
        bot.telegram.store().uploads.len(),
        1,
        "nothing more was sent"
    );
    bot.shut_down().await;
}

/// The socket answers only a run's own key, and a request it cannot read gets a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_keys_and_malformed_requests_are_refused() {
    let mut bot = Bot::start(vec![Reply::text(&["Idle."])], &[]).await;
    std::fs::write(bot.sandbox.workdir.join("a.txt"), "a").unwrap();
    let socket = bot.state_dir().join("send_file.sock");
    bot.wait("the bot to be up", |s| s.polls_waiting > 0).await;
    let forged: HashMap<String, String> = [
        (
            "BATON_SEND_FILE_SOCKET".to_owned(),
            socket.display().to_string(),
        ),
        ("BATON_SEND_FILE_KEY".to_owned(), "r1-0000".to_owned()),
    ]
    .into();
    let answer = call_send_file(&bot.sandbox.workdir, &forged, "a.txt").await;
    assert_eq!(answer["isError"], json!(true), "{answer}");
    assert!(
        answer["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("the run this call belongs to is over")),
        "{answer}"
    );

    let mut stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    stream.write_all(b"not json\n").await.unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await.unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["status"], "refused", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Baton could not read the request")),
        "{answer}"
    );
    assert!(bot.telegram.store().uploads.is_empty());
    bot.shut_down().await;
    assert!(!socket.exists(), "the socket is removed at shutdown");
}

/// `baton mcp` reads no settings (no bot token): only the two variables Baton gives it.
#[test]
fn baton_mcp_without_its_environment_says_who_starts_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("mcp")
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BATON_SEND_FILE_SOCKET is not set: baton mcp is started by Baton"),
        "{stderr}"
    );
}

/// The send-file variables of the `baton mcp` process claude started in `workdir`.
async fn tool_server_env(workdir: &Path) -> HashMap<String, String> {
    for _ in 0..200 {
        let server = processes_in(workdir)
            .into_iter()
            .find(|p| p.cmdline.ends_with("baton mcp") || p.cmdline.contains("/baton mcp"));
        if let Some(server) = server {
            let environ = std::fs::read(format!("/proc/{}/environ", server.pid)).unwrap();
            let env: HashMap<String, String> = environ
                .split(|b| *b == 0)
                .filter_map(|entry| {
                    let entry = String::from_utf8_lossy(entry);
                    let (name, value) = entry.split_once('=')?;
                    name.starts_with("BATON_SEND_FILE_")
                        .then(|| (name.to_owned(), value.to_owned()))
                })
                .collect();
            assert_eq!(env.len(), 2, "the socket and the key: {env:?}");
            return env;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no baton mcp runs in {}", workdir.display());
}

/// Starts `baton mcp` with `env`, as an agent CLI would, and calls `send_file` once: the
/// call's result.
async fn call_send_file(workdir: &Path, env: &HashMap<String, String>, path: &str) -> Value {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("mcp")
        .current_dir(workdir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("baton mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "send_file", "arguments": {"path": path}}}),
    ];
    for message in messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == json!(2) {
                return message;
            }
        }
        panic!("baton mcp closed its output unanswered");
    })
    .await
    .expect("baton mcp answers");
    drop(stdin);
    let _ = child.wait().await;
    answer["result"].clone()
}

/// codex gets the same tool through its `mcp_servers` overrides, approved in advance (its
/// `exec` mode refuses any call that would need an approval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_sends_a_png_as_a_photo_too() {
    let mut bot = Bot::start_codex(vec![
        fake_openai::Reply::McpCall {
            namespace: "mcp__baton".into(),
            name: "send_file".into(),
            arguments: json!({"path": "chart.png", "caption": "from codex"}),
        },
        fake_openai::Reply::text(&["The chart is in the chat."]),
    ])
    .await;
    std::fs::write(bot.sandbox.workdir.join("chart.png"), TINY_PNG).unwrap();

    bot.ask(CHAT, "send me the chart", "The chart is in the chat.")
        .await;

    let uploads = bot.telegram.store().uploads.clone();
    assert_eq!(uploads.len(), 1, "{uploads:#?}");
    assert_eq!((uploads[0].kind, uploads[0].chat), ("photo", CHAT));
    assert_eq!(uploads[0].bytes, TINY_PNG);
    assert_eq!(uploads[0].caption.as_deref(), Some("from codex"));
    let output = bot.codex_turns()[1].last_input();
    assert_eq!(output["type"], "function_call_output", "{output}");
    assert!(
        output["output"].to_string().contains("Sent chart.png"),
        "codex saw the result: {output}"
    );
    bot.shut_down().await;
}
