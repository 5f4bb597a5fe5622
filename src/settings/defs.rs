//! Every `healthcheck run` setting, declared once: its flag, environment variable, where else it
//! may come from (in precedence order), its default, its help text and its heading. The command
//! line (and so `--help`, the man page and the completions) is built from this table, and
//! resolution reads each setting through it; nothing else names a flag's variable.

use std::time::Duration;

use crate::defaults;
use crate::duration::go_string;

/// The headings `run --help` groups its options under, in the order shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heading {
    Connection,
    Sections,
    Thresholds,
    Output,
    Configuration,
}

impl Heading {
    pub fn title(self) -> &'static str {
        match self {
            Heading::Connection => "Connection",
            Heading::Sections => "Sections",
            Heading::Thresholds => "Thresholds",
            Heading::Output => "Output",
            Heading::Configuration => "Configuration",
        }
    }
}

/// What the flag takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One text value, parsed at resolution (the same parser for flag, variable and file).
    Value,
    /// One file name.
    Path,
    /// A file name, repeatable.
    Paths,
    /// No value: on when given.
    Switch,
    /// Section names, comma separated.
    Sections,
    /// One of these names, each with its help.
    Choice(&'static [(&'static str, &'static str)]),
}

/// A default, as typed constants from `defaults`; shown in `--help` and parsed like any value.
#[derive(Clone, Copy, Debug)]
pub enum DefaultValue {
    None,
    Text(&'static str),
    Bool(bool),
    /// A Go duration (`15ms`).
    Duration(Duration),
    /// A duration in whole days (`14d`).
    Days(Duration),
    /// A comma separated list, shown with spaces so that help and man pages can wrap it.
    List(&'static [&'static str]),
    Percent(u8),
}

impl DefaultValue {
    /// The default as the user would type it.
    pub fn text(self) -> Option<String> {
        match self {
            DefaultValue::None => None,
            DefaultValue::Text(text) => Some(text.to_string()),
            DefaultValue::Bool(b) => Some(b.to_string()),
            DefaultValue::Duration(d) => Some(go_string(d)),
            DefaultValue::Days(d) => Some(format!("{}d", d.as_secs() / 86_400)),
            DefaultValue::List(items) => Some(items.join(", ")),
            DefaultValue::Percent(p) => Some(format!("{p}%")),
        }
    }
}

/// The file of `coder login`'s config directory a setting may come from (lowest precedence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// `url`: the deployment's URL.
    Url,
    /// `session`: the session token.
    Session,
}

impl Login {
    pub fn file_name(self) -> &'static str {
        match self {
            Login::Url => "url",
            Login::Session => "session",
        }
    }
}

/// One setting. Precedence: the flag, then `env`, then (when `env_file`) Coder's env file, then
/// (when `login`) `coder login`'s file, then the default.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// The clap id.
    pub id: &'static str,
    /// `--access-url`.
    pub flag: &'static str,
    pub short: Option<char>,
    pub value_name: &'static str,
    pub kind: Kind,
    pub heading: Heading,
    pub help: &'static str,
    pub env: Option<&'static str>,
    /// Read from Coder's env file too (Coder's own `CODER_*` settings only).
    pub env_file: bool,
    pub login: Option<Login>,
    pub default: DefaultValue,
    /// A flag this one cannot be combined with (its id).
    pub conflicts_with: Option<&'static str>,
    /// The kind of value, for shell completion.
    pub hint: clap::ValueHint,
}

const BASE: Def = Def {
    id: "",
    flag: "",
    short: None,
    value_name: "",
    kind: Kind::Value,
    heading: Heading::Connection,
    help: "",
    env: None,
    env_file: false,
    login: None,
    default: DefaultValue::None,
    conflicts_with: None,
    hint: clap::ValueHint::Unknown,
};

