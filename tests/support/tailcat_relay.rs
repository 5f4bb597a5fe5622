//! tailcat's DERP relay (tests/peers/tailcat-relay, built by scripts/setup): a relay nobody on this
//! project wrote, over TLS with a self-signed certificate for `localhost`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{shell_quote, spawn_with_lifeline, temp_dir};

pub struct TailcatRelay {
    /// DERP map with the relay's one region (node HostName `localhost`).
    pub map: PathBuf,
    /// The relay's certificate (PEM), to pass with `--ca-cert`.
    pub cert: PathBuf,
    pub port: u16,
}

/// Where scripts/build-peers puts the binary.
fn binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/debug/tailcat-relay")
}

impl TailcatRelay {
    /// Starts the relay and waits for its ready line. A missing binary fails the test: the peer is
    /// part of the suite, not optional.
    pub fn start() -> TailcatRelay {
        let bin = binary();
        assert!(
            bin.is_file(),
            "the tailcat relay test peer is missing ({}): run scripts/setup, which builds \
             tests/peers/ with scripts/build-peers",
            bin.display()
        );
        let dir = temp_dir("hc-tailcat-");
        let map = dir.join("derpmap.json");
        let cert = dir.join("relay.pem");
        let log = dir.join("relay.log");
        spawn_with_lifeline(
            &format!(
                "{} {} {}",
                shell_quote(&bin.display().to_string()),
                shell_quote(&map.display().to_string()),
                shell_quote(&cert.display().to_string())
            ),
            &log,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .find_map(|l| l.strip_prefix("tailcat-relay ready on 127.0.0.1:"))
            {
                let port = port.trim().parse().expect("port in the ready line");
                return TailcatRelay { map, cert, port };
            }
            assert!(
                Instant::now() < deadline,
                "tailcat relay did not get ready; log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
