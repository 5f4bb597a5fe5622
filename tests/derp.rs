//! DERP section against the test relay (tests/support/derp_relay.rs), a real nginx, fault
//! servers and bad DERP map files. STUN is always given explicitly (`disable` or loopback), so
//! Coder's default Google STUN servers are never contacted.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::derp_relay::{DerpRelay, Mode};
use support::http::stall_server;
use support::nginx::Nginx;
use support::{free_port, run_json, temp_dir, warning_codes as codes};

fn node_of<'a>(json: &'a Value, region: &str, index: usize) -> &'a Value {
    &json["derp"]["regions"][region]["node_reports"][index]
}

/// `run --json --only derp` with STUN off (Coder's external default list is never contacted).
fn derp_only(args: &[&str]) -> support::Output {
    let mut all = vec!["--only", "derp", "--derp-server-stun-addresses", "disable"];
    all.extend_from_slice(args);
    run_json(&all)
}

/// Writes a DERP map with one region per (name, port) relay node, all plain HTTP on loopback.
fn map_file(nodes: &[(&str, u16)]) -> std::path::PathBuf {
    let mut regions = serde_json::Map::new();
    for (i, (name, port)) in nodes.iter().enumerate() {
        let id = 1 + i as i64;
        regions.insert(
            id.to_string(),
            serde_json::json!({
                "RegionID": id, "RegionCode": format!("r{id}"), "RegionName": format!("Region {id}"),
                "Nodes": [{"Name": name, "RegionID": id, "HostName": "127.0.0.1",
                           "DERPPort": port, "STUNPort": -1, "ForceHTTP": true}]
            }),
        );
    }
    let path = temp_dir("hc-derpmap-").join("derpmap.json");
    std::fs::write(&path, serde_json::json!({ "Regions": regions }).to_string()).unwrap();
    path
}

#[test]
fn healthy_embedded_relay_exchanges_a_packet_with_a_measured_rtt() {
    let relay = DerpRelay::start(Mode::Normal);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "3s"]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "ok", "{derp:#}");
    assert_eq!(derp["healthy"], true);
    assert_eq!(derp["warnings"], serde_json::json!([]));
    let region = &derp["regions"]["999"];
    assert_eq!(region["region"]["RegionCode"], "coder");
    assert_eq!(region["region"]["EmbeddedRelay"], true);
    let node = node_of(&json, "999", 0);
    assert_eq!(node["node"]["Name"], "999b");
    assert_eq!(node["node"]["DERPPort"], relay.port);
    assert_eq!(node["node"]["ForceHTTP"], true);
    assert_eq!(node["node"]["STUNPort"], -1);
    assert_eq!(node["can_exchange_messages"], true, "{node:#}");
    assert_eq!(node["uses_websocket"], false);
    assert_eq!(node["warnings"], serde_json::json!([]));
    let rtt = node["round_trip_ping"].as_str().unwrap();
    assert!(rtt.ends_with("ms") || rtt.ends_with("µs"), "{rtt}");
    assert!(node["round_trip_ping_ms"].as_u64().unwrap() < 1000);
    assert_eq!(node["client_errs"], serde_json::json!([[], []]));
    assert_eq!(node["client_logs"].as_array().unwrap().len(), 2);
    assert_eq!(node["stun"]["Enabled"], false);
    assert_eq!(node["stun"]["Error"], Value::Null);
    assert_eq!(node["node_info"]["TokenBucketBytesPerSecond"], 0);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn relay_that_refuses_upgrade_derp_with_400_falls_back_to_websocket() {
    // Coder's E6 case: the relay itself answers 400 to Upgrade: DERP.
    let relay = DerpRelay::start(Mode::RefuseDerpUpgrade);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "3s"]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "warning", "{derp:#}");
    assert_eq!(derp["healthy"], true);
    assert_eq!(codes(&derp["warnings"]), ["EDERP01"]);
    let node = node_of(&json, "999", 0);
    assert_eq!(node["uses_websocket"], true);
    assert_eq!(node["can_exchange_messages"], true);
    assert_eq!(node["severity"], "warning");
    for errs in node["client_errs"].as_array().unwrap() {
        let errs = errs.as_array().unwrap();
        assert_eq!(errs.len(), 1, "{node:#}");
        assert!(errs[0].as_str().unwrap().contains("400"), "{errs:?}");
    }
}

