//! The DERP client against a relay nobody on this project wrote: tailcat's (tests/peers/), over
//! its own TLS, directly and through a real nginx. tests/derp.rs covers our own test relay and
//! its faults; this file guards against a misreading of the protocol shared by both.

mod support;

use serde_json::Value;
use support::certs::TestCa;
use support::nginx::Nginx;
use support::tailcat_relay::TailcatRelay;
use support::{run_json, temp_dir};

/// `run --json --only derp` with only the given map (no embedded relay, STUN off).
fn derp_with_map(map: &std::path::Path, extra: &[&str]) -> support::Output {
    let mut args = vec![
        "--only",
        "derp",
        "--derp-server-enable=false",
        "--derp-server-stun-addresses",
        "disable",
        "--derp-config-path",
        map.to_str().unwrap(),
        "--timeout",
        "5s",
    ];
    args.extend_from_slice(extra);
    run_json(&args)
}

/// The one node of region 1 exchanged a packet over Upgrade: DERP, with nothing to warn about.
fn assert_healthy_node(out: &support::Output) -> Value {
    let json = out.json();
    let derp = &json["derp"];
    let node = derp["regions"]["1"]["node_reports"][0].clone();
    assert_eq!(derp["severity"], "ok", "{derp:#}");
    assert_eq!(derp["healthy"], true);
    assert_eq!(derp["warnings"], serde_json::json!([]));
    assert_eq!(derp["regions"]["1"]["warnings"], serde_json::json!([]));
    support::assert_node_exchanged(&node);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    node
}

#[test]
fn tailcat_relay_exchanges_a_packet_when_its_certificate_is_trusted() {
    let relay = TailcatRelay::start();
    let cert = relay.cert.to_str().unwrap();
    let out = derp_with_map(&relay.map, &["--ca-cert", cert]);
    let node = assert_healthy_node(&out);
    assert_eq!(node["node"]["HostName"], "localhost");
    assert_eq!(node["node"]["DERPPort"], relay.port);

    // The same relay without its certificate: the TLS check is real, not skipped.
    let out = derp_with_map(&relay.map, &[]);
    let json = out.json();
    let node = &json["derp"]["regions"]["1"]["node_reports"][0];
    assert_eq!(node["can_exchange_messages"], false, "{node:#}");
    let error = node["error"].as_str().unwrap();
    assert!(error.contains("unknown authority"), "{error}");
    assert_eq!(out.code, 1);
}

#[test]
fn tailcat_relay_behind_tls_nginx_exchanges_a_packet() {
    // nginx terminates our TLS (a test CA's certificate for localhost) and opens its own TLS to
    // tailcat's relay, checking the relay's certificate, then passes the DERP upgrade through.
    let relay = TailcatRelay::start();
    let ca = TestCa::new("interop test CA");
    let nginx = Nginx::start_tls(
        &ca.leaf(&["localhost"]),
        &format!(
            "    location / {{\n      proxy_pass https://127.0.0.1:{port};\n\
             \x20     proxy_ssl_verify on;\n      proxy_ssl_trusted_certificate {cert};\n\
             \x20     proxy_ssl_name localhost;\n      proxy_ssl_server_name on;\n\
             \x20     proxy_http_version 1.1;\n      proxy_set_header Upgrade $http_upgrade;\n\
             \x20     proxy_set_header Connection upgrade;\n    }}",
            port = relay.port,
            cert = relay.cert.display()
        ),
    );
    let dir = temp_dir("hc-interop-nginx-");
    let ca_path = ca.write(&dir);
    let map = dir.join("derpmap.json");
    let node = serde_json::json!({"Name": "1a", "RegionID": 1, "HostName": "localhost",
                                  "DERPPort": nginx.port, "STUNPort": -1});
    let regions = serde_json::json!({"Regions": {"1": {"RegionID": 1, "RegionCode": "nginx",
                                                       "Nodes": [node]}}});
    std::fs::write(&map, regions.to_string()).unwrap();
    let out = derp_with_map(&map, &["--ca-cert", ca_path.to_str().unwrap()]);
    assert_healthy_node(&out);
}
