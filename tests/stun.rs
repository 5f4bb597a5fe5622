//! STUN part of the DERP section against real coturn servers: healthy, silent (ESTUN01), and
//! two servers behind different NAT mappings (ESTUN02) in a private network namespace.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::coturn::{command_line, free_udp_port, silent_udp, Coturn};
use support::derp_relay::{DerpRelay, Mode};
use support::{healthcheck, run, run_json, shell_quote, temp_dir, warning_codes as codes};

#[test]
fn coturn_answers_and_reports_our_mapped_address() {
    let relay = DerpRelay::start(Mode::Normal);
    let coturn = Coturn::start();
    let out = run_json(&[
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &coturn.addr(),
        "--timeout",
        "3s",
    ]);
    let json = out.json();
    let derp = &json["derp"];
    assert_eq!(derp["severity"], "ok", "{derp:#}");
    assert_eq!(derp["warnings"], serde_json::json!([]));
    let region = &derp["regions"]["1000"];
    assert_eq!(region["region"]["RegionCode"], "coder_stun_1000");
    assert_eq!(region["region"]["RegionName"], "Coder STUN 1000");
    let node = &region["node_reports"][0];
    assert_eq!(node["node"]["Name"], "1000stun0");
    assert_eq!(node["node"]["STUNOnly"], true);
    assert_eq!(node["node"]["STUNPort"], coturn.port);
    assert_eq!(node["stun"]["Enabled"], true);
    assert_eq!(node["stun"]["CanSTUN"], true, "{node:#}");
    assert_eq!(node["stun"]["Error"], Value::Null);
    assert_eq!(node["can_exchange_messages"], false);
    assert_eq!(node["healthy"], true);
    let mapped = node["stun"]["mapped_address"].as_str().unwrap();
    assert!(mapped.starts_with("127.0.0.1:"), "{mapped}");
    assert_ne!(mapped, "127.0.0.1:0");
    // The embedded relay has no STUN of its own.
    assert_eq!(
        derp["regions"]["999"]["node_reports"][0]["stun"]["Enabled"],
        false
    );
}

#[test]
fn silent_stun_server_gives_estun01_within_the_deadline() {
    let relay = DerpRelay::start(Mode::Normal);
    let silent = silent_udp();
    let out = run_json(&[
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &format!("127.0.0.1:{silent}"),
        "--timeout",
        "1500ms",
    ]);
    assert!(
        out.elapsed < Duration::from_millis(2300),
        "{:?}",
        out.elapsed
    );
    let json = out.json();
    let derp = &json["derp"];
    assert!(
        codes(&derp["warnings"]).contains(&"ESTUN01".to_string()),
        "{derp:#}"
    );
    // Coder's E9: a single failing STUN-only region is an error region.
    assert_eq!(derp["severity"], "error");
    let node = &derp["regions"]["1000"]["node_reports"][0];
    assert_eq!(node["stun"]["Enabled"], true);
    assert_eq!(node["stun"]["CanSTUN"], false);
    let err = node["stun"]["Error"].as_str().unwrap();
    assert!(err.starts_with("probe stun: no answer"), "{err}");
    // The relay itself is fine.
    assert_eq!(derp["regions"]["999"]["healthy"], true);
}

