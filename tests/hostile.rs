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

/// `healthcheck ARGS` (no `run` added), measured.
fn hostile_cli(args: &[&str]) -> Measured {
    let mut cmd = healthcheck();
    cmd.args(args);
    run_measured(cmd)
}

#[test]
fn a_timeout_past_the_largest_duration_is_a_usage_error() {
    let m = hostile_cli(&["run", "--timeout", "18446744073709551616ns"]);
    m.assert_bounded("huge timeout", Duration::from_secs(1));
    assert_eq!(m.out.code, 2, "{}", m.out.all());
    assert!(m.out.stderr.contains("too large"), "{}", m.out.stderr);
}

#[test]
fn control_characters_in_urls_and_paths_are_never_printed_raw() {
    let docs = "https://docs.example/\u{1b}[31mred\u{7}";
    for args in [
        vec!["codes", "--json", "--docs-url", docs],
        vec!["explain", "EDB01", "--docs-url", docs],
        vec!["run", "--only", "access-url", "--docs-url", docs],
        vec!["run", "--env-file", "/nonexistent/\u{1b}[2Jcoder.env"],
        vec!["run", "--ca-cert", "/nonexistent/\u{1b}]0;title\u{7}ca.pem"],
        vec!["run", "--timeout", "5\u{1b}[31ms"],
    ] {
        let m = hostile_cli(&args);
        m.assert_bounded(&format!("{args:?}"), Duration::from_secs(5));
        let all = m.out.all();
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{7}'),
            "{args:?}: {all:?}"
        );
    }
    // The path is still recognisable, its escape spelled out.
    let m = hostile_cli(&["run", "--env-file", "/nonexistent/\u{1b}[2Jcoder.env"]);
    assert!(
        m.out.stderr.contains(r"/nonexistent/\u{1b}[2Jcoder.env"),
        "{}",
        m.out.stderr
    );
}

#[test]
fn a_ca_certificate_serving_as_the_server_certificate_is_named_in_words() {
    let ca = support::certs::TestCa::new("Hostile Test CA");
    let nginx = support::nginx::Nginx::start_tls(&ca.as_leaf(), "location / { return 200 'OK'; }");
    let ca_file = ca.write(&support::temp_dir("hc-ca-"));
    let url = format!("https://127.0.0.1:{}", nginx.port);
    let m = hostile_run(
        3,
        &[
            "--only",
            "access-url",
            "--access-url",
            &url,
            "--ca-cert",
            ca_file.to_str().unwrap(),
        ],
    );
    m.assert_bounded("CA as server certificate", Duration::from_secs(3));
    let error = m.out.json()["access_url"]["error"].to_string();
    assert!(
        error.contains("the server's certificate is a CA certificate, not a server certificate"),
        "{error}"
    );
    assert!(!error.contains("OtherError"), "{error}");
}

/// A peer that answers anything with an HTTP 400 and closes, or (garbage) sends junk at once and
/// keeps the connection open.
fn not_postgres(garbage: bool) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if garbage {
                    let _ = stream.write_all(b"garbage garbage garbage\r\n");
                    std::thread::sleep(Duration::from_secs(10));
                } else {
                    let mut buf = [0u8; 256];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            });
        }
    });
    port
}

#[test]
fn a_dsn_pointing_at_something_else_says_it_does_not_speak_postgresql() {
    for (garbage, answered) in [
        (false, "HTTP/1.1 400 Bad Request"),
        (true, "garbage garbage"),
    ] {
        let port = not_postgres(garbage);
        for sslmode in ["disable", "prefer"] {
            let dsn = format!("postgres://u:pw-hostile-1@127.0.0.1:{port}/db?sslmode={sslmode}");
            let m = hostile_run(2, &["--only", "database", "--postgres-url", &dsn]);
            m.assert_bounded(&format!("{answered} {sslmode}"), Duration::from_secs(2));
            let error = m.out.json()["database"]["error"].to_string();
            let want =
                format!("the server at 127.0.0.1:{port} does not speak the PostgreSQL protocol");
            assert!(error.contains(&want), "{sslmode}: {error}");
            assert!(error.contains(answered), "{sslmode}: {error}");
            assert!(!error.contains("timed out"), "{sslmode}: {error}");
            assert!(!m.out.all().contains("pw-hostile-1"));
        }
    }
}