#[test]
fn relay_that_answers_502_to_upgrade_derp_does_not_fall_back_to_websocket() {
    // Only a 4xx is Coder's cue for WebSocket; a 5xx is a plain node failure.
    let relay = DerpRelay::start(Mode::Refuse502);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "2s"]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "error", "{derp:#}");
    assert!(!codes(&derp["warnings"]).contains(&"EDERP01".to_string()));
    let node = node_of(&json, "999", 0);
    assert_eq!(node["uses_websocket"], false, "{node:#}");
    assert_eq!(node["can_exchange_messages"], false);
    let error = node["error"].as_str().unwrap();
    assert!(error.contains("502"), "{error}");
    let logs = node["client_logs"].to_string();
    assert!(!logs.contains("DERP over WebSocket"), "{logs}");
}

#[test]
fn a_trickled_websocket_101_fails_its_node_and_keeps_the_healthy_one() {
    // Node 2a refuses Upgrade: DERP, so the client falls back to WebSocket, whose 101 reply
    // comes one byte every 300 ms: each read succeeds, the handshake never ends.
    let good = DerpRelay::start(Mode::Normal);
    let slow = DerpRelay::start(Mode::TrickleWebSocket);
    let map = map_file(&[("1a", good.port), ("2a", slow.port)]);
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-path",
        map.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    assert!(
        out.elapsed < Duration::from_millis(1800),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    let derp = &json["derp"];
    // Coder's rule: a node that fell back to WebSocket is a warning (EDERP01) even if it failed.
    assert_eq!(derp["severity"], "warning", "{derp:#}");
    assert_eq!(codes(&derp["warnings"]), ["EDERP01"]);
    assert_eq!(
        node_of(&json, "1", 0)["can_exchange_messages"],
        true,
        "{derp:#}"
    );
    assert_eq!(derp["regions"]["1"]["healthy"], true);
    let slow_node = node_of(&json, "2", 0);
    assert_eq!(slow_node["can_exchange_messages"], false, "{slow_node:#}");
    assert_eq!(slow_node["uses_websocket"], true);
    let error = slow_node["error"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");
}

#[test]
fn a_trickled_tls_handshake_fails_its_node_within_the_timeout() {
    // The relay's TLS handshake arrives one byte every 300 ms; a plain relay beside it.
    let good = DerpRelay::start(Mode::Normal);
    let slow = support::derp_relay::trickle_tls_server();
    let path = temp_dir("hc-tls-trickle-").join("map.json");
    let node = |name: &str, region: i64, port: u16, force_http: bool| {
        serde_json::json!({"Name": name, "RegionID": region, "HostName": "127.0.0.1",
                           "DERPPort": port, "STUNPort": -1, "ForceHTTP": force_http})
    };
    let map = serde_json::json!({"Regions": {
        "1": {"RegionID": 1, "RegionCode": "one", "Nodes": [node("1a", 1, good.port, true)]},
        "2": {"RegionID": 2, "RegionCode": "two", "Nodes": [node("2a", 2, slow, false)]}}});
    std::fs::write(&path, map.to_string()).unwrap();
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-path",
        path.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    assert!(
        out.elapsed < Duration::from_millis(1800),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "error", "{derp:#}");
    assert!(derp.get("error").is_none(), "{derp:#}");
    assert_eq!(node_of(&json, "1", 0)["can_exchange_messages"], true);
    let slow_node = node_of(&json, "2", 0);
    assert_eq!(slow_node["can_exchange_messages"], false);
    let error = slow_node["error"].as_str().unwrap();
    assert!(error.contains("TLS handshake: timed out"), "{error}");
}

#[test]
fn nginx_that_only_passes_websocket_upgrades_gives_ederp01() {
    // A real nginx in front of the relay forwards `Upgrade` only when it is `websocket`. An
    // `Upgrade: DERP` request reaches the relay without the header, so the relay answers 426
    // (a 4xx), and the client retries over WebSocket, which nginx passes.
    let relay = DerpRelay::start(Mode::Normal);
    let nginx = Nginx::start(&format!(
        "    location / {{\n      proxy_pass http://127.0.0.1:{};\n      proxy_http_version 1.1;\n\
         \x20     set $up \"\";\n      set $conn \"\";\n\
         \x20     if ($http_upgrade ~* \"^websocket$\") {{ set $up websocket; set $conn upgrade; }}\n\
         \x20     proxy_set_header Upgrade $up;\n      proxy_set_header Connection $conn;\n    }}",
        relay.port
    ));
    let out = derp_only(&["--access-url", &nginx.url(), "--timeout", "3s"]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "warning", "{derp:#}");
    assert_eq!(codes(&derp["warnings"]), ["EDERP01"]);
    let node = node_of(&json, "999", 0);
    assert_eq!(node["uses_websocket"], true, "{node:#}");
    assert_eq!(node["can_exchange_messages"], true);
    let first_err = node["client_errs"][0][0].as_str().unwrap();
    assert!(first_err.contains("426"), "{first_err}");
    assert!(derp["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("999b"));
}

#[test]
fn relay_down_is_a_node_error_within_the_deadline() {
    let closed = free_port();
    let out = derp_only(&[
        "--access-url",
        &format!("http://127.0.0.1:{closed}"),
        "--timeout",
        "2s",
    ]);
    assert!(
        out.elapsed < Duration::from_millis(2800),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "error", "{derp:#}");
    assert_eq!(derp["healthy"], false);
    let node = node_of(&json, "999", 0);
    assert_eq!(node["can_exchange_messages"], false);
    let errs = node["client_errs"][0].as_array().unwrap();
    assert!(
        errs.iter().any(|e| e
            .as_str()
            .unwrap()
            .contains("couldn't connect after 5 tries")),
        "{errs:?}"
    );
    assert!(
        node["error"]
            .as_str()
            .unwrap()
            .contains("node 999b in region 999"),
        "{node:#}"
    );
    // As in Coder, the section's error stays absent; failures live on the nodes.
    assert!(derp.get("error").is_none(), "{derp:#}");
    assert_eq!(out.code, 1);

    // The table still says which node failed and why, as an ERROR row.
    let mut cmd = support::healthcheck();
    cmd.args([
        "run",
        "--only",
        "derp",
        "--access-url",
        &format!("http://127.0.0.1:{closed}"),
        "--derp-server-stun-addresses",
        "disable",
        "--timeout",
        "2s",
    ]);
    let table = support::run(cmd);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains("node 999b in region 999"))
        .unwrap_or_else(|| panic!("no node row:\n{}", table.stdout));
    assert!(row.contains("ERROR"), "{row}");
    assert!(row.contains("cannot exchange messages"), "{row}");
    assert_eq!(table.code, 1);
}

#[test]
fn silent_relay_is_a_node_error_within_the_deadline() {
    // Through a map file, not the access URL: the run's Coder version lookup would also wait
    // on a silent access URL, and this test times the DERP section alone.
    let map = map_file(&[("1a", stall_server())]);
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-path",
        map.to_str().unwrap(),
        "--timeout",
        "2s",
    ]);
    assert!(
        out.elapsed < Duration::from_millis(2800),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    assert!(
        json["derp"]["duration_ms"].as_u64().unwrap() < 2200,
        "{json:#}"
    );
    let node = node_of(&json, "1", 0);
    assert_eq!(json["derp"]["severity"], "error");
    let err = node["error"].as_str().unwrap();
    assert!(err.contains("timed out"), "{err}");
}

#[test]
fn garbage_instead_of_the_magic_is_a_clear_error() {
    let relay = DerpRelay::start(Mode::BadMagic);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "2s"]);
    let json = out.json();
    let node = node_of(&json, "999", 0);
    assert_eq!(json["derp"]["severity"], "error");
    let err = node["error"].as_str().unwrap();
    assert!(
        err.contains("not a DERP server") && err.contains("magic"),
        "{err}"
    );
    assert!(!out.stderr.contains("panic"), "{}", out.stderr);
}

