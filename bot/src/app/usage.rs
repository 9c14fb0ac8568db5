//! Token usage each lane's last run reported, for `/status`.

use std::collections::HashMap;

use baton_core::LaneKey;
use parking_lot::Mutex;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Default)]
pub struct UsageBoard(Mutex<HashMap<LaneKey, Usage>>);

impl UsageBoard {
    pub fn get(&self, lane: LaneKey) -> Option<Usage> {
        self.0.lock().get(&lane).copied()
    }

    pub fn set(&self, lane: LaneKey, usage: Usage) {
        self.0.lock().insert(lane, usage);
    }
}
