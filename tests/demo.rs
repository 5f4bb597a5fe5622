//! The demo (examples/demo.rs, run by scripts/demo) as a newcomer uses it: start it, run the
//! command it prints, read the verdict, press Ctrl-C. Its temp dirs live under a TMPDIR of this
//! test's own, so "everything removed" is checked exactly.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use support::postgres::PASSWORD;
use support::{Output, TestDir};

const HEALTHCHECK: &str = env!("CARGO_BIN_EXE_healthcheck");

/// The example's binary, built on demand (`cargo test --test demo` builds only this file).
fn demo_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--example", "demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Set by cargo for this test's run, not for a build from a shell: passed on, they would
    // make this build differ from the others (ring's build script, the support module) and
    // recompile half the dependencies, back and forth.
    for (key, _) in std::env::vars() {
        let cargo_run_env = ["CARGO_BIN_EXE_", "CARGO_MANIFEST_", "CARGO_PKG_"]
            .iter()
            .any(|prefix| key.starts_with(prefix));
        if cargo_run_env || key == "LD_LIBRARY_PATH" {
            build.env_remove(key);
        }
    }
    let status = build.status().expect("run cargo build --example demo");
    assert!(status.success(), "cargo build --example demo failed");
    let binary = Path::new(HEALTHCHECK).with_file_name("examples/demo");
    assert!(binary.exists(), "{} was not built", binary.display());
    binary
}

struct Demo {
    child: Child,
    lines: Receiver<String>,
    /// What it printed up to "Ctrl-C here ...".
    banner: Vec<String>,
    tmp: TestDir,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let tmp = TestDir::new("hc-demo-tmp-");
        // PostgreSQL runs as its own user and must reach its dir inside.
        let _ = Command::new("chmod").arg("755").arg(tmp.path()).status();
        let mut child = Command::new(demo_binary())
            .args(args)
            .args(["--healthcheck", HEALTHCHECK])
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the demo");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child,
            lines,
            banner: Vec::new(),
            tmp,
        };
        loop {
            let line = demo
                .lines
                .recv_timeout(Duration::from_secs(90))
                .unwrap_or_else(|_| {
                    panic!("the demo did not get ready:\n{}", demo.banner.join("\n"))
                });
            let done = line.starts_with("Ctrl-C here");
            demo.banner.push(line);
            if done {
                return demo;
            }
        }
    }

    /// The printed command line.
    fn command(&self) -> String {
        let lines: Vec<&String> = self
            .banner
            .iter()
            .filter(|l| l.trim_start().starts_with(&format!("{HEALTHCHECK} run ")))
            .collect();
        assert_eq!(lines.len(), 1, "{}", self.banner.join("\n"));
        lines[0].trim().to_string()
    }

    /// The line after "Expected: ".
    fn expected(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("Expected: "))
            .unwrap_or_else(|| panic!("no Expected line:\n{}", self.banner.join("\n")))
            .to_string()
    }

    /// The temp dirs it says it uses.
    fn dirs(&self) -> Vec<PathBuf> {
        let line = self
            .banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix("temp dirs"))
            .unwrap_or_else(|| panic!("no temp dirs line:\n{}", self.banner.join("\n")));
        line.split_whitespace().map(PathBuf::from).collect()
    }

    /// Runs the printed command as a user would paste it into a shell, plus `extra`.
    fn run(&self, extra: &str) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("{} {extra}", self.command()));
        for (key, _) in std::env::vars() {
            if key.starts_with("CODER_") || key.starts_with("HEALTHCHECK_") || key.starts_with("PG")
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("HEALTHCHECK_ENV_FILE", "/dev/null")
            .env("NO_COLOR", "1");
        support::run(cmd)
    }

    /// Ctrl-C, then: it exits 0, says it stopped, and nothing of it is left.
    fn interrupt(mut self) {
        let dirs = self.dirs();
        assert!(!dirs.is_empty());
        for dir in &dirs {
            assert!(dir.starts_with(self.tmp.path()), "{}", dir.display());
            assert!(dir.exists(), "{}", dir.display());
        }
        // SAFETY: kill(2) on our own child's pid with a valid signal.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the demo ignored Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let rest: Vec<String> = self.lines.try_iter().collect();
        assert!(status.success(), "{status}: {}", rest.join("\n"));
        assert_eq!(
            rest.last().map(String::as_str),
            Some("demo: stopped."),
            "{rest:?}"
        );
        let left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path().display().to_string())
            .collect();
        assert_eq!(left, Vec::<String>::new(), "left behind after Ctrl-C");
        let running = Command::new("pgrep")
            .arg("-af")
            .arg(self.tmp.path().display().to_string())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&running.stdout),
            "",
            "still running"
        );
    }
}

