//! Tailscale's own DERP server (`derper`, built by scripts/build-peers into target/peers) on
//! loopback: DERP over plain HTTP or over TLS with a test certificate, and its STUN server on a
//! free UDP port. The process is stopped when the value is dropped (and, failing that, when the
//! test binary exits, through its lifeline).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::certs::TestCa;
use super::coturn::free_udp_port;
use super::{free_port, shell_quote, spawn_with_lifeline, temp_dir};

pub struct Derper {
    /// The DERP (HTTP or HTTPS) port.
    pub port: u16,
    /// derper's STUN server (UDP).
    pub stun_port: u16,
    /// The CA that signed the TLS certificate (for `--ca-cert`), when started with TLS.
    pub ca_file: Option<PathBuf>,
    pub dir: PathBuf,
    pid: u32,
}

/// Where scripts/build-peers installs derper.
pub fn binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/derper")
}

impl Derper {
    /// derper serving DERP over plain HTTP (its mode when the port is not 443 and no certificate
    /// mode is asked for).
    pub fn start_http() -> Derper {
        Derper::start(false)
    }

    /// derper serving DERP over TLS with a test CA's certificate for `localhost`.
    pub fn start_tls() -> Derper {
        Derper::start(true)
    }

    fn start(tls: bool) -> Derper {
        let bin = binary();
        assert!(
            bin.is_file(),
            "the derper test peer is missing ({}): run scripts/build-peers",
            bin.display()
        );
        let dir = temp_dir("hc-derper-");
        let (port, stun_port) = (free_port(), free_udp_port());
        let mut command = format!(
            "{} -a 127.0.0.1:{port} -http-port -1 -stun-port {stun_port} -verify-clients=false \
             -c {} -home blank",
            shell_quote(&bin.display().to_string()),
            shell_quote(&dir.join("derper.json").display().to_string()),
        );
        let mut ca_file = None;
        if tls {
            // Manual mode reads HOSTNAME.crt and HOSTNAME.key from the cert dir.
            let ca = TestCa::new("derper test CA");
            let leaf = ca.leaf(&["localhost"]);
            let certs = dir.join("certs");
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::write(certs.join("localhost.crt"), leaf.cert_pem).unwrap();
            std::fs::write(certs.join("localhost.key"), leaf.key_pem).unwrap();
            ca_file = Some(ca.write(&dir));
            command.push_str(&format!(
                " -certmode manual -certdir {} -hostname localhost",
                shell_quote(&certs.display().to_string())
            ));
        }
        let log = dir.join("derper.log");
        let pid = spawn_with_lifeline(&command, &log);
        let derper = Derper {
            port,
            stun_port,
            ca_file,
            dir,
            pid,
        };
        derper.wait_ready(&log);
        derper
    }

    /// Ready when the DERP port accepts connections and the log says STUN listens (derper's STUN
    /// server ignores requests without Tailscale's FINGERPRINT, so a bare probe cannot tell).
    fn wait_ready(&self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stun_line = format!("STUN server listening on 127.0.0.1:{}", self.stun_port);
        loop {
            let tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if tcp && text.contains(&stun_line) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "derper did not get ready; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops derper (SIGTERM) and waits until its port is closed.
    pub fn stop(&self) {
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "derper did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A DERP map node for this derper: `localhost` over TLS, or 127.0.0.1 with `ForceHTTP`.
    /// `stun` also sends STUN to derper's STUN port from the same node, as Tailscale's own
    /// nodes do; otherwise the node is DERP only (`STUNPort: -1`).
    pub fn node(&self, name: &str, region: u16, stun: bool) -> serde_json::Value {
        let stun_port = if stun { i64::from(self.stun_port) } else { -1 };
        if self.ca_file.is_some() {
            serde_json::json!({"Name": name, "RegionID": region, "HostName": "localhost",
                               "IPv4": "127.0.0.1", "DERPPort": self.port, "STUNPort": stun_port})
        } else {
            serde_json::json!({"Name": name, "RegionID": region, "HostName": "127.0.0.1",
                               "DERPPort": self.port, "STUNPort": stun_port, "ForceHTTP": true})
        }
    }

    /// A DERP map file with one region (ID 1, code `derper`) holding `nodes`.
    pub fn map_file(nodes: Vec<serde_json::Value>) -> PathBuf {
        let map = serde_json::json!({"Regions": {"1": {"RegionID": 1, "RegionCode": "derper",
            "RegionName": "Tailscale derper", "Nodes": nodes}}});
        let path = temp_dir("hc-derper-map-").join("derpmap.json");
        std::fs::write(&path, map.to_string()).unwrap();
        path
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Derper {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
