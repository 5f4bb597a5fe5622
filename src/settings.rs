//! Typed settings, resolved from flag > environment > env file > Coder-host discovery > default.
//! clap already merges flags and environment variables; this module adds the env file, discovery
//! and defaults, and checks what clap cannot.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{parse_bool, ColorWhen, FailOn, RunArgs};
use crate::codes::DEFAULT_DOCS_URL;
use crate::redact::Secrets;
use crate::report::Severity;
use crate::section::SectionId;

/// The systemd `EnvironmentFile` Coder's packages install.
pub const DEFAULT_ENV_FILE: &str = "/etc/coder.d/coder.env";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Coder's default database threshold; also its fallback for thresholds under 1 ms.
pub const DEFAULT_DB_THRESHOLD: Duration = Duration::from_millis(15);
/// Coder's default `--derp-server-stun-addresses`.
pub const DEFAULT_STUN_ADDRESSES: &[&str] = &[
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun2.l.google.com:19302",
    "stun3.l.google.com:19302",
    "stun4.l.google.com:19302",
];

/// Where the database DSN came from; reported, never the DSN itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsnSource {
    Flag,
    Environment,
    EnvFile,
    Discovered,
}

impl DsnSource {
    pub fn describe(self) -> &'static str {
        match self {
            DsnSource::Flag => "--postgres-url",
            DsnSource::Environment => "CODER_PG_CONNECTION_URL",
            DsnSource::EnvFile => "env file",
            DsnSource::Discovered => "discovered built-in PostgreSQL",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DsnSetting {
    pub dsn: String,
    pub source: DsnSource,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub access_url: Option<String>,
    pub postgres: Option<DsnSetting>,
    pub token: Option<String>,
    pub derp_server_enable: bool,
    /// Empty when STUN is disabled (`disable`).
    pub stun_addresses: Vec<String>,
    pub derp_config_path: Option<PathBuf>,
    pub derp_config_url: Option<String>,
    pub block_direct: bool,
    pub db_threshold: Duration,
    pub only: BTreeSet<SectionId>,
    pub skip: BTreeSet<SectionId>,
    pub dismiss: BTreeSet<SectionId>,
    pub timeout: Duration,
    pub ca_certs: Vec<PathBuf>,
    pub json: bool,
    pub fail_on: Severity,
    pub color: bool,
    pub spinner: bool,
    pub docs_url: String,
    pub verbose: bool,
    pub env_file: Option<PathBuf>,
    pub secrets: Secrets,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access_url: None,
            postgres: None,
            token: None,
            derp_server_enable: true,
            stun_addresses: DEFAULT_STUN_ADDRESSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            derp_config_path: None,
            derp_config_url: None,
            block_direct: false,
            db_threshold: DEFAULT_DB_THRESHOLD,
            only: BTreeSet::new(),
            skip: BTreeSet::new(),
            dismiss: BTreeSet::new(),
            timeout: DEFAULT_TIMEOUT,
            ca_certs: Vec::new(),
            json: false,
            fail_on: Severity::Error,
            color: false,
            spinner: false,
            docs_url: DEFAULT_DOCS_URL.to_string(),
            verbose: false,
            env_file: None,
            secrets: Secrets::default(),
        }
    }
}

impl Settings {
    /// Why a section will not run because of `--only`/`--skip`, if it will not.
    pub fn deselected(&self, id: SectionId) -> Option<String> {
        if !self.only.is_empty() && !self.only.contains(&id) {
            return Some("not selected by --only".to_string());
        }
        if self.skip.contains(&id) {
            return Some("skipped by --skip".to_string());
        }
        None
    }

    pub fn resolve(args: &RunArgs) -> Result<Settings, String> {
        let env_file = load_env_file(args.env_file.as_deref())?;
        let from_file = |key: &str| env_file.values.get(key).cloned();
        let mut settings = Settings {
            env_file: env_file.path.clone(),
            ..Settings::default()
        };

        settings.access_url = args
            .access_url
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| from_file("CODER_ACCESS_URL"))
            .filter(|s| !s.trim().is_empty());

