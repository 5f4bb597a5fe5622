//! Access URL section: each code from the real situation that produces it.

mod support;

use std::time::Duration;

use support::certs::TestCa;
use support::http::{coder_like, fixed_server, path_of, response, stall_server};
use support::nginx::Nginx;
use support::{free_port, run_json, temp_dir};

fn access_url(args: &[&str]) -> (support::Output, serde_json::Value) {
    let mut all = vec!["--only", "access-url"];
    all.extend_from_slice(args);
    let out = run_json(&all);
    let json = out.json();
    (out, json["access_url"].clone())
}

#[test]
fn healthy_coder_answers_ok() {
    let port = coder_like("v2.18.1");
    // The access URL's own path is replaced by /healthz, as in Coder.
    let url = format!("http://127.0.0.1:{port}/some/prefix");
    let (out, section) = access_url(&["--access-url", &url]);
    assert_eq!(section["severity"], "ok", "{section}");
    assert_eq!(section["healthy"], true);
    assert_eq!(section["reachable"], true);
    assert_eq!(section["status_code"], 200);
    assert_eq!(section["healthz_response"], "OK");
    assert_eq!(section["access_url"], url);
    assert!(section.get("error").is_none());
    assert!(section.get("redirected_to").is_none());
    let json = out.json();
    assert_eq!(json["coder_version"], "v2.18.1");
    assert_eq!(json["healthy"], true);
    assert_eq!(out.code, 0);
}

#[test]
fn eacs01_when_no_access_url() {
    let (out, section) = access_url(&[]);
    assert_eq!(section["error"], "EACS01: Access URL not set");
    assert_eq!(section["severity"], "error");
    assert_eq!(section["reachable"], false);
    assert_eq!(section["status_code"], 0);
    assert_eq!(out.code, 1);
}

