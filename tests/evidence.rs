//! Evidence: what a failed check observed, as data in the JSON (`error_evidence` on a section,
//! `evidence` on a warning), from real peers: a closed port, a name that does not resolve, a
//! listener whose SYNs go unanswered, nginx with certificates made wrong in each way, a real
//! PostgreSQL refusing a password, and nginx answering with an error page.

mod support;

use std::net::TcpListener;

use serde_json::Value;
use support::certs::{Leaf, TestCa};
use support::nginx::Nginx;
use support::postgres::PgServer;
use support::{free_port, run_json, temp_dir};

const HEALTHZ: &str =
    "    location = /healthz { add_header X-Coder-Build-Version v2.18.1; return 200 'OK'; }";

/// The access URL section's evidence after a run with `args`.
fn access_url_evidence(args: &[&str]) -> Value {
    let mut all = vec!["--only", "access-url", "--timeout", "2s"];
    all.extend_from_slice(args);
    let out = run_json(&all);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(section["severity"], "error", "{section}");
    section["error_evidence"].clone()
}

#[test]
fn a_closed_port_is_refused_at_its_address() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let evidence = access_url_evidence(&["--access-url", &url]);
    assert_eq!(evidence["kind"], "refused", "{evidence}");
    assert_eq!(evidence["address"], format!("127.0.0.1:{port}"));
}

#[test]
fn a_name_that_does_not_resolve_is_dns() {
    let evidence = access_url_evidence(&["--access-url", "http://coder.invalid"]);
    assert_eq!(evidence["kind"], "dns", "{evidence}");
    assert_eq!(evidence["host"], "coder.invalid");
    assert!(!evidence["detail"].as_str().unwrap().is_empty());
}

