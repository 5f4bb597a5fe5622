//! A broken deployment costs one `--timeout`, not one per section: the sections' network work
//! runs at once, the results keep the fixed section order, and the database sections share one
//! connection.

mod support;

use std::time::Duration;

use support::coder_schema::{CoderDb, Generation, Seen};
use support::coturn::silent_udp;
use support::http::{coder_like, stall_server};
use support::postgres::PgServer;
use support::ws_server::VERSION;
use support::{healthcheck, run, run_json, Output};

const TIMEOUT: Duration = Duration::from_secs(2);

fn codes_of(section: &serde_json::Value) -> String {
    format!(
        "{} {}",
        section["error"].as_str().unwrap_or_default(),
        section["warnings"]
    )
}

/// The run ended within the timeout plus a second (the runner's own margin is half a second).
fn assert_one_timeout(out: &Output) {
    assert!(
        out.elapsed < TIMEOUT + Duration::from_secs(1),
        "took {:?}\n{}",
        out.elapsed,
        out.all()
    );
}

#[test]
fn every_peer_silent_costs_one_timeout_and_each_section_says_why() {
    let web = stall_server();
    let db = stall_server();
    let stun = silent_udp();
    let out = run_json(&[
        "--access-url",
        &format!("http://127.0.0.1:{web}"),
        "--postgres-url",
        &format!("postgres://coder:pw@127.0.0.1:{db}/coder?sslmode=disable"),
        "--token",
        "silent-peer-token",
        "--derp-server-stun-addresses",
        &format!("127.0.0.1:{stun}"),
        "--timeout",
        "2s",
    ]);
    assert_one_timeout(&out);
    assert_eq!(out.code, 1);
    let json = out.json();
    let error = |section: &str| {
        json[section]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        error("access_url").starts_with("EACS03: "),
        "{}",
        json["access_url"]
    );
    assert!(
        error("websocket").starts_with("EWS01: "),
        "{}",
        json["websocket"]
    );
    assert!(
        error("database").starts_with("EDB01: "),
        "{}",
        json["database"]
    );
    assert!(
        error("workspace_proxy").starts_with("EWP02: "),
        "{}",
        json["workspace_proxy"]
    );
    assert!(
        error("provisioner_daemons").starts_with("error fetching provisioner daemons: "),
        "{}",
        json["provisioner_daemons"]
    );
    // No section was abandoned: each one ended on its own deadline with its own finding.
    for section in [
        "access_url",
        "websocket",
        "database",
        "derp",
        "workspace_proxy",
    ] {
        assert!(
            !codes_of(&json[section]).contains("EUNKNOWN"),
            "{section}: {}",
            json[section]
        );
    }
    let relay = &json["derp"]["regions"]["999"]["node_reports"][0];
    assert_eq!(relay["can_exchange_messages"], false, "{relay}");
    assert_eq!(json["derp"]["severity"], "error");
}

#[test]
fn a_silent_database_is_reported_by_every_database_section_within_one_timeout() {
    let web = coder_like(VERSION);
    let db = stall_server();
    let out = run_json(&[
        "--access-url",
        &format!("http://127.0.0.1:{web}"),
        "--postgres-url",
        &format!("postgres://coder:pw@127.0.0.1:{db}/coder?sslmode=disable"),
        "--only",
        "access-url,database,workspace-proxy,provisioner-daemons",
        "--timeout",
        "2s",
    ]);
    assert_one_timeout(&out);
    let json = out.json();
    assert_eq!(
        json["access_url"]["severity"], "ok",
        "{}",
        json["access_url"]
    );
    assert_eq!(json["coder_version"], VERSION);
    let endpoint = format!("127.0.0.1:{db}");
    for (section, prefix) in [
        ("database", "EDB01: "),
        ("workspace_proxy", "EWP02: "),
        (
            "provisioner_daemons",
            "error fetching provisioner daemons: ",
        ),
    ] {
        let error = json[section]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(prefix), "{section}: {error}");
        assert!(
            error.contains(&endpoint),
            "{section} names the server: {error}"
        );
    }
}

#[test]
fn only_the_database_section_with_a_silent_database_costs_one_timeout() {
    let db = stall_server();
    let out = run_json(&[
        "--postgres-url",
        &format!("postgres://coder:pw@127.0.0.1:{db}/coder?sslmode=disable"),
        "--only",
        "database",
        "--timeout",
        "2s",
    ]);
    assert_one_timeout(&out);
    assert!(out.json()["database"]["error"]
        .as_str()
        .unwrap()
        .starts_with("EDB01: "));
}

