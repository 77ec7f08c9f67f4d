//! A small JSON reader that keeps what `serde_json::Value` loses and error reports need:
//! the order of object fields (assets are simulated in file order), duplicate keys (an error,
//! not "last one wins"), and every value's text as written (its byte span), so that each
//! error names the exact path (`assets.ETH.vol.implied_vols[1][3]`) and the value.
//!
//! It reads RFC 8259 JSON, with a leading UTF-8 byte-order mark ignored, nesting limited to
//! [`MAX_DEPTH`] levels, and two deliberate extensions: the literals `NaN`, `Infinity` and
//! `-Infinity` are read as non-finite numbers, as are numbers beyond f64 (`1e400`), so that
//! they are rejected by the field's own check ("must be a finite number", with its path)
//! rather than as a syntax error somewhere in the file.

use std::ops::Range;

use crate::error::{Error, Result};

/// Deepest nesting of arrays and objects accepted (serde_json's default limit).
pub(crate) const MAX_DEPTH: usize = 128;
/// Longest value shown in an error message, in characters.
const MAX_SHOWN: usize = 80;

/// A JSON value and the bytes of the document it was read from.
#[derive(Debug)]
pub(crate) struct Json {
    pub kind: Kind,
    pub span: Range<usize>,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    /// May be NaN or infinite (see the module docs); the text is in the span.
    Number(f64),
    String(String),
    Array(Vec<Json>),
    /// Fields in file order, duplicates kept (rejected when the object is read).
    Object(Vec<(String, Json)>),
}

/// A parsed document: the file name, its text and the root value.
pub(crate) struct Doc<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub root: Json,
}

/// Strips a leading UTF-8 byte-order mark, which editors on Windows like to write.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parses `text` as one JSON document. Syntax errors name the line and column.
pub(crate) fn parse<'a>(text: &'a str, file: &'a str) -> Result<Doc<'a>> {
    let text = strip_bom(text);
    if text.trim().is_empty() {
        return Err(Error::input(
            file,
            "(file)",
            "(empty)",
            "the file is empty (expected a JSON object)",
        ));
    }
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        file,
    };
    let root = parser.value(0)?;
    parser.skip_whitespace();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error(parser.pos, "unexpected text after the end of the document"));
    }
    Ok(Doc { file, text, root })
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
    let mut out = String::new();
    let mut count = 0;
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        for c in word.chars() {
            if count == MAX_SHOWN {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
        if words.peek().is_some() {
            if count == MAX_SHOWN {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
        }
    }
    if out.is_empty() && !text.is_empty() {
        return format!("{text:?}");
    }
    out
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: &str) -> Error {
        let (line, column) = line_column(self.text, at);
        let at = floor_char_boundary(self.text, at);
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
            format!("invalid JSON: {message}"),
        )
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json> {
        self.skip_whitespace();
        let start = self.pos;
        let kind = match self.peek() {
            None => return Err(self.error(start, "unexpected end of file, expected a value")),
            Some(b'{' | b'[') if depth >= MAX_DEPTH => {
                return Err(self.error(
                    start,
                    &format!("arrays and objects nested deeper than {MAX_DEPTH} levels"),
                ));
            }
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'N') => self.literal("NaN", Kind::Number(f64::NAN))?,
            Some(b'I') => self.literal("Infinity", Kind::Number(f64::INFINITY))?,
            Some(b'-') if self.bytes[start + 1..].starts_with(b"Infinity") => {
                self.pos += 1;
                self.literal("Infinity", Kind::Number(f64::NEG_INFINITY))?
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error(start, "expected a value")),
        };
        Ok(Json {
            kind,
            span: start..self.pos,
        })
    }

    fn literal(&mut self, word: &str, kind: Kind) -> Result<Kind> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error(self.pos, "expected a value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Kind> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.digits() {
            0 => return Err(self.error(self.pos, "expected a digit")),
            n if n > 1 && self.bytes[int_start] == b'0' => {
                return Err(self.error(int_start, "a number must not have a leading zero"));
            }
            _ => {}
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error(self.pos, "expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(self.pos, "expected a digit in the exponent"));
            }
        }
        // Rust's float grammar includes JSON's; out-of-range values become ±inf or 0.
        match self.text[start..self.pos].parse::<f64>() {
            Ok(v) => Ok(Kind::Number(v)),
            Err(_) => Err(self.error(start, "malformed number")),
        }
    }

    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let segment = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Stops only at ASCII bytes, so both ends are char boundaries.
            out.push_str(&self.text[segment..self.pos]);
            match self.peek() {
                None => return Err(self.error(open, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => {
                    return Err(self.error(
                        self.pos,
                        "control character in a string (escape it, e.g. \\n)",
                    ));
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char> {
        let at = self.pos - 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let high = self.hex4(at)?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error(at, "unpaired surrogate in a \\u escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4(at)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.error(at, "unpaired surrogate in a \\u escape"));
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                return char::from_u32(code)
                    .ok_or_else(|| self.error(at, "unpaired surrogate in a \\u escape"));
            }
            _ => return Err(self.error(at, "invalid escape in a string")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self, at: usize) -> Result<u32> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match digits {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error(at, "a \\u escape needs four hex digits")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                None => {
                    return Err(self.error(self.pos, "unexpected end of file, expected ',' or ']'"));
                }
                Some(_) => return Err(self.error(self.pos, "expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind> {
        self.pos += 1;
        let mut fields = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Kind::Object(fields));
        }
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'"') => {}
                None => {
                    return Err(
                        self.error(self.pos, "unexpected end of file, expected a field name")
                    );
                }
                Some(_) => {
                    return Err(self.error(self.pos, "expected a field name in double quotes"));
                }
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error(self.pos, "expected ':' after the field name"));
            }
            self.pos += 1;
            let value = self.value(depth)?;
            fields.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(fields));
                }
                None => {
                    return Err(self.error(self.pos, "unexpected end of file, expected ',' or '}'"));
                }
                Some(_) => return Err(self.error(self.pos, "expected ',' or '}'")),
            }
        }
    }
}

