//! Database section against a real PostgreSQL started by the harness: healthy, slow, every kind
//! of connection failure, every sslmode, DSN forms and sources, and the password never printed.

mod support;

use std::time::Duration;

use support::certs::TestCa;
use support::http::stall_server;
use support::postgres::{PgServer, PASSWORD, USER};
use support::tcp::delaying_proxy;
use support::{free_port, healthcheck, run, run_json, temp_dir};

fn database(args: &[&str]) -> (support::Output, serde_json::Value) {
    let mut all = vec!["--only", "database"];
    all.extend_from_slice(args);
    let out = run_json(&all);
    assert!(
        !out.all().contains(PASSWORD),
        "the password leaked:\n{}",
        out.all()
    );
    let json = out.json();
    (out, json["database"].clone())
}

fn error_of(section: &serde_json::Value) -> String {
    section["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn healthy_database_matches_coders_shape() {
    let pg = PgServer::shared();
    let (out, db) = database(&["--postgres-url", &pg.dsn("sslmode=disable")]);
    assert_eq!(db["severity"], "ok", "{db}");
    assert_eq!(db["healthy"], true);
    assert_eq!(db["reachable"], true);
    assert_eq!(db["threshold_ms"], 15);
    assert!(db["latency_ms"].as_u64().unwrap() < 15);
    assert!(db.get("error").is_none());
    assert_eq!(db["warnings"], serde_json::json!([]));
    assert_eq!(db["dismissed"], false);
    // Coder's key order, then our additive fields.
    let keys: Vec<&str> = db.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "severity",
            "warnings",
            "dismissed",
            "skipped",
            "duration_ms",
            "healthy",
            "reachable",
            "latency",
            "latency_ms",
            "threshold_ms",
            "dsn_source",
            "pubsub",
            "connections"
        ]
    );
    assert_eq!(db["dsn_source"], "--postgres-url");
    let latency = db["latency"].as_str().unwrap();
    assert!(
        latency.ends_with("µs") || latency.ends_with("ms"),
        "Go duration string: {latency}"
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn key_value_dsn_works() {
    let pg = PgServer::shared();
    let dsn = format!(
        "host=127.0.0.1 port={} user={USER} password='{PASSWORD}' dbname=coder sslmode=disable",
        pg.port
    );
    let (_, db) = database(&["--postgres-url", &dsn]);
    assert_eq!(db["severity"], "ok", "{db}");
}

#[test]
fn edb02_when_the_median_ping_is_slow() {
    let pg = PgServer::shared();
    // Every chunk the server sends is held back 20ms: each ping's answer arrives late.
    let slow_port = delaying_proxy(pg.port, Duration::from_millis(20));
    let dsn = format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{slow_port}/coder?sslmode=disable");
    let (out, db) = database(&["--postgres-url", &dsn]);
    assert_eq!(db["severity"], "warning", "{db}");
    assert_eq!(db["healthy"], true);
    assert_eq!(db["warnings"][0]["code"], "EDB02");
    assert!(db["latency_ms"].as_u64().unwrap() >= 15);
    assert_eq!(out.code, 0, "a warning does not fail the run by default");

    // A higher threshold (flag) clears it; --fail-on warning makes the warning fail the run.
    let (_, db) = database(&[
        "--postgres-url",
        &dsn,
        "--health-check-threshold-database",
        "1s",
    ]);
    assert_eq!(db["severity"], "ok", "{db}");
    assert_eq!(db["threshold_ms"], 1000);
    let (out, _) = database(&["--postgres-url", &dsn, "--fail-on", "warning"]);
    assert_eq!(out.code, 1);
}

#[test]
fn threshold_from_the_environment_and_its_floor() {
    let pg = PgServer::shared();
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "database"])
        .env("CODER_PG_CONNECTION_URL", pg.dsn("sslmode=disable"))
        .env("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", "500us");
    let out = run(cmd);
    // Under 1ms falls back to Coder's 15ms.
    assert_eq!(out.json()["database"]["threshold_ms"], 15, "{}", out.stdout);
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "database"])
        .env("CODER_PG_CONNECTION_URL", pg.dsn("sslmode=disable"))
        .env("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", "250ms");
    assert_eq!(run(cmd).json()["database"]["threshold_ms"], 250);
}

#[test]
fn edb01_wrong_password_says_authentication() {
    let pg = PgServer::shared();
    let wrong = "Wr0ng-Pa55word-zz";
    let dsn = pg.dsn_for(USER, wrong, "coder", "sslmode=disable");
    let (out, db) = database(&["--postgres-url", &dsn]);
    let error = error_of(&db);
    assert!(error.starts_with("EDB01: "), "{error}");
    assert!(error.contains("authentication failed"), "{error}");
    assert_eq!(db["reachable"], false);
    assert_eq!(db["latency"], "");
    assert_eq!(db["threshold_ms"], 15);
    assert!(!out.all().contains(wrong), "{}", out.all());
    assert_eq!(out.code, 1);
}

#[test]
fn edb01_connection_refused() {
    let dsn = format!(
        "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/coder",
        free_port()
    );
    let (_, db) = database(&["--postgres-url", &dsn]);
    assert!(error_of(&db).contains("connection refused"), "{db}");
}

