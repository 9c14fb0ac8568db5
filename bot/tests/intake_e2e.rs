//! Everything a user sends besides text, end to end: real bytes through the fake Telegram's
//! getFile and download, voice through a fake transcription server, and on to the real claude
//! CLI against the fake Anthropic server, which sees what reached the model.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use support::bot::{Bot, USER, shows};
use support::fake_anthropic::Reply;
use support::fake_openai::{FakeTranscriber, Transcription};

const CHAT: i64 = 303;
/// A real Ogg Opus voice note (tests/data/make.py).
const VOICE: &[u8] = include_bytes!("data/voice.ogg");
const PNG: &[u8] = include_bytes!("data/pixel.png");
/// A PDF whose text layer says "Quarterly revenue grew by 42 percent".
const PDF: &[u8] = include_bytes!("data/report.pdf");

/// A bot with voice on, transcribing through `transcriber`.
async fn voice_bot(transcriber: &FakeTranscriber, with_v1: bool, replies: Vec<Reply>) -> Bot {
    let url = transcriber.url(with_v1);
    Bot::start(
        replies,
        &[
            ("BATON_TRANSCRIBE_URL", url.as_str()),
            ("BATON_TRANSCRIBE_KEY", "sk-test"),
            ("BATON_TRANSCRIBE_TIMEOUT_SECS", "2"),
        ],
    )
    .await
}

/// Every file under `dir` whose name is `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            if entry.file_name() == name {
                found.push(path);
            }
        }
    }
    found
}

/// The item folders left under the bot's `files/`.
fn item_folders(bot: &Bot) -> Vec<String> {
    std::fs::read_dir(bot.state_dir().join("files"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name != ".retired")
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until every item folder is gone (runs remove theirs as they end).
async fn wait_folders_gone(bot: &Bot) {
    for _ in 0..200 {
        if item_folders(bot).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("item folders left: {:?}", item_folders(bot));
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in files {
        out.start_file(*name, options).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A tar with a raw entry name (as a hostile tool writes it) and optional link target.
fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, bytes, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(*kind);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, *bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A real Ogg voice note goes to the transcription server as `voice.ogg` with the model and
/// the key, the transcript is shown, and it runs on the real claude CLI like a text; its item
/// folder is gone once the run ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_note_is_transcribed_shown_and_answered() {
    let transcriber =
        FakeTranscriber::start(Transcription::Text("what is two plus two".into())).await;
    let mut bot = voice_bot(&transcriber, true, vec![Reply::text(&["Four."])]).await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    bot.wait_shown(CHAT, "the transcript", "🎤 what is two plus two")
        .await;
    bot.wait_shown(CHAT, "the answer", "Four.").await;
    bot.assert_shown_in_order(CHAT, "🎤 what is two plus two", "Four.");
    let uploads = transcriber.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(
        upload.file_name, "voice.ogg",
        "Telegram's .oga goes up as .ogg"
    );
    assert_eq!(upload.bytes, VOICE, "the voice note's own bytes");
    assert_eq!(upload.content_type, "audio/ogg");
    assert_eq!(upload.model, "gpt-4o-transcribe");
    assert_eq!(upload.response_format, "json");
    assert_eq!(upload.authorization.as_deref(), Some("Bearer sk-test"));
    let prompts = bot.claude_prompts();
    assert_eq!(prompts.len(), 1);
    assert!(prompts[0].contains("what is two plus two"), "{prompts:#?}");
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// An audio file is transcribed under its own name (the server URL given without `/v1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_file_is_transcribed_and_answered() {
    let transcriber =
        FakeTranscriber::start(Transcription::Text("list the open issues".into())).await;
    let mut bot = voice_bot(&transcriber, false, vec![Reply::text(&["Three are open."])]).await;
    bot.telegram
        .push_audio(CHAT, USER, b"ID3 fake mp3 bytes", "memo.mp3");
    bot.wait_shown(CHAT, "the answer", "Three are open.").await;
    assert!(shows(
        &bot.telegram.store(),
        CHAT,
        "🎤 list the open issues"
    ));
    assert_eq!(transcriber.uploads()[0].file_name, "memo.mp3");
    assert!(bot.claude_prompts()[0].contains("list the open issues"));
    bot.shut_down().await;
}

/// The server answers with an error: the user is told the cause, the recording is kept, and
/// its Retry button transcribes it again once the server is well; it then runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcription_error_is_explained_and_retry_works() {
    let transcriber = FakeTranscriber::start(Transcription::Error {
        status: 500,
        message: "The server had an error while processing your request.".into(),
    })
    .await;
    let mut bot = voice_bot(&transcriber, true, vec![Reply::text(&["Done that."])]).await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    let failed = bot
        .wait_shown(CHAT, "the failure", "Could not transcribe that recording")
        .await;
    assert!(
        failed
            .text
            .contains("answered 500: The server had an error"),
        "{failed:?}"
    );
    assert_eq!(bot.claude_turns(), 0, "nothing ran");
    let kept = find_named(&bot.state_dir().join("files"), "voice.ogg");
    assert_eq!(kept.len(), 1, "the recording is kept for its Retry");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), VOICE);
    transcriber.answer_with(Transcription::Text("deploy the fix".into()));
    assert_eq!(bot.press(&failed, "Retry").await, "Transcribing again");
    bot.wait_shown(CHAT, "the answer", "Done that.").await;
    assert!(shows(&bot.telegram.store(), CHAT, "🎤 deploy the fix"));
    let uploads = transcriber.uploads();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[1].bytes, VOICE, "the kept recording went up again");
    assert_eq!(bot.claude_turns(), 1);
    assert_eq!(
        bot.press(&failed, "Retry").await,
        "That recording is no longer kept (Baton restarted since); send it again.",
        "a second press after it ran runs nothing"
    );
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// The server is down (connection refused), then comes back: Retry works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcription_server_down_then_retry_works() {
    let transcriber = FakeTranscriber::start(Transcription::Text("run the tests".into())).await;
    let mut bot = voice_bot(&transcriber, true, vec![Reply::text(&["All green."])]).await;
    transcriber.down().await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    let failed = bot
        .wait_shown(CHAT, "the failure", "could not be reached")
        .await;
    transcriber.up().await;
    bot.press(&failed, "Retry").await;
    bot.wait_shown(CHAT, "the answer", "All green.").await;
    assert!(bot.claude_prompts()[0].contains("run the tests"));
    bot.shut_down().await;
}

