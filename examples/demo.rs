//! A Coder deployment on loopback to try `healthcheck` against, made of the tests' own peers
//! (tests/support): nginx in front of a Coder look-alike with the DERP relay at `/derp`, coturn
//! for STUN, PostgreSQL with Coder's schema and a provisioner daemon whose heartbeat is kept fresh.
//! It prints the `healthcheck run` command for it and serves until Ctrl-C (or SIGTERM), which
//! stops every server and removes the temp dirs. `scripts/demo` builds and runs it.
//!
//!     demo [--broken database|websocket|stun] [--healthcheck PATH]
//!
//! `--broken` breaks one thing: `database` stops PostgreSQL, `websocket` makes nginx drop the
//! `Upgrade` and `Connection` headers, `stun` points at a STUN server that never answers.
//! `--healthcheck` is the binary the printed command names (default: `healthcheck`).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use support::coturn::silent_udp;
use support::deployment::Deployment;
use support::postgres::PgServer;
use support::shell_quote;

const TOKEN: &str = "demo-owner-Token-4242";
/// Coder calls a daemon stale after 90 s without a heartbeat; this stays well inside.
const HEARTBEAT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Broken {
    Database,
    Websocket,
    Stun,
}

impl Broken {
    fn parse(value: &str) -> Result<Broken, String> {
        match value {
            "database" => Ok(Broken::Database),
            "websocket" => Ok(Broken::Websocket),
            "stun" => Ok(Broken::Stun),
            other => Err(format!(
                "--broken {other:?}: expected one of database, websocket, stun"
            )),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Broken::Database => "database: PostgreSQL is stopped",
            Broken::Websocket => {
                "websocket: nginx drops the Upgrade and Connection headers (WebSocket and DERP)"
            }
            Broken::Stun => "stun: the STUN address points at a server that never answers",
        }
    }

    /// What the printed command then shows (checked by tests/demo.rs).
    fn expected(self) -> &'static str {
        match self {
            Broken::Database => {
                "exit 1, EDB01 (and the Workspace Proxies and Provisioner Daemons errors it explains)"
            }
            Broken::Websocket => "exit 1, EWS01 (and EDERP01: DERP falls back to WebSocket)",
            Broken::Stun => "exit 1, ESTUN01 (the silent STUN node is an error row)",
        }
    }
}

struct Options {
    broken: Option<Broken>,
    healthcheck: String,
}

const USAGE: &str = "usage: demo [--broken database|websocket|stun] [--healthcheck PATH]";

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        broken: None,
        healthcheck: "healthcheck".to_string(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--broken" => options.broken = Some(Broken::parse(&value()?)?),
            "--healthcheck" => options.healthcheck = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("demo: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    // Before anything starts, so a Ctrl-C during start-up also cleans up.
    let (stop_tx, stop_rx) = channel();
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).expect("handle SIGINT and SIGTERM");
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = stop_tx.send(signal);
        }
    });

    println!("healthcheck demo: starting a Coder deployment on loopback (the tests' own peers)...");
    let deployment =
        Deployment::start_with("demo", TOKEN, options.broken != Some(Broken::Websocket));
    let mut args = deployment.args();
    let mut stun = format!("coturn on {}/udp", deployment.stun.addr());
    if options.broken == Some(Broken::Stun) {
        let silent = format!("127.0.0.1:{}", silent_udp());
        stun = format!("{silent}/udp, which never answers (coturn is unused)");
        let at = args
            .iter()
            .position(|a| a == "--derp-server-stun-addresses")
            .expect("the deployment names its STUN server");
        args[at + 1] = silent;
    }
    let pg = PgServer::shared();
    if options.broken == Some(Broken::Database) {
        stop_postgres(pg);
    }

    println!(
        "  access URL   {}  (nginx -> a Coder look-alike; the DERP relay at /derp)",
        deployment.nginx.url()
    );
    println!(
        "  database     PostgreSQL on 127.0.0.1:{}, Coder's schema, database \"demo\"",
        pg.port
    );
    println!("  STUN         {stun}");
    println!(
        "  daemon       provisioner daemon \"built-in\", heartbeat every {} s",
        HEARTBEAT.as_secs()
    );
    let dirs: Vec<String> = support::test_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    println!("  temp dirs    {}", dirs.join(" "));
    if let Some(broken) = options.broken {
        println!("  broken       {}", broken.describe());
    }
    let quoted: Vec<String> = args.iter().map(|a| quote_if_needed(a)).collect();
    println!();
    println!("Check it from another terminal:");
    println!();
    println!(
        "    {} run {}",
        quote_if_needed(&options.healthcheck),
        quoted.join(" ")
    );
    println!();
    match options.broken {
        Some(broken) => println!("Expected: {}.", broken.expected()),
        None => {
            println!("Expected: exit 0, every section OK (TLS Certificates skipped: no TLS here).")
        }
    }
    println!("Add --json, -v or --format prometheus to see the other outputs.");
    println!("Ctrl-C here stops everything and removes the temp dirs.");

    let mut last_beat = Instant::now();
    let mut beat_failed = false;
    loop {
        let wait = HEARTBEAT.saturating_sub(last_beat.elapsed());
        match stop_rx.recv_timeout(wait) {
            Ok(_) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                last_beat = Instant::now();
                // With the database stopped on purpose there is no heartbeat to keep.
                if options.broken != Some(Broken::Database)
                    && !heartbeat(&deployment)
                    && !beat_failed
                {
                    eprintln!(
                        "demo: the daemon's heartbeat could not be written; it will go stale"
                    );
                    beat_failed = true;
                }
            }
        }
    }
    println!(
        "demo: stopping the servers and removing {} temp dirs...",
        dirs.len()
    );
    support::stop_servers_and_remove_dirs();
    println!("demo: stopped.");
}

/// Keeps the daemon fresh, as a running provisioner daemon does.
fn heartbeat(deployment: &Deployment) -> bool {
    let result = std::panic::catch_unwind(|| {
        deployment
            .db
            .client()
            .batch_execute("UPDATE provisioner_daemons SET last_seen_at = now()")
    });
    matches!(result, Ok(Ok(())))
}

/// Stops PostgreSQL (fast shutdown) and waits until its port refuses connections.
fn stop_postgres(pg: &PgServer) {
    let pid_file = pg.dir.join("data/postmaster.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no PostgreSQL pid in {}", pid_file.display()));
    // SAFETY: kill(2) with a pid read from PostgreSQL's own pid file and a valid signal.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", pg.port)).is_ok() {
        assert!(Instant::now() < deadline, "PostgreSQL did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Shell-quotes only what needs it, so the printed command stays readable.
fn quote_if_needed(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c));
    if plain {
        arg.to_string()
    } else {
        shell_quote(arg)
    }
}
