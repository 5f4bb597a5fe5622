//! The shape of the code, checked: data flows settings -> checks -> report -> renderers, the
//! report model and the catalogue sit at the bottom, and no two of our modules import each other
//! in a circle. The edges come from every `crate::` path in src/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module of each `src/` file -> the top-level modules it names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
            if module == "main" || module == "lib" {
                continue;
            }
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
    }
    edges
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
