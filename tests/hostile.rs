//! Hostile peers and hostile input: every case ends within its timeout + 1 s, under 100 MiB of
//! resident memory, with no panic text, and with a finding (or usage error) that names the
//! problem. Peers are in-process fault servers (tests/support).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::derp_relay::{DerpRelay, Mode};
use support::healthcheck;
use support::http::{fixed_server, path_of, response};
use support::measure::{run_measured, Measured};

/// `healthcheck run --json --timeout SECONDS ARGS`, measured.
fn hostile_run(timeout_secs: u64, args: &[&str]) -> Measured {
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--timeout", &format!("{timeout_secs}s")])
        .args(args);
    run_measured(cmd)
}

fn redirect(location: &str) -> Vec<u8> {
    response("302 Found", &[("Location", location)], "")
}

#[test]
fn a_redirect_to_a_non_http_url_is_eacs03_and_no_panic() {
    for location in [
        "file:///etc/passwd",
        "data:text/plain,hello",
        "mailto:root@example.com",
        "javascript:alert(1)",
        "unix:/var/run/docker.sock",
        "http://",
        "http://[::1",
    ] {
        let loc = location.to_string();
        let port = fixed_server(move |_| redirect(&loc));
        let url = format!("http://127.0.0.1:{port}");
        let m = hostile_run(3, &["--only", "access-url", "--access-url", &url]);
        m.assert_bounded(location, Duration::from_secs(3));
        let json = m.out.json();
        let error = json["access_url"]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("EACS03: "), "{location}: {error}");
        assert!(
            error.contains("non-HTTP URL")
                || error.contains("without a host")
                || error.contains("not a URL"),
            "{location}: {error}"
        );
        // The build-info lookup met the same redirect: no "internal error" (assert_bounded).
        assert_eq!(m.out.code, 1, "{location}");
    }
}

#[test]
fn relative_and_scheme_relative_redirects_are_followed() {
    // The server's own port, known once it is listening.
    let own = Arc::new(AtomicUsize::new(0));
    let own_in = own.clone();
    let port = fixed_server(move |head| match path_of(head) {
        "/healthz" => redirect("/step/one"),
        "/step/one" => response("307 Temporary Redirect", &[("Location", "two")], ""),
        "/step/two" => {
            let port = own_in.load(Ordering::SeqCst);
            let to = format!("//127.0.0.1:{port}/final");
            response("308 Permanent Redirect", &[("Location", &to)], "")
        }
        "/final" => response("200 OK", &[], "OK"),
        _ => response("404 Not Found", &[], "nope"),
    });
    own.store(port as usize, Ordering::SeqCst);
    let url = format!("http://127.0.0.1:{port}");
    let m = hostile_run(3, &["--only", "access-url", "--access-url", &url]);
    m.assert_bounded("relative redirects", Duration::from_secs(3));
    let json = m.out.json();
    let section = &json["access_url"];
    assert_eq!(section["healthy"], true, "{section}");
    assert_eq!(
        section["redirected_to"],
        format!("http://127.0.0.1:{port}/final"),
        "{section}"
    );
}

