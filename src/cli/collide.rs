//! Outputs that would overwrite each other or an input: `--output x --report x` left only
//! the page, and `--report portfolio.json` replaced the book it was computed from. Both are
//! usage errors (exit 2) before any file is read or written.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where `path` leads: the canonical file when it exists, else the canonical directory
/// joined with its name (an output not written yet); `None` when neither resolves (the
/// write then fails on its own, exit 73), and for a device or FIFO (`/dev/null`), which is
/// written through rather than replaced and may be named twice.
fn identity(path: &Path) -> Option<PathBuf> {
    if let Ok(file) = std::fs::canonicalize(path) {
        return std::fs::metadata(&file).ok()?.is_file().then_some(file);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir).ok().map(|d| d.join(name))
}

/// A usage error when two of `outputs`, or an output and one of `inputs`, are the same file
/// (each given as its flag and its path; absent flags are `None`).
pub fn distinct_outputs(
    outputs: &[(&str, Option<&Path>)],
    inputs: &[(&str, Option<&Path>)],
) -> Result<()> {
    let given = |list: &[(&str, Option<&Path>)]| -> Vec<(String, PathBuf, PathBuf)> {
        list.iter()
            .filter_map(|&(flag, path)| {
                let path = path?;
                Some((flag.to_string(), path.to_path_buf(), identity(path)?))
            })
            .collect()
    };
    let (outs, ins) = (given(outputs), given(inputs));
    for (i, (flag, path, id)) in outs.iter().enumerate() {
        let earlier = outs[..i].iter().map(|o| (o, "output"));
        if let Some(((other, _, _), kind)) = earlier
            .chain(ins.iter().map(|o| (o, "input")))
            .find(|((_, _, other), _)| other == id)
        {
            return Err(Error::Usage(format!(
                "{flag} {} is the same file as the {kind} {other}: writing it would replace \
                 that {kind}; give another path",
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_by_two_names_collides() {
        let dir = std::env::temp_dir().join(format!("tailrisk-collide-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let book = dir.join("book.json");
        std::fs::write(&book, "{}").unwrap();
        let dotted = dir.join(".").join("book.json");
        let fresh = dir.join("out.json");
        let e = distinct_outputs(
            &[("--report", Some(&dotted))],
            &[("--portfolio", Some(&book))],
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::Usage(_)) && e.to_string().contains("--portfolio"),
            "{e}"
        );
        let e = distinct_outputs(
            &[("--output", Some(&fresh)), ("--report", Some(&fresh))],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("--output"), "{e}");
        distinct_outputs(
            &[("--output", Some(&fresh)), ("--report", None)],
            &[("--portfolio", Some(&book))],
        )
        .expect("distinct files");
        // A device is written through, not replaced: naming it twice is no collision.
        let null = Path::new("/dev/null");
        if null.exists() {
            distinct_outputs(&[("--output", Some(null)), ("--report", Some(null))], &[])
                .expect("/dev/null twice");
        }
    }
}
