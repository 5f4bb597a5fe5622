//! A real PostgreSQL server per test binary: initdb in a temp dir, a free port on loopback,
//! password (SCRAM) authentication over TCP, and optionally TLS with a generated CA.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::certs::TestCa;
use super::{free_port, shell_quote, spawn_with_lifeline, temp_dir};

/// The login every test uses; tests grep output for the password.
pub const USER: &str = "coder";
pub const PASSWORD: &str = "hc-Secret-Pa55word";

/// PostgreSQL refuses to run as root; Debian's package creates this user.
const RUN_AS: &str = "postgres";

pub struct PgServer {
    pub port: u16,
    pub dir: PathBuf,
    /// Present for TLS servers: the CA that signed the server certificate.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Default)]
pub struct PgOptions {
    pub tls: bool,
    /// Refuse unencrypted TCP connections (for `allow`/`disable` tests).
    pub tls_only: bool,
    /// Names in the server certificate; empty means localhost and 127.0.0.1.
    pub cert_names: &'static [&'static str],
    /// Extra postgresql.conf lines (later lines win), e.g. a low max_connections.
    pub extra_conf: &'static str,
}

impl PgServer {
    /// A plain server shared by the tests of one binary.
    pub fn shared() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(|| PgServer::start(PgOptions::default()))
    }

    /// A TLS server (certificate for `localhost` and 127.0.0.1) that also accepts plain TCP.
    pub fn shared_tls() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            PgServer::start(PgOptions {
                tls: true,
                ..PgOptions::default()
            })
        })
    }

    pub fn start(options: PgOptions) -> PgServer {
        let bin = pg_bin_dir();
        let dir = temp_dir("hc-pg-");
        chown(&dir);
        let data = dir.join("data");
        let status = as_postgres(&format!(
            "{}/initdb -D {} -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync",
            bin.display(),
            shell_quote(&data.display().to_string())
        ))
        .output()
        .expect("run initdb");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let port = free_port();
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\n\
             shared_buffers = 16MB\n",
            dir.display()
        );
        let mut ca_file = None;
        if options.tls {
            let ca = TestCa::new("healthcheck test CA");
            let names = if options.cert_names.is_empty() {
                &["localhost", "127.0.0.1"][..]
            } else {
                options.cert_names
            };
            let leaf = ca.leaf(names);
            std::fs::write(data.join("server.crt"), leaf.cert_pem).unwrap();
            std::fs::write(data.join("server.key"), leaf.key_pem).unwrap();
            let _ = Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key"))
                .status();
            chown(&data.join("server.crt"));
            chown(&data.join("server.key"));
            ca_file = Some(ca.write(&dir));
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        conf.push_str(options.extra_conf);
        append(&data.join("postgresql.conf"), &conf);
        let hba = if options.tls_only {
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 reject\n"
        } else {
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        };
        // pg_basebackup over the socket, for a streaming standby.
        let hba = format!("{hba}local replication all trust\n");
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        chown(&data.join("pg_hba.conf"));

        let log = dir.join("postgres.log");
        std::fs::write(&log, "").unwrap();
        chown(&log);
        spawn_with_lifeline(
            &format!(
                "setpriv --reuid={RUN_AS} --regid={RUN_AS} --init-groups {}/postgres -D {}",
                bin.display(),
                shell_quote(&data.display().to_string())
            ),
            &log,
        );
        let server = PgServer { port, dir, ca_file };
        server.wait_ready(&log);
        let mut admin = server.superuser();
        admin
            .batch_execute(&format!("CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"))
            .expect("create the coder role");
        admin
            .batch_execute(&format!("CREATE DATABASE coder OWNER {USER}"))
            .expect("create the coder database");
        server
    }

    /// A TLS server that refuses unencrypted TCP: a success through it proves TLS was used.
    pub fn shared_tls_only() -> &'static PgServer {
        static SERVER: OnceLock<PgServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            PgServer::start(PgOptions {
                tls: true,
                tls_only: true,
                ..PgOptions::default()
            })
        })
    }

    /// A TLS server whose certificate carries only the given names.
    pub fn start_with_cert_names(names: &'static [&'static str]) -> PgServer {
        PgServer::start(PgOptions {
            tls: true,
            cert_names: names,
            ..PgOptions::default()
        })
    }

    /// A streaming standby of this server (pg_basebackup -R), on a port of its own: it stays in
    /// recovery and refuses writes, as a read replica does.
    pub fn start_standby(&self) -> PgServer {
        let bin = pg_bin_dir();
        let dir = temp_dir("hc-pg-standby-");
        chown(&dir);
        let data = dir.join("data");
        let out = as_postgres(&format!(
            "{}/pg_basebackup -h {} -p {} -U postgres -D {} -R -X stream -c fast --no-sync",
            bin.display(),
            shell_quote(&self.dir.display().to_string()),
            self.port,
            shell_quote(&data.display().to_string())
        ))
        .output()
        .expect("run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = dir.join("postgres.log");
        std::fs::write(&log, "").unwrap();
        chown(&log);
        spawn_with_lifeline(
            &format!(
                "setpriv --reuid={RUN_AS} --regid={RUN_AS} --init-groups {}/postgres -D {} \
                 -c port={port} -c unix_socket_directories={}",
                bin.display(),
                shell_quote(&data.display().to_string()),
                shell_quote(&dir.display().to_string())
            ),
            &log,
        );
        let standby = PgServer {
            port,
            dir,
            ca_file: None,
        };
        standby.wait_ready(&log);
        standby
    }

    fn wait_ready(&self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.try_superuser("postgres") {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!(
                    "PostgreSQL did not start: {e}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn try_superuser(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .connect(postgres::NoTls)
    }

    /// A superuser connection over the Unix socket (trust), for setting up scenarios.
    pub fn superuser(&self) -> postgres::Client {
        self.try_superuser("postgres")
            .expect("superuser connection")
    }

    pub fn superuser_on(&self, db: &str) -> postgres::Client {
        self.try_superuser(db).expect("superuser connection")
    }

    /// A fresh database owned by `coder`, for tests that fill tables.
    pub fn create_database(&self, name: &str) -> String {
        self.superuser()
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {USER}"))
            .expect("create database");
        name.to_string()
    }

    /// `postgres://coder:PASSWORD@127.0.0.1:PORT/coder` plus query parameters.
    pub fn dsn(&self, query: &str) -> String {
        self.dsn_for(USER, PASSWORD, "coder", query)
    }

    pub fn dsn_for(&self, user: &str, password: &str, db: &str, query: &str) -> String {
        let mut dsn = format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port);
        if !query.is_empty() {
            dsn.push('?');
            dsn.push_str(query);
        }
        dsn
    }
}

pub fn as_postgres(command: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={RUN_AS}"),
        &format!("--regid={RUN_AS}"),
        "--init-groups",
        "sh",
        "-c",
        command,
    ]);
    cmd
}

pub fn chown(path: &Path) {
    let _ = Command::new("chown")
        .arg(format!("{RUN_AS}:{RUN_AS}"))
        .arg(path)
        .status();
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// The newest installed PostgreSQL's bin dir (Debian keeps them under /usr/lib/postgresql).
pub fn pg_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL server binaries under /usr/lib/postgresql (run scripts/test)")
}