#[test]
fn the_tenth_redirect_is_not_followed_as_in_go() {
    // /r/N redirects to /r/N+1; the chain of `hops` redirects ends at OK.
    for (hops, healthy) in [(9usize, true), (10, false)] {
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        let port = fixed_server(move |head| {
            seen.fetch_add(1, Ordering::SeqCst);
            let path = path_of(head);
            let n: usize = match path {
                "/healthz" => 0,
                p => p.trim_start_matches("/r/").parse().unwrap_or(usize::MAX),
            };
            if n < hops {
                redirect(&format!("/r/{}", n + 1))
            } else {
                response("200 OK", &[], "OK")
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let m = hostile_run(3, &["--only", "access-url", "--access-url", &url]);
        m.assert_bounded("redirect chain", Duration::from_secs(3));
        let json = m.out.json();
        let section = &json["access_url"];
        assert_eq!(section["healthy"], healthy, "{hops}: {section}");
        if !healthy {
            let error = section["error"].as_str().unwrap();
            assert!(
                error.starts_with("EACS03: ") && error.contains("stopped after 10 redirects"),
                "{error}"
            );
        }
    }
}

#[test]
fn a_derp_map_url_that_redirects_to_a_file_is_a_finding_not_a_panic() {
    let port = fixed_server(|_| redirect("file:///etc/passwd"));
    let url = format!("http://127.0.0.1:{port}/map.json");
    let m = hostile_run(
        3,
        &[
            "--only",
            "derp",
            "--derp-config-url",
            &url,
            "--derp-server-enable=false",
        ],
    );
    m.assert_bounded("derp map redirect", Duration::from_secs(3));
    let json = m.out.json();
    let error = json["derp"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("DERP map URL") && error.contains("non-HTTP URL (file:"),
        "{error}"
    );
}

#[test]
fn a_relay_flooding_health_frames_costs_no_memory_and_the_report_comes() {
    for (mode, expect) in [
        (
            Mode::FloodBeforeServerInfo,
            "never answered the client handshake",
        ),
        (
            Mode::FloodAfterServerInfo,
            "more (or repeated) notes from the relay not kept",
        ),
    ] {
        let relay = DerpRelay::start(mode);
        let m = hostile_run(
            4,
            &[
                "--only",
                "derp",
                "--derp-server-stun-addresses",
                "disable",
                "--access-url",
                &relay.url(),
            ],
        );
        m.assert_bounded(&format!("{mode:?}"), Duration::from_secs(4));
        let json = m.out.json();
        let node = &json["derp"]["regions"]["999"]["node_reports"][0];
        assert_eq!(node["can_exchange_messages"], false, "{mode:?}: {node:#}");
        let error = node["error"].as_str().unwrap_or_default();
        assert!(error.contains(expect), "{mode:?}: {error}");
        // Notes are cut short: no 1 MiB text anywhere in the report.
        assert!(m.out.stdout.len() < 64 * 1024, "{}", m.out.stdout.len());
    }
}

/// A DERP map of `regions` regions with `per_region` STUN-only nodes each, on names that do not
/// resolve (`.invalid` is reserved for that).
fn stun_only_map(regions: usize, per_region: usize) -> std::path::PathBuf {
    let mut map = serde_json::Map::new();
    for r in 1..=regions {
        let nodes: Vec<_> = (0..per_region)
            .map(|n| serde_json::json!({"Name": format!("{r}{n}"), "HostName": format!("h{r}n{n}.invalid"), "STUNOnly": true}))
            .collect();
        map.insert(
            r.to_string(),
            serde_json::json!({"RegionID": r, "Nodes": nodes}),
        );
    }
    let path = support::temp_dir("hc-bigmap-").join("derpmap.json");
    std::fs::write(&path, serde_json::json!({ "Regions": map }).to_string()).unwrap();
    path
}

#[test]
fn ten_thousand_stun_nodes_on_unresolvable_names_are_each_reported() {
    let map = stun_only_map(2000, 5);
    let m = hostile_run(
        4,
        &[
            "--only",
            "derp",
            "--derp-server-enable=false",
            "--derp-config-path",
            map.to_str().unwrap(),
        ],
    );
    m.assert_bounded("10,000 STUN nodes", Duration::from_secs(4));
    let json = m.out.json();
    let regions = json["derp"]["regions"].as_object().unwrap();
    assert_eq!(regions.len(), 2000);
    let mut reported = 0;
    for region in regions.values() {
        for node in region["node_reports"].as_array().unwrap() {
            let error = node["stun"]["Error"].as_str().unwrap_or_default();
            assert!(error.starts_with("get stun addr: "), "{node:#}");
            reported += 1;
        }
    }
    assert_eq!(reported, 10_000);
    assert!(json["derp"]["error"].is_null(), "{}", json["derp"]["error"]);
}
