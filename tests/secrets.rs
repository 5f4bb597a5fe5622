//! No secret in any output: every section against succeeding and failing peers, with a DSN
//! password, a session token (as typed, with a trailing newline, with spaces), URL userinfo and
//! queries, and a DERP map host with userinfo, given by flag, environment and env file; in every
//! output format and in usage errors. To extend: add a format to `OUTPUTS`, a secret to
//! `SECRETS`/`forbidden`, a way of giving one to the cases below.

mod support;

use std::process::Command;

use support::coder_schema::{CoderDb, Generation};
use support::deployment::Deployment;
use support::http::{fixed_server, path_of, response};
use support::postgres::PgServer;
use support::{healthcheck, run, temp_dir, Output};

/// The DSN password: a space, `@` and `/` make its URI, form and raw spellings all differ.
const DSN_PW: &str = "Dsn Pw@7c1e/5f";
const DSN_PW_URI: &str = "Dsn%20Pw%407c1e%2F5f";
/// Coder's token shape (10-22), so that even a token in the wrong place is recognised.
const TOKEN: &str = "hcTok9f3a2-Sec7e6d5cRet8b4a1Zq9Xw";
const URL_PW: &str = "Url-Pw-4d2c8b";
const QUERY_SECRET: &str = "Sig-0a9b8c7d";
const HOST_PW: &str = "Host-Pw-3e1a9c";
/// The role that logs in with `DSN_PW`.
const ROLE: &str = "hc_secret_role";

/// Every output format, each a set of extra `run` flags. New formats go here.
const OUTPUTS: &[&[&str]] = &[&[], &["--verbose"], &["--json"], &["--json", "--verbose"]];

/// The spellings a token arrives in.
fn token_spellings() -> [String; 3] {
    [
        TOKEN.to_string(),
        format!("{TOKEN}\n"),
        format!("  {TOKEN}  "),
    ]
}

/// Every spelling of every secret that must never be printed.
fn forbidden() -> Vec<String> {
    vec![
        DSN_PW.into(),
        DSN_PW_URI.into(),
        "Dsn+Pw%407c1e%2F5f".into(),
        TOKEN.into(),
        URL_PW.into(),
        QUERY_SECRET.into(),
        HOST_PW.into(),
        // `Authorization: Basic` of admin:URL_PW, which HTTP clients send and servers echo.
        "YWRtaW46VXJsLVB3LTRkMmM4Yg==".into(),
    ]
}

fn assert_clean(what: &str, out: &Output) {
    let all = out.all();
    for secret in forbidden() {
        assert!(!all.contains(&secret), "{what}: {secret:?} printed:\n{all}");
    }
    assert!(!all.contains("panicked"), "{what}: {all}");
}

/// A role whose password is `DSN_PW`, able to read Coder's tables in `db`.
fn secret_role_dsn(db: &CoderDb, port_override: Option<u16>) -> String {
    // Tests of this file run at once: one of them creates the role.
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let server = PgServer::shared();
    let mut admin = server.superuser();
    let exists = admin
        .query(
            &format!("SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'"),
            &[],
        )
        .unwrap();
    if exists.is_empty() {
        admin
            .batch_execute(&format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{DSN_PW}'; GRANT coder TO {ROLE};"
            ))
            .unwrap();
    }
    let port = port_override.unwrap_or(server.port);
    format!(
        "postgres://{ROLE}:{DSN_PW_URI}@127.0.0.1:{port}/{}?sslmode=disable",
        db.name
    )
}

/// A server that answers every request with a 401 whose body is the request head it got
/// (headers, token and Basic credentials included).
fn echo_server() -> u16 {
    fixed_server(|head| response("401 Unauthorized", &[], head))
}

/// A DERP map served over HTTP, its one node on `relay_port` named with userinfo.
fn map_server(relay_port: u16) -> u16 {
    fixed_server(
        move |head| match path_of(head).split('?').next().unwrap_or("") {
            "/map.json" => response(
                "200 OK",
                &[("Content-Type", "application/json")],
                &serde_json::json!({"Regions": {"1": {"RegionID": 1, "RegionCode": "s",
                "Nodes": [{"Name": "1a", "RegionID": 1,
                    "HostName": format!("bob:{HOST_PW}@127.0.0.1"),
                    "DERPPort": relay_port, "STUNPort": -1, "ForceHTTP": true}]}}})
                .to_string(),
            ),
            _ => response("404 Not Found", &[], "not found"),
        },
    )
}

