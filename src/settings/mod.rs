//! Typed settings, resolved from flag > environment > env file > Coder-host discovery > default.
//! The command line comes from clap's matches (which say whether a value was typed or is the
//! default); the environment and the file system are parameters, so precedence is unit-tested.

pub mod access_url;
pub mod discovery;
pub mod env_file;
pub mod listener;
pub mod sources;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::cli::{env_var, parse_bool, ColorWhen, FailOn, FormatArg, RunArgs};
use crate::defaults;
use crate::files::open_regular;
use crate::net::proxy::ProxyConfig;
use crate::redact::Secrets;
use crate::report::database::DsnSource;
use crate::report::{SectionId, Severity};

pub use access_url::AccessUrl;
pub use env_file::EnvFile;
pub use listener::Listener;
use sources::{Environment, FileSystem};

#[derive(Clone, Debug)]
pub struct DsnSetting {
    pub dsn: String,
    pub source: DsnSource,
}

/// What the checks are given: the deployment's coordinates and Coder's own options.
#[derive(Clone, Debug)]
pub struct CheckSettings {
    pub access_url: Option<AccessUrl>,
    pub postgres: Option<DsnSetting>,
    /// Trimmed: a token read from a file often ends in a newline.
    pub token: Option<String>,
    pub derp: DerpSettings,
    pub db_threshold: Duration,
    /// coderd's own listener, when its address is known (`--tls-address` before
    /// `--http-address`: with TLS on, coderd's HTTP listener only redirects).
    pub local_listener: Option<Listener>,
    /// ETLS01 for certificates expiring within this.
    pub cert_expiry_warning: Duration,
    /// EPG02 warning at this percentage of the usable connection slots.
    pub db_connections_warning_percent: u8,
    /// EPQ01 for provisioner jobs pending longer than this.
    pub job_pending_warning: Duration,
    /// ELIC01 warning for a license expiring within this.
    pub license_expiry_warning: Duration,
}

/// Coder's DERP and STUN options.
#[derive(Clone, Debug)]
pub struct DerpSettings {
    pub server_enable: bool,
    /// Empty when STUN is disabled (`disable`).
    pub stun_addresses: Vec<String>,
    pub config_path: Option<PathBuf>,
    pub config_url: Option<String>,
    pub block_direct: bool,
}

/// The output formats; each has one renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Prometheus,
    Junit,
}

impl OutputFormat {
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Prometheus => "prometheus",
            OutputFormat::Junit => "junit",
        }
    }
}

/// What the renderers and `main` are given.
#[derive(Clone, Debug)]
pub struct OutputSettings {
    pub format: OutputFormat,
    pub fail_on: Severity,
    pub color: bool,
    pub spinner: bool,
    pub docs_url: String,
    pub verbose: bool,
    /// `--output FILE`: the report goes there (atomically), stdout stays empty.
    pub file: Option<PathBuf>,
    /// `--watch DUR`: run again every DUR until interrupted.
    pub watch: Option<Duration>,
    /// The report is shown on a terminal (stdout is one and there is no `--output`).
    pub terminal: bool,
}

/// Which sections run (`--only`, `--skip`) and which are dismissed (`--dismiss`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub only: BTreeSet<SectionId>,
    pub skip: BTreeSet<SectionId>,
    pub dismiss: BTreeSet<SectionId>,
}

