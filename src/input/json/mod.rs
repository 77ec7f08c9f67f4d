//! The one JSON reader of every input, on serde: a document is read in two passes by
//! `serde_json`, with `serde_path_to_error` tracking the field path of every error.
//!
//! 1. **Syntax** ([`Source::parse`] first walks the whole document): every syntax error
//!    names its line and column; duplicate keys are errors in any object, not "last one
//!    wins"; `NaN`, `Infinity`, `-Infinity` and numbers beyond f64 (`1e400`) are named as
//!    non-finite *at their field* ("must be a finite number") rather than as a syntax error
//!    somewhere in the file.
//! 2. **Shape** (serde derive into the file's types, `deny_unknown_fields` on every
//!    struct, validated newtypes of [`super::bounds`] for ranges): type errors, unknown and
//!    missing fields name the field path.
//!
//! Errors show the value as the user wrote it: its text is found again in the document by
//! the error's path ([`Source::fail`]), so checks made after deserialisation (strictly
//! increasing expiries, a symmetric matrix) name their value as exactly as serde's own do.

mod messages;
mod walk;

use std::fmt;

use serde::Deserialize;
use serde_json::error::Category;

use crate::error::{Error, Result};
use messages::{between, non_finite_token, syntax_message, type_mismatch, without_position};
use walk::{Syntax, locate};

/// Deepest nesting of arrays and objects accepted (serde_json's recursion limit).
pub(crate) const MAX_DEPTH: usize = 128;
/// Longest value shown in an error message, in characters.
const MAX_SHOWN: usize = 80;

/// One step of a field path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Where a value is in a document, shown as `assets.ETH.vol.implied_vols[1][3]` (keys that
/// are not plain words quoted: `assets["my field"]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Path(Vec<Segment>);

impl Path {
    /// The document itself.
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// The field `key` of the object here.
    pub fn key(&self, key: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_string()));
        p
    }

    /// The element `i` of the array here.
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    fn tracked(path: &serde_path_to_error::Path) -> Path {
        use serde_path_to_error::Segment as S;
        Path(
            path.iter()
                .filter_map(|s| match s {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } => Some(Segment::Key(key.clone())),
                    S::Enum { .. } | S::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) if is_plain(k) && i == 0 => f.write_str(k)?,
                Segment::Key(k) if is_plain(k) => write!(f, ".{k}")?,
                Segment::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The text of one input document and its file name: what every error names.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
    /// What the document must be, for errors about its top level ("an object").
    root: &'static str,
}

impl<'a> Source<'a> {
    /// A document that must be `root` ("an object", "an array of scenarios"); a leading
    /// UTF-8 byte-order mark is ignored, an empty file is an error.
    pub fn new(text: &'a str, file: &'a str, root: &'static str) -> Result<Self> {
        let text = strip_bom(text);
        if text.trim().is_empty() {
            return Err(Error::input(
                file,
                "(file)",
                "(empty)",
                format!("the file is empty (expected {})", json_kind(root)),
            ));
        }
        Ok(Source { file, text, root })
    }

    /// Reads the document as `T`: syntax first, then shape (module docs).
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T> {
        let mut de = serde_json::Deserializer::from_str(self.text);
        serde_path_to_error::deserialize::<_, Syntax>(&mut de).map_err(|e| self.translate(e))?;
        de.end().map_err(|e| self.syntax_error(&e, &Path::root()))?;
        let mut de = serde_json::Deserializer::from_str(self.text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| self.translate(e))
    }

    /// An input error at `path`, showing the value written there.
    pub fn fail(&self, path: &Path, message: impl Into<String>) -> Error {
        Error::input(self.file, path.to_string(), self.written(path), message)
    }

    /// The value at `path` as written, shortened for an error message.
    pub fn written(&self, path: &Path) -> String {
        match locate(self.text, &path.0) {
            Some(text) => shown(text),
            None => "(missing)".to_string(),
        }
    }

    /// A required field that is absent.
    pub fn missing(&self, path: &Path) -> Error {
        let message = match path.0.last() {
            Some(Segment::Key(key)) => format!("required field `{key}` is missing"),
            _ => "a required value is missing".to_string(),
        };
        Error::input(self.file, path.to_string(), "(missing)", message)
    }

    fn translate(&self, e: serde_path_to_error::Error<serde_json::Error>) -> Error {
        let path = Path::tracked(e.path());
        let inner = e.into_inner();
        match inner.classify() {
            Category::Data => self.data_error(&inner, path),
            Category::Syntax | Category::Eof | Category::Io => self.syntax_error(&inner, &path),
        }
    }

    /// Type errors, unknown, missing and duplicate fields, and the validated newtypes' own
    /// messages, at the field they concern.
    fn data_error(&self, e: &serde_json::Error, path: Path) -> Error {
        let message = without_position(e);
        if let Some(field) = between(&message, "missing field `", "`") {
            return self.missing(&path.key(field));
        }
        if let Some(field) = between(&message, "duplicate field `", "`") {
            let at = path.key(field);
            return self.fail(&at, "duplicate field: each field may be given once");
        }
        let message = match message.strip_prefix("invalid type: ") {
            Some(rest) => type_mismatch(rest),
            None => message,
        };
        self.fail(&path, message)
    }

    /// Syntax errors at their line and column; non-finite numbers at their field.
    fn syntax_error(&self, e: &serde_json::Error, path: &Path) -> Error {
        // serde_json places an end-of-file error on the last character read.
        let at = match e.classify() {
            Category::Eof => self.text.len(),
            _ => byte_offset(self.text, e.line(), e.column()),
        };
        if let Some(token) = non_finite_token(self.text, at) {
            return if path.0.is_empty() {
                Error::input(
                    self.file,
                    path.to_string(),
                    token,
                    format!("expected {}, found a number", self.root),
                )
            } else {
                Error::input(
                    self.file,
                    path.to_string(),
                    token,
                    "must be a finite number",
                )
            };
        }
        let (line, column) = line_column(self.text, at);
        let rest = &self.text[at..];
        let value = match rest.lines().next() {
            None => "end of file".to_string(),
            Some(line) if line.trim().is_empty() => "end of line".to_string(),
            Some(line) => shown(&line.chars().take(24).collect::<String>()),
        };
        Error::input(
            self.file,
            format!("line {line}, column {column}"),
            value,
            format!(
                "invalid JSON: {}",
                syntax_message(&without_position(e), self.text, at)
            ),
        )
    }
}

/// "an object" → "a JSON object", for the empty-file message.
fn json_kind(root: &str) -> String {
    // "an object" → "a JSON object": the article goes with "JSON".
    match root.split_once(' ') {
        Some(("a" | "an", rest)) => format!("a JSON {rest}"),
        Some((article, rest)) => format!("{article} JSON {rest}"),
        None => root.to_string(),
    }
}

/// Byte offset of serde_json's (1-based line, 1-based column in bytes), on a char boundary.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    floor_char_boundary(text, line_start + column.saturating_sub(1))
}