/// A Coder setting: its `CODER_*` variable, also read from the env file.
const fn coder(env: &'static str) -> Option<&'static str> {
    Some(env)
}

pub const ACCESS_URL: Def = Def {
    id: "access_url",
    flag: "--access-url",
    value_name: "URL",
    help: "The deployment's external URL, e.g. https://coder.example.com",
    env: coder("CODER_ACCESS_URL"),
    env_file: true,
    login: Some(Login::Url),
    hint: clap::ValueHint::Url,
    ..BASE
};
pub const POSTGRES_URL: Def = Def {
    id: "postgres_url",
    flag: "--postgres-url",
    value_name: "DSN",
    help: "PostgreSQL DSN (URI or key=value form; every libpq sslmode). Default: discovered \
           built-in PostgreSQL of `coder server`",
    env: coder("CODER_PG_CONNECTION_URL"),
    env_file: true,
    ..BASE
};
pub const TOKEN: Def = Def {
    id: "token",
    flag: "--token",
    value_name: "TOKEN",
    help: "Session token, sent as Coder-Session-Token to endpoints that need one",
    env: coder("CODER_SESSION_TOKEN"),
    env_file: true,
    login: Some(Login::Session),
    ..BASE
};
pub const DERP_SERVER_ENABLE: Def = Def {
    id: "derp_server_enable",
    flag: "--derp-server-enable",
    value_name: "BOOL",
    help: "Include the embedded DERP relay at the access URL",
    env: coder("CODER_DERP_SERVER_ENABLE"),
    env_file: true,
    default: DefaultValue::Bool(defaults::DERP_SERVER_ENABLE),
    ..BASE
};
pub const STUN_ADDRESSES: Def = Def {
    id: "derp_server_stun_addresses",
    flag: "--derp-server-stun-addresses",
    value_name: "LIST",
    help:
        "STUN servers, comma separated host:port; `disable` for none (the default is Coder's list)",
    env: coder("CODER_DERP_SERVER_STUN_ADDRESSES"),
    env_file: true,
    default: DefaultValue::List(defaults::STUN_ADDRESSES),
    ..BASE
};
pub const DERP_CONFIG_PATH: Def = Def {
    id: "derp_config_path",
    flag: "--derp-config-path",
    value_name: "FILE",
    kind: Kind::Path,
    help: "A DERP map JSON file to merge in",
    env: coder("CODER_DERP_CONFIG_PATH"),
    env_file: true,
    hint: clap::ValueHint::FilePath,
    ..BASE
};
pub const DERP_CONFIG_URL: Def = Def {
    id: "derp_config_url",
    flag: "--derp-config-url",
    value_name: "URL",
    help: "A DERP map JSON URL to merge in",
    env: coder("CODER_DERP_CONFIG_URL"),
    env_file: true,
    hint: clap::ValueHint::Url,
    ..BASE
};
pub const BLOCK_DIRECT: Def = Def {
    id: "block_direct_connections",
    flag: "--block-direct-connections",
    value_name: "BOOL",
    help: "Direct connections are off: no STUN nodes in the DERP map",
    env: coder("CODER_BLOCK_DIRECT"),
    env_file: true,
    default: DefaultValue::Bool(defaults::BLOCK_DIRECT),
    ..BASE
};
pub const HTTP_ADDRESS: Def = Def {
    id: "http_address",
    flag: "--http-address",
    value_name: "HOST:PORT",
    help: "coderd's own HTTP listener (as in Coder's config, e.g. 0.0.0.0:3000): the Access URL \
           section also asks it for /healthz, to tell a down coderd from a broken path to it",
    env: coder("CODER_HTTP_ADDRESS"),
    env_file: true,
    ..BASE
};
pub const TLS_ADDRESS: Def = Def {
    id: "tls_address",
    flag: "--tls-address",
    value_name: "HOST:PORT",
    help: "coderd's own TLS listener (e.g. 0.0.0.0:3443); probed instead of the HTTP listener, \
           which only redirects once TLS is on, unless only --http-address is typed on the \
           command line (the certificate is not verified: it is issued for the access URL's name)",
    env: coder("CODER_TLS_ADDRESS"),
    env_file: true,
    ..BASE
};
pub const CA_CERT: Def = Def {
    id: "ca_cert",
    flag: "--ca-cert",
    value_name: "FILE",
    kind: Kind::Paths,
    help: "Extra PEM trust roots for HTTPS, WSS and DERP over TLS (repeatable)",
    hint: clap::ValueHint::FilePath,
    ..BASE
};

pub const ONLY: Def = Def {
    id: "only",
    flag: "--only",
    value_name: "SECTIONS",
    kind: Kind::Sections,
    heading: Heading::Sections,
    help: "Run only these sections (comma separated)",
    conflicts_with: Some("skip"),
    ..BASE
};
pub const SKIP: Def = Def {
    id: "skip",
    flag: "--skip",
    value_name: "SECTIONS",
    kind: Kind::Sections,
    heading: Heading::Sections,
    help: "Skip these sections (comma separated)",
    ..BASE
};
pub const DISMISS: Def = Def {
    id: "dismiss",
    flag: "--dismiss",
    value_name: "SECTIONS",
    kind: Kind::Sections,
    heading: Heading::Sections,
    help: "Sections whose findings are shown but do not fail the run (adds to the deployment's \
           own dismissed list)",
    ..BASE
};

pub const DB_THRESHOLD: Def = Def {
    id: "health_check_threshold_database",
    flag: "--health-check-threshold-database",
    value_name: "DUR",
    heading: Heading::Thresholds,
    help: "Median database ping at or above this is a warning (EDB02); 1ms or more, or 0 for \
           the default",
    env: coder("CODER_HEALTH_CHECK_THRESHOLD_DATABASE"),
    env_file: true,
    default: DefaultValue::Duration(defaults::DB_THRESHOLD),
    ..BASE
};
pub const CERT_EXPIRY_WARNING: Def = Def {
    id: "cert_expiry_warning",
    flag: "--cert-expiry-warning",
    value_name: "DUR",
    heading: Heading::Thresholds,
    help: "A TLS certificate expiring within this is a warning (ETLS01); Go durations, plus days \
           (14d)",
    default: DefaultValue::Days(defaults::CERT_EXPIRY_WARNING),
    ..BASE
};
pub const DB_CONNECTIONS_WARNING: Def = Def {
    id: "db_connections_warning",
    flag: "--db-connections-warning",
    value_name: "PERCENT",
    heading: Heading::Thresholds,
    help: "Database connections in use at or above this share of max_connections are a warning \
           (80% or 80; 1 to 100)",
    default: DefaultValue::Percent(defaults::DB_CONNECTIONS_WARNING_PERCENT),
    ..BASE
};
pub const JOB_PENDING_WARNING: Def = Def {
    id: "job_pending_warning",
    flag: "--job-pending-warning",
    value_name: "DUR",
    heading: Heading::Thresholds,
    help: "A provisioner job pending for longer than this is a warning",
    default: DefaultValue::Duration(defaults::JOB_PENDING_WARNING),
    ..BASE
};
pub const LICENSE_EXPIRY_WARNING: Def = Def {
    id: "license_expiry_warning",
    flag: "--license-expiry-warning",
    value_name: "DUR",
    heading: Heading::Thresholds,
    help: "A license expiring within this is a warning; Go durations, plus days (30d)",
    default: DefaultValue::Days(defaults::LICENSE_EXPIRY_WARNING),
    ..BASE
};

pub const JSON: Def = Def {
    id: "json",
    flag: "--json",
    kind: Kind::Switch,
    heading: Heading::Output,
    help: "Write the JSON report to stdout, nothing else (short for --format json)",
    ..BASE
};
pub const FORMAT: Def = Def {
    id: "format",
    flag: "--format",
    value_name: "FORMAT",
    kind: Kind::Choice(&[
        ("table", "The table for people (the default)"),
        ("json", "Coder's JSON report (same as --json)"),
        (
            "prometheus",
            "Prometheus text exposition (node_exporter's textfile collector reads it)",
        ),
        (
            "junit",
            "JUnit XML, one test case per section, for CI test reports",
        ),
    ]),
    heading: Heading::Output,
    help: "Output format: table, json, prometheus or junit",
    default: DefaultValue::Text("table"),
    ..BASE
};
pub const OUTPUT: Def = Def {
    id: "output",
    flag: "--output",
    value_name: "FILE",
    kind: Kind::Path,
    heading: Heading::Output,
    help: "Write the report to FILE (atomically: a temporary file in the same folder, then \
           rename) instead of stdout",
    hint: clap::ValueHint::FilePath,
    ..BASE
};
pub const WATCH: Def = Def {
    id: "watch",
    flag: "--watch",
    value_name: "DUR",
    heading: Heading::Output,
    help: "Run again every DUR until Ctrl-C or SIGTERM; exit with the last run's exit code",
    ..BASE
};
pub const FAIL_ON: Def = Def {
    id: "fail_on",
    flag: "--fail-on",
    value_name: "LEVEL",
    kind: Kind::Choice(&[("error", ""), ("warning", "")]),
    heading: Heading::Output,
    help: "The lowest severity that makes the exit code 1",
    default: DefaultValue::Text("error"),
    ..BASE
};
pub const COLOR: Def = Def {
    id: "color",
    flag: "--color",
    value_name: "WHEN",
    kind: Kind::Choice(&[("auto", ""), ("always", ""), ("never", "")]),
    heading: Heading::Output,
    help: "When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with auto)",
    default: DefaultValue::Text("auto"),
    ..BASE
};
pub const VERBOSE: Def = Def {
    id: "verbose",
    flag: "--verbose",
    short: Some('v'),
    kind: Kind::Switch,
    heading: Heading::Output,
    help: "More detail per section (each ping, DERP node, proxy, daemon)",
    ..BASE
};
pub const DOCS_URL: Def = Def {
    id: "docs_url",
    flag: "--docs-url",
    value_name: "URL",
    heading: Heading::Output,
    help: "Base URL for docs links",
    env: coder("CODER_DOCS_URL"),
    env_file: true,
    default: DefaultValue::Text(defaults::DOCS_URL),
    hint: clap::ValueHint::Url,
    ..BASE
};

pub const TIMEOUT: Def = Def {
    id: "timeout",
    flag: "--timeout",
    value_name: "DUR",
    heading: Heading::Configuration,
    help: "Deadline for the run: every section, and all of them together",
    env: Some("HEALTHCHECK_TIMEOUT"),
    default: DefaultValue::Duration(defaults::TIMEOUT),
    ..BASE
};
pub const ENV_FILE: Def = Def {
    id: "env_file",
    flag: "--env-file",
    value_name: "FILE",
    kind: Kind::Path,
    heading: Heading::Configuration,
    help: "Coder's environment file (KEY=value lines); by default the one below, if readable",
    env: Some("HEALTHCHECK_ENV_FILE"),
    default: DefaultValue::Text(defaults::ENV_FILE),
    hint: clap::ValueHint::FilePath,
    ..BASE
};

/// Every `run` setting, in the order `--help` lists them.
pub const RUN: &[Def] = &[
    ACCESS_URL,
    POSTGRES_URL,
    TOKEN,
    DERP_SERVER_ENABLE,
    STUN_ADDRESSES,
    DERP_CONFIG_PATH,
    DERP_CONFIG_URL,
    BLOCK_DIRECT,
    HTTP_ADDRESS,
    TLS_ADDRESS,
    CA_CERT,
    ONLY,
    SKIP,
    DISMISS,
    DB_THRESHOLD,
    CERT_EXPIRY_WARNING,
    DB_CONNECTIONS_WARNING,
    JOB_PENDING_WARNING,
    LICENSE_EXPIRY_WARNING,
    JSON,
    FORMAT,
    OUTPUT,
    WATCH,
    FAIL_ON,
    COLOR,
    VERBOSE,
    DOCS_URL,
    TIMEOUT,
    ENV_FILE,
];

/// `run --help`'s examples and the man page's EXAMPLES: what each does, then the command's
/// lines (shown joined with ` \` continuations, so that each fits 80 columns).
pub const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "On the Coder host, over SSH: the env file, the database and coderd's listener are found \
         by themselves",
        &["ssh coder-host sudo healthcheck run"],
    ),
    (
        "A CI gate: warnings fail the job too, and the report is kept as JUnit XML",
        &[
            "healthcheck run --access-url https://coder.example.com --fail-on warning",
            "--format junit --output healthcheck.xml",
        ],
    ),
    (
        "The names of the sections that are not OK, with jq",
        &[
            "healthcheck run --json |",
            "jq -r 'to_entries[] | select(.value.severity? and .value.severity != \"ok\") | .key'",
        ],
    ),
    (
        "Metrics for node_exporter's textfile collector (the packaged timer does this)",
        &[
            "healthcheck run --format prometheus",
            "--output /var/lib/prometheus/node-exporter/coder_healthcheck.prom",
        ],
    ),
    (
        "Watch a deployment while you change it; one line per change when not on a terminal",
        &["healthcheck run --watch 10s"],
    ),
];

