//! The clap definition: the one source for `--help`, the shell completions and the man pages.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::SectionId;

#[derive(Debug, Parser)]
#[command(
    name = "healthcheck",
    version,
    about = "Checks a Coder deployment's health from outside the Coder server",
    long_about = "Checks a Coder deployment's health from outside the Coder server: the access URL, \
                  WebSockets, the database, DERP relays and STUN, workspace proxies and provisioner \
                  daemons. Findings carry Coder's stable codes (see `healthcheck codes`).",
    after_long_help = "Exit status: 0 healthy; 1 a section fails (or a finding at or above \
                       --fail-on); 2 usage or configuration error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks and report
    Run(Box<RunArgs>),
    /// Explain one finding code: title, problem, solution and docs link
    Explain {
        /// A code such as EDB02 (any letter case)
        code: String,
        /// Base URL for docs links
        #[arg(long, value_name = "URL")]
        docs_url: Option<String>,
    },
    /// List every finding code
    Codes {
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
        /// Base URL for docs links
        #[arg(long, value_name = "URL")]
        docs_url: Option<String>,
    },
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write one page per command into a directory
    Man {
        /// Write healthcheck.1, healthcheck-run.1, ... into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// `--format`: how the report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The table for people (the default)
    Table,
    /// Coder's JSON report (same as --json)
    Json,
    /// Prometheus text exposition (node_exporter's textfile collector reads it)
    Prometheus,
    /// JUnit XML, one test case per section, for CI test reports
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The deployment's external URL, e.g. https://coder.example.com
    #[arg(long, value_name = "URL")]
    pub access_url: Option<String>,

    /// PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered
    /// built-in PostgreSQL of `coder server`
    #[arg(long, value_name = "DSN")]
    pub postgres_url: Option<String>,

    /// Session token, sent as Coder-Session-Token to endpoints that need one
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Include the embedded DERP relay at the access URL
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub derp_server_enable: bool,

    /// STUN servers, comma separated host:port; `disable` for none (the default is Coder's list)
    #[arg(long, value_name = "LIST")]
    pub derp_server_stun_addresses: String,

    /// A DERP map JSON file to merge in
    #[arg(long, value_name = "FILE")]
    pub derp_config_path: Option<PathBuf>,

    /// A DERP map JSON URL to merge in
    #[arg(long, value_name = "URL")]
    pub derp_config_url: Option<String>,

    /// Direct connections are off: no STUN nodes in the DERP map
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub block_direct_connections: bool,

    /// Median database ping at or above this is a warning (EDB02)
    #[arg(
        long,
        value_name = "DUR",
        value_parser = parse_duration
    )]
    pub health_check_threshold_database: Duration,

    /// coderd's own HTTP listener (as in Coder's config, e.g. 0.0.0.0:3000): the Access URL
    /// section also asks it for /healthz, to tell a down coderd from a broken path to it
    #[arg(long, value_name = "HOST:PORT")]
    pub http_address: Option<String>,

    /// coderd's own TLS listener (e.g. 0.0.0.0:3443); probed instead of the HTTP listener, which
    /// only redirects once TLS is on, unless only --http-address is typed on the command line
    /// (the certificate is not verified: it is issued for the access URL's name)
    #[arg(long, value_name = "HOST:PORT")]
    pub tls_address: Option<String>,

    /// A TLS certificate expiring within this is a warning (ETLS01); Go durations, plus days
    /// (14d)
    #[arg(long, value_name = "DUR", value_parser = parse_cert_warning)]
    pub cert_expiry_warning: Duration,

    /// Database connections in use at this share of the slots a non-superuser may take are a
    /// warning (EPG02); 1-100, with or without %
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub db_connections_warning: u8,

    /// Provisioner jobs not started after this long are EPQ01
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub job_pending_warning: Duration,

    /// A Coder license expiring within this is a warning (ELIC01); Go durations, plus days (30d)
    #[arg(long, value_name = "DUR", value_parser = parse_cert_warning)]
    pub license_expiry_warning: Duration,

    /// Run only these sections (comma separated)
    #[arg(
        long,
        value_name = "SECTIONS",
        value_delimiter = ',',
        conflicts_with = "skip"
    )]
    pub only: Vec<SectionId>,

    /// Skip these sections (comma separated)
    #[arg(long, value_name = "SECTIONS", value_delimiter = ',')]
    pub skip: Vec<SectionId>,

    /// Sections whose findings are shown but do not fail the run (adds to the deployment's own
    /// dismissed list)
    #[arg(long, value_name = "SECTIONS", value_delimiter = ',')]
    pub dismiss: Vec<SectionId>,

    /// Deadline for the run: every section, and all of them together
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// Write the JSON report to stdout, nothing else (short for --format json)
    #[arg(long)]
    pub json: bool,

    /// Output format: table, json, prometheus or junit [default: table]
    #[arg(long, value_enum, value_name = "FORMAT", hide_possible_values = true)]
    pub format: Option<FormatArg>,

    /// Write the report to FILE (atomically: a temporary file in the same folder, then rename)
    /// instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Run again every DUR until Ctrl-C or SIGTERM; exit with the last run's exit code
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub watch: Option<Duration>,

    /// The lowest severity that makes the exit code 1
    #[arg(long, value_enum, default_value = "error", value_name = "LEVEL")]
    pub fail_on: FailOn,

    /// When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorWhen,

    /// Base URL for docs links
    #[arg(long, value_name = "URL")]
    pub docs_url: String,

    /// Coder's environment file (KEY=value lines); by default the one below, if readable
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// More detail per section (each ping, DERP node, proxy, daemon)
    #[arg(short, long)]
    pub verbose: bool,
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

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s)
}

