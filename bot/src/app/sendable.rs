//! Which files a run may send to its chat, and how each goes: the checks `send_file` makes
//! before anything is uploaded. Paths are resolved (symlinks included) before they are
//! compared, so a link inside the working directory cannot reach a file outside it.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Telegram's limit on files a bot uploads.
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// Telegram's limit on photos; a larger image goes as a document.
pub const MAX_PHOTO_BYTES: u64 = 10 * 1024 * 1024;
/// Telegram's limit on captions, counted in UTF-16 code units to be safe.
pub const MAX_CAPTION: usize = 1024;

const PHOTO_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp"];

/// How a file goes to the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `sendPhoto`: shown inline.
    Photo,
    /// `sendDocument`: a file to download.
    Document,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Photo => "photo",
            Kind::Document => "document",
        }
    }
}

/// A file that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sendable {
    /// Resolved: absolute, no symlinks.
    pub path: PathBuf,
    pub name: String,
    pub bytes: u64,
    pub kind: Kind,
}

/// Where a run may send files from: folders (its working directory, its item's own folder)
/// and single files (what the user sent, when it is not in a folder of its own). Every entry
/// is resolved once, when the run starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    roots: Vec<PathBuf>,
}

impl Allowed {
    /// `workdir`, and for each of `attachments` the folder holding it when that folder is
    /// the item's own (strictly below `files_dir`), or else the file itself.
    pub fn new(workdir: &Path, files_dir: &Path, attachments: &[String]) -> Allowed {
        let files_dir = std::fs::canonicalize(files_dir).unwrap_or_else(|_| files_dir.into());
        let mut roots: Vec<PathBuf> = std::fs::canonicalize(workdir).into_iter().collect();
        for attachment in attachments {
            let Ok(file) = std::fs::canonicalize(attachment) else {
                continue;
            };
            let root = match file.parent() {
                Some(folder) if folder.starts_with(&files_dir) && folder != files_dir => {
                    folder.to_path_buf()
                }
                _ => file,
            };
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        Allowed { roots }
    }

    /// Checks `raw` (relative paths start in `workdir`): the file to send, or why not, in
    /// words the agent can act on.
    pub fn check(&self, workdir: &Path, raw: &str) -> Result<Sendable, String> {
        if raw.trim().is_empty() {
            return Err("the path is empty".into());
        }
        let given = workdir.join(raw);
        let path = std::fs::canonicalize(&given).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => format!("{raw} does not exist"),
            _ => format!("{raw}: {error}"),
        })?;
        if !self.roots.iter().any(|root| path.starts_with(root)) {
            return Err(format!(
                "{raw} resolves to {}, outside the working directory {}; only files in it \
                 (or that the user sent with this message) can be sent",
                path.display(),
                workdir.display()
            ));
        }
        let meta = std::fs::metadata(&path).map_err(|error| format!("{raw}: {error}"))?;
        if !meta.is_file() {
            return Err(format!("{raw} is not a regular file"));
        }
        let bytes = meta.len();
        if bytes == 0 {
            return Err(format!(
                "{raw} is empty; Telegram does not take empty files"
            ));
        }
        if bytes > MAX_FILE_BYTES {
            return Err(format!(
                "{raw} is {}, above Telegram's limit of {} for files a bot sends",
                size(bytes),
                size(MAX_FILE_BYTES)
            ));
        }
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| raw.to_owned());
        let kind = kind(&path, bytes);
        Ok(Sendable {
            path,
            name,
            bytes,
            kind,
        })
    }
}

/// An image by name and by content, small enough for a photo; anything else a document.
fn kind(path: &Path, bytes: u64) -> Kind {
    let named_image = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| PHOTO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    if !named_image || bytes > MAX_PHOTO_BYTES {
        return Kind::Document;
    }
    let mut head = [0u8; 12];
    let read = std::fs::File::open(path)
        .and_then(|mut file| file.read(&mut head))
        .unwrap_or(0);
    if is_image(&head[..read]) {
        Kind::Photo
    } else {
        // Telegram refuses a photo it cannot decode; as a document it still arrives.
        Kind::Document
    }
}

fn is_image(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(&[0xff, 0xd8, 0xff])
        || head.starts_with(b"GIF87a")
        || head.starts_with(b"GIF89a")
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
}

/// A caption Telegram takes, or why not.
pub fn check_caption(caption: Option<String>) -> Result<Option<String>, String> {
    let Some(caption) = caption.filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    let units = caption.encode_utf16().count();
    if units > MAX_CAPTION {
        return Err(format!(
            "the caption is {units} characters long; Telegram takes at most {MAX_CAPTION}: \
             shorten it or send the text as a message"
        ));
    }
    Ok(Some(caption))
}

