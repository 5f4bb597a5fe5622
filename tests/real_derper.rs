//! The DERP and STUN checks against Tailscale's own server, `derper` (built by
//! scripts/build-peers), on loopback: over plain HTTP, over TLS, behind a real nginx that drops
//! `Upgrade: DERP`, and stopped. Each run reads a DERP map file that points at derper alone
//! (`--derp-server-enable=false`), so nothing else decides the verdict. tests/derp_interop.rs keeps
//! tailcat's relay as a second, independent implementation.

mod support;

use serde_json::{json, Value};
use support::derper::Derper;
use support::nginx::Nginx;
use support::{run_json, warning_codes as codes};

/// `run --json --only derp` with only the given map; `extra` may add STUN or trust roots.
fn derp_with_map(map: &std::path::Path, extra: &[&str]) -> support::Output {
    let mut args = vec![
        "--only",
        "derp",
        "--derp-server-enable=false",
        "--derp-config-path",
        map.to_str().unwrap(),
        "--timeout",
        "5s",
    ];
    if !extra.contains(&"--derp-server-stun-addresses") {
        args.extend(["--derp-server-stun-addresses", "disable"]);
    }
    args.extend_from_slice(extra);
    run_json(&args)
}

fn node_named<'a>(json: &'a Value, name: &str) -> &'a Value {
    let nodes = json["derp"]["regions"]["1"]["node_reports"]
        .as_array()
        .unwrap_or_else(|| panic!("no region 1: {json:#}"));
    nodes
        .iter()
        .find(|n| n["node"]["Name"] == name)
        .unwrap_or_else(|| panic!("no node {name}: {json:#}"))
}

/// The node exchanged a packet (see `support::assert_node_exchanged`), as derper configures it.
fn assert_exchanged(node: &Value) {
    support::assert_node_exchanged(node);
    assert_eq!(node["severity"], "ok", "{node:#}");
    // derper's ServerInfo carries no token bucket unless rate limits are configured.
    assert_eq!(
        node["node_info"]["TokenBucketBytesPerSecond"], 0,
        "{node:#}"
    );
}

fn assert_section_ok(out: &support::Output) {
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "ok", "{derp:#}\n{}", out.stderr);
    assert_eq!(derp["healthy"], true);
    assert_eq!(derp["warnings"], json!([]));
    assert_eq!(derp["regions"]["1"]["severity"], "ok");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn derper_over_plain_http_exchanges_a_packet_and_answers_stun() {
    let derper = Derper::start_http();
    let map = Derper::map_file(vec![derper.node("1a", 1, true)]);
    let out = derp_with_map(&map, &[]);
    assert_section_ok(&out);
    let json = out.json();
    let node = node_named(&json, "1a");
    assert_exchanged(node);
    assert_eq!(node["node"]["ForceHTTP"], true);
    assert_eq!(node["node"]["DERPPort"], derper.port);
    // The same node's STUN port is derper's STUN server.
    assert_eq!(node["stun"]["Enabled"], true, "{node:#}");
    assert_eq!(node["stun"]["CanSTUN"], true, "{node:#}");
    assert_eq!(node["stun"]["Error"], Value::Null);
}

#[test]
fn derper_over_tls_exchanges_a_packet_when_its_certificate_is_trusted() {
    let derper = Derper::start_tls();
    let ca = derper.ca_file.clone().unwrap();
    let map = Derper::map_file(vec![derper.node("1a", 1, false)]);
    let out = derp_with_map(&map, &["--ca-cert", ca.to_str().unwrap()]);
    assert_section_ok(&out);
    let json = out.json();
    let node = node_named(&json, "1a");
    assert_exchanged(node);
    assert_eq!(node["node"]["HostName"], "localhost");
    assert!(node["node"].get("ForceHTTP").is_none(), "{node:#}");

    // Without the CA the TLS check fails the node: TLS was really spoken.
    let out = derp_with_map(&map, &[]);
    let json = out.json();
    let node = node_named(&json, "1a");
    assert_eq!(node["can_exchange_messages"], false, "{node:#}");
    let error = node["error"].as_str().unwrap();
    assert!(error.contains("unknown authority"), "{error}");
    assert_eq!(json["derp"]["severity"], "error");
    assert_eq!(out.code, 1);
}

