//! The first "Probable cause" line names the root cause, for the failures Coder operators meet
//! (real-failures.md), each reproduced with real components: nginx configured the wrong way,
//! PostgreSQL with a changed password, a pg_hba reject, a missing database or no free slots,
//! certificates from an untrusted CA, without their intermediate or expired, coturn behind an
//! nftables drop, a firewall dropping the access URL's port, stale and skewed provisioner
//! daemons, a workspace proxy whose name lands on the primary, and tinyproxy refusing CONNECT.
//! Each test asserts the first line's code, the host or object it names, and that a look-alike
//! cause is not named; look-alike pairs run side by side in one test.

mod support;

use serde_json::Value;
use support::certs::TestCa;
use support::chain::Chain;
use support::coder_schema::{CoderDb, Generation, Seen};
use support::coturn::Coturn;
use support::derp_relay::{DerpRelay, Mode};
use support::firewall::{Drop, Proto};
use support::nginx::Nginx;
use support::postgres::PgServer;
use support::ws_server::{Fault, WsServer, VERSION};
use support::{free_port, healthcheck, run, temp_dir, Output};

const TOKEN: &str = "hcRootCause-5e1f9a7c-secret";

/// What one run said: its JSON and the first "Probable cause" line of its table.
struct Seen1 {
    json: Value,
    line: String,
}

impl Seen1 {
    fn first(&self) -> &Value {
        let d = &self.json["diagnosis"];
        assert!(
            d.as_array().is_some_and(|a| !a.is_empty()),
            "no diagnosis in {:#}",
            self.json
        );
        &d[0]
    }

    fn message(&self) -> &str {
        self.first()["message"].as_str().unwrap()
    }

    /// The first line's code, that it names every `named`, that it names none of `not`, and
    /// that its evidence includes `evidence` (when given).
    fn expect(&self, code: Option<&str>, named: &[&str], not: &[&str], evidence: Option<&str>) {
        let first = self.first();
        let all = format!("{:#}", self.json["diagnosis"]);
        match code {
            Some(code) => assert_eq!(first["code"], code, "{all}"),
            None => assert!(first["code"].is_null(), "{all}"),
        }
        let message = self.message();
        for n in named {
            assert!(message.contains(n), "{n:?} not named in: {all}");
        }
        for n in not {
            assert!(
                !message.to_lowercase().contains(&n.to_lowercase()),
                "wrong cause {n:?} named in: {all}"
            );
        }
        if let Some(kind) = evidence {
            let kinds: Vec<&str> = first["evidence"]
                .as_array()
                .unwrap_or_else(|| panic!("no evidence list in {all}"))
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(kinds.contains(&kind), "evidence {kind} missing: {all}");
        }
        // The table's first line says the same thing (from a second run: measured numbers
        // may differ, so the start is compared).
        let shown = match first["code"].as_str() {
            Some(code) => format!("Probable cause: {code}: {message}"),
            None => format!("Probable cause: {message}"),
        };
        let start: String = shown.chars().take(60).collect();
        assert!(self.line.starts_with(&start), "{}\nvs\n{shown}", self.line);
    }
}

/// Runs `healthcheck run ARGS` twice (JSON, then the table) with extra environment.
fn diagnose_env(args: &[&str], env: &[(&str, &str)]) -> (Output, Seen1) {
    let go = |json: bool| {
        let mut cmd = healthcheck();
        cmd.arg("run");
        if json {
            cmd.arg("--json");
        }
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    };
    let out = go(true);
    let json = out.json();
    let table = go(false);
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("Probable cause:"))
        .unwrap_or_default()
        .to_string();
    // For the record (cargo test -- --nocapture): what an operator reads first.
    eprintln!("FIRST LINE: {line}");
    assert!(!out.all().contains(TOKEN), "token leaked:\n{}", out.all());
    (out, Seen1 { json, line })
}

fn diagnose(args: &[&str]) -> (Output, Seen1) {
    diagnose_env(args, &[])
}

const PASS_UPGRADE: &str = "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; \
                            proxy_set_header Connection \"upgrade\"; proxy_set_header Host $host;";

