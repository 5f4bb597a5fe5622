//! Real peers and helpers shared by the integration tests. Every server binds a free port on
//! loopback and lives in a temp dir; long-lived servers are tied to the test process by a
//! "lifeline" pipe, so they stop when the test binary exits, however it exits.
#![allow(dead_code)]

pub mod certs;
pub mod coder_schema;
pub mod coderd;
pub mod coturn;
pub mod deployment;
pub mod derp_relay;
pub mod derper;
pub mod fake_pg;
pub mod http;
pub mod measure;
pub mod nginx;
pub mod parsers;
pub mod postgres;
pub mod report_schema;
pub mod tailcat_relay;
pub mod tcp;
pub mod tinyproxy;
pub mod ws_server;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (the listener is closed before the port is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// The output of one `healthcheck` invocation.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Everything the process printed, for secret greps.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The codes of a `warnings` array, in order.
pub fn warning_codes(warnings: &serde_json::Value) -> Vec<String> {
    warnings
        .as_array()
        .unwrap_or_else(|| panic!("warnings must be an array: {warnings}"))
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect()
}

/// `healthcheck` with a hermetic environment: no inherited Coder settings, no env file, no
/// discovery, no colour.
pub fn healthcheck() -> Command {
    // Set by cargo for integration tests; the bench example shares this module without it.
    let binary = option_env!("CARGO_BIN_EXE_healthcheck").unwrap_or("healthcheck");
    let mut cmd = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("CODER_") || key.starts_with("HEALTHCHECK_") || key.starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    // Proxies of the machine running the tests are not the deployment's.
    for key in ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD"] {
        cmd.env_remove(key).env_remove(key.to_ascii_lowercase());
    }
    let home = std::env::temp_dir().join("healthcheck-test-home-empty");
    let _ = std::fs::create_dir_all(&home);
    cmd.env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HEALTHCHECK_ENV_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    let started = Instant::now();
    let out = cmd.output().expect("run healthcheck");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Runs `healthcheck run --json ARGS`.
pub fn run_json(args: &[&str]) -> Output {
    let mut cmd = healthcheck();
    cmd.arg("run").arg("--json").args(args);
    run(cmd)
}

/// Keeps background servers alive for the life of the test process: each holds the write end
/// of a pipe whose reader (a shell) kills the server when it sees end of file.
static LIFELINES: Mutex<Vec<(Child, ChildStdin)>> = Mutex::new(Vec::new());

/// Starts `command` (a shell command line that runs the server in the foreground) so that it is
/// stopped when this process exits. Output goes to `log`.
pub fn spawn_with_lifeline(command: &str, log: &Path) -> u32 {
    let script = format!(
        "{command} >{log} 2>&1 & pid=$!; echo $pid; read _ignored; kill -TERM $pid 2>/dev/null; \
         sleep 1; kill -KILL $pid 2>/dev/null; wait",
        log = shell_quote(&log.display().to_string())
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sh");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read pid");
    let stdin = child.stdin.take().unwrap();
    LIFELINES.lock().unwrap().push((child, stdin));
    line.trim().parse().unwrap_or(0)
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Waits until something accepts TCP connections on the port.
pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start on port {port}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A temp dir that outlives the test (servers keep using it); cleaned by the OS.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
        .keep();
    dir
}