#[test]
fn edb01_dns_failure() {
    let dsn = format!("postgres://{USER}:{PASSWORD}@no-such-db.invalid:5432/coder");
    let (_, db) = database(&["--postgres-url", &dsn]);
    assert!(error_of(&db).contains("DNS"), "{db}");
}

#[test]
fn edb01_stalled_server_ends_within_the_timeout() {
    let port = stall_server();
    let dsn = format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{port}/coder?sslmode=disable");
    let (out, db) = database(&["--postgres-url", &dsn, "--timeout", "1s"]);
    let error = error_of(&db);
    assert!(error.starts_with("EDB01: "), "{error}");
    assert!(error.contains("timed out"), "{error}");
    assert!(
        out.elapsed < Duration::from_millis(2_500),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn edb01_unparsable_dsn_names_the_problem_without_the_password() {
    let dsn = format!("postgres://{USER}:{PASSWORD}@127.0.0.1:notaport/coder");
    let (_, db) = database(&["--postgres-url", &dsn]);
    let error = error_of(&db);
    assert!(error.starts_with("EDB01: parse DSN"), "{error}");
    assert!(error.contains("invalid port"), "{error}");
    let (_, db) = database(&["--postgres-url", "postgres://h/db?sslmode=sometimes"]);
    assert!(error_of(&db).contains("invalid sslmode"), "{db}");
}

#[test]
fn no_database_is_skipped_not_ok() {
    let (out, db) = database(&[]);
    assert_eq!(db["skipped"], true);
    assert!(db["skip_reason"]
        .as_str()
        .unwrap()
        .contains("no database configured"));
    assert_eq!(db["healthy"], false);
    assert_eq!(out.code, 0);
}

#[test]
fn sslmode_require_against_a_server_without_tls() {
    let pg = PgServer::shared();
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=require")]);
    assert!(error_of(&db).contains("does not support TLS"), "{db}");
    // prefer falls back to plain, as libpq does.
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=prefer")]);
    assert_eq!(db["severity"], "ok", "{db}");
}

#[test]
fn sslmode_verify_full_and_verify_ca_with_sslrootcert() {
    // This server refuses plain connections, so each success was over TLS.
    let pg = PgServer::shared_tls_only();
    let ca = pg.ca_file.as_ref().unwrap().display().to_string();
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        let (_, db) = database(&[
            "--postgres-url",
            &pg.dsn(&format!("sslmode={mode}&sslrootcert={ca}")),
        ]);
        assert_eq!(db["severity"], "ok", "{mode}: {db}");
    }
}

#[test]
fn verify_ca_rejects_a_strangers_ca() {
    let pg = PgServer::shared_tls();
    let other = TestCa::new("a stranger's CA");
    let dir = temp_dir("hc-ca-");
    let stranger = other.write(&dir).display().to_string();
    // key=value form this time.
    let dsn = format!(
        "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=coder sslmode=verify-ca sslrootcert={stranger}",
        pg.port
    );
    let (_, db) = database(&["--postgres-url", &dsn]);
    let error = error_of(&db);
    assert!(error.starts_with("EDB01: "), "{error}");
    assert!(error.contains("unknown authority"), "{error}");
}

#[test]
fn verify_full_rejects_a_certificate_for_another_host() {
    // A server whose certificate names only db.example.com.
    let pg = PgServer::start_with_cert_names(&["db.example.com"]);
    let ca = pg.ca_file.as_ref().unwrap().display().to_string();
    let (_, db) = database(&[
        "--postgres-url",
        &pg.dsn(&format!("sslmode=verify-full&sslrootcert={ca}")),
    ]);
    assert!(
        error_of(&db).contains("not valid for this host name"),
        "{db}"
    );
    // verify-ca checks the chain only, as libpq does.
    let (_, db) = database(&[
        "--postgres-url",
        &pg.dsn(&format!("sslmode=verify-ca&sslrootcert={ca}")),
    ]);
    assert_eq!(db["severity"], "ok", "{db}");
}

#[test]
fn verify_full_without_a_root_certificate_says_so() {
    let pg = PgServer::shared_tls();
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=verify-full")]);
    assert!(error_of(&db).contains("needs a root certificate"), "{db}");
}

#[test]
fn require_with_a_root_certificate_verifies_the_chain() {
    let pg = PgServer::shared_tls_only();
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=require")]);
    assert_eq!(
        db["severity"], "ok",
        "require without a root certificate only encrypts: {db}"
    );
    let dir = temp_dir("hc-ca-");
    let stranger = TestCa::new("a stranger's CA")
        .write(&dir)
        .display()
        .to_string();
    let (_, db) = database(&[
        "--postgres-url",
        &pg.dsn(&format!("sslmode=require&sslrootcert={stranger}")),
    ]);
    assert!(
        error_of(&db).contains("unknown authority"),
        "libpq: require + sslrootcert = verify-ca: {db}"
    );
}

#[test]
fn hostaddr_is_where_we_connect() {
    let pg = PgServer::shared();
    let dsn = format!(
        "host=db.example.invalid hostaddr=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=coder sslmode=disable",
        pg.port
    );
    let (_, db) = database(&["--postgres-url", &dsn]);
    assert_eq!(db["severity"], "ok", "{db}");
}

#[test]
fn passwords_with_url_special_characters_never_leak() {
    let pg = PgServer::shared();
    // An unencoded '/' and '?' in a generated password: the DSN does not parse, and no piece of
    // the password may appear in the finding.
    let dsn = format!(
        "postgres://{USER}:gen/Pass?word-77@127.0.0.1:{}/coder",
        pg.port
    );
    let (out, db) = database(&["--postgres-url", &dsn]);
    assert!(error_of(&db).starts_with("EDB01: "), "{db}");
    for fragment in ["gen/Pass", "Pass?word", "word-77"] {
        assert!(
            !out.all().contains(fragment),
            "{fragment} leaked: {}",
            out.all()
        );
    }
    let dsn = format!(
        "host=127.0.0.1 port={} user={USER} password=two words-99",
        pg.port
    );
    let (out, _) = database(&["--postgres-url", &dsn]);
    assert!(!out.all().contains("words-99"), "{}", out.all());
}

#[test]
fn allow_retries_with_tls_and_disable_does_not() {
    let pg = PgServer::shared_tls_only();
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=allow")]);
    assert_eq!(db["severity"], "ok", "{db}");
    let (_, db) = database(&["--postgres-url", &pg.dsn("sslmode=disable")]);
    let error = error_of(&db);
    assert!(
        error.contains("authentication failed") || error.contains("pg_hba"),
        "{error}"
    );
}

#[test]
fn dsn_from_env_file_and_from_discovery() {
    let pg = PgServer::shared();
    let dir = temp_dir("hc-envfile-");
    let env_file = dir.join("coder.env");
    std::fs::write(
        &env_file,
        format!(
            "# Coder\nexport CODER_PG_CONNECTION_URL=\"{}\"\n",
            pg.dsn("sslmode=disable")
        ),
    )
    .unwrap();
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "database", "--env-file"])
        .arg(&env_file);
    let out = run(cmd);
    assert!(
        out.stdout.contains("database from env file"),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains(PASSWORD));
    assert_eq!(out.code, 0, "{}", out.stdout);

    // The built-in PostgreSQL of `coder server`: password and port in the config dir. Point it
    // at our server by giving the coder role the discovered password.
    let config = temp_dir("hc-coderv2-");
    std::fs::create_dir_all(config.join("postgres")).unwrap();
    std::fs::write(config.join("postgres/password"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(config.join("postgres/port"), pg.port.to_string()).unwrap();
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "database"])
        .env("CODER_CONFIG_DIR", &config);
    let out = run(cmd);
    assert!(
        out.stdout.contains("discovered built-in PostgreSQL"),
        "{}",
        out.stdout
    );
    assert!(!out.all().contains(PASSWORD));
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn verbose_table_lists_each_ping() {
    let pg = PgServer::shared();
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--verbose",
        "--only",
        "database",
        "--postgres-url",
        &pg.dsn(""),
    ]);
    let out = run(cmd);
    for i in 1..=5 {
        assert!(
            out.stdout.contains(&format!("ping {i}: ")),
            "{}",
            out.stdout
        );
    }
    assert!(!out.all().contains(PASSWORD));
}

