//! Typed settings, resolved from flag > environment > env file > `coder login` or Coder-host
//! discovery > default, as each setting's definition in `defs` declares. The environment and the
//! file system are parameters, so precedence is unit-tested.

pub mod access_url;
pub mod defs;
pub mod discovery;
pub mod env_file;
pub mod layers;
pub mod listener;
pub mod sources;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::defaults;
use crate::duration;
use crate::files::open_regular;
use crate::net::proxy::ProxyConfig;
use crate::redact::Secrets;
use crate::report::database::SettingSource;
use crate::report::{SectionId, Severity};

pub use access_url::AccessUrl;
pub use defs::RunArgs;
use discovery::CoderLogin;
pub use env_file::EnvFile;
use layers::Layers;
pub use listener::Listener;
use sources::{Environment, FileSystem};

#[derive(Clone, Debug)]
pub struct DsnSetting {
    pub dsn: String,
    pub source: SettingSource,
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
    /// Connections in use at or above this percentage of `max_connections` are a warning (1..=100).
    pub db_connections_warning_percent: u8,
    /// A provisioner job pending longer than this is a warning.
    pub job_pending_warning: Duration,
    /// A license expiring within this is a warning.
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
    /// What resolution changed that the user should know, for stderr (a value Coder's own
    /// configuration holds that Coder, and so this run, reads differently).
    pub notes: Vec<String>,
}

impl Default for Settings {
    /// The settings of `healthcheck run` with nothing given: every default, from `defs`.
    fn default() -> Self {
        let run = <RunArgs as clap::Args>::augment_args(clap::Command::new("run"));
        let matches = run
            .try_get_matches_from(["run"])
            .expect("`run` alone parses");
        let nothing: std::collections::HashMap<String, String> = Default::default();
        let no_files: std::collections::HashMap<PathBuf, String> = Default::default();
        Settings::resolve(
            &RunArgs { matches },
            &nothing,
            &no_files,
            Terminal::default(),
        )
        .expect("the defaults resolve")
    }
}

/// Facts about where the output goes, which decide colour and the spinner.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terminal {
    pub stdout: bool,
    pub stderr: bool,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl Settings {
    /// Resolves `healthcheck run`'s settings from its command line, the environment and files.
    pub fn resolve(
        args: &RunArgs,
        env: &dyn Environment,
        fs: &dyn FileSystem,
        terminal: Terminal,
    ) -> Result<Settings, String> {
        let file = env_file(args, env, fs)?;
        // Every value of the env file is a candidate secret, as the command line's are: an
        // error may quote one that was given under the wrong key.
        let file_secrets =
            Secrets::from_raw_input(&[], &file.pairs(), crate::net::dsn::password_of);
        let login = CoderLogin::load(env, fs);
        let layers = Layers {
            matches: &args.matches,
            env,
            file: &file,
            login: &login,
            fs,
        };
        let mut settings = resolve_layers(&layers, terminal).map_err(|e| file_secrets.scrub(&e))?;
        settings.env_file = file.path.clone();
        settings.secrets.extend(&file_secrets);
        Ok(settings)
    }
}

/// The env file named by `--env-file` or its variable, else the default one if readable.
fn env_file(args: &RunArgs, env: &dyn Environment, fs: &dyn FileSystem) -> Result<EnvFile, String> {
    let none = EnvFile::default();
    let no_login = CoderLogin::default();
    let layers = Layers {
        matches: &args.matches,
        env,
        file: &none,
        login: &no_login,
        fs,
    };
    let named = layers.path(&defs::ENV_FILE).map(|(path, _)| path);
    EnvFile::load(named.as_deref(), Path::new(defaults::ENV_FILE), fs)
}

