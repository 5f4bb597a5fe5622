//! coderd's own listener (CODER_HTTP_ADDRESS / CODER_TLS_ADDRESS): a real nginx in front of a
//! dead upstream with coderd answering locally (ELST01), coderd down on its own listener
//! (ELST02), and the address read from the flag, the environment and the env file.

mod support;

use support::certs::TestCa;
use support::http::{coder_like, fixed_server, response};
use support::nginx::Nginx;
use support::{free_port, healthcheck, run, run_json, temp_dir, warning_codes};

/// nginx whose upstream is a port nobody listens on: every request is a 502.
fn nginx_with_dead_upstream() -> Nginx {
    let upstream = free_port();
    Nginx::start(&format!(
        "    location / {{ proxy_pass http://127.0.0.1:{upstream}; }}"
    ))
}

#[test]
fn coderd_healthy_locally_behind_a_broken_proxy_is_elst01() {
    let nginx = nginx_with_dead_upstream();
    let coderd = coder_like("v2.18.1");
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &nginx.url(),
        "--http-address",
        &format!("127.0.0.1:{coderd}"),
    ]);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(
        warning_codes(&section["warnings"]),
        ["EACS04", "ELST01"],
        "{section:#}"
    );
    let message = section["warnings"][1]["message"].as_str().unwrap();
    assert!(message.contains("the fault is between them"), "{message}");
    let local = &section["local_listener"];
    assert_eq!(
        local["address"],
        format!("http://127.0.0.1:{coderd}/healthz")
    );
    assert_eq!(local["reachable"], true);
    assert_eq!(local["status_code"], 200);
    assert!(local.get("error").is_none());
    // Coder's verdict is Coder's: EACS04 is a warning that fails the access URL.
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["healthy"], false);
    let diagnosis = &json["diagnosis"][0];
    assert_eq!(diagnosis["code"], "ELST01", "{:#}", json["diagnosis"]);
    assert_eq!(diagnosis["explains"], serde_json::json!(["EACS04"]));
    assert_eq!(out.code, 1);

    // The table: both rows, then the probable cause.
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url", "--access-url", &nginx.url()])
        .env("CODER_HTTP_ADDRESS", format!("127.0.0.1:{coderd}"));
    let table = run(cmd);
    assert!(table.stdout.contains("ELST01"), "{}", table.stdout);
    assert!(
        table.stdout.contains("Probable cause: ELST01"),
        "{}",
        table.stdout
    );
}

#[test]
fn coderd_not_answering_on_its_listener_is_elst02_an_error_outside_coders_verdict() {
    let coderd = coder_like("v2.18.1");
    let dead = free_port();
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &format!("http://127.0.0.1:{coderd}"),
        "--http-address",
        &format!("127.0.0.1:{dead}"),
    ]);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(
        warning_codes(&section["warnings"]),
        ["ELST02"],
        "{section:#}"
    );
    assert_eq!(section["severity"], "error");
    let message = section["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains("connection refused"), "{message}");
    assert!(message.contains("--http-address"), "{message}");
    let local = &section["local_listener"];
    assert_eq!(local["reachable"], false);
    assert_eq!(local["status_code"], 0);
    assert!(local["error"].as_str().unwrap().contains("refused"));
    // The access URL itself is fine by Coder's rules; ELST02 counts for the exit code only.
    assert_eq!(json["healthy"], true);
    assert_eq!(json["severity"], "ok");
    assert_eq!(out.code, 1);

    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url"])
        .env("CODER_ACCESS_URL", format!("http://127.0.0.1:{coderd}"))
        .env("CODER_HTTP_ADDRESS", format!("127.0.0.1:{dead}"));
    let table = run(cmd);
    let row = table.stdout.lines().find(|l| l.contains("ELST02")).unwrap();
    assert!(row.contains("ERROR"), "{}", table.stdout);
    assert!(table.stdout.contains("UNHEALTHY"), "{}", table.stdout);
}

#[test]
fn something_else_on_the_listener_is_elst02() {
    let other = fixed_server(|_| response("200 OK", &[("Server", "lighttpd")], "It works"));
    let nginx = nginx_with_dead_upstream();
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &nginx.url(),
        "--http-address",
        &format!(":{other}"),
    ]);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(warning_codes(&section["warnings"]), ["EACS04", "ELST02"]);
    let message = section["warnings"][1]["message"].as_str().unwrap();
    assert!(message.contains("lighttpd"), "{message}");
    assert_eq!(json["diagnosis"][0]["code"], "ELST02");
}

#[test]
fn the_env_file_supplies_coder_http_address_and_all_interfaces_mean_loopback() {
    let nginx = nginx_with_dead_upstream();
    let coderd = coder_like("v2.18.1");
    let env_file = temp_dir("hc-lst-env-").join("coder.env");
    std::fs::write(
        &env_file,
        format!(
            "CODER_ACCESS_URL={}\nCODER_HTTP_ADDRESS=0.0.0.0:{coderd}\n",
            nginx.url()
        ),
    )
    .unwrap();
    let out = run_json(&[
        "--only",
        "access-url",
        "--env-file",
        env_file.to_str().unwrap(),
    ]);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(
        section["local_listener"]["address"],
        format!("http://127.0.0.1:{coderd}/healthz"),
        "{section:#}"
    );
    assert_eq!(warning_codes(&section["warnings"]), ["EACS04", "ELST01"]);
}

#[test]
fn the_tls_listener_is_asked_without_verifying_its_certificate() {
    // coderd's certificate names the access URL's host, not loopback.
    let ca = TestCa::new("local listener CA");
    let leaf = ca.leaf(&["coder.example.com"]);
    let local = Nginx::start_tls(
        &leaf,
        "    location = /healthz { add_header X-Coder-Build-Version v2.18.1; return 200 'OK'; }",
    );
    let coderd = coder_like("v2.18.1");
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--json",
        "--only",
        "access-url",
        "--access-url",
        &format!("http://127.0.0.1:{coderd}"),
    ])
    // Both from the same place, as Coder's env file has them: with TLS on, the TLS listener is
    // the one asked (a typed --http-address would win over both).
    .env("CODER_HTTP_ADDRESS", format!("127.0.0.1:{}", free_port()))
    .env("CODER_TLS_ADDRESS", format!("127.0.0.1:{}", local.port));
    let out = run(cmd);
    let json = out.json();
    let section = &json["access_url"];
    assert_eq!(
        section["local_listener"]["address"],
        format!("https://127.0.0.1:{}/healthz", local.port)
    );
    assert_eq!(section["local_listener"]["status_code"], 200, "{section:#}");
    assert_eq!(section["warnings"], serde_json::json!([]));
    assert_eq!(out.code, 0);
}

#[test]
fn a_bad_listen_address_is_a_usage_error() {
    let out = run_json(&["--http-address", "3000"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid --http-address \"3000\""),
        "{}",
        out.stderr
    );
    let mut cmd = healthcheck();
    cmd.args(["run"]).env("CODER_TLS_ADDRESS", "host:https");
    let out = run(cmd);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("CODER_TLS_ADDRESS"), "{}", out.stderr);
}
