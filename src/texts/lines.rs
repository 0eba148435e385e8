//! The rule every value follows on its way into a subject or a text part
//! (HTML escaping is minijinja's, enforced in every HTML template): on one
//! line, where a line break could forge a header or a line.

/// Removes line breaks and other control characters, so a value cannot
/// forge lines in a subject (headers) or in the text part.
pub fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| match c.is_control() || invisible(c) {
            true => ' ',
            false => c,
        })
        .collect()
}

/// Characters that reorder or break the text around them without being
/// control characters: line and paragraph separators, and the bidirectional
/// marks, embeddings, overrides and isolates, which a name could use to
/// reverse the trusted words that follow it.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_takes_out_breaks_and_bidi_marks() {
        assert_eq!(
            super::one_line("a\r\nb\u{2028}c\u{202E}d\u{2066}e"),
            "a  b c d e"
        );
    }
}