/// The server takes longer than the timeout: the user is told, and Retry works; a text sent
/// meanwhile is not held up by the transcription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcription_too_slow_is_explained_and_retry_works() {
    let transcriber = FakeTranscriber::start(Transcription::Slow {
        after: std::time::Duration::from_secs(10),
        text: "too late".into(),
    })
    .await;
    let mut bot = voice_bot(
        &transcriber,
        true,
        vec![
            Reply::text(&["Text answered."]),
            Reply::text(&["Voice answered."]),
        ],
    )
    .await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    let uploaded = tokio::time::timeout(support::bot::TURN, async {
        while transcriber.uploads().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(uploaded.is_ok(), "the voice note never reached the server");
    bot.send(CHAT, "a text meanwhile");
    bot.wait_shown(CHAT, "the text's answer", "Text answered.")
        .await;
    let failed = bot
        .wait_shown(CHAT, "the timeout", "did not answer within 2 s")
        .await;
    transcriber.answer_with(Transcription::Text("now in time".into()));
    bot.press(&failed, "Retry").await;
    bot.wait_shown(CHAT, "the voice's answer", "Voice answered.")
        .await;
    assert!(bot.claude_prompts()[1].contains("now in time"));
    bot.shut_down().await;
}

/// No speech recognised, and voice switched off: each gets a clear reply, nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_transcripts_and_voice_off_are_explained() {
    let transcriber = FakeTranscriber::start(Transcription::Empty).await;
    let mut bot = voice_bot(&transcriber, true, vec![Reply::text(&["never"])]).await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    bot.wait_shown(CHAT, "the empty transcript", "no speech was recognised")
        .await;
    bot.shut_down().await;

    let mut off = Bot::start(vec![Reply::text(&["never"])], &[]).await;
    off.telegram.push_voice(CHAT, USER, VOICE);
    off.wait_shown(CHAT, "the voice-off reply", "BATON_TRANSCRIBE_URL")
        .await;
    off.telegram.push_sticker(CHAT, USER);
    off.wait_shown(CHAT, "the sticker reply", "not stickers")
        .await;
    assert_eq!(bot.claude_turns() + off.claude_turns(), 0);
    off.shut_down().await;
}

