//! Websocket section: Coder's echo test with a token, the token-free DERP-over-WebSocket probe
//! without one, against an in-process Coder look-alike, directly and through a real nginx.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::certs::TestCa;
use support::nginx::Nginx;
use support::ws_server::{Fault, WsServer};
use support::{healthcheck, run, run_json, Output};

const TOKEN: &str = "hcWsTok-8f3a2c1d-secret";

/// nginx as Coder's docs recommend for WebSockets.
fn nginx_passing(backend: u16) -> Nginx {
    Nginx::start(&format!(
        "    location / {{\n      proxy_pass http://127.0.0.1:{backend};\n      proxy_http_version 1.1;\n\
         proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection \"upgrade\";\n\
         proxy_set_header Host $host;\n    }}"
    ))
}

/// nginx with a plain proxy_pass: HTTP/1.0 upstream, Upgrade and Connection dropped.
fn nginx_stripping(backend: u16) -> Nginx {
    Nginx::start(&format!(
        "    location / {{\n      proxy_pass http://127.0.0.1:{backend};\n    }}"
    ))
}

/// nginx terminating TLS (test CA) and passing WebSockets; returns the https access URL and
/// the CA file.
fn nginx_tls(backend: u16) -> (Nginx, String, std::path::PathBuf) {
    let dir = support::temp_dir("hc-ws-tls-");
    let ca = TestCa::new("healthcheck websocket test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    std::fs::write(dir.join("leaf.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("leaf.key"), &leaf.key_pem).unwrap();
    let ca_path = ca.write(&dir);
    let tls_port = support::free_port();
    let d = dir.display();
    let nginx = Nginx::start(&format!(
        "    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {d}/leaf.pem;\n    \
         ssl_certificate_key {d}/leaf.key;\n    location / {{\n      proxy_pass http://127.0.0.1:{backend};\n      \
         proxy_http_version 1.1;\n      proxy_set_header Upgrade $http_upgrade;\n      \
         proxy_set_header Connection \"upgrade\";\n      proxy_set_header Host $host;\n    }}"
    ));
    support::wait_for_port(tls_port, "nginx TLS", &nginx.dir.join("logs/error.log"));
    (nginx, format!("https://localhost:{tls_port}"), ca_path)
}

fn ws_run(url: &str, token: Option<&str>, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["--only", "websocket", "--access-url", url];
    if let Some(token) = token {
        args.extend(["--token", token]);
    }
    args.extend(extra);
    let out = run_json(&args);
    assert!(!out.all().contains(TOKEN), "token leaked:\n{}", out.all());
    let section = out.json()["websocket"].clone();
    eprintln!("websocket section: {section}");
    (out, section)
}

fn assert_healthy(out: &Output, ws: &Value) {
    assert_eq!(ws["healthy"], true, "{ws}\n{}", out.stderr);
    assert_eq!(ws["severity"], "ok", "{ws}");
    assert_eq!(ws["code"], 101, "{ws}");
    assert_eq!(ws["body"], "", "{ws}");
    assert_eq!(ws["skipped"], false, "{ws}");
    assert_eq!(ws["warnings"], serde_json::json!([]), "{ws}");
    assert!(ws.get("error").is_none(), "{ws}");
    assert_eq!(out.code, 0, "{}", out.stdout);
}

fn error_of(ws: &Value) -> &str {
    ws["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {ws}"))
}

fn assert_fails(out: &Output, ws: &Value, code: &str) {
    assert_eq!(ws["healthy"], false, "{ws}");
    assert_eq!(ws["severity"], "error", "{ws}");
    assert!(error_of(ws).starts_with(&format!("{code}: ")), "{ws}");
    assert_eq!(ws["warnings"], serde_json::json!([]), "{ws}");
    assert_eq!(out.code, 1, "{}", out.stdout);
}

#[test]
fn echo_with_token_is_healthy_directly() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &[]);
    assert_healthy(&out, &ws);
    // The server echoes only "0", "1", "2" in order; the client closes as Coder does.
    assert_eq!(server.wait_for_close(), [(1001, "goodbye".to_string())]);
    // Key order as Coder writes it, checked on the raw text so the check does not depend on
    // serde_json's preserve_order feature.
    let raw = &out.stdout[out.stdout.find("\"websocket\"").unwrap()..];
    let pos = |k: &str| raw.find(&format!("\"{k}\"")).unwrap();
    assert!(
        pos("healthy") < pos("severity")
            && pos("severity") < pos("warnings")
            && pos("warnings") < pos("dismissed")
            && pos("dismissed") < pos("body")
            && pos("body") < pos("code"),
        "{raw}"
    );
}

