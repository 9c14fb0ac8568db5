//! Unpacking zip, tar and tar.gz archives a user sent, into the item's
//! folder and nowhere else. Every entry is checked before anything is
//! written (names, links, counts, sizes), and sizes are counted again while
//! writing, since an archive's headers may lie.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// More entries than this and the archive is refused.
pub const MAX_ENTRIES: usize = 1000;
/// More bytes than this, unpacked, and the archive is refused.
pub const MAX_UNPACKED: u64 = 100 * 1024 * 1024;
/// Unpacked bytes per archive byte above this and the archive is refused (a bomb).
pub const MAX_RATIO: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    TarGz,
}

impl Kind {
    /// The kind a file name says, if it names an archive Baton opens.
    pub fn of_name(name: &str) -> Option<Kind> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".zip") {
            Some(Kind::Zip)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Kind::TarGz)
        } else if name.ends_with(".tar") {
            Some(Kind::Tar)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::TarGz => "tar.gz",
        }
    }
}

/// Why an archive was not unpacked; worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the entry {0:?} points outside the archive (an absolute path or ..)")]
    Escapes(String),
    #[error("the entry {0:?} is a symbolic link")]
    Symlink(String),
    #[error("the entry {0:?} is a hard link")]
    Hardlink(String),
    #[error("the entry {0:?} is neither a file nor a folder")]
    Special(String),
    #[error("the entry {0:?} appears twice")]
    Twice(String),
    #[error("it holds more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("it unpacks to more than 100 MB")]
    TooLarge,
    #[error("it unpacks to over {MAX_RATIO} times its own size (a zip bomb?)")]
    Ratio,
    #[error("it is not a readable {kind} archive: {why}")]
    Unreadable { kind: &'static str, why: String },
}

/// One entry as the prompt lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the archive's folder, with `/` between parts.
    pub path: String,
    pub size: u64,
    pub dir: bool,
}

impl Entry {
    /// Whether the entry is itself an archive (listed, never opened).
    pub fn is_archive(&self) -> bool {
        !self.dir && Kind::of_name(&self.path).is_some()
    }
}

/// Unpacks `archive` into `into` (created; removed again if refused).
pub fn extract(archive: &Path, kind: Kind, into: &Path) -> Result<Vec<Entry>, Refusal> {
    let packed = fs::metadata(archive)
        .map_err(|e| unreadable(kind, e))?
        .len()
        .max(1);
    let entries = match kind {
        Kind::Zip => scan_zip(archive)?,
        Kind::Tar | Kind::TarGz => scan_tar(archive, kind)?,
    };
    let declared: u64 = entries.iter().map(|(entry, _)| entry.size).sum();
    check_totals(entries.len(), declared, packed)?;
    fs::create_dir_all(into).map_err(|e| unreadable(kind, e))?;
    let written = match kind {
        Kind::Zip => write_zip(archive, into, packed),
        Kind::Tar | Kind::TarGz => write_tar(archive, kind, into, packed),
    };
    match written {
        Ok(()) => Ok(entries.into_iter().map(|(entry, _)| entry).collect()),
        Err(refusal) => {
            let _ = fs::remove_dir_all(into);
            Err(refusal)
        }
    }
}

fn check_totals(count: usize, unpacked: u64, packed: u64) -> Result<(), Refusal> {
    if count > MAX_ENTRIES {
        return Err(Refusal::TooManyEntries);
    }
    if unpacked > MAX_UNPACKED {
        return Err(Refusal::TooLarge);
    }
    if unpacked / packed > MAX_RATIO {
        return Err(Refusal::Ratio);
    }
    Ok(())
}

fn unreadable(kind: Kind, why: impl std::fmt::Display) -> Refusal {
    Refusal::Unreadable {
        kind: kind.as_str(),
        why: why.to_string(),
    }
}

