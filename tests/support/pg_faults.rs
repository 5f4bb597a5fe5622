//! PostgreSQL as operators break it: a role whose password was changed under coderd, a
//! `pg_hba.conf` line that rejects a role, a server restarted with few connection slots and
//! clients holding them. Each on a server of its own or on a role of its own, so tests that
//! share a server do not see each other's faults.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::postgres::{PgOptions, PgServer};
use super::{shell_quote, spawn_with_lifeline};

/// A login role with `password` on `server`, owning nothing (the `coder` database is open to
/// every role for CONNECT).
pub fn create_role(server: &PgServer, role: &str, password: &str) {
    server
        .superuser()
        .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        .expect("create role");
}

/// What an operator does when rotating the password on the server but not in coderd's DSN.
pub fn change_password(server: &PgServer, role: &str, new_password: &str) {
    server
        .superuser()
        .batch_execute(&format!("ALTER ROLE {role} PASSWORD '{new_password}'"))
        .expect("change the password");
}

/// Puts `host all ROLE 127.0.0.1/32 reject` first in `pg_hba.conf` and reloads.
pub fn reject_in_hba(server: &PgServer, role: &str) {
    let path = server.dir.join("data/pg_hba.conf");
    let old = std::fs::read_to_string(&path).expect("read pg_hba.conf");
    std::fs::write(&path, format!("host all {role} 127.0.0.1/32 reject\n{old}")).unwrap();
    server
        .superuser()
        .batch_execute("SELECT pg_reload_conf()")
        .expect("reload");
    // The postmaster rereads the file on SIGHUP, asynchronously.
    std::thread::sleep(Duration::from_millis(300));
}

/// A fresh server whose `max_connections` is `slots` (3 of them reserved for superusers), and
/// `holders` connections as `coder` named `application_name` that keep the ordinary slots
/// busy for the life of the test.
pub fn server_out_of_slots(
    slots: u32,
    application_name: &str,
) -> (PgServer, Vec<postgres::Client>) {
    let server = PgServer::start(PgOptions::default());
    let data = server.dir.join("data");
    let bin = pg_bin_dir();
    // Stop the first postmaster (its lifeline then finds it gone) and start it again with
    // fewer slots.
    let stop = as_postgres(&format!(
        "{}/pg_ctl -D {} stop -m fast -w",
        bin.display(),
        shell_quote(&data.display().to_string())
    ))
    .output()
    .expect("pg_ctl stop");
    assert!(
        stop.status.success(),
        "pg_ctl stop: {}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let log = server.dir.join("postgres-restarted.log");
    std::fs::write(&log, "").unwrap();
    let _ = Command::new("chown")
        .arg("postgres:postgres")
        .arg(&log)
        .status();
    spawn_with_lifeline(
        &format!(
            "setpriv --reuid=postgres --regid=postgres --init-groups {}/postgres -D {} -c max_connections={slots}",
            bin.display(),
            shell_quote(&data.display().to_string())
        ),
        &log,
    );
    wait_ready(&server, &log);
    let mut holders = Vec::new();
    let ordinary = slots.saturating_sub(3);
    for _ in 0..ordinary {
        let client = postgres::Config::new()
            .host("127.0.0.1")
            .port(server.port)
            .user(super::postgres::USER)
            .password(super::postgres::PASSWORD)
            .dbname("coder")
            .application_name(application_name)
            .connect(postgres::NoTls)
            .expect("hold a connection slot");
        holders.push(client);
    }
    (server, holders)
}

fn wait_ready(server: &PgServer, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tried = postgres::Config::new()
            .host_path(&server.dir)
            .port(server.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls);
        match tried {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!(
                "PostgreSQL did not restart: {e}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn as_postgres(command: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "sh",
        "-c",
        command,
    ]);
    cmd
}

fn pg_bin_dir() -> std::path::PathBuf {
    let mut versions: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("pg_ctl").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL under /usr/lib/postgresql")
}