impl Selection {
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
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub checks: CheckSettings,
    pub output: OutputSettings,
    pub selection: Selection,
    /// The run's one budget: every section, and the run as a whole.
    pub timeout: Duration,
    /// Extra trust roots (PEM files), checked for readability at resolution.
    pub ca_certs: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub secrets: Secrets,
    /// Forward proxies from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
    pub proxy: ProxyConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            checks: CheckSettings {
                access_url: None,
                postgres: None,
                token: None,
                derp: DerpSettings {
                    server_enable: defaults::DERP_SERVER_ENABLE,
                    stun_addresses: defaults::STUN_ADDRESSES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    config_path: None,
                    config_url: None,
                    block_direct: defaults::BLOCK_DIRECT,
                },
                db_threshold: defaults::DB_THRESHOLD,
                local_listener: None,
                cert_expiry_warning: defaults::CERT_EXPIRY_WARNING,
                db_connections_warning_percent: defaults::DB_CONNECTIONS_WARNING_PERCENT,
                job_pending_warning: defaults::JOB_PENDING_WARNING,
                license_expiry_warning: defaults::LICENSE_EXPIRY_WARNING,
            },
            output: OutputSettings {
                format: OutputFormat::Table,
                fail_on: Severity::Error,
                color: false,
                spinner: false,
                docs_url: defaults::DOCS_URL.to_string(),
                verbose: false,
                file: None,
                watch: None,
                terminal: false,
            },
            selection: Selection::default(),
            timeout: defaults::TIMEOUT,
            ca_certs: Vec::new(),
            env_file: None,
            secrets: Secrets::default(),
            proxy: ProxyConfig::default(),
        }
    }
}

/// Facts about where the output goes, which decide colour and the spinner.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terminal {
    pub stdout: bool,
    pub stderr: bool,
}

/// The places one setting can come from, highest first.
struct Layers<'a> {
    matches: &'a ArgMatches,
    env: &'a dyn Environment,
    file: &'a EnvFile,
}

impl Layers<'_> {
    /// Whether the flag was typed on the command line (not clap's default).
    fn typed(&self, id: &str) -> bool {
        self.matches.value_source(id) == Some(ValueSource::CommandLine)
    }

    /// The value of a setting that has a default: the typed flag, else the environment, else
    /// (for Coder's own `CODER_*` variables) the env file, else the default clap filled in.
    fn value<T: Clone>(
        &self,
        id: &str,
        flag_or_default: &T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        if self.typed(id) {
            return Ok(flag_or_default.clone());
        }
        Ok(self
            .text(id, parse)?
            .unwrap_or_else(|| flag_or_default.clone()))
    }

    /// A setting from the environment or the env file, parsed; errors name where it came from.
    fn text<T>(
        &self,
        id: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        let Some(var) = env_var(id) else {
            return Ok(None);
        };
        if let Some(value) = self.env.var(var) {
            return parse(&value).map(Some).map_err(|e| format!("{var}: {e}"));
        }
        if var.starts_with("CODER_") {
            if let Some(value) = self.file.get(var) {
                return parse(&value)
                    .map(Some)
                    .map_err(|e| self.file.bad_value(var, &e));
            }
        }
        Ok(None)
    }

    /// A text setting without a default; empty counts as unset at every level.
    fn string(
        &self,
        id: &str,
        flag: Option<&String>,
    ) -> Result<Option<(String, DsnSource)>, String> {
        if let Some(v) = flag.filter(|v| !v.trim().is_empty()) {
            return Ok(Some((v.clone(), DsnSource::Flag)));
        }
        let Some(var) = env_var(id) else {
            return Ok(None);
        };
        if let Some(v) = self.env.var(var).filter(|v| !v.trim().is_empty()) {
            return Ok(Some((v, DsnSource::Environment)));
        }
        Ok(self
            .file
            .get(var)
            .filter(|v| var.starts_with("CODER_") && !v.trim().is_empty())
            .map(|v| (v, DsnSource::EnvFile)))
    }
}

