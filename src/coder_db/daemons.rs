//! `provisioner_daemons`: every row, with its age by the database's clock.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{opt, DbError, Reader};
use crate::report::provisioner_daemons::STALE_INTERVAL;

/// Coder's stale interval in microseconds, as the database clock measures ages.
pub const STALE_INTERVAL_MICROS: i64 = STALE_INTERVAL.as_micros() as i64;

impl Reader<'_, '_> {
    /// Every provisioner daemon, ordered by name byte-wise, with its age by the database clock.
    pub fn provisioner_daemons(&mut self) -> Result<Daemons, DbError> {
        let columns = self.columns("provisioner_daemons")?;
        self.require(&columns, &["id", "created_at", "name", "provisioners"])?;
        let mut select = vec![
            "id".to_string(),
            "created_at".to_string(),
            "name::text AS name".to_string(),
            "provisioners::text[] AS provisioners".to_string(),
        ];
        let optional = [
            ("tags", "tags::jsonb AS tags"),
            ("last_seen_at", "last_seen_at"),
            ("version", "version::text AS version"),
            ("api_version", "api_version::text AS api_version"),
            ("organization_id", "organization_id"),
            ("key_id", "key_id"),
        ];
        let missing_columns = columns.select_optional(&optional, &mut select);
        if columns.has("last_seen_at") {
            // Staleness by the database's clock, so a skewed host clock cannot fake it.
            select.push(
                "(extract(epoch FROM (now() - last_seen_at)) * 1000000)::bigint AS age_us"
                    .to_string(),
            );
        }
        let sql = format!(
            "SELECT {} FROM {} ORDER BY name COLLATE \"C\"",
            select.join(", "),
            columns.qualified()
        );
        let rows = self.rows(&sql, &[])?;
        let has = |c: &str| columns.has(c);
        let mut daemons = Vec::with_capacity(rows.len());
        for row in &rows {
            let get_err =
                |e: postgres::Error| DbError::Query(format!("read provisioner_daemons: {e}"));
            let tags: Option<serde_json::Value> = if has("tags") {
                row.try_get("tags").map_err(get_err)?
            } else {
                None
            };
            daemons.push(DaemonRow {
                id: row.try_get("id").map_err(get_err)?,
                created_at: row.try_get("created_at").map_err(get_err)?,
                name: row.try_get("name").map_err(get_err)?,
                provisioners: row
                    .try_get::<_, Option<Vec<Option<String>>>>("provisioners")
                    .map_err(get_err)?
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect(),
                tags,
                last_seen_at: opt(row, has("last_seen_at"), "last_seen_at").map_err(get_err)?,
                age_micros: opt(row, has("last_seen_at"), "age_us").map_err(get_err)?,
                version: opt(row, has("version"), "version").map_err(get_err)?,
                api_version: opt(row, has("api_version"), "api_version").map_err(get_err)?,
                organization_id: opt(row, has("organization_id"), "organization_id")
                    .map_err(get_err)?,
                key_id: opt(row, has("key_id"), "key_id").map_err(get_err)?,
            });
        }
        Ok(Daemons {
            rows: daemons,
            has_last_seen_at: has("last_seen_at"),
            has_version: has("version"),
            has_api_version: has("api_version"),
            missing_columns,
        })
    }
}

/// One `provisioner_daemons` row. `None` in a column an older schema lacks means unknown.
#[derive(Clone, Debug)]
pub struct DaemonRow {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub name: String,
    pub provisioners: Vec<String>,
    pub tags: Option<serde_json::Value>,
    pub last_seen_at: Option<OffsetDateTime>,
    /// `now() - last_seen_at` in microseconds, by the database clock.
    pub age_micros: Option<i64>,
    pub version: Option<String>,
    pub api_version: Option<String>,
    pub organization_id: Option<Uuid>,
    pub key_id: Option<Uuid>,
}

impl DaemonRow {
    /// Seen within Coder's stale interval (inclusive); never-seen daemons are not recent.
    pub fn is_recent(&self) -> bool {
        self.last_seen_at.is_some() && self.age_micros.is_some_and(is_recent_age)
    }
}

/// Coder keeps a daemon when `now - last_seen_at <= 90s`: the boundary itself is recent.
pub fn is_recent_age(age_micros: i64) -> bool {
    age_micros <= STALE_INTERVAL_MICROS
}

#[derive(Clone, Debug)]
pub struct Daemons {
    pub rows: Vec<DaemonRow>,
    pub has_last_seen_at: bool,
    pub has_version: bool,
    pub has_api_version: bool,
    /// Optional columns this schema generation lacks.
    pub missing_columns: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_interval_is_inclusive() {
        assert!(is_recent_age(0));
        assert!(
            is_recent_age(-5_000_000),
            "a clock ahead of the database still counts"
        );
        assert!(is_recent_age(90_000_000));
        assert!(!is_recent_age(90_000_001));
        assert!(!is_recent_age(91_000_000));
    }
}