/// The entry's name as a safe relative path, `None` for the archive's root.
pub fn safe_path(name: &str) -> Result<Option<PathBuf>, Refusal> {
    let escapes = || Refusal::Escapes(name.to_owned());
    // Zip tools on Windows write backslashes; they separate folders there.
    let normalised = name.replace('\\', "/");
    if normalised.starts_with('/') || normalised.contains('\0') {
        return Err(escapes());
    }
    let mut path = PathBuf::new();
    for component in Path::new(&normalised).components() {
        match component {
            Component::Normal(part) => {
                // A drive prefix ("C:") is an absolute path on Windows.
                if part.to_string_lossy().contains(':') {
                    return Err(escapes());
                }
                path.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(escapes());
            }
        }
    }
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

fn listed(path: &Path, size: u64, dir: bool) -> Entry {
    Entry {
        path: path.to_string_lossy().replace('\\', "/"),
        size,
        dir,
    }
}

fn scan_zip(archive: &Path) -> Result<Vec<(Entry, PathBuf)>, Refusal> {
    let kind = Kind::Zip;
    let file = File::open(archive).map_err(|e| unreadable(kind, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(kind, e))?;
    if zip.len() > MAX_ENTRIES {
        return Err(Refusal::TooManyEntries);
    }
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(|e| unreadable(kind, e))?;
        let name = entry.name().map_err(|e| unreadable(kind, e))?.into_owned();
        if entry.is_symlink() {
            return Err(Refusal::Symlink(name));
        }
        let Some(path) = safe_path(&name)? else {
            continue;
        };
        if !seen.insert(path.clone()) && !entry.is_dir() {
            return Err(Refusal::Twice(name));
        }
        entries.push((listed(&path, entry.size(), entry.is_dir()), path));
    }
    Ok(entries)
}

fn write_zip(archive: &Path, into: &Path, packed: u64) -> Result<(), Refusal> {
    let kind = Kind::Zip;
    let file = File::open(archive).map_err(|e| unreadable(kind, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(kind, e))?;
    let mut budget = Budget::new(packed);
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| unreadable(kind, e))?;
        let name = entry.name().map_err(|e| unreadable(kind, e))?.into_owned();
        let Some(path) = safe_path(&name)? else {
            continue;
        };
        if entry.is_dir() {
            make_dir(into, &path, kind)?;
        } else {
            write_file(into, &path, &mut entry, &mut budget, kind, &name)?;
        }
    }
    Ok(())
}

fn tar_reader(archive: &Path, kind: Kind) -> Result<tar::Archive<Box<dyn Read>>, Refusal> {
    let file = File::open(archive).map_err(|e| unreadable(kind, e))?;
    let reader: Box<dyn Read> = match kind {
        Kind::TarGz => Box::new(flate2::read::GzDecoder::new(io::BufReader::new(file))),
        _ => Box::new(io::BufReader::new(file)),
    };
    Ok(tar::Archive::new(reader))
}

/// The entry's checked path, `None` for the root; refuses links and devices.
fn tar_path<R: Read>(entry: &tar::Entry<'_, R>, kind: Kind) -> Result<Option<PathBuf>, Refusal> {
    let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    match entry.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Directory => {}
        tar::EntryType::Symlink => return Err(Refusal::Symlink(name)),
        tar::EntryType::Link => return Err(Refusal::Hardlink(name)),
        tar::EntryType::GNUSparse => {
            return Err(unreadable(kind, format!("{name:?} is a sparse file")));
        }
        _ => return Err(Refusal::Special(name)),
    }
    safe_path(&name)
}

fn scan_tar(archive: &Path, kind: Kind) -> Result<Vec<(Entry, PathBuf)>, Refusal> {
    let mut tar = tar_reader(archive, kind)?;
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut declared = 0u64;
    for entry in tar.entries().map_err(|e| unreadable(kind, e))? {
        let entry = entry.map_err(|e| unreadable(kind, e))?;
        let Some(path) = tar_path(&entry, kind)? else {
            continue;
        };
        let dir = entry.header().entry_type() == tar::EntryType::Directory;
        if !seen.insert(path.clone()) && !dir {
            return Err(Refusal::Twice(path.to_string_lossy().into_owned()));
        }
        declared = declared.saturating_add(entry.size());
        // Stop reading a hostile archive as soon as it is one.
        if entries.len() >= MAX_ENTRIES {
            return Err(Refusal::TooManyEntries);
        }
        if declared > MAX_UNPACKED {
            return Err(Refusal::TooLarge);
        }
        entries.push((listed(&path, entry.size(), dir), path));
    }
    Ok(entries)
}

fn write_tar(archive: &Path, kind: Kind, into: &Path, packed: u64) -> Result<(), Refusal> {
    let mut tar = tar_reader(archive, kind)?;
    let mut budget = Budget::new(packed);
    for entry in tar.entries().map_err(|e| unreadable(kind, e))? {
        let mut entry = entry.map_err(|e| unreadable(kind, e))?;
        let Some(path) = tar_path(&entry, kind)? else {
            continue;
        };
        let name = path.to_string_lossy().into_owned();
        if entry.header().entry_type() == tar::EntryType::Directory {
            make_dir(into, &path, kind)?;
        } else {
            write_file(into, &path, &mut entry, &mut budget, kind, &name)?;
        }
    }
    Ok(())
}

