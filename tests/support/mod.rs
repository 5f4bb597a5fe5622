//! Real peers and helpers shared by the integration tests. Every server binds a free port on
//! loopback and lives in a temp dir; long-lived servers are tied to the test process by a
//! "lifeline" pipe, so they stop when the test binary exits, however it exits.
#![allow(dead_code)]

pub mod certs;
pub mod chain;
pub mod coder_schema;
pub mod coderd;
pub mod coturn;
pub mod deployment;
// Drives the demo example; integration tests only (examples have no CARGO_BIN_EXE_*).
#[cfg(test)]
pub mod demo;
pub mod derp_relay;
pub mod derper;
pub mod fake_pg;
pub mod firewall;
pub mod http;
pub mod measure;
pub mod nginx;
pub mod parsers;
pub mod pg_faults;
pub mod pgbouncer;
pub mod postgres;
pub mod report_schema;
pub mod tailcat_relay;
pub mod tcp;
pub mod tinyproxy;
pub mod ws_server;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
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
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let home = HOME.get_or_init(|| temp_dir("hc-home-"));
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HEALTHCHECK_ENV_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run healthcheck");
    // A run that hangs is killed, so its test fails with what it printed instead of holding CI.
    let pid = child.id();
    let (finished, watched) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watched.recv_timeout(RUN_LIMIT) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let out = child.wait_with_output().expect("wait for healthcheck");
    let _ = finished.send(());
    let _ = watchdog.join();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// No run in the suite should come near this; one that does is hung.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs `healthcheck run --json ARGS`.
pub fn run_json(args: &[&str]) -> Output {
    let mut cmd = healthcheck();
    cmd.arg("run").arg("--json").args(args);
    run(cmd)
}

/// Keeps background servers alive for the life of the test process: each holds the write end
/// of a pipe whose reader (a shell) stops the server when it sees end of file.
static LIFELINES: Mutex<Vec<(Child, ChildStdin)>> = Mutex::new(Vec::new());