#[test]
fn eight_nodes_with_dead_ones_end_within_one_timeout() {
    let good = DerpRelay::start(Mode::Normal);
    let stall = stall_server();
    let closed = free_port();
    let nodes = [
        ("1a", good.port),
        ("2a", stall),
        ("3a", good.port),
        ("4a", closed),
        ("5a", stall),
        ("6a", good.port),
        ("7a", stall),
        ("8a", closed),
    ];
    let map = map_file(&nodes);
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-path",
        map.to_str().unwrap(),
        "--timeout",
        "2s",
    ]);
    // Five dead nodes (three silent, two refusing) must cost one timeout, not five.
    assert!(
        out.elapsed < Duration::from_millis(2800),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    let regions = json["derp"]["regions"].as_object().unwrap();
    assert_eq!(regions.len(), 8);
    for (i, (name, port)) in nodes.iter().enumerate() {
        let node = node_of(&json, &(i + 1).to_string(), 0);
        assert_eq!(node["node"]["Name"], *name);
        assert_eq!(
            node["can_exchange_messages"],
            *port == good.port,
            "{node:#}"
        );
    }
    assert_eq!(json["derp"]["severity"], "error");
}

#[test]
fn bad_derp_map_files_are_findings_naming_the_file() {
    let dir = temp_dir("hc-badmap-");
    let huge = format!(
        r#"{{"Regions": {{}}, "Pad": "{}"}}"#,
        "x".repeat(1100 * 1024)
    );
    let cases = [
        ("huge.json", huge.as_str(), "too large for a DERP map"),
        ("syntax.json", "{\"Regions\": {", "not valid JSON"),
        (
            "type.json",
            r#"{"Regions": {"1": {"RegionID": "abc"}}}"#,
            "RegionID: expected an integer, found string \"abc\"",
        ),
        ("empty.json", r#"{"Regions": {}}"#, "no regions"),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = derp_only(&[
            "--derp-server-enable=false",
            "--derp-config-path",
            path.to_str().unwrap(),
        ]);
        let json = out.json();
        let error = json["derp"]["error"].as_str().unwrap_or_default();
        assert_eq!(json["derp"]["severity"], "error", "{name}: {json:#}");
        assert!(error.contains(path.to_str().unwrap()), "{name}: {error}");
        assert!(error.contains(expected), "{name}: {error}");
        assert!(!out.stderr.contains("panic"), "{}", out.stderr);
    }
}

