//! `explain`, `codes` and the man page: the catalogue rendered for people and scripts.

use std::fmt::Write;

use serde_json::json;

use crate::codes::CATALOGUE;
use crate::report::Code;

pub fn explain(code: Code, docs_url: &str) -> String {
    let info = code.info();
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", code, info.title);
    let _ = writeln!(out, "Section:  {}", info.section.unwrap_or("any"));
    let _ = writeln!(out, "Severity: {}", info.severity.as_str());
    let _ = writeln!(out, "Problem:  {}", info.problem);
    let _ = writeln!(out, "Solution: {}", info.solution);
    let _ = writeln!(out, "Docs:     {}", code.docs_url(docs_url));
    if let Some(readme) = code.offline_docs() {
        let _ = writeln!(out, "Offline:  {readme} (installed with the package)");
    }
    out
}

/// `explain diagnosis`: the diagnosis rules in the order they are tried.
pub fn diagnosis_rules() -> String {
    let mut out = String::from(
        "Diagnosis: whenever a run has a finding, the first \"Probable cause\" line (diagnosis[0] \
         in the JSON) names the root cause, where it is and what to do. The rules, in causal \
         order (an earlier cause explains later failures):\n",
    );
    for (i, rule) in crate::diagnosis::RULES.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {}", i + 1, rule.name);
    }
    let _ = writeln!(
        out,
        "A section with a finding no rule accounts for gets that finding restated as its cause. \
         Errors come first; a cause that leaves the deployment working starts with \"{}\". At \
         most {} lines; a healthy run has none. Each line's `evidence` lists the kinds of \
         observation it rests on.",
        crate::diagnosis::DEGRADED,
        crate::diagnosis::MAX_DIAGNOSES
    );
    out
}

/// One line per code, in columns as wide as their longest entry.
pub fn codes_text() -> String {
    let section = |info: &crate::codes::CodeInfo| info.section.unwrap_or("any");
    let width =
        |f: &dyn Fn(&crate::codes::CodeInfo) -> usize| CATALOGUE.iter().map(f).max().unwrap_or(0);
    let code_width = width(&|i| i.code.as_str().len());
    let section_width = width(&|i| section(i).len());
    let severity_width = width(&|i| i.severity.as_str().len());
    let mut out = String::new();
    for info in CATALOGUE {
        // `as_str`: `Code`'s Display ignores a width.
        let _ = writeln!(
            out,
            "{:<code_width$}  {:<section_width$}  {:<severity_width$}  {}",
            info.code.as_str(),
            section(info),
            info.severity.as_str(),
            info.title
        );
    }
    out
}

pub fn codes_json(docs_url: &str) -> String {
    let list: Vec<_> = CATALOGUE
        .iter()
        .map(|info| {
            json!({
                "code": info.code,
                "section": info.section.unwrap_or("any"),
                "severity": info.severity,
                "title": info.title,
                "problem": info.problem,
                "solution": info.solution,
                "docs_url": info.code.docs_url(docs_url),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}

/// Roff for the man page's DIAGNOSTIC CODES section.
pub fn codes_roff() -> String {
    let mut out = String::from(".SH \"DIAGNOSTIC CODES\"\n");
    for info in CATALOGUE {
        let _ = writeln!(
            out,
            ".TP\n\\fB{}\\fR ({}, {})\n{}\n.br\n{}",
            info.code,
            info.section.unwrap_or("any"),
            info.severity.as_str(),
            roff_escape(info.title),
            roff_escape(&format!("{} {}", info.problem, info.solution)),
        );
    }
    out
}

fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}