#[test]
fn search_path_and_options_from_the_dsn_reach_the_server() {
    use healthcheck::net::postgres::Dsn;
    let pg = PgServer::shared();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // Coder's docs put a custom schema in the DSN as search_path.
    let dsn = Dsn::parse(&pg.dsn("sslmode=disable&search_path=coder_schema")).unwrap();
    let mut client = dsn.connect(deadline).unwrap();
    let row = client.query_one("SHOW search_path", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "coder_schema");
    let dsn = Dsn::parse(&pg.dsn("sslmode=disable&options=-c%20work_mem%3D7MB")).unwrap();
    let mut client = dsn.connect(deadline).unwrap();
    let row = client.query_one("SHOW work_mem", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "7MB");
}

#[test]
fn reads_refuse_to_write() {
    use healthcheck::coder_db::CoderDb;
    use healthcheck::report::database::SettingSource;
    use healthcheck::settings::DsnSetting;
    let pg = PgServer::shared();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let setting = DsnSetting {
        dsn: pg.dsn("sslmode=disable"),
        source: SettingSource::Flag,
    };
    let mut db = CoderDb::connect(&setting, deadline).unwrap();
    let err = db
        .read(deadline, |r| {
            r.statements("CREATE TABLE must_not_exist (id int)")
        })
        .unwrap_err();
    // SQLSTATE 25006: read_only_sql_transaction.
    assert!(err.to_string().contains("25006"), "{err}");
    // The session itself is left as it was (a pooler hands it to Coder next): writes outside
    // our transactions are not refused.
    let mut plain = postgres::Client::connect(&setting.dsn, postgres::NoTls).unwrap();
    let row = plain
        .query_one("SHOW default_transaction_read_only", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
}
