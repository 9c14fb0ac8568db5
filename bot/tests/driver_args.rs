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

#[test]
fn codex_args_put_options_before_resume_and_images_last() {
    let mut config = CodexConfig::new(PathBuf::from("codex"));
    config.config_overrides = vec!["model_provider=\"fake\"".into()];
    let driver = CodexDriver::new(config);
    let mut req = request();
    req.images = vec![PathBuf::from("/w/a.png"), PathBuf::from("/w/b.jpg")];
    let args = strings(driver.args(&req));
    assert_eq!(
        args,
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
            "-c",
            "approval_policy=\"never\"",
            "-c",
            "sandbox_workspace_write.network_access=false",
            "--model",
            "m1",
            "-c",
            "model_reasoning_effort=\"high\"",
            "-c",
            "model_provider=\"fake\"",
            "resume",
            "sess-1",
            "-",
            "--image",
            "/w/a.png",
            "/w/b.jpg",
        ]
    );
}

#[test]
fn codex_defaults_are_least_privilege_and_can_be_widened() {
    let config = CodexConfig::new(PathBuf::from("codex"));
    assert_eq!(config.sandbox, CodexSandbox::WorkspaceWrite);
    assert!(!config.network_access);
    assert_eq!(config.approval_policy, "never");

    let mut wide = config.clone();
    wide.sandbox = CodexSandbox::ReadOnly;
    wide.network_access = true;
    let args = strings(CodexDriver::new(wide).args(&AgentRequest::default()));
    assert!(
        args.windows(2).any(|w| w == ["--sandbox", "read-only"]),
        "{args:?}"
    );
    assert!(
        args.contains(&"sandbox_workspace_write.network_access=true".to_string()),
        "{args:?}"
    );
    assert!(!args.contains(&"resume".to_string()));
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
