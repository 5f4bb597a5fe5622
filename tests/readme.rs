//! The README's output samples are real runs against the demo's deployment (scripts/demo). Each
//! follows a marker line `<!-- sample NAME -->`; this test makes NAME's run again and fails when
//! the README's copy has drifted from the real output's shape: the table's headers and its rows'
//! sections, statuses and codes, the metric families and their labels, the JUnit test cases and
//! failure types, the watch lines. Numbers (ports, times, durations) may differ.
//!
//! `HEALTHCHECK_UPDATE_README=1 cargo test --test readme` rewrites the samples from the new runs.

mod support;

use std::process::Stdio;
use std::sync::mpsc::channel;
use std::time::Duration;

use support::demo::Demo;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const UPDATE: &str = "HEALTHCHECK_UPDATE_README";

/// The kind of output a sample is, which decides its shape.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Table,
    Prometheus,
    Junit,
    Watch,
}

struct Sample {
    name: &'static str,
    kind: Kind,
    output: String,
}

#[test]
fn the_readme_samples_have_the_shape_of_real_runs() {
    let mut samples = Vec::new();

    let healthy = Demo::start(&[]);
    let table = healthy.run("");
    assert_eq!(table.code, 0, "{}", table.stdout);
    samples.push(sample("try-it-healthy", Kind::Table, table.stdout));
    let prometheus = healthy.run("--format prometheus");
    assert_eq!(prometheus.code, 0, "{}", prometheus.stdout);
    samples.push(sample("prometheus", Kind::Prometheus, prometheus.stdout));
    samples.push(sample(
        "watch",
        Kind::Watch,
        watch_until_nginx_stops(&healthy),
    ));
    healthy.interrupt();

    let database = Demo::start(&["--broken", "database"]);
    let table = database.run("");
    assert_eq!(table.code, 1, "{}", table.stdout);
    samples.push(sample("try-it-broken-database", Kind::Table, table.stdout));
    database.interrupt();

    let websocket = Demo::start(&["--broken", "websocket"]);
    let junit = websocket.run("--format junit");
    assert_eq!(junit.code, 1, "{}", junit.stdout);
    samples.push(sample("junit", Kind::Junit, junit.stdout));
    websocket.interrupt();

    let mut readme = std::fs::read_to_string(README).expect("read README.md");
    if std::env::var(UPDATE).as_deref() == Ok("1") {
        for s in &samples {
            readme = replace_sample(&readme, s.name, &s.output);
        }
        std::fs::write(README, &readme).expect("write README.md");
    }
    let mut drifted = Vec::new();
    for s in &samples {
        let written = sample_in(&readme, s.name);
        let (want, got) = (shape(s.kind, &s.output), shape(s.kind, &written));
        if want != got {
            drifted.push(format!(
                "sample {:?}:\n  README: {got:?}\n  real:   {want:?}",
                s.name
            ));
        }
    }
    assert!(
        drifted.is_empty(),
        "README samples differ from real runs (regenerate with {UPDATE}=1 cargo test --test readme):\n{}",
        drifted.join("\n")
    );
}