#[test]
fn derper_as_the_embedded_relay_and_its_stun_server_as_the_stun_address() {
    // derper serves /derp like coderd's embedded relay, so it can stand in at the access URL:
    // Coder's region 999 then holds node 999b (DERP to derper), and the one STUN address (here
    // derper's STUN server) becomes region 1000 with STUN-only node 1000stun0.
    let derper = Derper::start_http();
    let stun = format!("127.0.0.1:{}", derper.stun_port);
    let out = run_json(&[
        "--only",
        "derp",
        "--access-url",
        &derper.url(),
        "--derp-server-stun-addresses",
        &stun,
        "--timeout",
        "5s",
    ]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "ok", "{derp:#}");
    assert_eq!(derp["warnings"], json!([]));
    let relay = &derp["regions"]["999"]["node_reports"];
    assert_eq!(relay.as_array().unwrap().len(), 1, "{derp:#}");
    assert_eq!(relay[0]["node"]["Name"], "999b");
    assert_exchanged(&relay[0]);
    let stun_region = &derp["regions"]["1000"];
    assert_eq!(stun_region["region"]["RegionCode"], "coder_stun_1000");
    let stun_node = &stun_region["node_reports"][0];
    assert_eq!(stun_node["node"]["Name"], "1000stun0");
    assert_eq!(stun_node["node"]["STUNOnly"], true);
    assert_eq!(stun_node["node"]["STUNPort"], derper.stun_port);
    assert_eq!(stun_node["healthy"], true, "{stun_node:#}");
    assert_eq!(stun_node["stun"]["Enabled"], true);
    assert_eq!(stun_node["stun"]["CanSTUN"], true, "{stun_node:#}");
    assert_eq!(stun_node["stun"]["Error"], Value::Null);
    assert_eq!(stun_node["can_exchange_messages"], false);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn derper_behind_nginx_that_drops_upgrade_derp_falls_back_to_websocket() {
    // nginx passes `Upgrade: websocket` (and its Connection header) and nothing else: derper
    // then sees a plain GET /derp, answers 426, and Coder's client retries over a WebSocket.
    let derper = Derper::start_http();
    let nginx = Nginx::start(&format!(
        "    set $pass_upgrade \"\";\n    set $pass_connection \"\";\n\
         \x20   if ($http_upgrade ~* ^websocket$) {{ set $pass_upgrade $http_upgrade; set $pass_connection upgrade; }}\n\
         \x20   location / {{\n      proxy_pass {};\n      proxy_http_version 1.1;\n\
         \x20     proxy_set_header Upgrade $pass_upgrade;\n      proxy_set_header Connection $pass_connection;\n    }}",
        derper.url()
    ));
    let node = json!({"Name": "1a", "RegionID": 1, "HostName": "127.0.0.1",
                      "DERPPort": nginx.port, "STUNPort": -1, "ForceHTTP": true});
    let map = Derper::map_file(vec![node]);
    let out = derp_with_map(&map, &[]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "warning", "{derp:#}");
    assert_eq!(derp["healthy"], true);
    assert_eq!(codes(&derp["warnings"]), ["EDERP01"]);
    let node = node_named(&json, "1a");
    assert_eq!(node["uses_websocket"], true, "{node:#}");
    assert_eq!(node["can_exchange_messages"], true, "{node:#}");
    assert_eq!(node["severity"], "warning");
    assert_eq!(codes(&node["warnings"]), ["EDERP01"]);
    for errs in node["client_errs"].as_array().unwrap() {
        let errs = errs.as_array().unwrap();
        assert_eq!(errs.len(), 1, "{node:#}");
        assert!(errs[0].as_str().unwrap().contains("426"), "{errs:?}");
    }
    // A warning only: the run passes at the default --fail-on.
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn one_stopped_derper_in_a_two_node_region_gives_ederp02() {
    let (a, b) = (Derper::start_http(), Derper::start_http());
    let map = Derper::map_file(vec![a.node("1a", 1, true), b.node("1b", 1, true)]);
    let out = derp_with_map(&map, &[]);
    assert_section_ok(&out);

    b.stop();
    let out = derp_with_map(&map, &[]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "warning", "{derp:#}");
    assert_eq!(derp["healthy"], true);
    // derper 1a still answers STUN, so no ESTUN01.
    assert_eq!(codes(&derp["warnings"]), ["EDERP02"]);
    let region = &derp["regions"]["1"];
    assert_eq!(region["healthy"], true);
    assert_eq!(region["severity"], "warning");
    assert_exchanged(node_named(&json, "1a"));
    let stopped = node_named(&json, "1b");
    assert_eq!(stopped["healthy"], false, "{stopped:#}");
    assert_eq!(stopped["severity"], "error");
    assert_eq!(stopped["can_exchange_messages"], false);
    let error = stopped["error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");
    assert_eq!(stopped["stun"]["CanSTUN"], false);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
