//! The clap definition: the one source for `--help`, the shell completions and the man pages.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::settings::defs;

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
        /// A code such as EDB02 (any letter case), or `diagnosis` for the diagnosis rules
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

pub use crate::settings::defs::RunArgs;

/// The whole command line. `run`'s arguments come from `settings::defs`; the `--docs-url` of
/// `explain` and `codes` is shown as `run`'s is.
pub fn command() -> clap::Command {
    let docs_help = defs::DOCS_URL.shown_help();
    <Cli as clap::CommandFactory>::command()
        .mut_subcommand("explain", |c| {
            c.mut_arg("docs_url", |a| a.help(docs_help.clone()))
        })
        .mut_subcommand("codes", |c| {
            c.mut_arg("docs_url", |a| a.help(docs_help.clone()))
        })
}

/// The `run` subcommand alone.
pub fn run_command() -> clap::Command {
    command()
        .find_subcommand("run")
        .cloned()
        .expect("the run subcommand is defined")
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
