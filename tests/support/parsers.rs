//! The reference readers of our output formats, run on what the binary wrote: `promtool check
//! metrics` and Prometheus' own Python parser (prometheus_client) for the exposition format,
//! `xmllint` and Python's junitparser for JUnit XML. scripts/setup installs them (the Python
//! ones into target/py).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One sample as prometheus_client parsed it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The venv's Python, made by scripts/setup.
fn python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python3");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    path
}

fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `promtool check metrics` (format and lint); panics with promtool's words when it objects.
pub fn promtool_check(text: &str) {
    let (code, out, err) = run_with_stdin(
        Command::new("/usr/bin/promtool").args(["check", "metrics"]),
        text.as_bytes(),
    );
    assert_eq!(code, 0, "promtool check metrics: {out}{err}\n{text}");
}

const PARSE_PROMETHEUS: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {"families": {}, "samples": []}
for family in text_string_to_metric_families(sys.stdin.read()):
    out["families"][family.name] = {"type": family.type, "help": family.documentation}
    for s in family.samples:
        out["samples"].append({"name": s.name, "labels": s.labels, "value": repr(s.value)})
print(json.dumps(out))
"#;

/// Parses exposition text with prometheus_client: the families (name -> type) and samples.
pub fn parse_prometheus(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let (code, out, err) = run_with_stdin(
        Command::new(python()).args(["-c", PARSE_PROMETHEUS]),
        text.as_bytes(),
    );
    assert_eq!(code, 0, "prometheus_client could not parse:\n{err}\n{text}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let families = json["families"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["type"].as_str().unwrap().to_string()))
        .collect();
    let samples = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_string(),
            labels: s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
            value: s["value"].as_str().unwrap().parse().unwrap(),
        })
        .collect();
    (families, samples)
}

/// The samples of `name` whose labels include every pair of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The one value of `name` with `labels`; panics when there is not exactly one.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}");
    found[0].value
}

/// `xmllint --noout`: well-formed XML, or a panic with xmllint's words.
pub fn xmllint(xml: &str) {
    let (code, out, err) = run_with_stdin(
        Command::new("/usr/bin/xmllint").args(["--noout", "-"]),
        xml.as_bytes(),
    );
    assert_eq!(code, 0, "xmllint: {out}{err}\n{xml}");
}

const PARSE_JUNIT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromstring(sys.stdin.read())
suites = []
for suite in xml:
    cases = []
    for case in suite:
        results = [{"kind": type(r).__name__, "type": r.type, "message": r.message, "text": r.text}
                   for r in case.result]
        cases.append({"classname": case.classname, "name": case.name, "time": case.time,
                      "results": results, "system_out": case.system_out})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped, "cases": cases})
print(json.dumps({"suites": suites}))
"#;

/// Reads JUnit XML with junitparser; the suites and cases as JSON.
pub fn parse_junit(xml: &str) -> serde_json::Value {
    let (code, out, err) = run_with_stdin(
        Command::new(python()).args(["-c", PARSE_JUNIT]),
        xml.as_bytes(),
    );
    assert_eq!(code, 0, "junitparser could not read:\n{err}\n{xml}");
    serde_json::from_str(&out).unwrap()
}