fn front_door(args: &[&str], url: &str) -> Vec<String> {
    let mut all: Vec<String> = [
        "--only",
        "access-url,websocket,derp",
        "--access-url",
        url,
        "--token",
        TOKEN,
        "--derp-server-stun-addresses",
        "disable",
        "--timeout",
        "3s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    all
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// 1. A reverse proxy that drops the WebSocket upgrade.

#[test]
fn nginx_dropping_the_upgrade_headers_is_named_with_its_two_lines() {
    let coder = WsServer::start(TOKEN, Fault::None);
    // proxy_http_version 1.1, but neither Upgrade nor Connection is passed on.
    let nginx = Nginx::start(&format!(
        "    location / {{ proxy_pass http://127.0.0.1:{}; proxy_http_version 1.1; }}",
        coder.port
    ));
    let local = format!("127.0.0.1:{}", coder.port);
    let args = front_door(&["--http-address", &local], &nginx.url());
    let (out, seen) = diagnose(&strs(&args));
    assert_eq!(out.json()["access_url"]["healthy"], true);
    let host = format!("127.0.0.1:{}", nginx.port);
    seen.expect(
        Some("EWS01"),
        &[
            &host,
            "proxy_set_header Upgrade $http_upgrade",
            "proxy_set_header Connection",
        ],
        &["coderd itself", "refuses", "firewall", "certificate"],
        Some("upgrade_refused"),
    );
}

#[test]
fn nginx_speaking_http_1_0_to_coderd_is_told_to_use_1_1() {
    let coder = WsServer::start(TOKEN, Fault::None);
    // The upgrade headers are passed, but nginx talks HTTP/1.0 to coderd (its default).
    let nginx = Nginx::start(&format!(
        "    location / {{ proxy_pass http://127.0.0.1:{}; proxy_set_header Upgrade $http_upgrade; \
         proxy_set_header Connection \"upgrade\"; }}",
        coder.port
    ));
    let args = front_door(&[], &nginx.url());
    let (_, seen) = diagnose(&strs(&args));
    let host = format!("127.0.0.1:{}", nginx.port);
    seen.expect(
        Some("EWS01"),
        &[&host, "proxy_http_version 1.1"],
        &["coderd itself", "proxy_set_header Upgrade", "certificate"],
        Some("upgrade_refused"),
    );
}

// 2. A load balancer that passes WebSockets but refuses `Upgrade: DERP`.

#[test]
fn a_load_balancer_refusing_upgrade_derp_is_degraded_not_down() {
    let coder = WsServer::start(TOKEN, Fault::None);
    let relay = DerpRelay::start(Mode::Normal);
    let nginx = Nginx::start(&format!(
        "    location /derp {{\n      if ($http_upgrade ~* \"^derp$\") {{ return 400 'upgrade not allowed'; }}\n      \
         proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE}\n    }}\n    \
         location / {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}",
        relay.port, coder.port
    ));
    let args = front_door(&[], &nginx.url());
    let (out, seen) = diagnose(&strs(&args));
    let json = out.json();
    assert_eq!(json["derp"]["severity"], "warning", "{:#}", json["derp"]);
    assert_eq!(json["websocket"]["severity"], "ok");
    let host = format!("127.0.0.1:{}", nginx.port);
    seen.expect(
        Some("EDERP01"),
        &[
            "degraded: ",
            &host,
            "Upgrade: DERP",
            "CODER_DERP_FORCE_WEBSOCKETS",
        ],
        &["down", "refuses connections"],
        Some("upgrade_refused"),
    );
    assert!(
        seen.message().starts_with("degraded: "),
        "{}",
        seen.message()
    );
}

// 3. Outbound UDP blocked: every STUN server times out while DERP over TCP works.

#[test]
fn stun_behind_a_udp_drop_is_one_udp_line_and_one_dead_server_is_not() {
    let relay = DerpRelay::start(Mode::Normal);
    let (a, b) = (Coturn::start(), Coturn::start());
    let _drop_a = Drop::inbound(Proto::Udp, a.port);
    let _drop_b = Drop::inbound(Proto::Udp, b.port);
    let stun = format!("{},{}", a.addr(), b.addr());
    let args = [
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &stun,
        "--timeout",
        "3s",
    ];
    let (out, blocked) = diagnose(&args);
    assert_eq!(
        out.json()["derp"]["regions"]["999"]["node_reports"][0]["can_exchange_messages"],
        true
    );
    blocked.expect(
        Some("ESTUN01"),
        &["UDP from this host is blocked", "2 STUN servers"],
        &["broken servers", "DNS"],
        Some("timeout"),
    );
    assert_eq!(blocked.json["diagnosis"].as_array().unwrap().len(), 1);

    // Side by side: one STUN server answers, one does not: that server, not UDP.
    let good = Coturn::start();
    let dead = support::coturn::silent_udp();
    let stun = format!("{},127.0.0.1:{dead}", good.addr());
    let args = [
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &stun,
        "--timeout",
        "3s",
    ];
    let (_, one) = diagnose(&args);
    one.expect(
        Some("ESTUN01"),
        &[&format!("127.0.0.1:{dead}")],
        &["UDP from this host is blocked"],
        Some("timeout"),
    );
}

// 4. TLS, each by name, side by side.

/// nginx with TLS in front of the Coder look-alike, its DERP relay at /derp.
fn tls_front(leaf: &support::certs::Leaf) -> (Nginx, WsServer, String) {
    let coder = WsServer::start(TOKEN, Fault::None);
    let relay = DerpRelay::start(Mode::Normal);
    let nginx = Nginx::start_tls(
        leaf,
        &format!(
            "    location /derp {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}\n    \
             location / {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}",
            relay.port, coder.port
        ),
    );
    let url = format!("https://localhost:{}", nginx.port);
    (nginx, coder, url)
}

fn tls_run(url: &str, ca: Option<&str>) -> Seen1 {
    let mut args = vec![
        "--only".to_string(),
        "access-url,websocket,derp,certificates".to_string(),
        "--access-url".to_string(),
        url.to_string(),
        "--token".to_string(),
        TOKEN.to_string(),
        "--derp-server-stun-addresses".to_string(),
        "disable".to_string(),
        "--timeout".to_string(),
        "3s".to_string(),
    ];
    if let Some(pem) = ca {
        let path = temp_dir("hc-rc-ca-").join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        args.push("--ca-cert".to_string());
        args.push(path.display().to_string());
    }
    diagnose(&strs(&args)).1
}

#[test]
fn untrusted_ca_incomplete_chain_expired_and_wrong_name_are_told_apart() {
    // A private CA this host does not trust; the server sends its whole chain, up to that root.
    let private = TestCa::new("Example Private Root CA");
    let mut private_leaf = private.leaf(&["localhost", "127.0.0.1"]);
    private_leaf.cert_pem.push_str(&private.pem);
    let (_n1, _c1, untrusted_url) = tls_front(&private_leaf);
    // A trusted root whose intermediate the server does not send.
    let chain = Chain::new("Example Trusted Root", "Example Issuing CA 2");
    let (_n2, _c2, chain_url) = tls_front(&chain.leaf(&["localhost", "127.0.0.1"], false));
    // The same, with the intermediate sent: healthy.
    let (_n3, _c3, full_url) = tls_front(&chain.leaf(&["localhost", "127.0.0.1"], true));
    // A trusted CA, but the leaf expired two days ago.
    let trusted = TestCa::new("Example Ops CA");
    let now = time::OffsetDateTime::now_utc();
    let expired_leaf = trusted.leaf_valid(
        &["localhost", "127.0.0.1"],
        now - time::Duration::days(90),
        now - time::Duration::days(2),
    );
    let (_n4, _c4, expired_url) = tls_front(&expired_leaf);
    // A trusted CA, a certificate for another name.
    let (_n5, _c5, wrong_name_url) = tls_front(&trusted.leaf(&["coder.other.example"]));

    let untrusted = tls_run(&untrusted_url, None);
    let incomplete = tls_run(&chain_url, Some(&chain.root_pem));
    let full = tls_run(&full_url, Some(&chain.root_pem));
    let expired = tls_run(&expired_url, Some(&trusted.pem));
    let wrong_name = tls_run(&wrong_name_url, Some(&trusted.pem));

    let host = |url: &str| url.trim_start_matches("https://").to_string();
    untrusted.expect(
        Some("EACS03"),
        &[
            &host(&untrusted_url),
            "Example Private Root CA",
            "--ca-cert",
        ],
        &["intermediate", "expired", "name"],
        Some("tls_untrusted"),
    );
    // The WebSocket and embedded relay failures are explained by it, not separate causes.
    let explains = &untrusted.first()["sections"];
    assert!(
        explains
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "websocket"),
        "{explains}"
    );
    assert_eq!(untrusted.json["diagnosis"].as_array().unwrap().len(), 1);

    incomplete.expect(
        Some("EACS03"),
        &[&host(&chain_url), "intermediate", "Example Issuing CA 2"],
        &["not trusted by this host", "expired"],
        Some("tls_incomplete_chain"),
    );
    assert_eq!(
        full.json["diagnosis"],
        serde_json::json!([]),
        "{:#}",
        full.json
    );

    let date = (now - time::Duration::days(2)).date().to_string();
    expired.expect(
        Some("ETLS02"),
        &[&host(&expired_url), "expired", &date],
        &["intermediate", "--ca-cert"],
        Some("tls_expired"),
    );
    wrong_name.expect(
        Some("EACS03"),
        &[&host(&wrong_name_url), "coder.other.example", "localhost"],
        &["intermediate", "expired", "--ca-cert"],
        Some("tls_name_mismatch"),
    );
}

// 5. The access URL answers nowhere while coderd is fine, versus coderd down.

#[test]
fn a_dropped_access_url_and_a_dead_coderd_are_told_apart_by_the_local_listener() {
    // A firewall drops the access URL's port; coderd's own listener answers.
    let coder = WsServer::start(TOKEN, Fault::None);
    let blackholed = free_port();
    let _drop = Drop::inbound(Proto::Tcp, blackholed);
    let url = format!("http://127.0.0.1:{blackholed}");
    let local = format!("127.0.0.1:{}", coder.port);
    let args = front_door(&["--http-address", &local], &url);
    let started = std::time::Instant::now();
    let (out, path) = diagnose(&strs(&args));
    let json = out.json();
    // Decided before the run's deadline: EACS03 with timeout evidence, not EUNKNOWN.
    let error = json["access_url"]["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(9));
    path.expect(
        Some("ELST01"),
        &[&format!("127.0.0.1:{blackholed}"), "no answer", &local],
        &["coderd itself does not answer", "refuses"],
        Some("timeout"),
    );

    // coderd is down: nginx answers 502 and coderd's listener refuses.
    let dead = free_port();
    let nginx = Nginx::start(&format!(
        "    location / {{ proxy_pass http://127.0.0.1:{dead}; {PASS_UPGRADE} }}"
    ));
    let local = format!("127.0.0.1:{dead}");
    let args = front_door(&["--http-address", &local], &nginx.url());
    let (_, down) = diagnose(&strs(&args));
    down.expect(
        Some("ELST02"),
        &["coderd", &local, "502"],
        &["firewall", "no answer", "DNS"],
        Some("refused"),
    );
}

// 6. The database, by its own error.

fn db_args(dsn: &str) -> Vec<String> {
    [
        "--only",
        "database,workspace-proxy,provisioner-daemons",
        "--postgres-url",
        dsn,
        "--timeout",
        "5s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn a_changed_password_a_pg_hba_reject_and_a_missing_database_say_so() {
    let pg = PgServer::shared();
    support::pg_faults::create_role(pg, "hc_rotated", "old-Pa55-rotated");
    let dsn = pg.dsn_for("hc_rotated", "old-Pa55-rotated", "coder", "sslmode=disable");
    support::pg_faults::change_password(pg, "hc_rotated", "new-Pa55-rotated");
    let (out, rotated) = diagnose(&strs(&db_args(&dsn)));
    assert!(!out.all().contains("old-Pa55-rotated"));
    rotated.expect(
        Some("EDB01"),
        &["hc_rotated", "password", "CODER_PG_CONNECTION_URL"],
        &["pg_hba", "does not exist", "cannot be reached"],
        Some("pg_sqlstate"),
    );

    support::pg_faults::create_role(pg, "hc_hba_rejected", "Pa55-hba");
    support::pg_faults::reject_in_hba(pg, "hc_hba_rejected");
    // sslmode=prefer (libpq's default): the client would have used TLS, so TLS is not the cause.
    let dsn = pg.dsn_for("hc_hba_rejected", "Pa55-hba", "coder", "sslmode=prefer");
    let (_, hba) = diagnose(&strs(&db_args(&dsn)));
    hba.expect(
        Some("EDB01"),
        &["hc_hba_rejected", "pg_hba.conf"],
        &["password authentication", "does not exist", "sslmode"],
        Some("pg_sqlstate"),
    );

    let dsn = pg.dsn_for(
        support::postgres::USER,
        support::postgres::PASSWORD,
        "hc_no_such_db",
        "sslmode=disable",
    );
    let (_, missing) = diagnose(&strs(&db_args(&dsn)));
    missing.expect(
        Some("EDB01"),
        &["hc_no_such_db", "does not exist"],
        &["password", "pg_hba"],
        Some("pg_sqlstate"),
    );
}

#[test]
fn a_server_out_of_connection_slots_says_so() {
    let (pg, _holders) = support::pg_faults::server_out_of_slots(5, "hc-slot-hog");
    let (_, full) = diagnose(&strs(&db_args(&pg.dsn("sslmode=disable"))));
    full.expect(
        Some("EDB01"),
        &[
            "connection slots",
            "max_connections",
            &format!("127.0.0.1:{}", pg.port),
        ],
        &["password", "pg_hba", "cannot be reached"],
        Some("pg_sqlstate"),
    );
}

#[test]
fn tls_required_by_one_side_only_names_sslmode() {
    // The client requires TLS; the server has none.
    let plain = PgServer::shared();
    let (_, require) = diagnose(&strs(&db_args(&plain.dsn("sslmode=require"))));
    require.expect(
        Some("EDB01"),
        &["sslmode", "does not support TLS"],
        &["password", "pg_hba.conf entry"],
        None,
    );
    // The server requires TLS (hostssl only); the client says sslmode=disable: the same
    // SQLSTATE as a pg_hba reject, told apart by "no encryption".
    let tls_only = PgServer::shared_tls_only();
    let (_, disable) = diagnose(&strs(&db_args(&tls_only.dsn("sslmode=disable"))));
    disable.expect(
        Some("EDB01"),
        // (A URL query is redacted whole, so "sslmode=disable" would not survive: the words
        // avoid that spelling.)
        &["sslmode is disable", "requires TLS"],
        &["password authentication"],
        Some("pg_sqlstate"),
    );
}

#[test]
fn a_far_away_database_is_degraded_and_blames_the_network_path() {
    let pg = PgServer::shared();
    // Every answer from PostgreSQL crosses a 25 ms path; PostgreSQL itself is idle.
    let far = support::tcp::delaying_proxy(pg.port, std::time::Duration::from_millis(25));
    let dsn = format!(
        "postgres://{}:{}@127.0.0.1:{far}/coder?sslmode=disable",
        support::postgres::USER,
        support::postgres::PASSWORD
    );
    let args = [
        "--only",
        "database",
        "--postgres-url",
        &dsn,
        "--health-check-threshold-database",
        "15ms",
        "--timeout",
        "5s",
    ];
    let (out, seen) = diagnose(&args);
    assert!(out.json()["database"]["latency_ms"].as_u64().unwrap() >= 25);
    seen.expect(
        Some("EDB02"),
        &[
            "degraded: ",
            &format!("127.0.0.1:{far}"),
            "far from this host",
        ],
        &["password", "pg_hba", "cannot be reached"],
        None,
    );
}

// 7. Provisioner daemons.

fn coder_like() -> String {
    format!("http://127.0.0.1:{}", support::http::coder_like(VERSION))
}

fn daemon_args(db: &CoderDb, url: &str) -> Vec<String> {
    [
        "--only",
        "provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        url,
        "--timeout",
        "3s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn stale_daemons_are_named_with_their_ages_and_skew_with_both_versions() {
    let url = coder_like();
    let db = CoderDb::create("rc_stale", Generation::Newest);
    db.add_daemon("builder-east", VERSION, "1.0", Seen::SecondsAgo(600));
    db.add_daemon("builder-west", VERSION, "1.0", Seen::SecondsAgo(3 * 3600));
    let (_, stale) = diagnose(&strs(&daemon_args(&db, &url)));
    stale.expect(
        Some("EPD01"),
        &[
            "builder-east",
            "10 min ago",
            "builder-west",
            "3 h ago",
            "pending",
        ],
        &["version"],
        None,
    );

    let db = CoderDb::create("rc_skew", Generation::Newest);
    db.add_daemon("builder-old", "v2.16.2", "1.0", Seen::SecondsAgo(3));
    let (_, skew) = diagnose(&strs(&daemon_args(&db, &url)));
    skew.expect(
        Some("EPD02"),
        &["degraded: ", "builder-old", "v2.16.2", VERSION],
        &["pending", "last seen"],
        None,
    );
}

// 8. A workspace proxy whose host lands on the primary.

#[test]
fn a_workspace_proxy_answered_by_the_primary_is_named() {
    let primary = WsServer::start(TOKEN, Fault::None);
    // Wildcard DNS: the proxy's name resolves to the primary, which answers 404.
    let db = CoderDb::create("rc_wp_primary", Generation::Newest);
    db.add_proxy("sydney", &primary.url(), VERSION, false, 60);
    // Another proxy name lands on a web server answering its HTML page.
    let html = Nginx::start(
        "    location / { default_type text/html; return 200 '<html><head><title>Welcome</title></head></html>'; }",
    );
    db.add_proxy("frankfurt", &html.url(), VERSION, false, 60);
    let args = [
        "--only",
        "workspace-proxy",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &primary.url(),
        "--timeout",
        "3s",
    ];
    let (_, seen) = diagnose(&args);
    let messages: Vec<&str> = seen.json["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["message"].as_str())
        .collect();
    let all = messages.join("\n");
    seen.expect(
        Some("EWP04"),
        &["degraded: "],
        &["refuses", "certificate"],
        Some("http_status"),
    );
    assert!(all.contains("sydney") && all.contains("404"), "{all}");
    assert!(all.contains("primary"), "{all}");
    assert!(all.contains("frankfurt") && all.contains("HTML"), "{all}");
}

// 9. coderd advertises another access URL than the one the operator uses.

/// A Coder look-alike whose buildinfo advertises `dashboard_url`; `None` advertises the URL it
/// was asked at (from the Host header), as a correctly configured coderd does.
fn coder_advertising(dashboard_url: Option<&'static str>) -> u16 {
    use support::http::{fixed_server, path_of, response};
    fixed_server(move |head| {
        let asked_at = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Host: ")
                    .or_else(|| l.strip_prefix("host: "))
            })
            .map(|h| format!("http://{}", h.trim()))
            .unwrap_or_default();
        let advertised = dashboard_url.map(str::to_string).unwrap_or(asked_at);
        match path_of(head) {
            "/healthz" => response("200 OK", &[("X-Coder-Build-Version", VERSION)], "OK"),
            "/api/v2/buildinfo" => response(
                "200 OK",
                &[("Content-Type", "application/json")],
                &format!(
                    r#"{{"external_url":"","version":"{VERSION}","dashboard_url":"{advertised}","workspace_proxy":false}}"#
                ),
            ),
            _ => response("404 Not Found", &[], "not found"),
        }
    })
}

#[test]
fn an_advertised_access_url_that_differs_names_both_urls() {
    let port = coder_advertising(Some("http://127.0.0.1:3000"));
    let url = format!("http://localhost:{port}");
    let args = [
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--timeout",
        "3s",
    ];
    let (out, seen) = diagnose(&args);
    assert_eq!(
        out.json()["access_url"]["advertised_url"],
        "http://127.0.0.1:3000/"
    );
    seen.expect(
        Some("EURL01"),
        &[
            "degraded: ",
            "http://127.0.0.1:3000",
            &url,
            "CODER_ACCESS_URL",
        ],
        &["refuses", "down"],
        None,
    );
    // Side by side: a coderd advertising the URL in use is healthy.
    let port = coder_advertising(None);
    let url = format!("http://localhost:{port}");
    let args = [
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--timeout",
        "3s",
    ];
    let (out, seen) = diagnose(&args);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(seen.json["diagnosis"], serde_json::json!([]));
}

// 10. A forward proxy from the environment refusing CONNECT while the direct path works.

/// An address of this host that is not loopback (loopback never goes through a proxy).
fn own_address() -> String {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_string)
        .expect("a non-loopback IPv4 address on this host")
}

#[test]
fn a_forward_proxy_refusing_connect_is_named_with_no_proxy() {
    let ip = own_address();
    let ca = TestCa::new("Proxy Test CA");
    let leaf = ca.leaf(&[&ip]);
    let dir = temp_dir("hc-rc-proxy-");
    std::fs::write(dir.join("leaf.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("leaf.key"), &leaf.key_pem).unwrap();
    let ca_path = ca.write(&dir);
    let coder = WsServer::start(TOKEN, Fault::None);
    let port = free_port();
    let d = dir.display();
    let _nginx = Nginx::start(&format!(
        "    listen {ip}:{port} ssl;\n    ssl_certificate {d}/leaf.pem;\n    \
         ssl_certificate_key {d}/leaf.key;\n    \
         location / {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}",
        coder.port
    ));
    // tinyproxy allows CONNECT only to port 443.
    let proxy =
        support::tinyproxy::Tinyproxy::start_with(&[], "hcuser", "Pr0xy-Pa55", "ConnectPort 443\n");
    let url = format!("https://{ip}:{port}");
    let args = [
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--ca-cert",
        ca_path.to_str().unwrap(),
        "--timeout",
        "3s",
    ];
    let (out, via_proxy) = diagnose_env(&args, &[("HTTPS_PROXY", &proxy.url())]);
    assert!(!out.all().contains("Pr0xy-Pa55"));
    via_proxy.expect(
        Some("EACS03"),
        &[
            &format!("127.0.0.1:{}", proxy.port),
            "HTTPS_PROXY",
            "NO_PROXY",
            &ip,
        ],
        &["refuses connections", "firewall", "certificate"],
        Some("proxy_refused"),
    );
    // Side by side: the same run without the proxy is healthy.
    let (_, direct) = diagnose(&args);
    assert_eq!(direct.json["diagnosis"], serde_json::json!([]));
}

// Healthy runs have no diagnosis; warnings-only runs start with "degraded: ".

#[test]
fn a_healthy_front_door_has_no_diagnosis() {
    let coder = WsServer::start(TOKEN, Fault::None);
    let relay = DerpRelay::start(Mode::Normal);
    let nginx = Nginx::start(&format!(
        "    location /derp {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}\n    \
         location / {{ proxy_pass http://127.0.0.1:{}; {PASS_UPGRADE} }}",
        relay.port, coder.port
    ));
    let args = front_door(&[], &nginx.url());
    let (out, seen) = diagnose(&strs(&args));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(seen.json["diagnosis"], serde_json::json!([]));
    assert_eq!(seen.line, "");
}

#[test]
fn explain_diagnosis_lists_the_rules_in_causal_order() {
    let mut cmd = healthcheck();
    cmd.args(["explain", "diagnosis"]);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = &out.stdout;
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
    };
    assert!(at("forward proxy") < at("certificate"));
    assert!(at("coderd down") < at("path to the access URL"));
    assert!(at("outbound UDP blocked") > at("database"));
    assert!(text.contains("\"degraded: \""), "{text}");
}