/// A PNG photo reaches the model as an image block holding its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photo_reaches_claude_as_an_image_block() {
    let mut bot = Bot::start(vec![Reply::text(&["A red square."])], &[]).await;
    bot.telegram
        .push_photo(CHAT, USER, PNG, Some("what is in this picture?"));
    bot.wait_shown(CHAT, "the answer", "A red square.").await;
    let turns = bot.anthropic.agent_requests();
    let bodies: Vec<String> = turns
        .iter()
        .map(|t| t.body["messages"].to_string())
        .collect();
    let asked = turns
        .iter()
        .find(|t| t.last_user_content().contains("what is in this picture?"))
        .unwrap_or_else(|| panic!("no turn asked it: {bodies:#?}"));
    assert_eq!(
        asked.images(),
        vec![("image/png".to_owned(), PNG.to_vec())],
        "{bodies:#?}"
    );
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// Three photos sent as an album are one run, with all three images and the caption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn album_of_three_photos_is_one_run() {
    let mut bot = Bot::start(vec![Reply::text(&["Three squares."])], &[]).await;
    bot.telegram
        .push_album(CHAT, USER, &[PNG, PNG, PNG], Some("compare these"));
    bot.wait_shown(CHAT, "the answer", "Three squares.").await;
    bot.idle_status(CHAT).await;
    let turns = bot.anthropic.agent_requests();
    assert_eq!(turns.len(), 1, "one run for the album");
    assert_eq!(turns[0].images().len(), 3, "{}", turns[0].body["messages"]);
    assert!(turns[0].last_user_content().contains("compare these"));
    bot.shut_down().await;
}

/// An album whose downloads a shutdown cut off is taken up again at the next start: one run,
/// every photo, nothing lost and nothing run twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn album_cut_off_by_a_restart_runs_once_after_it() {
    let mut bot = Bot::start(vec![Reply::text(&["Both seen."])], &[]).await;
    bot.telegram.hold_downloads();
    bot.telegram
        .push_album(CHAT, USER, &[PNG, PNG], Some("after the restart"));
    bot.wait("both downloads to start", |s| s.downloads_started == 2)
        .await;
    bot.shut_down().await;
    bot.telegram.release_downloads();
    bot.serve(&[]);
    bot.wait_shown(CHAT, "the answer", "Both seen.").await;
    bot.idle_status(CHAT).await;
    let turns = bot.anthropic.agent_requests();
    assert_eq!(turns.len(), 1, "run once");
    assert_eq!(turns[0].images().len(), 2, "no part lost");
    bot.shut_down().await;
    // Left by a process that died: the start-up removes what no pending item owns.
    let stale = bot.state_dir().join("files/u999");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("old.jpg"), PNG).unwrap();
    bot.serve(&[]);
    bot.idle_status(CHAT).await;
    assert_eq!(bot.claude_turns(), 1, "not again after a second restart");
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// A PDF's text and a text file's content reach the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdf_and_text_file_content_reach_the_model() {
    let mut bot = Bot::start(
        vec![
            Reply::text(&["Revenue is up."]),
            Reply::text(&["Milk noted."]),
        ],
        &[],
    )
    .await;
    bot.telegram
        .push_document(CHAT, USER, PDF, "report.pdf", Some("summarize"));
    bot.wait_shown(CHAT, "the PDF's answer", "Revenue is up.")
        .await;
    bot.telegram
        .push_document(CHAT, USER, b"remember the milk\n", "notes.txt", None);
    bot.wait_shown(CHAT, "the text's answer", "Milk noted.")
        .await;
    let prompts = bot.claude_prompts();
    assert!(
        prompts[0].contains("Quarterly revenue grew by 42 percent"),
        "{prompts:#?}"
    );
    assert!(prompts[0].contains("summarize"));
    assert!(prompts[1].contains("remember the milk"), "{prompts:#?}");
    assert!(prompts[1].contains("notes.txt (text/plain"), "{prompts:#?}");
    bot.shut_down().await;
}