/// Every code of a JSON report: section errors ("CODE: ...") and warnings.
fn codes(json: &serde_json::Value) -> Vec<String> {
    let mut codes = Vec::new();
    for (_, section) in json.as_object().unwrap() {
        if let Some(error) = section.get("error").and_then(|e| e.as_str()) {
            if let Some((code, _)) = error.split_once(':') {
                if code.starts_with('E') && !code.contains(' ') {
                    codes.push(code.to_string());
                }
            }
        }
        if let Some(warnings) = section.get("warnings").and_then(|w| w.as_array()) {
            codes.extend(
                warnings
                    .iter()
                    .filter_map(|w| w["code"].as_str().map(String::from)),
            );
        }
    }
    codes
}

/// The demo's own prediction ("exit N, CODE ...") must match what the command does.
fn assert_prediction(demo: &Demo, table: &Output, json: &serde_json::Value) {
    let expected = demo.expected();
    let exit: i32 = expected
        .strip_prefix("exit ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("Expected line without an exit code: {expected}"));
    assert_eq!(table.code, exit, "{expected}\n{}", table.stdout);
    let found = codes(json);
    for word in expected.split(|c: char| !c.is_ascii_alphanumeric()) {
        let is_code = word.len() > 2
            && word.starts_with('E')
            && word.ends_with(|c: char| c.is_ascii_digit())
            && word[1..]
                .chars()
                .take_while(char::is_ascii_uppercase)
                .count()
                >= 2;
        if is_code {
            assert!(
                found.iter().any(|c| c == word),
                "{word} predicted, found {found:?}"
            );
            assert!(
                table.stdout.contains(word),
                "{word} not in the table:\n{}",
                table.stdout
            );
        }
    }
}

#[test]
fn the_healthy_demo_passes_and_ctrl_c_removes_everything() {
    let demo = Demo::start(&[]);
    let table = demo.run("");
    assert_eq!(table.code, 0, "{}\n{}", table.stdout, table.stderr);
    let last = table.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("6 OK, 0 warning, 0 error, 1 skipped"),
        "{}",
        table.stdout
    );
    let out = demo.run("--json");
    let json = out.json();
    assert_eq!(json["healthy"], true, "{}", out.stdout);
    assert_eq!(codes(&json), Vec::<String>::new());
    assert_eq!(
        json["provisioner_daemons"]["items"][0]["provisioner_daemon"]["name"],
        "built-in"
    );
    assert!(
        !out.all().contains(PASSWORD),
        "the report shows the password"
    );
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn a_stopped_database_gives_edb01() {
    let demo = Demo::start(&["--broken", "database"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    assert!(
        json["database"]["error"]
            .as_str()
            .unwrap()
            .starts_with("EDB01: "),
        "{json}"
    );
    assert_eq!(json["diagnosis"][0]["code"], "EDB01", "{json}");
    assert_eq!(json["access_url"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn dropped_upgrade_headers_give_ews01() {
    let demo = Demo::start(&["--broken", "websocket"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    let error = json["websocket"]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("EWS01: "), "{json}");
    assert!(error.contains("Upgrade"), "{error}");
    assert_eq!(json["database"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn a_silent_stun_server_gives_estun01() {
    let demo = Demo::start(&["--broken", "stun"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    assert_eq!(
        support::warning_codes(&json["derp"]["warnings"]),
        ["ESTUN01"],
        "{json}"
    );
    assert_eq!(json["websocket"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn an_unknown_breakage_is_a_usage_error() {
    let out = support::run({
        let mut cmd = Command::new(demo_binary());
        cmd.args(["--broken", "disk"]);
        cmd
    });
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("--broken \"disk\": expected one of database, websocket, stun"),
        "{}",
        out.stderr
    );
}
