//! The demo (examples/demo.rs) as a newcomer runs it: started, its printed command run, Ctrl-C.
//! Its temp dirs live under a TMPDIR of the harness's own, so "everything removed" is exact.
//! For integration tests only (`cfg(test)` in mod.rs): examples have no `CARGO_BIN_EXE_*`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use super::{Output, TestDir};

pub const HEALTHCHECK: &str = env!("CARGO_BIN_EXE_healthcheck");

/// The example's binary, built on demand (`cargo test --test demo` builds only this file).
pub fn demo_binary() -> PathBuf {
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

pub struct Demo {
    child: Child,
    lines: Receiver<String>,
    /// What it printed up to "Ctrl-C here ...".
    pub banner: Vec<String>,
    tmp: TestDir,
}

impl Demo {
    pub fn start(args: &[&str]) -> Demo {
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
    pub fn command(&self) -> String {
        let lines: Vec<&String> = self
            .banner
            .iter()
            .filter(|l| l.trim_start().starts_with(&format!("{HEALTHCHECK} run ")))
            .collect();
        assert_eq!(lines.len(), 1, "{}", self.banner.join("\n"));
        lines[0].trim().to_string()
    }

    /// The printed command's arguments after `run`, as a shell would split them.
    pub fn args(&self) -> Vec<String> {
        let words = shell_words(&self.command());
        assert_eq!(words.get(1).map(String::as_str), Some("run"), "{words:?}");
        words[2..].to_vec()
    }

    /// The temp dir of one of its servers (`hc-nginx-`, `hc-pg-`, ...).
    pub fn dir_of(&self, prefix: &str) -> PathBuf {
        self.dirs()
            .into_iter()
            .find(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no {prefix} dir in {:?}", self.dirs()))
    }

    /// The line after "Expected: ".
    pub fn expected(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("Expected: "))
            .unwrap_or_else(|| panic!("no Expected line:\n{}", self.banner.join("\n")))
            .to_string()
    }

    /// The temp dirs it says it uses.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let line = self
            .banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix("temp dirs"))
            .unwrap_or_else(|| panic!("no temp dirs line:\n{}", self.banner.join("\n")));
        line.split_whitespace().map(PathBuf::from).collect()
    }

    /// Runs the printed command as a user would paste it into a shell, plus `extra`.
    pub fn run(&self, extra: &str) -> Output {
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
        super::run(cmd)
    }

    /// Ctrl-C, then: it exits 0, says it stopped, and nothing of it is left.
    pub fn interrupt(mut self) {
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
pub fn codes(json: &serde_json::Value) -> Vec<String> {
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

/// Splits a command line the way sh does for the words the demo prints: plain words and
/// single-quoted ones (with `'\''` for a quote inside).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