/// A zip and a tar are unpacked into the item's folder; their listing and text files reach
/// the model, nested archives are listed and not opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_and_tar_listings_reach_the_model() {
    let mut bot = Bot::start(
        vec![Reply::text(&["Zip read."]), Reply::text(&["Tar read."])],
        &[],
    )
    .await;
    let zip = zip_of(&[
        ("src/lib.rs", b"pub fn answer() -> u32 { 42 }\n"),
        ("vendor/inner.zip", b"PK\x03\x04"),
    ]);
    bot.telegram
        .push_document(CHAT, USER, &zip, "project.zip", Some("review this"));
    bot.wait_shown(CHAT, "the zip's answer", "Zip read.").await;
    let tar = tar_of(&[(
        "docs/guide.md",
        tar::EntryType::Regular,
        b"# Guide\nrun make\n",
        None,
    )]);
    bot.telegram
        .push_document(CHAT, USER, &tar, "docs.tar", None);
    bot.wait_shown(CHAT, "the tar's answer", "Tar read.").await;
    let prompts = bot.claude_prompts();
    assert!(prompts[0].contains("src/lib.rs ("), "{prompts:#?}");
    assert!(
        prompts[0].contains("pub fn answer() -> u32 { 42 }"),
        "{prompts:#?}"
    );
    assert!(prompts[0].contains("vendor/inner.zip (4 bytes, an archive: not opened)"));
    assert!(prompts[1].contains("docs/guide.md ("), "{prompts:#?}");
    assert!(prompts[1].contains("run make"), "{prompts:#?}");
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// A video and a video note are passed as a path with the caption and duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_is_passed_as_a_path() {
    let mut bot = Bot::start(
        vec![Reply::text(&["A video."]), Reply::text(&["A note."])],
        &[],
    )
    .await;
    bot.telegram
        .push_video(CHAT, USER, b"fake mp4 bytes", Some("what happens here?"));
    bot.wait_shown(CHAT, "the video's answer", "A video.").await;
    bot.telegram
        .push_video_note(CHAT, USER, b"fake round video");
    bot.wait_shown(CHAT, "the note's answer", "A note.").await;
    let prompts = bot.claude_prompts();
    let files = bot.state_dir().join("files").display().to_string();
    assert!(prompts[0].contains("what happens here?"), "{prompts:#?}");
    assert!(
        prompts[0].contains("Attached video (video/mp4, 12 s): "),
        "{prompts:#?}"
    );
    assert!(prompts[0].contains(&files), "the path: {prompts:#?}");
    assert!(
        prompts[1].contains("Attached video note (video/mp4, 5 s): "),
        "{prompts:#?}"
    );
    assert!(bot.anthropic.agent_requests()[0].images().is_empty());
    bot.shut_down().await;
}

