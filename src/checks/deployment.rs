//! Facts about the deployment that several sections need, gathered once before the sections
//! run: the server's version from `/api/v2/buildinfo` (no session needed) and the deployment's
//! own list of dismissed sections (Coder's health settings, read from its database).

use std::collections::BTreeSet;
use std::time::Instant;

use serde::Deserialize;

use crate::coder_db::{parse_dismissed, CoderDb};
use crate::net::Net;
use crate::section::SectionId;
use crate::settings::Settings;

#[derive(Clone, Debug, Default)]
pub struct Deployment {
    /// The server's build version, e.g. `v2.18.1+abc1234`.
    pub coder_version: Option<String>,
    /// The provisioner API version the server speaks, e.g. `1.20` (absent on older servers).
    pub provisioner_api_version: Option<String>,
    /// Why the version is unknown, when it is.
    pub buildinfo_error: Option<String>,
    /// Sections the deployment itself has dismissed (Coder's health settings).
    pub dismissed: BTreeSet<SectionId>,
    /// Why the dismissed list could not be read, or what was odd in it. Reading it is best
    /// effort: a failure here never becomes a finding (the sections report their own).
    pub dismissed_note: Option<String>,
}

#[derive(Deserialize)]
struct BuildInfo {
    version: Option<String>,
    provisioner_api_version: Option<String>,
}

impl Deployment {
    pub fn discover(settings: &Settings, net: &Net) -> Deployment {
        let mut deployment = Deployment::default();
        // The two lookups are independent; a hung server must not hold up the database read.
        let (buildinfo, dismissed) = std::thread::scope(|scope| {
            let dismissed = scope.spawn(|| load_dismissed(settings));
            let buildinfo = fetch_buildinfo(settings, net);
            let dismissed = dismissed
                .join()
                .unwrap_or_else(|_| Err("reading the dismissed sections failed".to_string()));
            (buildinfo, dismissed)
        });
        match buildinfo {
            Ok(info) => {
                deployment.coder_version = info.version.filter(|v| !v.is_empty());
                deployment.provisioner_api_version =
                    info.provisioner_api_version.filter(|v| !v.is_empty());
            }
            Err(e) => deployment.buildinfo_error = Some(e),
        }
        match dismissed {
            Ok((dismissed, note)) => {
                deployment.dismissed = dismissed;
                deployment.dismissed_note = note;
            }
            Err(e) => deployment.dismissed_note = Some(e),
        }
        deployment
    }
}

/// Coder's own dismissed sections, from `site_configs` key `health_settings` (read-only).
fn load_dismissed(settings: &Settings) -> Result<(BTreeSet<SectionId>, Option<String>), String> {
    let setting = settings
        .postgres
        .as_ref()
        .ok_or_else(|| "no database configured".to_string())?;
    let deadline = Instant::now() + settings.timeout;
    let configs = CoderDb::connect(setting, deadline)
        .and_then(|mut db| db.read(deadline, |r| r.site_configs()))
        .map_err(|e| format!("cannot read the dismissed sections: {e}"))?;
    Ok(parse_dismissed(configs.health_settings.as_deref()))
}

fn fetch_buildinfo(settings: &Settings, net: &Net) -> Result<BuildInfo, String> {
    let raw = settings
        .access_url
        .as_deref()
        .ok_or_else(|| "no access URL configured".to_string())?;
    let base = crate::checks::access_url::parse_access_url(raw)?;
    let url = base
        .join("/api/v2/buildinfo")
        .map_err(|e| format!("cannot build the buildinfo URL: {e}"))?;
    let response = net
        .http
        .get(url.as_str(), Instant::now() + settings.timeout, &[])
        .map_err(|e| format!("GET /api/v2/buildinfo: {e}"))?;
    if response.status != 200 {
        return Err(format!(
            "GET /api/v2/buildinfo answered {} instead of 200",
            response.status
        ));
    }
    let mut info: BuildInfo = serde_json::from_str(&response.body)
        .map_err(|e| format!("GET /api/v2/buildinfo: not Coder's build info JSON: {e}"))?;
    if info.version.is_none() {
        info.version = response.header("X-Coder-Build-Version").map(str::to_string);
    }
    Ok(info)
}