/// The shapes keep what matters and drop what varies from run to run.
#[test]
fn shapes_ignore_numbers_and_catch_a_missing_section() {
    let seven = "┌──┐\n│ Section ┆ Status ┆ Code ┆ Finding │\n╞══╡\n\
                 │ Access URL ┆ OK ┆ ┆ took 12ms │\n│ ┆ ┆ ┆ wrapped │\n\
                 │ TLS Certificates ┆ SKIPPED ┆ ┆ none │\n└──┘\n\n1 OK, 0 warning: healthy";
    let other_numbers = seven.replace("12ms", "7ms");
    let six = seven.replace("│ TLS Certificates ┆ SKIPPED ┆ ┆ none │\n", "");
    assert_eq!(
        shape(Kind::Table, seven),
        shape(Kind::Table, &other_numbers)
    );
    assert_ne!(shape(Kind::Table, seven), shape(Kind::Table, &six));

    let prom = "# TYPE x gauge\nx{section=\"database\",port=\"5432\"} 0.004\n";
    let drifted = "# TYPE x gauge\nx{section=\"derp\",port=\"6543\"} 1\n";
    assert_eq!(
        shape(Kind::Prometheus, prom),
        shape(
            Kind::Prometheus,
            &prom.replace("5432", "1").replace("0.004", "9")
        )
    );
    assert_ne!(
        shape(Kind::Prometheus, prom),
        shape(Kind::Prometheus, drifted)
    );

    let junit = r#"<testsuite tests="7" time="0.2"><testcase name="Websocket" time="0.1"><failure type="EWS01" message="at 127.0.0.1:80">x</failure></testcase>"#;
    assert_eq!(
        shape(Kind::Junit, junit),
        shape(
            Kind::Junit,
            &junit.replace("0.2", "3.1").replace(":80", ":8080")
        )
    );
    assert_ne!(
        shape(Kind::Junit, junit),
        shape(Kind::Junit, &junit.replace("EWS01", "EWS02"))
    );
    assert_ne!(
        shape(Kind::Junit, junit),
        shape(Kind::Junit, &junit.replace("tests=\"7\"", "tests=\"6\""))
    );

    let watch = "2026-12-01T09:05:19.35Z access-url - -> OK\n\
                 2026-12-01T09:05:20.86Z access-url OK -> ERROR EACS03: refused at :18432";
    assert_eq!(
        shape(Kind::Watch, watch),
        shape(
            Kind::Watch,
            &watch.replace("19.35", "44.01").replace("18432", "1")
        )
    );
    assert_ne!(
        shape(Kind::Watch, watch),
        shape(Kind::Watch, &watch.replace("EACS03", "EACS02"))
    );
}

fn sample(name: &'static str, kind: Kind, output: String) -> Sample {
    Sample { name, kind, output }
}

/// `--only access-url,database --watch` against the demo; after the first run's lines the demo's
/// nginx is stopped, and the change line for the access URL ends the sample.
fn watch_until_nginx_stops(demo: &Demo) -> String {
    let mut cmd = support::healthcheck();
    cmd.arg("run")
        .args(demo.args())
        .args(["--only", "access-url,database", "--watch", "500ms"])
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("start the watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let next = |lines: &Vec<String>| {
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the watch stopped printing:\n{}", lines.join("\n")))
    };
    // One line per section on the first run.
    while lines.len() < 7 {
        let line = next(&lines);
        lines.push(line);
    }
    let pid_file = demo.dir_of("hc-nginx-").join("nginx.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) with nginx's pid from its own pid file and a valid signal.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    loop {
        let line = next(&lines);
        let done = line.contains(" access-url OK -> ");
        lines.push(line);
        if done {
            break;
        }
    }
    // SAFETY: as above, on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let _ = child.wait();
    lines.join("\n") + "\n"
}

/// The sample after `<!-- sample NAME -->`: the indented block that follows, dedented.
fn sample_in(readme: &str, name: &str) -> String {
    let (start, end) = sample_range(readme, name);
    let lines: Vec<&str> = readme.lines().collect();
    let mut text = String::new();
    for line in &lines[start..end] {
        text.push_str(line.strip_prefix("    ").unwrap_or(line));
        text.push('\n');
    }
    text
}

/// The line range [start, end) of NAME's indented block.
fn sample_range(readme: &str, name: &str) -> (usize, usize) {
    let marker = format!("<!-- sample {name} -->");
    let lines: Vec<&str> = readme.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let mut start = at + 1;
    while start < lines.len() && lines[start].trim().is_empty() {
        start += 1;
    }
    let mut end = start;
    while end < lines.len() && (lines[end].starts_with("    ") || lines[end].trim().is_empty()) {
        end += 1;
    }
    while end > start && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    assert!(end > start, "{marker} is not followed by an indented block");
    (start, end)
}