/// An example's command as typed: its lines joined with shell continuations.
pub fn example_command(lines: &[&str]) -> String {
    lines.join(" \\\n      ")
}

impl Def {
    /// The help text as shown: the declared text, then the default and where else the value
    /// may come from.
    pub fn shown_help(&self) -> String {
        let mut help = self.help.to_string();
        if let Some(default) = self.default.text() {
            help.push_str(&format!(" [default: {default}]"));
        }
        if self.kind == Kind::Sections {
            help.push_str(&format!(
                " [sections: {}]",
                crate::report::SectionId::cli_names()
            ));
        }
        match (self.env, self.login) {
            (Some(var), Some(login)) => help.push_str(&format!(
                " [env: {var}; else `coder login`'s {}]",
                login.file_name()
            )),
            (Some(var), None) => help.push_str(&format!(" [env: {var}]")),
            (None, _) => {}
        }
        help
    }

    /// The clap argument.
    pub fn arg(&self) -> clap::Arg {
        use clap::builder::{PossibleValue, PossibleValuesParser};
        use clap::ArgAction;
        let mut arg = clap::Arg::new(self.id)
            .long(&self.flag[2..])
            .help(self.shown_help())
            .help_heading(self.heading.title())
            .value_hint(self.hint);
        if let Some(short) = self.short {
            arg = arg.short(short);
        }
        if let Some(other) = self.conflicts_with {
            arg = arg.conflicts_with(other);
        }
        if self.kind != Kind::Switch {
            arg = arg.value_name(self.value_name);
        }
        match self.kind {
            Kind::Value => arg.action(ArgAction::Set),
            Kind::Path => arg
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(std::path::PathBuf)),
            Kind::Paths => arg
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(std::path::PathBuf)),
            Kind::Switch => arg.action(ArgAction::SetTrue),
            Kind::Sections => arg
                .action(ArgAction::Append)
                .hide_possible_values(true)
                .value_delimiter(',')
                .value_parser(SectionParser),
            Kind::Choice(choices) => arg
                .action(ArgAction::Set)
                .hide_possible_values(true)
                .value_parser(PossibleValuesParser::new(choices.iter().map(
                    |(name, help)| {
                        let value = PossibleValue::new(*name);
                        if help.is_empty() {
                            value
                        } else {
                            value.help(*help)
                        }
                    },
                ))),
        }
    }
}