/// The path of a field of `parent`: `parent.key`, or `parent["odd key"]` when the key is not
/// a plain word.
fn field_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// A value of a document and its path, with the typed reads that validation needs. Each read
/// fails with an [`Error::Input`] naming the file, the path and the value as written.
#[derive(Clone)]
pub(crate) struct At<'d> {
    doc: &'d Doc<'d>,
    node: &'d Json,
    path: String,
}

impl<'d> Doc<'d> {
    pub fn root(&'d self) -> At<'d> {
        At {
            doc: self,
            node: &self.root,
            path: String::new(),
        }
    }
}

impl<'d> At<'d> {
    /// The path, as errors name it.
    pub fn path(&self) -> String {
        if self.path.is_empty() {
            "(top level)".to_string()
        } else {
            self.path.clone()
        }
    }

    /// The value as written, shortened for an error message.
    pub fn written(&self) -> String {
        shown(&self.doc.text[self.node.span.clone()])
    }

    /// An input error about this value.
    pub fn fail(&self, message: impl Into<String>) -> Error {
        Error::input(self.doc.file, self.path(), self.written(), message)
    }

    /// An input error about this field that shows `value` (e.g. the field's key).
    pub fn fail_showing(&self, value: &str, message: impl Into<String>) -> Error {
        Error::input(self.doc.file, self.path(), shown(value), message)
    }