/// A listener whose accept queue is full: Linux drops further SYNs, so a connect gets no answer
/// at all, as behind a firewall that drops packets.
fn unanswered_port() -> (TcpListener, Vec<std::net::TcpStream>, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The std listener's backlog is 128; fill it with connections nobody accepts.
    let mut held = Vec::new();
    for _ in 0..200 {
        match std::net::TcpStream::connect_timeout(
            &listener.local_addr().unwrap(),
            std::time::Duration::from_millis(50),
        ) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    (listener, held, port)
}

#[test]
fn a_connect_without_answer_is_eacs03_with_timeout_evidence_before_the_deadline() {
    let (_listener, _held, port) = unanswered_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run_json(&[
        "--only",
        "access-url",
        "--timeout",
        "2s",
        "--access-url",
        &url,
    ]);
    let json = out.json();
    let section = &json["access_url"];
    let error = section["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert_eq!(section["error_evidence"]["kind"], "timeout", "{section}");
    assert_eq!(section["error_evidence"]["phase"], "connect");
    assert_eq!(
        section["error_evidence"]["address"],
        format!("127.0.0.1:{port}")
    );
    // Decided by the check itself, not abandoned by the runner after the grace.
    assert!(
        out.elapsed < std::time::Duration::from_millis(2400),
        "{:?}",
        out.elapsed
    );
}

#[test]
fn an_error_page_is_http_status_evidence_on_eacs04() {
    let nginx = Nginx::start("    location = /healthz { return 502 'upstream down'; }");
    let out = run_json(&["--only", "access-url", "--access-url", &nginx.url()]);
    let json = out.json();
    let warning = &json["access_url"]["warnings"][0];
    assert_eq!(warning["code"], "EACS04");
    assert_eq!(warning["evidence"]["kind"], "http_status", "{warning}");
    assert_eq!(warning["evidence"]["status"], 502);
    assert_eq!(warning["evidence"]["body_start"], "upstream down");
}

/// nginx over TLS on 127.0.0.1 serving `chain` (leaf first) with the leaf's key.
fn tls_server(leaf: &Leaf, extra_chain: &[&str]) -> Nginx {
    let mut served = Leaf {
        cert_pem: leaf.cert_pem.clone(),
        key_pem: leaf.key_pem.clone(),
    };
    for pem in extra_chain {
        served.cert_pem.push_str(pem);
    }
    Nginx::start_tls(&served, HEALTHZ)
}

fn tls_evidence(nginx: &Nginx, ca: Option<&TestCa>) -> Value {
    let url = format!("https://127.0.0.1:{}", nginx.port);
    let ca_file = ca.map(|ca| ca.write(&temp_dir("hc-evidence-ca-")));
    let mut args = vec!["--access-url".to_string(), url];
    if let Some(file) = &ca_file {
        args.push("--ca-cert".to_string());
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    access_url_evidence(&args)
}

#[test]
fn tls_failures_are_told_apart_by_what_the_server_sent() {
    let root = TestCa::new("evidence root");
    let intermediate = root.intermediate("evidence intermediate");
    let leaf = intermediate.leaf(&["127.0.0.1"]);

    // The root is trusted but the server forgot its intermediate.
    let leaf_only = tls_server(&leaf, &[]);
    let evidence = tls_evidence(&leaf_only, Some(&root));
    assert_eq!(evidence["kind"], "tls_incomplete_chain", "{evidence}");
    assert!(
        evidence["issuer"]
            .as_str()
            .unwrap()
            .contains("evidence intermediate"),
        "{evidence}"
    );

    // With the intermediate sent, the same root makes it healthy...
    let full_chain = tls_server(&leaf, &[&intermediate.pem]);
    let url = format!("https://127.0.0.1:{}", full_chain.port);
    let ca_file = root.write(&temp_dir("hc-evidence-ca-"));
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--ca-cert",
        &ca_file.display().to_string(),
    ]);
    assert_eq!(out.json()["access_url"]["severity"], "ok", "{}", out.stdout);
    // ...and without trusting the root, the whole chain leads to a CA this host does not know.
    let evidence = tls_evidence(&full_chain, None);
    assert_eq!(evidence["kind"], "tls_untrusted", "{evidence}");

    // A self-signed certificate is untrusted, never a missing intermediate.
    let self_signed = tls_server(&self_signed_leaf(), &[]);
    assert_eq!(tls_evidence(&self_signed, None)["kind"], "tls_untrusted");
}

/// A server certificate for 127.0.0.1 that signs itself (not a CA).
fn self_signed_leaf() -> Leaf {
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

#[test]
fn expired_and_misnamed_certificates_carry_their_kind() {
    let ca = TestCa::new("evidence dates");
    let now = time::OffsetDateTime::now_utc();
    let expired = ca.leaf_valid(
        &["127.0.0.1"],
        now - time::Duration::days(30),
        now - time::Duration::days(2),
    );
    let nginx = tls_server(&expired, &[]);
    let evidence = tls_evidence(&nginx, Some(&ca));
    assert_eq!(evidence["kind"], "tls_expired", "{evidence}");
    let not_after = evidence["not_after"].as_str().unwrap();
    let when =
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!((when - (now - time::Duration::days(2))).abs() < time::Duration::minutes(1));

    let misnamed = tls_server(&ca.leaf(&["coder.example.com"]), &[]);
    assert_eq!(
        tls_evidence(&misnamed, Some(&ca))["kind"],
        "tls_name_mismatch"
    );
}

#[test]
fn a_rejected_password_is_its_sqlstate() {
    let pg = PgServer::shared();
    let dsn = pg.dsn_for(
        "postgres",
        "not-the-password",
        "postgres",
        "sslmode=disable",
    );
    let out = run_json(&["--only", "database", "--postgres-url", &dsn]);
    let json = out.json();
    let db = &json["database"];
    assert!(db["error"].as_str().unwrap().starts_with("EDB01: "), "{db}");
    assert_eq!(db["error_evidence"]["kind"], "pg_sqlstate", "{db}");
    assert_eq!(db["error_evidence"]["sqlstate"], "28P01");
    assert!(!out.all().contains("not-the-password"));
}

/// A DERP map with one plain-HTTP relay node on loopback at `port`.
fn derp_map(port: u16) -> std::path::PathBuf {
    let map = serde_json::json!({"Regions": {"1": {
        "RegionID": 1, "RegionCode": "r1", "RegionName": "Region 1",
        "Nodes": [{"Name": "1a", "RegionID": 1, "HostName": "127.0.0.1",
                   "DERPPort": port, "STUNPort": -1, "ForceHTTP": true}]}}});
    let path = temp_dir("hc-evidence-derp-").join("derpmap.json");
    std::fs::write(&path, map.to_string()).unwrap();
    path
}

fn derp_node_evidence(port: u16) -> Value {
    let map = derp_map(port);
    let out = run_json(&[
        "--only",
        "derp",
        "--derp-server-stun-addresses",
        "disable",
        "--timeout",
        "2s",
        "--derp-config-path",
        &map.display().to_string(),
    ]);
    out.json()["derp"]["regions"]["1"]["node_reports"][0]["evidence"].clone()
}

#[test]
fn a_relay_behind_a_proxy_that_refuses_the_upgrade_has_upgrade_refused_evidence() {
    let nginx = Nginx::start("    location /derp { return 502 'no upstream'; }");
    let evidence = derp_node_evidence(nginx.port);
    assert_eq!(evidence["kind"], "upgrade_refused", "{evidence}");
    assert_eq!(evidence["status"], 502);
    assert!(evidence["body_start"]
        .as_str()
        .unwrap()
        .contains("no upstream"));
}

#[test]
fn a_relay_port_with_nothing_listening_is_refused() {
    let port = free_port();
    let evidence = derp_node_evidence(port);
    assert_eq!(evidence["kind"], "refused", "{evidence}");
    assert_eq!(evidence["address"], format!("127.0.0.1:{port}"));
}

#[test]
fn coderd_down_on_its_own_listener_has_refused_evidence_on_elst02() {
    let (access, listener) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{access}");
    let address = format!("127.0.0.1:{listener}");
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--http-address",
        &address,
    ]);
    let json = out.json();
    let warning = &json["access_url"]["warnings"][0];
    assert_eq!(warning["code"], "ELST02", "{warning}");
    assert_eq!(warning["evidence"]["kind"], "refused");
    assert_eq!(warning["evidence"]["address"], address);
    assert_eq!(
        json["access_url"]["local_listener"]["evidence"]["kind"],
        "refused"
    );
}