#[test]
fn block_direct_removes_stun_nodes() {
    let relay = DerpRelay::start(Mode::Normal);
    let out = run_json(&[
        "--only",
        "derp",
        "--access-url",
        &relay.url(),
        "--block-direct-connections=true",
        "--derp-server-stun-addresses",
        "127.0.0.1:9",
        "--timeout",
        "2s",
    ]);
    let json = out.json();
    let regions: Vec<&String> = json["derp"]["regions"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(regions, ["999"]);
    assert_eq!(json["derp"]["severity"], "ok", "{json:#}");
}

#[test]
fn verbose_table_shows_each_rtt_and_mapped_address() {
    let relay = DerpRelay::start(Mode::Normal);
    let coturn = Coturn::start();
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "derp",
        "--verbose",
        "--access-url",
        &relay.url(),
        "--derp-server-stun-addresses",
        &coturn.addr(),
        "--timeout",
        "3s",
    ]);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let rtt_line = out
        .stdout
        .lines()
        .find(|l| l.contains("999b"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        rtt_line.contains("round trip") && (rtt_line.contains("ms") || rtt_line.contains("µs")),
        "{rtt_line}"
    );
    let stun_line = out
        .stdout
        .lines()
        .find(|l| l.contains("1000stun0"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        stun_line.contains("STUN mapped address 127.0.0.1:"),
        "{stun_line}"
    );
}

/// ESTUN02 with real kernel NAT (derp-stun.md 5.4): in a private network namespace, nftables
/// source-NATs our packets to server B onto ports 61000-61999 (outside the kernel's ephemeral
/// range, so the mapping always changes), while packets to server A leave unchanged. From our
/// one UDP socket, A then sees the real source port and B a NAT port: the mapping varies by
/// destination. The two coturns and the healthcheck binary all run inside the namespace, which
/// vanishes with the shell. Both servers are STUN-only regions of a map file, since the test's
/// in-process relay lives outside the namespace.
#[test]
fn two_coturns_behind_different_nat_mappings_give_estun02() {
    let dir = temp_dir("hc-hardnat-");
    let (a, b) = (free_udp_port(), free_udp_port());
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::create_dir_all(dir.join("b")).unwrap();
    let stun_region = |id: u16, port: u16| {
        serde_json::json!({"RegionID": id, "RegionCode": format!("s{id}"), "RegionName": format!("STUN {id}"),
            "Nodes": [{"Name": format!("{id}stun0"), "RegionID": id, "HostName": "127.0.0.1",
                       "STUNPort": port, "STUNOnly": true}]})
    };
    let map = dir.join("map.json");
    std::fs::write(
        &map,
        serde_json::json!({"Regions": {"1": stun_region(1, a), "2": stun_region(2, b)}})
            .to_string(),
    )
    .unwrap();
    let bin = shell_quote(env!("CARGO_BIN_EXE_healthcheck"));
    let run_hc = format!(
        "{bin} run --json --only derp --derp-server-enable=false --derp-config-path {} \
         --derp-server-stun-addresses disable",
        shell_quote(map.to_str().unwrap())
    );
    let d = |s: &str| shell_quote(dir.join(s).to_str().unwrap());
    let script = format!(
        "set -e\n\
         ip link set lo up\n\
         nft add table ip hardnat\n\
         nft add chain ip hardnat post '{{ type nat hook postrouting priority 100 ; }}'\n\
         nft add rule ip hardnat post ip daddr 127.0.0.1 udp dport {b} snat to 127.0.0.1:61000-61999\n\
         {ca} >{la} 2>&1 & pa=$!\n\
         {cb} >{lb} 2>&1 & pb=$!\n\
         trap 'kill $pa $pb 2>/dev/null; wait' EXIT\n\
         set +e\n\
         # Ready when both servers answer STUN (polled with the tool itself, short timeouts).\n\
         for i in $(seq 1 50); do\n\
           n=$({run_hc} --timeout 300ms | grep -c '\"CanSTUN\": true')\n\
           [ \"$n\" = 2 ] && break\n\
         done\n\
         {run_hc} --timeout 3s\n",
        ca = command_line(a, &dir.join("a")),
        cb = command_line(b, &dir.join("b")),
        la = d("a/log"),
        lb = d("b/log"),
    );
    let mut cmd = Command::new("unshare");
    for (key, _) in std::env::vars() {
        if key.starts_with("CODER_") || key.starts_with("HEALTHCHECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HEALTHCHECK_ENV_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .args(["--net", "--", "sh", "-c", &script]);
    let out = run(cmd);
    let json = out.json();
    let derp = &json["derp"];
    let mapped = |region: &str| {
        derp["regions"][region]["node_reports"][0]["stun"]["mapped_address"]
            .as_str()
            .unwrap_or_else(|| panic!("no mapping from region {region}: {derp:#}\n{}", out.stderr))
            .to_string()
    };
    let (seen_a, seen_b) = (mapped("1"), mapped("2"));
    assert_ne!(seen_a, seen_b);
    let nat_port: u16 = seen_b.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!((61000..=61999).contains(&nat_port), "{seen_b}");
    assert_eq!(codes(&derp["warnings"]), ["ESTUN02"]);
    let message = derp["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1stun0") && message.contains("2stun0"),
        "{message}"
    );
    // ESTUN02 never raises the severity.
    assert_eq!(derp["severity"], "ok");
    assert_eq!(derp["healthy"], true);
}