/// Strips a leading UTF-8 byte-order mark, which editors on Windows like to write.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// 1-based line and column (in characters) of byte offset `at`.
pub(crate) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = floor_char_boundary(text, at);
    let before = &text[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() + 1)
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `text` as an error shows it: whitespace runs collapsed, at most [`MAX_SHOWN`] characters.
pub(crate) fn shown(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() && !text.is_empty() {
        return format!("{text:?}");
    }
    let mut chars = collapsed.chars();
    let head: String = chars.by_ref().take(MAX_SHOWN).collect();
    if chars.next().is_some() {
        head + "…"
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_odd_keys() {
        let p = Path::root().key("assets").key("BTC");
        assert_eq!(p.to_string(), "assets.BTC");
        assert_eq!(p.key("a b").to_string(), "assets.BTC[\"a b\"]");
        assert_eq!(Path::root().index(0).key("name").to_string(), "[0].name");
        assert_eq!(Path::root().to_string(), "(top level)");
    }

    #[test]
    fn values_are_found_by_path() {
        let text = r#"{"a": {"b": [1, {"c": "x y"}], "b": [2]}, "d": 1e400}"#;
        let at = |p: Path| locate(text, &p.0);
        assert_eq!(at(Path::root().key("a").key("b").index(0)), Some("2"));
        assert_eq!(at(Path::root().key("d")), Some("1e400"));
        assert_eq!(at(Path::root().key("e")), None);
    }

    /// Numbers are read correctly rounded, as Rust's own parser reads them (serde_json's
    /// default fast path can be one unit in the last place off: `float_roundtrip` is on).
    #[test]
    fn numbers_are_correctly_rounded() {
        let written = [
            "31.790001257079606",
            "0.1",
            "2.2250738585072014e-308",
            "91250.00000000001",
            "1.7976931348623157e308",
            "0.30000000000000004",
            "5e-324",
        ];
        let mut x = 0.123_456_789_f64;
        let mut all: Vec<String> = written.iter().map(|w| w.to_string()).collect();
        for _ in 0..2000 {
            x = (x * 1103.515245 + 0.12345).fract() * 1e6;
            all.push(format!("{x}"));
            all.push(format!("{:e}", x * 1e-12));
        }
        let text = format!("[{}]", all.join(","));
        let src = Source::new(&text, "n.json", "an array").unwrap();
        let read: Vec<f64> = src.parse().unwrap();
        for (w, v) in all.iter().zip(read) {
            assert_eq!(v.to_bits(), w.parse::<f64>().unwrap().to_bits(), "{w}");
        }
    }

    #[test]
    fn shown_values_are_short() {
        assert_eq!(shown("a\n   b"), "a b");
        assert_eq!(shown(&"x".repeat(100)).chars().count(), MAX_SHOWN + 1);
        assert_eq!(shown("  "), "\"  \"");
    }

    #[test]
    fn non_finite_tokens_are_recognised() {
        assert_eq!(non_finite_token("[1e400]", 5).as_deref(), Some("1e400"));
        assert_eq!(
            non_finite_token("[-Infinity]", 2).as_deref(),
            Some("-Infinity")
        );
        assert_eq!(non_finite_token("[1.5]", 3), None);
    }
}