#[test]
fn a_token_with_a_trailing_newline_is_sent_trimmed() {
    // As read from a token file; the server accepts only the exact token.
    let server = WsServer::start(TOKEN, Fault::None);
    let (out, ws) = ws_run(&server.url(), Some(&format!("{TOKEN}\n")), &[]);
    assert_healthy(&out, &ws);
}

#[test]
fn echo_with_token_is_healthy_through_nginx_configured_for_websockets() {
    let server = WsServer::start(TOKEN, Fault::None);
    let nginx = nginx_passing(server.port);
    let (out, ws) = ws_run(&nginx.url(), Some(TOKEN), &[]);
    assert_healthy(&out, &ws);
}

#[test]
fn wss_echo_through_nginx_terminating_tls() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (_nginx, url, ca) = nginx_tls(server.port);
    let ca = ca.display().to_string();
    let (out, ws) = ws_run(&url, Some(TOKEN), &["--ca-cert", &ca]);
    assert_healthy(&out, &ws);
    let (out, ws) = ws_run(&url, None, &["--ca-cert", &ca]);
    assert_healthy(&out, &ws);
}

#[test]
fn wss_with_an_untrusted_certificate_is_ews01() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (_nginx, url, _ca) = nginx_tls(server.port);
    let (out, ws) = ws_run(&url, Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS01");
    assert!(error_of(&ws).contains("unknown authority"), "{ws}");
    assert_eq!(ws["code"], 0, "{ws}");
}

#[test]
fn table_output_says_what_was_proven_and_hides_the_token() {
    let server = WsServer::start(TOKEN, Fault::None);
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "websocket",
        "--access-url",
        &server.url(),
        "--token",
        TOKEN,
    ]);
    let out = run(cmd);
    assert!(!out.all().contains(TOKEN), "token leaked:\n{}", out.all());
    assert!(out.stdout.contains("echoed 3 messages"), "{}", out.stdout);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--verbose",
        "--only",
        "websocket",
        "--access-url",
        &server.url(),
        "--token",
        TOKEN,
    ]);
    let out = run(cmd);
    assert!(!out.all().contains(TOKEN), "token leaked:\n{}", out.all());
    assert!(out.stdout.contains("Coder's echo test"), "{}", out.stdout);

    // The same with the token from the environment and a failing check (the error path).
    let wrong = "hcWsTok-wrong-0000-secret";
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--verbose",
        "--only",
        "websocket",
        "--access-url",
        &server.url(),
    ])
    .env("CODER_SESSION_TOKEN", wrong);
    let out = run(cmd);
    assert!(!out.all().contains(wrong), "token leaked:\n{}", out.all());
    assert!(out.stdout.contains("EWS01"), "{}", out.stdout);
    assert_eq!(out.code, 1);
}

#[test]
fn ews01_when_nginx_does_not_pass_the_upgrade() {
    let server = WsServer::start(TOKEN, Fault::None);
    let nginx = nginx_stripping(server.port);
    let (out, ws) = ws_run(&nginx.url(), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS01");
    assert_eq!(ws["code"], 426, "{ws}");
    assert!(
        ws["body"]
            .as_str()
            .unwrap()
            .contains("does not contain Upgrade"),
        "{ws}"
    );
    let error = error_of(&ws);
    assert!(error.contains("EWS01: websocket dial: "), "{error}");
    assert!(
        error.contains("did not pass the WebSocket upgrade"),
        "{error}"
    );
    assert!(
        error.contains("nginx"),
        "names the proxy from its Server header: {error}"
    );
}

#[test]
fn ews01_with_401_when_the_token_is_wrong_or_missing_from_the_request() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (out, ws) = ws_run(&server.url(), Some("not-the-token"), &[]);
    assert_fails(&out, &ws, "EWS01");
    assert_eq!(ws["code"], 401, "{ws}");
    assert!(ws["body"].as_str().unwrap().contains("\"message\""), "{ws}");
    assert!(error_of(&ws).contains("session token"), "{ws}");
    assert!(!out.all().contains("not-the-token"), "{}", out.all());
}

