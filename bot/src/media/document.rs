//! What the agent is told about a document: text and code inlined up to a
//! limit, a PDF's text, an archive's listing (and its text files), or else
//! the path with the file's name and type.

use std::fmt::Write as _;
use std::path::Path;

use super::archive::{self, Entry};

/// Bytes of file text inlined into one prompt; the rest stays on disk.
pub const INLINE_LIMIT: usize = 100 * 1024;

/// A saved document to describe.
#[derive(Debug, Clone)]
pub struct Saved<'a> {
    pub path: &'a Path,
    /// The name the sender gave it.
    pub name: &'a str,
    pub mime: Option<&'a str>,
}

/// Why a document could not be prepared; worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("That archive was not unpacked: {0}.")]
    Archive(#[from] archive::Refusal),
    #[error("Could not read that file: {0}")]
    Unreadable(String),
}

/// The prompt text describing `saved`, which lives in `folder`.
pub fn describe(saved: &Saved<'_>, folder: &Path) -> Result<String, Problem> {
    let bytes = std::fs::metadata(saved.path)
        .map_err(|e| Problem::Unreadable(e.to_string()))?
        .len();
    let mut out = format!(
        "Attached file: {} ({}, {bytes} bytes), saved at {}",
        saved.name,
        saved.mime.unwrap_or("type unknown"),
        saved.path.display()
    );
    let mut budget = INLINE_LIMIT;
    if let Some(kind) = archive::Kind::of_name(saved.name) {
        let into = folder.join(unpacked_name(saved.name));
        let entries = archive::extract(saved.path, kind, &into)?;
        out.push_str(&listing(&entries, &into));
        for entry in entries.iter().filter(|e| !e.dir && !e.is_archive()) {
            inline_text(&mut out, &into.join(&entry.path), &entry.path, &mut budget);
        }
    } else if is_pdf(saved) {
        let text = pdf_text(saved.path)?;
        if text.trim().is_empty() {
            out.push_str("\nThe PDF has no text layer (a scan?); read it as an image if you can.");
        } else {
            let name = format!("{} (text extracted from the PDF)", saved.name);
            inline(&mut out, &text, &name, saved.path, &mut budget);
        }
    } else {
        inline_text(&mut out, saved.path, saved.name, &mut budget);
    }
    Ok(out)
}

/// The folder an archive unpacks into, beside it.
fn unpacked_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let cut = [".tar.gz", ".tgz", ".tar", ".zip"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name.len(), |ext| name.len() - ext.len());
    let stem = &name[..cut];
    if stem.is_empty() {
        "unpacked".to_owned()
    } else {
        format!("{stem}.unpacked")
    }
}

fn listing(entries: &[Entry], into: &Path) -> String {
    let mut out = format!(
        "\nUnpacked into {} ({} entries):",
        into.display(),
        entries.len()
    );
    for entry in entries {
        let _ = match (entry.dir, entry.is_archive()) {
            (true, _) => write!(out, "\n  {}/", entry.path),
            (false, true) => write!(
                out,
                "\n  {} ({} bytes, an archive: not opened)",
                entry.path, entry.size
            ),
            (false, false) => write!(out, "\n  {} ({} bytes)", entry.path, entry.size),
        };
    }
    out
}

fn is_pdf(saved: &Saved<'_>) -> bool {
    saved.name.to_ascii_lowercase().ends_with(".pdf")
        || saved.mime == Some("application/pdf")
        || std::fs::File::open(saved.path)
            .and_then(|mut file| {
                let mut head = [0u8; 5];
                std::io::Read::read_exact(&mut file, &mut head)?;
                Ok(head == *b"%PDF-")
            })
            .unwrap_or(false)
}