#[test]
fn eacs02_for_unparsable_or_non_http_urls() {
    for (url, expect) in [
        ("ftp://coder.example.com", "expected http or https"),
        ("coder.example.com", "does not parse"),
        ("https://", "does not parse"),
    ] {
        let (out, section) = access_url(&["--access-url", url]);
        let error = section["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("EACS02: "), "{url}: {section}");
        assert!(error.contains(expect), "{url}: {error}");
        assert_eq!(out.code, 1);
    }
}

#[test]
fn eacs03_connection_refused() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let (_, section) = access_url(&["--access-url", &url]);
    let error = section["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("connection refused"), "{error}");
}

#[test]
fn eacs03_dns_failure() {
    let (_, section) = access_url(&["--access-url", "http://no-such-host.invalid"]);
    let error = section["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("DNS"), "{error}");
}

#[test]
fn eacs03_tls_untrusted_then_trusted_with_ca_cert() {
    let ca = TestCa::new("access url test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let nginx = Nginx::start_tls(&leaf, "    location = /healthz { return 200 'OK'; }");
    let url = format!("https://127.0.0.1:{}", nginx.port);

    let (_, section) = access_url(&["--access-url", &url]);
    let error = section["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("unknown authority"), "{error}");

    let dir = temp_dir("hc-ca-");
    let ca_file = ca.write(&dir);
    let (out, section) =
        access_url(&["--access-url", &url, "--ca-cert", ca_file.to_str().unwrap()]);
    assert_eq!(section["severity"], "ok", "{section}");
    assert_eq!(out.code, 0);
}

#[test]
fn eacs03_tls_wrong_host_name() {
    let ca = TestCa::new("access url test CA");
    let leaf = ca.leaf(&["coder.example.com"]);
    let nginx = Nginx::start_tls(&leaf, "    location = /healthz { return 200 'OK'; }");
    let dir = temp_dir("hc-ca-");
    let ca_file = ca.write(&dir);
    let url = format!("https://127.0.0.1:{}", nginx.port);
    let (_, section) = access_url(&["--access-url", &url, "--ca-cert", ca_file.to_str().unwrap()]);
    let error = section["error"].as_str().unwrap();
    assert!(error.contains("not valid for this host name"), "{error}");
}

#[test]
fn hung_access_url_ends_within_the_timeout() {
    let port = stall_server();
    let url = format!("http://127.0.0.1:{port}");
    let (out, section) = access_url(&["--access-url", &url, "--timeout", "1s"]);
    let error = section["error"].as_str().unwrap();
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("timed out"), "{error}");
    // The deadline plus start-up; the build info probe runs alongside.
    assert!(
        out.elapsed < Duration::from_millis(1_900),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn eacs04_bad_gateway_from_real_nginx() {
    let upstream = free_port();
    let nginx = Nginx::start(&format!(
        "    location / {{ proxy_pass http://127.0.0.1:{upstream}; }}"
    ));
    let (out, section) = access_url(&["--access-url", &nginx.url()]);
    assert_eq!(section["severity"], "warning", "{section}");
    assert_eq!(section["status_code"], 502);
    assert_eq!(section["reachable"], true);
    assert_eq!(section["healthy"], false);
    assert!(section.get("error").is_none());
    let warning = &section["warnings"][0];
    assert_eq!(warning["code"], "EACS04");
    let message = warning["message"].as_str().unwrap();
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(message.contains("nginx"), "{message}");
    // Coder's rule: a non-200 /healthz is only a warning, yet the deployment is unhealthy.
    let json = out.json();
    assert_eq!(json["healthy"], false);
    assert_eq!(json["severity"], "warning");
    assert_eq!(out.code, 1);
}

#[test]
fn eacs04_not_found_keeps_body() {
    let port = fixed_server(|_| response("404 Not Found", &[], "NOT OK"));
    let (_, section) = access_url(&["--access-url", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(section["status_code"], 404);
    assert_eq!(section["healthz_response"], "NOT OK");
    assert_eq!(section["warnings"][0]["code"], "EACS04");
}

#[test]
fn eacs04_when_an_auth_proxy_login_page_answers_200() {
    let port = fixed_server(|head| {
        if path_of(head) == "/healthz" {
            response("302 Found", &[("Location", "/oauth2/sign_in")], "")
        } else {
            response(
                "200 OK",
                &[("Server", "oauth2-proxy"), ("Content-Type", "text/html")],
                "<html><head><title>Sign In</title></head><body>login</body></html>",
            )
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let (out, section) = access_url(&["--access-url", &base]);
    assert_eq!(section["severity"], "warning", "{section}");
    assert_eq!(section["status_code"], 200);
    assert_eq!(section["redirected_to"], format!("{base}/oauth2/sign_in"));
    let message = section["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains("not Coder's \"OK\""), "{message}");
    assert!(message.contains("oauth2-proxy"), "{message}");
    assert!(message.contains("Sign In"), "{message}");
    assert!(message.contains("/oauth2/sign_in"), "{message}");
    assert_eq!(out.code, 1);
}

#[test]
fn redirect_to_coder_counts_as_ok_and_is_reported() {
    let target = coder_like("v2.18.1");
    let port = fixed_server(move |_| {
        response(
            "301 Moved Permanently",
            &[("Location", &format!("http://127.0.0.1:{target}/healthz"))],
            "",
        )
    });
    let (out, section) = access_url(&["--access-url", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(section["severity"], "ok", "{section}");
    assert_eq!(
        section["redirected_to"],
        format!("http://127.0.0.1:{target}/healthz")
    );
    assert_eq!(out.code, 0);
}

#[test]
fn url_credentials_never_printed() {
    let port = coder_like("v2.18.1");
    let secret = "acc3ss-Pa55-xyz";
    let url = format!("http://admin:{secret}@127.0.0.1:{port}");
    let (out, section) = access_url(&["--access-url", &url]);
    assert!(!out.all().contains(secret), "{}", out.all());
    assert!(section["access_url"]
        .as_str()
        .unwrap()
        .contains("[REDACTED]"));

    let mut cmd = support::healthcheck();
    cmd.args(["run", "--only", "access-url", "--access-url", &url]);
    let table = support::run(cmd);
    assert!(!table.all().contains(secret), "{}", table.all());
    assert!(table.stdout.contains("[REDACTED]"));
}