/// A byte count for people: "812 B", "1.5 MB".
pub fn size(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    struct Dirs {
        _root: tempfile::TempDir,
        workdir: PathBuf,
        files: PathBuf,
        outside: PathBuf,
    }

    fn dirs() -> Dirs {
        let root = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(root.path()).unwrap();
        let dirs = Dirs {
            workdir: base.join("work"),
            files: base.join("state/files"),
            outside: base.join("outside"),
            _root: root,
        };
        for dir in [&dirs.workdir, &dirs.files, &dirs.outside] {
            std::fs::create_dir_all(dir).unwrap();
        }
        dirs
    }

    #[test]
    fn files_in_the_working_directory_go_as_photos_or_documents() {
        let d = dirs();
        std::fs::create_dir_all(d.workdir.join("out")).unwrap();
        std::fs::write(d.workdir.join("out/chart.PNG"), PNG).unwrap();
        std::fs::write(d.workdir.join("notes.txt"), "hello").unwrap();
        std::fs::write(d.workdir.join("fake.png"), "not an image").unwrap();
        let allowed = Allowed::new(&d.workdir, &d.files, &[]);
        let chart = allowed.check(&d.workdir, "out/chart.PNG").unwrap();
        assert_eq!(chart.kind, Kind::Photo);
        assert_eq!(chart.name, "chart.PNG");
        assert_eq!(chart.path, d.workdir.join("out/chart.PNG"));
        let notes = allowed
            .check(
                &d.workdir,
                &d.workdir.join("notes.txt").display().to_string(),
            )
            .unwrap();
        assert_eq!((notes.kind, notes.bytes), (Kind::Document, 5));
        assert_eq!(
            allowed.check(&d.workdir, "fake.png").unwrap().kind,
            Kind::Document,
            "a .png that is no image goes as a document, which Telegram takes"
        );
    }

    #[test]
    fn paths_outside_the_working_directory_are_refused_also_through_links() {
        let d = dirs();
        std::fs::write(d.outside.join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(d.outside.join("secret.txt"), d.workdir.join("link.txt"))
            .unwrap();
        std::os::unix::fs::symlink(&d.outside, d.workdir.join("out")).unwrap();
        let allowed = Allowed::new(&d.workdir, &d.files, &[]);
        for raw in [
            d.outside.join("secret.txt").display().to_string(),
            "../outside/secret.txt".to_owned(),
            "link.txt".to_owned(),
            "out/secret.txt".to_owned(),
        ] {
            let error = allowed.check(&d.workdir, &raw).unwrap_err();
            assert!(
                error.contains("outside the working directory"),
                "{raw}: {error}"
            );
        }
    }

    #[test]
    fn the_items_own_folder_is_allowed_but_not_the_other_items_files() {
        let d = dirs();
        let own = d.files.join("item-7");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("photo.jpg"), [0xff, 0xd8, 0xff, 0xe0]).unwrap();
        std::fs::write(own.join("extracted.txt"), "x").unwrap();
        std::fs::write(d.files.join("loose.txt"), "mine").unwrap();
        std::fs::write(d.files.join("other.txt"), "someone else's").unwrap();
        let attachments = [
            own.join("photo.jpg").display().to_string(),
            d.files.join("loose.txt").display().to_string(),
        ];
        let allowed = Allowed::new(&d.workdir, &d.files, &attachments);
        let path = |p: &Path| p.display().to_string();
        assert_eq!(
            allowed
                .check(&d.workdir, &path(&own.join("photo.jpg")))
                .unwrap()
                .kind,
            Kind::Photo
        );
        assert!(
            allowed
                .check(&d.workdir, &path(&own.join("extracted.txt")))
                .is_ok()
        );
        assert!(
            allowed
                .check(&d.workdir, &path(&d.files.join("loose.txt")))
                .is_ok()
        );
        assert!(
            allowed
                .check(&d.workdir, &path(&d.files.join("other.txt")))
                .is_err(),
            "a file beside a loose attachment is not the run's"
        );
    }

    #[test]
    fn missing_empty_oversized_and_folders_are_refused_with_the_reason() {
        let d = dirs();
        std::fs::write(d.workdir.join("empty.txt"), "").unwrap();
        let big = std::fs::File::create(d.workdir.join("big.bin")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let allowed = Allowed::new(&d.workdir, &d.files, &[]);
        let reason = |raw: &str| allowed.check(&d.workdir, raw).unwrap_err();
        assert_eq!(reason("gone.txt"), "gone.txt does not exist");
        assert!(reason("empty.txt").contains("empty"));
        assert!(
            reason("big.bin").contains("50.0 MB"),
            "{}",
            reason("big.bin")
        );
        assert!(reason(".").contains("not a regular file"));
        assert_eq!(reason(" "), "the path is empty");
    }

    #[test]
    fn a_large_image_goes_as_a_document() {
        let d = dirs();
        let path = d.workdir.join("huge.png");
        std::fs::write(&path, PNG).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MAX_PHOTO_BYTES + 1)
            .unwrap();
        let allowed = Allowed::new(&d.workdir, &d.files, &[]);
        assert_eq!(
            allowed.check(&d.workdir, "huge.png").unwrap().kind,
            Kind::Document
        );
    }

    #[test]
    fn captions_are_checked_against_telegrams_limit() {
        assert_eq!(check_caption(None), Ok(None));
        assert_eq!(check_caption(Some("  ".into())), Ok(None));
        assert_eq!(check_caption(Some("hi".into())), Ok(Some("hi".into())));
        let long = "😀".repeat(513);
        assert!(check_caption(Some(long)).unwrap_err().contains("1026"));
    }
}
