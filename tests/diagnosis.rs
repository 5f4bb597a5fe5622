//! Diagnosis: one probable cause for findings that share it, from the real situations (a refused
//! access URL, a dead database, STUN servers and DERP relays failing alike), in the JSON
//! `diagnosis` array and after the table.

mod support;

use serde_json::json;
use support::{free_port, healthcheck, run, run_json, temp_dir};

fn table(args: &[&str]) -> support::Output {
    let mut cmd = healthcheck();
    cmd.arg("run").args(args);
    run(cmd)
}

#[test]
fn a_refused_access_url_explains_the_websocket_and_embedded_relay_failures() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let args = [
        "--only",
        "access-url,websocket,derp",
        "--access-url",
        &url,
        "--derp-server-stun-addresses",
        "disable",
    ];
    let out = run_json(&args);
    let json = out.json();
    assert_eq!(
        json["diagnosis"],
        json!([{
            "code": "EACS03",
            "message": format!("nothing listens at the access URL 127.0.0.1:{port}: coderd or the \
                        proxy in front of it is down, or the URL's port is wrong; setting \
                        --http-address to coderd's own listener tells the two apart; the \
                        WebSocket and embedded DERP relay failures follow from it"),
            "explains": ["EWS01"],
            "sections": ["websocket", "derp"],
            "evidence": ["refused"],
        }]),
        "{:#}",
        json["diagnosis"]
    );
    let shown = table(&args);
    let after_table = shown.stdout.split('└').nth(1).unwrap_or_default();
    assert!(
        after_table.contains("Probable cause: EACS03: nothing listens at the access URL 127.0.0.1"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_dead_database_explains_the_workspace_proxies_and_provisioner_daemons_errors() {
    let dsn = format!(
        "postgres://coder:not-a-Secret-9@127.0.0.1:{}/coder?sslmode=disable",
        free_port()
    );
    let out = run_json(&[
        "--only",
        "database,workspace-proxy,provisioner-daemons",
        "--postgres-url",
        &dsn,
    ]);
    let json = out.json();
    assert!(json["database"]["error"]
        .as_str()
        .unwrap()
        .starts_with("EDB01"));
    let d = &json["diagnosis"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d[0]["code"], "EDB01");
    assert_eq!(d[0]["explains"], json!(["EWP02"]));
    assert_eq!(
        d[0]["sections"],
        json!(["workspace-proxy", "provisioner-daemons"])
    );
    assert!(!out.all().contains("not-a-Secret-9"));
}

#[test]
fn stun_servers_failing_alike_are_one_row_and_one_line() {
    // Two STUN servers on loopback ports where nothing answers UDP.
    let stun = format!("127.0.0.1:{},127.0.0.2:{}", free_port(), free_port());
    let relay = support::derp_relay::DerpRelay::start(support::derp_relay::Mode::Normal);
    let args = [
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &stun,
        "--timeout",
        "2s",
    ];
    let out = run_json(&args);
    let json = out.json();
    let d = &json["diagnosis"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d[0]["code"], "ESTUN01");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("UDP from this host is blocked: all 2 STUN servers"),
        "{d:#}"
    );
    let shown = table(&args);
    let rows: Vec<&str> = shown
        .stdout
        .lines()
        .filter(|l| l.contains("STUN failed"))
        .collect();
    assert!(
        shown
            .stdout
            .contains("2 nodes fail the same way (1000stun0, 1001stun0)"),
        "{}",
        shown.stdout
    );
    assert_eq!(rows.len(), 1, "{}", shown.stdout);
}

#[test]
fn derp_relays_failing_alike_are_one_row_and_one_line() {
    let mut regions = serde_json::Map::new();
    for id in 1..=3 {
        regions.insert(
            id.to_string(),
            json!({"RegionID": id, "RegionCode": format!("r{id}"), "RegionName": format!("Region {id}"),
                   "Nodes": [{"Name": format!("{id}a"), "RegionID": id, "HostName": "127.0.0.1",
                              "DERPPort": free_port(), "STUNPort": -1, "ForceHTTP": true}]}),
        );
    }
    let path = temp_dir("hc-diag-derp-").join("map.json");
    std::fs::write(&path, json!({ "Regions": regions }).to_string()).unwrap();
    let args = [
        "--only",
        "derp",
        "--derp-server-enable=false",
        "--derp-config-path",
        path.to_str().unwrap(),
        "--timeout",
        "2s",
    ];
    let json = run_json(&args).json();
    let d = &json["diagnosis"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d[0]["code"], serde_json::Value::Null);
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("3 DERP relays fail the same way"),
        "{d:#}"
    );
    let shown = table(&args);
    assert!(
        shown
            .stdout
            .contains("3 nodes fail the same way (1a, 2a, 3a)"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_finding_no_rule_explains_is_restated_as_its_cause() {
    // Issue 20: whenever a run has a finding, the first line names a cause (it used to be
    // left without a diagnosis).
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run_json(&["--only", "websocket", "--access-url", &url]);
    let json = out.json();
    assert!(json["websocket"]["error"]
        .as_str()
        .unwrap()
        .starts_with("EWS01"));
    let d = &json["diagnosis"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d[0]["code"], "EWS01");
    assert_eq!(
        d[0]["message"],
        format!(
            "Websocket fails because nothing listens at 127.0.0.1:{port}: start the service \
             there or fix the address"
        )
    );
    let shown = table(&["--only", "websocket", "--access-url", &url]);
    assert!(
        shown
            .stdout
            .contains("Probable cause: EWS01: Websocket fails because"),
        "{}",
        shown.stdout
    );
}
