//! Coder's tables (coder-db-schema.md) in two schema generations, laid out in a fresh database
//! of the shared PostgreSQL and filled per scenario. Tables are created as the `coder` role, as
//! Coder's own migrations create them, so the DSN the binary gets can read them.

use super::postgres::{PgServer, PASSWORD, USER};

/// Which Coder schema to lay out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// Around v2.8: daemons with `last_seen_at`/`version` but no `api_version`,
    /// `organization_id`, `key_id` (and the old `updated_at`); proxies without `derp_only`,
    /// `version`.
    Old,
    /// The newest main-line schema.
    Newest,
}

pub const DEPLOYMENT_ID: &str = "5b2a1c84-6f0e-4d1b-9a7e-3c2f1e0d9b8a";
pub const DEFAULT_ORG: &str = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
pub const BUILT_IN_KEY: &str = "00000000-0000-0000-0000-000000000001";
/// Secrets in rows the tool must not read: a job's input and a license's JWT.
pub const JOB_INPUT_SECRET: &str = "job-input-secret-4f1d2c3b";
pub const LICENSE_JWT: &str = "eyJhbGciOiJFZERTQSJ9.license-jwt-secret-8e7d6c.c2ln";
/// A secret kept in `site_configs` next to the keys the tool reads; it must never be printed.
pub const SIGNING_SECRET: &str = "app-signing-secret-6c9f0e1d2b3a";

const COMMON: &str = "
CREATE TYPE provisioner_type AS ENUM ('echo', 'terraform');
CREATE TABLE site_configs (key varchar(256) NOT NULL UNIQUE, value text NOT NULL);
CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
";

const OLD: &str = "
CREATE TABLE provisioner_daemons (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    name varchar(64) NOT NULL UNIQUE,
    provisioners provisioner_type[] NOT NULL,
    replica_id uuid,
    tags jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_seen_at timestamptz,
    version text DEFAULT ''::text NOT NULL
);
CREATE TABLE workspace_proxies (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL,
    icon text NOT NULL,
    url text NOT NULL,
    wildcard_hostname text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted boolean NOT NULL,
    token_hashed_secret bytea NOT NULL,
    region_id serial NOT NULL,
    derp_enabled boolean DEFAULT true NOT NULL
);
CREATE TABLE provisioner_jobs (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    canceled_at timestamptz,
    completed_at timestamptz,
    error text,
    organization_id uuid NOT NULL,
    initiator_id uuid NOT NULL,
    provisioner provisioner_type NOT NULL,
    storage_method text NOT NULL,
    type text NOT NULL,
    input jsonb NOT NULL,
    worker_id uuid,
    file_id uuid NOT NULL,
    tags jsonb DEFAULT '{\"scope\": \"organization\"}'::jsonb NOT NULL
);
CREATE TABLE licenses (
    id serial PRIMARY KEY,
    uploaded_at timestamptz NOT NULL,
    jwt text NOT NULL,
    exp timestamptz NOT NULL,
    uuid uuid
);
INSERT INTO schema_migrations VALUES (178, false);
";

