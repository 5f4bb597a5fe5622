//! The database and provisioner checks beyond Coder's, against real components: a PgBouncer in
//! transaction and in session pooling mode (EPG01), a PostgreSQL with few connection slots
//! (EPG02), a streaming standby (EPG03), pending jobs against live and stale daemons in both
//! schema generations (EPQ01), licenses near and past expiry (ELIC01); and a fingerprint of every
//! table showing that a run writes nothing.

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::coder_schema::{CoderDb, Generation, Seen, JOB_INPUT_SECRET, LICENSE_JWT};
use support::pgbouncer::{PgBouncer, PoolMode};
use support::postgres::{PgOptions, PgServer, PASSWORD, USER};
use support::{healthcheck, run, run_json, warning_codes as codes, Output};

const SERVER_VERSION: &str = "v2.18.1";
/// Coder's tags of an untagged organization daemon or job.
const UNTAGGED: &str = r#"{"scope":"organization","owner":""}"#;
const MARS: &str = r#"{"scope":"organization","owner":"","region":"mars"}"#;

fn access_url() -> String {
    static PORT: OnceLock<u16> = OnceLock::new();
    let port = PORT.get_or_init(|| support::http::coder_like(SERVER_VERSION));
    format!("http://127.0.0.1:{port}")
}

fn check(only: &str, dsn: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--only", only, "--postgres-url", dsn, "--timeout", "3s"];
    let url = access_url();
    if only.contains("workspace-proxy") || only.contains("provisioner-daemons") {
        args.extend(["--access-url", &url]);
    }
    args.extend(extra);
    let out = run_json(&args);
    assert!(!out.all().contains(PASSWORD), "{}", out.all());
    out
}

/// The first diagnosis line: its code and its words.
fn first_cause(json: &Value) -> (String, String) {
    let d = &json["diagnosis"][0];
    // For the record (cargo test -- --nocapture): what an operator reads first.
    eprintln!("FIRST CAUSE: {} {}", d["code"], d["message"]);
    (
        d["code"].as_str().unwrap_or_default().to_string(),
        d["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn messages(section: &Value, code: &str) -> Vec<String> {
    section["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == code)
        .map(|w| w["message"].as_str().unwrap().to_string())
        .collect()
}

// ---- EPG01: pubsub through PgBouncer ----------------------------------------------------------

#[test]
fn transaction_pooling_breaks_pubsub_and_session_pooling_does_not() {
    let db = CoderDb::create("bc_pgbouncer", Generation::Newest);
    db.add_daemon("built-in", SERVER_VERSION, "1.0", Seen::SecondsAgo(5));
    let server = PgServer::shared();

    let direct = check("database", &db.dsn(), &[]);
    let json = direct.json();
    assert_eq!(
        codes(&json["database"]["warnings"]),
        Vec::<String>::new(),
        "{json}"
    );
    assert!(
        json["database"]["pubsub"]["round_trip_ms"].is_number(),
        "{json}"
    );

    let session = PgBouncer::start(server, PoolMode::Session);
    let out = check("database", &session.dsn(&db.name), &[]);
    let json = out.json();
    assert_eq!(json["database"]["severity"], "ok", "{json}");
    assert!(
        json["database"]["pubsub"]["round_trip_ms"].is_number(),
        "{json}"
    );
    assert_eq!(out.code, 0, "{}", out.stdout);

    let transaction = PgBouncer::start(server, PoolMode::Transaction);
    let dsn = transaction.dsn(&db.name);
    let out = check("database", &dsn, &[]);
    let json = out.json();
    let database = &json["database"];
    assert_eq!(codes(&database["warnings"]), ["EPG01"], "{json}");
    let epg01 = &messages(database, "EPG01")[0];
    assert!(
        epg01.starts_with("LISTEN/NOTIFY does not work through this DSN"),
        "{epg01}"
    );
    assert!(epg01.contains("PgBouncer in transaction"), "{epg01}");
    assert!(database["pubsub"]["error"].is_string(), "{json}");
    assert!(database["pubsub"].get("round_trip_ms").is_none(), "{json}");
    // Queries still work there: Coder's own check passes, and its verdict is Coder's.
    assert_eq!(database["healthy"], true);
    assert_eq!(database["severity"], "error");
    assert_eq!(json["healthy"], true);
    assert_eq!(json["severity"], "ok");
    assert_eq!(out.code, 1);
    let (code, cause) = first_cause(&json);
    assert_eq!(code, "EPG01", "{json}");
    assert!(cause.contains("pool_mode = session"), "{cause}");

    // The same finding in the other formats.
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "database",
        "--postgres-url",
        &dsn,
        "--timeout",
        "2s",
        "--format",
        "prometheus",
    ]);
    let prom = run(cmd).stdout;
    assert!(
        prom.contains(
            r#"coder_healthcheck_finding{section="database",code="EPG01",severity="error"} 1"#
        ),
        "{prom}"
    );
    assert!(
        prom.contains(r#"coder_healthcheck_db_connections{state="max"} 60"#),
        "{prom}"
    );
    assert!(
        !prom.contains("\ncoder_healthcheck_db_pubsub_round_trip_seconds "),
        "{prom}"
    );
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "database",
        "--postgres-url",
        &dsn,
        "--timeout",
        "2s",
        "--format",
        "junit",
    ]);
    let junit = run(cmd).stdout;
    assert!(junit.contains(r#"<failure type="EPG01""#), "{junit}");
    assert!(junit.contains("README.md#epg01"), "{junit}");

    // Our runs left nothing on the pooled server connections that Coder's clients get next: a
    // session setting there (such as default_transaction_read_only) would outlive us.
    let mut coder = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
    for _ in 0..6 {
        let rows = coder
            .simple_query("SHOW default_transaction_read_only")
            .unwrap();
        let value = rows.iter().find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        });
        assert_eq!(value.as_deref(), Some("off"));
    }
}

