//! Codex driver (placeholder until its parser lands).
