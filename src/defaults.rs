//! Default values, in one place: the settings resolve to them, `--help` and the man page show them.

use std::time::Duration;

/// The systemd `EnvironmentFile` Coder's packages install.
pub const ENV_FILE: &str = "/etc/coder.d/coder.env";
/// How long one run may take (each section, and all of them together).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Coder's default database threshold; also its fallback for thresholds under 1 ms.
pub const DB_THRESHOLD: Duration = Duration::from_millis(15);
/// Coder's default `--derp-server-stun-addresses`.
pub const STUN_ADDRESSES: &[&str] = &[
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun2.l.google.com:19302",
    "stun3.l.google.com:19302",
    "stun4.l.google.com:19302",
];
/// The docs base Coder's health messages use when no base is configured.
pub const DOCS_URL: &str = "https://coder.com/docs";
pub const DERP_SERVER_ENABLE: bool = true;
pub const BLOCK_DIRECT: bool = false;
/// `--cert-expiry-warning`: a certificate expiring within 14 days is ETLS01.
pub const CERT_EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);
/// The default as `--help` shows it.
pub const CERT_EXPIRY_WARNING_TEXT: &str = "336h";
/// `--db-connections-warning`: connections in use at this share of the usable slots is EPG02.
pub const DB_CONNECTIONS_WARNING_PERCENT: u8 = 80;
/// `--job-pending-warning`: provisioner jobs waiting longer than this are EPQ01.
pub const JOB_PENDING_WARNING: Duration = Duration::from_secs(5 * 60);
/// `--license-expiry-warning`: a license expiring within 30 days is ELIC01.
pub const LICENSE_EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);
pub const LICENSE_EXPIRY_WARNING_TEXT: &str = "30d";
/// Where our own codes (beyond Coder's) are documented: this project's README, on its
/// repository's site once Cargo.toml names one (`repository`), else the README beside the binary.
pub const OWN_DOCS_URL: &str = if env!("CARGO_PKG_REPOSITORY").is_empty() {
    "README.md"
} else {
    concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/README.md")
};