    fn expected(&self, what: &str) -> Error {
        let got = match &self.node.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        };
        self.fail(format!("expected {what}, found {got}"))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.node.kind, Kind::Null)
    }

    /// A finite number.
    pub fn number(&self) -> Result<f64> {
        match self.node.kind {
            Kind::Number(v) if v.is_finite() => Ok(v),
            Kind::Number(_) => Err(self.fail("must be a finite number")),
            _ => Err(self.expected("a number")),
        }
    }

    /// A finite number for which `ok` holds; otherwise "must be {what}".
    pub fn number_where(&self, ok: impl Fn(f64) -> bool, what: &str) -> Result<f64> {
        let v = self.number()?;
        if ok(v) {
            Ok(v)
        } else {
            Err(self.fail(format!("must be {what}")))
        }
    }

    /// An integer in `min..=max`. A number with no fractional part (`2.0`, `1e6`) counts.
    pub fn integer(&self, min: u64, max: u64) -> Result<u64> {
        let Kind::Number(v) = self.node.kind else {
            return Err(self.expected("an integer"));
        };
        let text = &self.doc.text[self.node.span.clone()];
        let range = || format!("must be an integer from {min} to {max}");
        let n = if let Some(digits) = text.strip_prefix('-') {
            if !v.is_finite() {
                return Err(self.fail("must be a finite number"));
            }
            // Negative zero is zero; anything else negative is out of range.
            if v != 0.0 || digits.is_empty() {
                return Err(self.fail(range()));
            }
            0
        } else if text.bytes().all(|b| b.is_ascii_digit()) {
            // Exact, beyond f64's 2⁵³ (a u64 seed).
            text.parse::<u64>().map_err(|_| self.fail(range()))?
        } else if !v.is_finite() {
            return Err(self.fail("must be a finite number"));
        } else if v.fract() != 0.0 {
            return Err(self.fail("must be an integer"));
        } else if v >= 18_446_744_073_709_551_616.0 {
            return Err(self.fail(range()));
        } else {
            v as u64
        };
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(self.fail(range()))
        }
    }

    pub fn boolean(&self) -> Result<bool> {
        match self.node.kind {
            Kind::Bool(b) => Ok(b),
            _ => Err(self.expected("true or false")),
        }
    }

    pub fn string(&self) -> Result<&'d str> {
        match &self.node.kind {
            Kind::String(s) => Ok(s),
            _ => Err(self.expected("a string")),
        }
    }

    /// An RFC 3339 timestamp (`2026-11-20T08:00:00Z`), in seconds.
    pub fn timestamp(&self) -> Result<crate::time::Timestamp> {
        crate::time::parse_rfc3339(self.string()?)
            .ok_or_else(|| self.fail("not an RFC 3339 timestamp (e.g. 2026-11-20T08:00:00Z)"))
    }

    pub fn as_str(&self) -> Option<&'d str> {
        match &self.node.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self.node.kind, Kind::Number(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self.node.kind, Kind::Object(_))
    }

    /// The elements, with their paths `path[i]`.
    pub fn array(&self) -> Result<Vec<At<'d>>> {
        match &self.node.kind {
            Kind::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, node)| At {
                    doc: self.doc,
                    node,
                    path: format!("{}[{i}]", self.path),
                })
                .collect()),
            _ => Err(self.expected("an array")),
        }
    }

    /// A list of finite numbers each satisfying `ok` ("must be {what}").
    pub fn numbers_where(&self, ok: impl Fn(f64) -> bool, what: &str) -> Result<Vec<f64>> {
        self.array()?
            .iter()
            .map(|item| item.number_where(&ok, what))
            .collect()
    }

    /// An object whose keys are data (asset symbols): any key, none twice.
    pub fn map(&self) -> Result<Fields<'d>> {
        let Kind::Object(entries) = &self.node.kind else {
            return Err(self.expected("an object"));
        };
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        for (key, node) in entries {
            if !seen.insert(key.as_str()) {
                return Err(self.child(key, node).fail("duplicate field"));
            }
        }
        Ok(Fields {
            parent: self.clone(),
            entries,
        })
    }

    /// An object with a fixed set of fields: any other field, or one given twice, is an error.
    pub fn object(&self, allowed: &[&str]) -> Result<Fields<'d>> {
        let fields = self.map()?;
        for (key, node) in fields.entries {
            if !allowed.contains(&key.as_str()) {
                return Err(self.child(key, node).fail(format!(
                    "unknown field (expected one of: {})",
                    allowed.join(", ")
                )));
            }
        }
        Ok(fields)
    }

    fn child(&self, key: &str, node: &'d Json) -> At<'d> {
        At {
            doc: self.doc,
            node,
            path: field_path(&self.path, key),
        }
    }
}