const NEWEST: &str = "
CREATE TABLE organizations (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    is_default boolean DEFAULT false NOT NULL,
    display_name text NOT NULL,
    icon text DEFAULT ''::text NOT NULL,
    deleted boolean DEFAULT false NOT NULL
);
CREATE TABLE provisioner_keys (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name varchar(64) NOT NULL,
    hashed_secret bytea NOT NULL,
    tags jsonb NOT NULL
);
CREATE TABLE provisioner_daemons (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    name varchar(64) NOT NULL,
    provisioners provisioner_type[] NOT NULL,
    replica_id uuid,
    tags jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_seen_at timestamptz,
    version text DEFAULT ''::text NOT NULL,
    api_version text DEFAULT '1.0'::text NOT NULL,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_id uuid NOT NULL REFERENCES provisioner_keys(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX idx_provisioner_daemons_org_name_owner_key
    ON provisioner_daemons (organization_id, name, lower(COALESCE(tags ->> 'owner'::text, ''::text)));
CREATE TABLE workspace_proxies (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL,
    icon text NOT NULL,
    url text NOT NULL,
    wildcard_hostname text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted boolean NOT NULL,
    token_hashed_secret bytea NOT NULL,
    region_id serial NOT NULL,
    derp_enabled boolean DEFAULT true NOT NULL,
    derp_only boolean DEFAULT false NOT NULL,
    version text DEFAULT ''::text NOT NULL
);
CREATE UNIQUE INDEX workspace_proxies_lower_name_idx ON workspace_proxies (lower(name)) WHERE deleted = false;
CREATE TABLE provisioner_jobs (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    canceled_at timestamptz,
    completed_at timestamptz,
    error text,
    organization_id uuid NOT NULL,
    initiator_id uuid NOT NULL,
    provisioner provisioner_type NOT NULL,
    storage_method text NOT NULL,
    type text NOT NULL,
    input jsonb NOT NULL,
    worker_id uuid,
    file_id uuid NOT NULL,
    tags jsonb DEFAULT '{\"scope\": \"organization\"}'::jsonb NOT NULL,
    error_code text,
    trace_metadata jsonb
);
CREATE DOMAIN tagset AS jsonb;
-- The rule of Coder's function of this name: an untagged organization job wants an untagged
-- daemon exactly; otherwise the job's tags must be among the daemon's.
CREATE FUNCTION provisioner_tagset_contains(provisioner_tags tagset, job_tags tagset)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN job_tags::jsonb = '{\"scope\": \"organization\", \"owner\": \"\"}'::jsonb
            THEN provisioner_tags::jsonb = job_tags::jsonb
        ELSE provisioner_tags::jsonb @> job_tags::jsonb
    END
$$;
CREATE TABLE licenses (
    id serial PRIMARY KEY,
    uploaded_at timestamptz NOT NULL,
    jwt text NOT NULL,
    exp timestamptz NOT NULL,
    uuid uuid
);
INSERT INTO organizations (id, name, created_at, updated_at, is_default, display_name)
    VALUES ('0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b', 'coder', now(), now(), true, 'Coder');
INSERT INTO provisioner_keys (id, created_at, organization_id, name, hashed_secret, tags) VALUES
    ('00000000-0000-0000-0000-000000000001', now(), '0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b', 'built-in', '', '{}'),
    ('00000000-0000-0000-0000-000000000002', now(), '0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b', 'user-auth', '', '{}'),
    ('00000000-0000-0000-0000-000000000003', now(), '0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b', 'psk', '', '{}');
INSERT INTO schema_migrations VALUES (330, false);
";

/// When a daemon was last seen, relative to the database clock.
#[derive(Clone, Copy, Debug)]
pub enum Seen {
    SecondsAgo(i64),
    Never,
}

/// One test's Coder database.
pub struct CoderDb {
    pub name: String,
    pub generation: Generation,
}

impl CoderDb {
    /// A fresh database named `name` with Coder's tables and the rows every deployment has.
    pub fn create(name: &str, generation: Generation) -> CoderDb {
        PgServer::shared().create_database(name);
        let db = CoderDb {
            name: name.to_string(),
            generation,
        };
        let layout = match generation {
            Generation::Old => OLD,
            Generation::Newest => NEWEST,
        };
        db.exec(&format!("{COMMON}{layout}"));
        db.set_site_config("deployment_id", DEPLOYMENT_ID);
        db.set_site_config("app_signing_key", SIGNING_SECRET);
        db
    }

    /// The DSN the binary gets (the `coder` role, like Coder's own).
    pub fn dsn(&self) -> String {
        PgServer::shared().dsn_for(USER, PASSWORD, &self.name, "sslmode=disable")
    }

    /// A superuser connection acting as `coder`, so what it creates is Coder's.
    pub fn client(&self) -> postgres::Client {
        let mut client = PgServer::shared().superuser_on(&self.name);
        client
            .batch_execute(&format!("SET ROLE {USER}"))
            .expect("act as coder");
        client
    }

    pub fn exec(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn set_site_config(&self, key: &str, value: &str) {
        self.client()
            .execute(
                "INSERT INTO site_configs (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &value],
            )
            .expect("set site config");
    }

    /// Adds a daemon; `api_version` is ignored on the old generation, which has no such column.
    pub fn add_daemon(&self, name: &str, version: &str, api_version: &str, seen: Seen) {
        let seconds: Option<f64> = match seen {
            Seen::SecondsAgo(s) => Some(s as f64),
            Seen::Never => None,
        };
        let last_seen = "CASE WHEN $3::float8 IS NULL THEN NULL \
                         ELSE now() - make_interval(secs => $3::float8) END";
        let mut client = self.client();
        match self.generation {
            Generation::Old => client.execute(
                &format!(
                    "INSERT INTO provisioner_daemons (id, created_at, name, provisioners, tags, \
                     last_seen_at, version) VALUES (gen_random_uuid(), now() - interval '1 day', \
                     $1, '{{echo,terraform}}', '{{}}', {last_seen}, $2)"
                ),
                &[&name, &version, &seconds],
            ),
            Generation::Newest => client.execute(
                &format!(
                    "INSERT INTO provisioner_daemons (id, created_at, name, provisioners, tags, \
                     last_seen_at, version, api_version, organization_id, key_id) VALUES \
                     (gen_random_uuid(), now() - interval '1 day', $1, '{{echo,terraform}}', \
                     '{{\"scope\":\"organization\",\"owner\":\"\"}}', {last_seen}, $2, $4, \
                     '{DEFAULT_ORG}', '{BUILT_IN_KEY}')"
                ),
                &[&name, &version, &seconds, &api_version],
            ),
        }
        .expect("insert provisioner daemon");
    }

    /// Adds a proxy created `age_minutes` ago; `version` is ignored on the old generation.
    pub fn add_proxy(&self, name: &str, url: &str, version: &str, deleted: bool, age_minutes: i32) {
        let mut client = self.client();
        let common = "gen_random_uuid(), $1, initcap($1), '/emojis/1f1fa-1f1f8.png', $2, '', \
                      now() - make_interval(mins => $3), now(), $4, '\\x00'";
        match self.generation {
            Generation::Old => client.execute(
                &format!(
                    "INSERT INTO workspace_proxies (id, name, display_name, icon, url, \
                     wildcard_hostname, created_at, updated_at, deleted, token_hashed_secret) \
                     VALUES ({common})"
                ),
                &[&name, &url, &age_minutes, &deleted],
            ),
            Generation::Newest => client.execute(
                &format!(
                    "INSERT INTO workspace_proxies (id, name, display_name, icon, url, \
                     wildcard_hostname, created_at, updated_at, deleted, token_hashed_secret, \
                     version) VALUES ({common}, $5)"
                ),
                &[&name, &url, &age_minutes, &deleted, &version],
            ),
        }
        .expect("insert workspace proxy");
    }

    /// Adds a daemon offering `terraform` with these tags (a JSON object), seen `seen` ago.
    pub fn add_tagged_daemon(&self, name: &str, version: &str, tags: &str, seen: Seen) {
        let seconds: Option<f64> = match seen {
            Seen::SecondsAgo(s) => Some(s as f64),
            Seen::Never => None,
        };
        let (columns, values) = match self.generation {
            Generation::Old => ("", String::new()),
            Generation::Newest => (
                ", organization_id, key_id",
                format!(", '{DEFAULT_ORG}', '{BUILT_IN_KEY}'"),
            ),
        };
        self.client()
            .execute(
                &format!(
                    "INSERT INTO provisioner_daemons (id, created_at, name, provisioners, tags, \
                     last_seen_at, version{columns}) VALUES (gen_random_uuid(), now(), $1, \
                     '{{terraform}}', $2::text::jsonb, CASE WHEN $3::float8 IS NULL THEN NULL \
                     ELSE now() - make_interval(secs => $3::float8) END, $4{values})"
                ),
                &[&name, &tags, &seconds, &version],
            )
            .expect("insert tagged provisioner daemon");
    }

    /// Adds a `terraform` job of the default organization with these tags, created
    /// `age_seconds` ago and not started. Its input holds [`JOB_INPUT_SECRET`].
    pub fn add_pending_job(&self, tags: &str, age_seconds: i64) {
        self.client()
            .execute(
                &format!(
                    "INSERT INTO provisioner_jobs (id, created_at, updated_at, organization_id, \
                     initiator_id, provisioner, storage_method, type, input, file_id, tags) \
                     VALUES (gen_random_uuid(), now() - make_interval(secs => $2::float8), now(), \
                     '{DEFAULT_ORG}', gen_random_uuid(), 'terraform', 'file', \
                     'workspace_build', jsonb_build_object('secret', '{JOB_INPUT_SECRET}'), \
                     gen_random_uuid(), $1::text::jsonb)"
                ),
                &[&tags, &(age_seconds as f64)],
            )
            .expect("insert provisioner job");
    }

    /// Adds a license expiring `days` from now (negative: expired). Its JWT is
    /// [`LICENSE_JWT`].
    pub fn add_license(&self, days: i64) {
        self.client()
            .execute(
                "INSERT INTO licenses (uploaded_at, jwt, exp, uuid) VALUES (now(), $1, \
                 now() + make_interval(days => $2::int), gen_random_uuid())",
                &[&LICENSE_JWT, &(days as i32)],
            )
            .expect("insert license");
    }

    /// Row count and md5 of every table's rows, and each table's write counters: equal before
    /// and after a run means the run wrote nothing. (pg_stat_database's tuple counters are not
    /// used: autovacuum may analyze the fresh catalogs at any time and move them.)
    pub fn fingerprint(&self) -> Vec<String> {
        wait_for_other_backends_to_leave(&self.name);
        let mut client = PgServer::shared().superuser_on(&self.name);
        let tables: Vec<String> = client
            .query(
                "SELECT relname::text FROM pg_stat_user_tables ORDER BY relname",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(tables.len() >= self.tables().len(), "{tables:?}");
        let mut out = Vec::new();
        for table in &tables {
            let row = client
                .query_one(
                    &format!(
                        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) \
                         FROM {table} t"
                    ),
                    &[],
                )
                .unwrap();
            let (count, md5): (i64, String) = (row.get(0), row.get(1));
            out.push(format!("{table}: {count} rows, md5 {md5}"));
        }
        for row in client
            .query(
                "SELECT relname::text, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables \
                 ORDER BY relname",
                &[],
            )
            .unwrap()
        {
            let (name, ins, upd, del): (String, i64, i64, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            out.push(format!(
                "{name}: {ins} inserted, {upd} updated, {del} deleted"
            ));
        }
        out
    }

    /// Coder's tables in this generation, for read-only checks.
    pub fn tables(&self) -> Vec<&'static str> {
        let mut tables = vec![
            "provisioner_daemons",
            "workspace_proxies",
            "site_configs",
            "schema_migrations",
            "provisioner_jobs",
            "licenses",
        ];
        if self.generation == Generation::Newest {
            tables.extend(["organizations", "provisioner_keys"]);
        }
        tables
    }
}

/// Waits until nobody else is connected to `db`: a backend flushes its statistics before it
/// leaves, so after this the counters are complete.
fn wait_for_other_backends_to_leave(db: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut admin = PgServer::shared().superuser();
        let others: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "backends still connected to {db}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
