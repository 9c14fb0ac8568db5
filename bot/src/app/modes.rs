//! `/mode`: what the agent may do without asking, per lane. The operator's
//! config sets the default and the modes a user may pick; a running claude
//! session switches at once, except to `bypassPermissions`, which the CLI
//! accepts only at start.

use baton_core::{Driver, LaneKey};
use tracing::info;

use super::effects::{Effect, To};
use super::router::Router;
use crate::telegram::callbacks::Token;
use crate::telegram::keyboards::mode_keyboard;
use crate::telegram::render::escape_text;

const ONLY_AT_START: &str = "bypassPermissions";

impl Router<'_> {
    /// The lane's mode: its own choice, else the operator's default.
    pub(super) fn mode(&self, lane: LaneKey) -> String {
        self.door
            .preferences(lane)
            .mode
            .or_else(|| self.scope.config.claude_permission_mode.clone())
            .unwrap_or_else(|| "default".into())
    }

    pub(super) fn mode_menu(&self, to: To) -> Vec<Effect> {
        let modes: Vec<Token> = self
            .scope
            .config
            .claude_allowed_modes
            .iter()
            .filter_map(|mode| Token::new(mode).ok())
            .collect();
        vec![Effect::Menu {
            to,
            html: format!(
                "Permission mode (now <b>{}</b>): what claude may do without asking you.",
                escape_text(&self.mode(to.lane))
            ),
            keyboard: mode_keyboard(&modes, &self.mode(to.lane)),
        }]
    }

    /// Sets the lane's mode: the text to show, and the switch of a running session.
    pub(super) fn set_mode(&self, lane: LaneKey, mode: &str) -> (String, Vec<Effect>) {
        let allowed = &self.scope.config.claude_allowed_modes;
        if !allowed.iter().any(|m| m == mode) {
            return (
                format!(
                    "{mode} is not a mode this bot offers: {}.",
                    allowed.join(", ")
                ),
                Vec::new(),
            );
        }
        self.door
            .update_preferences(lane, |prefs| prefs.mode = Some(mode.to_owned()));
        info!(%lane, mode, "modes: set");
        let running_claude = self
            .door
            .lane_status(lane)
            .run
            .is_some_and(|run| run.driver == Driver::Claude);
        if !running_claude {
            return (format!("Mode: {mode}"), Vec::new());
        }
        if mode == ONLY_AT_START {
            return (
                format!("Mode: {mode} (from the next run: claude takes it only at start)"),
                Vec::new(),
            );
        }
        let switch = Effect::SetMode {
            lane,
            mode: mode.to_owned(),
        };
        (
            format!("Mode: {mode} (now, and for later runs)"),
            vec![switch],
        )
    }
}
