//! Go's ProxyFromEnvironment rules, case by case.

use super::*;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<ProxyConfig, String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ProxyConfig::from_env(&|k| map.get(k).filter(|v| !v.is_empty()).cloned())
}

fn via(c: &ProxyConfig, url: &str) -> Option<String> {
    match c.route_for_url(&url::Url::parse(url).unwrap()) {
        Route::Proxy(p) => Some(p.host_port()),
        Route::Direct(_) => None,
    }
}

#[test]
fn scheme_picks_the_variable() {
    let c = config(&[
        ("HTTP_PROXY", "http://plain:3128"),
        ("HTTPS_PROXY", "secure:8080"),
    ])
    .unwrap();
    assert_eq!(
        via(&c, "http://coder.example.com"),
        Some("plain:3128".into())
    );
    assert_eq!(
        via(&c, "ws://coder.example.com/x"),
        Some("plain:3128".into())
    );
    assert_eq!(
        via(&c, "https://coder.example.com"),
        Some("secure:8080".into())
    );
    assert_eq!(
        via(&c, "wss://coder.example.com"),
        Some("secure:8080".into())
    );
    // HTTPS requests never fall back to HTTP_PROXY.
    let only_http = config(&[("HTTP_PROXY", "http://plain:3128")]).unwrap();
    assert_eq!(via(&only_http, "https://coder.example.com"), None);
}

#[test]
fn upper_case_wins_and_empty_counts_as_unset() {
    let c = config(&[
        ("HTTPS_PROXY", "http://upper:1"),
        ("https_proxy", "http://lower:2"),
    ])
    .unwrap();
    assert_eq!(via(&c, "https://x.example"), Some("upper:1".into()));
    let c = config(&[("HTTPS_PROXY", ""), ("https_proxy", "http://lower:2")]).unwrap();
    assert_eq!(via(&c, "https://x.example"), Some("lower:2".into()));
    let c = config(&[("https_proxy", "http://lower:2"), ("no_proxy", "x.example")]).unwrap();
    assert_eq!(via(&c, "https://x.example"), None);
}

#[test]
fn cgi_ignores_http_proxy_only() {
    let c = config(&[
        ("REQUEST_METHOD", "GET"),
        ("HTTP_PROXY", "http://plain:3128"),
        ("HTTPS_PROXY", "http://secure:3128"),
    ])
    .unwrap();
    assert_eq!(via(&c, "http://x.example"), None);
    assert_eq!(via(&c, "https://x.example"), Some("secure:3128".into()));
}

#[test]
fn loopback_is_always_direct() {
    let c = config(&[("HTTP_PROXY", "http://p:1"), ("HTTPS_PROXY", "http://p:1")]).unwrap();
    for url in [
        "http://localhost:3000",
        "https://LOCALHOST",
        "http://127.0.0.1",
        "http://127.8.9.10:80",
        "http://[::1]:3000",
    ] {
        assert_eq!(via(&c, url), None, "{url}");
    }
    assert_eq!(via(&c, "http://localhost.example"), Some("p:1".into()));
}

#[test]
fn no_proxy_grammar() {
    let c = config(&[
        ("HTTPS_PROXY", "http://p:1"),
        (
            "NO_PROXY",
            " Corp.Example , .internal,*.wild.example, 10.0.0.0/8, 192.168.1.5, \
             [2001:db8::1]:8443, ported.example:8443, ::2",
        ),
    ])
    .unwrap();
    let direct = [
        "https://corp.example",
        "https://a.b.corp.example",
        "https://x.internal",
        "https://x.wild.example",
        "https://10.1.2.3",
        "https://192.168.1.5:9999",
        "https://[2001:db8::1]:8443",
        "https://ported.example:8443",
        "https://[::2]",
    ];
    for url in direct {
        assert_eq!(via(&c, url), None, "{url}");
    }
    let proxied = [
        "https://notcorp.example",
        "https://internal",
        "https://wild.example",
        "https://11.0.0.1",
        "https://192.168.1.6",
        "https://[2001:db8::1]",
        "https://ported.example",
    ];
    for url in proxied {
        assert_eq!(via(&c, url), Some("p:1".into()), "{url}");
    }
    let all = config(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "a.example, *")]).unwrap();
    assert_eq!(via(&all, "https://anything.example"), None);
}

