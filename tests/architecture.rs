//! The shape of the code, checked: data flows settings -> checks -> report -> renderers, the
//! report model and the catalogue sit at the bottom, and no two of our modules import each other
//! in a circle. The edges come from every `crate::` path in src/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One non-test `src/` file.
struct Source {
    /// Its top-level module (`checks` for src/checks/derp/mod.rs).
    module: String,
    /// Relative to src/.
    path: String,
    /// Its code, without tests (anything after `#[cfg(test)]`) and without comment lines.
    code: String,
}

/// Every `src/` file but the tests.
fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // Test files may reach across layers to build fixtures; they are not the design.
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("tests.rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                // Comments may name other modules; only code imports them.
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.push(Source {
                module,
                path: relative.display().to_string(),
                code,
            });
        }
    }
    out
}

/// Top-level module of each `src/` file -> the top-level modules it names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for Source { module, code, .. } in sources() {
        if module == "main" || module == "lib" {
            continue;
        }
        let targets = edges.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                targets.insert(name);
            }
        }
    }
    edges
}

/// Where code recovers a finding's code (or kind) from its words: a prefix test for a code
/// (`starts_with("EACS03")`, `starts_with(Code::...)`) or a split on `": "` (Coder's
/// `CODE: message` spelling). Findings are data: match on `code` and `evidence` instead.
fn text_parsing(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let code_prefix = line.match_indices("starts_with(\"E").any(|(at, _)| {
            line[at + "starts_with(\"E".len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        });
        let split = [
            "split_once(\": \")",
            "split(\": \")",
            "rsplit_once(\": \")",
            "splitn(2, \": \")",
        ]
        .iter()
        .any(|p| line.contains(p));
        if code_prefix
            || split
            || line.contains("starts_with(Code::")
            || line.contains("split_code")
        {
            found.push(format!("line {}: {}", n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn no_code_or_kind_is_recovered_from_message_text() {
    let mut offenders = Vec::new();
    for Source { path, code, .. } in sources() {
        for hit in text_parsing(&code) {
            offenders.push(format!("src/{path} {hit}"));
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    // The search itself finds each pattern.
    for bad in [
        "if e.starts_with(\"EACS03\") {",
        "let (code, text) = error.split_once(\": \")?;",
        "e.starts_with(Code::Edb01.as_str())",
        "render::split_code(e)",
    ] {
        assert_eq!(text_parsing(bad).len(), 1, "{bad}");
    }
    assert!(text_parsing("host.starts_with(\"Example\")").is_empty());
}

#[test]
fn the_report_model_catalogue_and_net_do_not_reach_up() {
    let edges = imports();
    let below: BTreeMap<&str, &[&str]> = [
        // The model depends on nothing of ours.
        ("report", &[][..]),
        ("codes", &["report", "defaults", "text"][..]),
        // The network layer speaks the report's evidence: a failure's kind stays data.
        (
            "net",
            &["duration", "files", "redact", "report", "text"][..],
        ),
        ("defaults", &[][..]),
        ("duration", &[][..]),
        ("text", &[][..]),
        ("files", &[][..]),
        ("eventually", &[][..]),
        ("redact", &[][..]),
    ]
    .into();
    for (module, allowed) in below {
        let found = edges.get(module).cloned().unwrap_or_default();
        let extra: Vec<&String> = found
            .iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        assert!(extra.is_empty(), "{module} must not import {extra:?}");
    }
    // Renderers read the finished report; they never probe.
    let render = &edges["render"];
    for forbidden in ["checks", "net", "coder_db"] {
        assert!(!render.contains(forbidden), "render imports {forbidden}");
    }
    // Checks never print or pick an output.
    assert!(!edges["checks"].contains("render"), "checks import render");
}

/// A path that leads back to where it started, if the graph has one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(format!("{} -> {node}", path[at..].join(" -> ")));
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycles_among_our_modules() {
    assert_eq!(find_cycle(&imports()), None);
    // The search itself sees a cycle when there is one.
    let looped: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_eq!(find_cycle(&looped).as_deref(), Some("a -> b -> a"));
}

/// `cargo test --test architecture -- --nocapture print_the_import_graph` prints the picture as
/// Graphviz DOT (`| dot -Tpng > imports.png`).
#[test]
fn print_the_import_graph() {
    let edges = imports();
    let mut dot = String::from("digraph imports {\n");
    for (from, to) in &edges {
        for target in to {
            dot.push_str(&format!("  {from} -> {target};\n"));
        }
    }
    dot.push('}');
    println!("{dot}");
    assert!(edges["checks"].contains("report"));
}