fn pdf_text(path: &Path) -> Result<String, Problem> {
    // The parser panics on some malformed files; a bad PDF is a reply, not a crash.
    let extracted = std::panic::catch_unwind(|| pdf_extract::extract_text(path));
    match extracted {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(error)) => Err(Problem::Unreadable(format!(
            "its PDF text could not be extracted ({error})"
        ))),
        Err(_) => Err(Problem::Unreadable(
            "its PDF text could not be extracted (the file is malformed)".into(),
        )),
    }
}

/// Inlines the file at `path` if it is text; binary files stay a path.
fn inline_text(out: &mut String, path: &Path, name: &str, budget: &mut usize) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    if bytes.contains(&0) {
        return;
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return;
    };
    inline(out, text, name, path, budget);
}

fn inline(out: &mut String, text: &str, name: &str, path: &Path, budget: &mut usize) {
    if *budget == 0 {
        let _ = write!(out, "\n(Not inlined, over the limit: {})", path.display());
        return;
    }
    let mut cut = text.len().min(*budget);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    *budget -= cut;
    let _ = write!(out, "\n\n--- {name} ---\n{}", &text[..cut]);
    if cut < text.len() {
        let _ = write!(
            out,
            "\n--- {name}: cut here after {cut} of {} bytes; the whole file is at {} ---",
            text.len(),
            path.display()
        );
    } else {
        let _ = write!(out, "\n--- end of {name} ---");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_in<'a>(dir: &'a Path, name: &'a str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn document_text_is_inlined_and_binary_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_in(dir.path(), "notes.txt", b"remember the milk\n");
        let text = describe(
            &Saved {
                path: &path,
                name: "notes.txt",
                mime: Some("text/plain"),
            },
            dir.path(),
        )
        .unwrap();
        assert!(text.contains("notes.txt (text/plain, 18 bytes)"), "{text}");
        assert!(
            text.contains("--- notes.txt ---\nremember the milk\n"),
            "{text}"
        );

        let path = saved_in(dir.path(), "blob.bin", &[1, 0, 2, 3]);
        let text = describe(
            &Saved {
                path: &path,
                name: "blob.bin",
                mime: None,
            },
            dir.path(),
        )
        .unwrap();
        assert!(!text.contains("---"), "binary is not inlined: {text}");
        assert!(text.contains(&path.display().to_string()));
    }

    #[test]
    fn document_long_text_is_cut_at_the_limit_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let long = "é".repeat(INLINE_LIMIT);
        let path = saved_in(dir.path(), "long.txt", long.as_bytes());
        let text = describe(
            &Saved {
                path: &path,
                name: "long.txt",
                mime: None,
            },
            dir.path(),
        )
        .unwrap();
        assert!(text.len() < INLINE_LIMIT + 1000, "cut: {}", text.len());
        assert!(text.contains(&format!(
            "cut here after {INLINE_LIMIT} of {} bytes",
            long.len()
        )));
    }

    #[test]
    fn document_names_of_unpacked_folders() {
        assert_eq!(unpacked_name("code.tar.gz"), "code.unpacked");
        assert_eq!(unpacked_name("A.ZIP"), "A.unpacked");
        assert_eq!(unpacked_name(".zip"), "unpacked");
    }

    #[test]
    fn document_pdf_text_is_extracted() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_in(
            dir.path(),
            "report.pdf",
            include_bytes!("../../tests/data/report.pdf"),
        );
        let text = describe(
            &Saved {
                path: &path,
                name: "report.pdf",
                mime: Some("application/pdf"),
            },
            dir.path(),
        )
        .unwrap();
        assert!(
            text.contains("Quarterly revenue grew by 42 percent"),
            "{text}"
        );
        assert!(
            text.contains("report.pdf (text extracted from the PDF)"),
            "{text}"
        );
    }

    #[test]
    fn document_bad_pdf_is_a_problem_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_in(dir.path(), "x.pdf", b"%PDF-1.4 garbage");
        let result = describe(
            &Saved {
                path: &path,
                name: "x.pdf",
                mime: None,
            },
            dir.path(),
        );
        assert!(matches!(result, Err(Problem::Unreadable(_))), "{result:?}");
    }
}
