//! The real coderd (`coder server` from the pinned release, built by scripts/build-peers into
//! target/peers/coder) on loopback, against a fresh database of the tests' PostgreSQL, with the
//! built-in provisioner daemons running the echo provisioner (no Terraform). Telemetry and the
//! update check are off, so it talks to nothing outside this machine. The first user is created
//! through the API and logged in for an owner session token.
//!
//! Also two switchable network paths for scenarios that must change under a running coderd
//! (its settings are fixed at start): a TCP path to PostgreSQL that can delay every reply, and
//! a UDP path to a STUN server that can go silent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::postgres::{PgServer, PASSWORD, USER};
use super::{free_port, shell_quote, temp_dir};

/// The owner account created through `POST /api/v2/users/first`.
pub const OWNER_EMAIL: &str = "owner@healthcheck.test";
pub const OWNER_PASSWORD: &str = "Conformance-Owner-Pa55word!";

/// Where scripts/build-peers puts the binary.
pub fn binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/coder")
}

pub struct CoderdOptions {
    /// The database (on the shared test PostgreSQL) coderd migrates and uses; created here.
    pub db_name: String,
    /// Port coderd dials for PostgreSQL (a proxy in front of the server, or the server's own).
    pub pg_port: u16,
    /// `--access-url`; `None` means coderd's own listener.
    pub access_url: Option<String>,
    /// coderd's listener port, chosen by the caller when something (nginx) must point at it first.
    pub port: u16,
    /// `--derp-server-stun-addresses` (`disable` for none).
    pub stun: String,
    /// `--provisioner-daemons`.
    pub daemons: u32,
    /// `--health-check-threshold-database`.
    pub db_threshold: &'static str,
}

impl CoderdOptions {
    pub fn new(db_name: &str, stun: &str) -> CoderdOptions {
        CoderdOptions {
            db_name: db_name.to_string(),
            pg_port: PgServer::shared().port,
            access_url: None,
            port: free_port(),
            stun: stun.to_string(),
            daemons: 1,
            db_threshold: "15ms",
        }
    }
}

pub struct Coderd {
    pub port: u16,
    pub access_url: String,
    /// An owner's session token.
    pub token: String,
    /// The DSN of coderd's database as coderd dials it (through the same path).
    pub dsn: String,
    pub dir: PathBuf,
    pub options: CoderdOptions,
    /// The lifeline: closing its stdin stops coderd and removes `dir`.
    lifeline: Mutex<Option<(Child, ChildStdin)>>,
}

