//! serde_json's error messages in the words of a user who wrote the file by hand, and the
//! tokens (non-finite numbers) the syntax pass names at their field.

use super::MAX_DEPTH;

/// serde_json's message without its " at line L column C".
pub(super) fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

pub(super) fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let rest = text.strip_prefix(start)?;
    Some(&rest[..rest.find(end)?])
}

/// `string "x", expected a number` → `expected a number, found a string`, in JSON's words.
pub(super) fn type_mismatch(rest: &str) -> String {
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return format!("invalid type: {rest}");
    };
    let kind = match found.split([' ', '`']).next().unwrap_or(found) {
        "sequence" => "an array",
        "map" => "an object",
        "string" => "a string",
        "floating" | "integer" => "a number",
        "boolean" => "a boolean",
        "null" => "null",
        _ => found,
    };
    let expected = match expected {
        "a sequence" => "an array",
        "a map" => "an object",
        "a boolean" => "true or false",
        other => other,
    };
    format!("expected {expected}, found {kind}")
}

/// serde_json's syntax messages in the words of a user who wrote the file by hand.
pub(super) fn syntax_message(message: &str, text: &str, at: usize) -> String {
    let next = text[at..].chars().next();
    let escape =
        "invalid escape (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t, and \\u with four hex digits)";
    match message {
        "EOF while parsing a list" => "unexpected end of file inside an array".into(),
        "EOF while parsing an object" => "unexpected end of file inside an object".into(),
        "EOF while parsing a value" => "unexpected end of file, expected a value".into(),
        "EOF while parsing a string" => {
            "unterminated string (end of file before its closing quote)".into()
        }
        "expected `:`" => "expected ':' after a field name".into(),
        "expected `,` or `]`" => "expected ',' or ']' in an array".into(),
        "expected `,` or `}`" => "expected ',' or '}' in an object".into(),
        "expected ident" | "expected value" => "expected a value".into(),
        "key must be a string" => "expected a field name (a string in double quotes)".into(),
        "trailing comma" if next == Some(']') => {
            "expected a value after ',' (trailing comma)".into()
        }
        "trailing comma" => "expected a field name after ',' (trailing comma)".into(),
        "trailing characters" => "unexpected text after the end of the document".into(),
        "recursion limit exceeded" => {
            format!("arrays and objects nested deeper than {MAX_DEPTH} levels")
        }
        "invalid escape" | "unexpected end of hex escape" if follows_surrogate(text, at) => {
            "invalid \\u escape: a lone surrogate (\\uD800–\\uDFFF must come in pairs)".into()
        }
        "invalid escape" | "unexpected end of hex escape" => escape.into(),
        "lone leading surrogate in hex escape" | "invalid unicode code point" => {
            "invalid \\u escape: a lone surrogate or a code point that is not a character".into()
        }
        m if m.starts_with("control character") => {
            "control character in a string (write it as an escape such as \\n or \\t)".into()
        }
        "invalid number" => number_message(&number_token(text, at)),
        other => other.to_string(),
    }
}

/// Whether the text just before byte `at` is a `\\uD800`–`\\uDFFF` escape (half a pair).
fn follows_surrogate(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let Some(u) = before.rfind("\\u") else {
        return false;
    };
    let hex = before[u + 2..].get(..4).unwrap_or("");
    u32::from_str_radix(hex, 16).is_ok_and(|c| (0xD800..=0xDFFF).contains(&c)) && at - u <= 8
}

/// Why a number as written is not JSON.
fn number_message(token: &str) -> String {
    let digits = token.trim_start_matches('-');
    if digits.len() > 1
        && digits.starts_with('0')
        && digits[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        "invalid number: a number must not have a leading zero".into()
    } else if digits.ends_with('.') {
        "invalid number: expected a digit after the decimal point".into()
    } else if digits.ends_with(['e', 'E', '+', '-']) {
        "invalid number: expected a digit in the exponent".into()
    } else if digits.is_empty() {
        "invalid number: expected a digit after '-'".into()
    } else {
        "invalid number".into()
    }
}

/// The number-like text around byte `at` (JSON's number characters).
fn number_token(text: &str, at: usize) -> String {
    let is_number = |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E');
    let start = text[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_number(c))
        .last()
        .map_or(at, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .find(|&(_, c)| !is_number(c))
        .map_or(text.len(), |(i, _)| at + i);
    text[start..end].to_string()
}

/// `NaN`, `Infinity`, `-Infinity` or a number beyond f64 at byte `at`, as written.
pub(super) fn non_finite_token(text: &str, at: usize) -> Option<String> {
    let rest = &text[at..];
    for word in ["NaN", "Infinity"] {
        if rest.starts_with(word) {
            let negative = text[..at].ends_with('-') && word == "Infinity";
            return Some(if negative {
                format!("-{word}")
            } else {
                word.into()
            });
        }
    }
    let token = number_token(text, at);
    let overflows = token
        .parse::<f64>()
        .is_ok_and(|v| v.is_infinite() && token.chars().any(|c| c.is_ascii_digit()));
    overflows.then_some(token)
}
