//! The clap definition: the one source for `--help`, the shell completions and the man pages.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::section::SectionId;

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
        #[arg(long, env = "CODER_DOCS_URL", value_name = "URL")]
        docs_url: Option<String>,
    },
    /// List every finding code
    Codes {
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
        /// Base URL for docs links
        #[arg(long, env = "CODER_DOCS_URL", value_name = "URL")]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The deployment's external URL, e.g. https://coder.example.com
    #[arg(
        long,
        env = "CODER_ACCESS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub access_url: Option<String>,

    /// PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered
    /// built-in PostgreSQL of `coder server`
    #[arg(
        long,
        env = "CODER_PG_CONNECTION_URL",
        value_name = "DSN",
        hide_env_values = true
    )]
    pub postgres_url: Option<String>,

    /// Session token, sent as Coder-Session-Token to endpoints that need one
    #[arg(
        long,
        env = "CODER_SESSION_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Include the embedded DERP relay at the access URL [default: true]
    #[arg(long, env = "CODER_DERP_SERVER_ENABLE", value_name = "BOOL", value_parser = parse_bool)]
    pub derp_server_enable: Option<bool>,

    /// STUN servers, comma separated host:port; `disable` for none [default: Coder's list]
    #[arg(long, env = "CODER_DERP_SERVER_STUN_ADDRESSES", value_name = "LIST")]
    pub derp_server_stun_addresses: Option<String>,

    /// A DERP map JSON file to merge in
    #[arg(long, env = "CODER_DERP_CONFIG_PATH", value_name = "FILE")]
    pub derp_config_path: Option<PathBuf>,

    /// A DERP map JSON URL to merge in
    #[arg(
        long,
        env = "CODER_DERP_CONFIG_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub derp_config_url: Option<String>,

    /// Direct connections are off: no STUN nodes in the DERP map [default: false]
    #[arg(long, env = "CODER_BLOCK_DIRECT", value_name = "BOOL", value_parser = parse_bool)]
    pub block_direct_connections: Option<bool>,

    /// Median database ping at or above this is a warning (EDB02) [default: 15ms]
    #[arg(
        long,
        env = "CODER_HEALTH_CHECK_THRESHOLD_DATABASE",
        value_name = "DUR",
        value_parser = parse_duration
    )]
    pub health_check_threshold_database: Option<Duration>,

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

    /// Deadline for one section [default: 5s]
    #[arg(long, env = "HEALTHCHECK_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// Write the JSON report to stdout, nothing else
    #[arg(long)]
    pub json: bool,

    /// The lowest severity that makes the exit code 1
    #[arg(long, value_enum, default_value = "error", value_name = "LEVEL")]
    pub fail_on: FailOn,

    /// When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorWhen,

    /// Base URL for docs links [default: https://coder.com/docs]
    #[arg(long, env = "CODER_DOCS_URL", value_name = "URL")]
    pub docs_url: Option<String>,

    /// Coder's environment file (KEY=value lines) [default: /etc/coder.d/coder.env if readable]
    #[arg(long, env = "HEALTHCHECK_ENV_FILE", value_name = "FILE")]
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

pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
