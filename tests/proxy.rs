//! Proxies from the environment against a real forward proxy (tinyproxy, basic auth) that alone
//! can resolve the deployment's name: every request that succeeds went through it. HTTPS (CONNECT)
//! and plain HTTP, WebSocket and DERP tunnels, lower-case variables, NO_PROXY, a wrong password.

mod support;

use support::certs::TestCa;
use support::derp_relay::{DerpRelay, Mode};
use support::nginx::Nginx;
use support::tinyproxy::Tinyproxy;
use support::{healthcheck, run, temp_dir, Output};

/// Resolvable only inside the proxy's mount namespace.
const HOST: &str = "coder.proxy-only.test";
const USER: &str = "hcproxy";
const PASSWORD: &str = "Pr0xy-Secret-77";

/// nginx as a Coder deployment: /healthz answers OK, /derp goes to a DERP relay.
fn deployment(tls: Option<&support::certs::Leaf>) -> (Nginx, DerpRelay) {
    let relay = DerpRelay::start(Mode::Normal);
    let body = format!(
        "    location = /healthz {{ add_header X-Coder-Build-Version v2.18.1; return 200 'OK'; }}\n\
         \x20   location /derp {{\n      proxy_pass http://127.0.0.1:{};\n      proxy_http_version 1.1;\n\
         \x20     proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection upgrade;\n    }}",
        relay.port
    );
    let nginx = match tls {
        Some(leaf) => Nginx::start_tls(leaf, &body),
        None => Nginx::start(&body),
    };
    (nginx, relay)
}

fn run_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = healthcheck();
    cmd.arg("run").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd);
    assert!(
        !out.all().contains(PASSWORD),
        "the proxy password was printed:\n{}",
        out.all()
    );
    out
}

struct Https {
    _nginx: Nginx,
    _relay: DerpRelay,
    url: String,
    ca: String,
}

fn https_deployment() -> Https {
    let ca = TestCa::new("proxy test CA");
    let leaf = ca.leaf(&[HOST]);
    let (nginx, relay) = deployment(Some(&leaf));
    let ca_path = ca.write(&temp_dir("hc-proxy-ca-"));
    Https {
        url: format!("https://{HOST}:{}", nginx.port),
        ca: ca_path.display().to_string(),
        _nginx: nginx,
        _relay: relay,
    }
}

fn sections<'a>(d: &'a Https, only: &'a str) -> Vec<&'a str> {
    vec![
        "--only",
        only,
        "--access-url",
        &d.url,
        "--ca-cert",
        &d.ca,
        "--derp-server-stun-addresses",
        "disable",
        "--timeout",
        "4s",
    ]
}

#[test]
fn https_websocket_and_derp_go_through_https_proxy() {
    let d = https_deployment();
    let proxy = Tinyproxy::start(&[HOST], USER, PASSWORD);
    let mut args = vec!["--json"];
    args.extend(sections(&d, "access-url,websocket,derp,certificates"));
    let out = run_with(&[("HTTPS_PROXY", &proxy.url())], &args);
    let json = out.json();
    for section in ["access_url", "websocket", "derp", "certificates"] {
        assert_eq!(
            json[section]["severity"], "ok",
            "{section}: {:#}",
            json[section]
        );
    }
    assert_eq!(
        json["certificates"]["certificates"][0]["subject"],
        format!("CN={HOST}")
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(proxy.log().contains(HOST), "{}", proxy.log());

    // --verbose says which proxy each request used, without the password.
    let mut args = vec!["--verbose"];
    args.extend(sections(&d, "access-url,websocket"));
    let out = run_with(&[("HTTPS_PROXY", &proxy.url())], &args);
    let via = format!(
        "via proxy http://{USER}:[REDACTED]@127.0.0.1:{} (HTTPS_PROXY)",
        proxy.port
    );
    assert!(out.stdout.contains(&via), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("GET https://{HOST}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("WebSocket wss://"), "{}", out.stdout);
}

#[test]
fn lower_case_https_proxy_and_no_proxy() {
    let d = https_deployment();
    let proxy = Tinyproxy::start(&[HOST], USER, PASSWORD);
    let mut args = vec!["--json"];
    args.extend(sections(&d, "access-url"));
    let out = run_with(&[("https_proxy", &proxy.url())], &args);
    assert_eq!(out.json()["access_url"]["severity"], "ok", "{}", out.stdout);

    // NO_PROXY (any case, a domain suffix) sends the request direct, where the name is unknown.
    for var in ["NO_PROXY", "no_proxy"] {
        let out = run_with(
            &[("https_proxy", &proxy.url()), (var, "proxy-only.test")],
            &args,
        );
        let json = out.json();
        let error = json["access_url"]["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("EACS03: "),
            "{var}: {:#}",
            json["access_url"]
        );
        assert!(error.contains("DNS"), "{var}: {error}");
    }
}

#[test]
fn plain_http_and_ws_go_through_http_proxy() {
    let (nginx, _relay) = deployment(None);
    let proxy = Tinyproxy::start(&[HOST], USER, PASSWORD);
    let url = format!("http://{HOST}:{}", nginx.port);
    let out = run_with(
        &[("http_proxy", &proxy.url())],
        &[
            "--json",
            "--only",
            "access-url,websocket,derp",
            "--access-url",
            &url,
            "--derp-server-stun-addresses",
            "disable",
            "--timeout",
            "4s",
        ],
    );
    let json = out.json();
    for section in ["access_url", "websocket", "derp"] {
        assert_eq!(
            json[section]["severity"], "ok",
            "{section}: {:#}",
            json[section]
        );
    }
    // HTTPS_PROXY is not used for http URLs.
    let out = run_with(
        &[("HTTPS_PROXY", &proxy.url())],
        &["--json", "--only", "access-url", "--access-url", &url],
    );
    assert!(out.json()["access_url"]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("DNS"));
}

#[test]
fn a_wrong_proxy_password_is_named_and_never_printed() {
    let d = https_deployment();
    let proxy = Tinyproxy::start(&[HOST], USER, PASSWORD);
    let wrong = format!("http://{USER}:Wr0ng-Pa55word@127.0.0.1:{}", proxy.port);
    let mut args = vec!["--json"];
    args.extend(sections(&d, "access-url,websocket"));
    let out = run_with(&[("HTTPS_PROXY", &wrong)], &args);
    assert!(!out.all().contains("Wr0ng-Pa55word"), "{}", out.all());
    let json = out.json();
    let access = json["access_url"]["error"].as_str().unwrap();
    assert!(access.starts_with("EACS03: "), "{access}");
    let ws = json["websocket"]["error"].as_str().unwrap();
    assert!(ws.contains("requires authentication (401)"), "{ws}");
    assert!(ws.contains("it rejected the credentials"), "{ws}");
    assert!(access.contains("proxy"), "{access}");
    assert!(
        ws.contains(&format!(
            "http://{USER}:[REDACTED]@127.0.0.1:{}",
            proxy.port
        )),
        "{ws}"
    );
}

#[test]
fn an_unusable_proxy_variable_is_a_usage_error() {
    let out = run_with(
        &[("HTTPS_PROXY", "socks5://u:sockspw@127.0.0.1:1080")],
        &["--json"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("HTTPS_PROXY: socks5:// proxies are not supported"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("sockspw"));
}
