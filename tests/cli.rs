//! The command-line contract: exit codes, usage errors, explain/codes, colour, dismissal, and
//! generated files that must match the clap definition.

mod support;

use support::http::{coder_like, fixed_server, path_of, response};
use support::{healthcheck, run, run_json, temp_dir};

fn cli(args: &[&str]) -> support::Output {
    let mut cmd = healthcheck();
    cmd.args(args);
    run(cmd)
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    for (args, expect) in [
        (&["run", "--bogus"][..], "--bogus"),
        (&["run", "--timeout", "5x"], "invalid duration"),
        (&["run", "--timeout", "0s"], "greater than zero"),
        (&["run", "--only", "pubsub"], "unknown section"),
        (&["run", "--derp-server-enable", "maybe"], "invalid boolean"),
        (
            &["run", "--env-file", "/nonexistent/coder.env"],
            "cannot read env file",
        ),
        (&["run", "--ca-cert", "/nonexistent/ca.pem"], "--ca-cert"),
        (
            &["run", "--derp-config-path", "/nonexistent/derp.json"],
            "cannot read DERP map file",
        ),
        (
            &["run", "--derp-server-stun-addresses", "nohostport"],
            "host:port",
        ),
        (&["explain", "EXYZ99"], "unknown code"),
        (
            &["run", "--health-check-threshold-database", "1us"],
            "is under 1ms",
        ),
        (
            &["run", "--db-connections-warning", "0%"],
            "expected 1 to 100",
        ),
        (
            &["run", "--http-address", ":99999"],
            "port 99999 is out of range (1-65535)",
        ),
        (
            &["run", "--http-address", "unix:/x.sock:80"],
            "a socket path is not a listen address",
        ),
        (
            &["run", "--tls-address", "https://127.0.0.1:3443"],
            "a URL is not a listen address",
        ),
    ] {
        let out = cli(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

#[test]
fn bad_duration_from_the_environment_is_a_usage_error() {
    let mut cmd = healthcheck();
    cmd.args(["run"]).env("HEALTHCHECK_TIMEOUT", "soon");
    let out = run(cmd);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("invalid duration"));
}

#[test]
fn explain_reads_the_catalogue_in_any_case() {
    let out = cli(&["explain", "edb02"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.starts_with("EDB02: Database ping slow"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Solution:"));
    assert!(out
        .stdout
        .contains("https://coder.com/docs/admin/monitoring/health-check#edb02"));
    let out = cli(&[
        "explain",
        "EWS03",
        "--docs-url",
        "https://docs.internal/coder",
    ]);
    assert!(out
        .stdout
        .contains("https://docs.internal/coder/admin/monitoring/health-check#ews03"));
}

#[test]
fn codes_lists_coders_twenty_and_our_ten() {
    let out = cli(&["codes", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let codes: Vec<&str> = list.iter().map(|c| c["code"].as_str().unwrap()).collect();
    for code in [
        "EACS01", "EACS02", "EACS03", "EACS04", "EDB01", "EDB02", "EWS01", "EWS02", "EWS03",
        "EDERP01", "EDERP02", "ESTUN01", "ESTUN02", "EWP01", "EWP02", "EWP04", "EPD01", "EPD02",
        "EPD03", "EUNKNOWN", "ETLS01", "ETLS02", "ELST01", "ELST02", "EURL01", "EPG01", "EPG02",
        "EPG03", "EPQ01", "ELIC01",
    ] {
        assert!(codes.contains(&code), "{code} missing");
    }
    assert_eq!(codes.len(), 30);
    let text = cli(&["codes"]);
    assert_eq!(text.stdout.lines().count(), 30);
    // Ours link to our README, Coder's to Coder's docs.
    let docs = |code: &str| {
        list.iter().find(|c| c["code"] == code).unwrap()["docs_url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        docs("ETLS01").ends_with("README.md#etls01"),
        "{}",
        docs("ETLS01")
    );
    assert!(docs("ELST02").ends_with("README.md#elst02"));
    assert!(docs("EACS03").starts_with("https://coder.com/docs/"));
    let explained = cli(&["explain", "etls01"]);
    assert_eq!(explained.code, 0);
    assert!(
        explained
            .stdout
            .starts_with("ETLS01: TLS certificate expires soon"),
        "{}",
        explained.stdout
    );
    assert!(explained.stdout.contains("Section:  certificates"));
    let man = cli(&["man"]);
    for code in ["ETLS01", "ETLS02", "ELST01", "ELST02", "EURL01"] {
        assert!(
            man.stdout.contains(&format!("\\fB{code}\\fR")),
            "{code} not in the man page"
        );
    }
}

#[test]
fn json_output_is_only_json_and_has_coders_top_level_shape() {
    let port = coder_like("v2.18.1");
    let out = run_json(&["--access-url", &format!("http://127.0.0.1:{port}")]);
    let json = out.json();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "time",
            "healthy",
            "severity",
            "derp",
            "access_url",
            "websocket",
            "database",
            "workspace_proxy",
            "provisioner_daemons",
            "certificates",
            "coder_version",
            "healthcheck_version",
            "diagnosis"
        ]
    );
    assert!(time::OffsetDateTime::parse(
        json["time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    // Access URL keys in Coder's order, additive fields after Coder's base fields.
    let access: Vec<&str> = json["access_url"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        access,
        [
            "severity",
            "warnings",
            "dismissed",
            "skipped",
            "duration_ms",
            "healthy",
            "access_url",
            "reachable",
            "status_code",
            "healthz_response"
        ]
    );
    // No database is configured: those sections are skipped, say why, and never claim health.
    for section in ["database", "workspace_proxy", "provisioner_daemons"] {
        assert_eq!(json[section]["skipped"], true, "{section}");
        assert!(
            json[section]["skip_reason"]
                .as_str()
                .unwrap()
                .starts_with("no database configured"),
            "{section}"
        );
        assert_ne!(json[section]["healthy"], true, "{section}");
    }
}

#[test]
fn dismissed_section_changes_only_the_exit_code() {
    let port = fixed_server(|_| response("503 Service Unavailable", &[], "down"));
    let url = format!("http://127.0.0.1:{port}");
    let out = run_json(&["--only", "access-url", "--access-url", &url]);
    assert_eq!(out.code, 1);
    let out = run_json(&[
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--dismiss",
        "access-url",
    ]);
    let json = out.json();
    assert_eq!(json["access_url"]["dismissed"], true);
    assert_eq!(json["healthy"], false, "Coder's verdict is kept");
    assert_eq!(json["severity"], "warning");
    assert_eq!(out.code, 0);

    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "access-url",
        "--access-url",
        &url,
        "--dismiss",
        "access-url",
    ]);
    let table = run(cmd);
    assert!(table.stdout.contains("DISMISSED"), "{}", table.stdout);
}

#[test]
fn table_has_rows_remediation_and_verdict() {
    let out = cli(&["run", "--only", "access-url"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("Access URL"));
    assert!(out.stdout.contains("EACS01"));
    assert!(out.stdout.contains("SKIPPED"));
    assert!(out.stdout.contains("Solution:"));
    assert!(out.stdout.contains("#eacs01"));
    assert!(
        out.stdout.trim_end().ends_with("UNHEALTHY"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains('\u{1b}'),
        "NO_COLOR is set: no escapes"
    );
}

#[test]
fn colour_follows_flag_and_environment() {
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url", "--color", "always"]);
    assert!(run(cmd).stdout.contains('\u{1b}'));
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1");
    assert!(run(cmd).stdout.contains('\u{1b}'));
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url", "--color", "never"])
        .env("CLICOLOR_FORCE", "1");
    assert!(!run(cmd).stdout.contains('\u{1b}'));
}

#[test]
fn access_url_from_env_and_env_file_with_flag_winning() {
    let good = coder_like("v2.18.1");
    let dir = temp_dir("hc-env-");
    let env_file = dir.join("coder.env");
    std::fs::write(&env_file, "CODER_ACCESS_URL='http://127.0.0.1:1'\n").unwrap();

    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url", "--env-file"])
        .arg(&env_file);
    assert_eq!(
        run(cmd).json()["access_url"]["access_url"],
        "http://127.0.0.1:1"
    );

    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url", "--env-file"])
        .arg(&env_file)
        .env("CODER_ACCESS_URL", format!("http://127.0.0.1:{good}"));
    let out = run(cmd);
    assert_eq!(
        out.json()["access_url"]["severity"],
        "ok",
        "env beats env file"
    );

    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url", "--access-url"])
        .arg(format!("http://127.0.0.1:{good}/x"))
        .env("CODER_ACCESS_URL", "http://127.0.0.1:1");
    let out = run(cmd);
    assert_eq!(
        out.json()["access_url"]["access_url"],
        format!("http://127.0.0.1:{good}/x"),
        "flag beats env"
    );
}

#[test]
fn token_is_never_printed() {
    let token = "sEcReT-session-token-123";
    // A server that mirrors every request back, so a token sent anywhere would come back in
    // bodies and findings.
    let port = fixed_server(|head| response("400 Bad Request", &[("Server", "mirror")], head));
    for json in [true, false] {
        let mut cmd = healthcheck();
        cmd.args(["run", "--access-url", &format!("http://127.0.0.1:{port}")])
            .args(["--token", token, "--verbose", "--timeout", "2s"])
            .args(["--derp-server-stun-addresses", "disable"]);
        if json {
            cmd.arg("--json");
        }
        let out = run(cmd);
        assert!(!out.all().contains(token), "{}", out.all());
        // The mirror's answers did reach the report (the test can see a leak).
        assert!(
            out.all().contains("mirror") || out.all().contains("GET /"),
            "{}",
            out.all()
        );
    }
    let help = cli(&["run", "--help"]);
    assert!(help.stdout.contains("CODER_SESSION_TOKEN"));
    let mut cmd = healthcheck();
    cmd.args(["run", "--help"])
        .env("CODER_SESSION_TOKEN", token);
    assert!(
        !run(cmd).all().contains(token),
        "--help must not show the token"
    );
}

#[test]
fn committed_completions_and_man_pages_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for shell in healthcheck::generated::SHELLS {
        let file = root
            .join("completions")
            .join(healthcheck::generated::completion_file(shell));
        let committed = std::fs::read(&file).unwrap_or_default();
        assert!(
            committed == healthcheck::generated::completion(shell),
            "{} is stale: run `scripts/generate`",
            file.display()
        );
    }
    for (name, contents) in healthcheck::generated::man_pages() {
        let file = root.join("man").join(&name);
        let committed = std::fs::read(&file).unwrap_or_default();
        assert!(
            committed == contents,
            "{} is stale: run `scripts/generate`",
            file.display()
        );
    }
    let page = String::from_utf8(healthcheck::generated::man_pages()[0].1.clone()).unwrap();
    assert!(page.contains("DIAGNOSTIC CODES") && page.contains("EPD03"));
}

/// Every page renders without a troff warning at a usual and at a narrow width (a word troff
/// cannot break, such as a long comma-joined default, warns and fails scripts/check-package).
#[test]
fn man_pages_render_without_warnings_at_any_width() {
    use std::io::Write;
    for (name, contents) in healthcheck::generated::man_pages() {
        for width in ["80", "60"] {
            let mut child = std::process::Command::new("man")
                .args(["-l", "-"])
                .env("MANWIDTH", width)
                .env("MANPAGER", "cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("man (man-db) is installed by scripts/setup");
            child.stdin.take().unwrap().write_all(&contents).unwrap();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "man {name} at MANWIDTH={width}: {stderr}"
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("NAME"));
        }
    }
}

#[test]
fn man_and_completions_commands_write_the_same_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = temp_dir("hc-man-");
    let out = cli(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut committed: Vec<String> = std::fs::read_dir(root.join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    assert_eq!(written, committed);
    for name in &written {
        assert!(
            std::fs::read(dir.join(name)).unwrap()
                == std::fs::read(root.join("man").join(name)).unwrap(),
            "`healthcheck man --dir` wrote a different {name} than man/ holds"
        );
    }
    let out = cli(&["man"]);
    assert_eq!(
        out.stdout.as_bytes(),
        std::fs::read(root.join("man/healthcheck.1")).unwrap()
    );
    for shell in healthcheck::generated::SHELLS {
        let out = cli(&["completions", &shell.to_string()]);
        assert_eq!(out.code, 0);
        let file = root
            .join("completions")
            .join(healthcheck::generated::completion_file(shell));
        assert!(
            out.stdout.as_bytes() == std::fs::read(&file).unwrap(),
            "`healthcheck completions {shell}` differs from {}",
            file.display()
        );
    }
}

/// Runs `healthcheck ARGS` on a pseudo-terminal (util-linux `script`) and returns what the
/// terminal showed.
fn on_a_terminal(args: &str) -> String {
    // `script` passes on the command's exit status: these runs have findings, so 1.
    on_a_terminal_exiting(args, 1)
}

/// As [`on_a_terminal`], for a command that exits with `status`.
fn on_a_terminal_exiting(args: &str, status: i32) -> String {
    let dir = temp_dir("hc-pty-");
    let log = dir.join("typescript");
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_healthcheck"));
    let mut cmd = healthcheck();
    cmd.env_remove("CI")
        .env_remove("NO_COLOR")
        .args(["-q", "-e", "-c", &command])
        .arg(&log);
    let mut script = std::process::Command::new("script");
    script.args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => script.env(key, v),
            None => script.env_remove(key),
        };
    }
    let status_wanted = status;
    let status = script
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run script");
    assert_eq!(status.code(), Some(status_wanted), "{args}");
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

#[test]
fn spinner_and_colour_only_on_a_terminal() {
    let shown = on_a_terminal("run --only access-url,database --timeout 1s");
    assert!(shown.contains("checking Access URL"), "{shown}");
    // Sections run together: the spinner counts them (the database one is skipped at once).
    assert!(shown.contains("(6 of 7 done)"), "{shown}");
    assert!(shown.contains('\u{1b}'), "colour on a terminal");
    let json = on_a_terminal("run --json --only access-url --timeout 1s");
    assert!(!json.contains("checking"), "no spinner with --json: {json}");
    assert!(json.contains("\"access_url\""));
    // Not a terminal (the other tests): no spinner on stderr.
    let out = cli(&["run", "--only", "access-url"]);
    assert!(!out.stderr.contains("checking"), "{}", out.stderr);
}

#[test]
fn secrets_that_look_like_json_words_do_not_break_the_json() {
    // A password equal to a key or a literal of the report must not rewrite them.
    for password in ["database", "true", "coder_version"] {
        let dsn = format!("postgres://coder:{password}@127.0.0.1:1/coder?sslmode=disable");
        let out = run_json(&["--only", "database", "--postgres-url", &dsn]);
        let json = out.json();
        assert!(json["database"].is_object(), "{password}: {}", out.stdout);
        assert!(json["healthy"].is_boolean(), "{password}");
        assert!(json.get("coder_version").is_some(), "{password}");
    }
}

#[test]
fn server_supplied_text_cannot_inject_terminal_escapes() {
    let port = fixed_server(|head| {
        if path_of(head) == "/api/v2/buildinfo" {
            response("200 OK", &[], "{\"version\":\"v2.18.1\\u001b[31mEVIL\"}")
        } else {
            response(
                "500 Internal Server Error",
                &[("Server", "bad\u{7}bell")],
                "\u{1b}[2Jwiped",
            )
        }
    });
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url", "--color", "never"])
        .arg("--access-url")
        .arg(format!("http://127.0.0.1:{port}"));
    let out = run(cmd);
    assert!(out.stdout.contains("EVIL"), "{}", out.stdout);
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
    assert!(!out.stdout.contains('\u{7}'), "{}", out.stdout);
}

/// `coder login`'s config directory is the last place the access URL and token come from; the
/// header says so, and a flag still wins.
#[test]
fn coder_login_supplies_url_and_token_and_a_flag_still_wins() {
    let good = coder_like("v2.18.1");
    let config = temp_dir("hc-login-");
    let token = "Lgn-sEss10n-t0ken-77";
    std::fs::write(config.join("url"), format!("http://127.0.0.1:{good}\n")).unwrap();
    std::fs::write(config.join("session"), format!("{token}\n")).unwrap();

    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "access-url"])
        .env("CODER_CONFIG_DIR", &config);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}", out.all());
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains(&format!("http://127.0.0.1:{good} (from coder login)")),
        "{header}"
    );
    assert!(!out.all().contains(token));

    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url", "--access-url"])
        .arg("http://127.0.0.1:1")
        .env("CODER_CONFIG_DIR", &config);
    assert_eq!(
        run(cmd).json()["access_url"]["access_url"],
        "http://127.0.0.1:1",
        "the flag beats coder login"
    );
}

/// `healthcheck man` on a terminal says how to read the page; into a pipe it writes roff alone.
#[test]
fn man_on_a_terminal_hints_how_to_read_it() {
    let shown = on_a_terminal_exiting("man", 0);
    assert!(shown.contains("| man -l -"), "{shown}");
    assert!(shown.contains(".TH healthcheck 1"));
    let piped = cli(&["man"]);
    assert_eq!(piped.code, 0);
    assert!(piped.stderr.is_empty(), "{}", piped.stderr);
}

/// `codes` keeps its columns aligned whatever the length of a code (EUNKNOWN has eight letters).
#[test]
fn codes_are_listed_in_aligned_columns() {
    let out = cli(&["codes"]);
    let starts: std::collections::BTreeSet<usize> = out
        .stdout
        .lines()
        .map(|line| {
            let code_end = line.find(' ').unwrap();
            code_end + line[code_end..].find(|c: char| c != ' ').unwrap()
        })
        .collect();
    assert_eq!(starts.len(), 1, "the section column starts at {starts:?}");
    assert!(out.stdout.contains("EUNKNOWN"));
}

/// Our own codes link to the project's repository, and name the README the package installs.
#[test]
fn our_codes_link_to_the_repository_and_name_the_installed_readme() {
    let out = cli(&["explain", "ETLS01"]);
    let docs = out.stdout.lines().find(|l| l.starts_with("Docs:")).unwrap();
    assert!(
        docs.contains(&format!(
            "{}/blob/main/README.md#etls01",
            env!("CARGO_PKG_REPOSITORY")
        )),
        "{docs}"
    );
    assert!(docs.contains("https://"), "{docs}");
    assert!(out
        .stdout
        .contains("Offline:  /usr/share/doc/healthcheck/README.md"));
    // Coder's codes link to Coder's docs only.
    assert!(!cli(&["explain", "EACS03"]).stdout.contains("Offline:"));
}

/// Completion offers the section names after --only, --skip and --dismiss.
#[test]
fn completions_offer_section_names() {
    let bash = String::from_utf8(healthcheck::generated::completion(
        clap_complete::Shell::Bash,
    ))
    .unwrap();
    for flag in ["--only", "--skip", "--dismiss"] {
        let case = bash
            .split(&format!("                {flag})"))
            .nth(1)
            .unwrap_or_else(|| panic!("{flag} has no case in the bash completion"));
        let case = &case[..case.find(";;").unwrap()];
        assert!(
            case.contains("access-url websocket database derp"),
            "{flag}: {case}"
        );
    }
}

/// An access URL typed without its scheme gets the URL it most likely means.
#[test]
fn an_access_url_without_a_scheme_gets_a_suggestion() {
    let out = run_json(&["--only", "access-url", "--access-url", "localhost:37699"]);
    let error = out.json()["access_url"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.starts_with("EACS02: "), "{error}");
    assert!(
        error.ends_with("did you mean http://localhost:37699?"),
        "{error}"
    );
}

/// A database threshold under 1 ms in Coder's own configuration is judged as Coder judges it
/// (15 ms), and the run says so on stderr; typed as a flag it is a usage error (see above).
#[test]
fn a_sub_millisecond_threshold_from_coders_configuration_is_noted() {
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "access-url"])
        .env("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", "500us");
    let out = run(cmd);
    assert_eq!(
        out.json()["access_url"]["severity"],
        "error",
        "the run goes on"
    );
    assert!(
        out.stderr.contains(
            "healthcheck: note: CODER_HEALTH_CHECK_THRESHOLD_DATABASE is 500µs, under 1ms"
        ),
        "{}",
        out.stderr
    );
}
