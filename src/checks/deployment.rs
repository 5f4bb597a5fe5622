//! Facts about the deployment that several sections need, fetched once as the run starts: the
//! server's version from `/api/v2/buildinfo` (no session needed), and the deployment's own list of
//! dismissed sections (Coder's health settings, read from its database). Both are best effort:
//! a failure here never becomes a finding of its own (the sections report theirs).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;

use crate::coder_db::{parse_dismissed, SharedDb};
use crate::eventually::Eventually;
use crate::net::deadline::Deadline;
use crate::net::Net;
use crate::report::SectionId;
use crate::settings::AccessUrl;

/// The server's build, as `/api/v2/buildinfo` gives it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BuildInfo {
    /// e.g. `v2.18.1+abc1234`.
    pub version: Option<String>,
    /// The provisioner API version the server speaks, e.g. `1.20` (absent on older servers).
    pub provisioner_api_version: Option<String>,
    /// The access URL coderd advertises (its CODER_ACCESS_URL).
    pub dashboard_url: Option<String>,
}

/// The deployment's own dismissed sections, and anything odd about reading them.
#[derive(Clone, Debug, Default)]
pub struct Dismissed {
    pub sections: BTreeSet<SectionId>,
    pub note: Option<String>,
}

/// Deployment facts on their way; cheap to clone.
#[derive(Clone)]
pub struct Deployment {
    build: Arc<Eventually<Result<BuildInfo, String>>>,
}

impl Deployment {
    /// Starts fetching the build info under the run's deadline.
    pub fn start(access_url: Option<AccessUrl>, net: Net, deadline: Deadline) -> Deployment {
        let build = Eventually::spawn(
            "buildinfo",
            move || fetch_buildinfo(access_url.as_ref(), &net, deadline),
            |why| Err(format!("GET /api/v2/buildinfo: internal error: {why}")),
        );
        Deployment { build }
    }

    /// A deployment whose build info is already known (for tests of the sections).
    pub fn known(info: Result<BuildInfo, String>) -> Deployment {
        Deployment {
            build: Eventually::spawn("buildinfo", move || info, Err),
        }
    }

    /// The build info, waiting for it no longer than `deadline`; `Err` says why it is unknown.
    pub fn build_info(&self, deadline: Deadline) -> Result<BuildInfo, String> {
        match self.build.wait(deadline.at()) {
            Some(Ok(info)) => Ok(info.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!(
                "GET /api/v2/buildinfo: no answer within {}",
                deadline.words()
            )),
        }
    }
}

/// Coder's own dismissed sections, from `site_configs` key `health_settings` (read-only).
pub fn load_dismissed(db: Option<&SharedDb>, deadline: Deadline) -> Dismissed {
    let Some(db) = db else {
        return Dismissed {
            note: Some(crate::checks::NO_DATABASE.to_string()),
            ..Dismissed::default()
        };
    };
    match db
        .snapshot(deadline)
        .and_then(|snapshot| snapshot.site_configs)
    {
        Ok(configs) => {
            let (sections, note) = parse_dismissed(configs.health_settings.as_deref());
            Dismissed { sections, note }
        }
        Err(e) => Dismissed {
            note: Some(format!("cannot read the dismissed sections: {e}")),
            ..Dismissed::default()
        },
    }
}

fn fetch_buildinfo(
    access_url: Option<&AccessUrl>,
    net: &Net,
    deadline: Deadline,
) -> Result<BuildInfo, String> {
    let base = access_url
        .ok_or_else(|| "no access URL configured".to_string())?
        .parsed()
        .map_err(str::to_string)?;
    let url = base
        .join("/api/v2/buildinfo")
        .map_err(|e| format!("cannot build the buildinfo URL: {e}"))?;
    let response = net
        .http
        .get(url.as_str(), deadline, &[])
        .map_err(|e| format!("GET /api/v2/buildinfo: {e}"))?;
    if response.status != 200 {
        return Err(format!(
            "GET /api/v2/buildinfo answered {} instead of 200",
            response.status
        ));
    }
    parse_buildinfo(&response.body, response.header("X-Coder-Build-Version"))
}

/// The build info from `/api/v2/buildinfo`'s body; the `X-Coder-Build-Version` header fills in a
/// missing version. Pure, so it is fuzzed (`crate::fuzzing`).
pub fn parse_buildinfo(body: &str, header_version: Option<&str>) -> Result<BuildInfo, String> {
    let mut info: BuildInfo = serde_json::from_str(body).map_err(|e| {
        format!(
            "GET /api/v2/buildinfo: not Coder's build info JSON: {}",
            crate::text::snippet(&e.to_string(), 200)
        )
    })?;
    if info.version.is_none() {
        info.version = header_version.map(str::to_string);
    }
    info.version = info.version.filter(|v| !v.is_empty());
    info.provisioner_api_version = info.provisioner_api_version.filter(|v| !v.is_empty());
    info.dashboard_url = info.dashboard_url.filter(|v| !v.trim().is_empty());
    Ok(info)
}