fn resolve_layers(layers: &Layers, terminal: Terminal) -> Result<Settings, String> {
    let mut notes = Vec::new();
    let checks = check_settings(layers, &mut notes)?;
    let proxy = ProxyConfig::from_env(&|name| layers.env.var(name))?;
    let secrets = secrets(layers, &checks, &proxy);
    Ok(Settings {
        checks,
        output: output_settings(layers, terminal)?,
        selection: selection(layers),
        timeout: timeout(layers)?,
        ca_certs: ca_certs(layers)?,
        env_file: None,
        secrets,
        proxy,
        notes,
    })
}

/// What the sections are given.
fn check_settings(layers: &Layers, notes: &mut Vec<String>) -> Result<CheckSettings, String> {
    Ok(CheckSettings {
        access_url: layers
            .get(&defs::ACCESS_URL, |s| Ok(s.to_string()))?
            .map(|(raw, source)| AccessUrl::from_source(&raw, source)),
        postgres: postgres(layers)?,
        token: layers
            .get(&defs::TOKEN, |s| Ok(s.trim().to_string()))?
            .map(|(token, _)| token),
        derp: derp(layers)?,
        db_threshold: db_threshold(layers, notes)?,
        local_listener: local_listener(layers)?,
        cert_expiry_warning: layers.value(&defs::CERT_EXPIRY_WARNING, duration::parse_with_days)?,
        db_connections_warning_percent: layers.value(&defs::DB_CONNECTIONS_WARNING, percent)?,
        job_pending_warning: layers.value(&defs::JOB_PENDING_WARNING, duration::parse)?,
        license_expiry_warning: layers
            .value(&defs::LICENSE_EXPIRY_WARNING, duration::parse_with_days)?,
    })
}

/// The DSN from a setting, else the built-in PostgreSQL of `coder server` if it is there.
fn postgres(layers: &Layers) -> Result<Option<DsnSetting>, String> {
    Ok(
        match layers.get(&defs::POSTGRES_URL, |s| Ok(s.to_string()))? {
            Some((dsn, source)) => Some(DsnSetting { dsn, source }),
            None => discovery::builtin_postgres(layers.env, layers.fs).map(|dsn| DsnSetting {
                dsn,
                source: SettingSource::Discovered,
            }),
        },
    )
}

fn derp(layers: &Layers) -> Result<DerpSettings, String> {
    let config_path = layers.path(&defs::DERP_CONFIG_PATH).map(|(path, _)| path);
    if let Some(path) = &config_path {
        // Read by the DERP section; here only to fail early with a usage error.
        open_regular(path)
            .map_err(|e| format!("cannot read DERP map file {}: {e}", path.display()))?;
    }
    Ok(DerpSettings {
        server_enable: layers.value(&defs::DERP_SERVER_ENABLE, parse_bool)?,
        stun_addresses: layers.value(&defs::STUN_ADDRESSES, parse_stun_list)?,
        config_path,
        config_url: layers
            .get(&defs::DERP_CONFIG_URL, |s| Ok(s.to_string()))?
            .map(|(url, _)| url),
        block_direct: layers.value(&defs::BLOCK_DIRECT, parse_bool)?,
    })
}

/// coderd's own listener. The address from the higher source wins (a typed --http-address beats
/// the env file's CODER_TLS_ADDRESS); from the same source the TLS one does, since with TLS on
/// coderd's HTTP listener only redirects.
fn local_listener(layers: &Layers) -> Result<Option<Listener>, String> {
    let tls = layers.text(&defs::TLS_ADDRESS);
    let http = layers.text(&defs::HTTP_ADDRESS);
    let tls_wins = match (&tls, &http) {
        (Some((_, tls)), Some((_, http))) => tls <= http,
        (tls, _) => tls.is_some(),
    };
    let (def, chosen) = if tls_wins {
        (&defs::TLS_ADDRESS, tls)
    } else {
        (&defs::HTTP_ADDRESS, http)
    };
    let Some((value, source)) = chosen else {
        return Ok(None);
    };
    let setting = match (source, def.env) {
        (SettingSource::Flag, _) | (_, None) => def.flag,
        (_, Some(var)) => var,
    };
    Listener::parse(&value, tls_wins, setting)
        .map(Some)
        .map_err(|e| match (source, &layers.file.path) {
            (SettingSource::EnvFile, Some(path)) => format!("{e} (in {})", path.display()),
            _ => e,
        })
}