/// The fields of an object, in file order.
pub(crate) struct Fields<'d> {
    parent: At<'d>,
    entries: &'d [(String, Json)],
}

impl<'d> Fields<'d> {
    pub fn get(&self, key: &str) -> Option<At<'d>> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(k, node)| self.parent.child(k, node))
    }

    /// A field that must be present.
    pub fn require(&self, key: &str) -> Result<At<'d>> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    /// The error for a required field that is absent.
    pub fn missing(&self, key: &str) -> Error {
        Error::input(
            self.parent.doc.file,
            field_path(&self.parent.path, key),
            "(missing)",
            "required field is missing",
        )
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'d str, At<'d>)> + '_ {
        self.entries
            .iter()
            .map(|(k, node)| (k.as_str(), self.parent.child(k, node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_kind(text: &str) -> Kind {
        match parse(text, "t.json") {
            Ok(doc) => doc.root.kind,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn reads_every_kind_of_value() {
        let Kind::Object(fields) =
            root_kind(r#"{"a": [1, -2.5e3, true, false, null], "b": "x\u00e9\ud83d\ude00\n"}"#)
        else {
            panic!("not an object")
        };
        assert_eq!(fields[0].0, "a");
        let Kind::Array(items) = &fields[0].1.kind else {
            panic!("not an array")
        };
        assert!(matches!(items[1].kind, Kind::Number(v) if v == -2500.0));
        assert!(matches!(items[4].kind, Kind::Null));
        assert!(matches!(&fields[1].1.kind, Kind::String(s) if s == "xé😀\n"));
    }

    #[test]
    fn keeps_field_order_and_spans() {
        let text = r#"{"z": 1, "a": 2.50}"#;
        let Ok(doc) = parse(text, "t.json") else {
            panic!("rejected valid JSON")
        };
        let Kind::Object(fields) = &doc.root.kind else {
            panic!("not an object")
        };
        assert_eq!(fields[0].0, "z");
        assert_eq!(&text[fields[1].1.span.clone()], "2.50");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let Err(Error::Input { field, .. }) = parse("{\n  \"a\": [1, 2,\n", "t.json") else {
            panic!("accepted truncated JSON")
        };
        assert_eq!(field, "line 3, column 1");
        let Err(Error::Input { field, .. }) = parse("{\"a\": 01}", "t.json") else {
            panic!("accepted a leading zero")
        };
        assert_eq!(field, "line 1, column 7");
    }

    #[test]
    fn non_finite_numbers_are_values() {
        assert!(matches!(root_kind("1e400"), Kind::Number(v) if v == f64::INFINITY));
        assert!(matches!(root_kind("-Infinity"), Kind::Number(v) if v == f64::NEG_INFINITY));
        assert!(matches!(root_kind("NaN"), Kind::Number(v) if v.is_nan()));
    }

    #[test]
    fn nesting_is_limited() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep, "t.json").is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok, "t.json").is_ok());
    }

    #[test]
    fn shown_values_are_short() {
        let long = "x".repeat(200);
        assert_eq!(shown(&long).chars().count(), MAX_SHOWN + 1);
        assert_eq!(shown("[1,\n    2]"), "[1, 2]");
    }

    #[test]
    fn paths_quote_odd_keys() {
        assert_eq!(field_path("", "assets"), "assets");
        assert_eq!(field_path("assets", "BTC"), "assets.BTC");
        assert_eq!(field_path("assets", "a b"), "assets[\"a b\"]");
    }
}