impl Coderd {
    pub fn start(options: CoderdOptions) -> Coderd {
        let bin = binary();
        assert!(
            bin.is_file(),
            "the coderd test peer is missing ({}): run scripts/build-peers",
            bin.display()
        );
        PgServer::shared().create_database(&options.db_name);
        let dir = temp_dir("hc-coderd-");
        let port = options.port;
        let listen = format!("http://127.0.0.1:{port}");
        let access_url = options.access_url.clone().unwrap_or(listen);
        let dsn = format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{}?sslmode=disable",
            options.pg_port, options.db_name
        );
        let d = |s: &str| shell_quote(&dir.join(s).display().to_string());
        // Flags as an operator sets them; the environment keeps the machine's CODER_* away.
        let command = format!(
            "env -i PATH=/usr/bin:/bin HOME={home} {bin} server \
             --http-address 127.0.0.1:{port} --access-url {access} --postgres-url {dsn} \
             --telemetry=false --update-check=false --cache-dir {cache} --global-config {config} \
             --provisioner-daemons {daemons} --provisioner-types echo \
             --derp-server-stun-addresses {stun} \
             --health-check-threshold-database {threshold}",
            home = d("home"),
            bin = shell_quote(&bin.display().to_string()),
            access = shell_quote(&access_url),
            dsn = shell_quote(&dsn),
            cache = d("cache"),
            config = d("config"),
            daemons = options.daemons,
            stun = shell_quote(&options.stun),
            threshold = options.db_threshold,
        );
        let lifeline = spawn_with_cleanup(&command, &dir);
        let mut coderd = Coderd {
            port,
            access_url,
            token: String::new(),
            dsn,
            dir,
            options,
            lifeline: Mutex::new(Some(lifeline)),
        };
        coderd.wait_healthz();
        coderd.token = coderd.first_owner_token();
        coderd
    }

    fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.join("coderd.log")).unwrap_or_default();
        // The tail is what explains a failure.
        let start = bytes.len().saturating_sub(6000);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Waits for `/healthz` on coderd's own listener (migrations on a fresh database first).
    fn wait_healthz(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        loop {
            if let Ok(resp) = agent().get(&url).call() {
                if resp.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "coderd did not answer /healthz; log tail:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Creates the first user (the owner) and logs in.
    fn first_owner_token(&self) -> String {
        let first = serde_json::json!({"email": OWNER_EMAIL, "username": "owner",
            "name": "Owner", "password": OWNER_PASSWORD, "trial": false});
        let resp = post_json(&self.api("/api/v2/users/first"), &first);
        if let Err(e) = resp {
            panic!("POST /api/v2/users/first: {}\n{}", e, self.log());
        }
        let login = serde_json::json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD});
        let body = post_json(&self.api("/api/v2/users/login"), &login)
            .unwrap_or_else(|e| panic!("POST /api/v2/users/login: {}", e));
        body["session_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_token in {body}"))
            .to_string()
    }

    /// coderd's own report: `GET /api/v2/debug/health?force=true` as the owner. coderd answers
    /// 503 when its check outlasts its 30 s budget while the check goes on in the background;
    /// asking again joins that same check (coderd runs one at a time), so this retries.
    pub fn health_report(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let resp = agent()
                .get(&self.api("/api/v2/debug/health?force=true"))
                .set("Coder-Session-Token", &self.token)
                .call();
            match resp {
                Ok(resp) => return json_body(resp),
                Err(ureq::Error::Status(503, _)) if Instant::now() < deadline => continue,
                Err(e) => panic!("GET /api/v2/debug/health: {}", describe(e)),
            }
        }
    }

    /// coderd's `/api/v2/buildinfo` version.
    pub fn version(&self) -> String {
        let resp = agent()
            .get(&self.api("/api/v2/buildinfo"))
            .call()
            .unwrap_or_else(|e| panic!("GET /api/v2/buildinfo: {}", describe(e)));
        let body = json_body(resp);
        body["version"].as_str().unwrap().to_string()
    }

    /// The `healthcheck run` arguments that describe this deployment as coderd is configured.
    pub fn args(&self) -> Vec<String> {
        [
            "--access-url",
            &self.access_url,
            "--postgres-url",
            &self.dsn,
            "--token",
            &self.token,
            "--derp-server-stun-addresses",
            &self.options.stun,
            "--health-check-threshold-database",
            self.options.db_threshold,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// A superuser connection to coderd's database (for assertions about what coderd wrote).
    pub fn db(&self) -> postgres::Client {
        PgServer::shared().superuser_on(&self.options.db_name)
    }
}

impl Drop for Coderd {
    fn drop(&mut self) {
        // Closing the pipe makes the lifeline shell stop coderd and remove its directory.
        if let Some((mut child, stdin)) = self.lifeline.lock().unwrap().take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

fn post_json(url: &str, body: &Value) -> Result<Value, String> {
    let resp = agent()
        .post(url)
        .set("Content-Type", "application/json")
        .send_string(&body.to_string())
        .map_err(describe)?;
    Ok(json_body(resp))
}

fn json_body(resp: ureq::Response) -> Value {
    let url = resp.get_url().to_string();
    let text = resp.into_string().expect("read the body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, resp) => {
            format!("HTTP {code}: {}", resp.into_string().unwrap_or_default())
        }
        other => other.to_string(),
    }
}

/// Like `spawn_with_lifeline`, but the shell also removes `dir` once the server has stopped,
/// whether the pipe closed because the value was dropped or because the test binary exited.
fn spawn_with_cleanup(command: &str, dir: &Path) -> (Child, ChildStdin) {
    let log = shell_quote(&dir.join("coderd.log").display().to_string());
    let script = format!(
        "{command} >{log} 2>&1 & pid=$!; echo $pid; read _ignored; kill -TERM $pid 2>/dev/null; \
         for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || break; sleep 0.5; done; \
         kill -KILL $pid 2>/dev/null; wait; rm -rf {dir}",
        dir = shell_quote(&dir.display().to_string())
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
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read pid");
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// A TCP path to `target_port` whose server-to-client direction can be delayed at run time
/// (milliseconds per chunk; 0 passes through at once).
pub struct DelayPath {
    pub port: u16,
    delay_ms: Arc<AtomicU64>,
}

impl DelayPath {
    pub fn start(target_port: u16) -> DelayPath {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let none = Arc::new(AtomicU64::new(0));
                std::thread::spawn(move || pump(client, server, none));
                let delay = delay.clone();
                std::thread::spawn(move || pump(s2, c2, delay));
            }
        });
        DelayPath { port, delay_ms }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay_ms: Arc<AtomicU64>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let delay = delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    std::thread::sleep(Duration::from_millis(delay));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A UDP path to a STUN server that can be switched silent: while silent it reads requests and
/// answers nothing, as a firewalled or dead STUN port does. Like a NAT, it keeps one upstream
/// socket per client address, so the server sees one stable mapping per client (a new port per
/// packet would look like a hard NAT to netcheck).
pub struct StunPath {
    pub port: u16,
    silent: Arc<AtomicBool>,
}

impl StunPath {
    pub fn start(target_port: u16) -> StunPath {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let silent = Arc::new(AtomicBool::new(false));
        let quiet = silent.clone();
        std::thread::spawn(move || {
            let mut upstreams: HashMap<SocketAddr, UdpSocket> = HashMap::new();
            let mut buf = [0u8; 2048];
            loop {
                let Ok((n, client)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if quiet.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstreams.entry(client).or_insert_with(|| {
                    let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
                    let (back, answers) =
                        (socket.try_clone().unwrap(), upstream.try_clone().unwrap());
                    // Answers go back to this client for as long as the process lives.
                    std::thread::spawn(move || {
                        let mut answer = [0u8; 2048];
                        while let Ok((m, _)) = answers.recv_from(&mut answer) {
                            let _ = back.send_to(&answer[..m], client);
                        }
                    });
                    upstream
                });
                let _ = upstream.send_to(&buf[..n], ("127.0.0.1", target_port));
            }
        });
        StunPath { port, silent }
    }

    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