#[test]
fn d2_server_answers_400_test_error_instead_of_upgrading() {
    let server = WsServer::start(TOKEN, Fault::Refuse400);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS01");
    assert_eq!(ws["code"], 400, "{ws}");
    assert_eq!(ws["body"], "test error", "{ws}");
}

#[test]
fn ews01_when_nothing_listens() {
    let port = support::free_port();
    let (out, ws) = ws_run(
        &format!("http://127.0.0.1:{port}"),
        Some(TOKEN),
        &["--timeout", "2s"],
    );
    assert_fails(&out, &ws, "EWS01");
    assert!(error_of(&ws).contains("connection refused"), "{ws}");
    assert_eq!(ws["code"], 0, "{ws}");
}

#[test]
fn ews01_when_the_upgrade_gets_no_answer_ends_at_the_timeout() {
    let port = support::http::stall_server();
    let (out, ws) = ws_run(
        &format!("http://127.0.0.1:{port}"),
        Some(TOKEN),
        &["--timeout", "1s"],
    );
    assert_fails(&out, &ws, "EWS01");
    assert!(error_of(&ws).contains("no answer"), "{ws}");
    assert!(ws["duration_ms"].as_u64().unwrap() < 1500, "{ws}");
    // Build-info discovery probes the same stalled server alongside, under its own 1s.
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
}

#[test]
fn a_proxy_page_that_echoes_the_token_does_not_leak_it() {
    let port = support::http::fixed_server(|head| {
        let token = head
            .lines()
            .find_map(|l| l.strip_prefix("Coder-Session-Token: "))
            .unwrap_or("")
            .to_string();
        support::http::response(
            "502 Bad Gateway",
            &[("Server", "echo-proxy")],
            &format!("upstream failed for {token}"),
        )
    });
    let (out, ws) = ws_run(&format!("http://127.0.0.1:{port}"), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS01");
    assert_eq!(ws["code"], 502, "{ws}");
    assert!(
        ws["body"]
            .as_str()
            .unwrap()
            .starts_with("upstream failed for "),
        "{ws}"
    );
    assert!(error_of(&ws).contains("echo-proxy"), "{ws}");
}

#[test]
fn ews02_when_the_server_closes_at_once() {
    let server = WsServer::start(TOKEN, Fault::CloseAtOnce);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &["--timeout", "2s"]);
    assert_fails(&out, &ws, "EWS02");
    let error = error_of(&ws);
    assert!(
        error.starts_with("EWS02: read message: ") || error.starts_with("EWS02: write message: "),
        "{error}"
    );
    assert_eq!(ws["code"], 101, "{ws}");
    assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
}

#[test]
fn ews02_when_the_server_never_answers_ends_at_the_timeout() {
    let server = WsServer::start(TOKEN, Fault::NeverAnswer);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &["--timeout", "1s"]);
    assert_fails(&out, &ws, "EWS02");
    assert!(error_of(&ws).starts_with("EWS02: read message: "), "{ws}");
    assert!(error_of(&ws).contains("1s"), "{ws}");
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
}

#[test]
fn a_101_reply_trickled_byte_by_byte_ends_at_the_timeout() {
    // One byte every 300 ms keeps every single read alive; only a deadline over the whole
    // handshake ends it.
    let server = WsServer::start(TOKEN, Fault::Trickle101);
    for token in [Some(TOKEN), None] {
        let (out, ws) = ws_run(&server.url(), token, &["--timeout", "1s"]);
        assert_fails(&out, &ws, "EWS01");
        assert!(error_of(&ws).contains("no answer"), "{ws}");
        assert!(
            out.elapsed < Duration::from_millis(2500),
            "{:?}",
            out.elapsed
        );
    }
}

#[test]
fn a_tls_handshake_trickled_byte_by_byte_ends_at_the_timeout() {
    let port = support::derp_relay::trickle_tls_server();
    let (out, ws) = ws_run(
        &format!("https://127.0.0.1:{port}"),
        Some(TOKEN),
        &["--timeout", "1s"],
    );
    assert_fails(&out, &ws, "EWS01");
    assert!(error_of(&ws).contains("TLS handshake"), "{ws}");
    assert!(ws["duration_ms"].as_u64().unwrap() < 1500, "{ws}");
}

