//! TLS Certificates section: certificates made in the test (valid, expiring soon, expired, not
//! yet valid) served by a real nginx on the access URL and on a DERP relay over TLS.

mod support;

use serde_json::Value;
use support::certs::TestCa;
use support::derp_relay::{DerpRelay, Mode};
use support::nginx::Nginx;
use support::{free_port, run_json, temp_dir, warning_codes};
use time::{Duration, OffsetDateTime};

/// An nginx over TLS whose /healthz answers as Coder does, with a certificate for 127.0.0.1
/// valid from `from` to `until` (relative to now), and the CA file that trusts it.
fn access_url_with(from: Duration, until: Duration) -> (Nginx, String, String) {
    let now = OffsetDateTime::now_utc();
    let ca = TestCa::new("certificates test CA");
    let leaf = ca.leaf_valid(&["127.0.0.1"], now + from, now + until);
    let nginx = Nginx::start_tls(
        &leaf,
        "    location = /healthz { add_header X-Coder-Build-Version v2.18.1; return 200 'OK'; }",
    );
    let ca_file = ca.write(&temp_dir("hc-cert-ca-"));
    let url = format!("https://127.0.0.1:{}", nginx.port);
    (nginx, url, ca_file.display().to_string())
}

fn run_sections(url: &str, ca: &str, extra: &[&str]) -> (support::Output, Value) {
    let mut args = vec![
        "--only",
        "access-url,certificates",
        "--access-url",
        url,
        "--ca-cert",
        ca,
    ];
    args.extend_from_slice(extra);
    let out = run_json(&args);
    let json = out.json();
    (out, json)
}