/// Zip-slip, a symlink out and a zip bomb are refused with the reason; nothing is written
/// outside the item's folder, nothing runs, and the folder is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malicious_archives_are_refused_with_nothing_written_outside() {
    let mut bot = Bot::start(vec![Reply::text(&["never"])], &[]).await;
    let slip = zip_of(&[("../../../escaped.txt", b"gotcha")]);
    bot.telegram
        .push_document(CHAT, USER, &slip, "slip.zip", None);
    bot.wait_shown(CHAT, "the zip-slip refusal", "points outside the archive")
        .await;
    let symlink = tar_of(&[
        ("up", tar::EntryType::Symlink, b"", Some("../../..")),
        ("up/escaped.txt", tar::EntryType::Regular, b"gotcha", None),
    ]);
    bot.telegram
        .push_document(CHAT, USER, &symlink, "link.tar", None);
    bot.wait_shown(CHAT, "the symlink refusal", "is a symbolic link")
        .await;
    let zeros = vec![0u8; 15 * 1024 * 1024];
    let bomb = zip_of(&[("escaped.txt", zeros.as_slice())]);
    assert!(bomb.len() < 1024 * 1024, "a bomb: {} bytes", bomb.len());
    bot.telegram
        .push_document(CHAT, USER, &bomb, "bomb.zip", None);
    bot.wait_shown(CHAT, "the bomb refusal", "over 100 times its own size")
        .await;
    // Every escape above lands in the state directory or right beside it.
    let beside = bot.state_dir().parent().unwrap().join("escaped.txt");
    let escaped: Vec<_> = find_named(bot.state_dir(), "escaped.txt")
        .into_iter()
        .chain(find_named(&bot.sandbox.workdir, "escaped.txt"))
        .chain(beside.exists().then_some(beside))
        .collect();
    assert!(escaped.is_empty(), "written outside: {escaped:?}");
    assert_eq!(bot.claude_turns(), 0);
    wait_folders_gone(&bot).await;
    bot.shut_down().await;
}

/// A file over Telegram's 20 MB limit is refused before any download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_file_is_refused_before_downloading() {
    let mut bot = Bot::start(vec![Reply::text(&["never"])], &[]).await;
    let huge = vec![b'x'; 20 * 1024 * 1024 + 1];
    bot.telegram
        .push_document(CHAT, USER, &huge, "huge.log", Some("read it"));
    bot.wait_shown(CHAT, "the refusal", "over Telegram's 20 MB download limit")
        .await;
    assert_eq!(bot.telegram.store().downloads_started, 0);
    assert_eq!(bot.claude_turns(), 0);
    bot.shut_down().await;
}

/// With codex, an album's photos reach the model as images too (codex's `--image`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn album_reaches_codex_as_images() {
    use base64::Engine as _;
    let mut bot =
        Bot::start_codex(vec![support::fake_openai::Reply::text(&["Two squares."])]).await;
    bot.telegram
        .push_album(CHAT, USER, &[PNG, PNG], Some("what are these?"));
    bot.wait_shown(CHAT, "the answer", "Two squares.").await;
    let turns = bot.codex_turns();
    assert_eq!(turns.len(), 1, "one run for the album");
    let input = turns[0].input();
    let png = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(PNG)
    );
    assert_eq!(input.matches(&png).count(), 2, "{input}");
    assert!(input.contains("what are these?"), "{input}");
    bot.shut_down().await;
}

/// A voice note goes through the core like a text: queued with its position behind a run,
/// and a spoken "stop" stops the run and clears the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_is_queued_behind_a_run_and_a_spoken_stop_stops() {
    let transcriber =
        FakeTranscriber::start(Transcription::Text("then write the docs".into())).await;
    let mut bot = voice_bot(&transcriber, true, vec![Reply::hang("Working on it")]).await;
    bot.send(CHAT, "a long task");
    bot.wait_shown(CHAT, "the run", "Working on it").await;
    bot.telegram.push_voice(CHAT, USER, VOICE);
    bot.wait_shown(CHAT, "the voice's queue position", "Queued, position 1")
        .await;
    transcriber.answer_with(Transcription::Text("Stop, please.".into()));
    bot.telegram.push_voice(CHAT, USER, VOICE);
    let stopped = bot.wait_shown(CHAT, "the stop", "⏹ Stopped").await;
    assert!(stopped.text.contains("a long task"), "{stopped:?}");
    assert!(stopped.text.contains("then write the docs"), "{stopped:?}");
    bot.wait_agents_gone().await;
    assert_eq!(bot.claude_turns(), 1, "the queued voice note never ran");
    bot.shut_down().await;
}