#[test]
fn a_message_over_one_mib_is_refused_not_buffered() {
    let server = WsServer::start(TOKEN, Fault::Huge);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS02");
    assert!(error_of(&ws).starts_with("EWS02: read message: "), "{ws}");
    assert!(error_of(&ws).contains("too long"), "{ws}");
}

#[test]
fn ews03_when_the_echo_differs() {
    let server = WsServer::start(TOKEN, Fault::WrongPayload);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS03");
    assert_eq!(
        error_of(&ws),
        r#"EWS03: received incorrect message: wanted "0", got "x""#
    );
}

#[test]
fn ews03_when_the_echo_is_binary() {
    let server = WsServer::start(TOKEN, Fault::Binary);
    let (out, ws) = ws_run(&server.url(), Some(TOKEN), &[]);
    assert_fails(&out, &ws, "EWS03");
    assert_eq!(
        error_of(&ws),
        "EWS03: received incorrect message type: MessageBinary"
    );
}

#[test]
fn without_token_the_derp_upgrade_is_ok_and_says_so() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (out, ws) = ws_run(&server.url(), None, &[]);
    assert_healthy(&out, &ws);

    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "websocket", "--access-url", &server.url()]);
    let table = run(cmd);
    assert!(table.stdout.contains("/derp"), "{}", table.stdout);
    assert!(table.stdout.contains("--token"), "{}", table.stdout);
    assert_eq!(table.code, 0);
}

#[test]
fn without_token_the_derp_upgrade_passes_through_nginx_configured_for_websockets() {
    let server = WsServer::start(TOKEN, Fault::None);
    let nginx = nginx_passing(server.port);
    let (out, ws) = ws_run(&nginx.url(), None, &[]);
    assert_healthy(&out, &ws);
}

#[test]
fn without_token_ews01_when_nginx_strips_the_upgrade() {
    let server = WsServer::start(TOKEN, Fault::None);
    let nginx = nginx_stripping(server.port);
    let (out, ws) = ws_run(&nginx.url(), None, &[]);
    assert_fails(&out, &ws, "EWS01");
    assert_eq!(ws["code"], 426, "{ws}");
    assert_eq!(ws["body"], "DERP requires connection upgrade", "{ws}");
    assert!(
        error_of(&ws).contains("did not pass the WebSocket upgrade"),
        "{ws}"
    );
}

#[test]
fn without_token_ews02_when_the_relay_sends_nothing() {
    let server = WsServer::start(TOKEN, Fault::NeverAnswer);
    let (out, ws) = ws_run(&server.url(), None, &["--timeout", "1s"]);
    assert_fails(&out, &ws, "EWS02");
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
}

#[test]
fn without_token_ews03_when_the_frame_is_not_a_derp_key() {
    let server = WsServer::start(TOKEN, Fault::BadDerpMagic);
    let (out, ws) = ws_run(&server.url(), None, &[]);
    assert_fails(&out, &ws, "EWS03");
    assert!(error_of(&ws).contains("magic"), "{ws}");
}

#[test]
fn without_token_and_without_relay_the_section_is_skipped() {
    let server = WsServer::start(TOKEN, Fault::None);
    let (out, ws) = ws_run(&server.url(), None, &["--derp-server-enable=false"]);
    assert_eq!(ws["skipped"], true, "{ws}");
    assert_eq!(ws["severity"], "ok", "{ws}");
    assert_eq!(
        ws["healthy"], false,
        "a skipped section never claims health: {ws}"
    );
    assert!(
        ws["skip_reason"].as_str().unwrap().contains("--token"),
        "{ws}"
    );
    assert!(ws.get("error").is_none(), "{ws}");
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn without_access_url_the_section_is_skipped() {
    let out = run_json(&["--only", "websocket", "--token", TOKEN]);
    let ws = &out.json()["websocket"];
    assert_eq!(ws["skipped"], true, "{ws}");
    assert_eq!(ws["skip_reason"], "no access URL configured", "{ws}");
    let out = run_json(&[
        "--only",
        "websocket",
        "--access-url",
        "ftp://nowhere",
        "--token",
        TOKEN,
    ]);
    let ws = &out.json()["websocket"];
    assert_eq!(
        ws["skip_reason"], "access URL is invalid (see Access URL)",
        "{ws}"
    );
    assert!(!out.all().contains(TOKEN));
}
