//! A read-only view of Coder's schema. Every query runs inside a READ ONLY transaction on a
//! connection whose default is read-only too, under a statement timeout taken from the caller's
//! deadline. Columns are looked up in `information_schema.columns` first and only those that
//! exist are selected, so an older Coder's schema reads as "unknown" fields, never as a crash.
//! Secret columns (`token_hashed_secret`, other `site_configs` keys) are never selected.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::time::Instant;

use postgres::{Client, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::net::postgres::{describe_pg_error, Dsn};
use crate::section::SectionId;
use crate::settings::DsnSetting;

/// Coder's `provisionerdserver.StaleInterval`: a daemon seen this long ago or less is active.
pub const STALE_INTERVAL_MICROS: i64 = 90_000_000;

/// Why Coder's data could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// The DSN does not parse or the server could not be reached.
    Connect(String),
    /// A table or column every Coder schema has is missing.
    NotCoder {
        place: String,
        what: String,
    },
    /// The table exists but this role may read none of its columns.
    NoAccess {
        place: String,
        table: String,
    },
    Query(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Connect(e) | DbError::Query(e) => f.write_str(e),
            DbError::NotCoder { place, what } => {
                write!(
                    f,
                    "the database at {place} does not look like Coder's: {what}"
                )
            }
            DbError::NoAccess { place, table } => write!(
                f,
                "the database role cannot read table {table} at {place} (no privilege on any of \
                 its columns; grant SELECT on Coder's tables)"
            ),
        }
    }
}

/// One connection to Coder's database.
pub struct CoderDb {
    client: Client,
    dsn: Dsn,
}

impl CoderDb {
    /// Parses the DSN and connects under the deadline.
    pub fn connect(setting: &DsnSetting, deadline: Instant) -> Result<CoderDb, DbError> {
        let dsn = Dsn::parse(&setting.dsn).map_err(|e| {
            DbError::Connect(format!("parse DSN from {}: {e}", setting.source.describe()))
        })?;
        let client = dsn.connect(deadline).map_err(|e| {
            DbError::Connect(format!(
                "connect to {}: {}",
                dsn.endpoint(),
                e.describe(&dsn)
            ))
        })?;
        Ok(CoderDb { client, dsn })
    }

    /// Runs `read` inside one READ ONLY transaction whose statements may not outlive `deadline`.
    pub fn read<T>(
        &mut self,
        deadline: Instant,
        read: impl FnOnce(&mut Reader<'_, '_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let dsn = self.dsn.clone();
        let pg = |e: postgres::Error| DbError::Query(describe_pg_error(&e, &dsn));
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(DbError::Query(format!(
                "no time left to query {}",
                self.dsn.endpoint()
            )));
        }
        let mut tx = self
            .client
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(pg)?;
        // A statement blocked behind a migration's lock gives up at our deadline.
        let timeout_ms = remaining.as_millis().clamp(1, i32::MAX as u128);
        tx.batch_execute(&format!("SET LOCAL statement_timeout = {timeout_ms}"))
            .map_err(pg)?;
        let row = tx
            .query_one("SELECT current_database()::text, now()", &[])
            .map_err(pg)?;
        let database: String = row.get(0);
        let mut reader = Reader {
            place: format!("{}/{database}", self.dsn.endpoint()),
            now: row.get(1),
            tx,
            dsn: &dsn,
        };
        let value = read(&mut reader)?;
        reader.tx.commit().map_err(pg)?;
        Ok(value)
    }
}

/// Queries inside one read-only transaction.
pub struct Reader<'c, 'd> {
    tx: Transaction<'c>,
    dsn: &'d Dsn,
    /// `host:port/database`, for messages.
    pub place: String,
    /// The database server's clock at the start of the transaction.
    pub now: OffsetDateTime,
}

/// The columns of one table that this role can see.
#[derive(Debug)]
pub struct Columns {
    /// The schema the table resolved to (via the search path, as Coder's queries resolve it).
    schema: String,
    table: &'static str,
    names: HashSet<String>,
}

impl Columns {
    pub fn has(&self, column: &str) -> bool {
        self.names.contains(column)
    }

    fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(self.table))
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Reader<'_, '_> {
    fn pg(&self, e: postgres::Error) -> DbError {
        DbError::Query(describe_pg_error(&e, self.dsn))
    }

    /// Which columns of `table` exist; a missing table means this is not Coder's database.
    pub fn columns(&mut self, table: &'static str) -> Result<Columns, DbError> {
        let found = self
            .tx
            .query_opt(
                "SELECT n.nspname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = to_regclass($1)",
                &[&table],
            )
            .map_err(|e| self.pg(e))?;
        let Some(found) = found else {
            return Err(DbError::NotCoder {
                place: self.place.clone(),
                what: format!("table {table} is missing"),
            });
        };
        let schema: String = found.get(0);
        let names: HashSet<String> = self
            .tx
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2",
                &[&schema, &table],
            )
            .map_err(|e| self.pg(e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if names.is_empty() {
            return Err(DbError::NoAccess {
                place: self.place.clone(),
                table: table.to_string(),
            });
        }
        Ok(Columns {
            schema,
            table,
            names,
        })
    }

    fn require(&self, columns: &Columns, required: &[&str]) -> Result<(), DbError> {
        match required.iter().find(|c| !columns.has(c)) {
            Some(missing) => Err(DbError::NotCoder {
                place: self.place.clone(),
                what: format!("table {} has no column {missing}", columns.table),
            }),
            None => Ok(()),
        }
    }

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
        for (column, expr) in optional {
            if columns.has(column) {
                select.push(expr.to_string());
            }
        }
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
        let rows = self.tx.query(&sql, &[]).map_err(|e| self.pg(e))?;
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
            missing_columns: optional
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| !has(c))
                .collect(),
        })
    }

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
        let mut select = vec![
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
        for (column, expr) in optional {
            if columns.has(column) {
                select.push(expr);
            }
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE deleted = false ORDER BY created_at",
            select.join(", "),
            columns.qualified()
        );
        let rows = self.tx.query(&sql, &[]).map_err(|e| self.pg(e))?;
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
            missing_columns: optional
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| !has(c))
                .collect(),
        })
    }

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
        for row in self.tx.query(&sql, &[]).map_err(|e| self.pg(e))? {
            let key: String = row.get(0);
            let value: Option<String> = row.get(1);
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

/// A column that may be absent from this schema generation (then `None`) or NULL.
fn opt<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    present: bool,
    name: &str,
) -> Result<Option<T>, postgres::Error> {
    if present {
        row.try_get(name)
    } else {
        Ok(None)
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

#[derive(Debug)]
pub struct Daemons {
    pub rows: Vec<DaemonRow>,
    pub has_last_seen_at: bool,
    pub has_version: bool,
    pub has_api_version: bool,
    /// Optional columns this schema generation lacks.
    pub missing_columns: Vec<&'static str>,
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

#[derive(Debug)]
pub struct Proxies {
    pub rows: Vec<ProxyRow>,
    pub missing_columns: Vec<&'static str>,
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