/// Starts `command` (a shell command line that runs the server in the foreground) so that it is
/// stopped when this process exits, however it exits. Output goes to `log`. The server's
/// directory (the test dir that holds `log`) is removed once the server has stopped, unless
/// `HEALTHCHECK_KEEP_TEST_DIRS=1`. The shell and the server get a process group of their own, so a
/// Ctrl-C in the terminal reaches this process only and the lifeline still does the stopping.
pub fn spawn_with_lifeline(command: &str, log: &Path) -> u32 {
    let remove = match dir_holding(log) {
        Some(dir) if !keep_test_dirs() => {
            format!("rm -rf {}", shell_quote(&dir.display().to_string()))
        }
        _ => ":".to_string(),
    };
    // TERM stops nginx, coturn and the relays; INT is PostgreSQL's fast shutdown (TERM would wait
    // for its clients). A server still running after 5 s is killed.
    let script = format!(
        "{command} >{log} 2>&1 & pid=$!; echo $pid; read _ignored; \
         kill -TERM $pid 2>/dev/null; kill -INT $pid 2>/dev/null; \
         ( sleep 5; kill -KILL $pid 2>/dev/null ) & watchdog=$!; \
         wait $pid; kill $watchdog 2>/dev/null; {remove}",
        log = shell_quote(&log.display().to_string())
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .process_group(0)
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
    lock(&LIFELINES).push((child, stdin));
    clean_up_at_exit();
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

/// Set to `1` to keep the test dirs (servers' data, configuration and logs) for a post-mortem.
pub const KEEP_TEST_DIRS: &str = "HEALTHCHECK_KEEP_TEST_DIRS";

/// Whether [`KEEP_TEST_DIRS`] asks to keep the test dirs.
pub fn keep_test_dirs() -> bool {
    keep_requested(std::env::var(KEEP_TEST_DIRS).ok().as_deref())
}

/// The value of [`KEEP_TEST_DIRS`] that keeps the dirs: exactly `1`.
pub fn keep_requested(value: Option<&str>) -> bool {
    value == Some("1")
}

/// A directory under the system temp dir, removed with everything in it when the guard drops,
/// unless it was created with keeping asked for (then its path is printed to stderr).
pub struct TestDir {
    path: PathBuf,
    keep: bool,
}

impl TestDir {
    /// A fresh directory whose name starts with `prefix`; kept when [`keep_test_dirs`].
    pub fn new(prefix: &str) -> TestDir {
        TestDir::with_keep(prefix, keep_test_dirs())
    }

    pub fn with_keep(prefix: &str, keep: bool) -> TestDir {
        let path = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir")
            .keep();
        TestDir { path, keep }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("{KEEP_TEST_DIRS}=1: kept {}", self.path.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// The dirs handed out by [`temp_dir`], removed when the process exits.
static TEST_DIRS: Mutex<Vec<TestDir>> = Mutex::new(Vec::new());

/// A temp dir for the rest of this process: servers started in it are shared by the tests of one
/// binary, so it goes when the process exits (after the servers have stopped), not when one test
/// ends. Use [`TestDir`] for a dir that goes with its guard.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = TestDir::new(prefix);
    let path = dir.path().to_path_buf();
    lock(&TEST_DIRS).push(dir);
    clean_up_at_exit();
    path
}

/// Every dir [`temp_dir`] has handed out and not yet removed.
pub fn test_dirs() -> Vec<PathBuf> {
    lock(&TEST_DIRS)
        .iter()
        .map(|dir| dir.path().to_path_buf())
        .collect()
}

/// The registered test dir that holds `path`, if any.
fn dir_holding(path: &Path) -> Option<PathBuf> {
    lock(&TEST_DIRS)
        .iter()
        .find(|dir| path.starts_with(dir.path()))
        .map(|dir| dir.path().to_path_buf())
}

/// Stops every server started with [`spawn_with_lifeline`] (waiting until each has stopped and
/// its dir is gone), then removes every dir of [`temp_dir`]. Runs when the process exits; the
/// demo also calls it on Ctrl-C. A second call finds nothing left to do.
pub fn stop_servers_and_remove_dirs() {
    let lifelines = std::mem::take(&mut *lock(&LIFELINES));
    let dirs = std::mem::take(&mut *lock(&TEST_DIRS));
    stop_and_remove(lifelines, dirs);
}

fn stop_and_remove(lifelines: Vec<(Child, ChildStdin)>, dirs: Vec<TestDir>) {
    let mut children = Vec::new();
    for (child, stdin) in lifelines {
        drop(stdin); // the shell reads end of file and stops its server
        children.push(child);
    }
    for mut child in children {
        let _ = child.wait();
    }
    drop(dirs);
}

/// Registers [`stop_servers_and_remove_dirs`] to run when the process exits (once).
fn clean_up_at_exit() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn at_exit() {
        // A thread that still holds a lock at exit would block the exit for ever: leave its part
        // to the lifelines (the servers stop and their dirs go on end of file all the same).
        stop_and_remove(take_unless_held(&LIFELINES), take_unless_held(&TEST_DIRS));
    }
    REGISTERED.call_once(|| {
        // SAFETY: registers a plain function with the C library, as atexit(3) expects.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

fn take_unless_held<T>(mutex: &Mutex<Vec<T>>) -> Vec<T> {
    match mutex.try_lock() {
        Ok(mut items) => std::mem::take(&mut *items),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => {
            std::mem::take(&mut *poisoned.into_inner())
        }
        Err(std::sync::TryLockError::WouldBlock) => Vec::new(),
    }
}

/// A lock that survives a test that panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Coder's six sections, by their report keys.
pub const CODER_SECTIONS: [&str; 6] = [
    "access_url",
    "websocket",
    "database",
    "derp",
    "workspace_proxy",
    "provisioner_daemons",
];

/// The daemon names of a `provisioner_daemons` report, in its order.
pub fn daemon_names(section: &serde_json::Value) -> Vec<String> {
    section["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["provisioner_daemon"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A DERP node report in which both clients finished the handshake (ServerKey, ClientInfo,
/// ServerInfo) over `Upgrade: DERP`, exchanged a packet and measured the round trip, with
/// nothing to warn about.
pub fn assert_node_exchanged(node: &serde_json::Value) {
    use serde_json::json;
    assert_eq!(node["healthy"], true, "{node:#}");
    assert_eq!(node["can_exchange_messages"], true, "{node:#}");
    assert_eq!(node["uses_websocket"], false, "{node:#}");
    assert_eq!(node["warnings"], json!([]), "{node:#}");
    assert_eq!(node["client_errs"], json!([[], []]), "{node:#}");
    let logs = node["client_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "{node:#}");
    for log in logs {
        let connected = log.as_array().unwrap().iter().any(|l| {
            l.as_str()
                .is_some_and(|l| l.starts_with("connected; server key"))
        });
        assert!(connected, "{node:#}");
    }
    let rtt = node["round_trip_ping"].as_str().unwrap();
    assert!(rtt.ends_with("ms") || rtt.ends_with("µs"), "{rtt}");
    assert!(
        node["round_trip_ping_ms"].as_u64().unwrap() < 1000,
        "{node:#}"
    );
}