        settings.postgres = match &args.postgres_url {
            Some(dsn) => Some(DsnSetting {
                dsn: dsn.clone(),
                source: if std::env::var_os("CODER_PG_CONNECTION_URL").is_some()
                    && !flag_given("--postgres-url")
                {
                    DsnSource::Environment
                } else {
                    DsnSource::Flag
                },
            }),
            None => from_file("CODER_PG_CONNECTION_URL")
                .map(|dsn| DsnSetting {
                    dsn,
                    source: DsnSource::EnvFile,
                })
                .or_else(discover_builtin_postgres),
        }
        .filter(|s| !s.dsn.trim().is_empty());

        settings.token = args
            .token
            .clone()
            .or_else(|| from_file("CODER_SESSION_TOKEN"))
            .filter(|s| !s.is_empty());

        let file_bool = |key: &str| -> Result<Option<bool>, String> {
            from_file(key)
                .map(|v| parse_bool(&v).map_err(|e| env_file.bad_value(key, &e)))
                .transpose()
        };
        settings.derp_server_enable = match args.derp_server_enable {
            Some(v) => v,
            None => file_bool("CODER_DERP_SERVER_ENABLE")?.unwrap_or(true),
        };
        settings.block_direct = match args.block_direct_connections {
            Some(v) => v,
            None => file_bool("CODER_BLOCK_DIRECT")?.unwrap_or(false),
        };
        if let Some(list) = args
            .derp_server_stun_addresses
            .clone()
            .or_else(|| from_file("CODER_DERP_SERVER_STUN_ADDRESSES"))
        {
            settings.stun_addresses = parse_stun_list(&list)?;
        }
        settings.derp_config_path = args
            .derp_config_path
            .clone()
            .or_else(|| from_file("CODER_DERP_CONFIG_PATH").map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty());
        settings.derp_config_url = args
            .derp_config_url
            .clone()
            .or_else(|| from_file("CODER_DERP_CONFIG_URL"))
            .filter(|s| !s.trim().is_empty());

        settings.db_threshold = match args.health_check_threshold_database {
            Some(d) => d,
            None => match from_file("CODER_HEALTH_CHECK_THRESHOLD_DATABASE") {
                Some(v) => crate::duration::parse(&v)
                    .map_err(|e| env_file.bad_value("CODER_HEALTH_CHECK_THRESHOLD_DATABASE", &e))?,
                None => DEFAULT_DB_THRESHOLD,
            },
        };
        settings.timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if settings.timeout.is_zero() {
            return Err("invalid --timeout: must be greater than zero".to_string());
        }
        settings.docs_url = args
            .docs_url
            .clone()
            .or_else(|| from_file("CODER_DOCS_URL"))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DOCS_URL.to_string());

        settings.only = args.only.iter().copied().collect();
        settings.skip = args.skip.iter().copied().collect();
        settings.dismiss = args.dismiss.iter().copied().collect();
        if let Some(path) = &settings.derp_config_path {
            std::fs::File::open(path)
                .map_err(|e| format!("cannot read DERP map file {}: {e}", path.display()))?;
        }
        for path in &args.ca_cert {
            std::fs::metadata(path)
                .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
        }
        settings.ca_certs = args.ca_cert.clone();
        settings.json = args.json;
        settings.verbose = args.verbose;
        settings.fail_on = match args.fail_on {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
        };
        settings.color = resolve_color(args.color);
        settings.spinner =
            !args.json && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();

        settings.secrets = Secrets::collect(
            settings.postgres.as_ref().map(|p| p.dsn.as_str()),
            settings.token.as_deref(),
            [
                settings.access_url.as_deref(),
                settings.derp_config_url.as_deref(),
            ],
        );
        Ok(settings)
    }
}

/// clap does not say whether a value came from the flag or the environment without the
/// matches; the raw arguments tell us well enough.
fn flag_given(flag: &str) -> bool {
    std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

pub fn parse_stun_list(list: &str) -> Result<Vec<String>, String> {
    let entries: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if entries.iter().any(|e| e == "disable") {
        return Ok(Vec::new());
    }
    for entry in &entries {
        let valid = entry
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!(
                "invalid STUN address {entry:?} in --derp-server-stun-addresses: expected host:port"
            ));
        }
    }
    Ok(entries)
}

