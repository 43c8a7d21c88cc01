//! Text into HTML and XML: prompts are user input.

/// `text` escaped for HTML and XML text and attribute values. Characters
/// XML 1.0 forbids (control characters other than tab, newline and
/// carriage return; U+FFFE, U+FFFF) are dropped, so a hostile prompt can
/// neither inject markup nor make the document ill-formed.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            // The C1 controls are allowed in XML but invalid in HTML text.
            c if ('\u{7F}'..='\u{9F}').contains(&c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_forbidden_characters_do_not_survive() {
        assert_eq!(
            escape("<script>alert('x' & \"y\")</script>\u{0}\u{1b}\u{85}ok\n"),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;ok\n"
        );
        assert_eq!(escape("日本 🔥"), "日本 🔥");
    }
}
