//! CSV records for every CSV input (positions, price history): split by the `csv` crate
//! (RFC 4180: `,` between cells, `"` quotes with `""` for a quote inside, LF, CR or CRLF
//! between records), cells trimmed, each record with the line it starts on — counted here,
//! incrementally, since the crate's own count skips blank lines and lone CRs — and two
//! mistakes the crate would accept silently refused (an unterminated quote, text after a
//! closing quote).

use crate::error::{Error, Result};

use super::json;

/// One record: the line it starts on and its cells (trimmed, unquoted).
pub(crate) struct Record {
    pub line: usize,
    pub cells: Vec<String>,
}

impl Record {
    /// A blank line (or one of blanks only).
    pub fn is_blank(&self) -> bool {
        self.cells.len() == 1 && self.cells[0].is_empty()
    }

    /// The cells as an error shows them.
    pub fn shown(&self) -> String {
        json::shown(&self.cells.join(","))
    }
}

/// The records of a CSV text, in order.
pub(crate) struct Records<'t> {
    text: &'t str,
    file: &'t str,
    reader: csv::Reader<&'t [u8]>,
    record: csv::StringRecord,
    /// Lines counted up to this byte.
    counted_to: usize,
    line: usize,
}

impl<'t> Records<'t> {
    /// The records of `text` (a leading byte-order mark ignored); errors name `file`.
    pub fn new(text: &'t str, file: &'t str) -> Self {
        let text = json::strip_bom(text);
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        Self {
            text,
            file,
            reader,
            record: csv::StringRecord::new(),
            counted_to: 0,
            line: 1,
        }
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        let start = self.byte(self.reader.position().byte());
        if !self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| self.error(&e))?
        {
            return Ok(None);
        }
        let end = self.byte(self.reader.position().byte());
        // The reader's position before a record is the end of the one before, ahead of the
        // blank lines it skips: the record starts after those.
        let bytes = self.text.as_bytes();
        let mut start = start;
        while start < end && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        let line = self.line_at(start);
        let raw = &self.text[start..end];
        let padded = scan_quotes(raw).map_err(|(problem, cell)| {
            Error::input(
                self.file,
                format!("line {line}"),
                json::shown(cell),
                problem,
            )
        })?;
        if padded.len() != self.record.len() {
            // RFC 4180 quotes only at a cell's start: the crate split inside ` "a,b"`.
            return Err(Error::input(
                self.file,
                format!("line {line}"),
                json::shown(raw),
                "a quoted cell with a comma inside must start with its quote (no blanks before)",
            ));
        }
        let cells = self
            .record
            .iter()
            .zip(padded)
            .map(|(cell, unquoted)| {
                unquoted.map_or_else(|| cell.to_string(), |u| u.trim().to_string())
            })
            .collect();
        Ok(Some(Record { line, cells }))
    }

    fn byte(&self, at: u64) -> usize {
        usize::try_from(at)
            .unwrap_or(self.text.len())
            .min(self.text.len())
    }

    /// The 1-based line of byte `at` (not before the last asked), counting LF, CR and CRLF
    /// as one line end each, from where the last count stopped.
    fn line_at(&mut self, at: usize) -> usize {
        let bytes = self.text.as_bytes();
        for i in self.counted_to..at {
            if bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.counted_to = self.counted_to.max(at);
        self.line
    }

    /// A reading error of the `csv` crate (invalid UTF-8 is caught before), at its line.
    fn error(&mut self, e: &csv::Error) -> Error {
        let at = e
            .position()
            .map_or(self.text.len(), |p| self.byte(p.byte()));
        let line = self.line_at(at.max(self.counted_to));
        Error::input(
            self.file,
            format!("line {line}"),
            "(unreadable record)",
            format!("invalid CSV: {e}"),
        )
    }
}

/// What the `csv` crate accepts silently but a hand-written file almost certainly got wrong:
/// a quoted cell that never closes, or text after a cell's closing quote (`"a"x`): the
/// problem and the cell as written. Otherwise, per cell, the unquoted text of a cell whose
/// quotes follow blanks (`a, "ETH" ,1`), which RFC 4180 (and so the crate) reads as data
/// but which is plainly quoted; `None` for every other cell.
fn scan_quotes(raw: &str) -> Result<Vec<Option<String>>, (&'static str, &str)> {
    let cell_end = |from: usize| {
        raw[from..]
            .find([',', '\n', '\r'])
            .map_or(raw.len(), |e| from + e)
    };
    let mut padded = Vec::new();
    let mut at = 0;
    loop {
        let blanks = raw[at..].len() - raw[at..].trim_start_matches([' ', '\t']).len();
        let quote = at + blanks;
        let end = if raw[quote..].starts_with('"') {
            let Some(close) = closing_quote(&raw[quote + 1..]).map(|q| quote + 1 + q) else {
                return Err(("unterminated quoted cell", &raw[quote..]));
            };
            let end = cell_end(close + 1);
            if !raw[close + 1..end].trim().is_empty() {
                return Err(("unexpected text after a quoted cell", &raw[quote..end]));
            }
            padded.push((blanks > 0).then(|| raw[quote + 1..close].replace("\"\"", "\"")));
            end
        } else {
            padded.push(None);
            cell_end(at)
        };
        if !raw[end..].starts_with(',') {
            return Ok(padded);
        }
        at = end + 1;
    }
}

/// The byte index of the quote that closes a quoted cell whose text is `inside` (after the
/// opening quote); `""` is a quote inside the cell.
fn closing_quote(inside: &str) -> Option<usize> {
    let bytes = inside.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}
