//! `site_configs`: only the keys the health check needs (others hold secrets), and Coder's
//! dismissed sections read leniently from `health_settings`.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{DbError, Reader};
use crate::report::SectionId;

impl Reader<'_, '_> {
    /// The few `site_configs` keys the health check needs, selected by name (others hold
    /// secrets).
    pub fn site_configs(&mut self) -> Result<SiteConfigs, DbError> {
        let columns = self.columns("site_configs")?;
        self.require(&columns, &["key", "value"])?;
        let sql = format!(
            "SELECT key::text, value::text FROM {} WHERE key IN ('health_settings', \
             'deployment_id', 'default_proxy_display_name', 'default_proxy_icon_url')",
            columns.qualified()
        );
        let mut configs = SiteConfigs::default();
        for row in self.rows(&sql, &[])? {
            let key: String = row.try_get(0).map_err(|e| self.pg(e))?;
            let value: Option<String> = row.try_get(1).map_err(|e| self.pg(e))?;
            match key.as_str() {
                "health_settings" => configs.health_settings = value,
                "deployment_id" => configs.deployment_id = value,
                "default_proxy_display_name" => configs.default_proxy_display_name = value,
                "default_proxy_icon_url" => configs.default_proxy_icon_url = value,
                _ => {}
            }
        }
        Ok(configs)
    }
}

/// The `site_configs` values the health check reads; `None` when the row is missing.
#[derive(Clone, Debug, Default)]
pub struct SiteConfigs {
    pub health_settings: Option<String>,
    pub deployment_id: Option<String>,
    pub default_proxy_display_name: Option<String>,
    pub default_proxy_icon_url: Option<String>,
}

/// Coder's defaults for the primary region when the rows are missing.
pub const DEFAULT_PROXY_DISPLAY_NAME: &str = "Default";
pub const DEFAULT_PROXY_ICON_URL: &str = "/emojis/1f3e1.png";

impl SiteConfigs {
    /// The deployment id, or the nil UUID when absent or invalid (as coderd does).
    pub fn deployment_uuid(&self) -> Uuid {
        self.deployment_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
            .unwrap_or(Uuid::nil())
    }

    pub fn proxy_display_name(&self) -> String {
        non_empty_or(&self.default_proxy_display_name, DEFAULT_PROXY_DISPLAY_NAME)
    }

    pub fn proxy_icon_url(&self) -> String {
        non_empty_or(&self.default_proxy_icon_url, DEFAULT_PROXY_ICON_URL)
    }
}

fn non_empty_or(value: &Option<String>, default: &str) -> String {
    match value.as_deref() {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => default.to_string(),
    }
}

/// The sections dismissed by `health_settings`, read leniently: a missing row, invalid JSON or
/// a null list dismiss nothing. The note says what was odd, when something was.
pub fn parse_dismissed(raw: Option<&str>) -> (BTreeSet<SectionId>, Option<String>) {
    let mut dismissed = BTreeSet::new();
    let Some(raw) = raw else {
        return (dismissed, None);
    };
    let value: serde_json::Value = match serde_json::from_str(raw) {
        Ok(value) => value,
        Err(e) => {
            return (
                dismissed,
                Some(format!(
                    "health_settings is not valid JSON ({e}); nothing dismissed"
                )),
            )
        }
    };
    let list = match value.get("dismissed_healthchecks") {
        None | Some(serde_json::Value::Null) => return (dismissed, None),
        Some(serde_json::Value::Array(list)) => list,
        Some(other) => {
            return (
                dismissed,
                Some(format!(
                    "health_settings.dismissed_healthchecks is not a list ({other}); \
                 nothing dismissed"
                )),
            )
        }
    };
    let mut unknown = Vec::new();
    for entry in list {
        match entry.as_str().and_then(SectionId::from_coder_name) {
            Some(id) => {
                dismissed.insert(id);
            }
            None => unknown.push(entry.to_string()),
        }
    }
    let note = (!unknown.is_empty()).then(|| {
        format!(
            "health_settings names unknown sections, ignored: {}",
            unknown.join(", ")
        )
    });
    (dismissed, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dismissed_sections_are_read_leniently() {
        let (set, note) = parse_dismissed(Some(
            r#"{"dismissed_healthchecks":["DERP","ProvisionerDaemons"]}"#,
        ));
        assert_eq!(set, [SectionId::Derp, SectionId::ProvisionerDaemons].into());
        assert!(note.is_none());
        for quiet in [
            None,
            Some("{}"),
            Some(r#"{"dismissed_healthchecks":null}"#),
            Some(r#"{"dismissed_healthchecks":[]}"#),
        ] {
            let (set, note) = parse_dismissed(quiet);
            assert!(set.is_empty(), "{quiet:?}");
            assert!(note.is_none(), "{quiet:?}");
        }
        let (set, note) = parse_dismissed(Some("not json"));
        assert!(set.is_empty());
        assert!(note.unwrap().contains("not valid JSON"));
        let (set, note) = parse_dismissed(Some(
            r#"{"dismissed_healthchecks":["Pubsub","Database",3]}"#,
        ));
        assert_eq!(set, [SectionId::Database].into());
        assert!(note.unwrap().contains("\"Pubsub\", 3"));
        let (set, note) = parse_dismissed(Some(r#"{"dismissed_healthchecks":"DERP"}"#));
        assert!(set.is_empty());
        assert!(note.is_some());
    }

    #[test]
    fn primary_region_defaults() {
        let configs = SiteConfigs::default();
        assert_eq!(configs.deployment_uuid(), Uuid::nil());
        assert_eq!(configs.proxy_display_name(), "Default");
        assert_eq!(configs.proxy_icon_url(), "/emojis/1f3e1.png");
        let configs = SiteConfigs {
            deployment_id: Some("6f1b2c3d-0000-4000-8000-000000000001".into()),
            default_proxy_display_name: Some("HQ".into()),
            ..SiteConfigs::default()
        };
        assert_eq!(
            configs.deployment_uuid().to_string(),
            "6f1b2c3d-0000-4000-8000-000000000001"
        );
        assert_eq!(configs.proxy_display_name(), "HQ");
        assert_eq!(
            SiteConfigs {
                deployment_id: Some("junk".into()),
                ..SiteConfigs::default()
            }
            .deployment_uuid(),
            Uuid::nil()
        );
    }
}