fn resolve_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            let set = |key: &str| std::env::var(key).is_ok_and(|v| !v.is_empty());
            if set("NO_COLOR") {
                false
            } else if std::env::var("CLICOLOR_FORCE").is_ok_and(|v| !v.is_empty() && v != "0") {
                true
            } else {
                std::io::stdout().is_terminal()
            }
        }
    }
}

/// The `CODER_*` values of an env file.
#[derive(Debug, Default)]
pub struct EnvFile {
    pub path: Option<PathBuf>,
    pub values: HashMap<String, String>,
}

impl EnvFile {
    fn bad_value(&self, key: &str, why: &str) -> String {
        let path = self.path.as_deref().unwrap_or(Path::new("env file"));
        format!("{key} in {}: {why}", path.display())
    }
}

/// An explicitly named file must be readable; the default one is skipped quietly.
fn load_env_file(named: Option<&Path>) -> Result<EnvFile, String> {
    let (path, explicit) = match named {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_ENV_FILE), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(EnvFile {
            values: parse_env_file(&text),
            path: Some(path),
        }),
        Err(e) if explicit => Err(format!("cannot read env file {}: {e}", path.display())),
        Err(_) => Ok(EnvFile::default()),
    }
}

/// `KEY=value` lines, `#` and `;` comments, optional `export `, optional single or double
/// quotes (anything after the closing quote is ignored).
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    let mut values = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
            _ => line,
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.starts_with("CODER_") {
            continue;
        }
        values.insert(key.to_string(), unquote(value.trim()));
    }
    values
}

fn unquote(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(q @ ('"' | '\'')) => match chars.as_str().find(q) {
            Some(end) => chars.as_str()[..end].to_string(),
            None => value.to_string(),
        },
        _ => value.to_string(),
    }
}

/// The built-in PostgreSQL that `coder server` starts keeps its password and port in the
/// user's Coder config dir.
fn discover_builtin_postgres() -> Option<DsnSetting> {
    let dir = coder_config_dir()?.join("postgres");
    let password = std::fs::read_to_string(dir.join("password")).ok()?;
    let port = std::fs::read_to_string(dir.join("port")).ok()?;
    let port: u16 = port.trim().parse().ok()?;
    let mut url = url::Url::parse("postgres://localhost/coder?sslmode=disable").ok()?;
    url.set_username("coder").ok()?;
    url.set_password(Some(password.trim())).ok()?;
    url.set_port(Some(port)).ok()?;
    Some(DsnSetting {
        dsn: url.to_string(),
        source: DsnSource::Discovered,
    })
}

fn coder_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CODER_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("coderv2"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_syntax() {
        let values = parse_env_file(
            "# comment\nCODER_ACCESS_URL=https://a.example\nexport CODER_PG_CONNECTION_URL=\"postgres://x\"\n\
             CODER_DERP_SERVER_ENABLE='false'\nOTHER=1\nnot a line\n; also a comment\n\
             export\tCODER_DOCS_URL=\"https://docs.example\" # trailing note\n",
        );
        assert_eq!(values["CODER_DOCS_URL"], "https://docs.example");
        assert_eq!(values.len(), 4);
        assert_eq!(values["CODER_ACCESS_URL"], "https://a.example");
        assert_eq!(values["CODER_PG_CONNECTION_URL"], "postgres://x");
        assert_eq!(values["CODER_DERP_SERVER_ENABLE"], "false");
        assert!(!values.contains_key("OTHER"));
    }

    #[test]
    fn stun_list() {
        assert_eq!(parse_stun_list("disable").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_stun_list("127.0.0.1:3478, [::1]:3478").unwrap(),
            vec!["127.0.0.1:3478", "[::1]:3478"]
        );
        assert!(parse_stun_list("nohost").is_err());
    }
}