/// Section names: parsed by `SectionId`'s own rules (Coder's names too), offered to completion.
#[derive(Clone, Copy)]
struct SectionParser;

impl clap::builder::TypedValueParser for SectionParser {
    type Value = crate::report::SectionId;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value.to_string_lossy();
        text.parse().map_err(|why: String| {
            let flag = arg.and_then(|a| a.get_long()).unwrap_or("sections");
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for --{flag}: {why}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(crate::report::SectionId::ALL.into_iter().map(
            |id| clap::builder::PossibleValue::new(id.cli_name()).help(id.title()),
        )))
    }
}

/// `healthcheck run`'s command line as parsed. Its arguments are built from `settings::defs`,
/// and resolution reads them through it.
#[derive(Clone, Debug)]
pub struct RunArgs {
    pub matches: clap::ArgMatches,
}

impl clap::FromArgMatches for RunArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(RunArgs {
            matches: matches.clone(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.matches = matches.clone();
        Ok(())
    }
}

impl clap::Args for RunArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(RUN.iter().map(Def::arg))
            .after_long_help(examples_help())
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The examples as `run --help` shows them.
fn examples_help() -> String {
    let mut text = String::from("Examples:\n");
    for (what, command) in EXAMPLES {
        let command = example_command(command);
        text.push_str(&format!("  {what}:\n    $ {command}\n\n"));
    }
    text.truncate(text.trim_end().len());
    text
}

/// The definition of a `run` setting by clap id.
pub fn by_id(id: &str) -> Option<&'static Def> {
    RUN.iter().find(|def| def.id == id)
}
