use std::collections::HashMap;

use super::*;
use crate::cli::{parse_from, Command};

/// Resolves `healthcheck run ARGS` against the given environment and files.
fn resolve(
    args: &[&str],
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> Result<Settings, String> {
    let argv = std::iter::once("healthcheck")
        .chain(std::iter::once("run"))
        .chain(args.iter().copied());
    let (cli, _) = parse_from(argv).map_err(|e| e.to_string())?;
    let Command::Run(run) = cli.command else {
        unreachable!("the run subcommand was parsed")
    };
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fs: HashMap<PathBuf, String> = files
        .iter()
        .map(|(k, v)| (PathBuf::from(k), v.to_string()))
        .collect();
    Settings::resolve(&run, &env, &fs, Terminal::default())
}

const ENV_FILE: &str = "/etc/coder.d/coder.env";

#[test]
fn flag_beats_environment_beats_env_file_beats_default() {
    let file = [(
        ENV_FILE,
        "CODER_ACCESS_URL=https://file.example\nCODER_HEALTH_CHECK_THRESHOLD_DATABASE=30ms\n\
         CODER_DERP_SERVER_ENABLE=false",
    )];
    let env = [("CODER_ACCESS_URL", "https://env.example")];
    let s = resolve(&["--access-url", "https://flag.example"], &env, &file).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://flag.example");
    let s = resolve(&[], &env, &file).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://env.example");
    assert_eq!(s.checks.db_threshold, Duration::from_millis(30));
    assert!(!s.checks.derp.server_enable);
    let s = resolve(&[], &[], &file).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://file.example");
    let s = resolve(&[], &[], &[]).unwrap();
    assert!(s.checks.access_url.is_none());
    assert_eq!(s.checks.db_threshold, defaults::DB_THRESHOLD);
    assert_eq!(s.timeout, defaults::TIMEOUT);
    assert!(s.checks.derp.server_enable);
    // A typed flag equal to the default still wins over the env file.
    let s = resolve(
        &[
            "--health-check-threshold-database",
            "15ms",
            "--derp-server-enable",
            "true",
        ],
        &[],
        &file,
    )
    .unwrap();
    assert_eq!(s.checks.db_threshold, Duration::from_millis(15));
    assert!(s.checks.derp.server_enable);
}

#[test]
fn empty_values_count_as_unset_at_every_level() {
    let file = [(ENV_FILE, "CODER_ACCESS_URL=https://file.example")];
    let s = resolve(&["--access-url", ""], &[("CODER_ACCESS_URL", "")], &file).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://file.example");
}

#[test]
fn dsn_source_names_where_it_came_from() {
    let dsn = "postgres://coder:pw@db/coder";
    let file = [(
        ENV_FILE,
        "CODER_PG_CONNECTION_URL=postgres://coder:pw@file/coder",
    )];
    let source = |args: &[&str], env: &[(&str, &str)], files: &[(&str, &str)]| {
        resolve(args, env, files)
            .unwrap()
            .checks
            .postgres
            .map(|p| p.source)
    };
    let env = [("CODER_PG_CONNECTION_URL", dsn)];
    assert_eq!(
        source(&["--postgres-url", dsn], &env, &file),
        Some(SettingSource::Flag)
    );
    assert_eq!(source(&[], &env, &file), Some(SettingSource::Environment));
    assert_eq!(source(&[], &[], &file), Some(SettingSource::EnvFile));
    let discovered = [("CODER_CONFIG_DIR", "/cfg")];
    let files = [
        ("/cfg/postgres/password", "pw"),
        ("/cfg/postgres/port", "5432"),
    ];
    assert_eq!(
        source(&[], &discovered, &files),
        Some(SettingSource::Discovered)
    );
    assert_eq!(source(&[], &[], &[]), None);
}

#[test]
fn bad_values_name_their_source() {
    let err = resolve(&[], &[("HEALTHCHECK_TIMEOUT", "soon")], &[]).unwrap_err();
    assert!(
        err.starts_with("HEALTHCHECK_TIMEOUT: invalid duration"),
        "{err}"
    );
    let file = [(ENV_FILE, "CODER_BLOCK_DIRECT=perhaps")];
    let err = resolve(&[], &[], &file).unwrap_err();
    assert!(
        err.starts_with("CODER_BLOCK_DIRECT in /etc/coder.d/coder.env"),
        "{err}"
    );
    let err = resolve(&["--env-file", "/missing.env"], &[], &[]).unwrap_err();
    assert!(
        err.starts_with("cannot read env file /missing.env"),
        "{err}"
    );
    let err = resolve(&["--timeout", "0s"], &[], &[]).unwrap_err();
    assert!(
        err.starts_with("invalid --timeout: must be greater than zero"),
        "{err}"
    );
    let err = resolve(&[], &[("HEALTHCHECK_TIMEOUT", "0s")], &[]).unwrap_err();
    assert!(err.starts_with("invalid HEALTHCHECK_TIMEOUT:"), "{err}");
}

#[test]
fn env_file_comes_from_flag_or_environment() {
    let files = [("/other.env", "CODER_ACCESS_URL=https://other.example")];
    let s = resolve(&[], &[("HEALTHCHECK_ENV_FILE", "/other.env")], &files).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://other.example");
    assert_eq!(s.env_file.as_deref(), Some(Path::new("/other.env")));
}

#[test]
fn only_coder_variables_are_read_from_the_env_file() {
    // HEALTHCHECK_TIMEOUT is ours, not Coder's: the env file does not set it.
    let file = [(ENV_FILE, "HEALTHCHECK_TIMEOUT=1s")];
    assert_eq!(resolve(&[], &[], &file).unwrap().timeout, defaults::TIMEOUT);
}

#[test]
fn token_is_trimmed_and_both_spellings_are_secrets() {
    let s = resolve(&[], &[("CODER_SESSION_TOKEN", "  tok-en-1234\n")], &[]).unwrap();
    assert_eq!(s.checks.token.as_deref(), Some("tok-en-1234"));
    assert_eq!(s.secrets.scrub("x tok-en-1234 y"), "x [REDACTED] y");
}

#[test]
fn colour_and_spinner_follow_the_terminal_and_the_environment() {
    let env: HashMap<String, String> = [("NO_COLOR".to_string(), "1".to_string())].into();
    assert!(!resolve_color(ColorWhen::Auto, &env, true));
    assert!(resolve_color(ColorWhen::Always, &env, false));
    let env: HashMap<String, String> = [("CLICOLOR_FORCE".to_string(), "1".to_string())].into();
    assert!(resolve_color(ColorWhen::Auto, &env, false));
    let none: HashMap<String, String> = HashMap::new();
    assert!(resolve_color(ColorWhen::Auto, &none, true));
    assert!(!resolve_color(ColorWhen::Auto, &none, false));
}

#[test]
fn stun_list() {
    assert_eq!(parse_stun_list("disable").unwrap(), Vec::<String>::new());
    assert_eq!(
        parse_stun_list("127.0.0.1:3478, [::1]:3478").unwrap(),
        vec!["127.0.0.1:3478", "[::1]:3478"]
    );
    assert!(parse_stun_list("nohost").is_err());
}

#[test]
fn help_shows_defaults_and_variables_from_one_place() {
    let run = crate::cli::run_command();
    let arg = |id: &str| run.get_arguments().find(|a| a.get_id() == id).unwrap();
    let help = |id: &str| arg(id).get_help().unwrap().to_string();
    assert!(help("timeout").contains(&format!(
        "[default: {}]",
        crate::duration::go_string(defaults::TIMEOUT)
    )));
    assert!(help("env_file").contains(&format!("[default: {}]", defaults::ENV_FILE)));
    for def in defs::RUN {
        if let Some(var) = def.env {
            assert!(
                help(def.id).contains(&format!("[env: {var}")),
                "{}",
                help(def.id)
            );
        }
        if let Some(default) = def.default.text() {
            assert!(help(def.id).contains(&format!("[default: {default}]")));
        }
        assert_eq!(arg(def.id).get_long(), Some(&def.flag[2..]));
    }
    // Every `run` argument is declared in `defs` (clap's own --help aside).
    for a in run.get_arguments().filter(|a| a.get_id() != "help") {
        assert!(defs::by_id(a.get_id().as_str()).is_some(), "{}", a.get_id());
    }
}

#[test]
fn local_listener_from_flag_environment_or_env_file_tls_first() {
    let file = [(ENV_FILE, "CODER_HTTP_ADDRESS=0.0.0.0:3000\n")];
    let s = resolve(&[], &[], &file).unwrap();
    let l = s.checks.local_listener.unwrap();
    assert_eq!((l.host.as_str(), l.port, l.tls), ("127.0.0.1", 3000, false));
    assert_eq!(l.setting, "CODER_HTTP_ADDRESS");
    let s = resolve(&["--http-address", "127.0.0.1:80"], &[], &file).unwrap();
    assert_eq!(s.checks.local_listener.unwrap().setting, "--http-address");
    // With TLS on, coderd's HTTP listener only redirects: the TLS one is asked.
    let s = resolve(&[], &[("CODER_TLS_ADDRESS", "[::]:3443")], &file).unwrap();
    let l = s.checks.local_listener.unwrap();
    assert_eq!((l.host.as_str(), l.port, l.tls), ("::1", 3443, true));
    assert!(resolve(&[], &[], &[])
        .unwrap()
        .checks
        .local_listener
        .is_none());
    let e = resolve(&[], &[], &[(ENV_FILE, "CODER_TLS_ADDRESS=nope\n")]).unwrap_err();
    assert!(e.contains("CODER_TLS_ADDRESS"), "{e}");
    assert!(e.ends_with("(in /etc/coder.d/coder.env)"), "{e}");
    // A typed --http-address beats the env file's TLS address.
    let file = [(ENV_FILE, "CODER_TLS_ADDRESS=0.0.0.0:3443\n")];
    let s = resolve(&["--http-address", "127.0.0.1:3000"], &[], &file).unwrap();
    let l = s.checks.local_listener.unwrap();
    assert_eq!((l.port, l.tls), (3000, false));
    assert_eq!(l.setting, "--http-address");
}

#[test]
fn cert_expiry_warning_takes_days() {
    let s = resolve(&[], &[], &[]).unwrap();
    assert_eq!(s.checks.cert_expiry_warning, defaults::CERT_EXPIRY_WARNING);
    let s = resolve(&["--cert-expiry-warning", "30d"], &[], &[]).unwrap();
    assert_eq!(
        s.checks.cert_expiry_warning,
        Duration::from_secs(30 * 86_400)
    );
    assert!(resolve(&["--cert-expiry-warning", "soon"], &[], &[]).is_err());
    // Coder's own durations still have no days.
    assert!(resolve(&["--timeout", "1d"], &[], &[]).is_err());
}

#[test]
fn proxies_come_from_the_environment_and_their_passwords_are_secrets() {
    use crate::net::proxy::Route;
    let env = [
        ("HTTPS_PROXY", "http://me:Pr0xyPass@proxy.corp:3128"),
        ("no_proxy", ".internal"),
    ];
    let s = resolve(&[], &env, &[]).unwrap();
    assert!(matches!(
        s.proxy.route(true, "coder.example.com", 443),
        Route::Proxy(_)
    ));
    assert!(matches!(
        s.proxy.route(true, "db.internal", 443),
        Route::Direct(_)
    ));
    assert_eq!(s.secrets.scrub("x Pr0xyPass y"), "x [REDACTED] y");
    // The env file is Coder's CODER_* settings only.
    let s = resolve(&[], &[], &[(ENV_FILE, "HTTPS_PROXY=http://p:1\n")]).unwrap();
    assert!(!s.proxy.is_configured());
    let e = resolve(&[], &[("HTTP_PROXY", "ftp://p:1")], &[]).unwrap_err();
    assert!(e.starts_with("HTTP_PROXY: "), "{e}");
}

#[test]
fn format_json_and_their_conflicts() {
    let format = |args: &[&str]| resolve(args, &[], &[]).map(|s| s.output.format);
    assert_eq!(format(&[]), Ok(OutputFormat::Table));
    assert_eq!(format(&["--json"]), Ok(OutputFormat::Json));
    assert_eq!(
        format(&["--format", "json", "--json"]),
        Ok(OutputFormat::Json)
    );
    assert_eq!(
        format(&["--format", "prometheus"]),
        Ok(OutputFormat::Prometheus)
    );
    assert_eq!(format(&["--format", "junit"]), Ok(OutputFormat::Junit));
    let err = format(&["--json", "--format", "junit"]).unwrap_err();
    assert!(err.contains("--format junit"), "{err}");
    assert!(format(&["--format", "xml"]).is_err());
}

#[test]
fn watch_needs_a_file_for_whole_documents_and_a_positive_interval() {
    let s = resolve(&["--watch", "10ms"], &[], &[]).unwrap();
    assert_eq!(s.output.watch, Some(Duration::from_millis(10)));
    assert!(!s.output.spinner);
    let err = resolve(&["--watch", "0s"], &[], &[]).unwrap_err();
    assert!(err.contains("--watch"), "{err}");
    let err = resolve(&["--watch", "1s", "--format", "prometheus"], &[], &[]).unwrap_err();
    assert!(err.contains("--output"), "{err}");
    let s = resolve(
        &[
            "--watch",
            "1s",
            "--format",
            "junit",
            "--output",
            "/tmp/x.xml",
        ],
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(s.output.file, Some(PathBuf::from("/tmp/x.xml")));
}

#[test]
fn output_file_is_not_a_terminal() {
    let argv = ["healthcheck", "run", "--output", "/tmp/report.txt"];
    let (cli, _) = parse_from(argv).unwrap();
    let Command::Run(run) = cli.command else {
        unreachable!()
    };
    let env: HashMap<String, String> = HashMap::new();
    let fs: HashMap<PathBuf, String> = HashMap::new();
    let terminal = Terminal {
        stdout: true,
        stderr: true,
    };
    let s = Settings::resolve(&run, &env, &fs, terminal).unwrap();
    assert!(!s.output.terminal);
    assert!(!s.output.color, "no colour in a file unless --color always");
}

#[test]
fn coder_login_is_the_lowest_source_of_access_url_and_token() {
    let login = [
        ("/cfg/url", "https://login.example\n"),
        ("/cfg/session", "Lgn-sEss10n-t0ken\n"),
    ];
    let env = [("CODER_CONFIG_DIR", "/cfg")];
    let s = resolve(&[], &env, &login).unwrap();
    let url = s.checks.access_url.as_ref().unwrap();
    assert_eq!(url.raw(), "https://login.example");
    assert_eq!(url.source(), SettingSource::CoderLogin);
    assert_eq!(url.for_header(), "https://login.example (from coder login)");
    assert_eq!(s.checks.token.as_deref(), Some("Lgn-sEss10n-t0ken"));
    assert_eq!(s.secrets.scrub("x Lgn-sEss10n-t0ken y"), "x [REDACTED] y");
    // The flag beats the login, and so do the environment and the env file.
    let s = resolve(
        &[
            "--access-url",
            "https://flag.example",
            "--token",
            "flag-token",
        ],
        &env,
        &login,
    )
    .unwrap();
    let url = s.checks.access_url.unwrap();
    assert_eq!(
        (url.raw(), url.source()),
        ("https://flag.example", SettingSource::Flag)
    );
    assert_eq!(url.for_header(), "https://flag.example");
    assert_eq!(s.checks.token.as_deref(), Some("flag-token"));
    let env_too = [
        ("CODER_CONFIG_DIR", "/cfg"),
        ("CODER_ACCESS_URL", "https://env.example"),
    ];
    let s = resolve(&[], &env_too, &login).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://env.example");
    let mut files = login.to_vec();
    files.push((ENV_FILE, "CODER_SESSION_TOKEN=file-token\n"));
    let s = resolve(&[], &env, &files).unwrap();
    assert_eq!(s.checks.token.as_deref(), Some("file-token"));
    // Without CODER_CONFIG_DIR: ~/.config/coderv2.
    let home_login = [("/home/u/.config/coderv2/url", "https://home.example")];
    let s = resolve(&[], &[("HOME", "/home/u")], &home_login).unwrap();
    assert_eq!(s.checks.access_url.unwrap().raw(), "https://home.example");
    // Nothing there: no access URL, no token.
    let s = resolve(&[], &env, &[]).unwrap();
    assert!(s.checks.access_url.is_none() && s.checks.token.is_none());
}

#[test]
fn thresholds_for_connections_pending_jobs_and_licenses() {
    let s = resolve(&[], &[], &[]).unwrap();
    assert_eq!(s.checks.db_connections_warning_percent, 80);
    assert_eq!(s.checks.job_pending_warning, Duration::from_secs(300));
    assert_eq!(
        s.checks.license_expiry_warning,
        Duration::from_secs(30 * 86_400)
    );
    let s = resolve(
        &[
            "--db-connections-warning",
            "90%",
            "--job-pending-warning",
            "90s",
            "--license-expiry-warning",
            "7d",
        ],
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(s.checks.db_connections_warning_percent, 90);
    assert_eq!(s.checks.job_pending_warning, Duration::from_secs(90));
    assert_eq!(
        s.checks.license_expiry_warning,
        Duration::from_secs(7 * 86_400)
    );
    let percent = |v: &str| {
        resolve(&["--db-connections-warning", v], &[], &[])
            .map(|s| s.checks.db_connections_warning_percent)
    };
    assert_eq!(percent("100"), Ok(100));
    assert_eq!(percent("1%"), Ok(1));
    for bad in ["0", "101%", "80 percent", "0.5", "%"] {
        let e = percent(bad).unwrap_err();
        assert!(
            e.starts_with("--db-connections-warning: invalid percentage")
                && e.contains("expected 1 to 100"),
            "{bad}: {e}"
        );
    }
    let e = resolve(&["--job-pending-warning", "soon"], &[], &[]).unwrap_err();
    assert!(
        e.starts_with("--job-pending-warning: invalid duration"),
        "{e}"
    );
    let e = resolve(&["--license-expiry-warning", "1month"], &[], &[]).unwrap_err();
    assert!(e.starts_with("--license-expiry-warning:"), "{e}");
}

#[test]
fn a_database_threshold_under_a_millisecond_is_refused_or_said() {
    let e = resolve(&["--health-check-threshold-database", "1us"], &[], &[]).unwrap_err();
    assert!(
        e.starts_with("--health-check-threshold-database: 1µs is under 1ms"),
        "{e}"
    );
    // In Coder's own configuration: judged as Coder judges it (15ms), and said.
    let file = [(ENV_FILE, "CODER_HEALTH_CHECK_THRESHOLD_DATABASE=500us\n")];
    let s = resolve(&[], &[], &file).unwrap();
    assert_eq!(s.checks.db_threshold, defaults::DB_THRESHOLD);
    assert_eq!(
        s.notes,
        ["CODER_HEALTH_CHECK_THRESHOLD_DATABASE in /etc/coder.d/coder.env is 500µs, under 1ms: \
          Coder compares whole milliseconds and uses its 15ms default instead, and so does this run"]
    );
    let s = resolve(
        &[],
        &[("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", "1ns")],
        &[],
    )
    .unwrap();
    assert_eq!(s.checks.db_threshold, defaults::DB_THRESHOLD);
    assert!(s.notes[0].starts_with("CODER_HEALTH_CHECK_THRESHOLD_DATABASE is 1ns"));
    assert!(resolve(&[], &[], &[]).unwrap().notes.is_empty());
    // Zero is Coder's "unset": its default.
    let s = resolve(&["--health-check-threshold-database", "0s"], &[], &[]).unwrap();
    assert_eq!(s.checks.db_threshold, defaults::DB_THRESHOLD);
    let s = resolve(&["--health-check-threshold-database", "1ms"], &[], &[]).unwrap();
    assert_eq!(s.checks.db_threshold, Duration::from_millis(1));
}

#[test]
fn every_default_parses_as_its_setting() {
    // Settings::default() resolves from nothing: every declared default went through its parser.
    let s = Settings::default();
    assert_eq!(
        s.checks.derp.stun_addresses.len(),
        defaults::STUN_ADDRESSES.len()
    );
    assert_eq!(s.checks.cert_expiry_warning, defaults::CERT_EXPIRY_WARNING);
    assert_eq!(s.output.docs_url, defaults::DOCS_URL);
    assert_eq!(s.output.fail_on, Severity::Error);
    assert_eq!(s.output.format, OutputFormat::Table);
}
