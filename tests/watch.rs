//! `--watch DUR`: change lines without a terminal, one JSON document per line, the file of
//! `--output` replaced atomically run after run, the screen redrawn on a terminal, the exit code
//! of the last run on SIGTERM or SIGINT, and memory that does not grow from run to run.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::http::{coder_like, fixed_server, path_of, response};
use support::{healthcheck, temp_dir};

/// A running `healthcheck run --watch ...` and the lines of its stdout.
struct Watch {
    child: Child,
    lines: Receiver<String>,
}

impl Watch {
    fn start(args: &[&str]) -> Watch {
        let mut cmd = healthcheck();
        cmd.arg("run").args(args).stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("start healthcheck");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    fn next_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Every line that arrives within `quiet`.
    fn drain(&self, quiet: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        let until = Instant::now() + quiet;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        lines
    }

    /// Sends `signal` and returns the exit code; the process must end promptly.
    fn stop(mut self, signal: &str) -> i32 {
        // The shell's builtin `kill`: no procps needed.
        let status = std::process::Command::new("sh")
            .args(["-c", &format!("kill {signal} {}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().expect("exited, not killed by the signal");
            }
            assert!(Instant::now() < deadline, "still running 5s after {signal}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

/// A test that fails half way must not leave its watch running.
impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/healthz` answers OK until `failing` is set, then 503.
fn switchable_peer() -> (String, Arc<AtomicBool>) {
    let failing = Arc::new(AtomicBool::new(false));
    let flag = failing.clone();
    let port = fixed_server(move |head| match path_of(head) {
        "/healthz" if flag.load(Ordering::SeqCst) => {
            response("503 Service Unavailable", &[], "maintenance")
        }
        "/healthz" => response("200 OK", &[], "OK"),
        _ => response("404 Not Found", &[], ""),
    });
    (format!("http://127.0.0.1:{port}"), failing)
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_peer_turning_unhealthy_gives_exactly_one_change_line() {
    let (url, failing) = switchable_peer();
    let watch = Watch::start(&[
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--watch",
        "50ms",
    ]);
    let sections = healthcheck::report::SectionId::ALL.len();
    let first: Vec<String> = (0..sections)
        .filter_map(|_| watch.next_line(WAIT))
        .collect();
    assert_eq!(
        first.len(),
        sections,
        "the first run states every section: {first:?}"
    );
    assert!(first[0].ends_with(" access-url - -> OK"), "{first:?}");
    assert!(first[1].contains(" websocket - -> SKIPPED: not selected by --only"));
    // Several runs with nothing changed: nothing printed.
    assert_eq!(
        watch.drain(Duration::from_millis(400)),
        Vec::<String>::new()
    );
    failing.store(true, Ordering::SeqCst);
    let change = watch.next_line(WAIT).expect("a change line");
    let (time, rest) = change.split_once(' ').unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{change}"
    );
    assert!(
        rest.starts_with("access-url OK -> WARN EACS04: "),
        "{change}"
    );
    assert!(rest.contains("503"), "{change}");
    assert_eq!(
        watch.drain(Duration::from_millis(400)),
        Vec::<String>::new()
    );
    assert_eq!(watch.stop("-TERM"), 1, "the last run failed");
}

#[test]
fn a_signal_ends_the_watch_with_the_last_runs_exit_code() {
    let (url, _) = switchable_peer();
    let watch = Watch::start(&[
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--watch",
        "30ms",
    ]);
    assert!(watch.next_line(WAIT).is_some());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(watch.stop("-TERM"), 0, "healthy last run");

    let watch = Watch::start(&[
        "--only",
        "access-url",
        "--access-url",
        "http://127.0.0.1:1",
        "--watch",
        "30ms",
    ]);
    let first = watch.next_line(WAIT).unwrap();
    assert!(first.contains("access-url - -> ERROR EACS03"), "{first}");
    assert_eq!(watch.stop("-INT"), 1, "failing last run, Ctrl-C");
}

#[test]
fn json_is_one_document_per_line_per_run() {
    let port = coder_like("v2.18.1");
    let url = format!("http://127.0.0.1:{port}");
    let watch = Watch::start(&[
        "--json",
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--watch",
        "20ms",
    ]);
    let lines: Vec<String> = (0..4).filter_map(|_| watch.next_line(WAIT)).collect();
    assert_eq!(lines.len(), 4);
    let mut times = Vec::new();
    for line in &lines {
        let json: serde_json::Value = serde_json::from_str(line).expect("a JSON document");
        assert_eq!(json["access_url"]["severity"], "ok");
        assert_eq!(json["coder_version"], "v2.18.1");
        times.push(json["time"].as_str().unwrap().to_string());
    }
    let mut sorted = times.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 4, "one document per run: {times:?}");
    assert_eq!(watch.stop("-TERM"), 0);
}

#[test]
fn the_output_file_is_replaced_whole_run_after_run() {
    let port = coder_like("v2.18.1");
    let dir = temp_dir("hc-watch-out-");
    let file = dir.join("coder.prom");
    let watch = Watch::start(&[
        "--format",
        "prometheus",
        "--only",
        "access-url",
        "--access-url",
        &format!("http://127.0.0.1:{port}"),
        "--watch",
        "5ms",
        "--output",
        file.to_str().unwrap(),
    ]);
    let started = Instant::now();
    while !file.exists() {
        assert!(started.elapsed() < WAIT, "no file written");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut versions = std::collections::BTreeSet::new();
    let mut reads = 0;
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        // Once there, the file never goes missing and is never half written.
        let text = std::fs::read_to_string(&file).expect("the file is always there");
        assert!(
            text.starts_with("# HELP coder_healthcheck_healthy "),
            "{text}"
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(
            text.ends_with("\n")
                && last.starts_with("coder_healthcheck_info{")
                && last.ends_with(" 1"),
            "partial file:\n{text}"
        );
        let at = text
            .lines()
            .find(|l| l.starts_with("coder_healthcheck_last_run_timestamp_seconds "))
            .expect("a timestamp")
            .to_string();
        versions.insert(at);
        reads += 1;
    }
    assert!(
        versions.len() >= 10,
        "rewritten each run: {} versions",
        versions.len()
    );
    assert!(reads > versions.len(), "the reader raced the writer");
    assert!(watch.drain(Duration::ZERO).is_empty(), "stdout stays empty");
    assert_eq!(watch.stop("-TERM"), 0);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["coder.prom"], "no temporary files left");
    support::parsers::promtool_check(&std::fs::read_to_string(&file).unwrap());
}

#[test]
fn on_a_terminal_the_screen_is_redrawn_in_place() {
    let port = coder_like("v2.18.1");
    let dir = temp_dir("hc-watch-pty-");
    let log = dir.join("typescript");
    // `timeout` ends the watch with SIGTERM after a few runs; `script` gives it a terminal.
    let command = format!(
        "timeout --preserve-status -s TERM 1.5 {} run --only access-url --access-url http://127.0.0.1:{port} --watch 300ms",
        env!("CARGO_BIN_EXE_healthcheck")
    );
    let mut cmd = healthcheck();
    cmd.args(["-qfec", &command]).arg(&log);
    let mut script = std::process::Command::new("script");
    script.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => script.env(key, v),
            None => script.env_remove(key),
        };
    }
    let status = script.stdout(Stdio::null()).status().expect("run script");
    assert_eq!(status.code(), Some(0), "SIGTERM after healthy runs: exit 0");
    let shown = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    let screens: Vec<&str> = shown.split(healthcheck::watch::CLEAR).skip(1).collect();
    assert!(screens.len() >= 2, "redrawn: {shown:?}");
    let mut times: Vec<&str> = screens
        .iter()
        .map(|s| {
            assert!(s.contains("Access URL"), "a table on every screen: {s}");
            s.split("last run ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
        })
        .collect();
    times.dedup();
    assert!(times.len() >= 2, "each screen names its run: {times:?}");
    assert!(!shown.contains(" - -> OK"), "no change lines on a terminal");
}

#[test]
fn memory_does_not_grow_from_run_to_run() {
    let port = coder_like("v2.18.1");
    let dsn = support::postgres::PgServer::shared().dsn("sslmode=disable");
    let watch = Watch::start(&[
        "--json",
        "--only",
        "access-url,database",
        "--access-url",
        &format!("http://127.0.0.1:{port}"),
        "--postgres-url",
        &dsn,
        "--watch",
        "10ms",
    ]);
    let mut samples = Vec::new();
    for run in 1..=400 {
        let line = watch.next_line(WAIT).expect("a run");
        assert!(line.contains("\"healthy\":true"), "{line}");
        if run % 100 == 0 {
            samples.push(watch.rss_kib());
        }
    }
    eprintln!("RSS after 100, 200, 300, 400 runs (KiB): {samples:?}");
    let (warm, last) = (samples[0], samples[3]);
    // Allocator noise is a few hundred KiB; a leak of even 1 KiB per run would be 300.
    assert!(last <= warm + 1024, "RSS grew: {samples:?}");
    assert_eq!(watch.stop("-TERM"), 0);
}