#[test]
fn no_access_url_and_no_map_skips_with_a_reason() {
    let out = derp_only(&[]);
    let json = out.json();
    assert_eq!(json["derp"]["skipped"], true);
    assert!(json["derp"]["skip_reason"]
        .as_str()
        .unwrap()
        .contains("no access URL"));
}

#[test]
fn map_file_keys_are_read_case_insensitively_and_regions_sort_as_strings() {
    let relay = DerpRelay::start(Mode::Normal);
    let dir = temp_dir("hc-lenient-");
    let path = dir.join("map.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"regions": {{"1000": {{"regionid": 1000, "regioncode": "x", "Unknown": 1,
                "nodes": [{{"name": "1000a", "hostname": "127.0.0.1", "derpport": {p},
                "stunport": -1, "forcehttp": true}}]}}}}}}"#,
            p = relay.port
        ),
    )
    .unwrap();
    let out = derp_only(&[
        "--access-url",
        &relay.url(),
        "--derp-config-path",
        path.to_str().unwrap(),
    ]);
    let json = out.json();
    let keys: Vec<&String> = json["derp"]["regions"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["1000", "999"]);
    assert_eq!(
        node_of(&json, "1000", 0)["can_exchange_messages"],
        true,
        "{json:#}"
    );
    assert_eq!(json["derp"]["severity"], "ok");
}

#[test]
fn one_dead_node_of_two_in_a_region_is_ederp02() {
    // Coder's E3: a region with a good node and a dead one is operational, with a warning.
    let good = DerpRelay::start(Mode::Normal);
    let closed = free_port();
    let path = temp_dir("hc-e3-").join("map.json");
    let node = |name: &str, port: u16| {
        serde_json::json!({"Name": name, "RegionID": 1, "HostName": "127.0.0.1", "DERPPort": port,
                           "STUNPort": -1, "ForceHTTP": true})
    };
    let map = serde_json::json!({"Regions": {"1": {"RegionID": 1, "RegionCode": "one",
        "RegionName": "One", "Nodes": [node("1b", closed), node("1a", good.port)]}}});
    std::fs::write(&path, map.to_string()).unwrap();
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-path",
        path.to_str().unwrap(),
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["healthy"], true, "{derp:#}");
    assert_eq!(derp["severity"], "warning");
    assert_eq!(codes(&derp["warnings"]), ["EDERP02"]);
    let message = derp["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("node 1b") && message.contains("region 1"),
        "{message}"
    );
    let region = &derp["regions"]["1"];
    assert_eq!(region["healthy"], true);
    assert_eq!(region["warnings"].as_array().unwrap().len(), 1);
    // Node reports are sorted by name.
    assert_eq!(node_of(&json, "1", 0)["node"]["Name"], "1a");
    assert_eq!(node_of(&json, "1", 0)["severity"], "ok");
    assert_eq!(node_of(&json, "1", 1)["severity"], "error");
    assert_eq!(out.code, 0);
}