/// The bytes still allowed, counted as they are written.
struct Budget {
    written: u64,
    packed: u64,
}

impl Budget {
    fn new(packed: u64) -> Self {
        Budget { written: 0, packed }
    }

    fn spend(&mut self, bytes: u64) -> Result<(), Refusal> {
        self.written += bytes;
        if self.written > MAX_UNPACKED {
            return Err(Refusal::TooLarge);
        }
        if self.written / self.packed > MAX_RATIO {
            return Err(Refusal::Ratio);
        }
        Ok(())
    }
}

fn make_dir(into: &Path, path: &Path, kind: Kind) -> Result<(), Refusal> {
    fs::create_dir_all(into.join(path)).map_err(|e| unreadable(kind, e))
}

fn write_file(
    into: &Path,
    path: &Path,
    reader: &mut impl Read,
    budget: &mut Budget,
    kind: Kind,
    name: &str,
) -> Result<(), Refusal> {
    let target = into.join(path);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| unreadable(kind, e))?;
    }
    // create_new never follows or replaces what is already there.
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Refusal::Twice(name.to_owned()),
            _ => unreadable(kind, e),
        })?;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut chunk).map_err(|e| unreadable(kind, e))?;
        if read == 0 {
            return Ok(());
        }
        budget.spend(read as u64)?;
        out.write_all(&chunk[..read])
            .map_err(|e| unreadable(kind, e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn regular(builder: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // set_path refuses "..": write the raw name as a hostile tool would.
        let field = &mut header.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, bytes).unwrap();
    }

    fn link(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, to: &str) {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(kind);
        header.set_path(name).unwrap();
        header.set_link_name(to).unwrap();
        header.set_cksum();
        builder.append(&header, io::empty()).unwrap();
    }

    /// Unpacks `bytes` saved as `name` into `<dir>/item/out`; `dir` is the "outside".
    fn unpack(name: &str, bytes: &[u8]) -> (tempfile::TempDir, Result<Vec<Entry>, Refusal>) {
        let dir = tempfile::tempdir().unwrap();
        let item = dir.path().join("item");
        fs::create_dir_all(&item).unwrap();
        let saved = item.join(name);
        fs::write(&saved, bytes).unwrap();
        let result = extract(&saved, Kind::of_name(name).unwrap(), &item.join("out"));
        (dir, result)
    }

    /// Every file under `dir`, relative to it.
    fn files_under(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(at) = stack.pop() {
            for entry in fs::read_dir(&at).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    found.push(path.strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn archive_kinds_are_told_by_name() {
        assert_eq!(Kind::of_name("a.ZIP"), Some(Kind::Zip));
        assert_eq!(Kind::of_name("a.tar"), Some(Kind::Tar));
        assert_eq!(Kind::of_name("a.tar.gz"), Some(Kind::TarGz));
        assert_eq!(Kind::of_name("a.tgz"), Some(Kind::TarGz));
        assert_eq!(Kind::of_name("a.gz"), None);
        assert_eq!(Kind::of_name("zip"), None);
    }

    #[test]
    fn archive_safe_paths_refuse_escapes_and_keep_the_rest() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a/..",
            "C:/x",
            "..\\x",
            "a\0b",
        ] {
            assert!(
                matches!(safe_path(bad), Err(Refusal::Escapes(_))),
                "{bad:?} is refused"
            );
        }
        assert_eq!(
            safe_path("./a/b.txt").unwrap(),
            Some(PathBuf::from("a/b.txt"))
        );
        assert_eq!(
            safe_path("dir\\f.txt").unwrap(),
            Some(PathBuf::from("dir/f.txt"))
        );
        assert_eq!(safe_path("./").unwrap(), None);
    }

    #[test]
    fn archive_zip_is_unpacked_and_listed() {
        let bytes = zip_of(&[("src/main.rs", b"fn main() {}\n"), ("inner.zip", b"PK")]);
        let (dir, result) = unpack("code.zip", &bytes);
        let entries = result.expect("a harmless zip unpacks");
        assert_eq!(
            entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["src/main.rs", "inner.zip"]
        );
        assert!(entries[1].is_archive() && !entries[0].is_archive());
        let out = dir.path().join("item/out");
        assert_eq!(
            fs::read_to_string(out.join("src/main.rs")).unwrap(),
            "fn main() {}\n"
        );
        assert_eq!(files_under(&out), ["inner.zip", "src/main.rs"]);
    }

    #[test]
    fn archive_zip_slip_writes_nothing_outside() {
        let bytes = zip_of(&[("ok.txt", b"fine"), ("../../evil.txt", b"gotcha")]);
        let (dir, result) = unpack("slip.zip", &bytes);
        assert_eq!(result, Err(Refusal::Escapes("../../evil.txt".into())));
        assert_eq!(
            files_under(dir.path()),
            ["item/slip.zip"],
            "nothing written"
        );
    }

    #[test]
    fn archive_zip_bomb_is_refused_by_its_ratio() {
        let zeros = vec![0u8; 20 * 1024 * 1024];
        let bytes = zip_of(&[("zeros.bin", &zeros)]);
        let (dir, result) = unpack("bomb.zip", &bytes);
        assert_eq!(result, Err(Refusal::Ratio));
        assert_eq!(files_under(dir.path()), ["item/bomb.zip"]);
    }

    #[test]
    fn archive_zip_symlink_is_refused() {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        out.add_symlink(
            "link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let bytes = out.finish().unwrap().into_inner();
        let (dir, result) = unpack("link.zip", &bytes);
        assert_eq!(result, Err(Refusal::Symlink("link".into())));
        assert_eq!(files_under(dir.path()), ["item/link.zip"]);
    }

    #[test]
    fn archive_too_many_entries_is_refused() {
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}.txt")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let (_dir, result) = unpack("many.zip", &zip_of(&files));
        assert_eq!(result, Err(Refusal::TooManyEntries));
        let tar = tar_with(|b| {
            for name in &names {
                regular(b, name, b"x");
            }
        });
        let (_dir, result) = unpack("many.tar", &tar);
        assert_eq!(result, Err(Refusal::TooManyEntries));
    }

    #[test]
    fn archive_tar_and_tar_gz_are_unpacked() {
        let tar = tar_with(|b| {
            regular(b, "notes/a.txt", b"alpha\n");
            regular(b, "b.md", b"# beta\n");
        });
        let (dir, result) = unpack("t.tar", &tar);
        let entries = result.expect("a harmless tar unpacks");
        assert_eq!(entries.len(), 2);
        assert_eq!(
            fs::read_to_string(dir.path().join("item/out/notes/a.txt")).unwrap(),
            "alpha\n"
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let (dir, result) = unpack("t.tar.gz", &gz.finish().unwrap());
        assert_eq!(result.unwrap(), entries);
        assert_eq!(
            files_under(&dir.path().join("item/out")),
            ["b.md", "notes/a.txt"]
        );
    }

    #[test]
    fn archive_tar_escapes_and_links_write_nothing_outside() {
        let slip = tar_with(|b| {
            regular(b, "fine.txt", b"ok");
            regular(b, "../evil.txt", b"gotcha");
        });
        let (dir, result) = unpack("slip.tar", &slip);
        assert_eq!(result, Err(Refusal::Escapes("../evil.txt".into())));
        assert_eq!(files_under(dir.path()), ["item/slip.tar"]);

        // A symlink out, then a file written through it: the classic two-step escape.
        let symlink = tar_with(|b| {
            link(b, tar::EntryType::Symlink, "up", "..");
            regular(b, "up/evil.txt", b"gotcha");
        });
        let (dir, result) = unpack("sym.tar", &symlink);
        assert_eq!(result, Err(Refusal::Symlink("up".into())));
        assert_eq!(files_under(dir.path()), ["item/sym.tar"]);

        let hard = tar_with(|b| link(b, tar::EntryType::Link, "h", "/etc/passwd"));
        let (_dir, result) = unpack("hard.tar", &hard);
        assert_eq!(result, Err(Refusal::Hardlink("h".into())));
    }

    #[test]
    fn archive_tar_gz_bomb_is_refused() {
        let zeros = vec![0u8; 30 * 1024 * 1024];
        let tar = tar_with(|b| regular(b, "zeros.bin", &zeros));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&tar).unwrap();
        let (dir, result) = unpack("bomb.tar.gz", &gz.finish().unwrap());
        assert_eq!(result, Err(Refusal::Ratio));
        assert_eq!(files_under(dir.path()), ["item/bomb.tar.gz"]);
    }

    #[test]
    fn archive_garbage_is_unreadable_not_a_panic() {
        let (_dir, result) = unpack("junk.zip", b"not a zip at all");
        assert!(matches!(
            result,
            Err(Refusal::Unreadable { kind: "zip", .. })
        ));
    }
}
