//! Workspace proxies read from a real PostgreSQL laid out as Coder's schema, each probed at its
//! /healthz-report: in-process servers for the JSON answers, a real nginx, a closed port and a
//! server that never answers.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use support::coder_schema::{CoderDb, Generation, DEPLOYMENT_ID};
use support::http::{fixed_server, path_of, response};
use support::{run_json, Output};

const SERVER_VERSION: &str = "v2.18.1";

fn access_url() -> String {
    static PORT: OnceLock<u16> = OnceLock::new();
    let port = PORT.get_or_init(|| support::http::coder_like(SERVER_VERSION));
    format!("http://127.0.0.1:{port}")
}

/// Only this section, so the exit code is its own (coder_db.rs runs both together).
fn check(db: &CoderDb, timeout: &str) -> Output {
    run_json(&[
        "--only",
        "workspace-proxy",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &access_url(),
        "--timeout",
        timeout,
    ])
}

/// A proxy whose /healthz-report answers `body` (and everything else 404).
fn proxy_answering(body: &'static str) -> String {
    let port = fixed_server(move |head| match path_of(head) {
        "/healthz-report" => response("200 OK", &[("Content-Type", "application/json")], body),
        _ => response("404 Not Found", &[], "not found"),
    });
    format!("http://127.0.0.1:{port}/")
}

fn healthy_proxy() -> String {
    proxy_answering(r#"{"errors":[],"warnings":[]}"#)
}

fn closed_port() -> String {
    format!("http://127.0.0.1:{}", support::free_port())
}

fn section(out: &Output) -> Value {
    out.json()["workspace_proxy"].clone()
}

fn regions(section: &Value) -> Vec<Value> {
    section["workspace_proxies"]["regions"]
        .as_array()
        .unwrap_or_else(|| panic!("no regions: {section}"))
        .clone()
}

fn region<'a>(regions: &'a [Value], name: &str) -> &'a Value {
    regions
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no region {name}"))
}

fn messages(section: &Value) -> Vec<String> {
    section["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{}: {}",
                w["code"].as_str().unwrap(),
                w["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn no_proxies_is_ok_with_only_the_primary_region() {
    let db = CoderDb::create("wp_none", Generation::Newest);
    db.set_site_config("default_proxy_display_name", "Headquarters");
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "ok", "{wp}");
    assert_eq!(wp["healthy"], true);
    let regions = regions(&wp);
    assert_eq!(regions.len(), 1);
    let primary = &regions[0];
    assert_eq!(primary["name"], "primary");
    assert_eq!(primary["id"], DEPLOYMENT_ID);
    assert_eq!(primary["display_name"], "Headquarters");
    assert_eq!(primary["icon_url"], "/emojis/1f3e1.png");
    assert_eq!(primary["healthy"], true);
    assert_eq!(primary["path_app_url"], access_url());
    assert_eq!(primary["status"]["status"], "ok");

    let mut cmd = support::healthcheck();
    cmd.args([
        "run",
        "--only",
        "workspace-proxy",
        "--postgres-url",
        &db.dsn(),
    ]);
    let table = support::run(cmd);
    assert!(
        table
            .stdout
            .contains("no workspace proxies configured; only the primary region"),
        "{}",
        table.stdout
    );
}

#[test]
fn healthy_proxies_are_ok_and_deleted_ones_ignored() {
    let db = CoderDb::create("wp_healthy", Generation::Newest);
    db.add_proxy("alpha", &healthy_proxy(), SERVER_VERSION, false, 60);
    db.add_proxy("beta", &healthy_proxy(), "v2.18.0", false, 30);
    db.add_proxy("dead", &closed_port(), SERVER_VERSION, true, 90);
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "ok", "{wp}");
    assert_eq!(wp["healthy"], true);
    assert_eq!(wp["warnings"], serde_json::json!([]));
    let regions = regions(&wp);
    let names: Vec<&str> = regions
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["alpha", "beta", "primary"],
        "oldest first, primary created now"
    );
    let alpha = region(&regions, "alpha");
    assert_eq!(alpha["status"]["status"], "ok");
    assert_eq!(alpha["healthy"], true);
    assert_eq!(alpha["derp_enabled"], true);
    assert_eq!(alpha["derp_only"], false);
    assert_eq!(alpha["version"], SERVER_VERSION);
    assert_eq!(alpha["display_name"], "Alpha");
    assert_eq!(out.code, 0);
}

#[test]
fn one_unhealthy_proxy_is_a_warning_naming_it() {
    let db = CoderDb::create("wp_one_bad", Generation::Newest);
    db.add_proxy("alpha", &healthy_proxy(), SERVER_VERSION, false, 60);
    db.add_proxy(
        "beta",
        &proxy_answering(r#"{"errors":["cannot reach coderd"],"warnings":["clock skew"]}"#),
        SERVER_VERSION,
        false,
        30,
    );
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "warning", "{wp}");
    assert_eq!(wp["healthy"], true);
    assert_eq!(
        messages(&wp),
        [
            "EWP04: beta: clock skew",
            "EWP04: beta: cannot reach coderd"
        ]
    );
    assert_eq!(
        region(&regions(&wp), "beta")["status"]["status"],
        "unhealthy"
    );
    assert_eq!(out.json()["healthy"], true);
    assert_eq!(out.code, 0);
}

