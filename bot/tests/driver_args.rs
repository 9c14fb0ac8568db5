//! Command lines the drivers build: flags in the places the CLIs need them.

use std::path::PathBuf;
use std::time::Duration;

use baton_bot::drivers::{
    AgentCli, AgentRequest, ClaudeConfig, ClaudeDriver, CodexConfig, CodexDriver, CodexSandbox,
    ToolServer,
};

fn strings(args: Vec<std::ffi::OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn request() -> AgentRequest {
    AgentRequest {
        prompt: "do it".into(),
        workdir: PathBuf::from("/w"),
        model: Some("m1".into()),
        effort: Some("high".into()),
        resume: Some("sess-1".into()),
        images: vec![],
        tool_server: None,
        asks: false,
        mode: None,
    }
}

#[test]
fn claude_args_keep_the_prompt_off_the_command_line_and_multi_value_flags_last() {
    let driver = ClaudeDriver::new(ClaudeConfig {
        bin: PathBuf::from("claude"),
        permission_mode: Some("acceptEdits".into()),
        allowed_tools: vec!["Bash(echo:*)".into(), "Read".into()],
        extra_env: vec![],
        stall_timeout: Duration::from_secs(1),
    });
    let args = strings(driver.args(&request()));
    assert_eq!(
        args,
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--model",
            "m1",
            "--effort",
            "high",
            "--resume",
            "sess-1",
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Bash(echo:*)",
            "Read",
        ]
    );
    assert!(
        !args.iter().any(|a| a == "do it"),
        "the prompt goes on stdin"
    );

    let mut asking = request();
    asking.asks = true;
    let args = strings(driver.args(&asking));
    let flag = |name: &str| {
        let at = args.iter().position(|a| a == name).expect(name);
        args[at + 1].clone()
    };
    assert_eq!(flag("--input-format"), "stream-json");
    assert_eq!(flag("--permission-prompt-tool"), "stdio");
    assert!(
        !driver.launch(&asking).unwrap().stdin.is_empty()
            && driver.launch(&asking).unwrap().keep_stdin_open,
        "an asking run keeps stdin open for its answers"
    );

    let mut with_image = request();
    with_image.images = vec![PathBuf::from("/w/a.png")];
    let args = strings(driver.args(&with_image));
    let pos = args
        .iter()
        .position(|a| a == "--input-format")
        .expect("stream-json input for images");
    assert_eq!(args[pos + 1], "stream-json");
    assert!(
        !args.iter().any(|a| a.contains("a.png")),
        "images travel inside the stdin message"
    );
}

