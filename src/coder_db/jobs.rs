//! `provisioner_jobs`: jobs that have waited too long to start, grouped by what a daemon must
//! offer to take them (organization, provisioner type, tags), each group with whether a live
//! daemon offers it under Coder's matching rule. The matching runs in the database, with Coder's
//! own `provisioner_tagset_contains` where the schema has it, and the database's clock.
//! Only these columns are read: never `input` (it may hold secrets).

use std::time::Duration;

use postgres::types::Type;
use uuid::Uuid;

use super::{DbError, Reader, STALE_INTERVAL_MICROS};

/// At most this many groups are read (the largest first); the totals still count every job.
pub const MAX_GROUPS: i64 = 50;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PendingJobs {
    /// The age past which a job counts.
    pub older_than: Duration,
    /// Jobs not started, not canceled, not completed, older than `older_than`.
    pub count: i64,
    /// The oldest one's age in microseconds, by the database clock.
    pub oldest_age_micros: Option<i64>,
    /// How many groups there are (`groups` holds at most [`MAX_GROUPS`]).
    pub group_count: i64,
    pub groups: Vec<JobGroup>,
    /// What this schema generation did not let us compare, said rather than passed over.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobGroup {
    pub organization_id: Option<Uuid>,
    pub provisioner: Option<String>,
    pub tags: serde_json::Value,
    pub count: i64,
    pub oldest_age_micros: i64,
    /// Whether a live daemon could take these jobs; `None` when this schema cannot tell.
    pub matched: Option<bool>,
}