/// One way of handing the settings over.
#[derive(Clone, Copy, Debug)]
enum Given {
    Flags,
    Environment,
    EnvFile,
}

/// `healthcheck run` with the settings given `how`, plus `extra` flags.
fn command(how: Given, settings: &[(&str, &str, String)], extra: &[&str]) -> Command {
    let mut cmd = healthcheck();
    cmd.arg("run");
    match how {
        Given::Flags => {
            for (flag, _, value) in settings {
                cmd.arg(format!("--{flag}")).arg(value);
            }
        }
        Given::Environment => {
            for (_, var, value) in settings {
                cmd.env(var, value);
            }
        }
        Given::EnvFile => {
            let path = temp_dir("hc-secrets-env-").join("coder.env");
            let text: String = settings
                .iter()
                .map(|(_, var, value)| format!("{var}=\"{}\"\n", value.trim_end_matches('\n')))
                .collect();
            std::fs::write(&path, text).unwrap();
            cmd.arg("--env-file").arg(path);
        }
    }
    cmd.args(extra);
    cmd
}

#[test]
fn a_healthy_deployment_prints_no_secret_in_any_output() {
    let Deployment {
        nginx,
        relay_port,
        stun,
        db,
        ..
    } = Deployment::start("secrets_healthy", TOKEN);
    let dsn = secret_role_dsn(&db, None);
    let maps = map_server(relay_port);
    let access = format!("http://admin:{URL_PW}@127.0.0.1:{}", nginx.port);
    let map_url = format!("http://m:{URL_PW}@127.0.0.1:{maps}/map.json?X-Sig={QUERY_SECRET}");

    // Every token spelling in every output; the ways of giving them take turns.
    let hows = [Given::Flags, Given::Environment, Given::EnvFile];
    let mut turn = 0;
    for token in token_spellings() {
        for output in OUTPUTS {
            let how = hows[turn % hows.len()];
            turn += 1;
            let settings = [
                ("access-url", "CODER_ACCESS_URL", access.clone()),
                ("postgres-url", "CODER_PG_CONNECTION_URL", dsn.clone()),
                ("token", "CODER_SESSION_TOKEN", token.clone()),
                ("derp-config-url", "CODER_DERP_CONFIG_URL", map_url.clone()),
                (
                    "derp-server-stun-addresses",
                    "CODER_DERP_SERVER_STUN_ADDRESSES",
                    stun.addr(),
                ),
            ];
            let what = format!("healthy {how:?} token {token:?} {output:?}");
            let out = run(command(how, &settings, output));
            assert_clean(&what, &out);
            if output.contains(&"--json") {
                let json = out.json();
                for section in ["access_url", "websocket", "database", "derp"] {
                    assert_eq!(json[section]["severity"], "ok", "{what}: {}", json[section]);
                }
                assert_eq!(json["healthy"], true, "{what}");
            } else {
                assert_eq!(out.code, 0, "{what}: {}", out.all());
            }
        }
    }
}

#[test]
fn failing_peers_that_echo_what_they_got_print_no_secret() {
    let echo = echo_server();
    let db = CoderDb::create("secrets_failing", Generation::Newest);
    // The right role and password on a server that is not PostgreSQL, and a wrong password on
    // the real one.
    let at_echo = secret_role_dsn(&db, Some(echo));
    let wrong = format!(
        "postgres://coder:{DSN_PW_URI}@127.0.0.1:{}/{}?sslmode=disable",
        PgServer::shared().port,
        db.name
    );
    let map = temp_dir("hc-secrets-map-").join("map.json");
    std::fs::write(
        &map,
        serde_json::json!({"Regions": {"1": {"RegionID": 1, "Nodes": [{"Name": "1a",
            "HostName": format!("bob:{HOST_PW}@127.0.0.1"), "DERPPort": 1, "STUNPort": 3478}]}}})
        .to_string(),
    )
    .unwrap();
    let access = format!("http://admin:{URL_PW}@127.0.0.1:{echo}/?sig={QUERY_SECRET}");
    let map_url = format!("http://m:{URL_PW}@127.0.0.1:{echo}/map.json?X-Sig={QUERY_SECRET}");
    let derps = [
        ("derp-config-url", "CODER_DERP_CONFIG_URL", map_url.clone()),
        (
            "derp-config-path",
            "CODER_DERP_CONFIG_PATH",
            map.display().to_string(),
        ),
    ];
    // Every token spelling in every output; the peers and ways of giving take turns.
    let mut turn = 0;
    for token in token_spellings() {
        for output in OUTPUTS {
            let dsn = if turn % 2 == 0 { &at_echo } else { &wrong };
            let derp = derps[(turn / 2) % 2].clone();
            let how = if turn % 3 == 0 {
                Given::Environment
            } else {
                Given::Flags
            };
            turn += 1;
            let settings = [
                ("access-url", "CODER_ACCESS_URL", access.clone()),
                ("postgres-url", "CODER_PG_CONNECTION_URL", dsn.clone()),
                ("token", "CODER_SESSION_TOKEN", token.clone()),
                derp.clone(),
            ];
            let mut extra = vec!["--timeout", "1s"];
            extra.extend_from_slice(output);
            let what = format!("failing {how:?} {token:?} {} {output:?}", derp.0);
            let out = run(command(how, &settings, &extra));
            assert_clean(&what, &out);
            assert_eq!(out.code, 1, "{what}: {}", out.all());
        }
    }
}

