//! What a run changed in its working directory, when that is a git repository.
//!
//! At the run's start the working directory (untracked files included, ignored
//! ones not; when it is a subdirectory of its repository, only that subtree is
//! read) is written as a tree object through a temporary index, so the user's
//! index and working tree are never touched; at its end the same is done again
//! and the two trees are compared. Only that run's changes show, whatever was
//! uncommitted before it. Uses the `git` CLI; without it, or outside a
//! repository, there is simply no summary.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tracing::debug;

/// The state of a working tree at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    dir: PathBuf,
    tree: String,
}

/// What changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub files: usize,
    pub insertions: u64,
    pub deletions: u64,
    /// The unified diff, as `git diff` prints it.
    pub patch: String,
}

impl Changes {
    /// `3 files changed, +40 −12`.
    pub fn summary(&self) -> String {
        let files = match self.files {
            1 => "1 file".to_owned(),
            n => format!("{n} files"),
        };
        format!("{files} changed, +{} −{}", self.insertions, self.deletions)
    }
}

/// `dir` as it is now; `None` outside a git repository or when git is unavailable.
pub async fn snapshot(dir: &Path) -> Option<Snapshot> {
    // Relative to `dir`, as git prints it.
    let index = git(dir, &["rev-parse", "--git-path", "index"], None).await?;
    let index = dir.join(index.trim());
    let scratch = ScratchIndex::new();
    let temp_index = scratch.0.clone();
    // Starting from a copy of the real index lets git skip every file whose
    // stat data has not changed; a repository without commits has none.
    if tokio::fs::copy(&index, &temp_index).await.is_err() {
        debug!(index = %index.display(), "diff: no index to start from");
    }
    // Only `dir`'s subtree is read again; the rest of the tree is the index's.
    git(dir, &["add", "-A", "--", "."], Some(&temp_index)).await?;
    let tree = git(dir, &["write-tree"], Some(&temp_index)).await?;
    Some(Snapshot {
        dir: dir.to_path_buf(),
        tree: tree.trim().to_owned(),
    })
}

/// A temporary index file, removed (with git's lock file beside it) when dropped.
struct ScratchIndex(PathBuf);

impl ScratchIndex {
    fn new() -> ScratchIndex {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ScratchIndex(std::env::temp_dir().join(format!("baton-index-{}-{n}", std::process::id())))
    }
}

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("lock"));
    }
}

/// What changed since `before`; `None` when nothing did (or git failed).
pub async fn changes_since(before: &Snapshot) -> Option<Changes> {
    let after = snapshot(&before.dir).await?;
    changes_between(before, &after).await
}

/// What changed from `before` to `after`; `None` when nothing did (or git failed).
pub async fn changes_between(before: &Snapshot, after: &Snapshot) -> Option<Changes> {
    if after.tree == before.tree {
        return None;
    }
    let range = [before.tree.as_str(), after.tree.as_str()];
    let numstat = git(
        &before.dir,
        &["diff", "--no-ext-diff", "--numstat", range[0], range[1]],
        None,
    )
    .await?;
    let patch = git(
        &before.dir,
        &["diff", "--no-ext-diff", "--no-color", range[0], range[1]],
        None,
    )
    .await?;
    let mut changes = Changes {
        files: 0,
        insertions: 0,
        deletions: 0,
        patch,
    };
    for line in numstat.lines() {
        let mut fields = line.split('\t');
        // A binary file shows "-" for both counts.
        let added = fields.next().and_then(|n| n.parse::<u64>().ok());
        let removed = fields.next().and_then(|n| n.parse::<u64>().ok());
        changes.files += 1;
        changes.insertions += added.unwrap_or(0);
        changes.deletions += removed.unwrap_or(0);
    }
    (changes.files > 0).then_some(changes)
}

/// Runs git in `dir`; its stdout when it succeeded.
async fn git(dir: &Path, args: &[&str], index: Option<&Path>) -> Option<String> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["-c", "core.quotepath=off"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let output = match command.output().await {
        Ok(output) => output,
        Err(error) => {
            debug!(%error, "diff: git could not run");
            return None;
        }
    };
    if !output.status.success() {
        debug!(
            ?args,
            stderr = %String::from_utf8_lossy(&output.stderr).trim(),
            "diff: git failed"
        );
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        run(dir.path(), &["add", "a.txt"]);
        run(dir.path(), &["commit", "-q", "-m", "start"]);
        dir
    }

    #[tokio::test]
    async fn changes_count_only_the_run_and_include_untracked_files() {
        let dir = repo();
        // Uncommitted before the run: not the run's doing, so not shown.
        std::fs::write(dir.path().join("before.txt"), "left over\n").unwrap();
        let before = snapshot(dir.path()).await.unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\n2\nthree\n").unwrap();
        std::fs::write(dir.path().join("new.txt"), "fresh\n").unwrap();
        let changes = changes_since(&before).await.unwrap();
        assert_eq!(changes.summary(), "2 files changed, +3 −1");
        assert!(changes.patch.contains("+++ b/new.txt"), "{}", changes.patch);
        assert!(!changes.patch.contains("before.txt"), "{}", changes.patch);
        // The user's index is as it was: new.txt is still untracked.
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["status", "--porcelain"])
            .output()
            .unwrap();
        let status = String::from_utf8(status.stdout).unwrap();
        assert!(status.contains("?? new.txt"), "{status}");
        assert!(status.contains(" M a.txt"), "{status}");
    }

    #[tokio::test]
    async fn a_subdirectory_sees_only_its_own_subtree() {
        let dir = repo();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let before = snapshot(&sub).await.unwrap();
        std::fs::write(dir.path().join("a.txt"), "changed outside\n").unwrap();
        assert_eq!(changes_since(&before).await, None);
        std::fs::write(sub.join("b.txt"), "inside\n").unwrap();
        let changes = changes_since(&before).await.unwrap();
        assert_eq!(changes.summary(), "1 file changed, +1 −0");
        assert!(
            changes.patch.contains("+++ b/sub/b.txt"),
            "{}",
            changes.patch
        );
    }

    #[tokio::test]
    async fn nothing_changed_or_no_repository_means_no_changes() {
        let dir = repo();
        let before = snapshot(dir.path()).await.unwrap();
        assert_eq!(changes_since(&before).await, None);
        let plain = tempfile::tempdir().unwrap();
        assert!(snapshot(plain.path()).await.is_none());
    }
}