#[test]
fn all_proxies_down_is_still_a_warning_thanks_to_the_primary() {
    let db = CoderDb::create("wp_all_bad", Generation::Newest);
    db.add_proxy("gone", &closed_port(), SERVER_VERSION, false, 60);
    db.add_proxy(
        "broken",
        &proxy_answering(r#"{"errors":["derp mesh down"],"warnings":[]}"#),
        SERVER_VERSION,
        false,
        30,
    );
    db.add_proxy("slowpoke", "", "", false, 10);
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "warning", "{wp}");
    assert_eq!(wp["healthy"], true);
    assert!(wp.get("error").is_none());
    let regions = regions(&wp);
    let gone = region(&regions, "gone");
    assert_eq!(gone["status"]["status"], "unreachable");
    assert_eq!(gone["healthy"], false);
    assert_eq!(
        region(&regions, "slowpoke")["status"]["status"],
        "unregistered"
    );
    let messages = messages(&wp);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("EWP04: gone: request to proxy failed")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"EWP04: broken: derp mesh down".to_string()),
        "{messages:?}"
    );
    assert_eq!(out.code, 0);
}

#[test]
fn a_real_nginx_proxy_answering_json_with_a_warning() {
    let nginx = support::nginx::Nginx::start(
        "    location = /healthz-report {\n      default_type application/json;\n      \
         return 200 '{\"errors\":[],\"warnings\":[\"replica sync lagging\"]}';\n    }\n",
    );
    let db = CoderDb::create("wp_nginx", Generation::Newest);
    db.add_proxy("eu", &format!("{}/", nginx.url()), SERVER_VERSION, false, 5);
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "warning", "{wp}");
    assert_eq!(messages(&wp), ["EWP04: eu: replica sync lagging"]);
    let regions = regions(&wp);
    let eu = region(&regions, "eu");
    assert_eq!(eu["status"]["status"], "ok");
    assert_eq!(
        eu["status"]["report"]["warnings"][0],
        "replica sync lagging"
    );
}

#[test]
fn a_proxy_on_another_version_is_named() {
    let db = CoderDb::create("wp_version", Generation::Newest);
    db.add_proxy("old", &healthy_proxy(), "v2.16.2", false, 5);
    let out = check(&db, "3s");
    let wp = section(&out);
    // Named in an entry, but the severity stays Coder's: versions no longer decide it.
    assert_eq!(wp["severity"], "ok", "{wp}");
    assert_eq!(
        messages(&wp),
        ["EWP04: old: version v2.16.2 differs from the server's v2.18.1"]
    );
}

#[test]
fn a_stalled_proxy_is_unreachable_within_the_deadline() {
    let stall = support::http::stall_server();
    let db = CoderDb::create("wp_stall", Generation::Newest);
    db.add_proxy(
        "stuck",
        &format!("http://127.0.0.1:{stall}"),
        SERVER_VERSION,
        false,
        5,
    );
    db.add_proxy("fine", &healthy_proxy(), SERVER_VERSION, false, 4);
    let out = run_json(&[
        "--only",
        "workspace-proxy",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &access_url(),
        "--timeout",
        "1s",
    ]);
    let wp = section(&out);
    assert_eq!(wp["severity"], "warning", "{wp}");
    let regions = regions(&wp);
    assert_eq!(region(&regions, "stuck")["status"]["status"], "unreachable");
    assert_eq!(region(&regions, "fine")["status"]["status"], "ok");
    assert!(wp["duration_ms"].as_u64().unwrap() < 1500, "{wp}");
    // buildinfo (1s) + the section (1s) + start-up.
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
}

#[test]
fn the_old_schema_generation_reports_missing_columns_as_unknown() {
    let db = CoderDb::create("wp_old_schema", Generation::Old);
    db.add_proxy("legacy", &healthy_proxy(), "", false, 5);
    let out = check(&db, "3s");
    let wp = section(&out);
    assert_eq!(wp["severity"], "ok", "{wp}");
    let regions = regions(&wp);
    let legacy = region(&regions, "legacy");
    // Columns this schema lacks read as Go's zero values, as Coder's client types expect.
    assert_eq!(legacy["derp_only"], false, "{legacy}");
    assert_eq!(legacy["version"], "");
    assert_eq!(legacy["derp_enabled"], true);
}

#[test]
fn json_key_order_is_coders() {
    let db = CoderDb::create("wp_keys", Generation::Newest);
    let out = check(&db, "3s");
    let text = &out.stdout;
    let start = text.find("\"workspace_proxy\"").unwrap();
    let positions: Vec<usize> = [
        "healthy",
        "severity",
        "warnings",
        "dismissed",
        "workspace_proxies",
    ]
    .iter()
    .map(|k| start + text[start..].find(&format!("\"{k}\"")).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}