#[test]
fn the_websocket_section_never_echoes_a_token_with_whitespace() {
    // The case: the token is sent trimmed; a server echoing headers put it into EWS
    // messages, which knew only the untrimmed spelling.
    let echo = echo_server();
    let access = format!("http://127.0.0.1:{echo}");
    for token in token_spellings() {
        for output in OUTPUTS {
            let mut cmd = healthcheck();
            cmd.args(["run", "--only", "websocket", "--access-url", &access])
                .env("CODER_SESSION_TOKEN", &token)
                .args(*output);
            let out = run(cmd);
            assert_clean(&format!("echo {token:?} {output:?}"), &out);
            if output.contains(&"--json") {
                let error = out.json()["websocket"]["error"].to_string();
                assert!(
                    error.starts_with("\"EWS01: ") && error.contains("401"),
                    "{error}"
                );
            }
        }
    }
}

/// Arguments and environment variables of one usage error.
type UsageCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

#[test]
fn usage_errors_never_quote_a_secret() {
    let dsn = format!("postgres://u:{DSN_PW_URI}@db.example/coder");
    let kv = format!("host=db.example password='{DSN_PW}'");
    let access = format!("https://admin:{URL_PW}@coder.example/?sig={QUERY_SECRET}");
    let cases: Vec<UsageCase> = vec![
        // A DSN without --postgres-url, in both forms.
        (vec!["run", &dsn], vec![]),
        (vec!["run", &kv], vec![]),
        (vec![&dsn], vec![]),
        // A token in the wrong flag, or as a stray word.
        (vec!["run", "--timeout", TOKEN], vec![]),
        (vec!["run", "--only", TOKEN], vec![]),
        (vec!["run", "--fail-on", TOKEN], vec![]),
        (vec!["run", TOKEN], vec![]),
        (vec!["explain", TOKEN], vec![]),
        // Secrets in the wrong variable.
        (vec!["run"], vec![("HEALTHCHECK_TIMEOUT", TOKEN)]),
        (vec!["run"], vec![("CODER_DERP_SERVER_ENABLE", &dsn)]),
        (
            vec!["run"],
            vec![("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", &access)],
        ),
        // A URL with credentials where a list or number belongs.
        (vec!["run", "--derp-server-stun-addresses", &access], vec![]),
        (vec!["run", "--timeout", &access], vec![]),
        // A token flag value with a typo'd flag name after it.
        (vec!["run", "--token", TOKEN, "--bogus"], vec![]),
        (vec!["run", "--token", TOKEN, "--timeout", TOKEN], vec![]),
    ];
    let mut quoted = 0;
    let count = cases.len();
    for (args, env) in cases {
        let mut cmd = healthcheck();
        cmd.args(&args);
        for (key, value) in &env {
            cmd.env(key, value);
        }
        let out = run(cmd);
        let what = format!("{args:?} {env:?}");
        assert_eq!(out.code, 2, "{what}: {}", out.all());
        assert_clean(&what, &out);
        quoted += usize::from(out.stderr.contains("[REDACTED]"));
    }
    // Most cases make the error quote the secret (the others must not print it either).
    assert!(
        quoted + 2 >= count,
        "only {quoted} of {count} quoted a secret"
    );
}