/// `--cert-expiry-warning` also takes days (`14d`), which Go durations do not have.
pub fn parse_cert_warning(s: &str) -> Result<Duration, String> {
    crate::duration::parse_with_days(s)
}

/// A percentage from 1 to 100, `80` or `80%`.
pub fn parse_percent(s: &str) -> Result<u8, String> {
    let digits = s.trim().trim_end_matches('%').trim();
    match digits.parse::<u8>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid percentage {s:?} (expected a whole number from 1 to 100, e.g. 80%)"
        )),
    }
}

/// Which environment variable stands in for which flag (flag > environment > env file).
/// `--help` names them from here, and settings resolution reads them from here.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("access_url", "CODER_ACCESS_URL"),
    ("postgres_url", "CODER_PG_CONNECTION_URL"),
    ("token", "CODER_SESSION_TOKEN"),
    ("derp_server_enable", "CODER_DERP_SERVER_ENABLE"),
    (
        "derp_server_stun_addresses",
        "CODER_DERP_SERVER_STUN_ADDRESSES",
    ),
    ("derp_config_path", "CODER_DERP_CONFIG_PATH"),
    ("derp_config_url", "CODER_DERP_CONFIG_URL"),
    ("block_direct_connections", "CODER_BLOCK_DIRECT"),
    (
        "health_check_threshold_database",
        "CODER_HEALTH_CHECK_THRESHOLD_DATABASE",
    ),
    ("http_address", "CODER_HTTP_ADDRESS"),
    ("tls_address", "CODER_TLS_ADDRESS"),
    ("timeout", "HEALTHCHECK_TIMEOUT"),
    ("docs_url", "CODER_DOCS_URL"),
    ("env_file", "HEALTHCHECK_ENV_FILE"),
];

/// The environment variable of a `run` argument, if it has one.
pub fn env_var(arg: &str) -> Option<&'static str> {
    ENV_VARS
        .iter()
        .find(|(id, _)| *id == arg)
        .map(|(_, var)| *var)
}

/// The whole command line: the derive definition plus the defaults (from `defaults`) and the
/// environment variable of each flag (from `ENV_VARS`), so help, man pages and resolution agree.
pub fn command() -> clap::Command {
    // One pass over each subcommand's arguments: every builder call moves the whole command,
    // and this runs on every start, `--version` included.
    <Cli as clap::CommandFactory>::command()
        .mut_subcommand("run", |run| {
            run.mut_args(|arg| with_env_help(with_default(arg)))
        })
        .mut_subcommand("explain", |explain| explain.mut_args(with_env_help))
        .mut_subcommand("codes", |codes| codes.mut_args(with_env_help))
}

/// A `run` argument with its default from `defaults`, if it has one.
fn with_default(arg: clap::Arg) -> clap::Arg {
    use crate::defaults;
    use crate::duration::go_string;
    let default = match arg.get_id().as_str() {
        "derp_server_enable" => defaults::DERP_SERVER_ENABLE.to_string(),
        "derp_server_stun_addresses" => defaults::STUN_ADDRESSES.join(","),
        "block_direct_connections" => defaults::BLOCK_DIRECT.to_string(),
        "health_check_threshold_database" => go_string(defaults::DB_THRESHOLD),
        "cert_expiry_warning" => defaults::CERT_EXPIRY_WARNING_TEXT.to_string(),
        "db_connections_warning" => format!("{}%", defaults::DB_CONNECTIONS_WARNING_PERCENT),
        "job_pending_warning" => go_string(defaults::JOB_PENDING_WARNING),
        "license_expiry_warning" => defaults::LICENSE_EXPIRY_WARNING_TEXT.to_string(),
        "timeout" => go_string(defaults::TIMEOUT),
        "docs_url" => defaults::DOCS_URL.to_string(),
        "env_file" => {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            return arg.help(format!("{help} [default: {}]", defaults::ENV_FILE));
        }
        _ => return arg,
    };
    arg.default_value(default).required(false)
}

/// An argument's help with the environment variable that stands in for it, if any.
fn with_env_help(arg: clap::Arg) -> clap::Arg {
    match env_var(arg.get_id().as_str()) {
        Some(var) => {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            arg.help(format!("{help} [env: {var}]"))
        }
        None => arg,
    }
}

/// Parses the command line with [`command`]; the matches are kept, since they tell where each
/// value came from.
pub fn parse_from<I, T>(args: I) -> Result<(Cli, clap::ArgMatches), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)?;
    Ok((cli, matches))
}