#[test]
fn proxy_urls_and_credentials() {
    let c = config(&[("HTTPS_PROXY", "http://us%40er:p%3Ass@proxy.corp:3128/")]).unwrap();
    let Route::Proxy(p) = c.route(true, "coder.example.com", 443) else {
        panic!("expected a proxy")
    };
    assert_eq!(p.username, "us@er");
    assert_eq!(p.password.as_deref(), Some("p:ss"));
    assert_eq!(p.shown(), "http://us@er:[REDACTED]@proxy.corp:3128");
    assert_eq!(
        p.authorization().unwrap(),
        format!("Basic {}", base64(b"us@er:p:ss"))
    );
    assert_eq!(c.passwords(), ["p:ss"]);
    let default_port = config(&[("HTTP_PROXY", "proxy.corp")]).unwrap();
    assert_eq!(
        via(&default_port, "http://x.example"),
        Some("proxy.corp:80".into())
    );
    let ip = config(&[("HTTP_PROXY", "10.0.0.1:3128")]).unwrap();
    assert_eq!(via(&ip, "http://x.example"), Some("10.0.0.1:3128".into()));
    let err = config(&[("HTTPS_PROXY", "socks5://u:secretpw@s:1080")]).unwrap_err();
    assert!(
        err.starts_with("HTTPS_PROXY: socks5:// proxies are not supported"),
        "{err}"
    );
    assert!(!err.contains("secretpw"));
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(
        base64(b"Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

#[test]
fn ipv4_mapped_addresses_are_read_as_ipv4_as_go_does() {
    let c = config(&[
        ("HTTP_PROXY", "http://p:1"),
        ("NO_PROXY", "10.1.2.3, ::ffff:192.168.0.0/112"),
    ])
    .unwrap();
    for url in [
        "http://[::ffff:127.0.0.1]:3000",
        "http://[::ffff:127.9.9.9]",
        "http://[::ffff:10.1.2.3]",
        "http://192.168.4.5",
        "http://[::ffff:192.168.4.5]",
    ] {
        assert_eq!(via(&c, url), None, "{url}");
    }
    assert_eq!(via(&c, "http://[::ffff:10.1.2.4]"), Some("p:1".into()));
}

#[test]
fn bad_proxy_values_say_what_is_wrong_and_hide_the_password() {
    for (value, why) in [
        ("http://h:99999", "invalid port number"),
        ("u:pw-secret@h:99999", "invalid port number"),
        ("http://", "empty host"),
        ("http://u#pw-secret@h:3128", "percent-encode"),
        ("http://u/pw-secret@h:3128", "percent-encode"),
    ] {
        let err = config(&[("HTTPS_PROXY", value)]).unwrap_err();
        assert!(
            err.starts_with("HTTPS_PROXY: not a usable proxy URL ("),
            "{err}"
        );
        assert!(err.contains(why), "{value}: {err}");
        assert!(err.ends_with(EXPECTED), "{err}");
        assert!(!err.contains("pw-secret"), "{err}");
    }
    assert_eq!(shown_value("u:pw@h:1"), "u:[REDACTED]@h:1");
    assert_eq!(shown_value("http://u:p@w@h:1"), "http://u:[REDACTED]@h:1");
    assert_eq!(shown_value("http://u#pw@h"), "http://[REDACTED]@h");
    assert_eq!(shown_value("http://u@h"), "http://u@h");
    // An IPv6 literal proxy keeps its brackets in messages.
    let c = config(&[("HTTPS_PROXY", "http://[fd77::20]:3128")]).unwrap();
    assert_eq!(via(&c, "https://x.example"), Some("[fd77::20]:3128".into()));
}