/// A database that accepts us and then freezes: every database section reports it within one
/// timeout, and closing the connection (which waits for answers that never come) does not hold
/// the run. Repeated, because the order in which the sections finish varies.
#[test]
fn a_database_frozen_after_connecting_costs_one_timeout_every_time() {
    let db = support::fake_pg::frozen_after_startup();
    for _ in 0..4 {
        let out = run_json(&[
            "--postgres-url",
            &format!("postgres://coder:pw@127.0.0.1:{db}/coder?sslmode=disable"),
            "--only",
            "database,workspace-proxy,provisioner-daemons",
            "--timeout",
            "1s",
        ]);
        assert!(
            out.elapsed < Duration::from_secs(2),
            "took {:?}\n{}",
            out.elapsed,
            out.all()
        );
        let json = out.json();
        let error = json["database"]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("EDB01: "), "{error}");
        assert!(error.contains("no answer from 127.0.0.1"), "{error}");
        assert!(json["workspace_proxy"]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("EWP02: "));
        assert!(json["provisioner_daemons"]["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("error fetching provisioner daemons: "));
    }
}

/// A far-away database (100 ms per answer) is slow, not broken: the Database section warns, the
/// others read their tables in time, because the run reads each table once in one transaction.
#[test]
fn a_slow_database_is_a_warning_not_a_cascade_of_timeouts() {
    let db = CoderDb::create("slow_database", Generation::Newest);
    db.add_daemon("built-in", VERSION, "1.0", Seen::SecondsAgo(5));
    let server = PgServer::shared();
    let slow = support::tcp::delaying_proxy(server.port, Duration::from_millis(100));
    let dsn = db
        .dsn()
        .replace(&format!(":{}/", server.port), &format!(":{slow}/"));
    let web = coder_like(VERSION);
    let out = run_json(&[
        "--access-url",
        &format!("http://127.0.0.1:{web}"),
        "--postgres-url",
        &dsn,
        "--only",
        "database,workspace-proxy,provisioner-daemons",
    ]);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
    let json = out.json();
    assert_eq!(
        json["database"]["severity"], "warning",
        "{}",
        json["database"]
    );
    assert_eq!(
        support::warning_codes(&json["database"]["warnings"]),
        ["EDB02"]
    );
    assert!(json["database"]["latency_ms"].as_u64().unwrap() >= 100);
    assert_eq!(
        json["workspace_proxy"]["severity"], "ok",
        "{}",
        json["workspace_proxy"]
    );
    assert_eq!(
        json["provisioner_daemons"]["severity"], "ok",
        "{}",
        json["provisioner_daemons"]
    );
}

#[test]
fn one_database_connection_serves_the_whole_run() {
    let server = PgServer::shared();
    let mut admin = server.superuser();
    admin
        .batch_execute("ALTER SYSTEM SET log_connections = on")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    let db = CoderDb::create("one_connection", Generation::Newest);
    db.add_daemon("built-in", VERSION, "1.0", Seen::SecondsAgo(5));
    db.add_proxy("eu", "http://127.0.0.1:9", VERSION, false, 5);
    let web = coder_like(VERSION);
    // Connections opened before the reload applies are not logged; wait until ours would be.
    std::thread::sleep(Duration::from_millis(300));
    let out = run_json(&[
        "--access-url",
        &format!("http://127.0.0.1:{web}"),
        "--postgres-url",
        &db.dsn(),
        "--only",
        "database,workspace-proxy,provisioner-daemons",
    ]);
    let json = out.json();
    assert_eq!(json["database"]["severity"], "ok", "{}", json["database"]);
    assert_eq!(json["provisioner_daemons"]["severity"], "ok");
    assert_eq!(
        json["workspace_proxy"]["workspace_proxies"]["regions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let log = std::fs::read_to_string(server.dir.join("postgres.log")).unwrap();
    let ours = |name: &str| {
        log.lines()
            .filter(|l| {
                l.contains("connection authorized") && l.contains("database=one_connection")
            })
            .filter(|l| l.ends_with(&format!("application_name={name}")))
            .count()
    };
    assert_eq!(
        ours("healthcheck"),
        1,
        "one connection for discovery and the three sections:\n{log}"
    );
    // And the pubsub probe's listener, which needs a connection of its own.
    assert_eq!(ours("healthcheck-pubsub"), 1, "{log}");
}

#[test]
fn the_table_keeps_the_fixed_section_order() {
    let web = coder_like(VERSION);
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--access-url",
        &format!("http://127.0.0.1:{web}"),
        "--timeout",
        "2s",
    ]);
    let out = run(cmd);
    let at = |title: &str| {
        out.stdout
            .find(&format!("│ {title}"))
            .unwrap_or_else(|| panic!("no {title} row:\n{}", out.stdout))
    };
    let order = [
        "Access URL",
        "Websocket",
        "Database",
        "DERP and STUN",
        "Workspace Proxies",
        "Provisioner Daemons",
    ]
    .map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
}