#[test]
fn a_certificate_valid_for_a_year_is_listed_without_a_finding() {
    let (_nginx, url, ca) = access_url_with(Duration::days(-1), Duration::days(365));
    let (out, json) = run_sections(&url, &ca, &[]);
    let section = &json["certificates"];
    assert_eq!(section["severity"], "ok", "{section:#}");
    assert_eq!(section["warnings"], serde_json::json!([]));
    let cert = &section["certificates"][0];
    assert_eq!(cert["endpoint"], url.trim_start_matches("https://"));
    assert_eq!(cert["used_by"][0], "access URL");
    assert_eq!(cert["subject"], "CN=127.0.0.1");
    assert_eq!(cert["issuer"], "CN=certificates test CA");
    let days = cert["days_left"].as_i64().unwrap();
    assert!((363..=365).contains(&days), "{days}");
    assert!(OffsetDateTime::parse(
        cert["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    assert_eq!(json["access_url"]["severity"], "ok");
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn expiring_in_three_days_is_etls01_a_warning() {
    let (_nginx, url, ca) = access_url_with(Duration::days(-30), Duration::days(3));
    let (out, json) = run_sections(&url, &ca, &["--fail-on", "error"]);
    let section = &json["certificates"];
    assert_eq!(section["severity"], "warning", "{section:#}");
    assert_eq!(warning_codes(&section["warnings"]), ["ETLS01"]);
    let message = section["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("2 days left") || message.contains("3 days left"),
        "{message}"
    );
    assert!(message.contains("access URL"), "{message}");
    // Ours, not Coder's: the top-level verdict stays Coder's, the exit code follows --fail-on.
    assert_eq!(json["healthy"], true);
    assert_eq!(json["severity"], "ok");
    assert_eq!(out.code, 0);

    let (out, _) = run_sections(&url, &ca, &["--fail-on", "warning"]);
    assert_eq!(out.code, 1);

    let (out, json) = run_sections(&url, &ca, &["--cert-expiry-warning", "2d"]);
    assert_eq!(json["certificates"]["warnings"], serde_json::json!([]));
    assert_eq!(json["certificates"]["warning_days"], 2.0);
    assert_eq!(out.code, 0);
}

#[test]
fn expired_five_days_ago_is_etls02_with_the_date_and_eacs03_on_the_access_url() {
    // Five and a half days: away from a day boundary, however long the run takes.
    let (_nginx, url, ca) = access_url_with(
        Duration::days(-60),
        -(Duration::days(5) + Duration::hours(12)),
    );
    let (out, json) = run_sections(&url, &ca, &[]);
    let section = &json["certificates"];
    assert_eq!(section["severity"], "error", "{section:#}");
    assert_eq!(warning_codes(&section["warnings"]), ["ETLS02"]);
    let message = section["warnings"][0]["message"].as_str().unwrap();
    let not_after = section["certificates"][0]["not_after"].as_str().unwrap();
    assert!(
        message.contains(&format!("expired on {not_after}")),
        "{message}"
    );
    assert!(message.contains("5 days ago"), "{message}");
    // Whole days left, rounded down: negative exactly when it has expired.
    assert_eq!(section["certificates"][0]["days_left"], -6);
    // Verification is the access URL's business, as before.
    let error = json["access_url"]["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("expired"), "{error}");
    assert_eq!(out.code, 1);

    // The table names both.
    let mut cmd = support::healthcheck();
    cmd.args([
        "run",
        "--only",
        "access-url,certificates",
        "--access-url",
        &url,
        "--ca-cert",
        &ca,
    ]);
    let table = support::run(cmd);
    assert!(
        table.stdout.contains("TLS Certificates"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("ETLS02"));
    assert!(table
        .stdout
        .contains("TLS certificate expired or not yet valid"));
}

#[test]
fn not_yet_valid_is_etls02() {
    let (_nginx, url, ca) = access_url_with(Duration::days(2), Duration::days(400));
    let (_, json) = run_sections(&url, &ca, &[]);
    let section = &json["certificates"];
    assert_eq!(
        warning_codes(&section["warnings"]),
        ["ETLS02"],
        "{section:#}"
    );
    let message = section["warnings"][0]["message"].as_str().unwrap();
    let not_before = section["certificates"][0]["not_before"].as_str().unwrap();
    assert!(
        message.contains(&format!("not valid until {not_before}")),
        "{message}"
    );
}

#[test]
fn an_untrusted_certificate_is_still_read_and_stays_eacs03() {
    let (_nginx, url, _ca) = access_url_with(Duration::days(-1), Duration::days(3));
    let out = run_json(&["--only", "access-url,certificates", "--access-url", &url]);
    let json = out.json();
    let error = json["access_url"]["error"].as_str().unwrap();
    assert!(error.contains("unknown authority"), "{error}");
    assert_eq!(warning_codes(&json["certificates"]["warnings"]), ["ETLS01"]);
}

#[test]
fn a_derp_relay_over_tls_has_its_certificate_read() {
    let relay = DerpRelay::start(Mode::Normal);
    let now = OffsetDateTime::now_utc();
    let ca = TestCa::new("DERP certificates CA");
    let leaf = ca.leaf_valid(
        &["127.0.0.1"],
        now - Duration::days(80),
        now + Duration::days(3),
    );
    let dir = temp_dir("hc-cert-derp-");
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let ca_path = ca.write(&dir);
    let tls_port = free_port();
    let _nginx = Nginx::start(&format!(
        "    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {d}/cert.pem;\n\
         \x20   ssl_certificate_key {d}/key.pem;\n    location / {{\n\
         \x20     proxy_pass http://127.0.0.1:{relay};\n      proxy_http_version 1.1;\n\
         \x20     proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection upgrade;\n    }}",
        d = dir.display(),
        relay = relay.port
    ));
    let map = serde_json::json!({"Regions": {"1": {
        "RegionID": 1, "RegionCode": "tls", "RegionName": "TLS relay",
        "Nodes": [{"Name": "1a", "RegionID": 1, "HostName": "127.0.0.1",
                   "DERPPort": tls_port, "STUNPort": -1}]
    }}});
    let map_path = dir.join("derpmap.json");
    std::fs::write(&map_path, map.to_string()).unwrap();
    let out = run_json(&[
        "--only",
        "derp,certificates",
        "--derp-server-enable=false",
        "--derp-config-path",
        map_path.to_str().unwrap(),
        "--derp-server-stun-addresses",
        "disable",
        "--ca-cert",
        ca_path.to_str().unwrap(),
        "--timeout",
        "3s",
    ]);
    let json = out.json();
    assert_eq!(json["derp"]["severity"], "ok", "{:#}", json["derp"]);
    let section = &json["certificates"];
    assert_eq!(
        warning_codes(&section["warnings"]),
        ["ETLS01"],
        "{section:#}"
    );
    let cert = &section["certificates"][0];
    assert_eq!(cert["endpoint"], format!("127.0.0.1:{tls_port}"));
    assert_eq!(cert["used_by"][0], "DERP node 1a");
    let message = section["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains("DERP node 1a"), "{message}");
}

#[test]
fn plain_http_everywhere_skips_the_section() {
    let port = support::http::coder_like("v2.18.1");
    let out = run_json(&[
        "--only",
        "certificates",
        "--access-url",
        &format!("http://127.0.0.1:{port}"),
        "--derp-server-stun-addresses",
        "disable",
    ]);
    let json = out.json();
    assert_eq!(json["certificates"]["skipped"], true);
    assert!(json["certificates"]["skip_reason"]
        .as_str()
        .unwrap()
        .contains("uses TLS"));
    assert_eq!(out.code, 0);
}

#[test]
fn postgresql_over_tls_has_its_certificate_read_after_the_sslrequest() {
    let pg = support::postgres::PgServer::shared_tls();
    let dsn = pg.dsn_for(
        support::postgres::USER,
        support::postgres::PASSWORD,
        "coder",
        "sslmode=require",
    );
    let out = run_json(&["--only", "database,certificates", "--postgres-url", &dsn]);
    let json = out.json();
    let section = &json["certificates"];
    let cert = &section["certificates"][0];
    assert_eq!(
        cert["endpoint"],
        format!("127.0.0.1:{}", pg.port),
        "{section:#}"
    );
    assert_eq!(cert["used_by"], serde_json::json!(["PostgreSQL"]));
    assert_eq!(cert["subject"], "CN=localhost");
    assert_eq!(section["warnings"], serde_json::json!([]));
    assert!(!out.all().contains(support::postgres::PASSWORD));

    // sslmode=prefer against a server without TLS: nothing uses TLS, nothing to judge.
    let plain = support::postgres::PgServer::shared();
    let dsn = plain.dsn_for(
        support::postgres::USER,
        support::postgres::PASSWORD,
        "coder",
        "sslmode=prefer",
    );
    let json = run_json(&["--only", "certificates", "--postgres-url", &dsn]).json();
    assert_eq!(
        json["certificates"]["skipped"], true,
        "{:#}",
        json["certificates"]
    );
}

#[test]
fn workspace_proxies_have_their_certificates_read() {
    use support::coder_schema::{CoderDb, Generation};
    let (_nginx, url, ca) = access_url_with(Duration::days(-30), Duration::days(3));
    let db = CoderDb::create("certs_proxies", Generation::Newest);
    db.add_proxy("eu", &format!("{url}/"), "v2.18.1", false, 5);
    let out = run_json(&[
        "--only",
        "certificates",
        "--postgres-url",
        &db.dsn(),
        "--ca-cert",
        &ca,
    ]);
    let json = out.json();
    let section = &json["certificates"];
    assert_eq!(
        warning_codes(&section["warnings"]),
        ["ETLS01"],
        "{section:#}"
    );
    assert_eq!(
        section["certificates"][0]["used_by"],
        serde_json::json!(["workspace proxy eu"])
    );
}

#[test]
fn a_hung_tls_endpoint_costs_one_timeout() {
    let port = support::http::stall_server();
    let url = format!("https://127.0.0.1:{port}");
    let out = run_json(&[
        "--access-url",
        &url,
        "--derp-server-stun-addresses",
        "disable",
        "--timeout",
        "1s",
    ]);
    let json = out.json();
    let unread = &json["certificates"]["unread"][0];
    assert_eq!(unread["endpoint"], format!("127.0.0.1:{port}"), "{json:#}");
    assert!(
        unread["error"].as_str().unwrap().contains("timed out"),
        "{unread}"
    );
    assert!(
        out.elapsed < std::time::Duration::from_millis(1_900),
        "took {:?}",
        out.elapsed
    );
}