impl Settings {
    /// Resolves `healthcheck run`'s settings. `matches` are the `run` subcommand's matches.
    pub fn resolve(
        args: &RunArgs,
        matches: &ArgMatches,
        env: &dyn Environment,
        fs: &dyn FileSystem,
        terminal: Terminal,
    ) -> Result<Settings, String> {
        let env_file_path = match args.env_file.clone() {
            Some(path) => Some(path),
            None => env.var("HEALTHCHECK_ENV_FILE").map(PathBuf::from),
        };
        let file = EnvFile::load(env_file_path.as_deref(), Path::new(defaults::ENV_FILE), fs)?;
        let layers = Layers {
            matches,
            env,
            file: &file,
        };
        let mut settings = Settings {
            env_file: file.path.clone(),
            ..Settings::default()
        };
        let checks = &mut settings.checks;

        checks.access_url = layers
            .string("access_url", args.access_url.as_ref())?
            .map(|(raw, _)| AccessUrl::new(&raw));
        checks.postgres = match layers.string("postgres_url", args.postgres_url.as_ref())? {
            Some((dsn, source)) => Some(DsnSetting { dsn, source }),
            None => discovery::builtin_postgres(env, fs).map(|dsn| DsnSetting {
                dsn,
                source: DsnSource::Discovered,
            }),
        };
        checks.token = layers
            .string("token", args.token.as_ref())?
            .map(|(t, _)| t.trim().to_string())
            .filter(|t| !t.is_empty());
        checks.derp.server_enable =
            layers.value("derp_server_enable", &args.derp_server_enable, parse_bool)?;
        checks.derp.block_direct = layers.value(
            "block_direct_connections",
            &args.block_direct_connections,
            parse_bool,
        )?;
        let stun = layers.value(
            "derp_server_stun_addresses",
            &args.derp_server_stun_addresses,
            |s| Ok(s.to_string()),
        )?;
        checks.derp.stun_addresses = parse_stun_list(&stun)?;
        checks.derp.config_path = layers
            .string(
                "derp_config_path",
                args.derp_config_path.as_deref().map(path_text).as_ref(),
            )?
            .map(|(p, _)| PathBuf::from(p));
        checks.derp.config_url = layers
            .string("derp_config_url", args.derp_config_url.as_ref())?
            .map(|(u, _)| u);
        checks.db_threshold = layers.value(
            "health_check_threshold_database",
            &args.health_check_threshold_database,
            crate::duration::parse,
        )?;

        let tls_address = layers.string("tls_address", args.tls_address.as_ref())?;
        let http_address = layers.string("http_address", args.http_address.as_ref())?;
        // The address from the higher source wins (a typed --http-address beats the env file's
        // CODER_TLS_ADDRESS); from the same source the TLS one does, since with TLS on coderd's
        // HTTP listener only redirects.
        let tls_wins = match (&tls_address, &http_address) {
            (Some((_, tls)), Some((_, http))) => rank(*tls) <= rank(*http),
            (tls, _) => tls.is_some(),
        };
        let chosen = if tls_wins {
            tls_address.map(|(v, s)| (v, s, true, "--tls-address", "CODER_TLS_ADDRESS"))
        } else {
            http_address.map(|(v, s)| (v, s, false, "--http-address", "CODER_HTTP_ADDRESS"))
        };
        checks.local_listener = match chosen {
            Some((value, source, tls, flag, var)) => Some(
                Listener::parse(&value, tls, setting_name(source, flag, var)).map_err(
                    |e| match (source, &file.path) {
                        (DsnSource::EnvFile, Some(path)) => format!("{e} (in {})", path.display()),
                        _ => e,
                    },
                )?,
            ),
            None => None,
        };
        checks.cert_expiry_warning = args.cert_expiry_warning;
        checks.db_connections_warning_percent = args.db_connections_warning;
        checks.job_pending_warning = args.job_pending_warning;
        checks.license_expiry_warning = args.license_expiry_warning;

        settings.timeout = layers.value("timeout", &args.timeout, crate::duration::parse)?;
        if settings.timeout.is_zero() {
            let name = if layers.typed("timeout") {
                "--timeout"
            } else {
                "HEALTHCHECK_TIMEOUT"
            };
            return Err(format!("invalid {name}: must be greater than zero"));
        }
        settings.output.docs_url = layers
            .value("docs_url", &args.docs_url, |s| Ok(s.to_string()))?
            .trim()
            .to_string();
        if settings.output.docs_url.is_empty() {
            settings.output.docs_url = defaults::DOCS_URL.to_string();
        }
        settings.selection = Selection {
            only: args.only.iter().copied().collect(),
            skip: args.skip.iter().copied().collect(),
            dismiss: args.dismiss.iter().copied().collect(),
        };
        if let Some(path) = &settings.checks.derp.config_path {
            // Read by the DERP section; here only to fail early with a usage error.
            open_regular(path)
                .map_err(|e| format!("cannot read DERP map file {}: {e}", path.display()))?;
        }
        for path in &args.ca_cert {
            open_regular(path)
                .map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
        }
        settings.ca_certs = args.ca_cert.clone();
        let format = output_format(args.json, args.format)?;
        settings.output.format = format;
        settings.output.verbose = args.verbose;
        settings.output.file = args.output.clone();
        settings.output.watch = args.watch;
        if args.watch.is_some_and(|every| every.is_zero()) {
            return Err("invalid --watch: must be greater than zero".to_string());
        }
        // Repeated whole documents on stdout would be one unreadable stream.
        if args.watch.is_some()
            && args.output.is_none()
            && matches!(format, OutputFormat::Prometheus | OutputFormat::Junit)
        {
            return Err(format!(
                "--watch with --format {} rewrites a file each run: add --output FILE",
                format.name()
            ));
        }
        let on_terminal = terminal.stdout && args.output.is_none();
        settings.output.terminal = on_terminal;
        settings.output.fail_on = match args.fail_on {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
        };
        settings.output.color = resolve_color(args.color, env, on_terminal);
        // Watch mode redraws the screen itself; a spinner would fight it.
        settings.output.spinner = format == OutputFormat::Table
            && args.watch.is_none()
            && terminal.stderr
            && env.var("CI").is_none();

        settings.proxy = ProxyConfig::from_env(&|name| env.var(name))?;

        let checks = &settings.checks;
        let dsn_password = checks
            .postgres
            .as_ref()
            .and_then(|p| crate::net::dsn::password_of(&p.dsn));
        let raw_token = args
            .token
            .clone()
            .or_else(|| env.var("CODER_SESSION_TOKEN"));
        settings.secrets = Secrets::collect(
            dsn_password.as_deref(),
            [checks.token.as_deref(), raw_token.as_deref()],
            [
                checks.access_url.as_ref().map(AccessUrl::raw),
                checks.derp.config_url.as_deref(),
            ],
        );
        for password in settings.proxy.passwords() {
            settings.secrets.add(&password);
        }
        Ok(settings)
    }
}