#[test]
fn a_proxy_that_refuses_connect_is_proxy_refused_with_its_status() {
    const HOST: &str = "coder.proxy-only.test";
    let proxy = support::tinyproxy::Tinyproxy::start(&[HOST], "hcproxy", "Pr0xy-Secret-77");
    let wrong = format!("http://hcproxy:Wr0ng-Pa55word@127.0.0.1:{}", proxy.port);
    let mut cmd = support::healthcheck();
    cmd.env("HTTPS_PROXY", &wrong).args([
        "run",
        "--json",
        "--only",
        "websocket",
        "--access-url",
        &format!("https://{HOST}:8443"),
        "--timeout",
        "3s",
    ]);
    let out = support::run(cmd);
    assert!(!out.all().contains("Wr0ng-Pa55word"));
    let json = out.json();
    let evidence = &json["websocket"]["error_evidence"];
    assert_eq!(evidence["kind"], "proxy_refused", "{evidence}");
    // tinyproxy answers 401 where the standard says 407.
    assert_eq!(evidence["status"], 401);
    assert_eq!(
        evidence["proxy"],
        format!("http://hcproxy:[REDACTED]@127.0.0.1:{}", proxy.port)
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_is_a_timeout_waiting_for_the_answer() {
    let port = support::http::stall_server();
    let url = format!("http://127.0.0.1:{port}");
    let evidence = access_url_evidence(&["--access-url", &url]);
    assert_eq!(evidence["kind"], "timeout", "{evidence}");
    assert_eq!(evidence["phase"], "answer");
    assert_eq!(evidence["address"], format!("127.0.0.1:{port}"));
}

#[test]
fn a_database_host_that_does_not_resolve_is_dns() {
    let out = run_json(&[
        "--only",
        "database",
        "--postgres-url",
        "postgres://coder:pw@db.invalid:5432/coder?sslmode=disable",
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    let evidence = &json["database"]["error_evidence"];
    assert_eq!(evidence["kind"], "dns", "{evidence}");
    assert_eq!(evidence["host"], "db.invalid");
}
