//! A real forward proxy (Debian's tinyproxy) with basic auth, in a private mount namespace
//! whose /etc/hosts knows names nothing else on this host can resolve: a request for such a
//! name succeeds only if it went through the proxy.

use std::path::PathBuf;

use super::{free_port, shell_quote, spawn_with_lifeline, temp_dir, wait_for_port};

pub struct Tinyproxy {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dir: PathBuf,
}

impl Tinyproxy {
    /// Starts tinyproxy on a free loopback port; `names` resolve to 127.0.0.1 for it alone.
    pub fn start(names: &[&str], user: &str, password: &str) -> Tinyproxy {
        Tinyproxy::start_with(names, user, password, "")
    }

    /// `start`, with more lines for tinyproxy.conf (`ConnectPort 443` refuses CONNECT to any
    /// other port).
    pub fn start_with(names: &[&str], user: &str, password: &str, extra: &str) -> Tinyproxy {
        Tinyproxy::start_on_with("127.0.0.1", names, user, password, extra)
    }

    /// As `start`, listening on `listen` (`127.0.0.1` or `::1`).
    pub fn start_on(listen: &str, names: &[&str], user: &str, password: &str) -> Tinyproxy {
        Tinyproxy::start_on_with(listen, names, user, password, "")
    }

    fn start_on_with(
        listen: &str,
        names: &[&str],
        user: &str,
        password: &str,
        extra: &str,
    ) -> Tinyproxy {
        let dir = temp_dir("hc-tinyproxy-");
        let _ = std::process::Command::new("chmod")
            .arg("777")
            .arg(&dir)
            .status();
        let port = free_port();
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for name in names {
            hosts.push_str(&format!("127.0.0.1 {name}\n"));
        }
        let hosts_path = dir.join("hosts");
        std::fs::write(&hosts_path, hosts).unwrap();
        let d = dir.display();
        let conf = format!(
            "User nobody\nGroup nogroup\nPort {port}\nListen {listen}\nTimeout 30\n\
             LogFile \"{d}/tinyproxy.log\"\nLogLevel Info\nPidFile \"{d}/tinyproxy.pid\"\n\
             MaxClients 20\nBasicAuth {user} {password}\nDisableViaHeader Yes\n{extra}"
        );
        let conf_path = dir.join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let inner = format!(
            "mount --bind {} /etc/hosts && exec /usr/bin/tinyproxy -d -c {}",
            shell_quote(&hosts_path.display().to_string()),
            shell_quote(&conf_path.display().to_string())
        );
        let log = dir.join("stdout.log");
        spawn_with_lifeline(
            &format!("unshare --mount sh -c {}", shell_quote(&inner)),
            &log,
        );
        if listen == "127.0.0.1" {
            wait_for_port(port, "tinyproxy", &log);
        } else {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::net::TcpStream::connect((listen, port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "tinyproxy did not start on [{listen}]:{port}; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        Tinyproxy {
            port,
            user: user.to_string(),
            password: password.to_string(),
            dir,
        }
    }

    /// `http://user:password@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}",
            self.user, self.password, self.port
        )
    }

    /// What the proxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }
}
