//! Finds a process's descendants through /proc, so a stop also reaches tools that left its group.

use std::collections::HashMap;

/// One process as /proc shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    /// Start time in clock ticks since boot: tells a process from a later one with the same pid.
    start: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state, ppid, pgrp, ... starttime is the 20th.
    let fields: Vec<&str> = text.rsplit(')').next()?.split_whitespace().collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The descendants of one process seen so far, remembered after they are orphaned.
#[derive(Debug, Default)]
pub struct Descendants {
    known: HashMap<i32, u64>,
}

impl Descendants {
    /// Adds every current descendant of `root` (children, their children, ...).
    pub fn scan(&mut self, root: i32) {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut children: HashMap<i32, Vec<(i32, u64)>> = HashMap::new();
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Some(stat) = stat(pid) {
                children
                    .entry(stat.ppid)
                    .or_default()
                    .push((pid, stat.start));
            }
        }
        let mut todo = vec![root];
        while let Some(parent) = todo.pop() {
            for &(pid, start) in children.get(&parent).into_iter().flatten() {
                if self.known.insert(pid, start).is_none() {
                    todo.push(pid);
                }
            }
        }
    }

    /// Sends `signal` to every remembered descendant that is still the same process.
    pub fn signal(&self, signal: i32) {
        for (&pid, &start) in &self.known {
            if stat(pid).is_some_and(|now| now.start == start) {
                // SAFETY: kill only sends a signal to a process we just checked is ours.
                unsafe {
                    libc::kill(pid, signal);
                }
            }
        }
    }
}