impl Reader<'_, '_> {
    pub fn pending_jobs(&mut self, older_than: Duration) -> Result<PendingJobs, DbError> {
        let jobs = self.columns("provisioner_jobs")?;
        self.require(&jobs, &["created_at", "started_at"])?;
        let daemons = self.columns("provisioner_daemons")?;
        let mut notes = Vec::new();
        let mut waiting = vec![
            "j.started_at IS NULL".to_string(),
            "j.created_at < now() - make_interval(secs => $1::float8)".to_string(),
        ];
        for column in ["canceled_at", "completed_at"] {
            if jobs.has(column) {
                waiting.push(format!("j.{column} IS NULL"));
            } else {
                notes.push(format!("provisioner_jobs has no {column} column: not used"));
            }
        }
        // Usually there is none: then nothing more is asked (the grouped query costs more to plan).
        let any = self.one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} j WHERE {})",
                jobs.qualified(),
                waiting.join(" AND ")
            ),
            &[(&older_than.as_secs_f64(), Type::FLOAT8)],
        )?;
        let any: bool = any
            .try_get(0)
            .map_err(|e| DbError::Query(format!("read provisioner_jobs: {e}")))?;
        if !any {
            return Ok(PendingJobs {
                older_than,
                notes,
                ..PendingJobs::default()
            });
        }
        // What a daemon must offer, each only where both tables have the column.
        let mut group_by = Vec::new();
        let mut select = Vec::new();
        let mut rule = vec![
            "d.last_seen_at IS NOT NULL".to_string(),
            format!(
                "extract(epoch FROM (now() - d.last_seen_at)) * 1000000 <= {STALE_INTERVAL_MICROS}"
            ),
        ];
        let mut missing = |table: &str, column: &str, what: &str| {
            notes.push(format!(
                "{table} has no {column} column: {what} not compared"
            ))
        };
        if !jobs.has("organization_id") {
            missing("provisioner_jobs", "organization_id", "organizations");
        } else if !daemons.has("organization_id") {
            missing("provisioner_daemons", "organization_id", "organizations");
        } else {
            rule.push("d.organization_id = j.organization_id".to_string());
        }
        if jobs.has("organization_id") {
            group_by.push("j.organization_id");
            select.push("j.organization_id AS organization_id");
        }
        if jobs.has("provisioner") {
            group_by.push("j.provisioner");
            select.push("j.provisioner::text AS provisioner");
            rule.push("j.provisioner = ANY(d.provisioners)".to_string());
        } else {
            missing("provisioner_jobs", "provisioner", "provisioner types");
        }
        if jobs.has("tags") && daemons.has("tags") {
            group_by.push("j.tags");
            select.push("j.tags::jsonb AS tags");
            rule.push(if self.has_tagset_contains()? {
                // Coder's own rule (an untagged job wants an untagged daemon exactly).
                "provisioner_tagset_contains(d.tags::tagset, j.tags::tagset)".to_string()
            } else {
                // Coder before that function: the job's tags a subset of the daemon's.
                "j.tags::jsonb <@ d.tags::jsonb".to_string()
            });
        } else {
            let table = if jobs.has("tags") {
                "provisioner_daemons"
            } else {
                "provisioner_jobs"
            };
            missing(table, "tags", "tags");
        }
        let matched = if daemons.has("last_seen_at") {
            format!(
                "EXISTS (SELECT 1 FROM {} d WHERE {})",
                daemons.qualified(),
                rule.join(" AND ")
            )
        } else {
            notes.push(
                "provisioner_daemons has no last_seen_at column: which daemons are live is \
                 unknown"
                    .to_string(),
            );
            "NULL::bool".to_string()
        };
        let group_clause = if group_by.is_empty() {
            // One group of all jobs: none at all is no group.
            "HAVING count(*) > 0".to_string()
        } else {
            format!("GROUP BY {}", group_by.join(", "))
        };
        let mut columns = select.join(", ");
        if !columns.is_empty() {
            columns.push_str(", ");
        }
        let sql = format!(
            "SELECT {columns}count(*) AS n, \
               (extract(epoch FROM (now() - min(j.created_at))) * 1000000)::bigint AS oldest_us, \
               {matched} AS matched, \
               count(*) OVER () AS groups, \
               (sum(count(*)) OVER ())::bigint AS total, \
               (max(extract(epoch FROM (now() - min(j.created_at)))) OVER () * 1000000)::bigint \
                 AS total_oldest_us \
             FROM {} j WHERE {} {group_clause} \
             ORDER BY n DESC, oldest_us DESC LIMIT {MAX_GROUPS}",
            jobs.qualified(),
            waiting.join(" AND "),
        );
        let rows = self.rows(&sql, &[(&older_than.as_secs_f64(), Type::FLOAT8)])?;
        let get = |e: postgres::Error| DbError::Query(format!("read provisioner_jobs: {e}"));
        let mut pending = PendingJobs {
            older_than,
            notes,
            ..PendingJobs::default()
        };
        for row in &rows {
            pending.group_count = row.try_get("groups").map_err(get)?;
            pending.count = row.try_get("total").map_err(get)?;
            pending.oldest_age_micros = row.try_get("total_oldest_us").map_err(get)?;
            pending.groups.push(JobGroup {
                organization_id: if jobs.has("organization_id") {
                    row.try_get("organization_id").map_err(get)?
                } else {
                    None
                },
                provisioner: if jobs.has("provisioner") {
                    row.try_get("provisioner").map_err(get)?
                } else {
                    None
                },
                tags: if group_by.contains(&"j.tags") {
                    row.try_get::<_, Option<serde_json::Value>>("tags")
                        .map_err(get)?
                        .unwrap_or(serde_json::Value::Null)
                } else {
                    serde_json::Value::Null
                },
                count: row.try_get("n").map_err(get)?,
                oldest_age_micros: row.try_get("oldest_us").map_err(get)?,
                matched: row.try_get("matched").map_err(get)?,
            });
        }
        Ok(pending)
    }

    /// Whether Coder's `provisioner_tagset_contains(tagset, tagset)` is on the search path. Asked
    /// of the catalogue: naming a missing type in a lookup would abort the transaction.
    fn has_tagset_contains(&mut self) -> Result<bool, DbError> {
        let row = self.one(
            "SELECT to_regtype('tagset') IS NOT NULL AND EXISTS ( \
                   SELECT 1 FROM pg_catalog.pg_proc p \
                   WHERE p.proname = 'provisioner_tagset_contains' AND p.pronargs = 2 \
                     AND pg_catalog.pg_function_is_visible(p.oid) \
                     AND p.proargtypes[0] = to_regtype('tagset') \
                     AND p.proargtypes[1] = to_regtype('tagset'))",
            &[],
        )?;
        row.try_get(0)
            .map_err(|e| DbError::Query(format!("look up provisioner_tagset_contains: {e}")))
    }
}