fn replace_sample(readme: &str, name: &str, output: &str) -> String {
    let (start, end) = sample_range(readme, name);
    let lines: Vec<&str> = readme.lines().collect();
    let block: Vec<String> = output
        .trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect();
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    out.extend(block);
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

fn shape(kind: Kind, text: &str) -> Vec<String> {
    match kind {
        Kind::Table => table_shape(text),
        Kind::Prometheus => prometheus_shape(text),
        Kind::Junit => junit_shape(text),
        Kind::Watch => watch_shape(text),
    }
}

/// Numbers become `N`, codes (`EDB01`) stay as they are.
fn without_numbers(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_letter = i > 0 && chars[i - 1].is_ascii_uppercase();
        if c.is_ascii_digit() && !after_letter {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push('N');
            continue;
        }
        if c.is_ascii_digit() {
            // A code's digits (EDB01): kept with the code.
            while i < chars.len() && chars[i].is_ascii_digit() {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The header cells, every row that has a status (section, status, code), the verdict line, the
/// probable-cause codes and the titles of the remediation blocks.
fn table_shape(text: &str) -> Vec<String> {
    let mut shape = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('│') {
            let cells: Vec<&str> = trimmed
                .trim_matches('│')
                .split('┆')
                .map(str::trim)
                .collect();
            if cells.first() == Some(&"Section") {
                shape.push(format!("header {}", cells.join(" | ")));
            } else if cells.len() >= 3 && !cells[1].is_empty() {
                shape.push(format!("row {} | {} | {}", cells[0], cells[1], cells[2]));
            }
        } else if let Some(cause) = trimmed.strip_prefix("Probable cause: ") {
            shape.push(format!(
                "cause {}",
                cause.split(':').next().unwrap_or_default()
            ));
        } else if is_code_title(trimmed) {
            shape.push(format!("block {trimmed}"));
        } else if trimmed.contains(" OK, ") && trimmed.contains(" error, ") {
            // The counts are the same run after run: how many sections, and how they fared.
            shape.push(format!("verdict {trimmed}"));
        }
    }
    shape
}

/// `EDB01 Database ping failed`: a remediation block's first line.
fn is_code_title(line: &str) -> bool {
    let code = line.split(' ').next().unwrap_or_default();
    code.len() >= 5
        && code.starts_with('E')
        && code.ends_with(|c: char| c.is_ascii_digit())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && line.len() > code.len()
}

/// HELP and TYPE lines as they are; samples as name and labels (numbers aside), without value.
fn prometheus_shape(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            if line.starts_with('#') {
                line.to_string()
            } else {
                let series = line.rsplit_once(' ').map_or(line, |(series, _)| series);
                without_numbers(series)
            }
        })
        .collect()
}

/// Every element with its counting and naming attributes (times, text and messages left out).
fn junit_shape(text: &str) -> Vec<String> {
    const KEPT: [&str; 6] = ["name", "type", "tests", "failures", "errors", "skipped"];
    let mut shape = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let tag: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if tag.is_empty() {
            continue;
        }
        let close = rest.find('>').unwrap_or(rest.len());
        let mut element = tag.clone();
        let mut attrs = &rest[tag.len()..close];
        while let Some(eq) = attrs.find("=\"") {
            let key = attrs[..eq].trim();
            let value_end = attrs[eq + 2..]
                .find('"')
                .map_or(attrs.len(), |e| eq + 2 + e);
            let value = &attrs[eq + 2..value_end];
            if KEPT.contains(&key) {
                element.push_str(&format!(" {key}={value}"));
            }
            attrs = &attrs[(value_end + 1).min(attrs.len())..];
        }
        shape.push(element);
        rest = &rest[close.min(rest.len())..];
    }
    shape
}

/// Each line without its time and without the finding's text.
fn watch_shape(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let change = line.split_once(' ').map_or(line, |(_, change)| change);
            change.split(':').next().unwrap_or_default().to_string()
        })
        .collect()
}
