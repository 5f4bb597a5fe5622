//! The six sections of a health report and the names each one goes by.

use std::fmt;
use std::str::FromStr;

/// One section of the report, in the order `healthcheck run` executes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionId {
    AccessUrl,
    Websocket,
    Database,
    Derp,
    WorkspaceProxy,
    ProvisionerDaemons,
}

impl SectionId {
    /// Execution order (cli.md: sections run in sequence).
    pub const ALL: [SectionId; 6] = [
        SectionId::AccessUrl,
        SectionId::Websocket,
        SectionId::Database,
        SectionId::Derp,
        SectionId::WorkspaceProxy,
        SectionId::ProvisionerDaemons,
    ];

    /// The name used on the command line (`--only`, `--skip`, `--dismiss`).
    pub fn cli_name(self) -> &'static str {
        match self {
            SectionId::AccessUrl => "access-url",
            SectionId::Websocket => "websocket",
            SectionId::Database => "database",
            SectionId::Derp => "derp",
            SectionId::WorkspaceProxy => "workspace-proxy",
            SectionId::ProvisionerDaemons => "provisioner-daemons",
        }
    }

    /// The name Coder stores in `health_settings.dismissed_healthchecks`.
    pub fn coder_name(self) -> &'static str {
        match self {
            SectionId::AccessUrl => "AccessURL",
            SectionId::Websocket => "Websocket",
            SectionId::Database => "Database",
            SectionId::Derp => "DERP",
            SectionId::WorkspaceProxy => "WorkspaceProxy",
            SectionId::ProvisionerDaemons => "ProvisionerDaemons",
        }
    }

    /// The heading shown to people.
    pub fn title(self) -> &'static str {
        match self {
            SectionId::AccessUrl => "Access URL",
            SectionId::Websocket => "Websocket",
            SectionId::Database => "Database",
            SectionId::Derp => "DERP and STUN",
            SectionId::WorkspaceProxy => "Workspace Proxies",
            SectionId::ProvisionerDaemons => "Provisioner Daemons",
        }
    }

    /// The word Coder uses in `EUNKNOWN: <word> report panic: ...`.
    pub fn panic_label(self) -> &'static str {
        match self {
            SectionId::AccessUrl => "access url",
            SectionId::Websocket => "websocket",
            SectionId::Database => "database",
            SectionId::Derp => "derp",
            SectionId::WorkspaceProxy => "proxy",
            SectionId::ProvisionerDaemons => "provisioner daemon",
        }
    }

    /// Parses a name from Coder's dismissed list; unknown names give `None`.
    pub fn from_coder_name(name: &str) -> Option<SectionId> {
        SectionId::ALL.into_iter().find(|s| s.coder_name() == name)
    }

    pub fn cli_names() -> String {
        SectionId::ALL.map(SectionId::cli_name).join(", ")
    }
}

impl fmt::Display for SectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

impl FromStr for SectionId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        SectionId::ALL
            .into_iter()
            .find(|id| id.cli_name() == wanted || id.coder_name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown section {s:?}; expected one of: {}",
                    SectionId::cli_names()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_and_coder_names() {
        assert_eq!("access-url".parse(), Ok(SectionId::AccessUrl));
        assert_eq!("AccessURL".parse(), Ok(SectionId::AccessUrl));
        assert_eq!("workspace_proxy".parse(), Ok(SectionId::WorkspaceProxy));
        assert_eq!(SectionId::from_coder_name("DERP"), Some(SectionId::Derp));
        assert!("pubsub"
            .parse::<SectionId>()
            .unwrap_err()
            .contains("expected one of"));
    }
}