#[test]
fn relay_behind_tls_nginx_works_with_the_ca_and_fails_clearly_without() {
    // https access URL: the client speaks TLS (ALPN http/1.1) to a real nginx that passes the
    // DERP upgrade on to the relay.
    let relay = DerpRelay::start(Mode::Normal);
    let ca = support::certs::TestCa::new("DERP test CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let dir = temp_dir("hc-derp-tls-");
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let ca_path = ca.write(&dir);
    let tls_port = free_port();
    let nginx = Nginx::start(&format!(
        "    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {d}/cert.pem;\n\
         \x20   ssl_certificate_key {d}/key.pem;\n    location / {{\n\
         \x20     proxy_pass http://127.0.0.1:{relay};\n      proxy_http_version 1.1;\n\
         \x20     proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection upgrade;\n    }}",
        d = dir.display(),
        relay = relay.port
    ));
    let _ = nginx.port;
    let access = format!("https://127.0.0.1:{tls_port}");
    let out = derp_only(&[
        "--access-url",
        &access,
        "--ca-cert",
        ca_path.to_str().unwrap(),
        "--timeout",
        "3s",
    ]);
    let json = out.json();
    let node = node_of(&json, "999", 0);
    assert_eq!(node["can_exchange_messages"], true, "{json:#}");
    assert_eq!(node["uses_websocket"], false);
    assert!(node["node"].get("ForceHTTP").is_none(), "{node:#}");
    assert_eq!(json["derp"]["severity"], "ok");

    let out = derp_only(&["--access-url", &access, "--timeout", "2s"]);
    let json = out.json();
    let err = node_of(&json, "999", 0)["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown authority"), "{err}");
}

#[test]
fn derp_map_from_a_url_is_fetched_and_probed() {
    let relay = DerpRelay::start(Mode::Normal);
    let map = std::fs::read_to_string(map_file(&[("7a", relay.port)])).unwrap();
    let server = support::http::fixed_server(move |_| {
        support::http::response("200 OK", &[("Content-Type", "application/json")], &map)
    });
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-url",
        &format!("http://127.0.0.1:{server}/derp.json"),
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    assert_eq!(
        node_of(&json, "1", 0)["can_exchange_messages"],
        true,
        "{json:#}"
    );

    let broken = support::http::fixed_server(|_| support::http::response("200 OK", &[], "<html>"));
    let url = format!("http://127.0.0.1:{broken}/derp.json");
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-url",
        &url,
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    let error = json["derp"]["error"].as_str().unwrap();
    assert!(
        error.contains(&url) && error.contains("not valid JSON"),
        "{error}"
    );
}

