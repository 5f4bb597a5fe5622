//! Text helpers for findings: outside text made short enough for one line.

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