// ---- EPG02: connection headroom ---------------------------------------------------------------

/// Waits until the backends of earlier runs are gone (a backend leaves a moment after its
/// client), so each run counts only its own. `admin` stays open for the whole test: a session
/// of its own that closed just before a run would still hold its slot for a moment.
fn settle(admin: &mut postgres::Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'healthcheck%'",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(Instant::now() < deadline, "earlier runs still connected");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sessions held open as `coder` with an application name, as a busy client's pool would.
fn hold(server: &PgServer, admin: &mut postgres::Client, n: usize) -> Vec<postgres::Client> {
    settle(admin);
    (0..n)
        .map(|_| {
            // A slot a closed session held is free a moment after it leaves pg_stat_activity.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let attempt = postgres::Config::new()
                    .host("127.0.0.1")
                    .port(server.port)
                    .user(USER)
                    .password(PASSWORD)
                    .dbname("coder")
                    .application_name("hc-holder")
                    .connect(postgres::NoTls);
                match attempt {
                    Ok(client) => break client,
                    Err(e) if Instant::now() < deadline && e.code().is_some() => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => panic!("hold a connection: {e}"),
                }
            }
        })
        .collect()
}

#[test]
fn few_free_slots_warn_none_fail_and_a_refused_connect_names_53300() {
    // 12 slots, 2 reserved for superusers: 10 for everyone else.
    let server = PgServer::start(PgOptions {
        extra_conf: "max_connections = 12\nsuperuser_reserved_connections = 2\n",
        ..PgOptions::default()
    });
    let dsn = server.dsn("sslmode=disable");
    // A superuser session, counted among the slots in use (it takes a reserved one).
    let mut admin = server.superuser();

    let mut held = hold(&server, &mut admin, 6);
    let out = check("database", &dsn, &[]);
    let json = out.json();
    let database = &json["database"];
    assert_eq!(codes(&database["warnings"]), ["EPG02"], "{json}");
    let warning = &messages(database, "EPG02")[0];
    assert!(
        warning.starts_with("connection slots running out: "),
        "{warning}"
    );
    assert!(
        warning.contains("of 10 connection slots in use"),
        "{warning}"
    );
    assert!(warning.contains("hc-holder (coder) 6"), "{warning}");
    assert!(warning.contains("healthcheck (coder) 1"), "{warning}");
    assert_eq!(database["severity"], "warning");
    assert_eq!(database["connections"]["max"], 12);
    assert_eq!(database["connections"]["reserved"], 2);
    assert!(
        database["connections"]["used"].as_i64().unwrap() >= 8,
        "{json}"
    );
    assert_eq!(
        database["connections"]["top"][0]["name"],
        "hc-holder (coder)"
    );
    assert_eq!(database["connections"]["top"][0]["count"], 6);
    assert_eq!(out.code, 0, "a warning does not fail the run by default");
    // A lower bar is the user's to set.
    settle(&mut admin);
    let out = check("database", &dsn, &["--db-connections-warning", "95%"]);
    assert_eq!(
        codes(&out.json()["database"]["warnings"]),
        Vec::<String>::new()
    );

    // One slot left: the run's two connections (its own and the pubsub listener) take it and
    // find none; whichever comes second is refused.
    held.extend(hold(&server, &mut admin, 2));
    let out = check("database", &dsn, &[]);
    let json = out.json();
    let database = &json["database"];
    let errors = messages(database, "EPG02");
    assert_eq!(errors.len(), 1, "{json}");
    assert!(
        errors[0].starts_with("no connection slot left for a non-superuser: 10 of 10")
            || errors[0].contains("SQLSTATE 53300"),
        "{}",
        errors[0]
    );
    assert_eq!(database["severity"], "error");
    assert_eq!(out.code, 1);

    // Every non-superuser slot taken: the run's own connection is refused.
    held.extend(hold(&server, &mut admin, 1));
    let out = check("database", &dsn, &[]);
    let json = out.json();
    let database = &json["database"];
    assert!(
        database["error"].as_str().unwrap().starts_with("EDB01: "),
        "{json}"
    );
    let refused = &messages(database, "EPG02")[0];
    assert!(
        refused.starts_with("no connection slot left: "),
        "{refused}"
    );
    assert!(refused.contains("SQLSTATE 53300"), "{refused}");
    assert_eq!(out.code, 1);
    // One cause, the database's, which accounts for the headroom finding.
    assert_eq!(json["diagnosis"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        json["diagnosis"][0]["explains"],
        serde_json::json!(["EPG02"])
    );
    let (code, cause) = first_cause(&json);
    assert_eq!(code, "EDB01");
    assert!(cause.contains("out of connection slots"), "{cause}");
    drop(held);
}

// ---- EPG03: a standby -------------------------------------------------------------------------

#[test]
fn a_dsn_at_a_streaming_standby_is_epg03() {
    let db = CoderDb::create("bc_standby", Generation::Newest);
    db.add_daemon("built-in", SERVER_VERSION, "1.0", Seen::SecondsAgo(5));
    let standby = PgServer::shared().start_standby();
    let dsn = standby.dsn_for(USER, PASSWORD, &db.name, "sslmode=disable");
    let out = check("database,provisioner-daemons", &dsn, &[]);
    let json = out.json();
    let database = &json["database"];
    // A standby cannot LISTEN: EPG03 says why, no EPG01 beside it.
    assert_eq!(codes(&database["warnings"]), ["EPG03"], "{json}");
    let message = &messages(database, "EPG03")[0];
    assert!(
        message.starts_with("the DSN points at a standby"),
        "{message}"
    );
    assert!(
        message.contains(&format!("127.0.0.1:{}", standby.port)),
        "{message}"
    );
    assert!(database["pubsub"]["error"]
        .as_str()
        .unwrap()
        .contains("recovery"));
    // Reads work on the standby: the daemons are read from it.
    assert_eq!(json["provisioner_daemons"]["severity"], "ok", "{json}");
    assert_eq!(json["healthy"], true);
    assert_eq!(out.code, 1);
    let (code, cause) = first_cause(&json);
    assert_eq!(code, "EPG03", "{json}");
    assert!(cause.contains("needs the primary"), "{cause}");
}

// ---- EPQ01: builds that never start -----------------------------------------------------------

fn daemons_section(out: &Output) -> Value {
    out.json()["provisioner_daemons"].clone()
}

#[test]
fn pending_jobs_no_live_daemon_matches_are_an_error_naming_the_tags() {
    let db = CoderDb::create("bc_jobs_newest", Generation::Newest);
    db.add_tagged_daemon("pd-plain", SERVER_VERSION, UNTAGGED, Seen::SecondsAgo(3));
    // Has the tags, but stale: it takes nothing.
    db.add_tagged_daemon("pd-mars-stale", SERVER_VERSION, MARS, Seen::SecondsAgo(600));
    db.add_pending_job(MARS, 900);
    db.add_pending_job(MARS, 400);
    db.add_pending_job(UNTAGGED, 60); // young: not counted
    let out = check("provisioner-daemons", &db.dsn(), &[]);
    let pd = daemons_section(&out);
    assert_eq!(codes(&pd["warnings"]), ["EPQ01"], "{pd}");
    let message = &messages(&pd, "EPQ01")[0];
    assert!(
        message.starts_with("2 provisioner jobs not started after 5m0s (the oldest 15m0s): "),
        "{message}"
    );
    assert!(
        message.contains(
            r#"no live daemon has tags {"owner":"","scope":"organization","region":"mars"}"#
        ),
        "{message}"
    );
    assert!(
        message.ends_with("these builds will wait forever"),
        "{message}"
    );
    assert_eq!(pd["severity"], "error");
    let jobs = &pd["pending_jobs"];
    assert_eq!(jobs["count"], 2);
    assert_eq!(jobs["groups"][0]["matched"], false);
    assert_eq!(jobs["groups"][0]["tags"]["region"], "mars");
    assert!((899.0..905.0).contains(&jobs["oldest_age_seconds"].as_f64().unwrap()));
    assert_eq!(
        out.json()["healthy"],
        true,
        "ours never change Coder's verdict"
    );
    assert_eq!(out.code, 1);
    assert!(!out.all().contains(JOB_INPUT_SECRET));
    let (code, cause) = first_cause(&out.json());
    assert_eq!(code, "EPQ01");
    assert!(
        cause.starts_with("2 builds are waiting for a provisioner daemon that does not exist"),
        "{cause}"
    );
    assert!(
        cause.contains("(coder provisioner start --tag region=mars)"),
        "{cause}"
    );

    // A live daemon with the tags: the jobs could start, so the queue is only slow.
    db.add_tagged_daemon("pd-mars", SERVER_VERSION, MARS, Seen::SecondsAgo(2));
    let out = check("provisioner-daemons", &db.dsn(), &[]);
    let pd = daemons_section(&out);
    assert_eq!(pd["pending_jobs"]["groups"][0]["matched"], true, "{pd}");
    assert_eq!(pd["severity"], "warning", "{pd}");
    assert!(messages(&pd, "EPQ01")[0].contains("queue is slow"));
    assert_eq!(out.code, 0);

    // The threshold is the user's: the young job counts at 30s.
    let out = check(
        "provisioner-daemons",
        &db.dsn(),
        &["--job-pending-warning", "30s"],
    );
    assert_eq!(daemons_section(&out)["pending_jobs"]["count"], 3);
}

#[test]
fn an_untagged_job_wants_an_untagged_daemon_exactly() {
    // Coder's special case: a daemon with extra tags does not take untagged jobs.
    let db = CoderDb::create("bc_jobs_untagged", Generation::Newest);
    db.add_tagged_daemon("pd-mars", SERVER_VERSION, MARS, Seen::SecondsAgo(2));
    db.add_pending_job(UNTAGGED, 600);
    let pd = daemons_section(&check("provisioner-daemons", &db.dsn(), &[]));
    assert_eq!(pd["pending_jobs"]["groups"][0]["matched"], false, "{pd}");
    assert!(messages(&pd, "EPQ01")[0].contains("wait forever"));
}

#[test]
fn the_old_schema_matches_by_containment_and_says_what_it_cannot_compare() {
    let db = CoderDb::create("bc_jobs_old", Generation::Old);
    db.add_tagged_daemon(
        "pd-old",
        SERVER_VERSION,
        r#"{"scope":"organization"}"#,
        Seen::SecondsAgo(2),
    );
    db.add_pending_job(r#"{"scope":"organization"}"#, 600);
    db.add_pending_job(r#"{"scope":"organization","gpu":"yes"}"#, 700);
    let out = check("provisioner-daemons", &db.dsn(), &["--verbose"]);
    let pd = daemons_section(&out);
    let groups = pd["pending_jobs"]["groups"].as_array().unwrap();
    let matched = |gpu: bool| {
        groups
            .iter()
            .find(|g| g["tags"].get("gpu").is_some() == gpu)
            .unwrap()["matched"]
            .clone()
    };
    assert_eq!(matched(false), true, "{pd}");
    assert_eq!(matched(true), false, "{pd}");
    let notes = pd["pending_jobs"]["notes"].to_string();
    assert!(
        notes.contains("provisioner_daemons has no organization_id column"),
        "{notes}"
    );
    let message = &messages(&pd, "EPQ01")[0];
    assert!(message.contains(r#""gpu":"yes""#), "{message}");
}

#[test]
fn epd01_names_each_registered_daemon_and_when_it_was_last_seen() {
    let db = CoderDb::create("bc_epd01", Generation::Newest);
    db.add_daemon("built-in", SERVER_VERSION, "1.0", Seen::SecondsAgo(142));
    db.add_daemon("pd-never", SERVER_VERSION, "1.0", Seen::Never);
    let pd = daemons_section(&check("provisioner-daemons", &db.dsn(), &[]));
    let message = &messages(&pd, "EPD01")[0];
    assert!(
        message.starts_with(
            "No active provisioner daemons found! Registered but not seen within 1m30s: "
        ),
        "{message}"
    );
    assert!(message.contains("built-in last seen 2m2"), "{message}");
    assert!(message.contains("pd-never never connected"), "{message}");
}

// ---- ELIC01: license expiry -------------------------------------------------------------------

fn proxies_section(out: &Output) -> Value {
    out.json()["workspace_proxy"].clone()
}

#[test]
fn a_license_near_expiry_warns_and_an_expired_one_fails() {
    let db = CoderDb::create("bc_license", Generation::Newest);
    let out = check("workspace-proxy", &db.dsn(), &[]);
    let wp = proxies_section(&out);
    assert!(
        wp.get("license").is_none(),
        "no license is no finding: {wp}"
    );
    assert_eq!(wp["severity"], "ok");

    db.add_license(-40);
    db.add_license(10);
    let out = check("workspace-proxy", &db.dsn(), &[]);
    let wp = proxies_section(&out);
    assert_eq!(codes(&wp["warnings"]), ["ELIC01"], "{wp}");
    let message = &messages(&wp, "ELIC01")[0];
    assert!(
        message.starts_with("the Coder license expires on "),
        "{message}"
    );
    assert!(message.contains("(in 10 days)"), "{message}");
    assert_eq!(wp["severity"], "warning");
    assert!(
        (9..=10).contains(&wp["license"]["days_left"].as_i64().unwrap()),
        "{wp}"
    );
    assert!(wp["license"]["expires_at"].is_string());
    assert_eq!(out.code, 0);
    assert!(!out.all().contains(LICENSE_JWT));
    let out = check(
        "workspace-proxy",
        &db.dsn(),
        &["--license-expiry-warning", "5d"],
    );
    assert_eq!(proxies_section(&out)["warnings"], serde_json::json!([]));

    db.exec("DELETE FROM licenses WHERE exp > now()");
    let out = check("workspace-proxy", &db.dsn(), &["--fail-on", "error"]);
    let wp = proxies_section(&out);
    let message = &messages(&wp, "ELIC01")[0];
    assert!(
        message.starts_with("the Coder license has expired: the latest on "),
        "{message}"
    );
    assert!(message.contains("(40 days ago)"), "{message}");
    assert_eq!(wp["severity"], "error");
    assert_eq!(wp["healthy"], true, "Coder's own field stays Coder's");
    assert_eq!(out.json()["healthy"], true);
    assert_eq!(out.code, 1);
    assert!(!out.all().contains(LICENSE_JWT));
    let (code, cause) = first_cause(&out.json());
    assert_eq!(code, "ELIC01");
    assert!(
        cause.starts_with("the Coder license expired on "),
        "{cause}"
    );

    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--only",
        "workspace-proxy",
        "--postgres-url",
        &db.dsn(),
        "--format",
        "prometheus",
    ]);
    let prom = run(cmd).stdout;
    assert!(
        prom.contains("\ncoder_healthcheck_license_expiry_timestamp_seconds "),
        "{prom}"
    );
}

// ---- Nothing is written -----------------------------------------------------------------------

#[test]
fn a_run_with_every_new_check_writes_nothing() {
    for generation in [Generation::Newest, Generation::Old] {
        let name = format!("bc_nothing_written_{generation:?}").to_lowercase();
        let db = CoderDb::create(&name, generation);
        db.add_tagged_daemon("pd-a", SERVER_VERSION, UNTAGGED, Seen::SecondsAgo(2));
        db.add_pending_job(MARS, 900);
        db.add_license(10);
        let before = db.fingerprint();
        assert!(
            before
                .iter()
                .any(|l| l.starts_with("provisioner_jobs: 1 rows")),
            "{before:?}"
        );
        let out = check(
            "database,workspace-proxy,provisioner-daemons",
            &db.dsn(),
            &[],
        );
        let json = out.json();
        // Every new check ran.
        assert!(
            json["database"]["pubsub"]["round_trip_ms"].is_number(),
            "{json}"
        );
        assert!(
            json["database"]["connections"]["used"].is_number(),
            "{json}"
        );
        assert_eq!(
            json["provisioner_daemons"]["pending_jobs"]["count"], 1,
            "{json}"
        );
        assert!(
            json["workspace_proxy"]["license"]["days_left"].is_number(),
            "{json}"
        );
        assert_eq!(db.fingerprint(), before, "{generation:?}");
    }
}

#[test]
fn the_new_codes_are_explained_and_listed() {
    for code in ["EPG01", "EPG02", "EPG03", "EPQ01", "ELIC01"] {
        let mut cmd = healthcheck();
        cmd.args(["explain", &code.to_ascii_lowercase()]);
        let out = run(cmd);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.stdout.starts_with(code), "{}", out.stdout);
        assert!(
            out.stdout
                .contains(&format!("README.md#{}", code.to_ascii_lowercase())),
            "{}",
            out.stdout
        );
    }
    let mut cmd = healthcheck();
    cmd.args(["codes", "--json"]);
    let listed = run(cmd).stdout;
    for code in ["EPG01", "EPG02", "EPG03", "EPQ01", "ELIC01"] {
        assert!(listed.contains(&format!("\"{code}\"")), "{listed}");
    }
}

#[test]
fn bad_thresholds_are_usage_errors_naming_the_flag() {
    for (flag, value, expected) in [
        ("--db-connections-warning", "0", "1 to 100"),
        ("--db-connections-warning", "eighty", "1 to 100"),
        ("--db-connections-warning", "101%", "1 to 100"),
        ("--job-pending-warning", "soon", "--job-pending-warning"),
        (
            "--license-expiry-warning",
            "3 weeks",
            "--license-expiry-warning",
        ),
    ] {
        let mut cmd = healthcheck();
        cmd.args(["run", flag, value]);
        let out = run(cmd);
        assert_eq!(out.code, 2, "{flag} {value}: {}", out.all());
        assert!(out.stderr.contains(flag), "{flag} {value}: {}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{flag} {value}: {}",
            out.stderr
        );
    }
}