#[test]
fn a_derp_map_url_answer_over_the_size_cap_is_too_large_not_bad_json() {
    // Valid JSON, but past the HTTP client's 1 MiB cap: it arrives cut short.
    let big = format!(
        r#"{{"Regions": {{}}, "Pad": "{}"}}"#,
        "x".repeat(1100 * 1024)
    );
    let server = support::http::fixed_server(move |_| {
        support::http::response("200 OK", &[("Content-Type", "application/json")], &big)
    });
    let url = format!("http://127.0.0.1:{server}/derp.json");
    let out = derp_only(&[
        "--derp-server-enable=false",
        "--derp-config-url",
        &url,
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    let error = json["derp"]["error"].as_str().unwrap();
    assert!(
        error.contains(&url) && error.contains("too large"),
        "{error}"
    );
    assert!(!error.contains("JSON"), "{error}");
}

#[test]
fn a_map_region_that_clashes_with_the_embedded_relay_is_an_error() {
    let relay = DerpRelay::start(Mode::Normal);
    let path = temp_dir("hc-clash-").join("map.json");
    std::fs::write(
        &path,
        r#"{"Regions": {"999": {"RegionID": 999, "RegionCode": "mine", "Nodes": []}}}"#,
    )
    .unwrap();
    let out = derp_only(&[
        "--access-url",
        &relay.url(),
        "--derp-config-path",
        path.to_str().unwrap(),
    ]);
    let json = out.json();
    let error = json["derp"]["error"].as_str().unwrap();
    assert!(error.starts_with("EUNKNOWN: "), "{error}");
    assert!(
        error.contains("999") && error.contains("clashes"),
        "{error}"
    );
    assert!(error.contains(path.to_str().unwrap()), "{error}");
}

#[test]
fn a_relay_that_rejects_our_client_info_is_named_as_another_dialect_once() {
    // iroh's derper answers the upgrade and sends a server key, then drops a Tailscale ClientInfo.
    for (mode, how) in [
        (Mode::CloseAfterServerKey, "rejected the client handshake"),
        (
            Mode::SilentAfterServerKey,
            "never answered the client handshake",
        ),
    ] {
        let relay = DerpRelay::start(mode);
        let map = map_file(&[("1a", relay.port)]);
        let out = derp_only(&[
            "--derp-server-enable=false",
            "--derp-config-path",
            map.to_str().unwrap(),
            "--timeout",
            "1s",
        ]);
        let json = out.json();
        let node = node_of(&json, "1", 0);
        assert_eq!(node["can_exchange_messages"], false, "{mode:?}: {node:#}");
        let error = node["error"].as_str().unwrap();
        let relay_at = format!("the relay at 127.0.0.1:{} accepted the upgrade", relay.port);
        assert!(error.contains(&relay_at), "{mode:?}: {error}");
        assert!(error.contains(how), "{mode:?}: {error}");
        assert!(
            error.contains("may not be a Tailscale-compatible DERP relay"),
            "{mode:?}: {error}"
        );
        // Once: one attempt, not five identical ones, and the sender never tried.
        let (_, reason) = error.split_once("could not connect: ").unwrap();
        assert_eq!(
            node["client_errs"],
            serde_json::json!([[format!("connect to derp: {reason}")], []]),
            "{mode:?}: {node:#}"
        );
        assert_eq!(error.matches("Tailscale-compatible").count(), 1, "{error}");
        assert_eq!(out.code, 1);

        // The table says it once too.
        let mut cmd = support::healthcheck();
        cmd.args(["run", "--only", "derp", "--derp-server-enable=false"])
            .args(["--derp-server-stun-addresses", "disable", "--timeout", "1s"])
            .arg("--derp-config-path")
            .arg(&map);
        let table = support::run(cmd);
        assert_eq!(
            table.stdout.matches("Tailscale-compatible").count(),
            1,
            "{}",
            table.stdout
        );
    }
}

#[test]
fn a_handshake_failure_names_its_step() {
    // Closed before the server key: not a dialect finding, and retried as Coder's client does.
    let relay = DerpRelay::start(Mode::CloseBeforeServerKey);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "2s"]);
    let json = out.json();
    let node = node_of(&json, "999", 0);
    let error = node["error"].as_str().unwrap();
    assert!(
        error.contains("waiting for the ServerKey: read from the relay: the relay closed"),
        "{error}"
    );
    assert!(!error.contains("Tailscale-compatible"), "{error}");
    // Five attempts and the "couldn't connect after 5 tries" line.
    assert_eq!(
        node["client_errs"][0].as_array().unwrap().len(),
        6,
        "{node:#}"
    );

    // A 101 for another protocol: the frame error says what the upgrade answer named.
    let relay = DerpRelay::start(Mode::WrongUpgradeHeader);
    let out = derp_only(&["--access-url", &relay.url(), "--timeout", "2s"]);
    let json = out.json();
    let error = node_of(&json, "999", 0)["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("not a DERP server"), "{error}");
    assert!(
        error.contains("its 101 response names Upgrade: websocket, not DERP"),
        "{error}"
    );
}