/// The run's one deadline; zero would end every section before it starts.
fn timeout(layers: &Layers) -> Result<Duration, String> {
    let (timeout, source) = layers.value_from(&defs::TIMEOUT, duration::parse)?;
    if timeout.is_zero() {
        let name = layers.name(&defs::TIMEOUT, source.unwrap_or(SettingSource::Flag));
        return Err(format!("invalid {name}: must be greater than zero"));
    }
    Ok(timeout)
}

fn selection(layers: &Layers) -> Selection {
    Selection {
        only: layers.sections(&defs::ONLY).collect(),
        skip: layers.sections(&defs::SKIP).collect(),
        dismiss: layers.sections(&defs::DISMISS).collect(),
    }
}

/// Extra trust roots, checked for readability here so that a typo is a usage error.
fn ca_certs(layers: &Layers) -> Result<Vec<PathBuf>, String> {
    let paths = layers.paths(&defs::CA_CERT);
    for path in &paths {
        open_regular(path).map_err(|e| format!("cannot read --ca-cert {}: {e}", path.display()))?;
    }
    Ok(paths)
}

/// Format, destination, verdict threshold, colour and the spinner.
fn output_settings(layers: &Layers, terminal: Terminal) -> Result<OutputSettings, String> {
    let format = output_format(
        layers.switch(&defs::JSON),
        layers.get(&defs::FORMAT, format_name)?.map(|(f, _)| f),
    )?;
    let file = layers.path(&defs::OUTPUT).map(|(path, _)| path);
    let watch = layers.get(&defs::WATCH, duration::parse)?.map(|(d, _)| d);
    if watch.is_some_and(|every| every.is_zero()) {
        return Err("invalid --watch: must be greater than zero".to_string());
    }
    // Repeated whole documents on stdout would be one unreadable stream.
    if watch.is_some()
        && file.is_none()
        && matches!(format, OutputFormat::Prometheus | OutputFormat::Junit)
    {
        return Err(format!(
            "--watch with --format {} rewrites a file each run: add --output FILE",
            format.name()
        ));
    }
    let on_terminal = terminal.stdout && file.is_none();
    let color = layers.value(&defs::COLOR, color_when)?;
    Ok(OutputSettings {
        format,
        fail_on: layers.value(&defs::FAIL_ON, severity_name)?,
        color: resolve_color(color, layers.env, on_terminal),
        // Watch mode redraws the screen itself; a spinner would fight it.
        spinner: format == OutputFormat::Table
            && watch.is_none()
            && terminal.stderr
            && layers.env.var("CI").is_none(),
        docs_url: layers.value(&defs::DOCS_URL, |s| Ok(s.trim().to_string()))?,
        verbose: layers.switch(&defs::VERBOSE),
        file,
        watch,
        terminal: on_terminal,
    })
}

/// The secrets to scrub from every output: the DSN's password, the token as given and as sent,
/// URL credentials and the proxies' passwords.
fn secrets(layers: &Layers, checks: &CheckSettings, proxy: &ProxyConfig) -> Secrets {
    let dsn_password = checks
        .postgres
        .as_ref()
        .and_then(|p| crate::net::dsn::password_of(&p.dsn));
    let raw_token = layers.text(&defs::TOKEN).map(|(token, _)| token);
    let mut secrets = Secrets::collect(
        dsn_password.as_deref(),
        [checks.token.as_deref(), raw_token.as_deref()],
        [
            checks.access_url.as_ref().map(AccessUrl::raw),
            checks.derp.config_url.as_deref(),
        ],
    );
    for password in proxy.passwords() {
        secrets.add(&password);
    }
    secrets
}