/// The first lines a run writes to `codex app-server`: the launch's stdin, then what the
/// driver answers to the server's `initialize` and thread responses.
fn codex_requests(driver: &CodexDriver, req: &AgentRequest) -> Vec<serde_json::Value> {
    use baton_bot::drivers::AgentStream;
    let launch = driver.launch(req).expect("a launch");
    let mut parser = driver.stream(req);
    let mut bytes = launch.stdin.clone();
    parser.feed(r#"{"id":0,"result":{"userAgent":"codex"}}"#);
    parser.feed(r#"{"id":1,"result":{"thread":{"id":"th-1"}}}"#);
    for line in parser.take_writes() {
        bytes.extend(line);
    }
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn codex_runs_the_app_server_and_sends_the_request_over_stdin() {
    let mut config = CodexConfig::new(PathBuf::from("codex"));
    config.config_overrides = vec!["model_provider=\"fake\"".into(), "model=\"o1\"".into()];
    let driver = CodexDriver::new(config);
    let mut req = request();
    req.images = vec![PathBuf::from("/w/a.png"), PathBuf::from("/w/b.jpg")];
    let args = strings(driver.args(&req));
    assert_eq!(
        args,
        [
            "app-server",
            "-c",
            "sandbox_workspace_write.network_access=false",
            "-c",
            "model_provider=\"fake\"",
            "-c",
            "model=\"o1\"",
        ]
    );
    let sent = codex_requests(&driver, &req);
    let methods: Vec<&str> = sent.iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert_eq!(
        methods,
        ["initialize", "initialized", "thread/resume", "turn/start"]
    );
    assert_eq!(
        sent[2]["params"],
        serde_json::json!({"threadId": "sess-1", "cwd": "/w", "approvalPolicy": "never",
            "sandbox": "workspace-write", "excludeTurns": true})
    );
    assert_eq!(
        sent[3]["params"],
        serde_json::json!({"threadId": "th-1", "input": [
            {"type": "text", "text": "do it", "text_elements": []},
            {"type": "localImage", "path": "/w/a.png"},
            {"type": "localImage", "path": "/w/b.jpg"},
        ], "model": "m1", "effort": "high"})
    );
}

#[test]
fn codex_defaults_are_least_privilege_and_can_be_widened() {
    let config = CodexConfig::new(PathBuf::from("codex"));
    assert_eq!(config.sandbox, CodexSandbox::WorkspaceWrite);
    assert!(!config.network_access);
    assert_eq!(config.approval_policy, "on-request");

    let mut wide = config.clone();
    wide.sandbox = CodexSandbox::ReadOnly;
    wide.network_access = true;
    wide.approval_policy = "untrusted".into();
    let driver = CodexDriver::new(wide);
    let fresh = AgentRequest {
        asks: true,
        ..AgentRequest::default()
    };
    let args = strings(driver.args(&fresh));
    assert!(
        args.contains(&"sandbox_workspace_write.network_access=true".to_string()),
        "{args:?}"
    );
    let sent = codex_requests(&driver, &fresh);
    assert_eq!(sent[2]["method"], "thread/start");
    assert_eq!(sent[2]["params"]["sandbox"], "read-only");
    assert_eq!(sent[2]["params"]["approvalPolicy"], "untrusted");
}

#[test]
fn codex_asks_only_when_someone_answers_and_its_policy_can_ask() {
    let mut config = CodexConfig::new(PathBuf::from("codex"));
    config.approval_policy = "untrusted".into();
    assert!(CodexDriver::new(config.clone()).asks());
    let unanswered = AgentRequest::default();
    let sent = codex_requests(&CodexDriver::new(config.clone()), &unanswered);
    assert_eq!(sent[2]["params"]["approvalPolicy"], "never");
    config.approval_policy = "never".into();
    assert!(!CodexDriver::new(config).asks());
}

fn tool_server() -> ToolServer {
    ToolServer {
        command: PathBuf::from("/opt/baton/bin/baton"),
        env: vec![
            (
                "BATON_SEND_FILE_SOCKET".into(),
                "/state/send_file.sock".into(),
            ),
            ("BATON_SEND_FILE_KEY".into(), "r1-key".into()),
        ],
    }
}

#[test]
fn claude_gets_batons_mcp_server_inline_and_its_tool_allowed() {
    let driver = ClaudeDriver::new(ClaudeConfig {
        bin: PathBuf::from("claude"),
        permission_mode: None,
        allowed_tools: vec!["Read".into()],
        extra_env: vec![],
        stall_timeout: Duration::from_secs(1),
    });
    let mut req = request();
    req.tool_server = Some(tool_server());
    let args = strings(driver.args(&req));
    let at = args
        .iter()
        .position(|a| a == "--mcp-config")
        .expect("an MCP config");
    let config: serde_json::Value = serde_json::from_str(&args[at + 1]).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"mcpServers": {"baton": {
            "type": "stdio",
            "command": "/opt/baton/bin/baton",
            "args": ["mcp"],
            "env": {"BATON_SEND_FILE_SOCKET": "/state/send_file.sock", "BATON_SEND_FILE_KEY": "r1-key"},
        }}})
    );
    assert!(
        !args.contains(&"--strict-mcp-config".to_owned()),
        "the user's own MCP servers stay"
    );
    assert_eq!(
        args[args.len() - 3..],
        ["--allowedTools", "Read", "mcp__baton__send_file"]
    );

    let without = strings(driver.args(&request()));
    assert!(!without.contains(&"--mcp-config".to_owned()));
    assert!(!without.iter().any(|a| a.contains("mcp__baton")));
}

#[test]
fn codex_gets_batons_mcp_server_as_overrides_with_its_tool_approved() {
    let driver = CodexDriver::new(CodexConfig::new(PathBuf::from("codex")));
    let req = AgentRequest {
        tool_server: Some(tool_server()),
        ..AgentRequest::default()
    };
    let args = strings(driver.args(&req));
    let overrides: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "-c" && w[1].starts_with("mcp_servers."))
        .map(|w| w[1].as_str())
        .collect();
    assert_eq!(
        overrides,
        [
            "mcp_servers.baton.command=\"/opt/baton/bin/baton\"",
            "mcp_servers.baton.args=[\"mcp\"]",
            "mcp_servers.baton.env={BATON_SEND_FILE_SOCKET=\"/state/send_file.sock\",BATON_SEND_FILE_KEY=\"r1-key\"}",
            "mcp_servers.baton.tools.send_file.approval_mode=\"approve\"",
        ]
    );
}
