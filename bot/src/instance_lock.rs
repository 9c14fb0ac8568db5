//! One Baton per state directory: an exclusive advisory lock held for the process lifetime.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the state directory.
pub const LOCK_FILE_NAME: &str = "baton.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another baton instance is already running with state dir {} ({})", state_dir.display(), describe_pid(*pid))]
    Held {
        state_dir: PathBuf,
        pid: Option<u32>,
    },
    #[error("lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe_pid(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_string(),
    }
}

/// Held while the process runs; the kernel releases it when the file closes, so a crashed
/// instance never leaves a stale lock behind.
#[derive(Debug)]
pub struct InstanceLock {
    // Keeps the descriptor, and with it the flock, alive.
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Creates `state_dir` if needed and takes its lock, recording this process's pid in it.
    pub fn acquire(state_dir: &Path) -> Result<InstanceLock, LockError> {
        let path = state_dir.join(LOCK_FILE_NAME);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(|source| LockError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        // Not truncated on open: the holder's pid must stay readable for the loser's message.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut contents = String::new();
                let pid = file
                    .read_to_string(&mut contents)
                    .ok()
                    .and_then(|_| contents.trim().parse().ok());
                return Err(LockError::Held {
                    state_dir: state_dir.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
        file.set_len(0).map_err(io_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        writeln!(file, "{}", std::process::id()).map_err(io_error)?;
        file.sync_data().map_err(io_error)?;
        Ok(InstanceLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
