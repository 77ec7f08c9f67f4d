//! Writing a report: to stdout, or to `--output FILE` through a temporary file in the same
//! directory renamed into place, so that a failed or killed run never leaves a half-written
//! report and an existing file is replaced whole or not at all.
//!
//! A symbolic link is followed (its target is replaced, the link stays), and a path that is
//! not a regular file (`/dev/null`, a FIFO, a terminal) is written directly: renaming over it
//! would replace the device itself.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `text` to the file (atomically, see the module docs) or to stdout.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => write_file(path, text).map_err(|source| Error::Output {
            file: path.display().to_string(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|source| Error::Output {
                    file: "stdout".into(),
                    source,
                })
        }
    }
}

/// Writes `bytes` to the file `path` atomically (see the module docs): shard files.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes).map_err(|source| Error::Output {
        file: path.display().to_string(),
        source,
    })
}

/// Writes several files together: every file goes to its temporary file first, and only
/// when all are written are they renamed into place; on a failure before the renames every
/// temporary file is removed and no target is touched. The error names the file that
/// failed. (A rename that fails after an earlier one succeeded cannot undo that one.)
pub(crate) fn write_files(files: &[(&Path, &[u8])]) -> Result<()> {
    let failed = |path: &Path| {
        let file = path.display().to_string();
        move |source| Error::Output { file, source }
    };
    let mut staged = Vec::with_capacity(files.len());
    for &(path, bytes) in files {
        match stage(path, bytes) {
            Ok(s) => staged.push((s, path, bytes)),
            Err(e) => {
                staged.into_iter().for_each(|(s, _, _)| s.discard());
                return Err(failed(path)(e));
            }
        }
    }
    let mut staged = staged.into_iter();
    while let Some((s, path, bytes)) = staged.next() {
        if let Err(e) = s.commit(bytes) {
            staged.for_each(|(s, _, _)| s.discard());
            return Err(failed(path)(e));
        }
    }
    Ok(())
}

/// Writes `bytes` to a new temporary file next to `path`, flushes it to disk and renames it
/// over `path` (atomic on POSIX file systems); the temporary file is removed on any failure.
fn write_file(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    stage(path, bytes.as_ref())?.commit(bytes.as_ref())
}

/// A file ready to be put in place: a device written through, or a temporary file written
/// and flushed, to be renamed over its target.
enum Staged {
    Device(PathBuf),
    Temp { temp: PathBuf, target: PathBuf },
}

/// Resolves `path` (module docs) and, for a regular file, writes `bytes` to its temporary
/// file (removed again on failure).
fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
    let target = match std::fs::canonicalize(path) {
        Ok(target) if !std::fs::metadata(&target)?.is_file() => {
            return Ok(Staged::Device(target));
        }
        Ok(target) => target,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let (temp, mut file) = create_temp(&target)?;
    match file.write_all(bytes).and_then(|_| file.sync_all()) {
        Ok(()) => Ok(Staged::Temp { temp, target }),
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

impl Staged {
    /// Renames the temporary file over its target (removing it if that fails), or writes
    /// `bytes` to the device.
    fn commit(self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Staged::Device(target) => {
                let mut device = OpenOptions::new().write(true).open(&target)?;
                device.write_all(bytes).and_then(|_| device.flush())
            }
            Staged::Temp { temp, target } => {
                let renamed = std::fs::rename(&temp, &target);
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                renamed
            }
        }
    }

    /// Removes the temporary file; the target stays as it was.
    fn discard(self) {
        if let Staged::Temp { temp, .. } = self {
            let _ = std::fs::remove_file(&temp);
        }
    }
}

/// A new file `.NAME.tmp-PID-N` in the directory of `path` (never an existing file).
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let mut attempt = 0u32;
    loop {
        let temp = dir.join(format!(".{name}.tmp-{}-{attempt}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tailrisk-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_an_existing_file_whole() {
        let dir = scratch_dir("replace");
        let path = dir.join("report.json");
        std::fs::write(&path, "old contents, longer than the new ones").unwrap();
        write_output(Some(&path), "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(&dir), ["report.json"]);
    }

    /// A FIFO (like `/dev/null`, not a regular file) is written through, never replaced.
    #[test]
    fn a_fifo_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = scratch_dir("fifo");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: mkfifo unavailable");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_output(Some(&fifo), "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(entries(&dir), ["pipe"]);
    }

    /// A symbolic link stays a link: its target is replaced whole.
    #[test]
    fn a_symlink_keeps_pointing_at_its_replaced_target() {
        let dir = scratch_dir("link");
        let target = dir.join("target.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_output(Some(&link), "new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(entries(&dir), ["link.json", "target.json"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = scratch_dir("fail");
        // A non-empty directory cannot be replaced by a file.
        let target = dir.join("taken");
        std::fs::create_dir_all(target.join("inside")).unwrap();
        let err = write_output(Some(&target), "text").unwrap_err();
        assert!(matches!(err, Error::Output { .. }), "{err}");
        assert_eq!(entries(&dir), ["taken"]);
        assert_eq!(entries(&target), ["inside"]);
    }

    /// Several files together: when one cannot be written, none is, and no temporary file
    /// is left.
    #[test]
    fn files_written_together_are_all_or_nothing() {
        let dir = scratch_dir("together");
        let first = dir.join("first.json");
        std::fs::write(&first, "old").unwrap();
        let missing = dir.join("no-such-dir").join("second.json");
        let err = write_files(&[(&first, b"new"), (&missing, b"new")]).unwrap_err();
        assert!(err.to_string().contains("second.json"), "{err}");
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "old");
        assert_eq!(entries(&dir), ["first.json"]);
        let second = dir.join("second.json");
        write_files(&[(&first, b"one"), (&second, b"two")]).unwrap();
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "two");
        assert_eq!(entries(&dir), ["first.json", "second.json"]);
    }
}
