//! `workspace_proxies`: the non-deleted rows, never the token hash.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{opt, DbError, Reader};

impl Reader<'_, '_> {
    /// The non-deleted workspace proxies, oldest first (the order of Coder's report).
    pub fn workspace_proxies(&mut self) -> Result<Proxies, DbError> {
        let columns = self.columns("workspace_proxies")?;
        self.require(
            &columns,
            &[
                "id",
                "name",
                "display_name",
                "icon",
                "url",
                "wildcard_hostname",
                "created_at",
                "updated_at",
                "deleted",
            ],
        )?;
        let base = [
            "id",
            "name::text AS name",
            "display_name::text AS display_name",
            "icon::text AS icon",
            "url::text AS url",
            "wildcard_hostname::text AS wildcard_hostname",
            "created_at",
            "updated_at",
            "deleted",
        ];
        let optional = [
            ("region_id", "region_id::integer AS region_id"),
            ("derp_enabled", "derp_enabled"),
            ("derp_only", "derp_only"),
            ("version", "version::text AS version"),
        ];
        let mut select: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        let missing_columns = columns.select_optional(&optional, &mut select);
        let sql = format!(
            "SELECT {} FROM {} WHERE deleted = false ORDER BY created_at",
            select.join(", "),
            columns.qualified()
        );
        let rows = self.rows(&sql, &[])?;
        let has = |c: &str| columns.has(c);
        let mut proxies = Vec::with_capacity(rows.len());
        for row in &rows {
            let get_err =
                |e: postgres::Error| DbError::Query(format!("read workspace_proxies: {e}"));
            proxies.push(ProxyRow {
                id: row.try_get("id").map_err(get_err)?,
                name: row.try_get("name").map_err(get_err)?,
                display_name: row.try_get("display_name").map_err(get_err)?,
                icon: row.try_get("icon").map_err(get_err)?,
                url: row.try_get("url").map_err(get_err)?,
                wildcard_hostname: row.try_get("wildcard_hostname").map_err(get_err)?,
                created_at: row.try_get("created_at").map_err(get_err)?,
                updated_at: row.try_get("updated_at").map_err(get_err)?,
                deleted: row.try_get("deleted").map_err(get_err)?,
                region_id: opt(row, has("region_id"), "region_id").map_err(get_err)?,
                derp_enabled: opt(row, has("derp_enabled"), "derp_enabled").map_err(get_err)?,
                derp_only: opt(row, has("derp_only"), "derp_only").map_err(get_err)?,
                version: opt(row, has("version"), "version").map_err(get_err)?,
            });
        }
        Ok(Proxies {
            rows: proxies,
            missing_columns,
        })
    }
}

/// One non-deleted `workspace_proxies` row (never its token hash).
#[derive(Clone, Debug)]
pub struct ProxyRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub icon: String,
    pub url: String,
    pub wildcard_hostname: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted: bool,
    pub region_id: Option<i32>,
    pub derp_enabled: Option<bool>,
    pub derp_only: Option<bool>,
    pub version: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Proxies {
    pub rows: Vec<ProxyRow>,
    pub missing_columns: Vec<&'static str>,
}
