//! The one list of sections. Everything that enumerates sections (the runner, `--only`/`--skip`,
//! the spinner, the JSON, the renderers, Coder's dismissed list) reads `SECTIONS`.

use std::fmt;
use std::str::FromStr;

/// One section of the report. The variant order is the order sections are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionId {
    AccessUrl,
    Websocket,
    Database,
    Derp,
    WorkspaceProxy,
    ProvisionerDaemons,
    /// Ours, not Coder's: the TLS certificates of every endpoint the run reaches.
    Certificates,
}

/// The names one section goes by.
#[derive(Debug)]
pub struct SectionInfo {
    pub id: SectionId,
    /// On the command line (`--only`, `--skip`, `--dismiss`).
    pub cli_name: &'static str,
    /// The section's key in the JSON report (and the `section` label of metrics).
    pub json_key: &'static str,
    /// In Coder's `health_settings.dismissed_healthchecks`.
    pub coder_name: &'static str,
    /// The heading shown to people.
    pub title: &'static str,
    /// The word Coder uses in `EUNKNOWN: <word> report panic: ...`.
    pub panic_label: &'static str,
    /// One of Coder's sections: only these make up the top-level `healthy` and `severity`, and
    /// only these can be named in Coder's dismissed list.
    pub coders: bool,
}

/// Every section, in display order.
pub const SECTIONS: &[SectionInfo] = &[
    SectionInfo {
        id: SectionId::AccessUrl,
        cli_name: "access-url",
        json_key: "access_url",
        coder_name: "AccessURL",
        title: "Access URL",
        panic_label: "access url",
        coders: true,
    },
    SectionInfo {
        id: SectionId::Websocket,
        cli_name: "websocket",
        json_key: "websocket",
        coder_name: "Websocket",
        title: "Websocket",
        panic_label: "websocket",
        coders: true,
    },
    SectionInfo {
        id: SectionId::Database,
        cli_name: "database",
        json_key: "database",
        coder_name: "Database",
        title: "Database",
        panic_label: "database",
        coders: true,
    },
    SectionInfo {
        id: SectionId::Derp,
        cli_name: "derp",
        json_key: "derp",
        coder_name: "DERP",
        title: "DERP and STUN",
        panic_label: "derp",
        coders: true,
    },
    SectionInfo {
        id: SectionId::WorkspaceProxy,
        cli_name: "workspace-proxy",
        json_key: "workspace_proxy",
        coder_name: "WorkspaceProxy",
        title: "Workspace Proxies",
        panic_label: "proxy",
        coders: true,
    },
    SectionInfo {
        id: SectionId::ProvisionerDaemons,
        cli_name: "provisioner-daemons",
        json_key: "provisioner_daemons",
        coder_name: "ProvisionerDaemons",
        title: "Provisioner Daemons",
        panic_label: "provisioner daemon",
        coders: true,
    },
    SectionInfo {
        id: SectionId::Certificates,
        cli_name: "certificates",
        json_key: "certificates",
        coder_name: "",
        title: "TLS Certificates",
        panic_label: "certificates",
        coders: false,
    },
];

impl SectionId {
    /// Every section, in display order.
    pub const ALL: [SectionId; SECTIONS.len()] = {
        let mut all = [SectionId::AccessUrl; SECTIONS.len()];
        let mut i = 0;
        while i < SECTIONS.len() {
            all[i] = SECTIONS[i].id;
            i += 1;
        }
        all
    };

    pub fn info(self) -> &'static SectionInfo {
        // SECTIONS is in variant order (checked by a test), so the discriminant indexes it.
        &SECTIONS[self as usize]
    }

    pub fn cli_name(self) -> &'static str {
        self.info().cli_name
    }

    pub fn json_key(self) -> &'static str {
        self.info().json_key
    }

    pub fn coder_name(self) -> &'static str {
        self.info().coder_name
    }

    pub fn title(self) -> &'static str {
        self.info().title
    }

    pub fn panic_label(self) -> &'static str {
        self.info().panic_label
    }

    pub fn is_coders(self) -> bool {
        self.info().coders
    }

    /// Parses a name from Coder's dismissed list; unknown names give `None`.
    pub fn from_coder_name(name: &str) -> Option<SectionId> {
        SECTIONS
            .iter()
            .find(|s| s.coders && s.coder_name == name)
            .map(|s| s.id)
    }

    pub fn cli_names() -> String {
        SECTIONS
            .iter()
            .map(|s| s.cli_name)
            .collect::<Vec<_>>()
            .join(", ")
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
        SECTIONS
            .iter()
            .find(|info| {
                info.cli_name == wanted
                    || (info.coders && info.coder_name.eq_ignore_ascii_case(s.trim()))
            })
            .map(|info| info.id)
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
    fn the_table_is_in_variant_order() {
        for (i, info) in SECTIONS.iter().enumerate() {
            assert_eq!(info.id as usize, i, "{info:?}");
        }
    }

    #[test]
    fn parses_cli_and_coder_names() {
        assert_eq!("access-url".parse(), Ok(SectionId::AccessUrl));
        assert_eq!("AccessURL".parse(), Ok(SectionId::AccessUrl));
        assert_eq!("workspace_proxy".parse(), Ok(SectionId::WorkspaceProxy));
        assert_eq!(SectionId::from_coder_name("DERP"), Some(SectionId::Derp));
        assert_eq!("certificates".parse(), Ok(SectionId::Certificates));
        assert_eq!(SectionId::from_coder_name(""), None);
        assert!("pubsub"
            .parse::<SectionId>()
            .unwrap_err()
            .contains("expected one of"));
    }
}
