//! The bot's slash commands, with the descriptions sent to Telegram by setMyCommands.

use teloxide::utils::command::BotCommands;

#[derive(Debug, Clone, PartialEq, Eq, BotCommands)]
#[command(
    rename_rule = "lowercase",
    description = "Baton drives Claude Code and Codex from this chat."
)]
pub enum Command {
    #[command(description = "introduce the bot")]
    Start,
    #[command(description = "show the commands")]
    Help,
    #[command(description = "start a new agent session")]
    New,
    #[command(description = "stop the current run")]
    Stop,
    #[command(description = "show the run and the queue")]
    Status,
    #[command(description = "show internal state for debugging")]
    Debug,
    #[command(description = "run the last message again")]
    Retry,
    /// The argument is optional: a session id to resume directly; empty shows a menu.
    #[command(description = "resume an earlier session")]
    Resume(String),
    /// The argument is optional: a model name; empty shows a menu.
    #[command(description = "choose the model")]
    Model(String),
    /// The argument is optional: a permission mode; empty shows a menu.
    #[command(description = "choose what the agent may do without asking")]
    Mode(String),
    /// The argument is optional: `claude` or `codex`; empty shows a menu.
    #[command(description = "switch between claude and codex")]
    Switch(String),
    /// `[silent] every|in|at WHEN prompt`, `[silent] add MIN HOUR DOM MON DOW prompt`,
    /// `rm ID`, or empty to list.
    #[command(
        description = "scheduled prompts: /cron every 2h prompt, /cron in 20m prompt, /cron at 15:00 prompt, /cron add 0 9 * * 1-5 prompt"
    )]
    Cron(String),
    #[command(description = "tokens and cost: this chat and all chats, today, this week, in total")]
    Usage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_and_without_bot_name() {
        assert_eq!(Command::parse("/stop", "baton_bot").unwrap(), Command::Stop);
        assert_eq!(
            Command::parse("/resume@baton_bot", "baton_bot").unwrap(),
            Command::Resume(String::new())
        );
        assert_eq!(
            Command::parse("/model opus", "baton_bot").unwrap(),
            Command::Model("opus".into())
        );
        assert_eq!(
            Command::parse("/switch codex", "baton_bot").unwrap(),
            Command::Switch("codex".into())
        );
        assert!(Command::parse("/stop@other_bot", "baton_bot").is_err());
        assert!(Command::parse("/nope", "baton_bot").is_err());
    }

    #[test]
    fn commands_all_have_descriptions_for_set_my_commands() {
        let commands = Command::bot_commands();
        let names: Vec<&str> = commands.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(
            names,
            [
                "/start", "/help", "/new", "/stop", "/status", "/debug", "/retry", "/resume",
                "/model", "/mode", "/switch", "/cron", "/usage"
            ]
        );
        assert!(commands.iter().all(|c| !c.description.is_empty()));
    }
}
