//! A real PgBouncer (Debian package `pgbouncer`) in front of a test PostgreSQL, in session or
//! transaction pooling mode, on a free loopback port. Clients log in with SCRAM as `coder`;
//! PgBouncer logs in to PostgreSQL with the same password.

use std::path::PathBuf;

use super::postgres::{chown, PgServer, PASSWORD, USER};
use super::{free_port, shell_quote, spawn_with_lifeline, temp_dir, wait_for_port};

/// PostgreSQL refuses to run as root, and so does PgBouncer.
const RUN_AS: &str = "postgres";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    Session,
    Transaction,
}

pub struct PgBouncer {
    pub port: u16,
    pub dir: PathBuf,
}

impl PgBouncer {
    /// Every database of `server`, pooled in `mode` (a pool of 2 server connections per
    /// database and user, so clients share them as on a busy deployment).
    pub fn start(server: &PgServer, mode: PoolMode) -> PgBouncer {
        let dir = temp_dir("hc-pgbouncer-");
        chown(&dir);
        let port = free_port();
        let mode = match mode {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        };
        let users = dir.join("userlist.txt");
        std::fs::write(&users, format!("\"{USER}\" \"{PASSWORD}\"\n")).unwrap();
        chown(&users);
        let log = dir.join("pgbouncer.log");
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = scram-sha-256\nauth_file = {}\npool_mode = {mode}\n\
                 default_pool_size = 2\nmax_client_conn = 100\n",
                server.port,
                users.display()
            ),
        )
        .unwrap();
        chown(&ini);
        std::fs::write(&log, "").unwrap();
        chown(&log);
        spawn_with_lifeline(
            &format!(
                "setpriv --reuid={RUN_AS} --regid={RUN_AS} --init-groups pgbouncer {}",
                shell_quote(&ini.display().to_string())
            ),
            &log,
        );
        wait_for_port(port, "pgbouncer", &log);
        PgBouncer { port, dir }
    }

    /// The DSN of `db` through this pooler.
    pub fn dsn(&self, db: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }
}