/// A value of the env file is a candidate secret, as a flag's is: an error about a value in the
/// wrong key quotes it scrubbed, and a token in a wrong key is not printed either.
#[test]
fn usage_errors_about_env_file_values_never_quote_a_secret() {
    let dsn = format!("postgres://coder:{URL_PW}@db:5432");
    let cases = [
        format!("CODER_HTTP_ADDRESS={dsn}\n"),
        format!("CODER_TLS_ADDRESS='{dsn}'\n"),
        format!("CODER_SESSION_TOKEN={TOKEN}\nCODER_DERP_SERVER_ENABLE={TOKEN}\n"),
        format!("CODER_SESSION_TOKEN={TOKEN}\nCODER_HEALTH_CHECK_THRESHOLD_DATABASE={TOKEN}\n"),
        format!("CODER_DERP_SERVER_STUN_ADDRESSES=https://admin:{URL_PW}@stun.example\n"),
    ];
    for text in cases {
        let path = temp_dir("hc-secrets-envfile-").join("coder.env");
        std::fs::write(&path, &text).unwrap();
        let mut cmd = healthcheck();
        cmd.args(["run", "--env-file"]).arg(&path);
        let out = run(cmd);
        assert_eq!(out.code, 2, "{text}: {}", out.all());
        assert_clean(&text, &out);
        assert!(out.stderr.contains("[REDACTED]"), "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains("coder.env"),
            "names the file: {}",
            out.stderr
        );
    }
}

// ---- Proxy values (issue 23, defects 1 and 9): a proxy variable that is not a usable URL is a
// usage error that names the variable and what is expected, and never prints the userinfo,
// also when the value has no scheme (read as `http://VALUE`, as Go does) or does not parse.

const PROXY_PW: &str = "Form-Secret-1";

fn run_with_proxy(name: &str, value: &str) -> Output {
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url"])
        .args(["--access-url", "https://coder.example.test"])
        .env(name, value);
    run(cmd)
}

#[test]
fn scheme_less_proxy_values_with_typos_never_print_the_password() {
    for (value, why) in [
        (
            "pxuser:Form-Secret-1@proxy.corp.test:99999",
            "invalid port number",
        ),
        ("pxuser:Form-Secret-1@proxy corp.test:3128", "invalid"),
        (
            "pxuser:Form-Secret-1@[fd77::20:3128",
            "invalid IPv6 address",
        ),
        ("pxuser:Form-Secret-1@:3128", "host"),
        ("pxuser:Form-Secret-1@", "host"),
        (
            "http://pxuser:Form-Secret-1@proxy.corp.test:99999",
            "invalid port number",
        ),
    ] {
        for name in ["HTTPS_PROXY", "http_proxy"] {
            let out = run_with_proxy(name, value);
            let all = out.all();
            assert_eq!(out.code, 2, "{name}={value}: {all}");
            assert!(!all.contains(PROXY_PW), "{name}={value}: {all}");
            assert!(
                out.stderr
                    .contains(&format!("{name}: not a usable proxy URL")),
                "{name}={value}: {all}"
            );
            assert!(out.stderr.contains(why), "{name}={value}: {all}");
            assert!(
                out.stderr.contains("pxuser:[REDACTED]@"),
                "{name}={value}: {all}"
            );
            assert!(
                out.stderr.contains("expected http://"),
                "{name}={value}: {all}"
            );
        }
    }
}

#[test]
fn proxy_url_errors_name_the_problem() {
    for (value, why) in [
        ("http://proxy.corp.test:99999", "invalid port number"),
        ("http://proxy.corp.test:abc", "invalid port number"),
        ("http://", "host"),
        // An unencoded `#` in the password: the rest would silently become a fragment.
        (
            "http://pxuser:Form#Secret-1@proxy.corp.test:3128",
            "invalid port number",
        ),
        (
            "http://pxuser#Form-Secret-1@proxy.corp.test:3128",
            "percent-encode",
        ),
    ] {
        let out = run_with_proxy("HTTPS_PROXY", value);
        let all = out.all();
        assert_eq!(out.code, 2, "{value}: {all}");
        assert!(
            out.stderr.contains("HTTPS_PROXY: not a usable proxy URL"),
            "{value}: {all}"
        );
        assert!(out.stderr.contains(why), "{value}: {all}");
        assert!(!all.contains("proxies are not supported"), "{value}: {all}");
        assert!(!all.contains("Secret-1"), "{value}: {all}");
    }
}