#[test]
fn timeouts_name_the_budget_without_nanosecond_noise() {
    let port = support::http::stall_server();
    let url = format!("http://127.0.0.1:{port}");
    let m = hostile_run(1, &["--only", "access-url,websocket", "--access-url", &url]);
    m.assert_bounded("stalled server", Duration::from_secs(1));
    let json = m.out.json();
    for section in ["access_url", "websocket"] {
        let error = json[section]["error"].as_str().unwrap_or_default();
        assert!(error.contains("1s deadline"), "{section}: {error}");
        // No `0.99873s`-style remainders, and no "no answer did not finish".
        assert!(!has_long_fraction(error), "{section}: {error}");
        assert!(!error.contains("no answer did not"), "{section}: {error}");
    }
}

/// Whether `text` has a number with four or more decimals (`0.998731s`).
fn has_long_fraction(text: &str) -> bool {
    text.split('.')
        .skip(1)
        .any(|after| after.chars().take_while(char::is_ascii_digit).count() >= 4)
}

fn fifo() -> std::path::PathBuf {
    let path = support::temp_dir("hc-fifo-").join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    path
}

#[test]
fn special_files_are_refused_at_once_with_the_input_named() {
    let pipe = fifo();
    let pipe = pipe.to_str().unwrap();
    for (args, env, names) in [
        (
            vec!["run", "--env-file", pipe],
            None,
            "cannot read env file",
        ),
        (
            vec!["run"],
            Some(("HEALTHCHECK_ENV_FILE", pipe)),
            "cannot read env file",
        ),
        (vec!["run", "--ca-cert", pipe], None, "--ca-cert"),
        (
            vec!["run", "--derp-config-path", pipe],
            None,
            "cannot read DERP map file",
        ),
        (
            vec!["run", "--derp-config-path", "/dev/zero"],
            None,
            "cannot read DERP map file",
        ),
        (
            vec!["run", "--env-file", "/dev/zero"],
            None,
            "cannot read env file",
        ),
        (vec!["run", "--ca-cert", "/dev/zero"], None, "--ca-cert"),
    ] {
        let mut cmd = healthcheck();
        cmd.args(&args);
        if let Some((key, value)) = env {
            cmd.env(key, value);
        }
        let m = run_measured(cmd);
        let what = format!("{args:?} {env:?}");
        m.assert_bounded(&what, Duration::from_secs(1));
        assert!(m.out.elapsed < Duration::from_millis(500), "{what}");
        assert_eq!(m.out.code, 2, "{what}: {}", m.out.all());
        assert!(m.out.stderr.contains(names), "{what}: {}", m.out.stderr);
        assert!(
            m.out.stderr.contains("not a regular file"),
            "{what}: {}",
            m.out.stderr
        );
    }
}

#[test]
fn a_fifo_as_a_dsn_key_or_root_certificate_is_a_finding_not_a_hang() {
    let pipe = fifo();
    let port = support::http::stall_server();
    for query in [
        format!("sslmode=verify-full&sslrootcert={}", pipe.display()),
        format!("sslmode=require&sslcert={0}&sslkey={0}", pipe.display()),
    ] {
        let dsn = format!("postgres://u:pw@127.0.0.1:{port}/db?{query}");
        let m = hostile_run(2, &["--only", "database", "--postgres-url", &dsn]);
        m.assert_bounded(&query, Duration::from_secs(2));
        let error = m.out.json()["database"]["error"].to_string();
        assert!(error.contains("not a regular file"), "{query}: {error}");
    }
}

#[test]
fn only_database_with_a_silent_database_ends_within_one_timeout() {
    let port = support::http::stall_server();
    let dsn = format!("postgres://u:pw@127.0.0.1:{port}/db?sslmode=disable");
    let m = hostile_run(2, &["--only", "database", "--postgres-url", &dsn]);
    m.assert_bounded("silent database", Duration::from_secs(2));
    let error = m.out.json()["database"]["error"].to_string();
    assert!(error.starts_with("\"EDB01: "), "{error}");
    assert!(
        error.contains("sent no PostgreSQL answer") || error.contains("timed out"),
        "{error}"
    );
}
