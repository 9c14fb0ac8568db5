//! The stdin of each lane's running claude CLI, for what changes a run
//! while it goes on (`/mode`): only the run it was attached for is reached.

use std::collections::HashMap;

use baton_core::{LaneKey, RunId};
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;

use crate::drivers::process::InputLine;

#[derive(Default)]
pub struct RunInputs {
    lanes: Mutex<HashMap<LaneKey, (RunId, UnboundedSender<InputLine>)>>,
}

impl RunInputs {
    pub fn attach(&self, run: RunId, lane: LaneKey, input: UnboundedSender<InputLine>) {
        self.lanes.lock().insert(lane, (run, input));
    }

    /// Forgets `run`'s stdin; a later run of the lane keeps its own.
    pub fn detach(&self, run: RunId) {
        self.lanes
            .lock()
            .retain(|_, (attached, _)| *attached != run);
    }

    /// Writes `line` to the lane's running CLI; false when none runs.
    pub fn send(&self, lane: LaneKey, line: InputLine) -> bool {
        self.lanes
            .lock()
            .get(&lane)
            .is_some_and(|(_, input)| input.send(line).is_ok())
    }
}