/// `--docs-url` of `explain` and `codes`: the flag, else its variable, else the default.
pub fn docs_url(flag: Option<String>, env: &dyn Environment) -> String {
    flag.filter(|url| !url.trim().is_empty())
        .or_else(|| defs::DOCS_URL.env.and_then(|var| env.var(var)))
        .or_else(|| defs::DOCS_URL.default.text())
        .unwrap_or_default()
}

/// Coder's database threshold. Zero is Coder's "unset" (its 15 ms default). Under a millisecond
/// Coder silently uses 15 ms too: typed on our command line that is a mistake to fix now (a usage
/// error); in Coder's own configuration it is what Coder runs with, so this run judges as Coder
/// does, and says so.
fn db_threshold(layers: &Layers, notes: &mut Vec<String>) -> Result<Duration, String> {
    let def = &defs::DB_THRESHOLD;
    let (threshold, source) = layers.value_from(def, duration::parse)?;
    if threshold.is_zero() {
        return Ok(defaults::DB_THRESHOLD);
    }
    if threshold >= Duration::from_millis(1) {
        return Ok(threshold);
    }
    let source = source.unwrap_or(SettingSource::Flag);
    let given = duration::go_string(threshold);
    let fallback = duration::go_string(defaults::DB_THRESHOLD);
    let name = layers.name(def, source);
    if source == SettingSource::Flag {
        return Err(format!(
            "{name}: {given} is under 1ms; Coder compares whole milliseconds and would use its \
             {fallback} default instead (expected at least 1ms, or 0 for the default)"
        ));
    }
    notes.push(format!(
        "{name} is {given}, under 1ms: Coder compares whole milliseconds and uses its {fallback} \
         default instead, and so does this run"
    ));
    Ok(defaults::DB_THRESHOLD)
}

/// `80%` or `80`, from 1 to 100.
pub fn percent(text: &str) -> Result<u8, String> {
    let digits = text.trim().strip_suffix('%').unwrap_or(text.trim()).trim();
    match digits.parse::<u8>() {
        Ok(p) if (1..=100).contains(&p) => Ok(p),
        _ => Err(format!(
            "invalid percentage {text:?} (expected 1 to 100, e.g. 80% or 80)"
        )),
    }
}

/// One of a choice flag's names (clap has checked a typed one; this also reads the default).
fn choose<T: Copy>(name: &str, options: &[(&str, T)]) -> Result<T, String> {
    options
        .iter()
        .find(|(option, _)| *option == name)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(option, _)| *option).collect();
            format!(
                "invalid value {name:?} (expected one of {})",
                names.join(", ")
            )
        })
}

fn format_name(name: &str) -> Result<OutputFormat, String> {
    use OutputFormat::*;
    choose(
        name,
        &[
            ("table", Table),
            ("json", Json),
            ("prometheus", Prometheus),
            ("junit", Junit),
        ],
    )
}

fn severity_name(name: &str) -> Result<Severity, String> {
    choose(
        name,
        &[("error", Severity::Error), ("warning", Severity::Warning)],
    )
}

fn color_when(name: &str) -> Result<ColorWhen, String> {
    use ColorWhen::*;
    choose(
        name,
        &[("auto", Auto), ("always", Always), ("never", Never)],
    )
}

/// Go's `strconv.ParseBool` spellings, which Coder's flags accept.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!(
            "invalid boolean {other:?} (expected true or false)"
        )),
    }
}

/// `--json` is `--format json`; both together must agree.
fn output_format(json: bool, format: Option<OutputFormat>) -> Result<OutputFormat, String> {
    let chosen = match format {
        None if json => return Ok(OutputFormat::Json),
        None => OutputFormat::Table,
        Some(format) => format,
    };
    if json && chosen != OutputFormat::Json {
        return Err(format!(
            "--json means --format json; it cannot be combined with --format {}",
            chosen.name()
        ));
    }
    Ok(chosen)
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
