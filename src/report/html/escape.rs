//! Escaping for the HTML report (SPEC §12, R5): every string from an input goes through
//! [`text`] before it reaches the page, and the embedded JSON through [`script_json`].

/// `s` as HTML text or attribute value: `& < > " '` become character references, so no
/// input can open a tag, close an attribute or start an entity.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report's JSON as the content of `<script type="application/json">`: every `<` is
/// written as the JSON escape `\u003c`. A `<` can only occur inside a JSON string (the
/// grammar has no other place for it), where `\u003c` denotes the same character, so the
/// content parses to exactly the JSON of stdout; and with no `<` left, neither `</script>`
/// nor `<!--` can end or alter the script element. A report without `<` in any input string
/// is embedded byte for byte.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            text(r#"<script>alert(1)</script>&"'"#),
            "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"
        );
    }

    #[test]
    fn embedded_json_parses_to_the_same_value() {
        let json = r#"{"id":"</script><!--<script>","x":1.5}"#;
        let embedded = script_json(json);
        assert!(!embedded.contains('<'));
        let a: serde_json::Value = serde_json::from_str(json).unwrap();
        let b: serde_json::Value = serde_json::from_str(&embedded).unwrap();
        assert_eq!(a, b);
    }
}
