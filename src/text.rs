//! Text helpers for findings: outside text made short enough for one line.

/// `text` with control characters percent-encoded (for URLs shown to people).
pub fn percent_encode_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with control characters other than line breaks escaped (`\u{1b}`), for one-line
/// messages quoting input such as paths: printed raw they would be terminal escapes.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Collapses whitespace and cuts to `max_chars`, marking the cut.
pub fn snippet(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        let cut: String = flat.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

/// `text` with each of `subjects` (host names, node labels) replaced by `<host>`, so failures
/// that differ only in whom they name compare equal. Longer subjects go first.
pub fn generalize(text: &str, subjects: &[&str]) -> String {
    let mut subjects: Vec<&str> = subjects.iter().copied().filter(|s| s.len() > 1).collect();
    subjects.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for subject in subjects {
        out = out.replace(subject, "<host>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalize_replaces_longest_first() {
        assert_eq!(
            generalize(
                "lookup stun1.l.google.com: no",
                &["stun1.l.google.com", "google.com"]
            ),
            "lookup <host>: no"
        );
        assert_eq!(generalize("a b", &[""]), "a b");
    }
}
