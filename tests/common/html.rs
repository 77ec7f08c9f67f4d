//! Reading an HTML report back in tests: the embedded JSON, the figures marked with their
//! JSON pointers, and the static checks of R1 (nothing refers outside the file).

use serde_json::Value;

pub const SCRIPT_OPEN: &str = r#"<script type="application/json" id="tailrisk-report">"#;

/// The JSON embedded in the page, parsed.
pub fn embedded_json(html: &str) -> Value {
    let start = html.find(SCRIPT_OPEN).expect("the page embeds its JSON") + SCRIPT_OPEN.len();
    let end = start
        + html[start..]
            .find("</script>")
            .expect("the script element ends");
    serde_json::from_str(&html[start..end]).expect("the embedded JSON parses")
}

/// Every figure the page marks with its JSON pointer: (pointer, number as shown).
pub fn figures(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("data-json=\"") {
        rest = &rest[i + 11..];
        let end = rest.find('"').unwrap();
        let pointer = rest[..end].to_string();
        let open = rest.find('>').unwrap();
        let close = rest.find("</span>").unwrap();
        out.push((pointer, rest[open + 1..close].to_string()));
        rest = &rest[close..];
    }
    out
}

/// Every marked figure equals the embedded JSON's value rounded to at least 6 significant
/// digits (R2 asks for 4): |shown − json| ≤ 5·10⁻⁶·|json|. Returns how many were checked.
pub fn assert_figures_match_json(html: &str) -> usize {
    let json = embedded_json(html);
    let figures = figures(html);
    for (pointer, shown) in &figures {
        let value = json
            .pointer(pointer)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{pointer} is not a number of the JSON"));
        let parsed: f64 = shown
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{pointer}: {shown:?} is not a number"));
        assert!(
            (parsed - value).abs() <= 5e-6 * value.abs(),
            "{pointer}: page shows {shown}, JSON has {value}"
        );
    }
    figures.len()
}

/// R1, checked on the markup: no tag has a `src` or `srcset` attribute or is a `link`,
/// `img`, `iframe`, `object`, `embed` or `image`; every `href` is a fragment; the style has
/// no `url(` or `@import`; the one script is the embedded JSON. (Escaped text holds no `<`,
/// so every `<` outside the script starts a tag.)
pub fn assert_self_contained(html: &str) {
    let start = html.find(SCRIPT_OPEN).expect("the page embeds its JSON");
    let end = start + html[start..].find("</script>").unwrap();
    let markup = format!("{}{}", &html[..start], &html[end..]);
    assert_eq!(
        markup.matches("<script").count(),
        0,
        "no other script element"
    );
    let lower = markup.to_ascii_lowercase();
    for tag in lower.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            ![
                "link", "img", "iframe", "object", "embed", "image", "use", "audio", "video"
            ]
            .contains(&name.as_str()),
            "a <{name}> element: <{tag}>"
        );
        assert!(!tag.contains("url("), "<{tag}> refers to a url()");
        for attr in [" src=", " srcset=", "\tsrc=", "\nsrc="] {
            assert!(!tag.contains(attr), "<{tag}> loads something");
        }
        for (i, _) in tag.match_indices("href=") {
            let value = &tag[i + 5..];
            assert!(
                value.starts_with("\"#") || value.starts_with("'#"),
                "an href refers outside the page: <{tag}>"
            );
        }
    }
    let style_start = lower.find("<style>").map_or(0, |i| i + 7);
    let style_end = lower.find("</style>").unwrap_or(style_start);
    let style = &lower[style_start..style_end];
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "the style loads something"
    );
}