/// The flag or the variable, for messages about a value.
/// Flag first: the order in which sources win.
fn rank(source: DsnSource) -> u8 {
    match source {
        DsnSource::Flag => 0,
        DsnSource::Environment => 1,
        DsnSource::EnvFile => 2,
        DsnSource::Discovered => 3,
    }
}

fn setting_name(source: DsnSource, flag: &'static str, var: &'static str) -> &'static str {
    match source {
        DsnSource::Flag => flag,
        _ => var,
    }
}

/// `--json` is `--format json`; both together must agree.
fn output_format(json: bool, format: Option<FormatArg>) -> Result<OutputFormat, String> {
    let chosen = match format {
        None if json => return Ok(OutputFormat::Json),
        None | Some(FormatArg::Table) => OutputFormat::Table,
        Some(FormatArg::Json) => OutputFormat::Json,
        Some(FormatArg::Prometheus) => OutputFormat::Prometheus,
        Some(FormatArg::Junit) => OutputFormat::Junit,
    };
    if json && chosen != OutputFormat::Json {
        return Err(format!(
            "--json means --format json; it cannot be combined with --format {}",
            chosen.name()
        ));
    }
    Ok(chosen)
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
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

fn resolve_color(when: ColorWhen, env: &dyn Environment, stdout_is_terminal: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            if env.var("NO_COLOR").is_some() {
                false
            } else if env.var("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                true
            } else {
                stdout_is_terminal
            }
        }
    }
}

#[cfg(test)]
mod tests;
