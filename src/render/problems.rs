//! Failures below a section (a DERP node's, say) and how the table merges those that differ
//! only in whom they name, so N nodes failing alike are one row.

use super::present::shorten;

/// One failure below a section: whose it is and what happened, with the names in it that
/// differ between otherwise identical failures (so N nodes failing alike make one row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Whose failure, e.g. `node 1a in region 1 (Frankfurt)`; may be empty.
    pub label: String,
    /// A short name for a merged row, e.g. `1a`.
    pub name: String,
    pub detail: String,
    /// Host names inside `detail`.
    pub subjects: Vec<String>,
}

impl Problem {
    pub fn text(&self) -> String {
        if self.label.is_empty() {
            self.detail.clone()
        } else {
            format!("{}: {}", self.label, self.detail)
        }
    }

    /// The detail with its subjects generalized: equal for failures that differ only in whom
    /// they name.
    pub fn shape(&self) -> String {
        let subjects: Vec<&str> = self.subjects.iter().map(String::as_str).collect();
        crate::text::generalize(&self.detail, &subjects)
    }
}

/// Problems with the same shape merged into one line naming all of them.
pub fn group_problems(problems: &[Problem]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&Problem>)> = Vec::new();
    for problem in problems {
        let shape = problem.shape();
        match groups.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, members)) => members.push(problem),
            None => groups.push((shape, vec![problem])),
        }
    }
    groups
        .into_iter()
        .map(|(shape, members)| {
            if members.len() == 1 {
                return members[0].text();
            }
            let names: Vec<String> = members.iter().map(|p| p.name.clone()).collect();
            format!(
                "{} nodes fail the same way ({}): {shape}",
                members.len(),
                shorten(&names)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(name: &str, host: &str, why: &str) -> Problem {
        Problem {
            label: format!("node {name} in region 1"),
            name: name.to_string(),
            detail: format!("STUN failed (lookup {host}: {why})"),
            subjects: vec![host.to_string(), name.to_string()],
        }
    }

    #[test]
    fn alike_failures_merge_and_different_ones_stay() {
        let lines = group_problems(&[
            stun("a", "stun1.example", "no such host"),
            stun("b", "stun2.example", "no such host"),
            stun("c", "stun3.example", "timed out"),
        ]);
        assert_eq!(
            lines,
            [
                "2 nodes fail the same way (a, b): STUN failed (lookup <host>: no such host)",
                "node c in region 1: STUN failed (lookup stun3.example: timed out)",
            ]
        );
    }
}
